# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of staging: free space, expected IDs."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._stage import id_matches, space_error, space_needed

REG = '10.213.7.1:5000'
ID1 = 'sha256:' + 'a' * 64
ID2 = 'sha256:' + 'b' * 64


# -- free space ------------------------------------------------------------------------------

def test_space_needed_counts_known_sizes_times_factor_plus_margin():
    assert space_needed([(100, None), (None, None), (50, 2)], 3, 1000) == (300 + 100 + 1000, 1)
    assert space_needed([], 3, 0) == (0, 0)


def test_space_error_names_host_path_needed_and_free():
    msg = space_error('lab1', '/var/lib/docker', 5 * 1024 ** 3, 1024 ** 3, 2 * 1024 ** 3, 2.0, 1024 ** 3)
    assert 'lab1' in msg and '/var/lib/docker' in msg
    assert '5368709120 bytes) needed' in msg and '1073741824 bytes) free' in msg
    assert 'nothing was pulled' in msg


def test_id_matches():
    assert id_matches(ID1, ID1) and id_matches(ID1, 'a' * 64) and id_matches(ID1, 'a' * 12)
    assert not id_matches(ID1, 'a' * 11) and not id_matches(ID1, ID2) and not id_matches(ID1, None)
