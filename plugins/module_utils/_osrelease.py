# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one os-release(5) parser (the inventory's image OS, image_patch's OS check).

Private: not a public API of the collection.
"""

from __future__ import annotations

import shlex

PATHS = ('/etc/os-release', '/usr/lib/os-release')


def parse_os_release(text):
    """os-release KEY=value lines (quoted or not, comments skipped) -> {KEY: value}; {} when none."""
    values = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        key, dummy, raw = line.partition('=')
        try:
            parts = shlex.split(raw, posix=True)
        except ValueError:  # an unterminated quote: keep the text without its quotes
            parts = [raw.strip('"\'')]
        values[key.strip()] = ' '.join(parts)
    return values


def os_identity(values):
    """The keys that identify the OS, lower-case names (None when ``values`` is empty)."""
    if not values:
        return None
    return {
        'id': values.get('ID'),
        'version_id': values.get('VERSION_ID'),
        'name': values.get('NAME'),
        'pretty_name': values.get('PRETTY_NAME'),
        'version_codename': values.get('VERSION_CODENAME'),
    }
