"""The randomized fault campaign (issue 28): rounds of a scenario, a fault at a random moment of a
container_patch run, then the next run and the invariants checked against the engine.

Round ``i`` of ``--seed S`` draws everything from ``random.Random(S + i)``: ``--seed S+i --rounds 1``
replays it (the same scenario, host, fault and moment; the machine's load still shifts what the
moment meets). Faults go to the last lab host of each engine kind only. See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import uuid
from queue import Queue

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for _path in (os.path.join(ROOT, 'build'), os.path.join(ROOT, 'tests', 'integration'),
              os.path.join(ROOT, 'tests', 'reliability')):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# pylint: disable=wrong-import-position
from labkit import LAB_DIR, Lab  # noqa: E402
from patchkit import normalise, remove  # noqa: E402
from faultkit import (SUFFIXES, Background, engine_start, last_swap, lock_free, safe_id, signal_all,  # noqa: E402
                      stop_orphan_shim, tagged_pids, tagged_play, wait_for)

REGRESSIONS = os.path.join(HERE, 'regressions.txt')
KINDS = ('docker20', 'docker26', 'podman')
# The steps PATCHOPS_TEST_CRASH_AT can stop at (tests/integration/test_crash.py), by strategy.
STEPS = {'stop-first': ['planned', 'stop_old', 'rename_old', 'create_new', 'created_new', 'start_new', 'verify',
                        'verified', 'remove_old'],
         'start-first': ['planned', 'created_new', 'start_new', 'verified', 'stop_old', 'rename_old', 'rename_new',
                         'remove_old']}
FAULTS = ('crash_at', 'module_kill', 'playbook_kill', 'engine_kill', 'link_cut', 'disk_full', 'registry_block',
          'actor')
SHARED_FAULTS = ('registry_stop',)  # the registry gone for every host: --shared-faults only
SCENARIOS = ('standalone', 'followers', 'link', 'compose', 'start_first', 'parallel', 'paused_exited')
# What an engine cannot do (the integration suite skips the same): Podman refuses legacy links;
# docker-compose 1.29 (the Debian package) runs on the Docker 20.10 hosts.
CANNOT = {('link', 'podman'), ('compose', 'docker26'), ('compose', 'podman')}
RUN_TIMEOUT = 900  # seconds; the machine is shared and can be slow: slowness is not a violation


class Violation(AssertionError):
    """An invariant the engine contradicts after a round."""


def check(cond, what):
    if not cond:
        raise Violation(what)


# -- a round's containers -------------------------------------------------------------------

class Scenario:
    """What a round built on its host: the containers it plans (each with the state the operator left
    it in and the data written to its volume), the module's targets and options."""

    def __init__(self, lab, host, kind, uid, name):
        self.lab, self.host, self.kind, self.uid, self.name = lab, host, kind, uid, name
        self.api = lab.engine(host)
        self.targets = []  # names given to container_patch (followers come by themselves)
        self.args = {}
        self.data = {}  # container -> (volume, line written before the fault)
        self.states = {}  # container -> running/paused/exited/created
        self.followers = {}  # provider -> its followers
        self.networks, self.volumes, self.tags = [], [], []
        self.compose_dir = None
        self.target_image = lab.image('v2')
        self.before = {}  # container -> inspect, taken once the scenario is built

    @property
    def names(self):
        return list(self.states)

    def app(self, name, data=True, state='running', **host):
        binds = host.pop('binds', {})
        if data:
            binds['cv-' + name] = {'bind': '/data', 'mode': 'rw'}
            self.volumes.append('cv-' + name)
        kw = {k: host.pop(k) for k in ('networking_config',) if k in host}
        image = host.pop('image', self.lab.image('v1'))
        cid = self.api.create_container(image, name=name, host_config=self.api.create_host_config(
            binds=binds, restart_policy={'Name': 'unless-stopped'}, **host), **kw)['Id']
        self.settle(name, cid, state, data)
        return cid

    def sidecar(self, name, **host):
        cid = self.api.create_container('%s/patchops/busybox:latest' % self.lab.registry, name=name,
                                        command=['sleep', '3600'], host_config=self.api.create_host_config(**host))['Id']
        self.settle(name, cid, 'running', False)

    def settle(self, name, cid, state, data):
        if state != 'created':
            self.api.start(cid)
        if data:
            line = 'data-%s-%s' % (name, uuid.uuid4().hex[:6])
            self.data[name] = ('cv-' + name, line)
            write_volume(self.lab, self.api, 'cv-' + name, line)
        if state == 'paused':
            self.api.pause(cid)
        elif state == 'exited':
            self.api.stop(cid, timeout=5)
        self.states[name] = state

    def cleanup(self):
        api = self.lab.engine(self.host)
        for name in reversed(self.names):  # followers first: Podman keeps a provider its followers use
            remove(api, name, name + '-outsider')
        if self.compose_dir:
            compose(self.lab, self.host, self.compose_dir, 'down', '-v')
            shutil.rmtree(self.compose_dir, ignore_errors=True)
        for vol in self.volumes:
            try:
                api.remove_volume(vol, force=True)
            except Exception:  # absent is fine
                pass
        for net in self.networks:
            try:
                api.remove_network(net)
            except Exception:  # absent is fine
                pass
        for tag in self.tags:
            try:
                api.remove_image(tag)
            except Exception:  # absent is fine
                pass


def write_volume(lab, api, volume, line):
    """Write (or, with ``line`` None, read) /data/file of a volume through a throwaway busybox, so a
    paused or exited container's data is read the same way as a running one's."""
    command = 'cat /data/file' if line is None else 'echo %s > /data/file' % line
    cid = api.create_container('%s/patchops/busybox:latest' % lab.registry, command=['sh', '-c', command],
                               host_config=api.create_host_config(binds={volume: {'bind': '/data', 'mode': 'rw'}}))['Id']
    try:
        api.start(cid)
        rc = api.wait(cid, timeout=120)['StatusCode']
        out = api.logs(cid).decode().strip()
    finally:
        api.remove_container(cid, force=True)
    assert line is not None or rc == 0, 'cannot read %s: %s' % (volume, out)
    return out


def compose(lab, host, workdir, *args):
    env = dict(os.environ, DOCKER_HOST='unix://' + lab.socket(host))
    return subprocess.run(['docker-compose', '-p', os.path.basename(workdir), '-f',
                           os.path.join(workdir, 'compose.yml')] + list(args), cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def build(lab, host, kind, uid, name, rng):
    """The scenario ``name`` on ``host``, its containers on v1 in the state the operator left them."""
    sc = Scenario(lab, host, kind, uid, name)
    api = sc.api
    if name == 'standalone':
        sc.app('st-' + uid)
        sc.targets = ['st-' + uid]
    elif name == 'followers':
        web = 'fw-' + uid
        sc.app(web, ipc_mode='shareable')
        sc.sidecar('fn-' + uid, network_mode='container:' + web)
        sc.app('fi-' + uid, ipc_mode='container:' + web)
        sc.sidecar('fp-' + uid, pid_mode='container:' + web)
        sc.targets = [web]
        sc.followers[web] = ['fn-' + uid, 'fi-' + uid, 'fp-' + uid]
    elif name == 'link':
        db = 'ld-' + uid
        sc.app(db)
        sc.app('lc-' + uid, links={db: 'db'})
        sc.targets = [db]
        sc.followers[db] = ['lc-' + uid]
    elif name == 'compose':
        project = 'cmp' + uid
        ref = 'patchops-lab/%s:1' % project
        api.tag(lab.image('v1'), 'patchops-lab/' + project, '1')
        sc.tags.append(ref)
        sc.compose_dir = os.path.join('/tmp', project)
        os.makedirs(sc.compose_dir, exist_ok=True)
        with open(os.path.join(sc.compose_dir, 'compose.yml'), 'w') as fh:
            fh.write(textwrap.dedent('''\
                version: "2.4"
                services:
                  app:
                    image: %s
                    restart: unless-stopped
                    volumes: [data:/data]
                volumes:
                  data: {}
                ''' % ref))
        out = compose(lab, host, sc.compose_dir, 'up', '-d')
        assert out.returncode == 0, out.stderr
        cname, volume = '%s_app_1' % project, '%s_data' % project
        line = 'data-%s' % cname
        write_volume(lab, api, volume, line)
        sc.data[cname] = (volume, line)
        sc.states[cname] = 'running'
        sc.targets = [cname]
    elif name == 'start_first':
        net = 'cfnet-' + uid
        api.create_network(net, driver='bridge')
        sc.networks.append(net)
        web = 'sf-' + uid
        sc.app(web, networking_config=api.create_networking_config(
            {net: api.create_endpoint_config(aliases=['svc-' + uid])}))
        sc.targets = [web]
        sc.args = {'strategy': 'start-first', 'force_start_first': True}
    elif name == 'parallel':
        for n in ('pa-' + uid, 'pb-' + uid):
            sc.app(n)
        sc.targets = ['pa-' + uid, 'pb-' + uid]
        sc.args = {'parallel': 2}
    elif name == 'paused_exited':
        sc.app('pp-' + uid, state='paused')
        sc.app('px-' + uid, state='exited')
        sc.targets = ['pp-' + uid, 'px-' + uid]
    sc.before = {n: inspect_named(api, n) for n in sc.names}
    rng.random()  # unused; kept so that the seeds recorded since replay the same draws
    return sc


def inspect_named(api, name):
    """inspect, with the references to other containers (container:<id> modes) by name: a follower
    recreated after its provider points at the provider's new ID."""
    found = api.inspect_container(name)
    host = found['HostConfig']
    for key in ('NetworkMode', 'IpcMode', 'PidMode'):
        value = host.get(key) or ''
        if value.startswith('container:'):
            try:
                host[key] = 'container:' + api.inspect_container(value.split(':', 1)[1])['Name'].lstrip('/')
            except Exception:  # its provider is gone: keep the raw reference
                pass
    return found


# -- one round ------------------------------------------------------------------------------

class Round:
    def __init__(self, lab, seed, faults, kinds, scenarios):
        self.lab, self.seed = lab, seed
        rng = random.Random(seed)
        self.rng = rng
        self.kind = rng.choice(kinds)
        self.scenario = rng.choice([s for s in scenarios if (s, self.kind) not in CANNOT])
        self.fault = rng.choice(faults)
        self.delay = round(rng.uniform(0.0, 2.5), 2)  # seconds after the module process appears
        self.host = lab.hosts_of(self.kind)[-1]
        self.uid = 'c%08x' % (seed & 0xffffffff)
        self.state_dir = '/tmp/pocampaign-%s' % self.uid  # in the host's mount namespace
        self.outcome = {}  # what the fault did
        self.cut = self.blocked = self.stopped = False  # faults still to lift
        self.touched = set()  # what the outside actor acted on (with its followers)
        self.seen = {}  # name -> the container the engine's restart left, when its state is the expected one

    def describe(self):
        return 'seed %d: scenario %s on %s (%s), fault %s at %.2fs%s' % (
            self.seed, self.scenario, self.host, self.kind, self.fault, self.delay,
            (' ' + json.dumps(self.outcome, sort_keys=True)) if self.outcome else '')

    # -- host paths seen from here --
    @property
    def host_root(self):
        with open(os.path.join(LAB_DIR, 'hosts', self.host, 'sshd.pid')) as fh:
            return '/proc/%s/root' % fh.read().strip()

    def engine_dir(self):
        return '%s%s/%s' % (self.host_root, self.state_dir, safe_id(self.lab.engine_id(self.host)))

    def journal(self, name):
        return os.path.join(self.engine_dir(), 'journal', name + '.json')

    def patch_args(self, sc, targets=None):
        args = {'containers': [{'name': n, 'image': sc.target_image} for n in (targets or sc.targets)],
                'state_dir': self.state_dir, 'verify_timeout': 60, 'stop_timeout': 5, 'pull': 'missing',
                'registry_username': self.lab.registry_user, 'registry_password': self.lab.registry_password}
        args.update(sc.args)
        return args

    def run(self):
        lab, host = self.lab, self.host
        api = lab.pull(host, 'v1', 'v2')
        lab.pull(host, 'latest', repo='patchops/busybox')
        if self.fault == 'disk_full':
            lab.ssh(host, 'mkdir -p %s && mount -t tmpfs -o size=64k,mode=700 pocampaign %s'
                    % (self.state_dir, self.state_dir))
        sc = build(lab, host, self.kind, self.uid, self.scenario, self.rng)
        try:
            if self.fault in ('registry_block', 'registry_stop'):
                # The target must be pulled during the run: drop the host's v2 tag if nothing uses it.
                try:
                    api.remove_image(lab.image('v2'))
                    self.outcome['v2_removed'] = True
                except Exception:  # in use: the fault meets a run that pulls nothing
                    self.outcome['v2_removed'] = False
            first = self.faulted_run(sc)
            self.outcome['first_status'] = first.get('_status') if first else None
            self.check_after(sc)
        finally:
            sc.cleanup()
            if self.fault == 'disk_full':
                lab.ssh(host, 'umount %s' % self.state_dir, check=False)
            lab.ssh(host, 'rm -rf %s' % self.state_dir, check=False)
            if self.fault in ('registry_block', 'registry_stop'):
                lab.pull(host, 'v2')

    def faulted_run(self, sc):
        """The run with its fault; returns its result (None when the run itself was killed)."""
        lab, host, rng = self.lab, self.host, self.rng
        tag = 'campaign-%s' % self.uid
        strategy = sc.args.get('strategy', 'stop-first')
        step = rng.choice(STEPS[strategy])
        actor = (rng.choice(('remove', 'rename', 'stop', 'start')), rng.choice(sc.targets))
        plays = tagged_play(host, [{'name': 'patch', 'patchops.containers.container_patch': self.patch_args(sc)}], tag)
        if self.fault == 'crash_at':
            plays[0]['environment']['PATCHOPS_TEST_CRASH_AT'] = step
            self.outcome['step'] = step
        playfile = '/tmp/%s.json' % tag
        with open(playfile, 'w') as fh:
            json.dump(plays, fh)
        run = Background(lab.playbook, playfile)
        started = time.monotonic()
        run.start()
        try:
            if self.fault not in ('crash_at',):
                # The moment is counted from the module's start: ansible's own start-up takes
                # seconds on a loaded machine and would swallow most of the range.
                while run.is_alive() and not tagged_pids(tag) and time.monotonic() < started + RUN_TIMEOUT:
                    time.sleep(0.02)
                self.sleep_until(run, time.monotonic() + self.delay)
                self.outcome['at_step'] = self.steps_now(sc)
                self.inject(sc, playfile, tag, actor, run)
            run.join(RUN_TIMEOUT)
            check(not run.is_alive(), 'the faulted run still going after %ss' % RUN_TIMEOUT)
        finally:
            self.lift()
            os.unlink(playfile)
        if run.error is not None:
            self.outcome['run_error'] = str(run.error)[:200]
            return None
        results = run.value[1].get(host) or []
        return results[-1] if results else None

    def sleep_until(self, run, when):
        while time.monotonic() < when and run.is_alive():
            time.sleep(0.01)

    def steps_now(self, sc):
        return {n: (last_swap(self.journal(n)) or {}).get('step') for n in sc.targets}

    def inject(self, sc, playfile, tag, actor, run):
        lab, host = self.lab, self.host
        fault = self.fault
        if fault == 'module_kill':
            pids = tagged_pids(tag)
            self.outcome['killed'] = len(pids)
            signal_all(pids, signal.SIGKILL)
        elif fault == 'playbook_kill':
            pids = controller_pids(playfile)
            self.outcome['killed'] = len(pids)
            signal_all(pids, signal.SIGKILL)
        elif fault == 'engine_kill':
            lab.lab('fault', 'engine-kill', host)
            self.outcome['journaled'] = self.journaled(sc)
            time.sleep(self.rng.uniform(0.5, 4.0))
            engine_start(lab, host)
        elif fault == 'link_cut':
            lab.lab('fault', 'link-cut', host)
            self.cut = True
            time.sleep(self.rng.uniform(1.0, 8.0))
            lab.lab('fault', 'link-restore', host)
            self.cut = False
        elif fault == 'disk_full':
            filled = lab.ssh(host, 'dd if=/dev/zero of=%s/fill bs=4k' % self.state_dir, check=False)
            self.outcome['filled'] = 'No space left' in filled.stderr
            run.join(RUN_TIMEOUT)  # the run meets the full disk; freed in lift()
        elif fault == 'registry_block':
            lab.lab('fault', 'registry-block', host)
            self.blocked = True
            time.sleep(self.rng.uniform(1.0, 6.0))
        elif fault == 'registry_stop':
            lab.lab('fault', 'registry-stop')
            self.stopped = True
            time.sleep(self.rng.uniform(1.0, 6.0))
        elif fault == 'actor':
            what, name = actor
            self.outcome['actor'] = [what, name]
            api = lab.engine(host)
            call, args, kwargs = {'remove': (api.remove_container, (name,), {'force': True}),
                                  'rename': (api.rename, (name, name + '-outsider'), {}),
                                  'stop': (api.stop, (name,), {'timeout': 5}),
                                  'start': (api.start, (name,), {})}[what]
            try:
                call(*args, **kwargs)
                self.outcome['actor_done'] = True
            except Exception as exc:  # the container may be mid-swap: what the engine said is the record
                self.outcome['actor_done'] = str(exc)[:120]
            self.touched = {name} | set(sc.followers.get(name, ()))

    def lift(self):
        lab, host = self.lab, self.host
        if self.cut:
            lab.lab('fault', 'link-restore', host)
        if self.blocked:
            lab.lab('fault', 'registry-unblock', host)
        if self.stopped:
            lab.lab('fault', 'registry-start')
        if self.fault == 'disk_full':
            lab.ssh(host, 'rm -f %s/fill' % self.state_dir, check=False)
        if self.fault == 'engine_kill' and not engine_up(lab, host):
            engine_start(lab, host)

    def journaled(self, sc):
        """Whether the run had journaled its plan when the engine died: before that, a container the
        engine's restart left stopped is the engine's doing (docs/reliability.md, note 1)."""
        return any(last_swap(self.journal(n)) for n in sc.names)

    # -- after the fault --
    def check_after(self, sc):
        lab, host = self.lab, self.host
        wait_for('the engine of %s' % host, lambda: engine_up(lab, host), 120, interval=1)
        wait_for('the lock of %s free' % host, self.lock_free, RUN_TIMEOUT, interval=1)
        api = lab.engine(host)
        touched = self.touched
        expected = dict(sc.states)
        if self.fault == 'engine_kill':
            # Stopped by the engine's restart before the run planned them, or after their swap was done, or once
            # their new container was verified and in place if the run then closed the swap (seed 1200396): a
            # container outside any open swap is left as the engine's restart left it (docs/reliability.md, note 1).
            steps = STEPS[sc.args.get('strategy', 'stop-first')]
            before_verified = set(steps[:steps.index('verified')]) | {'verify'}
            done = [n for n, step in (self.outcome.get('at_step') or {}).items()
                    if step == 'done' or (step and step not in before_verified
                                          and (last_swap(self.journal(n)) or {}).get('outcome'))]
            left = sc.names if not self.outcome.get('journaled') else done + [
                f for n in done for f in sc.followers.get(n, ())]
            for name in left:
                try:
                    found = api.inspect_container(name)
                except Exception:  # absent: checked below
                    continue
                expected[name] = found['State']['Status']
                self.seen[name] = found['Id']
        # The operator's same targets, less what the actor took away: a target whose swap still holds a
        # container set aside is the operator's (the actor removed the new one mid-swap, say).
        present = [n for n in sc.targets if n not in touched or any(exists(api, n + s) for s in ('',) + SUFFIXES)]
        rerun = self.module(sc, present)
        if rerun['_status'] == 'failed' and 'restart the engine (systemctl restart docker' in str(rerun.get('msg')):
            # The way out the run names (docs/reliability.md, "When recovery cannot finish"): it must work.
            self.outcome['engine_restarted'] = True
            lab.lab('fault', 'engine-stop', host)
            engine_start(lab, host)
            rerun = self.module(sc, present)
        if rerun['_status'] == 'failed' and "Stop its shim on the engine's host (pkill -f" in str(rerun.get('msg')):
            # The other way out named there: a containerd task Docker 20.10 kept with no process in it.
            self.outcome['shim_stopped'] = len(stop_orphan_shim(rerun['msg']))
            rerun = self.module(sc, present)
        # What the actor left may be a state no patch can take (a running follower of a stopped
        # provider): a refusal that changed nothing is an answer; the engine is checked all the same.
        refused = bool(touched) and rerun['_status'] == 'failed' and rerun.get('changed') is False
        check(rerun['_status'] == 'ok' or refused, 'the run after the fault failed: %s' % rerun.get('msg'))
        self.outcome['refused'] = refused or None
        results = {c['container']: c for c in rerun.get('containers') or []}
        for name in sc.names:
            self.check_container(sc, api, name, expected[name], results.get(name), name in touched)
        self.check_nothing_open(sc, api)
        again = self.module(sc, present)
        check((again['_status'] == 'ok' or refused) and again['changed'] is False,
              'a further run changed something: %s' % json.dumps(
                  [(c['container'], c['outcome']) for c in again.get('containers') or []] or again.get('msg')))

    def module(self, sc, targets):
        if not targets:
            return {'_status': 'ok', 'changed': False, 'containers': []}
        return self.lab.module(self.host, 'container_patch', self.patch_args(sc, targets))[self.host]

    def check_container(self, sc, api, name, state, result, touched):
        """Invariants 1, 2, 3 and 5 for one container."""
        mine = [c for c in api.containers(all=True) if ('/' + name) in c['Names']]
        if touched and not mine:
            said = json.dumps(result) if result else ''
            check(result is None or result.get('outcome') == 'abandoned' or name in said,
                  '%s: removed by the outside actor, and the run said nothing of it' % name)
            return
        check(len(mine) == 1, '%s: %d containers under its name' % (name, len(mine)))
        after = inspect_named(api, name)
        before = sc.before[name]
        images = {before['Image'], api.inspect_image(sc.target_image)['Id']}
        check(after['Image'] in images, '%s: on %s, neither its old nor its new image' % (name, after['Image']))
        if name in sc.data:
            volume, line = sc.data[name]
            got = write_volume(self.lab, api, volume, None)
            check(got == line, '%s: its volume holds %r, not %r' % (name, got, line))
        if touched:
            return  # the actor changed what the operator left: existence and image only
        nb, na = fidelity(before), fidelity(after)
        for part in ('config', 'host', 'mounts', 'networks'):
            check(na[part] == nb[part], '%s: its %s differs from the original: %s' % (
                name, part, diff(nb[part], na[part])))
        status = after['State']['Status']
        if state == 'exited' and after['Id'] != self.seen.get(name, before['Id']):
            state = 'created'  # a stopped container's copy is not started (docs/patch.md): never run
        check(status == state, '%s: %s, the operator left it %s' % (name, status, state))
        if result is not None:
            word = result['outcome']
            target = api.inspect_image(sc.target_image)['Id']
            want = {'patched': target, 'current': target, 'kept_new': target, 'recreated': before['Image'],
                    'rolled_back': before['Image']}.get(word)
            check(want is not None, '%s: the run after the fault said %s' % (name, word))
            check(after['Image'] == want, '%s: the run said %s, the engine has it on %s' % (name, word, after['Image']))

    def check_nothing_open(self, sc, api):
        """Invariant 4: nothing set aside, no journal entry open, no lock held."""
        names = {n.lstrip('/') for c in api.containers(all=True) for n in c['Names']}
        for name in sc.names:
            for suffix in SUFFIXES:
                check(name + suffix not in names, '%s%s left set aside' % (name, suffix))
        jdir = os.path.join(self.engine_dir(), 'journal')
        for entry in sorted(os.listdir(jdir)) if os.path.isdir(jdir) else []:
            # The atomic writer's temp file, left by a kill between its write and rename: the next run
            # holding the engine lock removes it (Journal.sweep_temporaries), so none is left after the reruns.
            check(not entry.startswith('.tmp-'), 'journal temp file %s left after the reruns' % entry)
            if entry.startswith('.') or not entry.endswith('.json'):
                continue
            swap = last_swap(os.path.join(jdir, entry))
            check(swap is None or swap.get('outcome'), 'journal %s: swap open at step %s' % (
                entry, swap and swap.get('step')))
        check(self.lock_free(), 'the lock of %s is held after the runs' % self.host)

    def lock_free(self):
        return lock_free(os.path.join(self.engine_dir(), 'lock'))


def fidelity(inspect):
    """patchkit.normalise, an empty list the same as none: a restarted Docker 26 engine reads back
    a container's unset Dns/DnsOptions/DnsSearch as [] (seen without any patch run in between)."""
    found = normalise(inspect)
    if (inspect['HostConfig'].get('NetworkMode') or '').startswith('container:'):
        found['networks'] = {}  # its provider's (Podman names them by the provider's ID)
    for part in ('config', 'host'):
        found[part] = {k: (None if v in ([], {}) else v) for k, v in found[part].items()}
    return found


def exists(api, name):
    try:
        api.inspect_container(name)
        return True
    except Exception:  # not found
        return False


def engine_up(lab, host):
    try:
        lab.engine(host).version()
        return True
    except Exception:  # not yet
        return False


def diff(before, after):
    if isinstance(before, dict) and isinstance(after, dict):
        return {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}
    return (before, after)


def controller_pids(playfile):
    """ansible-playbook (and its forked workers) running ``playfile``, on this machine."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as fh:
                argv = fh.read().split(b'\0')
        except OSError:
            continue
        if playfile.encode() in argv and any(b'ansible-playbook' in a for a in argv[:2]):
            found.append(int(entry))
    return found


# -- the campaign ---------------------------------------------------------------------------

def regression_seeds(path=REGRESSIONS, open_only=False):
    """The seeds of regressions.txt (``open_only``: those marked ``OPEN``, a violation not fixed yet,
    expected to be seen again until it is)."""
    seeds = []
    with open(path) as fh:
        for line in fh:
            text, dummy, comment = line.partition('#')
            if text.strip() and (not open_only or comment.strip().startswith('OPEN')):
                seeds.append(int(text))
    return seeds


def campaign(seed, rounds=None, budget=None, faults=FAULTS, kinds=KINDS, scenarios=SCENARIOS, seeds=None, out=print,
             lanes=False):
    """Rounds ``seed``, ``seed+1``, ... (or the given ``seeds`` first); stops after ``rounds``, or before
    a round that would start after ``budget`` seconds. Returns the summary.

    ``lanes``: the rounds of each engine kind run one after the other on that kind's host, the three
    kinds at the same time (each round is still drawn from its own seed alone, so it replays alone);
    a round whose fault is shared (the registry stopped) waits until the lanes are idle and runs alone."""
    lab = Lab()
    started = time.monotonic()
    summary = {'seed': seed, 'rounds': 0, 'faults': {}, 'scenarios': {}, 'kinds': {}, 'violations': [],
               'errors': [], 'round_seconds': [], 'log': [], 'lanes': bool(lanes)}
    lock = threading.Lock()
    lane_queues = {}
    workers = []

    def play(rnd):
        t0 = time.monotonic()
        try:
            rnd.run()
            verdict = 'ok'
        except Violation as exc:
            verdict = 'VIOLATION: %s' % exc
            with lock:
                summary['violations'].append({'seed': rnd.seed, 'round': rnd.describe(), 'what': str(exc)})
        except Exception as exc:  # the round could not be run (lab, timeout): not a product verdict
            verdict = 'ERROR: %s' % (traceback.format_exc(limit=4) if os.environ.get('CAMPAIGN_DEBUG') else exc)
            with lock:
                summary['errors'].append({'seed': rnd.seed, 'round': rnd.describe(), 'what': str(exc)[:500]})
        took = time.monotonic() - t0
        with lock:
            summary['round_seconds'].append(round(took, 1))
            summary['log'].append({'seed': rnd.seed, 'scenario': rnd.scenario, 'kind': rnd.kind, 'fault': rnd.fault,
                                   'seconds': round(took, 1), 'verdict': verdict[:300]})
            summary['rounds'] += 1
            for key, value in (('faults', rnd.fault), ('scenarios', rnd.scenario), ('kinds', rnd.kind)):
                summary[key][value] = summary[key].get(value, 0) + 1
            out('round %d (%.0fs) %s: %s' % (summary['rounds'], took, rnd.describe(), verdict))
            sys.stdout.flush()

    def lane(jobs):
        while True:
            rnd = jobs.get()
            try:
                if rnd is None:
                    return
                play(rnd)
            finally:
                jobs.task_done()

    def idle():
        for jobs in lane_queues.values():
            jobs.join()

    queue = list(seeds or [])
    index = issued = 0
    while True:
        if rounds is not None and issued >= rounds:
            break
        elapsed = time.monotonic() - started
        with lock:
            took = list(summary['round_seconds'])
        mean = (sum(took) / len(took) / (len(KINDS) if lanes else 1)) if took else 60
        if budget is not None and not queue and elapsed + mean > budget and issued:
            break
        if queue:
            round_seed = queue.pop(0)
        else:
            round_seed = seed + index
            index += 1
        rnd = Round(lab, round_seed, faults, kinds, scenarios)
        issued += 1
        if not lanes:
            play(rnd)
        elif rnd.fault in SHARED_FAULTS:
            idle()
            play(rnd)
        else:
            if rnd.kind not in lane_queues:
                lane_queues[rnd.kind] = Queue(maxsize=1 if budget is not None else 0)  # a budget: issue no round ahead
                workers.append(threading.Thread(target=lane, args=(lane_queues[rnd.kind],), daemon=True))
                workers[-1].start()
            lane_queues[rnd.kind].put(rnd)
    for jobs in lane_queues.values():
        jobs.put(None)
    for worker in workers:
        worker.join()
    summary['wall_seconds'] = round(time.monotonic() - started, 1)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--seed', type=int, default=None, help='first round seed (default: from the clock)')
    parser.add_argument('--rounds', type=int, default=None)
    parser.add_argument('--budget', type=float, default=None, help='seconds: start no round that would end after')
    parser.add_argument('--regressions', action='store_true', help='the seeds of regressions.txt first')
    parser.add_argument('--shared-faults', action='store_true',
                        help='also stop the registry for every host (only when nothing else uses the lab)')
    parser.add_argument('--fault', action='append', help='only these faults')
    parser.add_argument('--scenario', action='append', help='only these scenarios')
    parser.add_argument('--kind', action='append', choices=KINDS, help='only these engine kinds')
    parser.add_argument('--lanes', action='store_true',
                        help="each engine kind's rounds on its host, the kinds at the same time (replays stay exact)")
    parser.add_argument('--json', help='write the summary here')
    opts = parser.parse_args(argv)
    seed = opts.seed if opts.seed is not None else int(time.time()) % 1000000 * 1000
    faults = tuple(opts.fault or (FAULTS + (SHARED_FAULTS if opts.shared_faults else ())))
    if opts.rounds is None and opts.budget is None:
        opts.rounds = 10
    print('campaign: seed %d, %s rounds, budget %s, faults %s' % (seed, opts.rounds, opts.budget, ','.join(faults)))
    summary = campaign(seed, opts.rounds, opts.budget, faults, tuple(opts.kind or KINDS),
                       tuple(opts.scenario or SCENARIOS), regression_seeds() if opts.regressions else None,
                       lanes=opts.lanes)
    if opts.json:
        os.makedirs(os.path.dirname(os.path.abspath(opts.json)), exist_ok=True)
        with open(opts.json, 'w') as fh:
            json.dump(summary, fh, indent=1, sort_keys=True)
    print(json.dumps({k: v for k, v in summary.items() if k not in ('round_seconds', 'log')}, indent=1, sort_keys=True))
    known = set(regression_seeds(open_only=True))
    return 1 if [v for v in summary['violations'] if v['seed'] not in known] else 0


if __name__ == '__main__':
    sys.exit(main())
