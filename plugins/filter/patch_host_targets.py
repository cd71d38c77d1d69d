# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_host_targets
short_description: The containers to patch on one host
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the host's own list from C(patchops_targets_by_host) if it has one, else the common
    C(patchops_targets).
  - Either may be YAML text, as an AWX survey passes it.
options:
  _input:
    description: C(patchops_targets), the targets of every host.
    type: raw
    required: true
  by_host:
    description: C(patchops_targets_by_host), a mapping of inventory host name to a list of targets.
    type: raw
    required: true
  host:
    description: The inventory name of the host.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: This host's targets
  ansible.builtin.set_fact:
    patchops_host_targets: >-
      {{ patchops_targets | default([])
         | patchops.containers.patch_host_targets(patchops_targets_by_host | default({}), inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: The targets of the host, C({name, image[, strategy]}) each.
  type: list
  elements: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._patch_input import host_targets


class FilterModule:
    def filters(self):
        return {'patch_host_targets': host_targets}
