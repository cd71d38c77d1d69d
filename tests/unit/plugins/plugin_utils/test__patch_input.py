# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inputs of playbooks/patch.yml: batches, failure budget, targets."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.plugin_utils._patch_input import (
    host_targets,
    problems,
    serial,
)

WEB = [{'name': 'web', 'image': 'registry.example.com/web:1.4.2'}]


@pytest.mark.parametrize('value, expected', [
    (None, [1, '25%', '100%']),
    ("[1, '25%', '100%']", [1, '25%', '100%']),
    ([2, '50%'], [2, '50%']),
    (3, 3),
    ('25%', '25%'),
])
def test_serial_defaults_and_reads_survey_text(value, expected):
    assert serial(value) == expected


@pytest.mark.parametrize('value', [None, 1, '5', '1%', '100%', [1, '25%', '100%'], "[1, '100%']", '[2]'])
def test_good_batches(value):
    assert problems(value, 0, [], {}) == []


@pytest.mark.parametrize('value, words', [
    ('abc', ["got \"abc\"", "(not a batch size: 'abc')"]),
    (0, ['got 0', "(not a batch size: '0')"]),
    (-1, ["(not a batch size: '-1')"]),
    ([], ['got []', '(empty)']),
    ('[]', ['(empty)']),
    ([1, '150%'], ["(not a batch size: '150%')"]),
    ([1, '0%', 'x'], ["(not a batch size: '0%', 'x')"]),
    ('[1, 25%', ['not a batch size']),
    (True, ["'True'"]),
])
def test_bad_batches_are_named(value, words):
    found = problems(value, 0, [], {})
    assert len(found) == 1 and found[0].startswith('patchops_serial must be a batch size')
    for word in words:
        assert word in found[0]


@pytest.mark.parametrize('value, good', [
    (0, True), (50, True), ('100', True), (12.5, True), ('33.3', True),
    (101, False), (-1, False), ('abc', False), (None, False), ('', False),
])
def test_failure_budget(value, good):
    found = problems(None, value, [], {})
    assert (found == []) is good
    if not good:
        assert found == ["patchops_max_fail_percentage must be a number from 0 to 100; got '%s'" % (value,)]


@pytest.mark.parametrize('targets, by_host, good', [
    (WEB, {}, True),
    ([], {'lab1': WEB}, True),
    ('[{name: web, image: "r/web:1"}]', '{lab1: []}', True),
    ('web', {}, False),
    ({'name': 'web'}, {}, False),
    (['web'], {}, False),
    (None, {}, False),
    (WEB, [], False),
    (WEB, {'lab1': {'name': 'web'}}, False),
    (WEB, 'lab1', False),
])
def test_targets(targets, by_host, good):
    found = problems(None, 0, targets, by_host)
    assert (found == []) is good
    if not good:
        assert found[0].startswith('patchops_targets must be a list of {name, image}')
        assert "got patchops_targets '%s', patchops_targets_by_host '%s'" % (targets, by_host) in found[0]


def test_every_bad_parameter_is_reported():
    assert len(problems(0, 'x', 'web', {})) == 3


def test_host_targets_per_host_win_over_the_common_list():
    lab1 = [{'name': 'db', 'image': 'r/db:2'}]
    assert host_targets(WEB, {'lab1': lab1}, 'lab1') == lab1
    assert host_targets(WEB, {'lab1': lab1}, 'lab2') == WEB
    assert host_targets('[{name: web, image: "r/web:1"}]', '{}', 'lab1') == [{'name': 'web', 'image': 'r/web:1'}]
    assert host_targets(None, None, 'lab1') == []
