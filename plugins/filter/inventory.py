# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.patchops.containers.plugins.plugin_utils._filter_args import expect_dict
from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import fleet_html
from ansible_collections.patchops.containers.plugins.plugin_utils._pending import report_pending
from ansible_collections.patchops.containers.plugins.plugin_utils._sbom import fleet_sboms as _fleet_sboms


def fleet_report_html(report):
    expect_dict('fleet_report_html', 'the report', report)
    return fleet_html(report)


def fleet_sboms(hosts, timestamp=None, with_bom=True):
    if not isinstance(hosts, list):
        raise AnsibleFilterError('fleet_sboms: expected the report\'s hosts as a list, got %s' % type(hosts).__name__)
    return _fleet_sboms(hosts, timestamp, with_bom)


def pending_updates(report, indexes):
    expect_dict('pending_updates', 'the report', report)
    try:
        return report_pending(report, indexes)
    except ValueError as exc:
        raise AnsibleFilterError('pending_updates: %s' % exc)


class FilterModule:
    def filters(self):
        return {
            'fleet_report_html': fleet_report_html,
            'fleet_sboms': fleet_sboms,
            'pending_updates': pending_updates,
        }
