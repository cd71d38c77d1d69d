"""Reliability suite helpers: place a fault at an exact swap step, and check the end state on a host.

The fault itself is always the lab's (``lab fault ...``) or a real resource limit; what this module
adds is *when*: it watches the swap journal a module writes before each step, and freezes the
module process (found by a tag in its environment) or the engine with SIGSTOP so the fault lands
between two known steps instead of wherever a timer happens to fall.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import threading
import time

from ansible_collections.patchops.containers.plugins.module_utils._journal import DEFAULT_STATE_DIR as STATE_DIR
from patchkit import exec_out, remove

TAG_VAR = 'PATCHOPS_RELIABILITY_TAG'
SUFFIXES = ('-patchops-old', '-patchops-new')


def safe_id(engine_id):
    """The directory name the journal uses for an engine ID (see _journal.engine_dir)."""
    return ''.join(c if c.isalnum() or c in '_.-' else '-' for c in engine_id)


def journal_path(lab, host, name, state_dir=STATE_DIR):
    return os.path.join(state_dir, safe_id(lab.engine_id(host)), 'journal', name + '.json')


def last_swap(path):
    """The latest swap record of a journal file, or None (absent, or caught mid-rename)."""
    try:
        with open(path) as fh:
            swaps = json.load(fh).get('swaps') or []
    except (OSError, ValueError):
        return None
    return swaps[-1] if swaps else None


def lock_free(path):
    """True when no process holds the lock file ``path`` (the run that took it has ended)."""
    try:
        fh = open(path, 'a+')  # pylint: disable=consider-using-with
    except OSError:  # no state directory yet: nobody holds it
        return not os.path.exists(path)
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return True


def wait_for(what, predicate, timeout=60.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


def wait_for_step(path, steps, run=None, timeout=120.0):
    """Poll a journal (tightly) until its latest swap reaches one of ``steps``; returns that swap.

    ``run``: the Background run writing it; its end stops the wait (with its outcome). The timeout
    is generous: the run may first wait for the engine lock held by someone else's run.
    """
    def reached():
        swap = last_swap(path)
        if swap and swap.get('step') in steps:
            return swap
        if run is not None and not run.is_alive():
            raise AssertionError('the run ended before %s reached %s: %s' % (
                path, '/'.join(steps), run.error or str(run.value)[-2000:]))
        return None
    return wait_for('journal %s to reach %s' % (path, '/'.join(steps)), reached, timeout, interval=0.002)


# -- processes ------------------------------------------------------------------------------

def tagged_pids(tag):
    """PIDs of the processes whose environment carries ``TAG_VAR=tag`` (a module and its shell)."""
    needle = ('%s=%s' % (TAG_VAR, tag)).encode()
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/environ' % entry, 'rb') as fh:
                if needle in fh.read().split(b'\0'):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def freeze(pids):
    signal_all(pids, signal.SIGSTOP)


def thaw(pids):
    signal_all(pids, signal.SIGCONT)


def engine_pid(lab, host):
    with open(os.path.join(lab.run_dir, host, 'docker.pid')) as fh:
        return int(fh.read().strip())


class Background(threading.Thread):
    """Run ``fn`` in a thread; ``join_result()`` returns its value or raises its exception."""

    def __init__(self, fn, *args, **kwargs):
        super().__init__(daemon=True)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.value = None
        self.error = None
        self.ended = None  # time.monotonic() when fn returned

    def run(self):
        try:
            self.value = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # reported to the test by join_result
            self.error = exc
        finally:
            self.ended = time.monotonic()

    def join_result(self, timeout=300):
        self.join(timeout)
        assert not self.is_alive(), 'background run still going after %ss' % timeout
        if self.error is not None:
            raise self.error
        return self.value


def tagged_play(host, tasks, tag, pause_at=None):
    """A play whose module processes carry ``tag`` in their environment. ``pause_at``: the step
    at which the module stops itself (PATCHOPS_TEST_PAUSE_AT), for wait_paused."""
    environment = {TAG_VAR: tag}
    if pause_at:
        environment['PATCHOPS_TEST_PAUSE_AT'] = pause_at
    return [{'hosts': host, 'gather_facts': False, 'environment': environment, 'tasks': tasks}]


def _proc_state(pid):
    """The state letter of process ``pid`` in /proc/PID/stat, or None when it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as fh:
            return fh.read().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _ended(pid):
    """True when process ``pid`` has exited (gone, or a zombie its parent has not reaped yet)."""
    return _proc_state(pid) in (None, 'Z', 'X')


def stopped(pid):
    """True when process ``pid`` is stopped (state T in /proc/PID/stat)."""
    return _proc_state(pid) == 'T'


def wait_paused(tag, run, timeout=180.0):
    """Wait until the module of a ``tagged_play(..., pause_at=step)`` run has stopped itself at its
    step (it journaled the step, then sent itself SIGSTOP); returns the tagged PIDs, to thaw.
    Unlike polling the journal, this cannot miss a short step. ``run``: the Background run; its
    end stops the wait (with its outcome)."""
    def paused():
        pids = tagged_pids(tag)
        if any(stopped(pid) for pid in pids):
            return pids
        if not run.is_alive():
            raise AssertionError('the run ended before its module paused: %s'
                                 % (run.error or str(run.value)[-2000:]))
        return None
    return wait_for('the module tagged %s to pause at its step' % tag, paused, timeout, interval=0.05)


# -- the state of a host --------------------------------------------------------------------

def engine_answers(lab, host):
    try:
        lab.engine(host).version()
    except Exception:  # not (yet)
        return False
    return lab.ssh(host, 'docker version >/dev/null', check=False).returncode == 0


def engine_start(lab, host, attempts=3):
    """``lab fault engine-start`` until the engine answers (on a loaded machine the engine's own
    containerd sometimes misses dockerd's start timeout: start it again, as an operator would)."""
    for dummy in range(attempts):
        started = time.monotonic()
        out = lab.lab('fault', 'engine-start', host, check=False)
        print('engine-start %s: rc %s in %.1fs' % (host, out.returncode, time.monotonic() - started))
        try:
            wait_for('the engine of %s' % host, lambda: engine_answers(lab, host), 30, interval=0.5)
            return
        except AssertionError:
            continue
    raise AssertionError('the engine of %s did not come back after %d starts' % (host, attempts))


def lose_storage(lab, host, container_id):
    """Leave a Podman container as Podman killed while it removes the container leaves it: the engine killed,
    the container's layer left marked incomplete (as c/storage marks a layer it begins to delete), the engine
    started, which deletes that layer and keeps the container ("Found incomplete layer ..., deleting it")."""
    storage = os.path.join(os.path.dirname(lab.env['PATCHOPS_LAB_INVENTORY']), 'hosts', host, 'containers', 'storage')
    lab.lab('fault', 'engine-kill', host)
    try:
        with open(os.path.join(storage, 'overlay-containers', 'containers.json')) as fh:
            layer = next(c['layer'] for c in json.load(fh) if c['id'] == container_id)
        path = os.path.join(storage, 'overlay-layers', 'layers.json')
        with open(path) as fh:
            layers = json.load(fh)
        for entry in layers:
            if entry['id'] == layer:
                entry.setdefault('flags', {})['incomplete'] = True
        with open(path, 'w') as fh:
            json.dump(layers, fh)
    finally:
        engine_start(lab, host)
    return layer


def stop_orphan_shim(message):
    """The way out a run names for a containerd task an engine kept with no process in it (Docker 20.10
    killed while it started or stopped a container): stop the shim it names, with the pattern it names, as
    the operator would on the host (the lab's engines share this machine's processes). Returns the PIDs."""
    found = re.search(r"pkill -f '(\[c\]ontainerd-shim-runc-v2 -namespace moby -id [0-9a-f]{64})'", message or '')
    assert found, 'the run names no shim to stop: %s' % message
    pids = [int(p) for p in subprocess.run(['pgrep', '-f', found.group(1)], capture_output=True, text=True,
                                           check=False).stdout.split()]
    assert pids, 'no process matches %r' % found.group(1)
    signal_all(pids, signal.SIGTERM)
    wait_for('the shim to stop', lambda: all(_ended(pid) for pid in pids), 30)
    return pids


def data_of(api, name):
    out, rc = exec_out(api, name, 'cat /data/file')
    return out.strip() if rc == 0 else None


class Guard:
    """The invariant of the suite for some containers of one host.

    Taken before a run: ID, image, running state and the content of ``/data/file`` of each.
    ``check(images)`` after it: each still exists under its name, runs if it ran, runs one of
    ``images`` (its old or its new image), has its data; no ``-patchops-old``/``-patchops-new``
    container is left for it; no container of this test is left in the ``created`` state.
    """

    def __init__(self, lab, host, names, uid):
        self.lab = lab
        self.host = host
        self.uid = uid
        self.api = lab.engine(host)
        self.before = {}
        for name in names:
            state = self.api.inspect_container(name)
            self.before[name] = {'id': state['Id'], 'image': state['Image'],
                                 'running': state['State']['Running'], 'data': data_of(self.api, name)}

    def mine(self):
        return [c for c in self.api.containers(all=True) if any(self.uid in n for n in c['Names'])]

    def check(self, images):
        api = self.lab.engine(self.host)
        names = set()
        for entry in self.mine():
            names.update(n.lstrip('/') for n in entry['Names'])
            assert entry['State'] != 'created', '%s: %s left in created state' % (self.host, entry['Names'])
        for name, before in self.before.items():
            for suffix in SUFFIXES:
                assert name + suffix not in names, '%s: %s%s left behind' % (self.host, name, suffix)
            assert name in names, '%s: container %s is gone' % (self.host, name)
            state = api.inspect_container(name)
            if before['running']:
                assert state['State']['Running'], '%s: %s is not running (%s)' % (
                    self.host, name, state['State']['Status'])
            assert state['Image'] in images, '%s: %s runs %s' % (self.host, name, state['Image'])
            assert data_of(api, name) == before['data'], '%s: the data of %s changed' % (self.host, name)
        return {name: api.inspect_container(name) for name in self.before}

    def no_pending(self, state_dir=STATE_DIR):
        """Every swap the journal holds for these containers reached an outcome."""
        for name in self.before:
            swap = last_swap(journal_path(self.lab, self.host, name, state_dir))
            assert swap is None or swap.get('outcome'), '%s: swap of %s unfinished at step %s' % (
                self.host, name, swap.get('step'))


def forget_journals(lab, host, names, state_dir=STATE_DIR):
    """Remove the journal files of a test's containers (removed with them): a record left behind
    would be "recovered" by the next run on that engine, someone else's."""
    for name in names:
        try:
            os.unlink(journal_path(lab, host, name, state_dir))
        except FileNotFoundError:
            pass


def app_container(lab, api, name, tag='v1', **host_config):
    """A running lab app with a named volume on /data holding a line of data, restart unless-stopped."""
    host_config.setdefault('restart_policy', {'Name': 'unless-stopped'})
    host_config.setdefault('binds', {'vol-' + name: {'bind': '/data', 'mode': 'rw'}})
    stop_signal = host_config.pop('stop_signal', None)
    cid = api.create_container(lab.image(tag), name=name, host_config=api.create_host_config(**host_config),
                               stop_signal=stop_signal)['Id']
    api.start(cid)
    out, rc = exec_out(api, cid, 'echo data-of-%s > /data/file' % name)
    assert rc == 0, out
    return cid


def remove_app(api, *names):
    for name in names:
        remove(api, name)  # with its -patchops-old/-new
        try:
            api.remove_volume('vol-' + name, force=True)
        except Exception:  # absent is fine
            pass
