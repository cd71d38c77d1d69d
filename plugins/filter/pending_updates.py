# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: pending_updates
short_description: The fleet report with each image's pending package updates
version_added: 0.4.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the inventory role's report (with C(hosts[].images) and their C(packages)) and the package sources
    read by the lookup P(patchops.containers.package_indexes#lookup), and adds to each image every installed
    package that has a newer version in the sources (dpkg's version order, the image's architectures and
    C(all)), the candidate being the highest version in any source.
  - An update is C(security) when its candidate version is in a source marked security.
  - An image without a package database, or any source that could not be read, gives C(pending_status=unknown)
    (with C(pending_reason)), never a count from part of the sources.
  - Needs the Python package C(python-debian) on the controller.
requirements:
  - python-debian (on the controller)
options:
  _input:
    description: The fleet report, V({hosts, totals, ...}).
    type: dict
    required: true
  indexes:
    description: The sources as P(patchops.containers.package_indexes#lookup) returns them.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Add the pending updates to the fleet report
  ansible.builtin.set_fact:
    fleet_report: "{{ fleet_report | patchops.containers.pending_updates(indexes) }}"
"""

RETURN = r"""
_value:
  description:
    - The report with, per image, C(pending) (V({name, arch, installed, candidate, suite, url, security})),
      C(pending_status), C(pending_reason), C(pending_count), C(pending_security) and C(pending_summary)
      (V(N pending (K security))); the totals C(images_pending), C(images_pending_unknown), C(pending) and
      C(pending_security); and C(package_sources) (each source's C(status), C(error), C(indexes) read).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._pending import report_pending


def pending_updates(report, indexes):
    expect_dict('pending_updates', 'the report', report)
    try:
        return report_pending(report, indexes)
    except ValueError as exc:
        raise AnsibleFilterError('pending_updates: %s' % exc)


class FilterModule:
    def filters(self):
        return {'pending_updates': pending_updates}
