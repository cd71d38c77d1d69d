"""Test-side access to the lab: its hosts, engines, registry, faults, and Ansible runs."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import uuid

import ansible_runner
import docker
import requests

# Debian 12's Docker 20.10 (API 1.41), Debian 13's Docker 26 (API 1.45), Debian 13's Podman 5.4 (its
# Docker-compatible API, 1.41)
ENGINE_KINDS = ('docker20', 'docker26', 'podman')
MANIFEST_TYPES = ('application/vnd.docker.distribution.manifest.v2+json',
                  'application/vnd.docker.distribution.manifest.list.v2+json',
                  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json')
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, 'tests', 'lab', 'lab')
LAB_DIR = os.environ.get('PATCHOPS_LAB_DIR', '/var/lib/patchops-lab')
# ansible-runner runs the ansible commands found on PATH: those of this interpreter's venv.
os.environ['PATH'] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', '')


def lab_env():
    path = os.path.join(LAB_DIR, 'lab.env')
    if not os.path.exists(path):
        raise RuntimeError('the lab is not up (%s missing): run tests/lab/lab up' % path)
    env = {}
    with open(path) as fh:
        for line in fh:
            key, dummy, value = line.strip().partition('=')
            if key:
                env[key] = value.strip('"')
    return env


class Lab:
    def __init__(self):
        self.env = lab_env()
        self.inventory = self.env['PATCHOPS_LAB_INVENTORY']
        self.hosts = self.env['PATCHOPS_LAB_HOSTS'].split()
        # Engine kinds (tests/lab/lab up --docker26-hosts M): a lab made before kinds existed is docker20.
        self.kinds = {host: 'docker20' for host in self.hosts}
        for kind in ENGINE_KINDS:
            for host in self.env.get('PATCHOPS_LAB_%s_HOSTS' % kind.upper(), '').split():
                self.kinds[host] = kind
        self.registry = self.env['PATCHOPS_LAB_REGISTRY']
        self.registry_user = self.env['PATCHOPS_LAB_REGISTRY_USER']
        with open(self.env['PATCHOPS_LAB_REGISTRY_PASSWORD_FILE']) as fh:
            self.registry_password = fh.read().strip()
        self.ca = self.env['PATCHOPS_LAB_CA']
        self.run_dir = self.env['PATCHOPS_LAB_RUN']
        self._engine_ids = {}

    # -- hosts by engine kind --------------------------------------------------
    def hosts_of(self, kind):
        return [host for host in self.hosts if self.kinds.get(host) == kind]

    def pick(self, kind, count=3):
        """``count`` distinct hosts for a test on engine ``kind``: that kind's hosts first, then, on a
        lab with fewer of them, Docker 20.10 hosts to fill up (a mixed fleet)."""
        mine = self.hosts_of(kind)
        return (mine + [h for h in self.hosts if h not in mine])[:count]

    # -- engines -------------------------------------------------------------
    def socket(self, host):
        return os.path.join(self.run_dir, host, 'docker.sock')

    def engine(self, host):
        """A raw SDK client on a lab host's engine (test assertions only)."""
        return docker.APIClient(base_url='unix://' + self.socket(host), version='auto', timeout=60)

    def engine_id(self, host):
        """The engine identity the collection keeps its state under (journal, lock, stage manifest),
        as container_inventory reports it: Docker's /info ID; on Podman, whose /info ID is new on
        every call, one derived from its store."""
        if host not in self._engine_ids:
            res = self.module(host, 'container_inventory', {'name': ['patchops-engine-id']})[host]
            assert res['_status'] == 'ok', res.get('msg')
            self._engine_ids[host] = res['engine']['id']
        return self._engine_ids[host]

    def image(self, tag):
        return '%s/patchops/app:%s' % (self.registry, tag)

    @property
    def auth(self):
        return {'username': self.registry_user, 'password': self.registry_password}

    def registry_digest(self, ref):
        """The digest the lab registry serves for ``ref`` (registry/repo:tag), asked of its API, not an
        engine (Podman has no /distribution endpoint)."""
        name, dummy, tag = ref[len(self.registry) + 1:].rpartition(':')
        resp = requests.get('https://%s/v2/%s/manifests/%s' % (self.registry, name, tag), timeout=30,
                            verify=self.ca, auth=(self.registry_user, self.registry_password),
                            headers={'Accept': ', '.join(MANIFEST_TYPES)})
        resp.raise_for_status()
        return resp.headers['Docker-Content-Digest']

    def pull(self, host, *tags, repo='patchops/app'):
        """Pull lab images onto a host's engine (test setup); returns its raw client."""
        api = self.engine(host)
        for tag in tags:
            api.pull('%s/%s' % (self.registry, repo), tag=tag, auth_config=self.auth)
        return api

    # -- shell ---------------------------------------------------------------
    def lab(self, *args, check=True):
        return subprocess.run([LAB, *args], check=check, capture_output=True, text=True)

    def ssh(self, host, command, check=True, timeout=60):
        ip = None
        with open(self.inventory) as fh:
            for line in fh:
                if line.startswith(host + ' '):
                    ip = dict(kv.split('=', 1) for kv in line.split()[1:])['ansible_host']
        key = os.path.join(LAB_DIR, 'ssh', 'id_ed25519')
        known = os.path.join(LAB_DIR, 'ssh', 'known_hosts')
        cmd = ['ssh', '-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=' + known,
               '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', 'root@' + ip, command]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)

    # -- ansible -------------------------------------------------------------
    def ansible_env(self, extravars=None, run_dir=None):
        env = {
            'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, 'build'),
            'ANSIBLE_HOST_KEY_CHECKING': 'False',
            'ANSIBLE_PIPELINING': 'True',
            'ANSIBLE_RETRY_FILES_ENABLED': 'False',
            'ANSIBLE_FORCE_COLOR': 'False',
            'ANSIBLE_NOCOLOR': 'True',
        }
        if run_dir and 'ansible_ssh_common_args' in (extravars or {}):
            # SSH reuses a live master (ControlPersist) whatever options the new run asks for:
            # a run with SSH options of its own (keepalives, say) gets masters of its own.
            env['ANSIBLE_SSH_CONTROL_PATH_DIR'] = os.path.join(run_dir, 'cp')
        return env

    def module(self, hosts, name, args=None, check=False, diff=False, extravars=None):
        """Run one module ad hoc on hosts; returns {host: result} (result['_status'] ok/failed/unreachable)."""
        cmdline = []
        if check:
            cmdline.append('--check')
        if diff:
            cmdline.append('--diff')
        for key, value in (extravars or {}).items():
            cmdline += ['-e', json.dumps({key: value})]
        with tempfile.TemporaryDirectory(prefix='patchops-run-') as pdd:
            run = ansible_runner.run(
                private_data_dir=pdd, inventory=self.inventory, host_pattern=hosts,
                module=name if '.' in name else 'patchops.containers.' + name,
                module_args=json.dumps(args or {}), cmdline=' '.join(shlex.quote(c) for c in cmdline),
                envvars=self.ansible_env(extravars, pdd), quiet=True, ident=uuid.uuid4().hex)
            return _results(run)

    def playbook(self, playbook, extravars=None, limit=None, check=False, diff=False, cmdline=None):
        """Run a playbook (path, or a list of plays); returns (runner, {host: [task results]})."""
        with tempfile.TemporaryDirectory(prefix='patchops-run-') as pdd:
            if not isinstance(playbook, str):
                path = os.path.join(pdd, 'play.yml')
                with open(path, 'w') as fh:
                    json.dump(playbook, fh)
                playbook = path
            args = list(cmdline or [])
            if check:
                args.append('--check')
            if diff:
                args.append('--diff')
            run = ansible_runner.run(
                private_data_dir=pdd, inventory=self.inventory, playbook=os.path.abspath(playbook),
                extravars=extravars or {}, limit=limit, envvars=self.ansible_env(extravars, pdd),
                cmdline=' '.join(shlex.quote(c) for c in args), quiet=True, ident=uuid.uuid4().hex)
            events = list(run.events)
            run.collected_events = events
            run.collected_stdout = run.stdout.read()
            return run, _task_results(events)


def _results(run):
    out = {}
    for event in run.events:
        kind = event.get('event')
        data = event.get('event_data', {})
        status = {'runner_on_ok': 'ok', 'runner_on_failed': 'failed',
                  'runner_on_unreachable': 'unreachable'}.get(kind)
        if status and data.get('host'):
            res = dict(data.get('res') or {})
            res['_status'] = status
            out[data['host']] = res
    return out


def _task_results(events):
    out = {}
    for event in events:
        kind = event.get('event')
        data = event.get('event_data', {})
        status = {'runner_on_ok': 'ok', 'runner_on_failed': 'failed', 'runner_on_skipped': 'skipped',
                  'runner_on_unreachable': 'unreachable'}.get(kind)
        if status and data.get('host'):
            res = dict(data.get('res') or {})
            res['_status'] = status
            res['_task'] = data.get('task')
            res['_ignored'] = data.get('ignore_errors')
            out.setdefault(data['host'], []).append(res)
    return out
