# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: build_items
short_description: What the build role patches
version_added: 0.3.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns the items for M(patchops.containers.image_patch), each image reference once; first the given
    images, then the images of the patch targets, then those of the inventory's container records. An
    earlier source wins; an entry without an image is skipped.
  - An item's C(report) is its own, else the one O(reports) names for its image.
  - From an inventory report with pending updates (O(from_inventory) the content of C(inventory.json)), an image
    without a report or packages of its own gets its pending packages (every host's) as C(packages), or C(skip)
    (V(nothing pending), or why the pending updates are unknown) when none are known to be pending.
options:
  _input:
    description: The images to patch (C(build_images)), C({image, output, packages, report}).
    type: list
    elements: dict
    required: true
  targets:
    description: Patch targets, C({name, image}).
    type: list
    elements: dict
  from_inventory:
    description: Container records of an inventory report (C(image)), a mapping of inventory host name to
      such lists, or the inventory report itself (C(hosts), with its images' pending updates).
    type: raw
  reports:
    description: Mapping of image reference to the path of its scanner report on the build host.
    type: dict
"""

EXAMPLES = r"""
- name: Work out what to patch
  ansible.builtin.set_fact:
    to_patch: "{{ build_images | patchops.containers.build_items(build_targets, build_from_inventory, build_reports) }}"
"""

RETURN = r"""
_value:
  description: The items to patch, C({image, output, packages, report, skip}) (null when not given); an item with
    C(skip) is not built (the reason).
  type: list
  elements: dict
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._build_plan import items


class FilterModule:
    def filters(self):
        return {'build_items': items}
