# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scanner report fixtures (tests/unit/fixtures/scan) as the scan unit tests read them."""

from __future__ import annotations

import base64
import os
import tempfile

from ansible_collections.patchops.containers.plugins.module_utils._scan_report import load_report

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'scan')
MALFORMED = os.path.join(FIXTURES, 'malformed')
# Files that are not clean UTF-8 text (sanity rejects those in the tree) are kept base64-encoded.
ENCODED = os.path.join(FIXTURES, 'encoded')
MALFORMED_ENCODED = ('binary-garbage.json', 'not-utf8.json')
DECODED = tempfile.mkdtemp(prefix='patchops-scan-fixtures-')
for _encoded in os.listdir(ENCODED):
    with open(os.path.join(ENCODED, _encoded), 'rb') as _src, \
            open(os.path.join(DECODED, _encoded[:-len('.b64')]), 'wb') as _dst:
        _dst.write(base64.b64decode(_src.read()))


def fixture(name):
    if os.path.exists(os.path.join(DECODED, name)):
        return os.path.join(DECODED, name)
    return os.path.normpath(os.path.join(FIXTURES, name))


def malformed_path(name):
    return os.path.join(DECODED if name in MALFORMED_ENCODED else MALFORMED, name)


def report(name):
    return load_report(fixture(name))


def by_key(findings):
    return dict(((f['id'], f['package']), f) for f in findings)


def finding(vuln_id, package='pkg', installed='1.0', severity='HIGH', fixed=None, klass='os-pkgs'):
    return {'id': vuln_id, 'package': package, 'installed': installed, 'fixed': fixed or [],
            'severity': severity, 'class': klass, 'target': 't'}
