# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: build_report_html
short_description: The HTML page of a build report
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the content of the build role's C(build.json) (V({run, check_mode, totals, hosts})) and
    returns one self-contained HTML page (inline CSS, a little inline script; no external asset).
  - The page shows the counts of images built, unchanged and failed, and per build host and image
    the outcome in colour and words (with the module's message), the patched reference and digest,
    the packages updated, the size of the patch layer and the scanner findings left open.
  - Every value is HTML-escaped. Tables sort on a header click and filter by the box above them.
  - The build role writes it as C(build.html) next to C(build.json).
options:
  _input:
    description: The report, as in C(build.json).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the build page
  ansible.builtin.copy:
    content: "{{ build_report | patchops.containers.build_report_html }}"
    dest: "{{ report_root }}/build.html"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import build_html


def build_report_html(report):
    expect_dict('build_report_html', 'the build report', report)
    return build_html(report)


class FilterModule:
    def filters(self):
        return {'build_report_html': build_report_html}
