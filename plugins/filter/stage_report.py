# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_report
short_description: The stage report of a run (stage.json)
version_added: 0.3.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the stage report from the line of each host (P(patchops.containers.stage_host_summary#filter)),
    each with its C(host); a host without a line lost its connection before the stage role's C(always) ran
    there and has status V(unreachable).
options:
  _input:
    description: A mapping of inventory host name to its line (empty or null when it has none).
    type: dict
    required: true
  run:
    description: The report's run name.
    type: str
    required: true
  state:
    description: The stage state of the run (V(present), V(absent), V(pruned)).
    type: str
    required: true
  check_mode:
    description: Whether the run was in check mode.
    type: bool
    required: true
  path:
    description: Where the report is written (its C(report) key).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Write stage.json
  ansible.builtin.copy:
    content: "{{ host_lines | patchops.containers.stage_report(run, 'present', ansible_check_mode, dir ~ '/stage.json') | to_nice_json }}"
    dest: "{{ dir }}/stage.json"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: C(run), C(state), C(check_mode), C(report), C(totals) (C(hosts), C(hosts_changed), C(hosts_ok),
    C(hosts_failed), C(hosts_unreachable), C(images), C(actions) (a count per action), C(fetch_bytes) (the
    estimated bytes of the images not already present), C(removed)) and C(hosts) (the lines).
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._stage_plan import report


class FilterModule:
    def filters(self):
        return {'stage_report': report}
