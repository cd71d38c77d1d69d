# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: build_host_summary
short_description: A build host's build summary
version_added: 0.3.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the summary of one build host from the registered loop of the build role's
    M(patchops.containers.image_patch) task; a result without C(patched) is a failed image.
options:
  _input:
    description: The registered result of the loop (its C(results), each with its C(item)).
    type: dict
    required: true
  build_host:
    description: The inventory name of the build host.
    type: str
    required: true
  check_mode:
    description: Whether the run is in check mode.
    type: bool
    required: true
"""

EXAMPLES = r"""
- name: Collect the results
  ansible.builtin.set_fact:
    summary: "{{ patched | patchops.containers.build_host_summary(inventory_hostname, ansible_check_mode) }}"
"""

RETURN = r"""
_value:
  description: C(build_host), C(check_mode), C(images) (per image C(image), C(status) V(ok), V(changed) or
    V(failed), C(msg), C(patched), C(reference), C(repo_digest), C(image_id), C(packages), C(open) (a count),
    C(layer_size)) and C(failed) (the images that failed).
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._build_plan import host_summary


class FilterModule:
    def filters(self):
        return {'build_host_summary': host_summary}
