# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/plan.py: the planner on the shared fake engine, with no execution fake: it only reads."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapContext, SwapError
from ansible_collections.patchops.containers.plugins.module_utils._swap.plan import make_plan, plan_diff

V1, V2 = 'registry.example.com/shop/web:1', 'registry.example.com/shop/web:2'
READS = {'containers', 'top', 'inspect_container', 'inspect_image', 'version', 'info'}


def add(engine, name, image=V1, running=True, labels=None, **host):
    cid = engine.add_container(name, image, running=running, labels=labels)
    engine.containers[cid].update(HostConfig=dict({'NetworkMode': 'default'}, **host), Mounts=[],
                                  NetworkSettings={'Networks': {}})
    return cid


@pytest.fixture
def ctx(fake_engine, tmp_path):
    fake_engine.add_image([V1])
    fake_engine.add_image([V2])
    params = {'strategy': 'stop-first', 'stop_timeout': 10, 'pull': 'never', 'use_stage_manifest': False,
              'wait_health': True, 'probes': []}
    return SwapContext(fake_engine, Journal(str(tmp_path), fake_engine.info['ID']), params, proc=str(tmp_path / 'proc'))


def test_a_container_on_another_image_is_recreated_and_nothing_changes(ctx, fake_engine):
    cid = add(fake_engine, 'web')
    plan = make_plan(ctx, [{'name': 'web', 'image': V2}])
    assert [(p['container'], p['action'], p['strategy'], p['group'], p['order']) for p in plan] == [
        ('web', 'recreate', 'stop-first', 'web', 1)]
    entry = plan[0]
    assert (entry['old_id'], entry['old_image'], entry['new_image']) == (cid, V1, V2)
    assert entry['new_image_id'] == fake_engine.image(V2)['Id'] and entry['stop_timeout'] == 10
    assert {m for m, a, k in fake_engine.api.calls} <= READS
    assert plan_diff(plan) == {'before': {'web': {'image': V1, 'image_id': fake_engine.image(V1)['Id']}},
                               'after': {'web': {'image': V2, 'image_id': fake_engine.image(V2)['Id'],
                                                 'strategy': 'stop-first'}}}


def test_a_container_on_its_target_is_left_as_it_is(ctx, fake_engine):
    add(fake_engine, 'web', image=V2)
    plan = make_plan(ctx, [{'name': 'web', 'image': V2}])
    assert (plan[0]['action'], 'stop' in plan[0]) == ('none', False)
    assert plan_diff(plan) == {'before': {}, 'after': {}}


def test_a_follower_joins_its_providers_group_stop_first(ctx, fake_engine):
    cid = add(fake_engine, 'web')
    add(fake_engine, 'sidecar', IpcMode='container:%s' % cid)
    plan = make_plan(ctx, [{'name': 'web', 'image': V2, 'strategy': 'auto'}])
    assert [(p['container'], p['group'], p['reason'], p['strategy']) for p in plan] == [
        ('web', 'web', 'patch', 'stop-first'), ('sidecar', 'web', 'follows web (IPC namespace)', 'stop-first')]
    with pytest.raises(SwapError, match='cannot be patched start-first: sidecar follows it'):
        make_plan(ctx, [{'name': 'web', 'image': V2, 'strategy': 'start-first'}])


@pytest.mark.parametrize('mode', ['IpcMode', 'NetworkMode', 'PidMode'])
def test_a_running_follower_of_a_stopped_provider_is_refused_before_anything_changes(ctx, fake_engine, mode):
    """Stopped outside the run, the provider is recreated stopped: its running follower could start on
    neither the new provider nor the old one once that is gone."""
    cid = add(fake_engine, 'web', running=False)
    side = add(fake_engine, 'sidecar', **{mode: 'container:%s' % cid})
    with pytest.raises(SwapError, match='container sidecar runs on the .* of web, which is not running: '
                                        'recreated, sidecar could not start; start web or stop sidecar'):
        make_plan(ctx, [{'name': 'web', 'image': V2}])
    assert {m for m, a, k in fake_engine.api.calls} <= READS
    # Both stopped: both recreated, neither started.
    fake_engine.containers[side]['State'].update(Running=False, Status='exited')
    plan = make_plan(ctx, [{'name': 'web', 'image': V2}])
    assert [(p['container'], p['action']) for p in plan] == [('web', 'recreate'), ('sidecar', 'recreate')]


@pytest.mark.parametrize('name, host, labels, words', [
    ('gone', None, None, "container 'gone' not found on lab1"),
    ('web-patchops-old', {}, None, 'is a patchops temporary'),
    ('web', {'AutoRemove': True}, None, 'runs with --rm (AutoRemove)'),
    ('web', {}, {'PODMAN_SYSTEMD_UNIT': 'web.service'}, 'is run by the systemd unit web.service'),
])
def test_targets_that_cannot_be_swapped_are_refused_together(ctx, fake_engine, name, host, labels, words):
    if host is not None:
        add(fake_engine, name, labels=labels, **host)
    add(fake_engine, 'api')
    with pytest.raises(SwapError) as info:
        make_plan(ctx, [{'name': name, 'image': V2}, {'name': 'api', 'image': 'registry.example.com/shop/none:9'}])
    assert words in info.value.msg and 'image registry.example.com/shop/none:9 is not on lab1' in info.value.msg
    assert info.value.details['changed'] is False


def test_an_unresolved_swap_blocks_its_container(ctx, fake_engine):
    add(fake_engine, 'web')
    ctx.unresolved['web'] = {'step': 'start_new', 'error': 'engine refused', 'state': 'web is stopped'}
    entry = make_plan(ctx, [{'name': 'web', 'image': V2}])[0]
    assert entry['action'] == 'blocked'
    assert 'container_rollback abandon: [web]' in entry['blocked_by'] and 'step start_new' in entry['blocked_by']
