# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os

import pytest
from fake_engine import FakeEngine

from ansible_collections.patchops.containers.plugins.module_utils import _image_packages as ip
from ansible_collections.patchops.containers.plugins.module_utils._packages import NO_DATABASE

OS_RELEASE = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
STATUS = ('Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\n'
          'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n')
DEBIAN = {'/etc/os-release': ('link', '../usr/lib/os-release'), '/usr/lib/os-release': OS_RELEASE,
          '/var/lib/dpkg/status': STATUS}
DISTROLESS = {'/etc/os-release': OS_RELEASE, '/var/lib/dpkg/status.d': {
    'libc6': 'Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n',
    'libc6.md5sums': 'x  lib/libc.so.6\n'}}


@pytest.fixture
def engine():
    """The shared fake engine: each image's files are its ``Files`` (see ``FakeAPI.get_archive``)."""
    return FakeEngine()


def image(engine, tag, files):
    iid = engine.add_image([tag])
    engine.images[iid]['Config'] = {'Cmd': ['sh']}
    engine.images[iid]['Files'] = files
    return iid


def entries(engine, *cids):
    return [{'Id': cid, 'State': engine.containers[cid]['State']['Status']} for cid in cids]


def test_image_os_from_os_release_through_its_link(engine):
    image(engine, 'example.test/deb:12', DEBIAN)
    cid = engine.add_container('web', 'example.test/deb:12')
    assert ip.image_os(engine, cid)['version_codename'] == 'bookworm'


def test_packages_of_a_dpkg_image_come_from_its_running_container_then_from_the_cache(engine, tmp_path):
    iid = image(engine, 'example.test/deb:12', DEBIAN)
    cid = engine.add_container('web', 'example.test/deb:12')
    reader = ip.ImagePackages(engine, 'ENGINE:ID', str(tmp_path))
    entry, how = reader.get(iid, entries(engine, cid))
    assert how == 'read' and entry['read_from'] == 'container' and entry['package_db'] == 'dpkg'
    assert [p['name'] for p in entry['packages']] == ['bash', 'zlib1g']
    assert entry['os']['id'] == 'debian'
    path = tmp_path / 'ENGINE-ID' / 'packages' / ('%s.json' % iid.split(':')[1])
    assert json.loads(path.read_text())['packages'] == entry['packages']
    assert oct(os.stat(path).st_mode & 0o777) == '0o644'
    engine.api.calls.clear()
    again, how = ip.ImagePackages(engine, 'ENGINE:ID', str(tmp_path)).get(iid, entries(engine, cid))
    assert how == 'cached' and again['packages'] == entry['packages']
    assert engine.api.calls == []  # nothing asked of the engine


def test_a_container_whose_dpkg_database_changed_is_not_read_a_created_one_is_and_removed(engine, tmp_path):
    iid = image(engine, 'example.test/deb:12', DEBIAN)
    cid = engine.add_container('web', 'example.test/deb:12')
    engine.containers[cid]['Changes'] = [{'Path': '/var/lib/dpkg/status', 'Kind': 0}]
    entry, how = ip.ImagePackages(engine, 'e', str(tmp_path)).get(iid, entries(engine, cid))
    assert (how, entry['read_from'], len(entry['packages'])) == ('read', 'created container', 2)
    (args, kwargs), = engine.api.called('create_container')
    assert kwargs['name'].startswith('patchops-pkgread-%s-' % iid.split(':')[1][:12])
    assert kwargs['labels'] == {'patchops.pkgread': iid} and kwargs['host_config'] == {'network_mode': 'none'}
    assert list(engine.containers) == [cid]  # the reader is gone
    assert not any(m == 'start' for m, a, k in engine.api.calls)


def test_a_never_started_container_is_read_first_without_asking_for_its_changes(engine, tmp_path):
    """Nothing ran in a created container: it holds its image's files, no changes call (slow) needed;
    the OS the caller read already is not read again."""
    iid = image(engine, 'example.test/deb:12', DEBIAN)
    ran = engine.add_container('web', 'example.test/deb:12')
    fresh = engine.add_container('fresh', 'example.test/deb:12', running=False)
    engine.containers[fresh]['State'].update(Status='created')
    engine.api.calls.clear()
    os_read = {'id': 'debian', 'version_id': '12'}
    entry, how = ip.ImagePackages(engine, 'e', str(tmp_path)).get(iid, entries(engine, ran, fresh), os_read)
    assert (how, entry['read_from'], entry['os']) == ('read', 'container', os_read)
    assert [m for m, a, k in engine.api.calls] == ['get_archive']  # the status file, from the created one
    assert engine.api.called('get_archive')[0][0][0] == fresh


def test_the_reader_container_is_removed_when_the_read_fails(engine, tmp_path):
    iid = image(engine, 'example.test/deb:12', DEBIAN)
    engine.api.fail['get_archive'] = ip.EngineError('read: the engine at x answered: boom')
    entry, how = ip.ImagePackages(engine, 'e', str(tmp_path)).get(iid, [])
    assert how == 'failed' and entry['package_db'] is None and 'boom' in entry['packages_note']
    assert engine.containers == {} and len(engine.api.called('remove_container')) == 1
    assert not (tmp_path / 'e' / 'packages').exists()  # a failure is not cached


@pytest.mark.parametrize('changes, changed', [
    ([], False),
    ([{'Path': '/var/lib/dpkg', 'Kind': 0}, {'Path': '/var/lib/dpkg/lock', 'Kind': 1}], False),
    ([{'Path': '/var/lib/dpkg/status', 'Kind': 0}], True),
    ([{'Path': '/var/lib/dpkg/status.d/libc6', 'Kind': 1}], True),
    ([{'Path': '/var/lib', 'Kind': 2}], True),
    ([{'Path': '/var/lib/dpkg/status-old', 'Kind': 0}], False),
])
def test_dpkg_changed(changes, changed):
    assert ip.dpkg_changed(changes) is changed


def test_distroless_status_d_alpine_and_no_database(engine, tmp_path):
    reader = ip.ImagePackages(engine, 'e', str(tmp_path))
    distroless = image(engine, 'example.test/static:1', DISTROLESS)
    alpine = image(engine, 'example.test/alpine:3', {'/etc/os-release': 'ID=alpine\n', '/lib/apk/db/installed': 'P:x\n'})
    busybox = image(engine, 'example.test/busybox:1', {})
    got = {iid: reader.get(iid, [])[0] for iid in (distroless, alpine, busybox)}
    assert got[distroless]['package_db'] == 'dpkg-status.d'
    assert [p['name'] for p in got[distroless]['packages']] == ['libc6']
    assert got[alpine]['package_db'] is None and got[alpine]['packages_note'].startswith('Alpine package database')
    assert got[busybox] == dict(got[busybox], package_db=None, packages=[], packages_note=NO_DATABASE, os=None)


def test_check_mode_reads_but_writes_no_cache(engine, tmp_path):
    iid = image(engine, 'example.test/deb:12', DEBIAN)
    entry, how = ip.ImagePackages(engine, 'e', str(tmp_path), check_mode=True).get(iid, [])
    assert how == 'read' and len(entry['packages']) == 2
    assert not (tmp_path / 'e').exists() and engine.containers == {}


def test_an_unwritable_cache_is_one_warning(engine, tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    warnings = []
    reader = ip.ImagePackages(engine, 'e', str(blocker), warn=warnings.append)
    for tag in ('example.test/a:1', 'example.test/b:1'):
        assert reader.get(image(engine, tag, DEBIAN), [])[1] == 'read'
    assert len(warnings) == 1 and 'read again on every run' in warnings[0]


def test_a_corrupted_cache_entry_is_read_again(engine, tmp_path):
    iid = image(engine, 'example.test/deb:12', DEBIAN)
    reader = ip.ImagePackages(engine, 'e', str(tmp_path))
    os.makedirs(reader.dir)
    with open(reader.path(iid), 'w') as fh:
        fh.write('{not json')
    assert reader.get(iid, [])[1] == 'read'
    assert reader.get(iid, [])[1] == 'cached'


def test_images_result():
    containers = [{'name': 'b', 'image_id': 'sha256:1'}, {'name': 'a', 'image_id': 'sha256:1'},
                  {'name': 'c', 'image_id': 'sha256:2'}]
    inspects = {'sha256:1': {'RepoTags': ['x:1'], 'RepoDigests': ['x@sha256:9'], 'Created': 'then'}}
    oses = {'sha256:1': {'id': 'debian'}}
    reads = {'sha256:1': ({'package_db': 'dpkg', 'packages_note': None, 'packages': [{'name': 'p'}],
                           'os': {'id': 'debian'}, 'read_from': 'container'}, 'cached'),
             'sha256:2': ({'package_db': None, 'packages_note': 'not read: boom', 'packages': [], 'os': None,
                           'read_from': None}, 'failed')}
    images, counts = ip.images_result(inspects, containers, oses, reads)
    assert counts == {'packages_read': 0, 'packages_cached': 1, 'packages_failed': 1}
    assert images[0] == {'id': 'sha256:1', 'tags': ['x:1'], 'repo_digests': ['x@sha256:9'], 'created': 'then',
                         'containers': ['a', 'b'], 'os': {'id': 'debian'}, 'package_db': 'dpkg', 'packages_note': None,
                         'packages_source': 'cache', 'packages': [{'name': 'p'}]}
    assert images[1]['packages_source'] is None and images[1]['tags'] == []
    images, counts = ip.images_result(inspects, containers, oses)
    assert set(counts.values()) == {0}
    assert [(i['package_db'], i['packages_note']) for i in images] == [(None, ip.NOT_ASKED)] * 2
