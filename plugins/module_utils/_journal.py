# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one journal: per-engine state on the host, every swap step written before it is taken,
and the per-engine lock that keeps two runs from interleaving.

Layout: ``<state_dir>/<engine-id>/journal/<container>.json`` and ``<state_dir>/<engine-id>/lock``.
The engine ID keys the directory, so several engines on one host never share a journal.

Private: not a public API of the collection.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import signal
import tempfile
import time
from typing import Dict, List, Optional, TypedDict

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._time import utc_now

FORMAT = 1
DEFAULT_STATE_DIR = '/var/lib/patchops'


class SwapRecord(TypedDict, total=False):
    """One swap of one container, as the journal keeps it (``swaps`` of ``<container>.json``); the
    format is described in docs/patch.md. Written before each step (``step``, ``history``)."""
    run: str  # the run's ID: one record per run and container
    container: str
    step: str  # the last step journaled
    history: List[dict]  # [{step, at}], ``at`` UTC with milliseconds
    outcome: Optional[str]  # None while the swap is unfinished
    reason: str
    strategy: str
    old_id: str
    old_image: Optional[str]
    old_image_id: str
    target_image: str
    target_image_id: str
    new_id: str
    aside_name: str  # the old container's name while set aside
    temp_name: str  # the new container's name until it takes the name (start-first)
    was_running: bool
    was_paused: bool
    verified: bool
    mac_addresses: Optional[Dict[str, str]]
    addresses: Optional[Dict[str, dict]]
    stop_timeout: int
    stop_signal: str
    stopped_by: str  # signal or kill
    stop_waited_ms: int
    breakdown_ms: Dict[str, int]  # milliseconds per phase, and the measured downtime gaps
    downtime_ms: int
    group: List[str]  # the names swapped together (a provider and its followers)
    group_id: str
    held_aliases: Dict[str, dict]  # start-first: network -> endpoint the new container takes once verified
    old_endpoints: Dict[str, dict]  # start-first: the old container's endpoints, to give back
    released: List[str]  # start-first: the networks the old container left
    compose_ref: Optional[str]
    compose_ref_was: Optional[str]
    retagged: bool
    compose_file: dict
    compose_file_written: bool
    compose_file_backup: str
    rolling_back: bool
    failure: str
    rollback_error: str
    rollback_verification: List[dict]
    not_started: str  # given back, but its namespace provider is gone: it cannot start
    old_dead: bool  # the engine was killed while it removed the old container: removed since, the new one kept
    recovery_error: str
    held_reason: str
    abandoned_state: str


class JournalError(PatchopsError):
    """The journal, the lock or a state file cannot be read or written."""


def now():
    """The journal's time stamps: UTC, ISO 8601 with milliseconds."""
    return utc_now().isoformat(timespec='milliseconds')


def engine_dir(state_dir, engine_id):
    """The directory of one engine's state (journal, lock, stage manifest)."""
    safe = re.sub(r'[^A-Za-z0-9_.-]', '-', engine_id or 'unknown')
    return os.path.join(state_dir or DEFAULT_STATE_DIR, safe)


def write_json_atomic(path, data, mode=0o600):
    """Write, fsync, rename, fsync the directory: a reader sees the old file or the new one,
    never half of one, also after a crash."""
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True) + '\n', mode)


def write_text_atomic(path, text, mode=0o600):
    """``text`` written as write_json_atomic writes (line endings as given, UTF-8)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8', newline='') as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_json(path, what='journal'):
    try:
        with open(path) as fh:
            data = json.load(fh)
    except OSError as exc:
        raise JournalError('%s file %s cannot be read: %s' % (what, path, exc.strerror or exc))
    except ValueError as exc:
        raise JournalError('%s file %s is corrupted (%s): move it aside after checking the containers '
                           'it names' % (what, path, exc))
    if not isinstance(data, dict):
        raise JournalError('%s file %s is corrupted: expected a JSON object' % (what, path))
    version = data.get('format')
    if not isinstance(version, int) or version > FORMAT:
        raise JournalError('%s file %s has format %r, this collection reads format %d or older: '
                           'use a newer patchops.containers' % (what, path, version, FORMAT))
    return data


class Journal:
    """Swap records of one engine. One file per container name."""

    def __init__(self, state_dir, engine_id):
        self.root = engine_dir(state_dir, engine_id)
        self.dir = os.path.join(self.root, 'journal')

    def path(self, name):
        return os.path.join(self.dir, '%s.json' % name)

    def load(self, name):
        path = self.path(name)
        if not os.path.exists(path):
            return {'format': FORMAT, 'container': name, 'swaps': []}
        return read_json(path)

    def names(self):
        if not os.path.isdir(self.dir):
            return []
        return sorted(f[:-5] for f in os.listdir(self.dir) if f.endswith('.json') and not f.startswith('.'))

    def sweep_temporaries(self):
        """Remove the ``.tmp-*`` files a writer killed between its write and its rename left in the
        journal directory; their names. Call it holding the engine lock: every journal writer holds
        it, so no live writer owns one."""
        if not os.path.isdir(self.dir):
            return []
        removed = []
        for name in sorted(os.listdir(self.dir)):
            if name.startswith('.tmp-'):
                try:
                    os.unlink(os.path.join(self.dir, name))
                    removed.append(name)
                except FileNotFoundError:
                    pass
        return removed

    def validate_all(self):
        """Read every file once, so a corrupted one stops the run before anything changes."""
        for name in self.names():
            self.load(name)

    def pending(self):
        """[(name, swap)] of swaps that did not reach an outcome."""
        out = []
        for name in self.names():
            swaps = self.load(name)['swaps']
            if swaps and not swaps[-1].get('outcome'):
                out.append((name, swaps[-1]))
        return out

    def last_patched(self, name):
        for swap in reversed(self.load(name)['swaps']):
            if swap.get('outcome') == 'patched':
                return swap
        return None

    def record(self, swap, step, **fields):
        """Write ``step`` (and fields) for ``swap`` before the step is taken."""
        swap.update(fields)
        swap['step'] = step
        swap.setdefault('history', []).append({'step': step, 'at': now()})
        doc = self.load(swap['container'])
        swaps = [s for s in doc['swaps'] if s.get('run') != swap['run']]
        swaps.append(swap)
        doc['swaps'] = swaps[-20:]
        path = self.path(swap['container'])
        try:
            write_json_atomic(path, doc)
        except OSError as exc:  # a full or read-only filesystem: say so, name the file
            raise JournalError('cannot write the journal file %s before step %s: %s'
                               % (path, step, exc.strerror or exc))
        crash = os.environ.get('PATCHOPS_TEST_CRASH_AT')
        if crash and crash == step:  # test hook: die as a killed module would, right after the write
            os._exit(86)
        pause = os.environ.get('PATCHOPS_TEST_PAUSE_AT')
        if pause and pause == step and step not in _PAUSED:
            # Test hook: stop (SIGSTOP) right after the write, once per process, so that a fault
            # lands at this step every time; the test resumes the process with SIGCONT.
            _PAUSED.add(step)
            os.kill(os.getpid(), signal.SIGSTOP)


_PAUSED = set()  # steps PATCHOPS_TEST_PAUSE_AT has stopped this process at


class Lock:
    """An exclusive lock on a file; released by the kernel if the process dies.

    ``Lock.engine(...)`` is the per-engine lock every module that changes an engine takes.
    """

    def __init__(self, path, timeout, holder='another patchops run'):
        self.path = path
        self.timeout = timeout
        self.holder = holder
        self.fh = None

    @classmethod
    def engine(cls, state_dir, engine_id, timeout):
        return cls(os.path.join(engine_dir(state_dir, engine_id), 'lock'), timeout)

    def __enter__(self):
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            self.fh = open(self.path, 'a+')
        except OSError as exc:
            raise JournalError('cannot open the lock file %s: %s' % (self.path, exc.strerror or exc))
        deadline = time.monotonic() + max(0, self.timeout)
        while True:
            try:
                fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    self.fh.seek(0)
                    holder = self.fh.read().strip() or 'unknown'
                    self.fh.close()
                    raise JournalError('%s holds the lock %s (%s); waited %s s (lock_timeout)'
                                       % (self.holder, self.path, holder, self.timeout))
                time.sleep(0.2)
        try:  # who holds it, for the message of a run that waits in vain; the lock works without it
            os.ftruncate(self.fh.fileno(), 0)
            os.write(self.fh.fileno(), ('pid %d since %s' % (os.getpid(), now())).encode())
        except OSError:  # a full filesystem: lock without the note
            pass
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh.fileno(), fcntl.LOCK_UN)
        self.fh.close()
        return False
