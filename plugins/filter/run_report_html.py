# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: run_report_html
short_description: The HTML page of a patch run report
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the content of a patch run's C(report.json) (V({summary, hosts})) and returns one
    self-contained HTML page (inline CSS and SVG, a little inline script; no external asset).
  - The page shows the hosts and container counts per outcome, each batch and its hosts in order
    (the hosts never attempted when the run stopped early), one row per container with its outcome
    in colour and words, image and digest before and after, a downtime bar, the verification
    results, the containers held by the scan gate with their reasons, and the run's parameters.
  - Every value is HTML-escaped. Tables sort on a header click and filter by the box above them.
  - The report role writes it as C(report.html).
options:
  _input:
    description: The report, V({summary, hosts}) as in C(report.json).
    type: dict
    required: true
  params:
    description:
      - The run's parameters, V({hosts, pattern, serial, max_fail_percentage, targets, targets_by_host}).
      - O(params.hosts) (the play's hosts in order) and O(params.serial) cut the hosts into batches as
        Ansible does; without them all hosts form one batch.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Write the run page
  ansible.builtin.copy:
    content: >-
      {{ {'summary': summary, 'hosts': records}
         | patchops.containers.run_report_html({'hosts': ansible_play_hosts_all, 'serial': patchops_serial}) }}
    dest: "{{ report_root }}/report.html"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import run_html


def run_report_html(report, params=None):
    expect_dict('run_report_html', 'the report', report)
    expect_dict('run_report_html', 'the parameters', params, optional=True)
    return run_html(report, params)


class FilterModule:
    def filters(self):
        return {'run_report_html': run_report_html}
