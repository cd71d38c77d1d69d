# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/targets.py: the image a target means (by ID, staged, local, pulled), compose services as
targets, and the one naming rule of the image a container is created on."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapContext, SwapError
from ansible_collections.patchops.containers.plugins.module_utils._swap.targets import (
    expand_services, image_name, list_containers, resolve_target)

V1, V2 = 'registry.example.com/shop/web:1', 'registry.example.com/shop/web:2'


@pytest.fixture
def ctx(fake_engine, tmp_path):
    fake_engine.add_image([V1])
    return SwapContext(fake_engine, Journal(str(tmp_path), fake_engine.info['ID']),
                       {'use_stage_manifest': False, 'state_dir': str(tmp_path)})


def test_resolve_target_by_id_local_or_missing(ctx, fake_engine):
    v1 = fake_engine.image(V1)['Id']
    assert resolve_target(ctx, V1, 'never')[0]['Id'] == v1
    assert resolve_target(ctx, 'anything', 'never', image_id=v1)[0]['Id'] == v1
    image, why = resolve_target(ctx, V2, 'never')
    assert image is None and why == ('image %s is not on lab1 (unix:///var/run/docker.sock): stage it first with '
                                     'patchops.containers.image_stage, or set pull: missing' % V2)
    with pytest.raises(SwapError, match='target image None is empty'):
        resolve_target(ctx, None, 'never')


def test_resolve_target_pulls_with_pull_missing(ctx, fake_engine, fake_registry):
    fake_registry.push(V2)
    image, why = resolve_target(ctx, V2, 'missing')
    assert why is None and image['Id'] == fake_engine.image(V2)['Id']


def test_a_compose_service_target_is_each_replica(ctx, fake_engine):
    labels = {'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web'}
    fake_engine.add_container('shop-web-1', V1, labels=labels)
    fake_engine.add_container('shop-web-2', V1, labels=labels)
    fake_engine.add_container('shop-db-1', V1, labels=dict(labels, **{'com.docker.compose.service': 'db'}))
    list_containers(ctx)
    problems = []
    out = expand_services(ctx, [{'compose_project': 'shop', 'service': 'web', 'image': V2},
                                {'compose_project': 'shop', 'service': 'cache', 'image': V2}, {'name': 'x', 'image': V2}],
                          problems)
    assert out == [{'name': 'shop-web-1', 'image': V2}, {'name': 'shop-web-2', 'image': V2}, {'name': 'x', 'image': V2}]
    assert problems == ['compose service cache of project shop has no container on lab1 (unix:///var/run/docker.sock)']


def test_image_name_keeps_the_name_while_it_means_the_image(ctx, fake_engine):
    v1 = fake_engine.image(V1)['Id']
    assert image_name(ctx, V1, v1) == V1
    fake_engine.add_image([V1], image_id='sha256:' + 'f' * 64)  # the tag moved to another image
    assert image_name(ctx, V1, v1) == v1
