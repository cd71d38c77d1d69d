# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The free space check of staging (``_stage_space``): the bytes needed, the message, byte counts in words."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._stage_space import (
    human_bytes,
    space_error,
    space_needed,
)


def test_space_needed_counts_known_sizes_times_factor_plus_margin():
    assert space_needed([(100, None), (None, None), (50, 2)], 3, 1000) == (300 + 100 + 1000, 1)
    assert space_needed([], 3, 0) == (0, 0)


def test_space_error_names_host_path_needed_and_free():
    msg = space_error('lab1', '/var/lib/docker', 5 * 1024 ** 3, 1024 ** 3, 2 * 1024 ** 3, 2.0, 1024 ** 3)
    assert 'lab1' in msg and '/var/lib/docker' in msg
    assert '5368709120 bytes) needed' in msg and '1073741824 bytes) free' in msg
    assert 'nothing was pulled' in msg


@pytest.mark.parametrize('value, text', [
    (None, 'unknown'), (0, '0 B'), (1023, '1023 B'), (1024, '1.0 KiB'), (1536, '1.5 KiB'),
    (5 * 1024 ** 3, '5.0 GiB'), (2 * 1024 ** 5, '2048.0 TiB')])
def test_human_bytes(value, text):
    assert human_bytes(value) == text
