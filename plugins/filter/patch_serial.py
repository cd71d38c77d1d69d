# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_serial
short_description: The batches of a patch run, for the play keyword serial
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the value for O(serial) of the patch play from C(patchops_serial).
  - Not given (V(null)) means V([1, '25%', '100%']), a canary host then waves; text that starts with
    V([) is read as a YAML list, as an AWX survey passes it; anything else is returned as given.
  - It does not validate; P(patchops.containers.patch_run_problems#filter) does, before any host is touched.
options:
  _input:
    description: C(patchops_serial), a batch size, a list of them, YAML text of a list, or V(null).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Patch in batches
  hosts: docker_hosts
  serial: "{{ patchops_serial | default(none) | patchops.containers.patch_serial }}"
  tasks: []
"""

RETURN = r"""
_value:
  description: The batch size or list of batch sizes.
  type: raw
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._patch_input import serial


class FilterModule:
    def filters(self):
        return {'patch_serial': serial}
