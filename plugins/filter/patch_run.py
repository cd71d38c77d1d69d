# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError
from ansible_collections.patchops.containers.plugins.module_utils._window import WindowError, check
from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import run_html
from ansible_collections.patchops.containers.plugins.plugin_utils._patch_input import host_targets
from ansible_collections.patchops.containers.plugins.plugin_utils._patch_input import problems
from ansible_collections.patchops.containers.plugins.plugin_utils._patch_input import serial
from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import host_record
from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_outcome_counts
from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_outcomes as _patch_outcomes
from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_run_batch
from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_run_hosts
from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import run_report


def maintenance_window(window, now=None):
    when = None
    if now:
        try:
            when = datetime.datetime.fromisoformat(str(now))
        except ValueError:
            raise AnsibleFilterError('maintenance_window: now=%r is not an ISO 8601 time' % (now,))
        if when.tzinfo is None:
            raise AnsibleFilterError('maintenance_window: now=%r has no UTC offset' % (now,))
    try:
        return check(window, when)
    except WindowError as exc:
        raise AnsibleFilterError(str(exc))


def patch_host_record(facts):
    try:
        return host_record(facts)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def patch_outcomes(rollout, rollback=None):
    try:
        return _patch_outcomes(rollout, rollback)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def run_report_html(report, params=None):
    expect_dict('run_report_html', 'the report', report)
    expect_dict('run_report_html', 'the parameters', params, optional=True)
    return run_html(report, params)


class FilterModule:
    def filters(self):
        return {
            'maintenance_window': maintenance_window,
            'patch_host_record': patch_host_record,
            'patch_host_targets': host_targets,
            'patch_outcome_counts': patch_outcome_counts,
            'patch_outcomes': patch_outcomes,
            'patch_run_batches': patch_run_batch,
            'patch_run_hosts': patch_run_hosts,
            'patch_run_problems': problems,
            'patch_run_report': run_report,
            'patch_serial': serial,
            'run_report_html': run_report_html,
        }
