# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""compose_file: update: the service's image: line found, replaced with every other byte kept, refused
where the file would mean more than that, written with a backup."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils import _composefile


FILE = ('version: "2.4"\r\n'
        'services:\r\n'
        '  # the shop\r\n'
        '  db:\r\n'
        '    image: shop/db:1   # pinned\r\n'
        '  "web":\r\n'
        '    build: .\r\n'
        "    image: 'shop/web:1'\r\n"
        '    environment:\r\n'
        '      image: not-this\r\n'
        'x-image: shop/web:1\r\n')


def test_find_image_line_of_a_service():
    assert _composefile.find_image_line(FILE, 'db') == (4, '    image: ', 'shop/db:1', '', '   # pinned')
    assert _composefile.find_image_line(FILE, 'web') == (7, '    image: ', 'shop/web:1', "'", '')
    assert _composefile.find_image_line(FILE, 'api') is None
    assert _composefile.find_image_line('name: x\n', 'web') is None


def test_replace_image_keeps_every_other_byte():
    out = _composefile.replace_image(FILE, 'web', 'shop/web:1', 'reg.example.com/shop/web:1-patched')
    assert out == FILE.replace("image: 'shop/web:1'", "image: 'reg.example.com/shop/web:1-patched'")
    out = _composefile.replace_image(FILE, 'db', 'shop/db:1', 'shop/db@sha256:' + 'a' * 64)
    assert out == FILE.replace('image: shop/db:1   #', 'image: shop/db@sha256:%s   #' % ('a' * 64))
    with pytest.raises(_composefile.ComposeFileError, match='names image shop/db:1 there, not shop/db:2'):
        _composefile.replace_image(FILE, 'db', 'shop/db:2', 'shop/db:3')


@pytest.mark.parametrize('text, why', [
    ('services: {web: {image: "a:1"}}\n', 'not a block mapping'),
    ('services:\n  web: {image: "a:1"}\n', 'service web is not a block mapping'),
    ('services:\n  web:\n    image: ${WEB_IMAGE:-a:1}\n', 'set by a variable'),
    ('x: &base\n  image: a:1\nservices:\n  web:\n    <<: *base\n    image: a:1\n', 'merges a YAML anchor'),
    ('services:\n  web:\n    image: >-\n      a:1\n', 'not a single plain or quoted value'),
    ('services:\n  web:\n    image: *img\n', 'not a single plain or quoted value'),
])
def test_files_not_edited(text, why):
    with pytest.raises(_composefile.ComposeFileError, match=why):
        _composefile.replace_image(text, 'web', 'a:1', 'a:2')


def test_write_edit_keeps_a_backup_once_and_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(_composefile, '_BACKUPS', {})
    path = tmp_path / 'compose.yml'
    path.write_text('services:\n  web:\n    image: shop/web:1\n  db:\n    image: shop/db:1\n')
    path.chmod(0o640)
    web = {'path': str(path), 'service': 'web'}
    backup = _composefile.write_edit(web, 'shop/web:1', 'shop/web:2')
    assert _composefile.write_edit(web, 'shop/web:1', 'shop/web:2') == backup  # a replica: already there
    _composefile.write_edit({'path': str(path), 'service': 'db'}, 'shop/db:1', 'shop/db:2')
    assert path.read_text() == 'services:\n  web:\n    image: shop/web:2\n  db:\n    image: shop/db:2\n'
    assert (path.stat().st_mode & 0o777) == 0o640
    with open(backup) as fh:
        assert fh.read() == 'services:\n  web:\n    image: shop/web:1\n  db:\n    image: shop/db:1\n'
    assert len(list(tmp_path.glob('compose.yml.patchops-*.bak'))) == 1
    _composefile.write_edit(web, 'shop/web:2', 'shop/web:1')  # the rollback
    assert 'image: shop/web:1\n' in path.read_text()


def test_locate_image_takes_the_last_file_that_sets_it(tmp_path):
    base, override = tmp_path / 'a.yml', tmp_path / 'b.yml'
    base.write_text('services:\n  web:\n    image: shop/web:1\n')
    override.write_text('services:\n  web:\n    image: shop/web:2\n')

    def read(path):
        with open(path) as fh:
            return fh.read()
    assert _composefile.locate_image([str(base), str(override)], 'web', read) == (str(override), 3, 'shop/web:2')
    with pytest.raises(_composefile.ComposeFileError, match='no image: line for service db'):
        _composefile.locate_image([str(base)], 'db', read)
    with pytest.raises(_composefile.ComposeFileError, match='cannot be read on this host'):
        _composefile.locate_image([str(tmp_path / 'gone.yml')], 'web', lambda path: None)
