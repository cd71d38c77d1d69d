# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: patch_host_record
short_description: A host's record of a patch run, each container's outcome set against what its engine shows
version_added: 0.3.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes what a patch run collected on one host and returns the host's record for the run report.
  - Each container's outcome is what the modules did (the rollout's and the restore's results, see
    P(patchops.containers.patch_outcomes#filter)) when the engine shows it at the end of the run (the
    read-back, a P(patchops.containers.container_inventory#module) result); each container has the
    engine's view in C(engine) (V({state, id, image, image_id, health}), V(state=missing) when no
    container has the name).
  - "When the engine shows something else (no container, another container, another image) the outcome
    is V(diverged), with C(module_outcome) (what the modules said) and C(diverged) (both, in words), and
    the host fails. When the engine cannot be read, every outcome is V(unknown), C(engine.state) V(unknown),
    C(readback.engine) V(unknown), and the host fails."
  - "Also V(recovered) (an interrupted swap of an earlier run this run finished or rolled back),
    V(unresolved) (an interrupted swap that could not be recovered, with C(way_out)), V(kept_new) (the
    give-back found the set-aside container gone and kept the new one), V(abandoned) (the give-back found
    no container to keep), V(held) (not moved: its target image failed verification on another container)."
  - Host status V(planned) (check mode), V(patched), V(unchanged), V(rolled_back) or V(failed).
options:
  _input:
    description:
      - "V({host, check_mode, rollout, rollback, readback, held_by_scan_gate, engine, plan, unhealthy_before,
        checks_failed, host_failed, host_failure})."
      - C(rollout), C(rollback) and C(readback) are registered module results (may be skipped or empty);
        C(checks_failed) is what the post-patch tests found failing.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: This host's record
  ansible.builtin.set_fact:
    record: >-
      {{ {'host': inventory_hostname, 'check_mode': ansible_check_mode, 'rollout': rollout_result,
          'readback': readback} | patchops.containers.patch_host_record }}
"""

RETURN = r"""
_value:
  description:
    - V({host, status, message, check_mode, engine, readback, plan, containers, held_by_scan_gate, unhealthy_before,
      posttest_failures, restored_by_rollback}); C(readback) is V({engine, error, diverged}).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import host_record


def patch_host_record(facts):
    try:
        return host_record(facts)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {'patch_host_record': patch_host_record}
