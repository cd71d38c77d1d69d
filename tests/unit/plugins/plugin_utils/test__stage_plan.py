# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the stage role stages on a host and how it reports it."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.plugin_utils._stage_plan import (
    host_summary,
    items,
    report,
    run_summary,
    split,
)

R = 'reg:5000/shop/'
D = 'sha256:' + '1' * 64


def record(image, update='available', digest=D):
    return {'name': image.split('/')[-1], 'image': image, 'update': update, 'remote_digest': digest}


def test_items_each_reference_once_earlier_source_first():
    images = [{'ref': R + 'web:2'}, {'archive': '/srv/db.tar'}]
    inventory = [record(R + 'web:2'), record(R + 'api:1'), record(R + 'api:1'), record(R + 'old:1', 'current'),
                 {'name': 'x', 'update': 'available', 'image': ''}]
    targets = [{'name': 'api', 'image': R + 'api:1'}, {'name': 'job', 'image': R + 'job:3'},
               {'name': 'job2', 'image': R + 'job:3'}, {'name': 'none'}]
    assert items(images, inventory, targets, 'lab1') == images + [
        {'ref': R + 'api:1', 'expected_digest': D}, {'ref': R + 'job:3'}]


def test_items_from_an_inventory_mapping_by_host():
    inventory = {'lab1': [record(R + 'web:2')], 'lab2': None}
    assert items([], inventory, [], 'lab1') == [{'ref': R + 'web:2', 'expected_digest': D}]
    assert items([], inventory, [], 'lab2') == [] and items([], inventory, [], 'lab3') == []
    assert items(None, None, None, 'lab1') == []


def test_items_keep_a_missing_remote_digest_as_none():
    assert items([], [{'image': R + 'web:2', 'update': 'available'}], [], 'h') == [
        {'ref': R + 'web:2', 'expected_digest': None}]


COPIED = {'results': [
    {'item': {'src': 'files/a.tar', 'ref': R + 'a:1'}, 'dest': '/var/lib/patchops/archives/a.tar', 'changed': True},
    {'item': {'src': 'files/b.tar'}, 'dest': '/var/lib/patchops/archives/b.tar', 'changed': False},
]}
ITEMS = [{'ref': R + 'web:2', 'expected_digest': D}, {'archive': '/srv/db.tar', 'expected_id': 'sha256:' + 'a' * 64},
         {'src': 'files/a.tar', 'ref': R + 'a:1'}, {'src': 'files/b.tar'}]


def test_split_by_source():
    out = split(ITEMS, COPIED, False)
    assert out['registry'] == [ITEMS[0]]
    assert out['archives'] == [
        {'archive': '/srv/db.tar', 'ref': None, 'expected_id': 'sha256:' + 'a' * 64},
        {'archive': '/var/lib/patchops/archives/a.tar', 'ref': R + 'a:1', 'expected_id': None},
        {'archive': '/var/lib/patchops/archives/b.tar', 'ref': None, 'expected_id': None}]
    assert out['refs'] == [{'ref': R + 'web:2'}, {'ref': R + 'a:1'}]
    assert out['not_copied'] == []


def test_split_in_check_mode_leaves_out_archives_not_on_the_host_yet():
    out = split(ITEMS, COPIED, True)
    assert [a['archive'] for a in out['archives']] == ['/srv/db.tar', '/var/lib/patchops/archives/b.tar']
    assert out['not_copied'] == ['files/a.tar']
    assert split([], {}, True)['not_copied'] == [] and split([], {'skipped': True}, False)['archives'] == []


PULLED = {'changed': True, 'images': [{'reference': R + 'web:2', 'action': 'pulled', 'image_id': 'sha256:x',
                                       'digest': D, 'source': 'registry', 'estimated_bytes': 10, 'size': 99}]}


def test_host_summary_changed_ok_failed():
    line = host_summary([{'skipped': True, 'changed': False}, PULLED, {}, {}], {'changed': False}, [], {}, {})
    assert line == {'status': 'changed', 'msg': '', 'not_copied': [], 'removed': [], 'kept': [], 'forgotten': [],
                    'images': [{'reference': R + 'web:2', 'action': 'pulled', 'image_id': 'sha256:x', 'digest': D,
                                'source': 'registry', 'estimated_bytes': 10, 'size': 99}]}
    assert host_summary([{}, {'changed': False}], {}, [], {}, {})['status'] == 'ok'
    failed = host_summary([{'failed': True, 'msg': 'no space'}, {}], {'failed': True}, ['files/a.tar'], {}, {})
    assert failed['status'] == 'failed' and failed['msg'] == 'no space; ' and failed['not_copied'] == ['files/a.tar']


def test_host_summary_of_a_prune_and_a_forget():
    pruned = {'changed': True, 'removed': [{'image_id': 'sha256:a'}], 'kept': [{'image_id': 'sha256:b'}]}
    forgotten = {'changed': True, 'forgotten': [R + 'web:1']}
    line = host_summary([{}, {}, forgotten, pruned], {}, [], pruned, forgotten)
    assert (line['removed'], line['kept'], line['forgotten']) == (['sha256:a'], ['sha256:b'], [R + 'web:1'])


def test_run_summary_lists_failed_unreachable_and_changed_hosts():
    hosts = {'lab1': {'status': 'changed'}, 'lab2': {'status': 'ok'}, 'lab3': {'status': 'failed'},
             'lab4': {'status': 'unreachable'}}
    assert run_summary(hosts, 'present', False) == {'state': 'present', 'check_mode': False, 'hosts': hosts,
                                                    'failed': ['lab3', 'lab4'], 'changed': ['lab1']}


def test_report_names_each_host_and_counts_actions_and_bytes():
    lab1 = {'status': 'changed', 'msg': '', 'not_copied': [], 'removed': ['sha256:a'], 'kept': [], 'forgotten': [],
            'images': [{'reference': R + 'web:2', 'action': 'pulled', 'estimated_bytes': 10},
                       {'reference': R + 'db:1', 'action': 'present', 'estimated_bytes': 500},
                       {'reference': R + 'api:1', 'action': 'loaded', 'estimated_bytes': None}]}
    lab2 = {'status': 'failed', 'msg': 'no space', 'images': [{'reference': R + 'web:2', 'action': 'pulled',
                                                               'estimated_bytes': 7}], 'removed': []}
    out = report({'lab1': lab1, 'lab2': lab2, 'lab3': {}}, 'r1', 'present', True, '/rep/r1/stage.json')
    assert (out['run'], out['state'], out['check_mode'], out['report']) == ('r1', 'present', True, '/rep/r1/stage.json')
    assert [h['host'] for h in out['hosts']] == ['lab1', 'lab2', 'lab3']
    assert out['hosts'][0] == dict(lab1, host='lab1')
    assert out['hosts'][2] == {'host': 'lab3', 'status': 'unreachable', 'msg': '', 'images': [], 'not_copied': [],
                               'removed': [], 'kept': [], 'forgotten': []}
    assert out['totals'] == {'hosts': 3, 'hosts_changed': 1, 'hosts_ok': 0, 'hosts_failed': 1, 'hosts_unreachable': 1,
                             'images': 4, 'actions': {'pulled': 2, 'present': 1, 'loaded': 1}, 'fetch_bytes': 17,
                             'removed': 1}
