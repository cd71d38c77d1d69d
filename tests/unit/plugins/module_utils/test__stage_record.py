# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a staging plan leaves behind (``_stage_record``): its stage manifest entries and its result line."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._stage_record import plan_entries, plan_report

APP = '10.213.7.1:5000/patchops/app'
DIGEST = 'sha256:' + '1' * 64
ID1 = 'sha256:' + 'a' * 64


def registry_plan(action='pull', image=None):
    return {'item': {'ref': APP + ':v2'}, 'source': 'registry', 'reference': APP + ':v2', 'keys': [APP + ':v2'],
            'attempts': 2, 'digest': DIGEST, 'pull_ref': APP + '@' + DIGEST, 'image': image, 'action': action,
            'estimate': 4096 if action == 'pull' else None}


def archive_plan(action='load', image=None):
    return {'item': {'archive': '/srv/app.tar'}, 'source': 'archive', 'archive': '/srv/app.tar',
            'keys': [APP + ':v3', 'busybox:stable'], 'reference': APP + ':v3', 'image_id': ID1, 'digest': None,
            'attempts': 0, 'image': image, 'action': action, 'estimate': 1000 if action == 'load' else None}


def test_entries_of_a_registry_plan_after_the_pull():
    assert plan_entries(registry_plan(image={'Id': ID1, 'Size': 5000})) == {APP + ':v2': {
        'reference': APP + ':v2', 'repository': APP, 'tag': 'v2', 'digest': DIGEST,
        'repo_digest': APP + '@' + DIGEST, 'image_id': ID1, 'size': 5000, 'source': 'registry'}}


def test_entries_before_the_pull_have_no_image():
    entry = plan_entries(registry_plan())[APP + ':v2']
    assert (entry['image_id'], entry['size']) == (None, None)


def test_entries_of_an_archive_one_per_tag_with_the_archive():
    entries = plan_entries(archive_plan())
    assert sorted(entries) == sorted([APP + ':v3', 'busybox:stable'])
    assert entries['busybox:stable'] == {
        'reference': 'busybox:stable', 'repository': 'busybox', 'tag': 'stable', 'digest': None,
        'repo_digest': None, 'image_id': ID1, 'size': None, 'source': 'archive', 'archive': '/srv/app.tar'}


@pytest.mark.parametrize('action, done, reported', [
    ('pull', True, 'pulled'), ('pull', False, 'would_pull'),
    ('load', True, 'loaded'), ('load', False, 'would_load'),
    ('tag', True, 'tagged'), ('tag', False, 'would_tag'),
    ('present', True, 'present'), ('present', False, 'present')])
def test_report_action(action, done, reported):
    plan = archive_plan(action) if action == 'load' else registry_plan(action)
    assert plan_report(plan, done)['action'] == reported


def test_report_of_a_pulled_image():
    assert plan_report(registry_plan(image={'Id': ID1, 'Size': 5000}), True) == {
        'reference': APP + ':v2', 'references': [APP + ':v2'], 'source': 'registry', 'action': 'pulled',
        'digest': DIGEST, 'image_id': ID1, 'size': 5000, 'estimated_bytes': 4096, 'archive': None,
        'registry_attempts': 2}


def test_report_of_an_archive_not_loaded_yet_names_its_image_id():
    report = plan_report(archive_plan(), False)
    assert (report['image_id'], report['size'], report['archive'], report['registry_attempts']) == (
        ID1, None, '/srv/app.tar', 0)
