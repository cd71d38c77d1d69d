# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/schedule.py: which groups wait for which, and containers already on their target verified,
not touched. (Whole swaps on the fake engine: test__swap.py.)"""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapContext, SwapError
from ansible_collections.patchops.containers.plugins.module_utils._swap.schedule import (
    _start_first_downtime, _verification_waits, execute)

IMAGE = 'registry.example.com/shop/web:2'


def item(name, group=None, action='recreate', verifiable=True, new='sha256:2', old='sha256:1', running=True):
    return {'container': name, 'group': group or name, 'action': action, 'verifiable': verifiable,
            'new_image_id': new, 'old_image_id': old, 'old_id': name * 4, 'new_image': IMAGE,
            'was_running': running, 'was_paused': False, 'depends_on': []}


def test_what_cannot_be_verified_waits_for_what_verifies_its_image():
    groups = {'web': [item('web')], 'worker': [item('worker', verifiable=False)],
              'other': [item('other', verifiable=False, new='sha256:3')], 'same': [item('same', new='sha256:1')]}
    assert _verification_waits(groups) == {'web': set(), 'worker': {'web'}, 'other': set(), 'same': set()}


@pytest.fixture
def ctx(fake_engine, tmp_path):
    state = {'failing': set()}

    def verify(engine, cid, probes, wait_health=True, timeout=60, settle=2.0):
        if cid in state['failing']:
            return False, [{'type': 'health', 'ok': False, 'output': 'health unhealthy'}]
        return True, [{'type': 'health', 'ok': True, 'output': 'health healthy'}]
    ctx = SwapContext(fake_engine, Journal(str(tmp_path), fake_engine.info['ID']), {'parallel': 2}, verify=verify)
    ctx.failing = state['failing']
    return ctx


def test_containers_on_their_target_are_verified_and_left_alone(ctx, fake_engine):
    plan = [item('web', action='none', old='sha256:2'), item('idle', action='none', old='sha256:2', running=False)]
    results = execute(ctx, plan)
    assert [(r['container'], r['outcome'], r['changed'], len(r['verification'])) for r in results] == [
        ('web', 'current', False, 1), ('idle', 'current', False, 0)]
    assert fake_engine.api.calls == [] or all(m in ('info',) for m, a, k in fake_engine.api.calls)


def test_a_current_container_that_fails_verification_fails_the_run_untouched(ctx):
    ctx.failing.add('webwebwebweb')
    with pytest.raises(SwapError) as info:
        execute(ctx, [item('web', action='none', old='sha256:2')])
    assert info.value.msg == ('web: it runs its target image %s already but fails verification: health unhealthy; '
                              'nothing changed' % IMAGE)
    assert info.value.details['changed'] is False and ctx.failed_images == {'sha256:2': 'web'}


@pytest.mark.parametrize('breakdown, left_at, stopped_at, expected, name_gap', [
    ({'alias_gap': 0}, 10.0, 10.5, 0, 2000),  # aliases moved: what their clients miss
    ({'alias_gap': 40}, 10.0, 10.5, 40, 2000),
    ({}, None, 10.5, 1500, 1500),  # reached by its name: from the stop to the rename
])
def test_start_first_downtime_is_what_clients_can_miss(breakdown, left_at, stopped_at, expected, name_gap):
    swap = {'was_running': True, 'breakdown_ms': dict(breakdown)}
    assert _start_first_downtime(swap, left_at, stopped_at, 12.0) == expected
    assert swap['breakdown_ms']['name_gap'] == name_gap


def test_start_first_downtime_of_a_container_that_did_not_run():
    swap = {'was_running': False, 'breakdown_ms': {'alias_gap': 0}}
    assert _start_first_downtime(swap, 10.0, None, 12.0) == 0
