# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_items
short_description: What the stage role stages on one host
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the items for M(patchops.containers.image_stage) on one host, each reference once; first the
    given images, then the available updates of the inventory (pinned to their C(remote_digest) with
    C(expected_digest)), then the images of the patch targets. An earlier source wins.
options:
  _input:
    description: The images to stage (C(stage_images)), C({ref}), C({archive}) or C({src}) items.
    type: list
    elements: dict
    required: true
  from_inventory:
    description: Container records of an inventory report (C(update), C(image), C(remote_digest)), or
      a mapping of inventory host name to such lists.
    type: raw
    required: true
  targets:
    description: Patch targets, C({name, image}).
    type: list
    elements: dict
    required: true
  host:
    description: The inventory name of the host (for a mapping O(from_inventory)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Work out what to stage on this host
  ansible.builtin.set_fact:
    to_stage: "{{ stage_images | patchops.containers.stage_items(stage_from_inventory, stage_targets, inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: The items to stage.
  type: list
  elements: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._stage_plan import items


class FilterModule:
    def filters(self):
        return {'stage_items': items}
