# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rules of the patch run's report (controller side), in one place: each container's final
outcome, from what the modules did (the rollout's and the restore's results) set against what the
engine shows at the end of the run (the read-back); a host's record and status; the run's counts,
hosts and batches. The filters patch_host_record and patch_run_report (and the older patch_outcomes,
patch_outcome_counts, patch_run_hosts, patch_run_batches) call into it.

Private: not a public API of the collection.
"""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.plugin_utils._pending import proof

# Every outcome word of the report, in the order the reports show their counts.
OUTCOMES = ('patched', 'current', 'recreated', 'restored', 'rolled_back', 'restore_failed', 'failed',
            'blocked', 'not_attempted', 'recovered', 'unresolved', 'kept_new', 'abandoned', 'held',
            'diverged', 'unknown')
HOST_STATUSES = ('patched', 'unchanged', 'planned', 'rolled_back', 'failed')
# Outcomes that fail a host by themselves: the engine does not show what the modules did, or cannot be read.
FAILING = ('diverged', 'unknown')
_PUT_BACK = ('restored', 'recreated')
# Module outcomes whose final container is the new one (the others end on the container from before).
_ON_NEW = ('patched', 'recreated', 'failed', 'kept_new')
# ... and the one that ends with no container under the name at all.
_GONE = ('abandoned',)


def _final(record, source, new=True):
    if record.get('outcome') in _GONE:
        record['final_id'] = record['final_image_id'] = None
        return
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
        _final(record, record, new=outcome in _ON_NEW)
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


# -- the read-back: what the engine shows at the end of the run -----------------------------------
def engine_view(readback):
    """({name: what the engine shows}, None), or (None, why) when the engine could not be read.

    ``readback`` is the registered result of container_inventory (its failure not fatal); an empty
    one (the task was skipped: nothing to read) reads as an engine showing nothing."""
    readback = readback or {}
    if readback.get('skipped') or not readback:
        return {}, None
    if readback.get('unreachable') or readback.get('failed') or 'containers' not in readback:
        return None, readback.get('msg') or 'the engine could not be read'
    view = {}
    for c in readback.get('containers') or []:
        view[c.get('name')] = {'state': c.get('state'), 'id': c.get('id'), 'image': c.get('image'),
                               'image_id': c.get('image_id'), 'health': c.get('health')}
    return view, None


def describe_engine(name, shown):
    if shown is None or shown.get('state') == 'unknown':
        return 'the engine could not be read: the state of %s is unknown' % name
    if shown.get('state') == 'missing':
        return 'no container is named %s' % name
    return '%s is %s on image %s, %s%s' % (
        name, (shown.get('id') or '')[:12], (shown.get('image_id') or '').split(':')[-1][:12],
        shown.get('state'), ', %s' % shown['health'] if shown.get('health') else '')


def way_out(name, host='HOST'):
    """What an operator does about an unresolved interrupted swap (the module's own advice)."""
    return ('fix the cause and run again (every run retries the recovery first), or put %s right by hand '
            'and close the entry with patchops.containers.container_rollback abandon: [%s] (from a playbook: '
            "playbooks/rollback.yml --limit %s -e rollback_abandon='[%s]')" % (name, name, host, name))


def _claims(record):
    """What the modules' word means the engine shows: (must exist, ID, image ID); None: no claim."""
    outcome = record.get('outcome')
    if outcome in _GONE:
        return False, None, None
    if outcome in ('unresolved',) or (outcome == 'failed' and not record.get('final_id')):
        return None, None, None
    if outcome == 'recovered':
        return True, None, None
    return True, record.get('final_id'), record.get('final_image_id')


def decide(record, view):
    """A container's final record: the modules' outcome when the engine shows it, else ``diverged``
    (with both: ``module_outcome`` and ``engine``), or ``unknown`` when the engine could not be read."""
    record = dict(record)
    name = record.get('container')
    if view is None:
        record['engine'] = {'state': 'unknown'}
        record['module_outcome'], record['outcome'] = record.get('outcome'), 'unknown'
        return record
    shown = view.get(name) or {'state': 'missing'}
    record['engine'] = shown
    exists, cid, image_id = _claims(record)
    missing = shown.get('state') == 'missing'
    wrong = []
    if exists is True and missing:
        wrong.append('no container is named %s' % name)
    elif exists is False and not missing:
        wrong.append('a container holds the name')
    elif exists and cid and shown.get('id') != cid:
        wrong.append('another container holds the name')
    elif exists and image_id and shown.get('image_id') != image_id:
        wrong.append('the container runs another image')
    if wrong:
        record['module_outcome'], record['outcome'] = record.get('outcome'), 'diverged'
        record['diverged'] = '%s: the modules said %s%s; the engine shows %s' % (
            name, record['module_outcome'],
            ' (%s on image %s)' % ((cid or '')[:12], (image_id or '').split(':')[-1][:12]) if cid else
            (' (no container)' if exists is False else ''),
            describe_engine(name, shown))
    return record


def _swaps_of_recovery(rollout, records, host='HOST'):
    """The rollout's recovered and unresolved swaps folded into the container records: a container
    the run only recovered is ``recovered``, one whose recovery failed ``unresolved`` (with the way
    out); one also patched or left current by the run keeps that outcome, the recovery beside it."""
    by_name = dict((r.get('container'), r) for r in records)
    for entry in rollout.get('recovered') or []:
        if entry.get('action') not in ('finished', 'rolled_back'):
            continue  # an unresolved one is in rollout['unresolved']; 'would recover' is check mode's
        name = entry.get('container')
        recovery = {'action': entry.get('action'), 'step': entry.get('step')}
        if name in by_name:
            by_name[name]['recovered'] = recovery
        else:
            by_name[name] = dict(container=name, outcome='recovered', changed=True, recovered=recovery,
                                 final_id=None, final_image_id=None)
            records.append(by_name[name])
    for entry in rollout.get('unresolved') or []:
        name = entry.get('container')
        record = by_name.get(name)
        if record is None:
            record = by_name[name] = dict(container=name, changed=False, final_id=None, final_image_id=None)
            records.append(record)
        elif record.get('outcome') != 'blocked':
            continue
        record.update(outcome='unresolved', step=entry.get('step'), failure=entry.get('error'),
                      state=entry.get('state'), way_out=way_out(name, host))
    return records


def _with_packages(containers, inventory, readback, indexes):
    """Each patched container with ``packages``: its pending updates before (the inventory report's
    record of the image it ran) and after (the image it runs now, read back with its packages,
    against the same sources: ``indexes``), and the packages whose version changed."""
    known = {}
    for host in (inventory or {}).get('hosts') or []:
        for image in host.get('images') or []:
            known.setdefault(image.get('id'), image)
    now = dict((image.get('id'), image) for image in (readback or {}).get('images') or [])
    for record in containers:
        if record.get('outcome') == 'patched':
            record['packages'] = proof(known.get(record.get('old_image_id')), now.get(record.get('final_image_id')),
                                       indexes)
    return containers


def host_record(facts):
    """A host's record of the run from what the playbook collected (``facts``): host, check_mode,
    rollout, rollback, readback (container_inventory's registered result), held_by_scan_gate,
    engine, plan, unhealthy_before, checks_failed (the post-patch tests' failures), host_failed, host_failure;
    with ``indexes`` (the package sources read) and ``inventory`` (the inventory report of the run),
    each patched container's packages before and after (_with_packages)."""
    if not isinstance(facts, dict):
        raise ValueError('patch_host_record: expected a dict of the run\'s facts on the host, got %s'
                         % type(facts).__name__)
    rollout = facts.get('rollout') or {}
    check = bool(facts.get('check_mode'))
    records = _swaps_of_recovery(rollout, patch_outcomes(rollout, facts.get('rollback') or {}),
                                 facts.get('host') or 'HOST')
    view, error = engine_view(facts.get('readback'))
    containers = [decide(r, view) for r in records]
    if facts.get('indexes') is not None:
        containers = _with_packages(containers, facts.get('inventory'), facts.get('readback'), facts['indexes'])
    absent = {'state': 'missing' if view is not None else 'unknown'}
    plan = [dict(p, engine=(view or {}).get(p.get('container')) or absent)
            for p in (facts.get('plan') or rollout.get('plan') or [])]
    problems = [c['diverged'] for c in containers if c.get('outcome') == 'diverged']
    if error is not None:
        problems.insert(0, 'the engine could not be read after the run (%s): the containers\' state is unknown'
                        % error)
    failed = bool(facts.get('host_failed')) or bool(problems)
    message = '; '.join([m for m in [facts.get('host_failure') or ''] if m] + problems)
    rolled_back = any(c.get('module_outcome', c.get('outcome')) in ('rolled_back', 'restored') for c in containers)
    if check:
        status = 'failed' if failed else 'planned'
    elif failed:
        status = 'rolled_back' if rolled_back and not problems else 'failed'
    else:
        status = 'patched' if rollout.get('changed') else 'unchanged'
    rollback = facts.get('rollback') or {}
    return {
        'host': facts.get('host'),
        'status': status,
        'message': message,
        'check_mode': check,
        'engine': facts.get('engine') or rollout.get('engine') or {},
        'readback': {'engine': 'unknown' if error is not None else 'read', 'error': error,
                     'diverged': len([c for c in containers if c.get('outcome') == 'diverged'])},
        'plan': plan,
        'containers': containers,
        'held_by_scan_gate': list(facts.get('held_by_scan_gate') or []),
        'unhealthy_before': list(facts.get('unhealthy_before') or []),
        'posttest_failures': list(facts.get('checks_failed') or []),
        'restored_by_rollback': [c.get('container') for c in rollback.get('containers') or []],
    }


def run_report(records, plays, run=None, report=None, check_mode=False):
    """The run's report, {summary, hosts}, from every host's record (all slices) and the slices' plays."""
    records = sorted((r for r in records or [] if isinstance(r, dict)), key=lambda r: r.get('host') or '')
    hosts = patch_run_hosts(records, plays)
    containers = [c for r in records for c in r.get('containers') or []]
    by_status = dict((s, [r.get('host') for r in records if r.get('status') == s]) for s in HOST_STATUSES)
    by_status.update(unreachable=hosts['unreachable'], not_attempted=hosts['not_attempted'])
    downtimes = [c['downtime_ms'] for c in containers
                 if isinstance(c.get('downtime_ms'), (int, float)) and not isinstance(c.get('downtime_ms'), bool)]
    summary = {
        'run': run,
        'report': report,
        'check_mode': bool(check_mode),
        'hosts_total': hosts['total'],
        'hosts': by_status,
        'containers': patch_outcome_counts(containers),
        'engine_unknown': [r.get('host') for r in records if (r.get('readback') or {}).get('engine') == 'unknown'],
        'max_downtime_ms': max(downtimes or [0]),
    }
    return {'summary': summary, 'hosts': records}
