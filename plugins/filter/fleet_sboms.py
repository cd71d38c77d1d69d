# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_sboms
short_description: A CycloneDX SBOM per image of the fleet inventory
version_added: 0.4.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the hosts of the inventory role's report (each with C(images) as
    M(patchops.containers.container_inventory) returns them with O(patchops.containers.container_inventory#module:packages=true))
    and returns one item per image ID whose packages were read; an image found on several hosts is one item.
  - C(bom) is a CycloneDX 1.5 JSON document (a dict). Each installed package is a component with its package URL,
    C(pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12) (C(ubuntu) and C(ubuntu-22.04) for Ubuntu; the
    version percent-encoded, an epoch's C(:) as C(%3A)), with C(upstream=SOURCE) when the source package has another
    name or version. The image's OS is a component of type C(operating-system), the image is
    C(metadata.component) (its repository, its ID as version and SHA-256 hash, its tags and digests as properties).
  - The serial number is derived from the image ID and its packages, so the same image gives the same SBOM.
  - The inventory role writes each as C(sbom/<first 12 digits of the image ID>.cdx.json) beside the report.
options:
  _input:
    description: The report's hosts, each V({host, images}).
    type: list
    elements: dict
    required: true
  timestamp:
    description: The SBOMs' C(metadata.timestamp), for example the report's C(generated_at); none when not given.
    type: str
  with_bom:
    description: Include C(bom) in each item; V(false) gives the listing only (for the report itself).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Write an SBOM per image
  ansible.builtin.copy:
    content: "{{ item.bom | ansible.builtin.to_nice_json }}\n"
    dest: "/srv/reports/{{ item.file }}"
    mode: "0644"
  loop: "{{ fleet_report.hosts | patchops.containers.fleet_sboms(fleet_report.generated_at) }}"
  loop_control:
    label: "{{ item.file }}"
"""

RETURN = r"""
_value:
  description:
    - One item per image ID, sorted by C(file), V({image_id, tags, hosts, containers, package_db, packages, file, bom}),
      with C(packages) the number of packages, C(containers) the number of containers that run the image on those
      hosts and C(file) the SBOM's path relative to the report directory.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.patchops.containers.plugins.plugin_utils._sbom import fleet_sboms as _fleet_sboms


def fleet_sboms(hosts, timestamp=None, with_bom=True):
    if not isinstance(hosts, list):
        raise AnsibleFilterError('fleet_sboms: expected the report\'s hosts as a list, got %s' % type(hosts).__name__)
    return _fleet_sboms(hosts, timestamp, with_bom)


class FilterModule:
    def filters(self):
        return {'fleet_sboms': fleet_sboms}
