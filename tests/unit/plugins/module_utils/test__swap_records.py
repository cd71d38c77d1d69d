# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/records.py: the swap record made from a plan entry, and the results of untouched containers."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._swap.records import (
    PlanEntry, new_swap_record, untouched_result)


def entry(**extra):
    return PlanEntry(container='web', order=1, reason='patch', action='recreate', group='web', old_id='o' * 64,
                     old_image='shop/web:1', old_image_id='sha256:1', new_image='shop/web:2', new_image_id='sha256:2',
                     strategy='start-first', was_running=True, was_paused=False, depends_on=[], **extra)


def test_a_swap_record_carries_what_recovery_needs():
    swap = new_swap_record(entry(stop={'stop_signal': 'SIGQUIT'}, stop_timeout=30, compose_ref='shop/web:1',
                                 compose_ref_was=None), 'run1', ['web'], 10)
    assert (swap['aside_name'], swap['temp_name']) == ('web-patchops-old', 'web-patchops-new')
    assert (swap['target_image'], swap['target_image_id'], swap['strategy']) == ('shop/web:2', 'sha256:2', 'start-first')
    assert (swap['stop_signal'], swap['stop_timeout'], swap['verified'], swap['outcome']) == ('SIGQUIT', 30, False, None)
    assert 'compose_ref_was' in swap and 'group' not in swap and 'compose_file' not in swap


def test_a_group_member_knows_its_group():
    swap = new_swap_record(entry(), 'run1', ['web', 'sidecar'], 10)
    assert (swap['group'], swap['group_id'], swap['stop_timeout'], swap['stop_signal']) == (
        ['web', 'sidecar'], 'run1:web', 10, 'SIGTERM')


def test_an_untouched_container_keeps_its_id():
    result = untouched_result(entry(), 'held', reason='held: image failed')
    assert (result['changed'], result['outcome'], result['new_id'], result['downtime_ms']) == (False, 'held', 'o' * 64, 0)
    assert result['reason'] == 'held: image failed' and result['verification'] == []
