# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: stage_report_html
short_description: The HTML page of a stage report
version_added: 0.2.0
author:
  - patchops.containers developers (@patchops)
description:
  - Takes the content of the stage role's C(stage.json) (V({run, state, check_mode, totals, hosts}))
    and returns one self-contained HTML page (inline CSS, a little inline script; no external asset).
  - The page shows the hosts changed, unchanged, failed and unreachable, the images per action
    (pulled, loaded, tagged, present; V(would_*) in check mode), and per host its outcome in colour
    and words with the error, and per image the reference, digest, action, source, estimated
    download and image size.
  - Every value is HTML-escaped. Tables sort on a header click and filter by the box above them.
  - The stage role writes it as C(stage.html) next to C(stage.json).
options:
  _input:
    description: The report, as in C(stage.json).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the stage page
  ansible.builtin.copy:
    content: "{{ stage_report | patchops.containers.stage_report_html }}"
    dest: "{{ report_root }}/stage.html"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import stage_html


def stage_report_html(report):
    expect_dict('stage_report_html', 'the stage report', report)
    return stage_html(report)


class FilterModule:
    def filters(self):
        return {'stage_report_html': stage_report_html}
