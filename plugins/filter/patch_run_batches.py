# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_run_batches
short_description: A slice's serial batches as the run went, one more at the end of each batch
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the batches a slice of a patch run recorded so far and returns them with the batch that
    is ending now appended, so the report holds the batches Ansible actually ran, slice by slice
    (the jobs of an AWX sliced job each cut their own hosts by C(serial)).
  - The batch ending now is made of the play's hosts in no earlier batch that are still in the
    current batch or left the play during it (failed or unreachable). Hosts not reached yet are
    left for their own batch.
options:
  _input:
    description: The batches recorded so far (lists of host names), oldest first.
    type: list
    elements: list
    required: true
  hosts_all:
    description: The play's hosts (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  hosts_left:
    description: The hosts still in the play (C(ansible_play_hosts)).
    type: list
    elements: str
    required: true
  batch:
    description: The current batch's hosts still in the play (C(ansible_play_batch)).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Record the batch ending now
  ansible.builtin.set_fact:
    batches: "{{ batches | patchops.containers.patch_run_batches(ansible_play_hosts_all, ansible_play_hosts, ansible_play_batch) }}"
"""

RETURN = r"""
_value:
  description: The batches, oldest first, the one ending now last (unchanged when it has no host).
  type: list
  elements: list
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_run_batch


class FilterModule:
    def filters(self):
        return {'patch_run_batches': patch_run_batch}
