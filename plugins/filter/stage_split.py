# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_split
short_description: The stage role's items by source
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Sorts the items of P(patchops.containers.stage_items#filter) into registry images, archives on the
    host (given, or copied from the controller) and references, for the tasks of the stage role.
  - In check mode an archive that would be copied is not on the host yet; it is listed in C(not_copied).
options:
  _input:
    description: The items to stage.
    type: list
    elements: dict
    required: true
  copied:
    description: The registered result of the loop that copies controller-side archives (C(src)) to the host.
    type: dict
    required: true
  check_mode:
    description: Whether the play runs in check mode.
    type: bool
    required: true
"""

EXAMPLES = r"""
- name: Sort the items by source
  ansible.builtin.set_fact:
    sorted_items: "{{ to_stage | patchops.containers.stage_split(copied_archives, ansible_check_mode) }}"
"""

RETURN = r"""
_value:
  description: C(registry) (items to pull), C(archives) (C({archive, ref, expected_id}) to load), C(refs)
    (C({ref}) of every item with a reference) and C(not_copied) (archives not copied in check mode).
  type: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._stage_plan import split


class FilterModule:
    def filters(self):
        return {'stage_split': split}
