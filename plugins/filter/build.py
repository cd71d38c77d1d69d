# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.plugin_utils import _build_plan
from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import build_html


def build_report_html(report):
    expect_dict('build_report_html', 'the build report', report)
    return build_html(report)


class FilterModule:
    def filters(self):
        return {
            'build_host_summary': _build_plan.host_summary,
            'build_items': _build_plan.items,
            'build_patched_targets': _build_plan.patched_targets,
            'build_report': _build_plan.report,
            'build_report_html': build_report_html,
        }
