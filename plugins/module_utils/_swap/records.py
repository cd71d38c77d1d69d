# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The record shapes of a swap run: a plan entry, the per-container result the modules return, and
the swap record (``_journal.SwapRecord``) made from a plan entry.

Private: not a public API of the collection.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, TypedDict

from ansible_collections.patchops.containers.plugins.module_utils._journal import SwapRecord
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import ASIDE_SUFFIX, NEW_SUFFIX


class PlanEntry(TypedDict, total=False):
    """One container of the plan (``plan`` in the module result), in the order of the run."""
    container: str
    order: int
    reason: str  # patch, rollback, or 'follows <provider> (<what>)'
    action: str  # recreate, none (on its target), blocked (an unresolved swap involves it)
    group: str  # the provider its group swaps with (its own name when alone)
    old_id: str
    old_image: Optional[str]
    old_image_id: str
    old_digests: List[str]
    new_image: str
    new_image_id: Optional[str]
    new_digests: List[str]
    strategy: str  # stop-first or start-first
    was_running: bool
    was_paused: bool
    depends_on: List[str]
    mac_addresses: Dict[str, str]  # read while it runs: see _clone.clone
    addresses: Dict[str, dict]  # Podman: read while it runs, as the MACs
    verifiable: bool  # a HEALTHCHECK or a probe can tell whether it works on its target
    blocked_by: str
    stop_timeout: int
    stop: dict  # _stop.predict: what stopping it is expected to do
    compose_ref: str  # the service's image: reference whose local tag moves
    compose_ref_was: Optional[str]
    compose_file: dict  # compose_file: update, the edit of its image: line


class ContainerResult(PlanEntry, total=False):
    """A plan entry and what happened to it (``containers`` in the module result)."""
    changed: bool
    outcome: str  # docs/patch.md, "Returned per container"
    new_id: Optional[str]
    rolled_back: bool
    downtime_ms: Optional[int]
    verification: List[dict]
    duration_ms: int
    breakdown_ms: Dict[str, int]
    stopped_by: Optional[str]
    stop_waited_ms: Optional[int]
    stop_signal: Optional[str]
    compose_retagged: Optional[str]
    compose_file_backup: Optional[str]
    failure: str
    with_group: str
    rollback_verification: Optional[List[dict]]
    not_started: str  # given back but not started (its namespace provider removed outside the run)


def untouched_result(item, outcome, **extra):
    """The result of a container the run did not touch (blocked, current, held, not attempted)."""
    result = dict(item, changed=False, outcome=outcome, new_id=item['old_id'], rolled_back=False, downtime_ms=0,
                  verification=[])
    result.update(extra)
    return result


def swap_result(ctx, item, swap, verification, downtime, started):
    """The result of a container the run recreated (or tried to)."""
    new = ctx.inspect(swap['new_id']) if swap.get('new_id') else None
    return dict(item, changed=True, outcome=swap.get('outcome'), new_id=(new or {}).get('Id'),
                rolled_back=False, downtime_ms=downtime, verification=verification,
                duration_ms=int((time.monotonic() - started) * 1000),
                breakdown_ms=dict(swap.get('breakdown_ms') or {}), stopped_by=swap.get('stopped_by'),
                compose_retagged=swap.get('compose_ref') if swap.get('retagged') else None,
                compose_file_backup=swap.get('compose_file_backup'),
                stop_signal=swap.get('stop_signal'), stop_waited_ms=swap.get('stop_waited_ms'))


def new_swap_record(item, run, group, default_stop_timeout):
    """The journal's record of a planned swap; ``group`` the names swapped with it."""
    swap = SwapRecord(
        run=run, container=item['container'], old_id=item['old_id'], old_image=item['old_image'],
        old_image_id=item['old_image_id'], target_image=item['new_image'], target_image_id=item['new_image_id'],
        strategy=item['strategy'], was_running=item['was_running'], was_paused=item.get('was_paused', False),
        reason=item['reason'], mac_addresses=item.get('mac_addresses'), addresses=item.get('addresses'),
        stop_timeout=item.get('stop_timeout', default_stop_timeout),
        stop_signal=(item.get('stop') or {}).get('stop_signal') or 'SIGTERM', breakdown_ms={},
        compose_ref=item.get('compose_ref'), aside_name=item['container'] + ASIDE_SUFFIX,
        temp_name=item['container'] + NEW_SUFFIX, verified=False, outcome=None)
    if 'compose_ref_was' in item:
        swap['compose_ref_was'] = item['compose_ref_was']
    if item.get('compose_file'):
        swap['compose_file'] = item['compose_file']
    if len(group) > 1:  # swapped, verified and rolled back together (see plan)
        swap.update(group=list(group), group_id='%s:%s' % (run, group[0]))
    return swap
