# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every measure needs: the lab, run-scoped names, Ansible runs (ours and community.docker
through the same ansible-playbook), direct module runs, the HTTP poller, statistics, cleanup."""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid

import docker
import requests

from benchkit.doctable import fmt  # the tables' one number format

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH)
LAB = os.path.join(ROOT, 'tests', 'lab', 'lab')
LAB_DIR = os.environ.get('PATCHOPS_LAB_DIR', '/var/lib/patchops-lab')
REF_VENV = os.environ.get('BENCH_REF_VENV', os.path.join(BENCH, '.venv-ref'))
POLLER = os.path.join(BENCH, 'benchkit', 'poller.py')
CALLBACKS = os.path.join(BENCH, 'callback_plugins')
PY = sys.executable  # the project venv's python (docker SDK), also the lab hosts' interpreter


def log(msg):
    sys.stderr.write('[bench %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def iso_to_epoch(text):
    """Journal timestamps (ISO 8601 with offset) as epoch seconds."""
    return datetime.datetime.fromisoformat(text).timestamp()


# -- statistics -----------------------------------------------------------------------------

def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values), 'n': len(values)}


class Measure:
    """Samples of every method of one measure, its references, and the ratios between them."""

    def __init__(self, key, title, unit, refs, lower_is_better=True):
        self.key = key
        self.title = title
        self.unit = unit
        self.refs = list(refs)          # method keys the others are compared with
        self.methods = {}               # key -> {'label', 'samples': [...]}
        self.order = []
        self.details = {}
        self.notes = []
        self.pair = {}                  # method key -> its one reference (replaces refs in the table)
        self.lower_is_better = lower_is_better

    def method(self, key, label):
        if key not in self.methods:
            self.methods[key] = {'label': label, 'samples': []}
            self.order.append(key)
        return self.methods[key]

    def add(self, key, value, label=None):
        self.method(key, label or key)['samples'].append(value)

    def to_json(self):
        out = {'key': self.key, 'title': self.title, 'unit': self.unit, 'refs': self.refs,
               'methods': {}, 'ratios': {}, 'details': self.details, 'notes': self.notes}
        for key in self.order:
            meta = self.methods[key]
            out['methods'][key] = {'label': meta['label'], 'samples': meta['samples'],
                                   'stats': stats(meta['samples'])}
        for key in self.order:
            mine = out['methods'][key]['stats']
            for ref in ([self.pair[key]] if key in self.pair else self.refs):
                other = out['methods'].get(ref, {}).get('stats')
                if key == ref or not mine or not other:
                    continue
                if other['median']:
                    out['ratios']['%s/%s' % (key, ref)] = mine['median'] / other['median']
        return out

    def table(self):
        data = self.to_json()
        refs = [r for r in self.refs if data['methods'].get(r, {}).get('stats')]
        if self.pair:
            refs = ['(pair)']
        width = max([len(m['label']) for m in data['methods'].values()] + [20])
        lines = ['', '== %s (%s) ==' % (self.title, self.unit)]
        head = '%-*s %5s %10s %10s %10s' % (width, 'method', 'runs', 'median', 'min', 'max')
        for ref in refs:
            head += '  %14s' % ('vs floor, same N' if ref == '(pair)' else 'vs ' + _short(data['methods'][ref]['label']))
        lines.append(head)
        for key in self.order:
            meta = data['methods'][key]
            st = meta['stats']
            if not st:
                lines.append('%-*s %5s %10s' % (width, meta['label'], 0, 'n/a'))
                continue
            row = '%-*s %5d %10s %10s %10s' % (width, meta['label'], st['n'], fmt(st['median']),
                                               fmt(st['min']), fmt(st['max']))
            for ref in refs:
                if ref == '(pair)':
                    ref = self.pair.get(key, key)
                ratio = data['ratios'].get('%s/%s' % (key, ref))
                row += '  %14s' % ('-' if key == ref else ('%.2fx' % ratio if ratio is not None else 'n/a'))
            lines.append(row)
        for note in self.notes:
            lines.append('  note: %s' % note)
        return '\n'.join(lines)


def _short(label):
    return label.split(' (')[0][:11]


# -- Ansible ----------------------------------------------------------------------------------

class AnsibleRun:
    def __init__(self, rc, wall, events, stdout):
        self.rc = rc
        self.wall = wall
        self.events = events
        self.stdout = stdout

    def results(self, task=None):
        """[(host, status, res)] of final task results (not loop items)."""
        out = []
        for event in self.events:
            if event['event'] in ('ok', 'failed', 'unreachable', 'skipped') and (task is None or event['task'] == task):
                out.append((event['host'], event['event'], event.get('res') or {}))
        return out

    def task_time(self, task):
        """Seconds from the task's start to the last host result of it."""
        start = [e['t'] for e in self.events if e['event'] == 'task_start' and e['task'] == task]
        end = [e['t'] for e in self.events if e['event'] in ('ok', 'failed', 'unreachable') and e['task'] == task]
        if not start or not end:
            return None
        return max(end) - start[0]

    def first(self, event, task=None):
        for item in self.events:
            if item['event'] == event and (task is None or item.get('task') == task):
                return item
        return None

    def play_time(self):
        """Seconds from the first play's start to the end of the last task (no interpreter start)."""
        start = [e['t'] for e in self.events if e['event'] == 'play_start']
        end = [e['t'] for e in self.events if e['event'] == 'stats']
        if not start or not end:
            return None
        return end[-1] - start[0]


# -- the lab and the run ------------------------------------------------------------------------

def lab_env():
    path = os.path.join(LAB_DIR, 'lab.env')
    env = {}
    with open(path) as fh:
        for line in fh:
            key, dummy, value = line.strip().partition('=')
            if key:
                env[key] = value.strip('"')
    return env


def lab_hosts_up():
    """Hosts whose engine answers now (not just listed)."""
    try:
        env = lab_env()
    except OSError:
        return []
    out = []
    for host in env.get('PATCHOPS_LAB_HOSTS', '').split():
        sock = os.path.join(env['PATCHOPS_LAB_RUN'], host, 'docker.sock')
        try:
            docker.APIClient(base_url='unix://' + sock, version='auto', timeout=5).ping()
            out.append(host)
        except Exception:  # a host that does not answer is not usable
            pass
    return out


class Bench:
    def __init__(self, run_id=None, quick=False, keep=False):
        self.run = run_id or uuid.uuid4().hex[:6]
        self.prefix = 'bench-%s-' % self.run
        self.quick = quick
        self.keep = keep
        env = lab_env()
        self.env = env
        self.run_dir = env['PATCHOPS_LAB_RUN']
        self.registry = env['PATCHOPS_LAB_REGISTRY']
        self.registry_user = env['PATCHOPS_LAB_REGISTRY_USER']
        with open(env['PATCHOPS_LAB_REGISTRY_PASSWORD_FILE']) as fh:
            self.registry_password = fh.read().strip()
        self.ca = env['PATCHOPS_LAB_CA']
        self.hosts = env['PATCHOPS_LAB_HOSTS'].split()
        self.host_vars = self._read_inventory(env['PATCHOPS_LAB_INVENTORY'])
        self.work = os.path.join(BENCH, 'results', 'work-%s' % self.run)
        os.makedirs(self.work, exist_ok=True)
        self.state_dir = '/tmp/%sstate' % self.prefix
        self.used_hosts = set()
        self.images_made = {}   # host -> [image refs or ids] to remove at cleanup
        self.registry_cleanup = []  # callables
        self._clients = {}

    # -- hosts ------------------------------------------------------------------------
    @staticmethod
    def _read_inventory(path):
        hosts, common = {}, []
        section = None
        with open(path) as fh:
            for line in fh:
                line = line.rstrip('\n')
                if line.startswith('['):
                    section = line.strip('[]')
                    continue
                if not line.strip():
                    continue
                if section == 'docker_hosts':
                    name, rest = (line.split(None, 1) + [''])[:2]
                    hosts[name] = rest
                elif section == 'docker_hosts:vars':
                    common.append(line)
        return {'hosts': hosts, 'vars': common}

    def host_ip(self, host):
        return dict(kv.split('=', 1) for kv in self.host_vars['hosts'][host].split())['ansible_host']

    def socket(self, host):
        return os.path.join(self.run_dir, host, 'docker.sock')

    def engine(self, host, timeout=120):
        self.used_hosts.add(host)
        if host not in self._clients:
            self._clients[host] = docker.APIClient(base_url='unix://' + self.socket(host), version='auto',
                                                   timeout=timeout)
        return self._clients[host]

    def wait_engine(self, host, timeout=180):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.engine(host).ping()
                return True
            except Exception:  # restarting: another suite's fault test
                if time.monotonic() > deadline:
                    return False
                time.sleep(2)

    def netns(self, host):
        return '/run/netns/polab-%s' % host

    @property
    def auth(self):
        return {'username': self.registry_user, 'password': self.registry_password}

    def image(self, tag, repo='patchops/app'):
        return '%s/%s:%s' % (self.registry, repo, tag)

    def pull(self, host, *tags, repo='patchops/app'):
        """Lab images a measure needs, pulled only when the host lacks them (other suites stop
        the registry in their fault tests)."""
        api = self.engine(host)
        for tag in tags:
            try:
                api.inspect_image('%s/%s:%s' % (self.registry, repo, tag))
                continue
            except docker.errors.NotFound:
                pass
            self.wait_registry()
            api.pull('%s/%s' % (self.registry, repo), tag=tag, auth_config=self.auth)

    def wait_registry(self, timeout=180):
        """Wait until the lab registry answers (another suite may have stopped it for a while)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get('https://%s/v2/' % self.registry, verify=self.ca, timeout=5)
                return True
            except requests.RequestException:
                if time.monotonic() > deadline:
                    return False
                time.sleep(2)

    def inventory(self, hosts):
        """A private inventory file with only these hosts (the lab's file is regenerated by others)."""
        path = os.path.join(self.work, 'inventory-%s.ini' % '-'.join(hosts))
        with open(path, 'w') as fh:
            fh.write('[bench]\n')
            for host in hosts:
                fh.write('%s %s\n' % (host, self.host_vars['hosts'][host]))
            fh.write('\n[bench:vars]\n' + '\n'.join(self.host_vars['vars']) + '\n')
        return path

    # -- Ansible through the reference venv -------------------------------------------------
    def ansible_env(self, timing_out):
        env = dict(os.environ)
        env.update({
            'PATH': os.path.join(REF_VENV, 'bin') + os.pathsep + env.get('PATH', ''),
            'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, 'build'),
            'ANSIBLE_CALLBACK_PLUGINS': CALLBACKS,
            'ANSIBLE_CALLBACKS_ENABLED': 'bench_timing',
            'BENCH_TIMING_OUT': timing_out,
            'ANSIBLE_HOST_KEY_CHECKING': 'False',
            'ANSIBLE_PIPELINING': 'True',
            'ANSIBLE_RETRY_FILES_ENABLED': 'False',
            'ANSIBLE_NOCOLOR': 'True',
            'ANSIBLE_FORKS': '20',
            'ANSIBLE_DEPRECATION_WARNINGS': 'False',
            'ANSIBLE_GATHERING': 'explicit',
        })
        env.pop('VIRTUAL_ENV', None)
        env.pop('PYTHONPATH', None)
        return env

    def playbook(self, plays, hosts, extravars=None, check=True, label='play'):
        """Run plays with the reference venv's ansible-playbook; returns an AnsibleRun. A run that
        lost its SSH connection (the lab's sshd restarted under us) is run once more."""
        run = self._playbook(plays, hosts, extravars, label)
        if run.rc != 0 and any(e['event'] == 'unreachable' for e in run.events):
            log('%s: a host was unreachable, running it again' % label)
            run = self._playbook(plays, hosts, extravars, label)
        if check and run.rc != 0:
            msgs = ['%s: %s' % (e.get('host'), (e.get('res') or {}).get('msg')) for e in run.events
                    if e['event'] in ('failed', 'unreachable', 'item_failed')][-5:]
            raise RuntimeError('ansible-playbook %s failed (rc %s): %s' % (
                label, run.rc, '; '.join(msgs) if msgs else run.stdout[-3000:]))
        return run

    def _playbook(self, plays, hosts, extravars, label):
        tag = '%s-%s' % (label, uuid.uuid4().hex[:6])
        play_path = os.path.join(self.work, tag + '.yml')
        timing = os.path.join(self.work, tag + '.timing.json')
        out_path = os.path.join(self.work, tag + '.out')
        with open(play_path, 'w') as fh:
            json.dump(plays, fh, indent=1)
        cmd = [os.path.join(REF_VENV, 'bin', 'ansible-playbook'), '-i', self.inventory(hosts), play_path]
        if extravars:
            cmd += ['-e', json.dumps(extravars)]
        started = time.monotonic()
        with open(out_path, 'w') as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.ansible_env(timing),
                                  cwd=self.work, timeout=1800, check=False)
        wall = time.monotonic() - started
        events = []
        if os.path.exists(timing):
            with open(timing) as fh:
                events = json.load(fh)
        with open(out_path) as fh:
            text = fh.read()
        return AnsibleRun(proc.returncode, wall, events, text)

    # -- our modules without Ansible (for breakdowns and profiles) ---------------------------
    def module_direct(self, host, name, args, profile=None):
        """Run one of our modules as a local process on a host's engine socket; (seconds, result)."""
        args = dict(args, docker_host='unix://' + self.socket(host))
        path = os.path.join(self.work, 'args-%s.json' % uuid.uuid4().hex[:6])
        with open(path, 'w') as fh:
            json.dump({'ANSIBLE_MODULE_ARGS': args}, fh)
        cmd = [PY]
        if profile:
            cmd += ['-m', 'cProfile', '-o', profile]
        cmd += [os.path.join(ROOT, 'plugins', 'modules', name + '.py'), path]
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'build'))
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800, check=False)
        wall = time.monotonic() - started
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError('module %s gave no JSON (rc %s): %s %s'
                               % (name, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        return wall, result

    def journal(self, host, container):
        """The swap journal of one container under this run's state dir (read from the host's disk)."""
        engine_id = self.engine(host).info()['ID']
        # The state dir is this run's own: find the engine's directory by its journal file.
        for entry in sorted(os.listdir(self.state_dir)) if os.path.isdir(self.state_dir) else []:
            path = os.path.join(self.state_dir, entry, 'journal', container + '.json')
            if re.sub(r'[^A-Za-z0-9]', '', entry) == re.sub(r'[^A-Za-z0-9]', '', engine_id) and os.path.exists(path):
                with open(path) as fh:
                    return json.load(fh)
        return None

    # -- poller ---------------------------------------------------------------------------------
    def poller(self, host=None, port=None, pid=None, alias=None, target_port=8080, max_seconds=240):
        """Start the HTTP poller in a lab host's netns (published port) or a container's (alias)."""
        if pid is not None:
            cmd = ['nsenter', '-t', str(pid), '-n', PY, POLLER, '--alias', alias, '--port', str(target_port),
                   '--timeout', '0.05']
        else:
            cmd = ['nsenter', '--net=' + self.netns(host), PY, POLLER, '--host', self.host_ip(host),
                   '--port', str(port), '--timeout', '0.05']
        cmd += ['--max-seconds', str(max_seconds)]
        return Poller(cmd)

    # -- cleanup --------------------------------------------------------------------------------
    def cleanup(self):
        if self.keep:
            log('--keep: leaving %s* in place' % self.prefix)
            return
        for host in sorted(self.used_hosts):
            try:
                remove_prefixed(self.engine(host), self.prefix)
                for ref in self.images_made.get(host, []):
                    try:
                        self.engine(host).remove_image(ref, force=True)
                    except docker.errors.APIError:
                        pass
            except Exception as exc:  # keep cleaning the other hosts
                log('cleanup of %s failed: %s' % (host, exc))
        if self.registry_cleanup:
            self.wait_registry(60)
        for action in self.registry_cleanup:
            try:
                action()
            except Exception as exc:
                log('registry cleanup failed: %s' % exc)
        shutil.rmtree(self.state_dir, ignore_errors=True)


def remove_prefixed(api, prefix, workers=4):
    """Remove this run's containers, then its networks and volumes (never anything else)."""
    names = api.containers(all=True, filters={'name': prefix})
    ids = [c['Id'] for c in names if any(n.lstrip('/').startswith(prefix) for n in c['Names'])]
    parallel(lambda cid: _quiet(api.remove_container, cid, force=True, v=True), ids, workers)
    for net in api.networks(names=[prefix]):
        if net['Name'].startswith(prefix):
            _quiet(api.remove_network, net['Id'])
    for vol in (api.volumes(filters={'name': prefix}) or {}).get('Volumes') or []:
        if vol['Name'].startswith(prefix):
            _quiet(api.remove_volume, vol['Name'], force=True)


def _quiet(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except docker.errors.NotFound:
        return None


def parallel(fn, items, workers=4):
    """Map with a few threads (setup and cleanup only, never in a timed section)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


class Poller:
    def __init__(self, cmd):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if line.strip() != 'READY':
            raise RuntimeError('poller did not start: %s %s' % (line, self.proc.stderr.read()))
        self.samples = None

    def stop(self):
        if self.samples is None:
            try:
                self.proc.stdin.write('stop\n')
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            out = self.proc.stdout.read()
            self.proc.wait(timeout=30)
            self.samples = json.loads(out.strip().splitlines()[-1])['samples']
        return self.samples

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def outages(samples, start=None, end=None):
    """Windows with no answer: [(from last ok, to next ok)] and failed request count, between
    start and end (epoch seconds; None = whole series). A window still open at the end counts
    until the last sample."""
    windows = []
    failed = 0
    last_ok = None
    open_since = None
    for t, ok, dummy in samples:
        if start is not None and t < start:
            if ok:
                last_ok = t
            continue
        if end is not None and t > end:
            break
        if ok:
            if open_since is not None:
                windows.append((last_ok if last_ok is not None else open_since, t))
                open_since = None
            last_ok = t
        else:
            failed += 1
            if open_since is None:
                open_since = t
    if open_since is not None and samples:
        windows.append((last_ok if last_ok is not None else open_since, samples[-1][0]))
    return windows, failed


def cpu_ticks():
    """(busy, total) jiffies of the whole machine, for the CPU share a run used."""
    with open('/proc/stat') as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def cpu_busy(before, after):
    busy, total = after[0] - before[0], after[1] - before[1]
    return round(busy / total, 3) if total else None


def first_ok_after(samples, t0, body=None):
    for t, ok, detail in samples:
        if t >= t0 and ok and (body is None or detail == body):
            return t
    return None


def machine():
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False).stdout.strip()
        except Exception:
            return None
    cpu = None
    try:
        with open('/proc/cpuinfo') as fh:
            cpu = next((l.split(':', 1)[1].strip() for l in fh if l.startswith('model name')), None)
    except OSError:
        pass
    mem = None
    try:
        with open('/proc/meminfo') as fh:
            mem = int(next(l for l in fh if l.startswith('MemTotal')).split()[1]) // 1024
    except (OSError, StopIteration):
        pass
    return {
        'nproc': os.cpu_count(), 'cpu': cpu, 'memory_mib': mem, 'kernel': os.uname().release,
        'python': sys.version.split()[0],
        'ansible_core': run([os.path.join(REF_VENV, 'bin', 'python'), '-c',
                             'import ansible.release as r; print(r.__version__)']),
        'ansible': run([os.path.join(REF_VENV, 'bin', 'python'), '-c',
                        'from importlib.metadata import version; print(version("ansible"))']),
        'community_docker': run([os.path.join(REF_VENV, 'bin', 'python'), '-c',
                                 'import json, ansible_collections.community.docker as c, os; '
                                 'print(json.load(open(os.path.join(os.path.dirname(c.__file__) if c.__file__ '
                                 'else list(c.__path__)[0], "MANIFEST.json")))["collection_info"]["version"])']),
        'docker_sdk': docker.__version__,
    }
