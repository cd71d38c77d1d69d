# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lookup package_indexes against a repository served on loopback: the first compression the
source has, each index once, a source that cannot be read named with its address."""

from __future__ import annotations

import functools
import gzip
import http.server
import threading

import pytest

from controller_code import controller

PACKAGES = 'Package: zlib1g\nVersion: 1:1.2.13.dfsg-1+deb12u1\nArchitecture: amd64\n\nPackage: other\nVersion: 1\n' \
           'Architecture: all\n'


def read_sources(*args, **kwargs):
    # Imported in the test (controller code): tests/unit/conftest.py's on_the_controller undoes its mark.
    return controller('lookup.package_indexes').read_sources(*args, **kwargs)


@pytest.fixture
def repo(tmp_path):
    """A flat repository (Packages.gz only) and a dists/ one (Packages only), and the paths asked."""
    (tmp_path / 'Packages.gz').write_bytes(gzip.compress(PACKAGES.encode()))
    dists = tmp_path / 'dists' / 'bookworm-security' / 'main' / 'binary-amd64'
    dists.mkdir(parents=True)
    (dists / 'Packages').write_text(PACKAGES)
    asked = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code='-', size='-'):
            asked.append((self.path, int(code)))

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d/' % server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()


def test_each_source_read_once_in_the_first_compression_it_has(repo):
    url, asked = repo
    flat, regular = read_sources([{'url': url, 'suite': './'}, {'url': url, 'suite': 'bookworm-security'}],
                                 names=['zlib1g'], timeout=5)
    assert (flat['status'], flat['indexes'], flat['packages']) == (
        'ok', [url + 'Packages.gz'], {'zlib1g': [['1:1.2.13.dfsg-1+deb12u1', 'amd64']]})
    assert (regular['status'], regular['security'], regular['indexes']) == (
        'ok', True, [url + 'dists/bookworm-security/main/binary-amd64/Packages'])
    dists = '/dists/bookworm-security/main/binary-amd64/Packages'
    assert sorted(asked) == sorted([('/Packages.xz', 404), ('/Packages.gz', 200),
                                    (dists + '.xz', 404), (dists + '.gz', 404), (dists, 200)])


def test_a_source_that_cannot_be_read_is_failed_and_named(repo):
    url, dummy = repo
    gone = read_sources([{'url': url + 'nothing/', 'suite': 'bookworm', 'architectures': ['arm64']}], timeout=60)[0]
    assert gone['status'] == 'failed' and gone['packages'] == {}
    assert gone['error'].startswith('cannot read the package index %snothing/dists/bookworm/main/binary-arm64/Packages: '
                                    % url)
    assert gone['error'].count('404') == 3  # .xz, .gz and plain, each named
