# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_outcomes
short_description: The final state of each container of a host's patch run
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the registered result of M(patchops.containers.container_patch) on a host and that of the
    rollback handlers' M(patchops.containers.container_rollback) (if they ran), and returns one record
    per container whose V(outcome) is what the container is at the end of the run, not what the
    rollout did to it.
  - "Outcomes: V(patched) (on its new image), V(current) (was already), V(recreated) (follows another
    container's namespace or link: recreated on its own image), V(restored) (patched, then put back on
    its old image by the rollback handlers), V(rolled_back) (its own swap failed: the same container
    runs again), V(restore_failed) (patched, and the handlers could not put it back: still on its new
    image), V(failed), V(blocked), V(not_attempted) (the host's run stopped before its turn)."
  - Each record also has V(final_id) and V(final_image_id), the container and image it runs at the end.
options:
  _input:
    description: The registered result of M(patchops.containers.container_patch) (may be skipped or empty).
    type: dict
    required: true
  rollback:
    description: The registered result of M(patchops.containers.container_rollback) run by the handlers, if any.
    type: dict
"""

EXAMPLES = r"""
- name: Final outcome per container
  ansible.builtin.set_fact:
    final: "{{ rollout_result | patchops.containers.patch_outcomes(rollback_result | default({})) }}"
"""

RETURN = r"""
_value:
  description: One record per container (the module's result entry, with V(outcome) set to the final state).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_outcomes as _patch_outcomes


def patch_outcomes(rollout, rollback=None):
    try:
        return _patch_outcomes(rollout, rollback)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {'patch_outcomes': patch_outcomes}
