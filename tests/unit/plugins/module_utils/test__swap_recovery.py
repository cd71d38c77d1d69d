# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/recovery.py: the state an interrupted swap left described, abandoning it, and the give-back
of a swap interrupted before its new container was verified. (Crash points: test__swap.py.)"""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapContext, SwapError
from ansible_collections.patchops.containers.plugins.module_utils._swap.recovery import abandon, describe, recover

IMAGE = 'registry.example.com/shop/web:1'


def healthy(engine, cid, probes, wait_health=True, timeout=60, settle=2.0):
    return True, [{'type': 'health', 'ok': True, 'output': 'health healthy'}]


@pytest.fixture
def ctx(fake_engine, tmp_path):
    fake_engine.add_image([IMAGE])
    return SwapContext(fake_engine, Journal(str(tmp_path), fake_engine.info['ID']), {'stop_timeout': 10},
                       verify=healthy)


def interrupted(ctx, fake_engine, step):
    """web stopped and set aside by a swap that ended at ``step``."""
    cid = fake_engine.add_container('web-patchops-old', IMAGE, running=False)
    swap = {'run': 'r1', 'container': 'web', 'old_id': cid, 'was_running': True, 'reason': 'patch',
            'aside_name': 'web-patchops-old', 'temp_name': 'web-patchops-new', 'verified': False, 'outcome': None}
    ctx.journal.record(swap, step)
    return cid


def test_describe_names_who_holds_each_name(ctx, fake_engine):
    cid = interrupted(ctx, fake_engine, 'rename_old')
    swap = ctx.journal.load('web')['swaps'][-1]
    assert describe(ctx, swap) == ('web-patchops-old is %s (the container from before the patch), image %s, exited'
                                   % (cid[:12], IMAGE))


def test_abandon_closes_the_entry_and_touches_nothing(ctx, fake_engine):
    interrupted(ctx, fake_engine, 'rename_old')
    with pytest.raises(SwapError, match='has no unfinished swap of db to abandon'):
        abandon(ctx, ['db'])
    ctx.check_mode = True
    assert abandon(ctx, ['web'])[0]['action'] == 'would abandon' and ctx.journal.pending()
    ctx.check_mode = False
    assert abandon(ctx, ['web'])[0]['action'] == 'abandoned'
    assert ctx.journal.pending() == [] and not fake_engine.api.called('rename')


def test_an_unverified_swap_is_given_back(ctx, fake_engine):
    cid = interrupted(ctx, fake_engine, 'rename_old')
    assert recover(ctx) == [{'container': 'web', 'step': 'rename_old', 'action': 'rolled_back'}]
    web = fake_engine.container('web')
    assert (web['Id'], web['State']['Running']) == (cid, True)
    assert ctx.journal.load('web')['swaps'][-1]['outcome'] == 'rolled_back'
