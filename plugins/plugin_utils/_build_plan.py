# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the build role patches, its summary, the targets it hands on and its report (controller
side; the filters build_items, build_host_summary, build_patched_targets and build_report).

Private: not a public API of the collection.
"""

from __future__ import annotations


def items(images, targets=None, from_inventory=None, reports=None):
    """One item per image reference, the first one named winning: ``images``, then the images of
    ``targets``, then of ``from_inventory`` (container records, or a mapping of host to such lists).
    An entry without an image is skipped; an item's report is its own, else ``reports``' for its image.
    """
    if isinstance(from_inventory, dict):
        records = [record for value in from_inventory.values()
                   for record in (value if isinstance(value, list) else [value])]
    else:
        records = list(from_inventory or [])
    reports = reports or {}
    out, seen = [], set()
    for entry in list(images or []) + list(targets or []) + records:
        image = entry.get('image') or ''
        if not image or image in seen:
            continue
        seen.add(image)
        out.append({'image': image, 'output': entry.get('output'), 'packages': entry.get('packages'),
                    'report': entry['report'] if 'report' in entry else reports.get(image)})
    return out


def _image_line(result):
    # A result without `patched` is a failure (the module failed, or never ran for the item).
    status = 'failed' if 'patched' not in result else ('changed' if result.get('changed') else 'ok')
    return {
        'image': result['item']['image'],
        'status': status,
        'msg': result.get('msg', ''),
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


def patched_targets(targets, summary):
    """``targets`` with each image the build patched replaced by its patched reference."""
    patched = dict((line['image'], line['reference']) for line in summary['images'] if line['status'] != 'failed')
    return [dict(target, image=patched.get(target.get('image'), target.get('image'))) for target in targets or []]


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
            'packages': sum(len(i.get('packages') or []) for i in patched),
            'layer_bytes': sum(int(i.get('layer_size') or 0) for i in patched),
        },
        'hosts': hosts,
    }
