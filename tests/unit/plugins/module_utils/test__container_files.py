# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_container_files: a container's files through the archive endpoint (the shared fake engine serves
each image's ``Files``)."""

from __future__ import annotations

import io
import tarfile

import pytest
from fake_engine import FakeEngine, NotFound

from ansible_collections.patchops.containers.plugins.module_utils import _container_files as cf

OS_RELEASE = 'ID=debian\nVERSION_ID="12"\n'
FILES = {'/etc/os-release': ('link', '../usr/lib/os-release'), '/usr/lib/os-release': OS_RELEASE,
         '/var/lib/dpkg/status': 'Package: zlib1g\n' * 100, '/dangling': ('link', '/nowhere'),
         '/var/lib/dpkg/status.d': {'libc6': 'Package: libc6\n', 'libc6.md5sums': 'x  lib/libc.so.6\n'}}


@pytest.fixture
def box():
    engine = FakeEngine()
    iid = engine.add_image(['example.test/deb:12'])
    engine.images[iid]['Files'] = FILES
    return engine, engine.add_container('web', 'example.test/deb:12')


def test_read_file_follows_links_and_stops_at_the_size_limit(box):
    engine, cid = box
    assert cf.read_file(engine, cid, '/etc/os-release') == OS_RELEASE
    assert cf.read_file(engine, cid, '/var/lib/dpkg/status', limit=10) is None
    with pytest.raises(NotFound):
        cf.read_file(engine, cid, '/nowhere')
    with pytest.raises(NotFound):
        cf.read_file(engine, cid, '/dangling')


def test_read_dir_reads_the_regular_files_right_under_it(box):
    engine, cid = box
    assert cf.read_dir(engine, cid, '/var/lib/dpkg/status.d') == FILES['/var/lib/dpkg/status.d']
    assert cf.read_dir(engine, cid, '/usr/lib/os-release') is None  # a file, not a directory
    with pytest.raises(cf.TooLarge):
        cf.read_dir(engine, cid, '/var/lib/dpkg/status.d', limit=-2 * 1024 * 1024)


def test_exists_takes_a_link_as_it_is(box):
    engine, cid = box
    assert cf.exists(engine, cid, '/etc/os-release') and cf.exists(engine, cid, '/dangling')
    assert not cf.exists(engine, cid, '/bin/sh')


def test_tar_of_a_path_as_the_engine_sends_it(box):
    engine, cid = box
    with tarfile.open(fileobj=io.BytesIO(cf.tar_of(engine, cid, '/usr/lib/os-release'))) as tar:
        member = tar.getmembers()[0]
        assert tar.extractfile(member).read().decode() == OS_RELEASE
    assert cf.tar_of(engine, cid, '/nowhere') is None


def test_read_os_release_follows_the_link_and_parses(box):
    engine, cid = box
    assert cf.read_os_release(engine, cid) == {'ID': 'debian', 'VERSION_ID': '12'}
    bare = engine.add_image(['example.test/bare:1'])
    engine.images[bare]['Files'] = {}
    assert cf.read_os_release(engine, engine.add_container('bare', 'example.test/bare:1')) is None
