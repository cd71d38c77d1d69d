# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/steps.py: each step journaled before it is taken, and what it records."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapContext, VerificationFailed
from ansible_collections.patchops.containers.plugins.module_utils._swap.steps import (
    planned_name, rename_aside, start_and_verify, stop_old, take_name)
from ansible_collections.patchops.containers.plugins.module_utils._swap.targets import list_containers

IMAGE = 'registry.example.com/shop/web:1'


def unhealthy(engine, cid, probes, wait_health=True, timeout=60, settle=2.0):
    return False, [{'type': 'health', 'ok': False, 'output': 'health unhealthy'}]


@pytest.fixture
def ctx(fake_engine, tmp_path):
    fake_engine.add_image([IMAGE])
    return SwapContext(fake_engine, Journal(str(tmp_path), fake_engine.info['ID']), {'stop_timeout': 10},
                       verify=unhealthy)


def record(fake_engine, name='web', running=True):
    cid = fake_engine.add_container(name, IMAGE, running=running)
    return {'run': 'r', 'container': name, 'old_id': cid, 'was_running': running, 'stop_timeout': 3,
            'aside_name': name + '-patchops-old', 'temp_name': name + '-patchops-new', 'breakdown_ms': {}}


def steps(swap):
    return [h['step'] for h in swap.get('history', [])]


def test_stop_old_stops_a_running_container_only(ctx, fake_engine):
    swap = record(fake_engine)
    assert stop_old(ctx, swap) is not None
    assert (steps(swap), swap['stopped_by']) == (['stop_old'], 'signal')
    assert fake_engine.api.called('stop') == [((swap['old_id'],), {'timeout': 3})]
    idle = record(fake_engine, 'idle', running=False)
    assert stop_old(ctx, idle) is None and steps(idle) == []


def test_the_old_one_is_set_aside_and_the_new_one_takes_the_name(ctx, fake_engine):
    swap = record(fake_engine)
    new = fake_engine.add_container('web-patchops-new', IMAGE)
    rename_aside(ctx, swap)
    take_name(ctx, swap, new)
    assert steps(swap) == ['rename_old', 'rename_new']
    assert fake_engine.container('web')['Id'] == new
    assert fake_engine.container('web-patchops-old')['Id'] == swap['old_id']
    assert 'rename' in swap['breakdown_ms']


def test_a_new_container_that_fails_verification_raises(ctx, fake_engine):
    swap = record(fake_engine)
    with pytest.raises(VerificationFailed) as info:
        start_and_verify(ctx, swap, swap['old_id'], 'web')
    assert info.value.msg == 'health unhealthy' and steps(swap) == ['start_new', 'verify']


def test_planned_name_of_a_reference(ctx, fake_engine):
    cid = fake_engine.add_container('db', IMAGE)
    list_containers(ctx)
    assert planned_name(ctx, 'db') == 'db' and planned_name(ctx, cid[:12]) == 'db'
    assert planned_name(ctx, 'cache-patchops-old') == 'cache'
