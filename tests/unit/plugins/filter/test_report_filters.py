# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The patch report's filters are thin wrappers of plugins/plugin_utils/_report_rules.py."""

from __future__ import annotations

import pytest

from controller_code import controller, filter_plugin


def test_filters_are_registered():
    rules = controller('plugin_utils._report_rules')
    errors = controller('filter.patch_run')
    wrapper = filter_plugin('patch_outcomes')
    assert wrapper({'containers': []}) == rules.patch_outcomes({'containers': []}) == []
    with pytest.raises(errors.AnsibleFilterError):
        wrapper(['not a result'])
    assert filter_plugin('patch_outcome_counts') is rules.patch_outcome_counts
    assert filter_plugin('patch_run_report') is rules.run_report
    record = filter_plugin('patch_host_record')
    assert record({'host': 'h'})['status'] == 'unchanged'
    with pytest.raises(errors.AnsibleFilterError, match='patch_host_record'):
        record('h')
