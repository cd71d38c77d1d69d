# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one dpkg database parser: a ``/var/lib/dpkg/status`` file, or the entries of a distroless
``/var/lib/dpkg/status.d/`` directory (one control stanza per file), into package records.

Pure: no engine, no file access (``_image_packages`` reads the files).

Private: not a public API of the collection.
"""

from __future__ import annotations

import re

from typing import TypedDict

# Where an image's package database is; the values of ``package_db`` in a record.
DPKG_STATUS = '/var/lib/dpkg/status'
DPKG_STATUS_D = '/var/lib/dpkg/status.d'
DB_DPKG = 'dpkg'
DB_STATUS_D = 'dpkg-status.d'
# Package databases that are named, not read.
UNREAD_DATABASES = (
    ('/lib/apk/db/installed', 'Alpine package database (/lib/apk/db/installed) not read: Alpine images are '
                              'not covered (no Alpine archive to test against)'),
    ('/var/lib/rpm', 'RPM database (/var/lib/rpm) not read: RPM images are not covered '
                     '(no RPM archive to test against)'),
)
NO_DATABASE = 'no package database (%s or %s)' % (DPKG_STATUS, DPKG_STATUS_D)
INSTALLED = 'install ok installed'
_SOURCE = re.compile(r'^(\S+)(?:\s+\((\S+)\))?$')


class Package(TypedDict):
    """One installed package (the shape of ``images[].packages[]`` in container_inventory's result)."""
    name: str
    version: str
    source: str  # the source package; the package's own name when the database names none
    source_version: str  # the source's version; the package's own when the database names none
    arch: str


def stanzas(text):
    """The control stanzas of ``text`` as {Field: value} (continuation lines joined with newlines)."""
    out = []
    fields = {}
    last = None
    for line in (text or '').splitlines():
        if not line.strip():
            if fields:
                out.append(fields)
            fields, last = {}, None
        elif line[0] in ' \t':
            if last:
                fields[last] += '\n' + line.strip()
        elif ':' in line:
            last, dummy, value = line.partition(':')
            last = last.strip()
            fields[last] = value.strip()
    if fields:
        out.append(fields)
    return out


def record(fields):
    """The Package of one stanza, or None when it is not an installed package."""
    name, version = fields.get('Package'), fields.get('Version')
    if not name or not version:
        return None
    status = fields.get('Status')
    if status is not None and ' '.join(status.split()) != INSTALLED:
        return None
    source, source_version = name, version
    match = _SOURCE.match(fields.get('Source') or '')
    if match:
        source = match.group(1)
        source_version = match.group(2) or version
    return Package(name=name, version=version, source=source, source_version=source_version,
                   arch=fields.get('Architecture') or '')


def _sorted(packages):
    return sorted(packages, key=lambda p: (p['name'], p['arch'], p['version']))


def parse_status(text):
    """The installed packages of a dpkg ``status`` file (Status ``install ok installed``), sorted."""
    return _sorted(p for p in map(record, stanzas(text)) if p)


def parse_status_d(entries):
    """The packages of a distroless ``status.d`` directory, ``{file name: text}``; ``*.md5sums`` are
    file lists, not entries. An entry without a Status field is installed (that is how distroless
    writes them)."""
    found = []
    for name in sorted(entries):
        if name.endswith('.md5sums') or name.startswith('.'):
            continue
        found.extend(p for p in map(record, stanzas(entries[name])) if p)
    return _sorted(found)
