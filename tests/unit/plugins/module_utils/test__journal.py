# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_journal: the atomic JSON writer, the journal's reader and records, the per-engine lock."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import stat
import threading
import time

import pytest

from ansible_collections.patchops.containers.plugins.module_utils import _journal
from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._journal import (
    DEFAULT_STATE_DIR,
    FORMAT,
    Journal,
    JournalError,
    Lock,
    engine_dir,
    read_json,
    write_json_atomic,
)

ENGINE_ID = 'Q3ZK:7NVD:XW4E:MJ2R:5TQY:HB6C:LF3A:PU8G:D2SN:ER7K:WJ4V:OC5M'


@pytest.fixture(autouse=True)
def no_crash_hook(monkeypatch):
    monkeypatch.delenv('PATCHOPS_TEST_CRASH_AT', raising=False)
    monkeypatch.delenv('PATCHOPS_TEST_PAUSE_AT', raising=False)


@pytest.fixture
def journal(tmp_path):
    return Journal(str(tmp_path), ENGINE_ID)


def swap(run, container='web', **fields):
    out = {'run': run, 'container': container, 'old_id': 'a' * 64, 'verified': False, 'outcome': None}
    out.update(fields)
    return out


# -- write_json_atomic ----------------------------------------------------------------------


def test_write_json_atomic_writes_sorted_json_private(tmp_path):
    path = str(tmp_path / 'state' / 'journal' / 'web.json')
    write_json_atomic(path, {'swaps': [], 'format': 1})
    with open(path) as fh:
        assert fh.read() == '{\n "format": 1,\n "swaps": []\n}\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert os.listdir(os.path.dirname(path)) == ['web.json']  # no temporary file left


def test_write_json_atomic_mode(tmp_path):
    path = str(tmp_path / 'stage.json')
    write_json_atomic(path, {}, mode=0o644)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_write_json_atomic_reader_sees_old_or_new(tmp_path, monkeypatch):
    path = str(tmp_path / 'web.json')
    write_json_atomic(path, {'n': 1})
    seen = []
    rename = os.rename

    def spying_rename(src, dst):
        # Just before the switch: the file still holds the old document, the new one is whole beside it.
        with open(dst) as fh:
            seen.append(json.load(fh))
        with open(src) as fh:
            seen.append(json.load(fh))
        rename(src, dst)
        with open(dst) as fh:
            seen.append(json.load(fh))

    monkeypatch.setattr(_journal.os, 'rename', spying_rename)
    write_json_atomic(path, {'n': 2})
    assert seen == [{'n': 1}, {'n': 2}, {'n': 2}]
    assert sorted(os.listdir(str(tmp_path))) == ['web.json']


def test_write_json_atomic_failure_keeps_the_old_file(tmp_path):
    path = str(tmp_path / 'web.json')
    write_json_atomic(path, {'n': 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {'n': {1, 2}})  # a set is not JSON: fails half way through the dump
    with open(path) as fh:
        assert json.load(fh) == {'n': 1}
    assert os.listdir(str(tmp_path)) == ['web.json']


def test_write_json_atomic_failed_rename_leaves_no_temp(tmp_path, monkeypatch):
    path = str(tmp_path / 'web.json')

    def no_space(src, dst):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(_journal.os, 'rename', no_space)
    with pytest.raises(OSError):
        write_json_atomic(path, {'n': 1})
    assert os.listdir(str(tmp_path)) == []


# -- read_json ---------------------------------------------------------------------------------


def write(path, text):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), 'w') as fh:
        fh.write(text)


def test_read_json(tmp_path):
    path = tmp_path / 'web.json'
    write(path, '{"format": 1, "container": "web", "swaps": []}')
    assert read_json(str(path)) == {'format': 1, 'container': 'web', 'swaps': []}


def test_read_json_corrupted(tmp_path):
    path = tmp_path / 'web.json'
    write(path, '{"format": 1, "swaps": [')  # cut off
    with pytest.raises(JournalError) as info:
        read_json(str(path))
    assert info.value.msg == ('journal file %s is corrupted (Expecting value: line 1 column 25 (char 24)): move it '
                              'aside after checking the containers it names' % path)


def test_read_json_empty_file_names_what(tmp_path):
    path = tmp_path / 'stage.json'
    write(path, '')
    with pytest.raises(JournalError) as info:
        read_json(str(path), what='stage manifest')
    assert info.value.msg == ('stage manifest file %s is corrupted (Expecting value: line 1 column 1 (char 0)): move '
                              'it aside after checking the containers it names' % path)


def test_read_json_not_utf8_is_corrupted(tmp_path):
    path = tmp_path / 'web.json'
    with open(str(path), 'wb') as fh:
        fh.write(b'{"format": 1, "container": "\xff\xfe"}')
    with pytest.raises(JournalError) as info:
        read_json(str(path))
    assert info.value.msg.startswith('journal file %s is corrupted (' % path)


@pytest.mark.parametrize('text', ['[]', '"web"', '1', 'null'])
def test_read_json_not_an_object(tmp_path, text):
    path = tmp_path / 'web.json'
    write(path, text)
    with pytest.raises(JournalError) as info:
        read_json(str(path))
    assert info.value.msg == 'journal file %s is corrupted: expected a JSON object' % path


@pytest.mark.parametrize('text, shown', [('{"format": 2}', '2'), ('{"format": "1"}', "'1'"), ('{}', 'None'),
                                         ('{"format": 1.0}', '1.0')])
def test_read_json_newer_or_unknown_format(tmp_path, text, shown):
    path = tmp_path / 'web.json'
    write(path, text)
    with pytest.raises(JournalError) as info:
        read_json(str(path))
    assert info.value.msg == ('journal file %s has format %s, this collection reads format 1 or older: use a newer '
                              'patchops.containers' % (path, shown))


def test_read_json_unreadable_is_a_journal_error(tmp_path, journal):
    os.makedirs(journal.path('web'))  # a directory where the file should be
    with pytest.raises(JournalError):
        journal.load('web')


def test_journal_error_is_a_patchops_error():
    assert issubclass(JournalError, PatchopsError)


# -- layout -------------------------------------------------------------------------------------


def test_engine_dir(tmp_path):
    assert engine_dir(str(tmp_path), ENGINE_ID) == str(tmp_path / ENGINE_ID.replace(':', '-'))
    assert engine_dir(str(tmp_path), 'a/../b c') == str(tmp_path / 'a-..-b-c')
    assert engine_dir(str(tmp_path), None) == str(tmp_path / 'unknown')
    assert engine_dir(None, 'x') == os.path.join(DEFAULT_STATE_DIR, 'x')


def test_journal_paths(tmp_path, journal):
    root = tmp_path / ENGINE_ID.replace(':', '-')
    assert journal.root == str(root)
    assert journal.path('web') == str(root / 'journal' / 'web.json')
    assert Lock.engine(str(tmp_path), ENGINE_ID, 5).path == str(root / 'lock')


def test_load_missing_is_empty(journal):
    assert journal.load('web') == {'format': FORMAT, 'container': 'web', 'swaps': []}
    assert journal.names() == []
    assert journal.pending() == []
    assert journal.last_patched('web') is None


def test_names_skip_temporaries_and_other_files(journal):
    for name in ('web.json', 'db.json', '.tmp-abc123', '.tmp-x.json', 'notes.txt'):
        write(os.path.join(journal.dir, name), '{"format": 1, "swaps": []}')
    assert journal.names() == ['db', 'web']


def test_validate_all_stops_on_a_corrupted_file(journal):
    journal.record(swap('r1', 'db'), 'planned')
    write(journal.path('web'), '{')
    with pytest.raises(JournalError) as info:
        journal.validate_all()
    assert journal.path('web') in info.value.msg


# -- record, pending, last_patched ------------------------------------------------------------------


def test_record_writes_the_step_before_it_is_taken(journal):
    entry = swap('r1')
    before = datetime.datetime.now(datetime.timezone.utc)
    journal.record(entry, 'planned', was_running=True)
    journal.record(entry, 'stop_old')
    assert entry['step'] == 'stop_old' and entry['was_running'] is True
    with open(journal.path('web')) as fh:
        doc = json.load(fh)
    assert doc['format'] == FORMAT and doc['container'] == 'web'
    assert len(doc['swaps']) == 1
    stored = doc['swaps'][0]
    assert stored['step'] == 'stop_old'
    assert stored['was_running'] is True
    assert [h['step'] for h in stored['history']] == ['planned', 'stop_old']
    at = datetime.datetime.fromisoformat(stored['history'][0]['at'])
    assert at.utcoffset() == datetime.timedelta(0)
    assert before - datetime.timedelta(seconds=1) <= at <= datetime.datetime.now(datetime.timezone.utc)


def test_pause_hook_stops_the_process_once_after_the_write(journal, monkeypatch):
    """PATCHOPS_TEST_PAUSE_AT (reliability tests): the process stops itself right after journaling
    the step, once; on SIGCONT it goes on, and the same step again does not stop it."""
    monkeypatch.setenv('PATCHOPS_TEST_PAUSE_AT', 'verify')
    pid = os.fork()
    if pid == 0:  # the child records twice, then exits 0 when it was resumed
        record = swap('r1')
        journal.record(record, 'verify')
        journal.record(record, 'verify')
        os._exit(0)
    dummy, status = os.waitpid(pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGSTOP
    assert journal.load('web')['swaps'][-1]['step'] == 'verify'  # written before it stopped
    os.kill(pid, signal.SIGCONT)
    dummy, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_sweep_temporaries_removes_only_a_dead_writers_temp_files(journal):
    journal.record(swap('r1'), 'planned')
    os.makedirs(journal.dir, exist_ok=True)
    for name in ('.tmp-abc123', '.tmp-def456'):
        with open(os.path.join(journal.dir, name), 'w') as fh:
            fh.write('{"half')
    assert journal.sweep_temporaries() == ['.tmp-abc123', '.tmp-def456']
    assert sorted(os.listdir(journal.dir)) == ['web.json']
    assert journal.sweep_temporaries() == []
    assert Journal(journal.root + '-none', ENGINE_ID).sweep_temporaries() == []  # no directory yet


def test_record_keeps_other_runs_and_the_last_20(journal):
    for run in range(25):
        journal.record(swap('run-%02d' % run, outcome='patched'), 'done')
    swaps = journal.load('web')['swaps']
    assert [s['run'] for s in swaps] == ['run-%02d' % n for n in range(5, 25)]


def test_record_one_file_per_container(journal):
    journal.record(swap('r1', 'web'), 'planned')
    journal.record(swap('r1', 'db'), 'planned')
    assert journal.names() == ['db', 'web']
    assert [s['container'] for s in journal.load('db')['swaps']] == ['db']


def test_record_cannot_write_names_the_file_and_step(journal):
    os.makedirs(journal.root)
    write(journal.dir, 'not a directory')
    with pytest.raises(JournalError) as info:
        journal.record(swap('r1'), 'planned')
    assert info.value.msg == 'cannot write the journal file %s before step planned: File exists' % journal.path('web')


def test_pending_is_the_last_swap_without_outcome(journal):
    journal.record(swap('r1', 'web', outcome='patched'), 'done')
    journal.record(swap('r2', 'web'), 'start_new')
    journal.record(swap('r1', 'db'), 'verify')
    journal.record(swap('r2', 'db', outcome='rolled_back'), 'rolled_back')  # db's last swap settled
    journal.record(swap('r1', 'cache', outcome='not_attempted'), 'not_attempted')
    pending = journal.pending()
    assert [(name, s['run'], s['step']) for name, s in pending] == [('web', 'r2', 'start_new')]


def test_last_patched(journal):
    journal.record(swap('r1', outcome='patched', target_image_id='sha256:1'), 'done')
    journal.record(swap('r2', outcome='patched', target_image_id='sha256:2'), 'done')
    journal.record(swap('r3', outcome='rolled_back', target_image_id='sha256:3'), 'rolled_back')
    journal.record(swap('r4', target_image_id='sha256:4'), 'verify')
    assert journal.last_patched('web')['run'] == 'r2'
    assert journal.last_patched('web')['target_image_id'] == 'sha256:2'
    assert journal.last_patched('db') is None


# -- Lock -------------------------------------------------------------------------------------------


def test_lock_taken_and_released(tmp_path):
    path = str(tmp_path / 'engine' / 'lock')
    with Lock(path, 0) as lock:
        with open(path) as fh:
            note = fh.read()
        assert re.match(r'^pid %d since \d{4}-\d\d-\d\dT' % os.getpid(), note)
        assert lock.fh is not None
    with Lock(path, 0):  # released: can be taken again at once
        pass


def test_second_lock_times_out_with_the_holders_note(tmp_path):
    path = str(tmp_path / 'lock')
    with Lock(path, 0):
        with open(path) as fh:
            note = fh.read()
        with pytest.raises(JournalError) as info:
            with Lock(path, 0):
                pytest.fail('took a lock that is held')
    assert info.value.msg == 'another patchops run holds the lock %s (%s); waited 0 s (lock_timeout)' % (path, note)


def test_second_lock_names_its_holder_and_waits(tmp_path):
    path = str(tmp_path / 'lock')
    with Lock(path, 0):
        began = time.monotonic()
        with pytest.raises(JournalError) as info:
            with Lock(path, 0.3, holder='the stager'):
                pass
        waited = time.monotonic() - began
    assert info.value.msg.startswith('the stager holds the lock %s (pid %d since ' % (path, os.getpid()))
    assert info.value.msg.endswith('; waited 0.3 s (lock_timeout)')
    assert 0.3 <= waited < 2


def test_lock_without_a_note_says_unknown(tmp_path):
    path = str(tmp_path / 'lock')
    with Lock(path, 0):
        os.truncate(path, 0)
        with pytest.raises(JournalError) as info:
            with Lock(path, 0):
                pass
    assert info.value.msg == 'another patchops run holds the lock %s (unknown); waited 0 s (lock_timeout)' % path


def test_lock_waits_for_the_holder_to_release(tmp_path):
    path = str(tmp_path / 'lock')
    holder = Lock(path, 0).__enter__()
    timer = threading.Timer(0.3, holder.__exit__, (None, None, None))
    timer.start()
    try:
        began = time.monotonic()
        with Lock(path, 5):
            assert time.monotonic() - began >= 0.25
    finally:
        timer.join()


def test_lock_file_cannot_be_opened(tmp_path):
    write(tmp_path / 'state', 'a file, not a directory')
    path = str(tmp_path / 'state' / 'lock')
    with pytest.raises(JournalError) as info:
        with Lock(path, 0):
            pass
    assert info.value.msg.startswith('cannot open the lock file %s: ' % path)


def test_engine_lock_is_per_engine(tmp_path):
    with Lock.engine(str(tmp_path), 'engine-a', 0):
        with Lock.engine(str(tmp_path), 'engine-b', 0):
            pass
        with pytest.raises(JournalError):
            with Lock.engine(str(tmp_path), 'engine-a', 0):
                pass
