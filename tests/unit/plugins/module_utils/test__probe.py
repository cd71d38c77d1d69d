"""The HEALTHCHECK the collection runs itself where the engine does not (Podman without systemd)."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils import _probe
from ansible_collections.patchops.containers.plugins.module_utils._probe import OwnHealthcheck, own_healthcheck


class FakeAPI:
    def __init__(self, codes):
        self.codes = list(codes)
        self.commands = []
        self.last = None

    def exec_create(self, cid, command, stdout=True, stderr=True):
        self.commands.append(command)
        return {'Id': 'e%d' % len(self.commands)}

    def exec_start(self, exec_id):
        self.last = self.codes.pop(0)
        return b'out'

    def exec_inspect(self, exec_id):
        return {'ExitCode': self.last}


class FakeEngine:
    kind = 'podman'

    def __init__(self, codes):
        self.api = FakeAPI(codes)

    @staticmethod
    def call(what, fn, *args, **kwargs):
        return fn(*args, **kwargs)


def container(test, log=None, **check):
    healthcheck = dict({'Test': test}, **check)
    return {'Id': 'c1', 'Config': {'Healthcheck': healthcheck},
            'State': {'Running': True, 'Health': {'Status': 'starting', 'Log': log}}}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_cmd_shell_and_cmd_forms():
    engine = FakeEngine([0, 0])
    shell = OwnHealthcheck(engine, container(['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1']))
    assert shell.command == ['/bin/sh', '-c', 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1']
    exec_form = OwnHealthcheck(engine, container(['CMD', '/bin/check', '--quick']))
    assert exec_form.command == ['/bin/check', '--quick']
    # Docker's defaults for durations left at 0
    assert (shell.interval, shell.timeout, shell.startperiod, shell.retries) == (30.0, 30.0, 0.0, 3)


def test_unhealthy_after_retries_outside_start_period(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(_probe.time, 'monotonic', clock)
    engine = FakeEngine([1] * 6)
    check = OwnHealthcheck(engine, container(['CMD', 'false'], Interval=10 ** 9, StartPeriod=3 * 10 ** 9, Retries=2))
    states = []
    for dummy in range(6):
        clock.now += 1.0
        states.append(check.poll())
    # failures in the first 3 s (the start period) do not count; the second one after it is unhealthy
    assert states == ['starting', 'starting', 'starting', 'unhealthy', 'unhealthy', 'unhealthy']
    assert 'exit code 1' in check.describe()


def test_one_pass_is_healthy(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(_probe.time, 'monotonic', clock)
    check = OwnHealthcheck(FakeEngine([1, 0]), container(['CMD', 'x'], Interval=10 ** 9, Retries=3))
    assert check.poll() == 'starting'  # not due before one interval
    clock.now += 1.0
    assert check.poll() == 'starting'
    clock.now += 1.0
    assert check.poll() == 'healthy'


def test_engine_that_runs_the_check_is_trusted():
    engine = FakeEngine([])
    assert own_healthcheck(engine, container(['CMD', 'x']))
    assert not own_healthcheck(engine, container(['CMD', 'x'], log=[{'ExitCode': 0}]))  # systemd ran it
    assert not own_healthcheck(engine, container(['NONE']))
    engine.kind = 'docker'
    assert not own_healthcheck(engine, container(['CMD', 'x']))


class LossyAPI(FakeAPI):
    """Exit code 0 every time; the output is lost the first ``lose`` times."""

    def __init__(self, lose, output=b'ready\n'):
        FakeAPI.__init__(self, [])
        self.lose, self.output = lose, output

    def exec_start(self, exec_id):
        self.last = 0
        return b'' if len(self.commands) <= self.lose else self.output


def test_exec_probe_runs_again_when_the_engine_loses_the_output():
    engine = FakeEngine([])
    probe = {'type': 'exec', 'command': 'cat /ready', 'rc': 0, 'stdout_regex': 'ready'}
    engine.api = LossyAPI(lose=2)
    ok, detail = _probe._exec_once(engine, probe, {'Id': 'c1'})
    assert ok and len(engine.api.commands) == 3
    # Only an expected output is waited for: a plain exit-code check runs once.
    engine.api = LossyAPI(lose=5)
    assert _probe._exec_once(engine, dict(probe, stdout_regex=None), {'Id': 'c1'})[0]
    assert len(engine.api.commands) == 1
    # Output that never comes fails the check after the reruns.
    engine.api = LossyAPI(lose=99)
    ok, detail = _probe._exec_once(engine, probe, {'Id': 'c1'})
    assert not ok and 'does not match' in detail and len(engine.api.commands) == 1 + _probe.LOST_OUTPUT_RERUNS
