# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_run_summary
short_description: The stage summary of a run
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the summary the stage role publishes as the AWX job artifact C(patchops_stage), from the
    line of each host (P(patchops.containers.stage_host_summary#filter)).
options:
  _input:
    description: A mapping of inventory host name to its line; a host with no line has status V(unreachable).
    type: dict
    required: true
  state:
    description: The stage state of the run (V(present), V(absent), V(pruned)).
    type: str
    required: true
  check_mode:
    description: Whether the run was in check mode.
    type: bool
    required: true
"""

EXAMPLES = r"""
- name: Publish the stage summary
  ansible.builtin.set_stats:
    data:
      patchops_stage: "{{ host_lines | patchops.containers.stage_run_summary('present', ansible_check_mode) }}"
"""

RETURN = r"""
_value:
  description: C(state), C(check_mode), C(hosts), C(failed) (failed or unreachable hosts) and C(changed) hosts.
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._stage_plan import run_summary


class FilterModule:
    def filters(self):
        return {'stage_run_summary': run_summary}
