# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the build role patches, its summary, the targets it hands on and its report (controller
side; the filters build_items, build_host_summary, build_patched_targets and build_report).

Private: not a public API of the collection.
"""

from __future__ import annotations


NOTHING_PENDING = 'nothing pending'


def _report_records(report):
    """The container records of an inventory report, each with the pending updates of its image
    (``hosts[].images`` by image ID) when the report has them."""
    records = []
    for host in report.get('hosts') or []:
        images = dict((image.get('id'), image) for image in host.get('images') or [])
        for record in host.get('containers') or []:
            image = images.get(record.get('image_id'))
            if image is not None and 'pending_status' in image:
                record = dict(record, pending_status=image['pending_status'], pending=image.get('pending') or [],
                              pending_reason=image.get('pending_reason'))
            records.append(record)
    return records


def _records(from_inventory):
    if isinstance(from_inventory, dict) and isinstance(from_inventory.get('hosts'), list):
        return _report_records(from_inventory)
    if isinstance(from_inventory, dict):
        return [record for value in from_inventory.values() for record in (value if isinstance(value, list) else [value])]
    return list(from_inventory or [])


def _fixable(records):
    """Per image reference of inventory records that carry pending updates: the packages to update
    (every record's, a reference on several hosts once), or why nothing is built."""
    out = {}
    for record in records:
        if not record.get('image') or 'pending_status' not in record:
            continue
        plan = out.setdefault(record['image'], {'packages': set(), 'unknown': None})
        if record['pending_status'] != 'ok':
            plan['unknown'] = plan['unknown'] or record.get('pending_reason') or 'unknown'
        plan['packages'].update(p['name'] for p in record.get('pending') or [])
    return out


def _skip(plan):
    if plan['packages']:
        return None
    return 'pending updates unknown: %s' % plan['unknown'] if plan['unknown'] else NOTHING_PENDING


def items(images, targets=None, from_inventory=None, reports=None):
    """One item per image reference, the first one named winning: ``images``, then the images of
    ``targets``, then of ``from_inventory`` (container records, a mapping of host to such lists, or
    the inventory report). An entry without an image is skipped; an item's report is its own, else
    ``reports``' for its image.

    Exactly what is fixable: an image whose inventory records carry pending updates (the inventory
    report with package sources) and that has no report is patched for its pending packages only,
    or not at all (``skip``: nothing pending, or why its pending updates are unknown).
    """
    records = _records(from_inventory)
    fixable = _fixable(records)
    reports = reports or {}
    out, seen = [], set()
    for entry in list(images or []) + list(targets or []) + records:
        image = entry.get('image') or ''
        if not image or image in seen:
            continue
        seen.add(image)
        item = {'image': image, 'output': entry.get('output'), 'packages': entry.get('packages'),
                'report': entry['report'] if 'report' in entry else reports.get(image), 'skip': None}
        plan = fixable.get(image)
        if plan is not None and not item['report'] and not item['packages']:
            item.update(packages=sorted(plan['packages']) or None, skip=_skip(plan))
        out.append(item)
    return out


def _image_line(result):
    # A result without `patched` is a failure (the module failed, or never ran for the item), but for
    # an item left out on purpose: nothing pending, or pending updates unknown.
    skip = result['item'].get('skip')
    if skip and result.get('skipped'):
        status = 'nothing_pending' if skip == NOTHING_PENDING else 'skipped'
    else:
        status = 'failed' if 'patched' not in result else ('changed' if result.get('changed') else 'ok')
    return {
        'image': result['item']['image'],
        'status': status,
        'msg': skip if status in ('nothing_pending', 'skipped') else result.get('msg', ''),
        'patched': result.get('patched', False),
        'reference': result.get('image', result['item']['image']),
        'repo_digest': result.get('repo_digest'),
        'image_id': result.get('image_id'),
        'packages': result.get('packages', []),
        'open': len(result.get('open', [])),
        'layer_size': result.get('layer_size'),
    }


def host_summary(results, build_host, check_mode):
    """A build host's summary from the registered loop of its image_patch task."""
    images = [_image_line(result) for result in (results or {}).get('results') or []]
    return {
        'build_host': build_host,
        'check_mode': check_mode,
        'images': images,
        'failed': [line['image'] for line in images if line['status'] == 'failed'],
    }


def _host_records(from_inventory, host):
    """The container records of ``host`` in ``from_inventory`` (the inventory report, or a mapping of
    host to records); a plain list names no host: none."""
    if isinstance(from_inventory, dict) and isinstance(from_inventory.get('hosts'), list):
        return [record for entry in from_inventory['hosts'] if entry.get('host') == host
                for record in entry.get('containers') or []]
    if isinstance(from_inventory, dict):
        found = from_inventory.get(host) or []
        return found if isinstance(found, list) else [found]
    return []


def patched_targets(targets, summary, from_inventory=None, host=None):
    """``targets`` with each image the build patched replaced by its patched reference; with
    ``from_inventory`` and ``host``, followed by that host's inventoried containers whose image the
    build patched (by name, on the patched reference): an image left out (nothing pending, pending
    unknown) or failed gives no target, and a container named in ``targets`` is not added again."""
    patched = dict((line['image'], line['reference']) for line in summary['images'] if line['status'] != 'failed')
    out = [dict(target, image=patched.get(target.get('image'), target.get('image'))) for target in targets or []]
    built = dict((line['image'], line['reference']) for line in summary['images'] if line['status'] in ('ok', 'changed'))
    named = set(target.get('name') for target in out)
    for record in _host_records(from_inventory, host) if host else []:
        if record.get('image') in built and record.get('name') and record['name'] not in named:
            named.add(record['name'])
            out.append({'name': record['name'], 'image': built[record['image']]})
    return out


def report(summaries, run, check_mode, path):
    """The build report (build.json): {host: its summary} (empty or None: unreachable, it lost its
    connection before the role finished there) as lines with a status, and the totals."""
    hosts = []
    for host, summary in summaries.items():
        if not summary:
            hosts.append({'build_host': host, 'status': 'unreachable', 'check_mode': check_mode,
                          'images': [], 'failed': []})
        else:
            hosts.append(dict(summary, status='failed' if summary.get('failed') else 'ok'))
    images = [line for host in hosts for line in host['images']]
    patched = [line for line in images if line.get('patched')]
    return {
        'run': run,
        'check_mode': check_mode,
        'report': path,
        'totals': {
            'hosts': len(hosts),
            'hosts_unreachable': len([h for h in hosts if h['status'] == 'unreachable']),
            'images': len(images),
            'built': len(patched),
            'would_build': len([i for i in images if i['status'] == 'changed' and not i.get('patched')]),
            'unchanged': len([i for i in images if i['status'] == 'ok']),
            'failed': len([i for i in images if i['status'] == 'failed']),
            'nothing_pending': len([i for i in images if i['status'] == 'nothing_pending']),
            'skipped': len([i for i in images if i['status'] == 'skipped']),
            'packages': sum(len(i.get('packages') or []) for i in patched),
            'layer_bytes': sum(int(i.get('layer_size') or 0) for i in patched),
        },
        'hosts': hosts,
    }
