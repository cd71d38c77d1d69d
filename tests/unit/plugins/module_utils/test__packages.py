# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import subprocess
import sys

from ansible_collections.patchops.containers.plugins.module_utils._packages import (
    parse_status,
    parse_status_d,
    record,
    stanzas,
)

STATUS = """Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation.
 .
 It provides the libssl and libcrypto shared libraries.

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1
Depends: libc6 (>= 2.14)

Package: removed-but-configured
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: half
Status: install ok unpacked
Architecture: amd64
Version: 2.0-1

Package: base-files
Status: install  ok  installed
Architecture: amd64
Version: 12.4+deb12u5

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
"""


def test_stanzas_join_continuation_lines():
    first = stanzas(STATUS)[0]
    assert first['Package'] == 'libssl3'
    assert first['Description'].splitlines()[1:] == ["This package is part of the OpenSSL project's implementation.",
                                                     '.', 'It provides the libssl and libcrypto shared libraries.']
    assert len(stanzas(STATUS)) == 6
    assert stanzas('') == [] and stanzas(None) == []
    assert stanzas('\n\nPackage: a\n\n\n') == [{'Package': 'a'}]


def test_status_keeps_only_installed_packages_sorted_with_their_source():
    assert parse_status(STATUS) == [
        {'name': 'base-files', 'version': '12.4+deb12u5', 'source': 'base-files', 'source_version': '12.4+deb12u5',
         'arch': 'amd64'},
        # Source with its own version: a binary rebuilt from another upload of its source.
        {'name': 'libgcc-s1', 'version': '12.2.0-14', 'source': 'gcc-12', 'source_version': '12.2.0-14',
         'arch': 'amd64'},
        {'name': 'libssl3', 'version': '3.0.11-1~deb12u2', 'source': 'openssl', 'source_version': '3.0.11-1~deb12u2',
         'arch': 'amd64'},
        {'name': 'zlib1g', 'version': '1:1.2.13.dfsg-1', 'source': 'zlib', 'source_version': '1:1.2.13.dfsg-1',
         'arch': 'amd64'},
    ]


def test_source_version_differs_from_the_binary_version():
    assert record({'Package': 'libx', 'Version': '1.2-3+b1', 'Source': 'x (1.2-3)', 'Architecture': 'arm64',
                   'Status': 'install ok installed'}) == {
        'name': 'libx', 'version': '1.2-3+b1', 'source': 'x', 'source_version': '1.2-3', 'arch': 'arm64'}


def test_a_stanza_without_name_or_version_is_no_package():
    assert record({'Package': 'x'}) is None
    assert record({'Version': '1'}) is None
    assert record({'Package': 'x', 'Version': '1'}) == {'name': 'x', 'version': '1', 'source': 'x',
                                                        'source_version': '1', 'arch': ''}


def test_status_d_reads_one_stanza_per_file_and_skips_md5sums():
    entries = {
        'libc6': 'Package: libc6\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\nSource: glibc\n',
        'libc6.md5sums': 'd41d8cd98f00b204e9800998ecf8427e  lib/x86_64-linux-gnu/libc.so.6\n',
        'base-files': 'Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n',
        'tzdata': 'Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\nArchitecture: all\n',
        'gone': 'Package: gone\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: all\n',
    }
    assert [(p['name'], p['version'], p['source'], p['arch']) for p in parse_status_d(entries)] == [
        ('base-files', '12.4+deb12u5', 'base-files', 'amd64'),
        ('libc6', '2.36-9+deb12u7', 'glibc', 'amd64'),
        ('tzdata', '2024a-0+deb12u1', 'tzdata', 'all'),
    ]
    assert parse_status_d({}) == []


def test_imports_without_the_docker_sdk():
    """Pure parsing: it loads where the docker SDK cannot be imported (the controller, a filter)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    code = ("import sys; sys.modules['docker'] = None\n"
            "from ansible_collections.patchops.containers.plugins.module_utils import _packages\n"
            "assert 'docker' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "print(len(_packages.parse_status('Package: a\\nVersion: 1\\n')))\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(root, 'build'))
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, '1'), done.stderr
