# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/context.py: the run's shared state, its journal writes that tolerate a full disk, timing."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal, JournalError
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import (
    SwapContext, container_name, is_temporary, outcome_of)

IMAGE = 'registry.example.com/shop/web:1'


class FullJournal:
    def record(self, swap, step, **fields):
        raise JournalError('cannot write the journal file /x/web.json before step %s: No space left on device' % step)


@pytest.fixture
def ctx(fake_engine, tmp_path):
    fake_engine.add_image([IMAGE])
    return SwapContext(fake_engine, Journal(str(tmp_path), fake_engine.info['ID']), {})


def test_names_and_outcomes():
    assert container_name({'Name': '/web'}) == 'web' and container_name({}) == ''
    assert is_temporary('web-patchops-old') and is_temporary('web-patchops-new') and not is_temporary('web')
    assert [outcome_of(r) for r in ('patch', 'rollback', 'follows web (link)')] == ['patched', 'restored', 'recreated']


def test_where_names_the_engine(ctx):
    assert ctx.where == 'lab1 (unix:///var/run/docker.sock)'


def test_a_full_journal_does_not_stop_putting_things_back(fake_engine):
    ctx = SwapContext(fake_engine, FullJournal(), {})
    swap = {'container': 'web'}
    ctx.record_despite_journal_errors(swap, 'rollback')
    ctx.record_despite_journal_errors(swap, 'rolled_back')
    assert len(ctx.journal_errors) == 2 and 'before step rollback' in ctx.journal_errors[0]


def test_timed_adds_up_each_phase(ctx):
    swap = {}
    for dummy in range(2):
        with ctx.timed(swap, 'rename'):
            pass
    assert list(swap['breakdown_ms']) == ['rename'] and swap['breakdown_ms']['rename'] >= 0


def test_remove_old_journals_first_and_keeps_it_with_keep_old(ctx, fake_engine, tmp_path):
    cid = fake_engine.add_container('web-patchops-old', IMAGE)
    swap = {'run': 'r', 'container': 'web', 'old_id': cid}
    ctx.params['keep_old'] = True
    ctx.remove_old(swap)
    assert cid in fake_engine.containers and 'step' not in swap
    ctx.params['keep_old'] = False
    ctx.remove_old(swap)
    assert cid not in fake_engine.containers and swap['step'] == 'remove_old'
    assert fake_engine.api.called('remove_container') == [((cid,), {'v': False, 'force': True})]
