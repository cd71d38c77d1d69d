# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one probe runner: HEALTHCHECK wait, HTTP, TCP, exec and log probes against a container.

Used by container_patch's verification and by container_probe.
Private: not a public API of the collection.
"""

from __future__ import annotations

import datetime
import json
import re
import socket
import subprocess
import sys
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError

# Immediate reruns of an exec probe that passed with no output where an output was expected.
LOST_OUTPUT_RERUNS = 3
PROBE_TYPES = ('health', 'http', 'tcp', 'exec', 'log')

# The argument spec of one probe, shared by every module that takes probes.
PROBE_SPEC = dict(
    type=dict(type='str', required=True, choices=list(PROBE_TYPES)),
    name=dict(type='str'),
    url=dict(type='str'),
    status=dict(type='list', elements='int', default=[200]),
    body_regex=dict(type='str'),
    host=dict(type='str', default='127.0.0.1'),
    port=dict(type='int'),
    command=dict(type='raw'),
    rc=dict(type='int', default=0),
    stdout_regex=dict(type='str'),
    pattern=dict(type='str'),
    source=dict(type='str', default='host', choices=['host', 'container']),
    timeout=dict(type='float', default=5.0),
    retries=dict(type='int', default=3),
    interval=dict(type='float', default=1.0),
)

# Readiness and probe options (doc fragment patchops.containers.probes).
VERIFY_ARGUMENT_SPEC = dict(
    wait_health=dict(type='bool', default=True),
    verify_timeout=dict(type='int', default=60),
    settle=dict(type='float', default=2.0),
    probes=dict(type='list', elements='dict', default=[], options=PROBE_SPEC),
)

_NETNS_CHECK = r'''
import json, socket, sys, urllib.request, urllib.error
spec = json.loads(sys.argv[1])
out = {}
try:
    if spec["type"] == "tcp":
        socket.create_connection((spec["host"], spec["port"]), timeout=spec["timeout"]).close()
        out = {"status": None, "body": ""}
    else:
        try:
            resp = urllib.request.build_opener().open(spec["url"], timeout=spec["timeout"])
            out = {"status": resp.status, "body": resp.read(65536).decode("utf-8", "replace")}
        except urllib.error.HTTPError as exc:
            out = {"status": exc.code, "body": exc.read(65536).decode("utf-8", "replace")}
except Exception as exc:
    out = {"error": "%s: %s" % (type(exc).__name__, exc)}
print(json.dumps(out))
'''


class ProbeError(PatchopsError):
    """A probe spec that cannot run (missing url, bad regex...)."""


def validate(probe, index=0):
    label = probe.get('name') or '%s probe #%d' % (probe.get('type'), index + 1)
    kind = probe.get('type')
    if kind not in PROBE_TYPES:
        raise ProbeError('%s: unknown type %r (one of %s)' % (label, kind, ', '.join(PROBE_TYPES)))
    need = {'http': ('url',), 'tcp': ('port',), 'exec': ('command',), 'log': ('pattern',)}.get(kind, ())
    for key in need:
        if probe.get(key) in (None, '', []):
            raise ProbeError('%s: option %r is required for a %s probe' % (label, key, kind))
    for key in ('body_regex', 'stdout_regex', 'pattern'):
        if probe.get(key):
            try:
                re.compile(probe[key])
            except re.error as exc:
                raise ProbeError('%s: %s is not a valid regular expression: %s' % (label, key, exc))
    return label


def _defaults(probe):
    full = {k: v.get('default') for k, v in PROBE_SPEC.items()}
    full.update({k: v for k, v in probe.items() if v is not None})
    return full


def _substitute(text, container):
    networks = (container.get('NetworkSettings') or {}).get('Networks') or {}
    ip = next((n.get('IPAddress') for n in networks.values() if n and n.get('IPAddress')), '')
    return text.replace('{ip}', ip).replace('{name}', (container.get('Name') or '').lstrip('/'))


def _in_netns(pid, spec):
    proc = subprocess.run(['nsenter', '-t', str(pid), '-n', sys.executable, '-c', _NETNS_CHECK, json.dumps(spec)],
                          capture_output=True, text=True, timeout=spec['timeout'] + 10, check=False)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return {'error': 'nsenter failed: %s' % (proc.stderr.strip() or proc.returncode)}


def _http_once(probe, container):
    url = _substitute(probe['url'], container)
    if probe['source'] == 'container':
        res = _in_netns(container['State']['Pid'], {'type': 'http', 'url': url, 'timeout': probe['timeout']})
    else:
        try:
            resp = open_url(url, timeout=probe['timeout'], validate_certs=False, follow_redirects='safe')
            res = {'status': resp.status, 'body': resp.read(65536).decode('utf-8', 'replace')}
        except HTTPError as exc:
            res = {'status': exc.code, 'body': exc.read(65536).decode('utf-8', 'replace')}
        except Exception as exc:
            res = {'error': '%s: %s' % (type(exc).__name__, exc)}
    if 'error' in res:
        return False, 'GET %s: %s' % (url, res['error'])
    if res['status'] not in probe['status']:
        return False, 'GET %s: status %s, expected %s' % (url, res['status'], probe['status'])
    if probe.get('body_regex') and not re.search(probe['body_regex'], res['body']):
        return False, 'GET %s: body does not match %r: %s' % (url, probe['body_regex'], res['body'][:200])
    return True, 'GET %s: status %s' % (url, res['status'])


def _tcp_once(probe, container):
    host = _substitute(probe['host'], container)
    if probe['source'] == 'container':
        res = _in_netns(container['State']['Pid'], {'type': 'tcp', 'host': host, 'port': probe['port'],
                                                    'timeout': probe['timeout']})
        if 'error' in res:
            return False, 'connect %s:%s: %s' % (host, probe['port'], res['error'])
        return True, 'connect %s:%s: ok' % (host, probe['port'])
    try:
        socket.create_connection((host, probe['port']), timeout=probe['timeout']).close()
    except OSError as exc:
        return False, 'connect %s:%s: %s' % (host, probe['port'], exc)
    return True, 'connect %s:%s: ok' % (host, probe['port'])


def _exec_once(engine, probe, container):
    """An exec probe: its command run once by ``Engine.exec``, again when the engine lost its output.

    The probe's lost-output rule (``Engine.exec`` says why the patch container's differs): the command is the
    user's argv, possibly with no shell, so no end marker can be added to it; a check that passed with no
    output where an output was expected is run again at once, LOST_OUTPUT_RERUNS times."""
    command = probe['command']
    if isinstance(command, str):
        command = ['/bin/sh', '-c', command]
    rc, output = engine.exec(container['Id'], command)
    for dummy in range(LOST_OUTPUT_RERUNS):
        # An engine under load can close an exec's stream before a short command's output reaches
        # it (Podman often, Docker rarely): a check that passed with no output is run again at once.
        if not (probe.get('stdout_regex') and rc == probe['rc'] and not output):
            break
        rc, output = engine.exec(container['Id'], command)
    if rc != probe['rc']:
        return False, 'exec %s: rc %s, expected %s: %s' % (command, rc, probe['rc'], output[-300:])
    if probe.get('stdout_regex') and not re.search(probe['stdout_regex'], output):
        return False, 'exec %s: output does not match %r: %s' % (command, probe['stdout_regex'], output[-300:])
    return True, 'exec %s: rc %s' % (command, rc)


def _log_once(engine, probe, container):
    started = container['State'].get('StartedAt')
    since = None
    if started and not started.startswith('0001'):
        since = _parse_time(started)
    logs = engine.call('read logs', engine.api.logs, container['Id'], stdout=True, stderr=True,
                       since=since, tail=2000).decode('utf-8', 'replace')
    match = re.search(probe['pattern'], logs)
    if match:
        line = logs[logs.rfind('\n', 0, match.start()) + 1:logs.find('\n', match.end())]
        return False, 'log matches %r: %s' % (probe['pattern'], line[:300])
    return True, 'no log line matches %r' % probe['pattern']


def _parse_time(text):
    base = text.rstrip('Z').split('.')[0]
    stamp = datetime.datetime.strptime(base, '%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc)
    return int(stamp.timestamp())


def run_probe(engine, container_id, probe, index=0):
    """Run one probe with its retries; returns a result dict (never raises on a failed check)."""
    label = validate(probe, index)
    probe = _defaults(probe)
    attempts = 0
    started = time.monotonic()
    ok, output = False, ''
    for attempt in range(max(1, probe['retries'])):
        attempts = attempt + 1
        container = engine.call('inspect container', engine.api.inspect_container, container_id)
        if probe['type'] == 'health' and own_healthcheck(engine, container):
            ok, output = OwnHealthcheck(engine, container).check_once()
        elif probe['type'] == 'health':
            ok, output = health_once(container)
        elif probe['type'] == 'http':
            ok, output = _http_once(probe, container)
        elif probe['type'] == 'tcp':
            ok, output = _tcp_once(probe, container)
        elif probe['type'] == 'exec':
            ok, output = _exec_once(engine, probe, container)
        else:
            ok, output = _log_once(engine, probe, container)
        if ok:
            break
        if attempt + 1 < probe['retries']:
            time.sleep(probe['interval'])
    return {'name': label, 'type': probe['type'], 'ok': ok, 'attempts': attempts, 'output': output,
            'duration_ms': int((time.monotonic() - started) * 1000)}


def health_status(container):
    """healthy / unhealthy / starting, 'none' without a HEALTHCHECK, or the state if not running."""
    state = container.get('State') or {}
    if not state.get('Running'):
        return state.get('Status') or 'unknown'
    return (state.get('Health') or {}).get('Status') or 'none'


def has_healthcheck(container):
    test = ((container.get('Config') or {}).get('Healthcheck') or {}).get('Test') or []
    return bool(test) and test[0] != 'NONE'


def engine_ran_healthcheck(container):
    """Has the engine itself run the container's HEALTHCHECK (its health log has entries)?"""
    return bool(((container.get('State') or {}).get('Health') or {}).get('Log'))


def own_healthcheck(engine, container):
    """Must the collection run this container's HEALTHCHECK itself? On Podman, the engine runs
    healthchecks on systemd timers only: without systemd their status stays "starting" forever.
    Where the engine has run the check (its health log has entries), its status counts."""
    return (getattr(engine, 'kind', 'docker') == 'podman' and has_healthcheck(container)
            and not engine_ran_healthcheck(container))


# The engine's defaults for HEALTHCHECK durations left at 0 (seconds), and for retries.
_HEALTHCHECK_DEFAULTS = {'Interval': 30.0, 'Timeout': 30.0, 'StartPeriod': 0.0}
_HEALTHCHECK_RETRIES = 3


class OwnHealthcheck:
    """A container's HEALTHCHECK run by the collection, on the engine's schedule and rules: the
    test (CMD or CMD-SHELL) by exec every Interval, each bounded by Timeout; one pass is healthy,
    Retries consecutive failures after StartPeriod are unhealthy."""

    def __init__(self, engine, container):
        config = container.get('Config') or {}
        check = config.get('Healthcheck') or {}
        self.engine = engine
        self.container_id = container['Id']
        test = list(check.get('Test') or [])
        if test and test[0] == 'CMD-SHELL':
            self.command = list(config.get('Shell') or ['/bin/sh', '-c']) + [' '.join(test[1:])]
        else:
            self.command = test[1:] if test and test[0] == 'CMD' else test
        for key, default in _HEALTHCHECK_DEFAULTS.items():
            setattr(self, key.lower(), (check.get(key) or 0) / 1e9 or default)
        self.retries = check.get('Retries') or _HEALTHCHECK_RETRIES
        self.started = time.monotonic()
        self.next_at = self.started + self.interval
        self.streak = 0
        self.status = 'starting'
        self.last = ''
        self.runs = 0

    def check_once(self):
        """Run the test once: (passed, text)."""
        self.runs += 1
        try:
            rc, output = self.engine.exec(self.container_id, self.command, timeout=self.timeout)
        except PatchopsError as exc:
            rc, output = None, exc.msg
        text = output.strip()[-300:]
        if rc == 0:
            return True, 'HEALTHCHECK passed (run by patchops: the engine does not run it)'
        why = 'exit code %s' % rc if rc is not None else output
        return False, 'HEALTHCHECK failed (run by patchops: the engine does not run it): %s%s' % (
            why, (': ' + text) if rc is not None and text else '')

    def poll(self):
        """Run the test when due; returns the status: starting, healthy or unhealthy."""
        now = time.monotonic()
        if now < self.next_at:
            return self.status
        ok, self.last = self.check_once()
        self.next_at = time.monotonic() + self.interval
        if ok:
            self.streak, self.status = 0, 'healthy'
        elif now - self.started >= self.startperiod:
            self.streak += 1
            if self.streak >= self.retries:
                self.status = 'unhealthy'
        return self.status

    def describe(self):
        return 'health %s%s' % (self.status, (': ' + self.last) if self.last else ' (run by patchops: the engine '
                                'does not run HEALTHCHECKs; first check after %g s)' % self.interval)


def health_once(container):
    state = container.get('State') or {}
    if not state.get('Running'):
        return False, 'container is %s (exit code %s)' % (state.get('Status'), state.get('ExitCode'))
    if not has_healthcheck(container):
        return True, 'running (no HEALTHCHECK)'
    health = state.get('Health') or {}
    status = health.get('Status')
    last = (health.get('Log') or [{}])[-1].get('Output', '').strip()
    return status == 'healthy', 'health %s%s' % (status, (': ' + last[:300]) if last else '')


def wait_ready(engine, container_id, timeout, settle):
    """Wait until the container is healthy (HEALTHCHECK) or, without one, stays running ``settle`` s.

    Fails early on exit, restart or ``unhealthy``. Returns a probe-shaped result.
    """
    started = time.monotonic()
    deadline = started + timeout
    first = engine.call('inspect container', engine.api.inspect_container, container_id)
    restarts = first.get('RestartCount', 0)
    attempts = 0
    own = None
    while True:
        attempts += 1
        container = engine.call('inspect container', engine.api.inspect_container, container_id)
        state = container.get('State') or {}
        ok, output = health_once(container)
        if state.get('Running') and own_healthcheck(engine, container):
            own = own or OwnHealthcheck(engine, container)
            status = own.poll()
            ok, output = status == 'healthy', own.describe()
            # Seen as the engine would report it, for the checks below.
            state = dict(state, Health=dict(state.get('Health') or {}, Status=status))
        elapsed = time.monotonic() - started
        result = {'name': 'health', 'type': 'health', 'ok': False, 'attempts': attempts, 'output': output,
                  'duration_ms': int(elapsed * 1000)}
        if not state.get('Running') or state.get('Restarting') or container.get('RestartCount', 0) != restarts:
            result['output'] = '%s (restarts: %s); logs: %s' % (
                output, container.get('RestartCount', 0) - restarts, _tail_logs(engine, container_id))
            return result
        if has_healthcheck(container):
            if (state.get('Health') or {}).get('Status') == 'unhealthy':
                return result
            if ok:
                result['ok'] = True
                return result
        elif elapsed >= settle and container.get('RestartCount', 0) == restarts:
            result['ok'] = True
            return result
        if time.monotonic() >= deadline:
            result['output'] = 'not ready after %s s: %s' % (timeout, output)
            return result
        time.sleep(0.1)


def _tail_logs(engine, container_id):
    try:
        return engine.api.logs(container_id, tail=5).decode('utf-8', 'replace').strip()[-500:]
    except Exception:  # logs are a courtesy in an error message
        return ''


def verify(engine, container_id, probes, wait_health=True, timeout=60, settle=2.0):
    """Readiness then every probe; returns (ok, results). Stops at the first failure."""
    results = []
    if wait_health:
        ready = wait_ready(engine, container_id, timeout, settle)
        results.append(ready)
        if not ready['ok']:
            return False, results
    for index, probe in enumerate(probes or []):
        result = run_probe(engine, container_id, probe, index)
        results.append(result)
        if not result['ok']:
            return False, results
    return True, results
