# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import stage_html
from ansible_collections.patchops.containers.plugins.plugin_utils import _stage_plan


def stage_report_html(report):
    expect_dict('stage_report_html', 'the stage report', report)
    return stage_html(report)


class FilterModule:
    def filters(self):
        return {
            'stage_host_summary': _stage_plan.host_summary,
            'stage_items': _stage_plan.items,
            'stage_report': _stage_plan.report,
            'stage_report_html': stage_report_html,
            'stage_run_summary': _stage_plan.run_summary,
            'stage_split': _stage_plan.split,
        }
