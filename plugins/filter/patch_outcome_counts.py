# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_outcome_counts
short_description: How many containers ended a patch run in each outcome
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes container records from P(patchops.containers.patch_outcomes#filter) and returns the number
    of containers per outcome, with every outcome word present (zero when none).
options:
  _input:
    description: The records.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Count the outcomes of the run
  ansible.builtin.debug:
    msg: "{{ records | patchops.containers.patch_outcome_counts }}"
"""

RETURN = r"""
_value:
  description: "V({patched: N, current: N, recreated: N, restored: N, rolled_back: N, restore_failed: N, failed: N,
    blocked: N, not_attempted: N})."
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_outcome_counts


class FilterModule:
    def filters(self):
        return {'patch_outcome_counts': patch_outcome_counts}
