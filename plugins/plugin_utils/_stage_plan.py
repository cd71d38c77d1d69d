# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the stage role stages on a host and how it reports it (controller side; the filters
stage_items, stage_split, stage_host_summary, stage_run_summary and stage_report).

Private: not a public API of the collection.
"""

from __future__ import annotations

import numbers


def _append_new(out, item):
    if item not in out:
        out.append(item)


def items(images, from_inventory, targets, host):
    """``images``, then the inventory's available updates (pinned to their remote digest), then the
    images of ``targets``: each reference once, the earlier source winning.

    ``from_inventory`` is a list of container records, or a mapping of host to such lists.
    """
    images = list(images or [])
    records = (from_inventory or {}).get(host) or [] if isinstance(from_inventory, dict) else from_inventory or []
    known = [i['ref'] for i in images if 'ref' in i]
    updates = []
    for record in records:
        if record.get('update') == 'available' and record.get('image') and record['image'] not in known:
            _append_new(updates, {'ref': record['image'], 'expected_digest': record.get('remote_digest')})
    known += [u['ref'] for u in updates]
    wanted = []
    for target in targets or []:
        if target.get('image') and target['image'] not in known:
            _append_new(wanted, {'ref': target['image']})
    return images + updates + wanted


def split(items, copied, check_mode):
    """The items by source: {registry, archives, refs, not_copied}.

    ``copied`` is the registered loop of the copy of controller-side archives (``src``): each copied
    archive is loaded from its ``dest``; in check mode an archive that would be copied is not on the
    host yet, so it is listed in ``not_copied`` instead.
    """
    results = (copied or {}).get('results') or []
    archives = [{'archive': i['archive'], 'ref': i.get('ref'), 'expected_id': i.get('expected_id')}
                for i in items if 'archive' in i]
    archives += [{'archive': r['dest'], 'ref': r['item'].get('ref'), 'expected_id': r['item'].get('expected_id')}
                 for r in results if 'dest' in r and not (check_mode and r.get('changed'))]
    return {
        'registry': [i for i in items if 'src' not in i and 'archive' not in i],
        'archives': archives,
        'refs': [{'ref': i['ref']} for i in items if 'ref' in i],
        'not_copied': [r['item']['src'] for r in results if r.get('changed')] if check_mode else [],
    }


def host_summary(results, copied=None, not_copied=None, pruned=None, forgotten=None):
    """One host's line of the stage summary from the registered results of its image_stage tasks."""
    results = [r or {} for r in results]
    every = results + [copied or {}]
    failed = [r for r in every if r.get('failed')]
    images = [dict((key, i.get(key)) for key in ('reference', 'action', 'image_id', 'digest', 'source',
                                                 'estimated_bytes', 'size'))
              for r in results for i in r.get('images') or []]
    return {
        'status': 'failed' if failed else ('changed' if any(r.get('changed') for r in every) else 'ok'),
        'msg': '; '.join(r.get('msg', '') for r in failed),
        'images': images,
        'not_copied': list(not_copied or []),
        'removed': [r['image_id'] for r in (pruned or {}).get('removed') or []],
        'kept': [r['image_id'] for r in (pruned or {}).get('kept') or []],
        'forgotten': list((forgotten or {}).get('forgotten') or []),
    }


def run_summary(hosts, state, check_mode):
    """The run's stage summary (the AWX artifact ``patchops_stage``) from {host: host summary}."""
    return {
        'state': state,
        'check_mode': check_mode,
        'hosts': hosts,
        'failed': [h for h, line in hosts.items() if line.get('status') in ('failed', 'unreachable')],
        'changed': [h for h, line in hosts.items() if line.get('status') == 'changed'],
    }


def report(lines, run, state, check_mode, path):
    """The stage report (stage.json): {host: its line} (empty or None: unreachable, it lost its
    connection before the role's ``always`` ran there) with the host named in each, and the totals."""
    hosts = [dict(line or {'status': 'unreachable', 'msg': '', 'images': [], 'not_copied': [], 'removed': [],
                           'kept': [], 'forgotten': []}, host=host) for host, line in lines.items()]
    images = [image for line in hosts for image in line.get('images') or []]
    actions = {}
    for image in images:
        actions[image.get('action')] = actions.get(image.get('action'), 0) + 1

    def count(status):
        return len([line for line in hosts if line.get('status') == status])
    return {
        'run': run,
        'state': state,
        'check_mode': check_mode,
        'report': path,
        'totals': {
            'hosts': len(hosts),
            'hosts_changed': count('changed'),
            'hosts_ok': count('ok'),
            'hosts_failed': count('failed'),
            'hosts_unreachable': count('unreachable'),
            'images': len(images),
            'actions': actions,
            'fetch_bytes': sum(i['estimated_bytes'] for i in images
                               if i.get('action') != 'present' and isinstance(i.get('estimated_bytes'), numbers.Number)),
            'removed': sum(len(line.get('removed') or []) for line in hosts),
        },
        'hosts': hosts,
    }
