# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running a plan: its groups up to ``parallel`` at a time, each after the groups it depends on;
each group's swap as a sequence of steps, given back when it fails.

Private: not a public API of the collection.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ansible_collections.patchops.containers.plugins.module_utils._errors import error_text
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import (
    DONE, SwapError, VerificationFailed, outcome_of)
from ansible_collections.patchops.containers.plugins.module_utils._swap.network import move_aliases
from ansible_collections.patchops.containers.plugins.module_utils._swap.records import (
    new_swap_record, swap_result, untouched_result)
from ansible_collections.patchops.containers.plugins.module_utils._swap.recovery import undo
from ansible_collections.patchops.containers.plugins.module_utils._swap.steps import (
    create_new, rename_aside, start_and_verify, stop_old, take_name)


def execute(ctx, plan):
    """Swap the plan's groups, up to ``parallel`` at a time, each after the groups it depends on.

    ``on_failure: stop`` starts nothing new once a group failed (the running ones finish);
    ``continue`` goes on with every group that does not depend on a failed one. A running
    container already on its target is verified as a new one would be (``current`` or failed).
    A container that cannot be verified waits for the containers of the run that verify its
    target image; if that image failed verification, it is ``held``, not put on it.
    """
    # Journal every container of the run before the first is touched: if the engine or the
    # module dies before a container's turn (an engine crash stops every container), the next
    # run still knows how it was and puts it back (running if it ran) before patching it.
    run = uuid.uuid4().hex
    groups = {}
    for item in plan:
        groups.setdefault(item['group'], []).append(item)
    swaps = {}
    for members in groups.values():
        todo = [i['container'] for i in members if i['action'] == 'recreate']
        for item in members:
            if item['action'] == 'recreate':
                swaps[item['container']] = new_swap_record(item, run, todo, ctx.params.get('stop_timeout', 10))
                ctx.journal.record(swaps[item['container']], 'planned')
    results = {i['container']: untouched_result(i, 'blocked') for i in plan if i['action'] == 'blocked'}
    group_of = dict((item['container'], item['group']) for item in plan)
    needs = dict((g, {group_of[d] for i in members for d in i['depends_on'] if group_of.get(d, g) != g})
                 for g, members in groups.items())
    waits = _verification_waits(groups)
    pending = [g for g, members in groups.items() if any(i['action'] in ('recreate', 'none') for i in members)]
    ok = set(groups) - set(pending)
    failed, unreached = [], []
    go_on = ctx.params.get('on_failure', 'stop') == 'continue'
    parallel = max(1, int(ctx.params.get('parallel') or 1))
    crash = None
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        running = {}

        def free(group):  # the groups that verify its image are done
            return not waits[group] & (set(pending) | set(running.values()))
        while pending or running:
            for group in list(pending):
                if (failed and not go_on) or crash is not None:
                    break
                if needs[group] & (set(failed) | set(unreached)):
                    pending.remove(group)
                    unreached.append(group)  # a group it needs failed: never started
                elif needs[group] <= ok and len(running) < parallel and (
                        free(group) or not running and not any(needs[g] <= ok and free(g) for g in pending)):
                    # (the last: nothing else could start, as when the verifying group needs this one)
                    pending.remove(group)
                    running[pool.submit(_run_group, ctx, groups[group], swaps)] = group
            if not running:
                break
            finished, dummy = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                group = running.pop(future)
                try:
                    for result in future.result():
                        results[result['container']] = result
                except Exception as exc:  # unexpected: let the running swaps finish first
                    crash = crash or exc
                    failed.append(group)
                    continue
                if any(results[i['container']]['outcome'] not in DONE + ('current',) for i in groups[group]
                       if i['action'] in ('recreate', 'none')):
                    failed.append(group)
                else:
                    ok.add(group)
    if crash is not None:
        raise crash
    skipped = []
    for group in unreached + pending:
        todo = [i for i in groups[group] if i['action'] in ('recreate', 'none')]
        held = _held(ctx, todo, swaps)
        if held:  # never started since a verification failed: held all the same, with the reason
            failed.append(group)
            results.update((r['container'], r) for r in held)
            continue
        for item in todo:  # untouched: closed, so no later run "recovers" it
            skipped.append(item['container'])
            if item['action'] == 'recreate':
                ctx.record_despite_journal_errors(swaps[item['container']], 'not_attempted', outcome='not_attempted')
            results[item['container']] = untouched_result(item, 'not_attempted')
    ordered = [results[i['container']] for i in plan if i['container'] in results]
    if failed:
        raise SwapError(_failure_message(ctx, ordered, failed, skipped), results=ordered,
                        rolled_back=any(r['rolled_back'] for r in ordered),
                        changed=any(r.get('changed') for r in ordered), not_attempted=skipped)
    return ordered


def _run_group(ctx, members, swaps):
    todo = [i for i in members if i['action'] == 'recreate']
    if not todo:  # on its target already (a container on its target is alone in its group)
        return [_check_current(ctx, i) for i in members if i['action'] == 'none']
    held = _held(ctx, todo, swaps)
    if held:
        return held
    if len(todo) == 1:
        return [swap_one(ctx, todo[0], swaps[todo[0]['container']])]
    return swap_group(ctx, todo, [swaps[i['container']] for i in todo])


def _check_current(ctx, item):
    """A container already on its target image: a running one is verified as a new container would
    be (its HEALTHCHECK waited on, the probes run). ``current`` if it passes, else ``failed``."""
    result = untouched_result(item, 'current')
    if not item['was_running'] or item.get('was_paused'):
        return result  # nothing runs to verify, as a swap of a stopped container verifies nothing
    ok, results = ctx.verify_container(item['old_id'])
    result['verification'] = results
    if not ok:
        ctx.failed_images.setdefault(item['new_image_id'], item['container'])
        result.update(outcome='failed', failure='it runs its target image %s already but fails verification: %s'
                      % (item['new_image'], results[-1]['output']))
    return result


def _held(ctx, todo, swaps):
    """Results ``held`` for a group with a member that cannot be verified whose target image failed
    verification in this run (every member held, nothing touched); [] when the group may go on."""
    why = next(('held: %s failed verification on %s in this run, and %s cannot be verified (%s)' % (
        i['new_image'], ctx.failed_images[i['new_image_id']], i['container'],
        'it does not run' if not i['was_running'] or i.get('was_paused') else 'no HEALTHCHECK and no probe')
        for i in todo if i['action'] == 'recreate' and not i.get('verifiable')
        and i['new_image_id'] != i['old_image_id'] and i['new_image_id'] in ctx.failed_images), None)
    if why is None:
        return []
    for item in todo:
        if item['container'] in swaps:
            ctx.record_despite_journal_errors(swaps[item['container']], 'held', outcome='held', held_reason=why)
    return [untouched_result(item, 'held', reason=why) for item in todo]


def _failure_message(ctx, results, failed_groups, skipped):
    parts = []
    for group in failed_groups:
        mine = [r for r in results if r.get('group') == group]
        held = [r for r in mine if r['outcome'] == 'held']
        if held:
            parts.append('%s: %s' % (', '.join(r['container'] for r in held), held[0]['reason']))
            continue
        checked = next((r for r in mine if r.get('action') == 'none' and r['outcome'] == 'failed'), None)
        if checked:
            parts.append('%s: %s; nothing changed' % (checked['container'], checked['failure']))
            continue
        done = [r for r in mine if r.get('changed')]
        bad = [r for r in done if r['outcome'] not in DONE]
        first = next((r for r in bad if not r.get('with_group')), bad[0] if bad else None)
        if first is None:
            continue
        back = [r for r in done if r['rolled_back']]
        parts.append('patching %s to %s failed (%s); %s' % (
            first['container'], first['new_image'], first.get('failure'),
            'rolled back: %s' % '; '.join(
                'the same container %s (%s) %s %s again' % (
                    r['container'], r['old_id'][:12], 'is back, not started, on' if r.get('not_started') else 'runs',
                    r['old_image'])
                for r in back)
            if back else ('NOT rolled back (rollback: never)' if ctx.params.get('rollback') == 'never'
                          else 'NOT rolled back: the rollback failed')))
    return '; '.join(parts) + ('; not attempted: %s' % ', '.join(skipped) if skipped else '')


def _verification_waits(groups):
    """{group: the other groups it waits for}: a group with a member that cannot be verified and changes
    image waits for the groups that verify that image (a member that can be verified on it)."""
    verifiers = {}
    for group, members in groups.items():
        for item in members:
            if item['action'] in ('recreate', 'none') and item.get('verifiable'):
                verifiers.setdefault(item['new_image_id'], set()).add(group)
    waits = {}
    for group, members in groups.items():
        waits[group] = set()
        for item in members:
            if item['action'] == 'recreate' and not item.get('verifiable') and item['new_image_id'] != item['old_image_id']:
                waits[group] |= verifiers.get(item['new_image_id'], set()) - {group}
    return waits


def swap_one(ctx, item, swap):
    """Recreate one container; ``swap`` is its record, journaled as planned."""
    record = ctx.journal.record
    name = swap['container']
    started = time.monotonic()
    stopped_at = left_at = named_at = None
    results = []
    try:
        if swap['strategy'] == 'stop-first':
            stopped_at = stop_old(ctx, swap)
            rename_aside(ctx, swap)
            new_id = create_new(ctx, swap, name)
        else:
            new_id = create_new(ctx, swap, swap['temp_name'], holding_aliases=True)
        results = start_and_verify(ctx, swap, new_id, name)
        record(swap, 'verified', verified=True)
        if swap['strategy'] == 'start-first':
            left_at = move_aliases(ctx, swap, new_id)
            stopped_at = stop_old(ctx, swap)
            rename_aside(ctx, swap)
            take_name(ctx, swap, new_id)
            named_at = time.monotonic()
        ctx.pause_if_it_was(swap, new_id)
        ctx.remove_old(swap)
        if swap['strategy'] == 'start-first':
            downtime = _start_first_downtime(swap, left_at, stopped_at, named_at)
        else:  # from the old one's stop (the old one is removed by now)
            downtime = 0 if stopped_at is None else int((time.monotonic() - stopped_at) * 1000)
        record(swap, 'done', outcome=outcome_of(item['reason']), downtime_ms=downtime)
        return swap_result(ctx, item, swap, results, downtime, started)
    except Exception as exc:  # whatever broke the swap, the old container comes back
        failure = error_text(exc)
        if isinstance(exc, VerificationFailed):
            ctx.failed_images.setdefault(swap['target_image_id'], name)
        return undo(ctx, [item], [swap], {name: getattr(exc, 'results', results)}, failure, started)[0]


def _start_first_downtime(swap, left_at, stopped_at, named_at):
    """What clients of a start-first swap can miss: with the service's aliases held and moved, the
    alias gap (see network.move_aliases); else, for clients that reach it by its name, the time from
    the old container leaving (its disconnect or its stop) to the new one taking the name
    (``breakdown_ms['name_gap']``, measured in both cases). 0 when the old one did not run."""
    if not swap.get('was_running'):
        return 0
    gone = [t for t in (left_at, stopped_at) if t is not None]
    if gone:
        swap['breakdown_ms']['name_gap'] = int((named_at - min(gone)) * 1000)
    if 'alias_gap' in swap['breakdown_ms']:
        return swap['breakdown_ms']['alias_gap']
    return swap['breakdown_ms'].get('name_gap', 0)


def swap_group(ctx, items, swaps):
    """Recreate a provider and its followers as one: followers stopped first, then each
    recreated in order (a provider runs before its followers are created and started), the
    old containers removed only once every member is verified."""
    record = ctx.journal.record
    started = time.monotonic()
    stopped_at, downtime, results = {}, {}, {}
    current = swaps[0]['container']
    try:
        for swap in reversed(swaps):
            current = swap['container']
            stopped_at[current] = stop_old(ctx, swap)
        for swap in swaps:
            current = swap['container']
            rename_aside(ctx, swap)
            new_id = create_new(ctx, swap, current)
            results[current] = start_and_verify(ctx, swap, new_id, current)
            if stopped_at.get(current) is not None:
                downtime[current] = int((time.monotonic() - stopped_at[current]) * 1000)
        for swap in swaps:  # the group's commit point: all verified before any old one goes
            record(swap, 'verified', verified=True)
        for swap in swaps:
            ctx.pause_if_it_was(swap, swap['new_id'])
        for swap in reversed(swaps):
            ctx.remove_old(swap)
        out = []
        for item, swap in zip(items, swaps):
            record(swap, 'done', outcome=outcome_of(item['reason']), downtime_ms=downtime.get(swap['container'], 0))
            out.append(swap_result(ctx, item, swap, results.get(swap['container'], []),
                                   downtime.get(swap['container'], 0), started))
        return out
    except Exception as exc:
        failure = error_text(exc)
        if isinstance(exc, VerificationFailed):
            results[current] = exc.results
            failing = next(s for s in swaps if s['container'] == current)
            ctx.failed_images.setdefault(failing['target_image_id'], current)
        return undo(ctx, items, swaps, results, '%s: %s' % (current, failure), started, failed=current)
