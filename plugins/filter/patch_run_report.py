# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_run_report
short_description: The patch run's report from every host's record
version_added: 0.3.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes every host's record (P(patchops.containers.patch_host_record#filter)) of a run, all slices
    included, and what each slice recorded of its play, and returns the report V({summary, hosts}).
  - C(summary.hosts) lists the hosts per status, the unreachable ones (out of their play with no record)
    and those never attempted; C(summary.containers) counts the containers per outcome (every outcome word,
    zeros included); C(summary.engine_unknown) the hosts whose engine could not be read at the end.
options:
  _input:
    description: The hosts' records.
    type: list
    elements: dict
    required: true
  plays:
    description: Per slice, V({hosts_all, hosts_left}) (the play's hosts, and those still in it).
    type: list
    elements: dict
    required: true
  run:
    description: The run's name.
    type: str
  report:
    description: The path of report.json.
    type: str
  check_mode:
    description: Whether the run is in check mode.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The run report
  ansible.builtin.set_fact:
    report: "{{ records | patchops.containers.patch_run_report(plays, run='20261206T210000Z') }}"
"""

RETURN = r"""
_value:
  description:
    - V({summary, hosts}); C(summary) is V({run, report, check_mode, hosts_total, hosts, containers, engine_unknown,
      max_downtime_ms}), C(hosts) the records sorted by host.
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import run_report


class FilterModule:
    def filters(self):
        return {'patch_run_report': run_report}
