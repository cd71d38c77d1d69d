# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_host_summary
short_description: One host's line of the stage summary
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the status (V(ok), V(changed), V(failed)), the failure messages and the images of one host
    from the registered results of the stage role's M(patchops.containers.image_stage) tasks.
options:
  _input:
    description: The registered results of the load, pull, forget and prune tasks (skipped ones included).
    type: list
    elements: dict
    required: true
  copied:
    description: The registered result of the archive copy.
    type: dict
  not_copied:
    description: Archives not copied (check mode).
    type: list
    elements: str
  pruned:
    description: The registered result of the prune task.
    type: dict
  forgotten:
    description: The registered result of the forget task.
    type: dict
"""

EXAMPLES = r"""
- name: Record this host's result
  ansible.builtin.set_fact:
    host_line: "{{ [loaded, pulled] | patchops.containers.stage_host_summary(copied, [], {}, {}) }}"
"""

RETURN = r"""
_value:
  description: C(status), C(msg), C(images), C(not_copied), C(removed), C(kept), C(forgotten).
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._stage_plan import host_summary


class FilterModule:
    def filters(self):
        return {'stage_host_summary': host_summary}
