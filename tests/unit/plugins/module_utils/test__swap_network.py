# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/network.py: a start-first container's aliases held back, then moved to it from the old one."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapContext
from ansible_collections.patchops.containers.plugins.module_utils._swap.network import (
    announce, connect_endpoints, hold_aliases, move_aliases)

IMAGE = 'registry.example.com/shop/web:1'


@pytest.fixture
def ctx(fake_engine, tmp_path):
    fake_engine.add_image([IMAGE])
    return SwapContext(fake_engine, Journal(str(tmp_path), fake_engine.info['ID']), {'drain_seconds': 0})


def container(engine, name, networks):
    cid = engine.add_container(name, IMAGE)
    engine.containers[cid]['NetworkSettings'] = {'Networks': networks}
    return cid


def test_hold_aliases_keeps_them_for_later_and_the_old_endpoints_to_give_back(ctx, fake_engine):
    old = fake_engine.container(container(fake_engine, 'web', {
        'front': {'Aliases': ['web', 'shop'], 'IPAMConfig': None, 'Links': None, 'DriverOpts': None},
        'back': {'Aliases': ['web'], 'IPAMConfig': {'IPv4Address': '10.1.0.5'}, 'Links': None, 'DriverOpts': None}}))
    body = {'NetworkingConfig': {'EndpointsConfig': {'front': {'Aliases': ['shop']}}}}
    extra = [('back', {'Aliases': ['web'], 'IPAMConfig': {'IPv4Address': '10.1.0.5'}}), ('plain', {})]
    swap = {}
    hold_aliases(ctx, swap, old, body, extra)
    assert swap['held_aliases'] == {'front': {'Aliases': ['shop']},
                                    'back': {'Aliases': ['web'], 'IPAMConfig': {'IPv4Address': '10.1.0.5'}}}
    assert sorted(swap['old_endpoints']) == ['back', 'front']
    assert swap['old_endpoints']['back']['IPAMConfig'] == {'IPv4Address': '10.1.0.5'}
    # the new container is created and connected without them
    assert body['NetworkingConfig']['EndpointsConfig']['front'] == {}
    assert extra == [('back', {'IPAMConfig': {'IPv4Address': '10.1.0.5'}}), ('plain', {})]


def test_move_aliases_new_one_joins_before_the_old_one_leaves(ctx, fake_engine):
    old = container(fake_engine, 'web', {'front': {'Aliases': ['shop']}, 'back': {'Aliases': ['shop']}})
    new = container(fake_engine, 'web-patchops-new', {'front': {'Aliases': []}, 'back': {'Aliases': []}})
    swap = {'run': 'r1', 'container': 'web', 'old_id': old, 'temp_name': 'web-patchops-new',
            'held_aliases': {'front': {'Aliases': ['shop']}, 'back': {'Aliases': ['shop']}}}
    left_at = move_aliases(ctx, swap, new)
    moves = [(m, a[0][:4], a[1]) for m, a, k in fake_engine.api.calls if m.endswith('_from_network') or m.startswith('connect')]
    assert moves == [('disconnect_container_from_network', new[:4], 'front'), ('connect_container_to_network', new[:4], 'front'),
                     ('disconnect_container_from_network', new[:4], 'back'), ('connect_container_to_network', new[:4], 'back'),
                     ('disconnect_container_from_network', old[:4], 'front'),
                     ('disconnect_container_from_network', old[:4], 'back')]
    assert fake_engine.container(new)['NetworkSettings']['Networks']['front']['Aliases'] == ['shop']
    assert fake_engine.container(old)['NetworkSettings']['Networks'] == {}
    assert [h['step'] for h in swap['history']] == ['take_aliases', 'release_old']
    assert swap['released'] == ['back', 'front']
    # joined before the old one began to leave, on each network: no gap, measured
    assert swap['breakdown_ms']['alias_gap'] == 0 and isinstance(left_at, float)


def test_move_aliases_without_held_aliases_does_nothing(ctx, fake_engine):
    swap = {'container': 'web', 'old_id': 'x', 'temp_name': 'web-patchops-new'}
    assert move_aliases(ctx, swap, 'y') is None
    assert not fake_engine.api.called('connect_container_to_network') and 'history' not in swap


def test_connect_endpoints_passes_each_endpoint(ctx, fake_engine):
    cid = container(fake_engine, 'web', {})
    connect_endpoints(ctx, 'web', cid, [('a', {'Aliases': ['x']}), ('b', {})])
    assert fake_engine.container(cid)['NetworkSettings']['Networks']['a']['Aliases'] == ['x']
    assert sorted(fake_engine.container(cid)['NetworkSettings']['Networks']) == ['a', 'b']


def test_announce_is_best_effort(fake_engine):
    assert announce(fake_engine, 'front', None, '02:42:ac:11:00:02') is False  # no address yet
    assert announce(fake_engine, 'front', '172.17.0.2', '02:42:ac:11:00:02') is False  # network not found
