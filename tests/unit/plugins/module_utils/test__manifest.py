# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stage manifest: path, read and write, entries, lookups."""

from __future__ import annotations

import os

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._manifest import (
    StageError,
    empty_manifest,
    manifest_path,
    merge_entry,
    read_manifest,
    resolve_staged,
    stamp,
    staged_entry,
    write_manifest,
)

REG = '10.213.7.1:5000'
D1 = 'sha256:' + '1' * 64
D2 = 'sha256:' + '2' * 64
ID1 = 'sha256:' + 'a' * 64
ID2 = 'sha256:' + 'b' * 64


# -- manifest --------------------------------------------------------------------------------

def entry(image_id, digest, tag='v2', repo=REG + '/patchops/app'):
    return {'reference': '%s:%s' % (repo, tag), 'repository': repo, 'tag': tag, 'digest': digest,
            'repo_digest': '%s@%s' % (repo, digest) if digest else None, 'image_id': image_id,
            'size': 10, 'source': 'registry'}


def test_manifest_path_is_keyed_by_engine_id(tmp_path):
    path = manifest_path(str(tmp_path), 'RHJE:Y3SW:AT5C')
    assert path == os.path.join(str(tmp_path), 'RHJE-Y3SW-AT5C', 'stage.json')


def test_read_missing_manifest_is_empty(tmp_path):
    assert read_manifest(str(tmp_path), 'E:1')['images'] == {}


def test_write_then_read_round_trip_and_no_temp_file_left(tmp_path):
    path = manifest_path(str(tmp_path), 'E:1')
    data = empty_manifest('E:1', 'lab1')
    data['images']['x'] = entry(ID1, D1)
    write_manifest(str(tmp_path), 'E:1', data)
    assert read_manifest(str(tmp_path), 'E:1') == data
    assert os.listdir(os.path.dirname(path)) == ['stage.json']


@pytest.mark.parametrize('content, words', [
    ('{"images": {', 'corrupted'),
    ('[]', 'corrupted'),
    ('{"format": 99, "images": {}}', 'format 99'),
])
def test_bad_manifest_is_a_clear_error(tmp_path, content, words):
    path = manifest_path(str(tmp_path), 'E:1')
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as fh:
        fh.write(content)
    with pytest.raises(StageError, match=words):
        read_manifest(str(tmp_path), 'E:1')


def test_merge_entry_keeps_staged_at_when_unchanged_and_records_previous():
    images = {}
    assert merge_entry(images, 'k', entry(ID1, D1), 't1') is True
    assert merge_entry(images, 'k', entry(ID1, D1), 't2') is False
    assert images['k']['staged_at'] == 't1'
    assert merge_entry(images, 'k', entry(ID2, D2), 't3') is True
    assert images['k']['image_id'] == ID2 and images['k']['staged_at'] == 't3'
    assert images['k']['previous'] == [{'image_id': ID1, 'digest': D1, 'staged_at': 't1', 'superseded_at': 't3'}]


def test_resolve_staged_by_tag_digest_and_both():
    manifest = {'images': {REG + '/patchops/app:v2': entry(ID1, D1)}}
    assert resolve_staged(manifest, REG + '/patchops/app:v2') == ID1
    assert resolve_staged(manifest, REG + '/patchops/app@' + D1) == ID1
    assert resolve_staged(manifest, REG + '/patchops/app:v2@' + D1) == ID1
    assert resolve_staged(manifest, REG + '/patchops/app:v2@' + D2) is None
    assert resolve_staged(manifest, REG + '/patchops/app:v3') is None
    assert resolve_staged(manifest, REG + '/patchops/other@' + D1) is None
    assert resolve_staged(manifest, 'Not A Ref') is None
    assert staged_entry(manifest, REG + '/patchops/app:v2')['digest'] == D1


def test_resolve_staged_normalises_docker_hub_names():
    manifest = {'images': {'nginx:latest': entry(ID1, D1, tag='latest', repo='nginx')}}
    assert resolve_staged(manifest, 'docker.io/library/nginx') == ID1


def test_stamp_is_utc_to_the_second():
    text = stamp()
    assert len(text) == 20 and text.endswith('Z') and text[10] == 'T'
