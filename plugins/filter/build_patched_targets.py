# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: build_patched_targets
short_description: Patch targets with the images the build patched
version_added: 0.3.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the patch targets with each image the build patched replaced by its patched reference; the
    other targets unchanged.
options:
  _input:
    description: Patch targets, C({name, image}).
    type: list
    elements: dict
    required: true
  summary:
    description: The build host's summary (P(patchops.containers.build_host_summary#filter)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Hand the patched references on
  ansible.builtin.set_fact:
    targets: "{{ build_targets | patchops.containers.build_patched_targets(summary) }}"
"""

RETURN = r"""
_value:
  description: The targets, images replaced.
  type: list
  elements: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._build_plan import patched_targets


class FilterModule:
    def filters(self):
        return {'build_patched_targets': patched_targets}
