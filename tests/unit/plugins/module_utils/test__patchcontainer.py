# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._patchcontainer import (
    AptRun,
    PatchContainer,
    PatchError,
    tail,
)


class _LossyEngine:
    """An engine whose exec stream loses a short command's output the first ``lose`` times."""

    def __init__(self, content, lose):
        self.content, self.lose, self.reads = content, lose, 0
        self.api = self
        self.info = {'Name': 'build1'}
        self.docker_host = 'unix:///var/run/docker.sock'

    def call(self, what, fn, *args, **kwargs):
        return fn(*args, **kwargs)

    def exec_create(self, container, command, user=None):
        self.command = command[-1]
        return {'Id': 'e%d' % self.reads}

    def exec_start(self, exec_id):
        self.reads += 1
        if self.reads <= self.lose:
            return b''
        return self.content.encode() + b'\n' + self.command.rsplit(' ', 1)[1].encode() + b'\n'


def test_step_output_is_read_again_when_the_engine_loses_it():
    engine = _LossyEngine('zlib1g\t1:1.2.13\tii \t200', lose=2)
    box = PatchContainer(engine, 'app:v1', {}, sleep=lambda s: None)
    box.id = 'c1'
    assert box.read_output('list', '/tmp/patchops/out.1') == 'zlib1g\t1:1.2.13\tii \t200\n'
    assert engine.reads == 3

    never = _LossyEngine('', lose=100)
    box = PatchContainer(never, 'app:v1', {}, sleep=lambda s: None)
    box.id = 'c1'
    with pytest.raises(PatchError, match='did not return its output in 8 reads') as caught:
        box.read_output('list', '/tmp/patchops/out.1')
    assert 'app:v1' in str(caught.value)


class _Box:
    """A patch container that answers each command by the first matching rule: (text in it, (code, output))."""

    host = 'build1'

    def __init__(self, rules):
        self.rules = list(rules)
        self.timings = {}
        self.ran = []

    def exec(self, what, script, env=None, timeout=None):
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
