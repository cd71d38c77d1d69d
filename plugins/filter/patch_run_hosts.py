# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_run_hosts
short_description: The hosts of a patch run written by one or several slices
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the host records of a run's report and, per slice (each ansible-playbook run that writes into
    the same report, such as the jobs of an AWX sliced job), the play's hosts and those still in the play.
  - Returns how many hosts the run has in all, those that lost their connection during the run (out of
    their play with no record) and those never attempted (no record, still in their play).
options:
  _input:
    description: The host records (each with V(host)).
    type: list
    elements: dict
    required: true
  plays:
    description: Per slice, V({hosts_all, hosts_left}).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Hosts of the run
  ansible.builtin.debug:
    msg: "{{ records | patchops.containers.patch_run_hosts(plays) }}"
"""

RETURN = r"""
_value:
  description: "V({total: N, unreachable: [hosts], not_attempted: [hosts]})."
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_run_hosts


class FilterModule:
    def filters(self):
        return {'patch_run_hosts': patch_run_hosts}
