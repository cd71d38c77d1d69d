"""The HEALTHCHECK the collection runs itself where the engine does not (Podman without systemd)."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils import _probe
from ansible_collections.patchops.containers.plugins.module_utils._probe import OwnHealthcheck, own_healthcheck
from fake_engine import FakeEngine, hexid

CID = hexid('web')  # the ID of the fake engine's container web


def podman(answers=()):
    """The shared fake engine as Podman (which does not run HEALTHCHECKs without systemd), ``web``
    running; its execs answer ``answers``: exit codes (output ``out``), or a function of the command."""
    engine = FakeEngine(kind='podman')
    engine.add_image(['app:v1'])
    assert engine.add_container('web', 'app:v1') == CID
    engine.api.exec_answers = answers if callable(answers) else [(code, b'out') for code in answers]
    return engine


def commands(engine):
    """The commands the engine was asked to run."""
    return [args[1] for args, kwargs in engine.api.called('exec_create')]


def container(test, log=None, **check):
    healthcheck = dict({'Test': test}, **check)
    return {'Id': CID, 'Config': {'Healthcheck': healthcheck},
            'State': {'Running': True, 'Health': {'Status': 'starting', 'Log': log}}}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_cmd_shell_and_cmd_forms():
    engine = podman([0, 0])
    shell = OwnHealthcheck(engine, container(['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1']))
    assert shell.command == ['/bin/sh', '-c', 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1']
    exec_form = OwnHealthcheck(engine, container(['CMD', '/bin/check', '--quick']))
    assert exec_form.command == ['/bin/check', '--quick']
    # Docker's defaults for durations left at 0
    assert (shell.interval, shell.timeout, shell.startperiod, shell.retries) == (30.0, 30.0, 0.0, 3)


def test_unhealthy_after_retries_outside_start_period(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(_probe.time, 'monotonic', clock)
    engine = podman([1] * 6)
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
    check = OwnHealthcheck(podman([1, 0]), container(['CMD', 'x'], Interval=10 ** 9, Retries=3))
    assert check.poll() == 'starting'  # not due before one interval
    clock.now += 1.0
    assert check.poll() == 'starting'
    clock.now += 1.0
    assert check.poll() == 'healthy'


def test_engine_that_runs_the_check_is_trusted():
    engine = podman()
    assert own_healthcheck(engine, container(['CMD', 'x']))
    assert not own_healthcheck(engine, container(['CMD', 'x'], log=[{'ExitCode': 0}]))  # systemd ran it
    assert not own_healthcheck(engine, container(['NONE']))
    engine.kind = 'docker'
    assert not own_healthcheck(engine, container(['CMD', 'x']))


def lossy(lose, output=b'ready\n'):
    """Exit code 0 every time; the output is lost the first ``lose`` times."""
    runs = []

    def answer(command):
        runs.append(command)
        return 0, b'' if len(runs) <= lose else output
    return answer


def test_exec_probe_runs_again_when_the_engine_loses_the_output():
    probe = {'type': 'exec', 'command': 'cat /ready', 'rc': 0, 'stdout_regex': 'ready'}
    engine = podman(lossy(lose=2))
    ok, detail = _probe._exec_once(engine, probe, {'Id': CID})
    assert ok and len(commands(engine)) == 3
    # Only an expected output is waited for: a plain exit-code check runs once.
    engine = podman(lossy(lose=5))
    assert _probe._exec_once(engine, dict(probe, stdout_regex=None), {'Id': CID})[0]
    assert len(commands(engine)) == 1
    # Output that never comes fails the check after the reruns.
    engine = podman(lossy(lose=99))
    ok, detail = _probe._exec_once(engine, probe, {'Id': CID})
    assert not ok and 'does not match' in detail and len(commands(engine)) == 1 + _probe.LOST_OUTPUT_RERUNS
