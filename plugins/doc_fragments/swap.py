# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Options of every module that recreates containers (container_patch, container_rollback),
    # with patchops.containers.probes for verification.
    DOCUMENTATION = r"""
options:
  stop_timeout:
    description: Seconds the old container gets to stop before it is killed.
    type: int
    default: 10
  state_dir:
    description: Directory of the journal and lock, one subdirectory per engine ID.
    type: path
    default: /var/lib/patchops
  lock_timeout:
    description: Seconds to wait for another run on the same engine to finish.
    type: int
    default: 300
"""
