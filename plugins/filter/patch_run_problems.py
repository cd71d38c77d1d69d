# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_run_problems
short_description: What is wrong with the parameters of a patch run
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Checks the parameters of C(playbooks/patch.yml) on the controller, before any host is touched, and
    returns one sentence per bad parameter, naming the value; an empty list when all are good.
  - The play keyword O(serial) is read when a play starts, where a bad value either stops
    C(ansible-playbook) with an unclear error or is taken as every host at once (V(0), V(-1), V([])).
  - C(patchops_serial) must be a number of hosts (1 or more) or a percentage from 1% to 100%, or a
    non-empty list of them; C(patchops_max_fail_percentage) a number from 0 to 100; C(patchops_targets)
    a list of mappings and C(patchops_targets_by_host) a mapping of host to lists. Lists and mappings
    may be YAML text, as an AWX survey passes them.
options:
  _input:
    description: C(patchops_serial) (V(null) when not given).
    type: raw
    required: true
  max_fail_percentage:
    description: C(patchops_max_fail_percentage).
    type: raw
    required: true
  targets:
    description: C(patchops_targets).
    type: raw
    required: true
  by_host:
    description: C(patchops_targets_by_host).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Check the run's parameters
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join('; ') }}"
  vars:
    _problems: >-
      {{ patchops_serial | default(none) | patchops.containers.patch_run_problems(
           patchops_max_fail_percentage | default(0), patchops_targets | default([]),
           patchops_targets_by_host | default({})) }}
"""

RETURN = r"""
_value:
  description: One message per bad parameter; empty when the parameters are good.
  type: list
  elements: str
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._patch_input import problems


class FilterModule:
    def filters(self):
        return {'patch_run_problems': problems}
