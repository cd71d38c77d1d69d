# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest
from fake_engine import FakeEngine

from ansible_collections.patchops.containers.plugins.module_utils._distroless import (
    DistrolessRun,
    layer_tar,
    parse_unpacked,
    read_status_dir,
    status_text,
    unpack_script,
    upgrades,
)
from ansible_collections.patchops.containers.plugins.module_utils._patchcontainer import PatchError

ZLIB = """Package: zlib1g
Source: zlib
Version: 1:1.2.13.dfsg-1
Architecture: amd64
Installed-Size: 168
Depends: libc6 (>= 2.14)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.
"""
TZDATA = """Package: tzdata
Version: 2026b-0+deb12u1
Architecture: all
Installed-Size: 2961
Description: time zone and daylight-saving time data
"""


def test_read_status_dir_entries_and_md5sums():
    files = {'zlib1g': ZLIB + '\nPackage: other\nVersion: 1\n', 'zlib1g.md5sums': 'abc  usr/lib/libz.so.1\n', 'tz': TZDATA,
             'README': 'no fields\n', 'empty': ''}
    got = read_status_dir(files)
    assert sorted(got) == ['tzdata', 'zlib1g']
    assert got['zlib1g']['version'] == '1:1.2.13.dfsg-1' and got['zlib1g']['md5sums'] is True
    assert got['zlib1g']['installed_kib'] == 168 and got['zlib1g']['file'] == 'zlib1g'
    # The file name is the image's own, not necessarily the package's.
    assert got['tzdata']['file'] == 'tz' and got['tzdata']['md5sums'] is False


def test_status_text_marks_each_package_installed():
    text = status_text(read_status_dir({'zlib1g': ZLIB, 'tzdata': TZDATA.replace('Version', 'Status: deinstall\nVersion')}))
    stanzas = text.strip().split('\n\n')
    assert [s.splitlines()[0] for s in stanzas] == ['Package: tzdata', 'Package: zlib1g']
    for stanza in stanzas:
        assert stanza.splitlines()[1] == 'Status: install ok installed'
        assert stanza.count('Status:') == 1
    assert ' in gzip and PKZIP.' in text


def test_upgrades_only_newer_candidates():
    installed = read_status_dir({'zlib1g': ZLIB, 'tzdata': TZDATA})
    asked = []

    def at_least(pairs):
        asked.extend(pairs)
        return [False for dummy in pairs]
    plan = upgrades(installed, ['zlib1g', 'tzdata'], {'zlib1g': '1:1.2.13.dfsg-1+deb12u1', 'tzdata': '2026b-0+deb12u1'},
                    at_least)
    # An equal or missing candidate is not asked about; dpkg decides the others.
    assert asked == [('1:1.2.13.dfsg-1', '1:1.2.13.dfsg-1+deb12u1')]
    assert plan == {'zlib1g': {'before': '1:1.2.13.dfsg-1', 'after': '1:1.2.13.dfsg-1+deb12u1'}}
    older = upgrades(installed, ['zlib1g'], {'zlib1g': '1:1.2.11-1'}, lambda pairs: [True for dummy in pairs])
    assert older == {}
    assert upgrades(installed, ['tzdata'], {}, at_least) == {}


def test_unpack_script_is_valid_shell_naming_the_planned_versions():
    plan = {'zlib1g': {'before': '1:1.2.13.dfsg-1', 'after': '1:1.2.13.dfsg-1+deb12u1'}}
    script = unpack_script("-o 'Dir::State::status=/var/tmp/patchops/admin/status'", plan)
    assert 'zlib1g=1:1.2.13.dfsg-1+deb12u1' in script and 'dpkg-deb -x' in script
    assert subprocess.run(['sh', '-n', '-c', script], check=False).returncode == 0


def test_parse_unpacked_versions_and_conffiles():
    text = ('Get:1 http://mirror ./ zlib1g 1:1.2.13.dfsg-1+deb12u1 [87 kB]\n'
            'conffile\tbase-files\t/etc/issue\nunpacked\tbase-files\t12.4+deb12u15\n'
            'unpacked\tzlib1g\t1:1.2.13.dfsg-1+deb12u1\n')
    assert parse_unpacked(text) == {'base-files': {'version': '12.4+deb12u15', 'conffiles': ['/etc/issue']},
                                    'zlib1g': {'version': '1:1.2.13.dfsg-1+deb12u1', 'conffiles': []}}


def _tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            if kind == 'dir':
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind in ('sym', 'hard'):
                info.type = tarfile.SYMTYPE if kind == 'sym' else tarfile.LNKTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_layer_tar_files_and_status_entries_in_the_image_names():
    data = _tar([
        ('root', 'dir', None), ('root/usr', 'dir', None), ('root/usr/lib', 'dir', None),
        ('root/usr/lib/libz.so.1.2.13', 'file', b'ELF'), ('root/usr/lib/libz.so.1', 'sym', 'libz.so.1.2.13'),
        ('root/usr/lib/again', 'hard', 'root/usr/lib/libz.so.1.2.13'),
        ('root/etc/issue', 'file', b'new default'), ('root/etc/other', 'file', b'new'),
        ('root/var/lib/dpkg/status.d/zlib1g', 'file', b'Package: zlib1g\n'),
        ('root/var/lib/dpkg/status.d/zlib1g.md5sums', 'file', b'abc  usr/lib/libz.so.1.2.13\n'),
        ('root/var/lib/dpkg/status.d/tzdata', 'file', b'Package: tzdata\n'),
        ('root/var/lib/dpkg/status.d/tzdata.md5sums', 'file', b'def  usr/share/zoneinfo/UTC\n'),
    ])
    installed = read_status_dir({'zlib1g': ZLIB, 'zlib1g.md5sums': '', 'tz': TZDATA})
    out = layer_tar(data, installed, keep={'/etc/issue'})
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        members = dict((m.name, m) for m in tar.getmembers())
        assert sorted(members) == ['etc/other', 'usr/lib/again', 'usr/lib/libz.so.1', 'usr/lib/libz.so.1.2.13',
                                   'var/lib/dpkg/status.d/tz', 'var/lib/dpkg/status.d/zlib1g',
                                   'var/lib/dpkg/status.d/zlib1g.md5sums']
        assert tar.extractfile('usr/lib/libz.so.1.2.13').read() == b'ELF'
        assert members['usr/lib/libz.so.1'].linkname == 'libz.so.1.2.13'
        assert members['usr/lib/again'].linkname == 'usr/lib/libz.so.1.2.13'
        assert tar.extractfile('var/lib/dpkg/status.d/tz').read() == b'Package: tzdata\n'


# -- DistrolessRun with a fake tooling container and a fake image container ----------------------

class _Target:
    """The image's created container: status.d files, files by path, what was put."""

    engine = FakeEngine(info={'Name': 'build1'})  # nothing is asked of it: _distroless() puts a _Tool in as the box
    warn = staticmethod(lambda msg: None)
    step_timeout = 60

    def __init__(self, status_d, files=()):
        self.status_d = dict(status_d)
        self.files = set(files)
        self.timings = {}
        self.puts = []
        self.after = None

    def exists(self, path):
        return path in self.files

    def put(self, path, data):
        self.puts.append((path, data))

    def tree(self, path):
        return self.after


class _Tool:
    """The tooling container: each command answered by the first rule whose text is in it."""

    host = 'build1'
    id = 'tool1'

    def __init__(self, rules, archive=b''):
        self.rules = rules
        self.ran = []
        self.timings = {}
        self.data = archive

    def run_step(self, what, script, env=None, timeout=None):
        self.ran.append(script)
        for needle, answer in self.rules:
            if needle in script:
                return answer
        raise AssertionError('unexpected command: %s' % script)

    def archive(self, path):
        return self.data


def _distroless(target, tool, **params):
    run = DistrolessRun(target, dict({'image': 'gw:1', 'tooling_image': 'debian:12'}, **params), retries=0, delay=0,
                        find_image=lambda ref: None, sleep=lambda s: None)
    run.box = tool
    return run


def test_plan_compares_candidates_with_status_d_in_the_tooling_container():
    target = _Target({'zlib1g': ZLIB, 'tz': TZDATA})
    tool = _Tool([('apt-cache', (0, 'tzdata\t2026b-0+deb12u1\nzlib1g\t1:1.2.13.dfsg-1+deb12u1\n')),
                  ('dpkg --compare-versions', (0, '0\n'))])
    run = _distroless(target, tool)
    plan, open_findings = run.plan(run.installed(), None)
    assert plan == {'zlib1g': {'before': '1:1.2.13.dfsg-1', 'after': '1:1.2.13.dfsg-1+deb12u1'}} and open_findings == []
    # apt in the tooling container reads the image's packages, not its own.
    assert 'Dir::State::status=/var/tmp/patchops/admin/status' in tool.ran[0]
    pinned, dummy = _distroless(target, tool, packages=['tzdata=2026c-0+deb12u1']).plan(run.installed(), None)
    assert pinned == {'tzdata': {'before': '2026b-0+deb12u1', 'after': '2026c-0+deb12u1'}}


def test_apply_puts_the_unpacked_tree_and_checks_status_d():
    plan = {'zlib1g': {'before': '1:1.2.13.dfsg-1', 'after': '1:1.2.13.dfsg-1+deb12u1'}}
    newer = ZLIB.replace('1:1.2.13.dfsg-1', '1:1.2.13.dfsg-1+deb12u1')
    tree = _tar([('root', 'dir', None), ('root/etc/zconf', 'file', b'kept'), ('root/usr/lib/libz.so.1', 'file', b'ELF'),
                 ('root/var/lib/dpkg/status.d/zlib1g', 'file', newer.encode())])
    target = _Target({'zlib1g': ZLIB}, files={'/etc/zconf'})
    target.after = {'zlib1g': newer}
    tool = _Tool([('dpkg-deb', (0, 'conffile\tzlib1g\t/etc/zconf\nunpacked\tzlib1g\t1:1.2.13.dfsg-1+deb12u1\n'))], tree)
    run = _distroless(target, tool)
    after = run.apply(plan, run.installed())
    assert after['zlib1g']['version'] == '1:1.2.13.dfsg-1+deb12u1' and 'install' in tool.timings
    (path, data), = target.puts
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert path == '/' and tar.getnames() == ['usr/lib/libz.so.1', 'var/lib/dpkg/status.d/zlib1g']

    tool = _Tool([('dpkg-deb', (0, 'unpacked\tzlib1g\t1:1.2.13.dfsg-1\n'))], tree)
    with pytest.raises(PatchError, match=r'missing zlib1g\): .*nothing was built'):
        _distroless(_Target({'zlib1g': ZLIB}), tool).apply(plan, {})
    target.after = {'zlib1g': ZLIB}
    tool = _Tool([('dpkg-deb', (0, 'unpacked\tzlib1g\t1:1.2.13.dfsg-1+deb12u1\n'))], tree)
    with pytest.raises(PatchError, match='did not write the planned versions of zlib1g'):
        _distroless(target, tool).apply(plan, {})


def test_without_a_tooling_image_nothing_runs():
    run = _distroless(_Target({'zlib1g': ZLIB}), _Tool([]), tooling_image=None)
    with pytest.raises(PatchError, match='set tooling_image') as caught:
        run.update()
    assert caught.value.details['reason'] == 'distroless'
