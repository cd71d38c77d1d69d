# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the build role patches, its summary, the targets it hands on and its report."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.plugin_utils._build_plan import (
    host_summary,
    items,
    patched_targets,
    report,
)

R = 'reg:5000/shop/'


def item(image, output=None, packages=None, report_path=None, skip=None):
    return {'image': image, 'output': output, 'packages': packages, 'report': report_path, 'skip': skip}


def test_items_each_image_once_the_first_source_wins():
    images = [{'image': R + 'web:2', 'output': R + 'web:2-fixed'}, {'image': R + 'db:1', 'report': None}]
    targets = [{'name': 'web', 'image': R + 'web:2'}, {'name': 'api', 'image': R + 'api:1'}, {'name': 'none'}]
    inventory = [{'name': 'x', 'image': R + 'api:1'}, {'name': 'y', 'image': R + 'job:3'}, {'name': 'z', 'image': ''}]
    reports = {R + 'db:1': '/r/db.json', R + 'job:3': '/r/job.json', R + 'web:2': '/r/web.json'}
    assert items(images, targets, inventory, reports) == [
        item(R + 'web:2', R + 'web:2-fixed', report_path='/r/web.json'),
        item(R + 'db:1'),  # its own report (none) wins over the mapping's
        item(R + 'api:1'),
        item(R + 'job:3', report_path='/r/job.json'),
    ]


def test_items_from_an_inventory_mapping_and_nothing():
    inventory = {'lab1': [{'image': R + 'a:1'}], 'lab2': [{'image': R + 'b:1'}, {'image': R + 'a:1'}]}
    assert [i['image'] for i in items([], [], inventory, {})] == [R + 'a:1', R + 'b:1']
    assert items(None, None, None, None) == []


def pending(*names):
    return [{'name': n, 'installed': '1', 'candidate': '2', 'security': True} for n in names]


def fleet_report():
    """An inventory report with pending updates: web on two hosts (other packages pending on each
    host's image), db patched already, tool without a package database, job never read."""
    def image(image_id, status, names=(), reason=None):
        return {'id': image_id, 'pending_status': status, 'pending': pending(*names), 'pending_reason': reason}
    return {'hosts': [
        {'host': 'lab1', 'containers': [{'name': 'web', 'image': R + 'web:2', 'image_id': 'sha256:w1'},
                                        {'name': 'db', 'image': R + 'db:1', 'image_id': 'sha256:d'}],
         'images': [image('sha256:w1', 'ok', ['zlib1g', 'perl']), image('sha256:d', 'ok')]},
        {'host': 'lab2', 'containers': [{'name': 'web', 'image': R + 'web:2', 'image_id': 'sha256:w2'},
                                        {'name': 'tool', 'image': R + 'tool:1', 'image_id': 'sha256:t'},
                                        {'name': 'job', 'image': R + 'job:3', 'image_id': 'sha256:j'}],
         'images': [image('sha256:w2', 'ok', ['libssl3', 'zlib1g']),
                    image('sha256:t', 'unknown', reason='no package database read: busybox')]},
        {'host': 'lab3', 'status': 'unreachable'}]}


def test_items_from_an_inventory_report_exactly_what_is_fixable():
    assert items([], [], fleet_report(), {}) == [
        item(R + 'web:2', packages=['libssl3', 'perl', 'zlib1g']),  # both hosts' pending, once
        item(R + 'db:1', skip='nothing pending'),
        item(R + 'tool:1', skip='pending updates unknown: no package database read: busybox'),
        item(R + 'job:3'),  # no pending updates in the report for its image: as before, every update
    ]


def test_a_report_or_packages_named_win_over_the_pending_updates():
    out = items([{'image': R + 'db:1', 'packages': ['tzdata']}], [], fleet_report(), {R + 'web:2': '/r/web.json'})
    assert out[:2] == [item(R + 'db:1', packages=['tzdata']), item(R + 'web:2', report_path='/r/web.json')]


def test_host_summary_an_image_left_out_is_nothing_pending_or_skipped_not_failed():
    left_out = {'changed': False, 'skipped': True, 'skip_reason': 'Conditional result was False'}
    summary = host_summary(results(dict(left_out, item=item(R + 'db:1', skip='nothing pending')),
                                   dict(left_out, item=item(R + 'tool:1', skip='pending updates unknown: x'))),
                           'lab1', False)
    assert [(i['status'], i['msg'], i['patched']) for i in summary['images']] == [
        ('nothing_pending', 'nothing pending', False), ('skipped', 'pending updates unknown: x', False)]
    assert summary['failed'] == []
    totals = report({'lab1': summary}, 'b', False, '/b')['totals']
    assert (totals['nothing_pending'], totals['skipped'], totals['built'], totals['failed']) == (1, 1, 0, 0)


def results(*entries):
    return {'changed': True, 'results': list(entries)}


def test_host_summary_status_per_image():
    built = {'item': {'image': R + 'web:2'}, 'changed': True, 'patched': True, 'msg': 'built', 'image': R + 'web:2-p',
             'repo_digest': R + 'web@sha256:1', 'image_id': 'sha256:n', 'packages': [{'name': 'zlib1g'}],
             'open': [{'id': 'CVE-1'}, {'id': 'CVE-2'}], 'layer_size': 4096}
    same = {'item': {'image': R + 'db:1'}, 'changed': False, 'patched': False, 'msg': 'nothing to update',
            'image': R + 'db:1'}
    failed = {'item': {'image': R + 'bad:1'}, 'changed': False, 'failed': True, 'msg': 'image not found'}
    summary = host_summary(results(built, same, failed), 'lab1', False)
    assert (summary['build_host'], summary['check_mode'], summary['failed']) == ('lab1', False, [R + 'bad:1'])
    assert summary['images'][0] == {'image': R + 'web:2', 'status': 'changed', 'msg': 'built', 'patched': True,
                                    'reference': R + 'web:2-p', 'repo_digest': R + 'web@sha256:1',
                                    'image_id': 'sha256:n', 'packages': [{'name': 'zlib1g'}], 'open': 2,
                                    'layer_size': 4096}
    assert summary['images'][1]['status'] == 'ok' and summary['images'][1]['open'] == 0
    assert summary['images'][2] == {'image': R + 'bad:1', 'status': 'failed', 'msg': 'image not found',
                                    'patched': False, 'reference': R + 'bad:1', 'repo_digest': None, 'image_id': None,
                                    'packages': [], 'open': 0, 'layer_size': None}
    empty = host_summary({'results': []}, 'lab1', True)
    assert empty == {'build_host': 'lab1', 'check_mode': True, 'images': [], 'failed': []}


def test_patched_targets_replace_only_what_was_built():
    summary = {'images': [{'image': R + 'web:2', 'reference': R + 'web:2-patched', 'status': 'changed'},
                          {'image': R + 'bad:1', 'reference': R + 'bad:1-patched', 'status': 'failed'}]}
    targets = [{'name': 'web', 'image': R + 'web:2', 'hosts': 'lab1'}, {'name': 'bad', 'image': R + 'bad:1'},
               {'name': 'other', 'image': R + 'other:1'}]
    assert patched_targets(targets, summary) == [
        {'name': 'web', 'image': R + 'web:2-patched', 'hosts': 'lab1'}, {'name': 'bad', 'image': R + 'bad:1'},
        {'name': 'other', 'image': R + 'other:1'}]
    assert targets[0]['image'] == R + 'web:2'  # the input is not changed


def test_patched_targets_from_the_inventory_are_the_hosts_own_containers_of_what_was_built():
    summary = {'images': [{'image': R + 'web:2', 'reference': R + 'web:2-patched', 'status': 'changed'},
                          {'image': R + 'db:1', 'reference': R + 'db:1', 'status': 'nothing_pending'},
                          {'image': R + 'bad:1', 'reference': R + 'bad:1', 'status': 'failed'},
                          {'image': R + 'api:3', 'reference': R + 'api:3-patched', 'status': 'ok'}]}
    report = {'hosts': [
        {'host': 'lab1', 'containers': [{'name': 'web', 'image': R + 'web:2'}, {'name': 'db', 'image': R + 'db:1'},
                                        {'name': 'bad', 'image': R + 'bad:1'}, {'name': 'api', 'image': R + 'api:3'}]},
        {'host': 'lab2', 'containers': [{'name': 'web2', 'image': R + 'web:2'}]}]}
    assert patched_targets([], summary, report, 'lab1') == [
        {'name': 'web', 'image': R + 'web:2-patched'}, {'name': 'api', 'image': R + 'api:3-patched'}]
    assert patched_targets([], summary, report, 'lab2') == [{'name': 'web2', 'image': R + 'web:2-patched'}]
    assert patched_targets([], summary, report, 'lab3') == []
    # A target named already is not added again; the common targets come first.
    common = [{'name': 'web', 'image': R + 'web:2', 'strategy': 'start-first'}]
    assert patched_targets(common, summary, report, 'lab2') == [
        {'name': 'web', 'image': R + 'web:2-patched', 'strategy': 'start-first'},
        {'name': 'web2', 'image': R + 'web:2-patched'}]
    assert patched_targets(common, summary, report, 'lab1')[:2] == [
        {'name': 'web', 'image': R + 'web:2-patched', 'strategy': 'start-first'},
        {'name': 'api', 'image': R + 'api:3-patched'}]
    # A mapping of host to records; a plain list names no host; no host: the common targets only.
    assert patched_targets([], summary, {'lab1': [{'name': 'w', 'image': R + 'web:2'}]}, 'lab1') == [
        {'name': 'w', 'image': R + 'web:2-patched'}]
    assert patched_targets([], summary, [{'name': 'w', 'image': R + 'web:2'}], 'lab1') == []
    assert patched_targets(common, summary, report) == [
        {'name': 'web', 'image': R + 'web:2-patched', 'strategy': 'start-first'}]


def test_report_totals_and_unreachable_hosts():
    lab1 = {'build_host': 'lab1', 'check_mode': False, 'failed': [R + 'bad:1'], 'images': [
        {'image': R + 'web:2', 'status': 'changed', 'patched': True, 'packages': [{}, {}], 'layer_size': 100},
        {'image': R + 'db:1', 'status': 'ok', 'patched': True, 'packages': [], 'layer_size': None},
        {'image': R + 'bad:1', 'status': 'failed', 'patched': False, 'packages': [], 'layer_size': None}]}
    lab2 = {'build_host': 'lab2', 'check_mode': False, 'failed': [], 'images': [
        {'image': R + 'api:1', 'status': 'changed', 'patched': False, 'packages': [], 'layer_size': None}]}
    out = report({'lab1': lab1, 'lab2': lab2, 'lab3': {}}, 'b-1', False, '/rep/b-1/build.json')
    assert (out['run'], out['check_mode'], out['report']) == ('b-1', False, '/rep/b-1/build.json')
    assert [h['status'] for h in out['hosts']] == ['failed', 'ok', 'unreachable']
    assert out['hosts'][0] == dict(lab1, status='failed')
    assert out['hosts'][2] == {'build_host': 'lab3', 'status': 'unreachable', 'check_mode': False, 'images': [],
                               'failed': []}
    assert out['totals'] == {'hosts': 3, 'hosts_unreachable': 1, 'images': 4, 'built': 2, 'would_build': 1,
                             'unchanged': 1, 'failed': 1, 'nothing_pending': 0, 'skipped': 0, 'packages': 2,
                             'layer_bytes': 100}
    assert report({'lab1': None}, 'b-2', True, '/x')['hosts'][0]['status'] == 'unreachable'
