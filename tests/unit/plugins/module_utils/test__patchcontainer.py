# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from docker.errors import APIError

from ansible_collections.patchops.containers.plugins.module_utils import _patchcontainer
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError
from ansible_collections.patchops.containers.plugins.module_utils._patchcontainer import (
    AptRun,
    PatchContainer,
    PatchError,
    tail,
)
from fake_engine import FakeEngine


def _box(engine, answers):
    """A patch container on the shared fake engine (running), its execs answered by ``answers``."""
    engine.add_image(['app:v1'])
    box = PatchContainer(engine, 'app:v1', {}, sleep=lambda s: None)
    box.id = engine.add_container('patchops-patch-1', 'app:v1')
    engine.api.exec_answers = answers
    return box


def _lossy(content, lose):
    """The reads of a step's output: lost the first ``lose`` times, then ``content`` and the marker."""
    reads = []

    def answer(command):
        reads.append(command)
        if len(reads) <= lose:
            return 0, b''
        return 0, content.encode() + b'\n' + command[-1].rsplit(' ', 1)[1].encode() + b'\n'
    return answer


def test_step_output_is_read_again_when_the_engine_loses_it(fake_engine):
    box = _box(fake_engine, _lossy('zlib1g\t1:1.2.13\tii \t200', lose=2))
    assert box.read_output('list', '/tmp/patchops/out.1') == 'zlib1g\t1:1.2.13\tii \t200\n'
    assert len(fake_engine.api.called('exec_start')) == 3
    assert all(kwargs['user'] == '0' for args, kwargs in fake_engine.api.called('exec_create'))

    never = FakeEngine()
    box = _box(never, _lossy('', lose=100))
    with pytest.raises(PatchError, match='did not return its output in 8 reads') as caught:
        box.read_output('list', '/tmp/patchops/out.1')
    assert 'app:v1' in str(caught.value)


def _steps(files):
    """Run a step's wrapped script: its output (``files[script]``) written to its file, read by cat."""
    written = {}

    def answer(command):
        script = command[-1]
        if script.startswith('cat '):
            path, marker = script[len('cat '):].split(' && echo ')
            return 0, written[path] + marker + '\n'
        inner, out = script.split('; (', 1)[1].rsplit(') >', 1)
        written[out.split(' ', 1)[0]] = files[inner][1]
        return files[inner][0], b''
    return answer


def test_step_runs_detached_as_root_and_is_polled(fake_engine):
    box = _box(fake_engine, _steps({'apt-get -s upgrade': (0, 'Inst zlib1g\n'), 'false': (2, 'failed\n')}))
    fake_engine.api.exec_polls_running = 2
    assert box.run_step('simulate the update', 'apt-get -s upgrade', env={'DEBIAN_FRONTEND': 'noninteractive'}) \
        == (0, 'Inst zlib1g\n')
    step = fake_engine.api.called('exec_create')[0]
    assert step[0][1][:2] == ['/bin/sh', '-c'] and step[0][1][2].startswith('mkdir -p /tmp/patchops; (apt-get -s upgrade) >')
    assert step[1]['user'] == '0' and step[1]['environment'] == {'DEBIAN_FRONTEND': 'noninteractive'}
    assert fake_engine.api.called('exec_start')[0][1] == {'detach': True}
    assert len(fake_engine.api.called('exec_inspect')) == 3  # running, running, done
    fake_engine.api.exec_polls_running = 0
    assert box.run_step('fail', 'false') == (2, 'failed\n')


def test_step_past_its_timeout_fails(fake_engine, monkeypatch):
    box = _box(fake_engine, _steps({'sleep 9': (0, '')}))
    clock = [100.0]
    monkeypatch.setattr(_patchcontainer.time, 'monotonic', lambda: clock[0])
    box.sleep = lambda s: clock.__setitem__(0, clock[0] + 1.0)
    fake_engine.api.exec_polls_running = 100
    with pytest.raises(PatchError) as caught:
        box.run_step('apt-get update', 'sleep 9', timeout=5)
    assert str(caught.value) == ('apt-get update in app:v1 on lab1 took longer than 5 s (step_timeout); '
                                 'nothing was built')
    fake_engine.api.fail['exec_inspect'] = APIError('gone')
    with pytest.raises(EngineError, match='^apt-get update: the engine at .* answered: gone$'):
        box.run_step('apt-get update', 'sleep 9')


class _Box:
    """A patch container that answers each command by the first matching rule: (text in it, (code, output))."""

    host = 'build1'

    def __init__(self, rules):
        self.rules = list(rules)
        self.timings = {}
        self.ran = []

    def run_step(self, what, script, env=None, timeout=None):
        self.ran.append(script)
        for needle, answer in self.rules:
            if needle in script:
                if isinstance(answer, list):
                    return answer.pop(0)
                return answer
        raise AssertionError('unexpected command: %s' % script)


INSTALLED = (0, 'zlib1g\t1.0\tii \t100\nlibc6\t2.36\tii \t9000\n')


def _run(box, **params):
    return AptRun(box, dict({'image': 'app:v1'}, **params), retries=2, delay=0.5, sleep=lambda s: None)


def test_plan_with_a_report_names_only_the_packages_it_can_fix():
    zlib = {'id': 'CVE-1', 'package': 'zlib1g', 'fixed': ['1.1']}
    libc = {'id': 'CVE-2', 'package': 'libc6', 'fixed': ['2.40']}
    box = _Box([('dpkg-query', INSTALLED),
                ('apt-cache', (0, 'libc6\t2.36\nzlib1g\t1.1\n')),
                ('dpkg --compare-versions', (0, '0\n0\n0\n1\n')),
                (' -s ', (0, 'Inst zlib1g [1.0] (1.1 mirror [amd64])\n'))])
    apt = _run(box, report='/r.json')
    installed = apt.installed()
    plan, open_findings = apt.plan(installed, {'zlib1g': [zlib], 'libc6': [libc]})
    assert plan == {'zlib1g': {'before': '1.0', 'after': '1.1'}}
    assert [f['id'] for f in open_findings] == ['CVE-2']
    assert box.ran[-1].endswith('-s install --only-upgrade --no-install-recommends zlib1g')
    assert apt.fixed({}, {'zlib1g': {'after': '1.1'}}) == [dict(zlib, updated_to='1.1')]
    assert apt.fixed(None, {'zlib1g': {'after': '1.1'}}) == []


def test_named_packages_must_be_installed():
    apt = _run(_Box([]), packages=['nginx'])
    with pytest.raises(PatchError, match='nginx not installed') as caught:
        apt.plan({'zlib1g': {'version': '1.0'}}, None)
    assert caught.value.details['reason'] == 'not installed'


def test_apply_checks_the_planned_versions():
    box = _Box([(' -y ', (0, 'done')), ('rm -rf', (0, '')), ('dpkg-query', INSTALLED)])
    apt = _run(box)
    after = apt.apply({'zlib1g': {'before': '1.0', 'after': '1.0'}}, {})
    assert after['libc6']['version'] == '2.36' and 'install' in box.timings
    with pytest.raises(PatchError, match='did not install the planned versions of zlib1g'):
        apt.apply({'zlib1g': {'before': '1.0', 'after': '1.1'}}, {})


def test_update_retries_unreachable_sources_then_says_so():
    unreachable = (100, 'Err:1 http://mirror bookworm InRelease\n  Could not connect to mirror:80\n')
    box = _Box([('update', [unreachable, unreachable, unreachable])])
    with pytest.raises(PatchError) as caught:
        _run(box).update()
    msg = str(caught.value)
    assert msg.startswith('package sources unreachable for app:v1 on build1 (after 3 attempts; retries=2')
    assert len(box.ran) == 3 and caught.value.details['reason'] == 'package sources unreachable'

    box = _Box([('update', [unreachable, (0, 'Hit:1 http://mirror bookworm InRelease\n')])])
    _run(box).update()
    assert len(box.ran) == 2 and 'update' in box.timings


def test_tail():
    assert tail('  short \n') == 'short'
    assert tail('x' * 900) == '...' + 'x' * 800
