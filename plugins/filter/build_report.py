# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: build_report
short_description: The build report of a run (build.json)
version_added: 0.3.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the build report from the summary of each build host
    (P(patchops.containers.build_host_summary#filter)); a host without one lost its connection before the
    role finished there and has status V(unreachable), a host with a failed image V(failed), else V(ok).
options:
  _input:
    description: A mapping of inventory host name to its summary (empty or null when it has none).
    type: dict
    required: true
  run:
    description: The report's run name.
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
- name: Write build.json
  ansible.builtin.copy:
    content: "{{ summaries | patchops.containers.build_report(run, ansible_check_mode, dir ~ '/build.json') | to_nice_json }}"
    dest: "{{ dir }}/build.json"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: C(run), C(check_mode), C(report), C(totals) (C(hosts), C(hosts_unreachable), C(images), C(built),
    C(would_build), C(unchanged), C(failed), C(packages), C(layer_bytes)) and C(hosts) (the summaries with a
    C(status)).
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._build_plan import report


class FilterModule:
    def filters(self):
        return {'build_report': report}
