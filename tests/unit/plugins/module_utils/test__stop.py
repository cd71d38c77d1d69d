"""How a container will stop: signal names, PID 1 from `top`, SigCgt/SigBlk, the prediction."""

from __future__ import annotations

import pytest
from fake_engine import FakeEngine, hexid

from ansible_collections.patchops.containers.plugins.module_utils import _stop

CID = hexid('web')  # the ID of the fake engine's container web
TOP = {'Titles': ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
       'Processes': [['root', '5801', '5715', '0', '14:21', '?', '0', 'httpd -f -p 8080'],
                     ['root', '5715', '5687', '1', '14:21', '?', '0', '/bin/sh /app/run'],
                     ['root', '6133', '5687', '3', '14:21', '?', '0', '/bin/sh -c wget health']]}


def reader(files):
    return files.get


def status(cgt, blk='0000000000000000'):
    return 'Name:\tx\nSigBlk:\t%s\nSigIgn:\t0000000000000000\nSigCgt:\t%s\n' % (blk, cgt)


@pytest.mark.parametrize('name,number', [
    ('SIGTERM', 15), ('TERM', 15), ('15', 15), ('sigquit', 3), ('SIGRTMIN+3', 37), ('SIGNOPE', None)])
def test_signal_number(name, number):
    assert _stop.signal_number(name) == number


def test_pid1_is_the_lowest_root_process():
    # the healthcheck exec (6133) is also a root of the tree; PID 1 started first
    assert _stop.pid1(TOP) == ('5715', '/bin/sh /app/run')
    assert _stop.pid1({'Titles': ['PID'], 'Processes': []}) == (None, None)
    assert _stop.pid1(None) == (None, None)


def test_stop_settings_prefer_the_containers_own():
    assert _stop.stop_settings({'Config': {}}, 10) == ('SIGTERM', 10)
    assert _stop.stop_settings({'Config': {'StopSignal': 'SIGQUIT', 'StopTimeout': 30}}, 10) == ('SIGQUIT', 30)
    assert _stop.stop_settings({'Config': {'StopTimeout': 0}}, 10) == ('SIGTERM', 0)


def test_handles_signal_reads_caught_and_blocked_masks_of_the_right_process():
    files = {'/proc/1/cgroup': '0::/docker/%s\n' % CID, '/proc/1/status': status('0000000000004002')}
    assert _stop.handles_signal('1', CID, 15, reader(files)) is True  # bit 14 = SIGTERM
    files['/proc/1/status'] = status('0000000000000002')
    assert _stop.handles_signal('1', CID, 15, reader(files)) is False
    files['/proc/1/status'] = status('0000000000000000', blk='0000000000004000')  # sigwait/signalfd
    assert _stop.handles_signal('1', CID, 15, reader(files)) is True
    files['/proc/1/cgroup'] = '0::/docker/another\n'  # not this container's process (remote engine)
    assert _stop.handles_signal('1', CID, 15, reader(files)) is None
    assert _stop.handles_signal('2', CID, 15, reader(files)) is None


def inspect(init=False, **config):
    return {'Id': CID, 'Config': config, 'HostConfig': {'Init': init}}


def test_predict_no_handler_is_a_kill_risk():
    files = {'/proc/5715/cgroup': CID, '/proc/5715/status': status('0')}
    got = _stop.predict(inspect(), _stop.pid1(TOP), 10, read=reader(files))
    assert got['kill_risk'] is True and got['handles_signal'] is False and got['expected_stop_s'] == 10
    assert 'no handler for SIGTERM' in got['kill_reason'] and got['pid1'] == '/bin/sh /app/run'


def test_predict_handler_init_and_fallback():
    files = {'/proc/5715/cgroup': CID, '/proc/5715/status': status('0000000000004000')}
    assert _stop.predict(inspect(), _stop.pid1(TOP), 10, read=reader(files))['kill_risk'] is False
    tini = {'Titles': TOP['Titles'], 'Processes': [['root', '7', '1', '0', '', '?', '0', '/sbin/docker-init -- sh']]}
    got = _stop.predict(inspect(init=True), _stop.pid1(tini), 10, read=reader({}))
    assert got['init'] is True and got['handles_signal'] is True and got['kill_risk'] is False
    # /proc unreadable (remote engine): a shell without init is flagged, another program is not
    assert _stop.predict(inspect(), _stop.pid1(TOP), 10, read=reader({}))['kill_risk'] is True
    nginx = {'Titles': TOP['Titles'], 'Processes': [['root', '9', '1', '0', '', '?', '0', 'nginx: master']]}
    assert _stop.predict(inspect(), _stop.pid1(nginx), 10, read=reader({}))['kill_risk'] is False


def test_predict_from_the_journal_and_stopped_by():
    last = {'stopped_by': 'kill', 'stop_signal': 'SIGTERM', 'stop_waited_ms': 10040}
    got = _stop.predict(inspect(), None, 10, last_stop=last, read=reader({}))
    assert got['kill_risk'] is True and '10.0 s' in got['kill_reason']
    killed = {'State': {'ExitCode': 137, 'OOMKilled': False}}
    assert _stop.stopped_by(killed, 10.1, 10) == 'kill'
    assert _stop.stopped_by(killed, 1.0, 10) == 'signal'  # killed by someone else, not the timeout
    assert _stop.stopped_by({'State': {'ExitCode': 143}}, 10.1, 10) == 'signal'
    assert _stop.stopped_by({'State': {'ExitCode': 137, 'OOMKilled': True}}, 10.1, 10) == 'signal'


def topped(fail=None):
    """The shared fake engine, its container web's ``top`` answering TOP (or ``fail``)."""
    engine = FakeEngine()
    engine.add_image(['app:v1'])
    engine.containers[engine.add_container('web', 'app:v1')]['Top'] = TOP
    if fail is not None:
        engine.api.fail['top'] = fail
    return engine


def tops(engine):
    """How many times ``top`` was asked."""
    return len(engine.api.called('top'))


def running(pid=4242):
    return {'Id': CID, 'State': {'Running': True, 'Pid': pid}}


def test_first_process_from_local_proc_else_from_top():
    files = {'/proc/4242/cgroup': '0::/docker/%s\n' % CID, '/proc/4242/cmdline': '/bin/sh\0/app/run\0'}
    engine = topped()
    assert _stop.first_process(engine, running(), reader(files)) == ('4242', '/bin/sh /app/run')
    assert tops(engine) == 0
    # The PID is another container's process here (a remote engine): ask the engine.
    files['/proc/4242/cgroup'] = '0::/docker/%s\n' % ('d' * 64)
    assert _stop.first_process(engine, running(), reader(files)) == ('5715', '/bin/sh /app/run')
    assert tops(engine) == 1
    assert _stop.first_process(topped(fail=RuntimeError('gone')), running(), reader({})) == (None, None)
    assert _stop.first_process(engine, {'Id': CID, 'State': {'Running': False}}, reader(files)) == (None, None)
    assert tops(engine) == 1


def test_stop_settings_name_a_numeric_signal():
    # Podman reports every container's StopSignal as a number.
    assert _stop.stop_settings({'Config': {'StopSignal': '15'}}, 10) == ('SIGTERM', 10)
    assert _stop.stop_settings({'Config': {'StopSignal': '3'}}, 10) == ('SIGQUIT', 10)
    assert _stop.signal_name('999') == '999'
    assert _stop.signal_name('SIGRTMIN+3') == 'SIGRTMIN+3'
