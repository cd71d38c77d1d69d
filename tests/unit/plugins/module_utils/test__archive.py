# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docker save archives: identity, tags, size, corruption."""

from __future__ import annotations

import gzip

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._archive import inspect_archive
from ansible_collections.patchops.containers.plugins.module_utils._manifest import StageError
from fake_engine import make_archive


def test_inspect_archive_reads_id_tags_and_size(tmp_path):
    path = str(tmp_path / 'a.tar')
    image_id = make_archive(path)
    found = inspect_archive(path)
    assert found['image_id'] == image_id
    assert found['repo_tags'] == ['example.test/app:v1']
    assert found['size'] > 8000


def test_inspect_archive_accepts_gzip_layers_and_compressed_archives(tmp_path):
    path = str(tmp_path / 'a.tar')
    image_id = make_archive(path, gz_layers=True)
    assert inspect_archive(path)['image_id'] == image_id
    with open(path, 'rb') as src, gzip.open(str(tmp_path / 'a.tar.gz'), 'wb') as dst:
        dst.write(src.read())
    assert inspect_archive(str(tmp_path / 'a.tar.gz'))['image_id'] == image_id


@pytest.mark.parametrize('kind, words', [
    ('flip', 'is corrupted: layer l0/layer.tar has content'),
    ('truncate', 'corrupted'),
])
def test_inspect_archive_finds_corruption(tmp_path, kind, words):
    path = str(tmp_path / 'bad.tar')
    make_archive(path, corrupt=kind)
    with pytest.raises(StageError, match=words):
        inspect_archive(path)


def test_inspect_archive_refuses_several_images_and_non_archives(tmp_path):
    path = str(tmp_path / 'two.tar')
    make_archive(path, images=2)
    with pytest.raises(StageError, match='holds 2 images'):
        inspect_archive(path)
    junk = tmp_path / 'junk.tar'
    junk.write_bytes(b'not a tar at all' * 100)
    with pytest.raises(StageError, match='not a docker save archive'):
        inspect_archive(str(junk))
    with pytest.raises(StageError, match='does not exist'):
        inspect_archive(str(tmp_path / 'missing.tar'))
