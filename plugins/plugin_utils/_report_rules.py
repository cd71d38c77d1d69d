# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The final state of each container of a patch run, from the rollout's and the rollback
handlers' results (controller side; the filters patch_outcomes and patch_outcome_counts).

Private: not a public API of the collection.
"""

from __future__ import annotations

OUTCOMES = ('patched', 'current', 'recreated', 'restored', 'rolled_back', 'restore_failed', 'failed',
            'blocked', 'not_attempted')
_PUT_BACK = ('restored', 'recreated')


def _final(record, source, new=True):
    record['final_id'] = source.get('new_id' if new else 'old_id')
    record['final_image_id'] = source.get('new_image_id' if new else 'old_image_id')


def patch_outcomes(rollout, rollback=None):
    if not isinstance(rollout, dict) or (rollback is not None and not isinstance(rollback, dict)):
        raise ValueError('patch_outcomes: expected registered module results (dicts), got %s and %s'
                         % (type(rollout).__name__, type(rollback).__name__))
    rollback = rollback or {}
    records = []
    for entry in rollout.get('containers') or []:
        record = dict(entry)
        outcome = record.get('outcome')
        _final(record, record, new=outcome in ('patched', 'recreated', 'failed'))
        records.append(record)
    if 'containers' in rollout:  # it ran (not check mode): planned containers with no result never had their turn
        seen = {r.get('container') for r in records}
        for item in rollout.get('plan') or []:
            if item.get('action') == 'recreate' and item.get('container') not in seen:
                record = dict(item, outcome='not_attempted', changed=False)
                _final(record, record, new=False)
                records.append(record)
    by_name = {r.get('container'): r for r in records}
    handled = set()
    for back in rollback.get('containers') or []:
        name = back.get('container')
        record = by_name.get(name)
        if record is None:  # recreated only by the rollback (a follower of a restored container)
            record = dict(back)
            _final(record, back, new=back.get('outcome') in _PUT_BACK)
            records.append(record)
            by_name[name] = record
            handled.add(name)
            continue
        handled.add(name)
        if back.get('outcome') in _PUT_BACK and record.get('outcome') in ('patched', 'recreated'):
            record['rollout_outcome'] = record['outcome']
            record['outcome'] = 'restored' if record['outcome'] == 'patched' else 'recreated'
            record['restored_id'] = back.get('new_id')
            _final(record, back)
        elif back.get('outcome') in ('rolled_back', 'failed') and record.get('outcome') == 'patched':
            record['outcome'] = 'restore_failed'
            record['restore_failure'] = back.get('failure')
    if rollback.get('failed') and not rollback.get('skipped'):
        # The handlers failed before they put anything back: what was patched still is.
        for record in records:
            if record.get('outcome') == 'patched' and record.get('container') not in handled:
                record['outcome'] = 'restore_failed'
                record['restore_failure'] = rollback.get('msg')
    return records


def patch_outcome_counts(records):
    """{outcome: number of containers} for every outcome word, zeros included."""
    counts = dict((outcome, 0) for outcome in OUTCOMES)
    for record in records or []:
        outcome = (record or {}).get('outcome') or (record or {}).get('action') or 'unknown'
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def patch_run_hosts(records, plays):
    """Hosts of a run that may be split into slices (several ansible-playbook runs writing one
    report): ``plays`` has, per slice, ``hosts_all`` (the play's hosts) and ``hosts_left`` (still
    in the play). Returns {total, unreachable, not_attempted}: a host out of its play with no
    record lost its connection during the run; a host with no record still in it was never reached."""
    done = {r.get('host') for r in records or []}
    every, lost = [], []
    for play in plays or []:
        left = set(play.get('hosts_left') or [])
        for host in play.get('hosts_all') or []:
            if host not in every:
                every.append(host)
            if host not in left and host not in done and host not in lost:
                lost.append(host)
    return {'total': len(every), 'unreachable': sorted(lost),
            'not_attempted': sorted(h for h in every if h not in done and h not in lost)}


def patch_run_batch(batches, hosts_all, hosts_left, batch):
    """A slice's recorded batches with the one ending now appended (the report role calls this once
    per batch). The batch ending now: the hosts of ``hosts_all`` in no earlier batch that are either
    in it still (``batch``, Ansible's ``ansible_play_batch``) or left the play during it (failed or
    unreachable: not in ``hosts_left``, ``ansible_play_hosts``). Hosts not reached yet are in
    neither, so they wait for their own batch."""
    earlier = [list(b) for b in batches or []]
    seen = set(h for b in earlier for h in b)
    active = set(batch or [])
    left = set(hosts_left or [])
    current = [h for h in hosts_all or [] if h not in seen and (h in active or h not in left)]
    return earlier + [current] if current else earlier
