# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_report_html
short_description: The HTML page of the fleet inventory report
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the inventory role's report (the content of C(inventory.json)) and returns one
    self-contained HTML page (inline CSS, a little inline script; no external asset).
  - The page shows the fleet's figures (hosts, containers, running, unhealthy, updates available,
    critical and high findings), a table per host (its status or error), per image (containers and
    hosts, update status, findings per severity, OS), per Compose project and per container (with
    its labels).
  - Every value is HTML-escaped. Tables sort on a header click and filter by the box above them.
  - The inventory role writes it as C(inventory.html) (format V(html)).
options:
  _input:
    description: The report, V({generated_at, options, totals, hosts, vulnerabilities}).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the fleet page
  ansible.builtin.copy:
    content: "{{ fleet_report | patchops.containers.fleet_report_html }}"
    dest: /srv/reports/inventory.html
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import fleet_html


def fleet_report_html(report):
    expect_dict('fleet_report_html', 'the report', report)
    return fleet_html(report)


class FilterModule:
    def filters(self):
        return {'fleet_report_html': fleet_report_html}
