# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The free space check of staging (``image_stage``): the bytes a plan needs on the engine's
filesystem, the message when they are not free, and byte counts in words. Pure: the caller
reads the free space.

Private: not a public API of the collection.
"""

from __future__ import annotations

# What an archive's size is multiplied by, in place of space_factor (see image_stage's space_factor).
ARCHIVE_SPACE_FACTOR = 2


def human_bytes(value):
    if value is None:
        return 'unknown'
    size = float(value)
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(size) < 1024 or unit == 'TiB':
            return ('%d %s' % (size, unit)) if unit == 'B' else ('%.1f %s' % (size, unit))
        size /= 1024.0
    return '%d B' % value  # pragma: no cover


def space_needed(estimates, factor, min_free):
    """Bytes that must be free: each estimate (None = unknown, not counted) times ``factor``,
    plus ``min_free``. Returns (needed, unknown_count)."""
    total = 0
    unknown = 0
    for size, item_factor in estimates:
        if size is None:
            unknown += 1
            continue
        total += int(size * (item_factor if item_factor is not None else factor))
    return total + int(min_free or 0), unknown


def space_error(host, path, needed, free, fetch, factor, min_free):
    return ('not enough free space on %s to stage: %s has %s (%d bytes) free, %s (%d bytes) needed '
            '(estimated download %s x space_factor %s + min_free_bytes %s); nothing was pulled or loaded'
            % (host, path, human_bytes(free), free, human_bytes(needed), needed, human_bytes(fetch),
               factor, human_bytes(min_free)))
