# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The patch report's filters are thin wrappers of plugins/plugin_utils/_report_rules.py."""

from __future__ import annotations

import pytest

from controller_code import controller


def test_filters_are_registered():
    rules = controller('plugin_utils._report_rules')
    wrapper = controller('filter.patch_outcomes').FilterModule().filters()['patch_outcomes']
    assert wrapper({'containers': []}) == rules.patch_outcomes({'containers': []}) == []
    with pytest.raises(controller('filter.patch_outcomes').AnsibleFilterError):
        wrapper(['not a result'])
    assert controller('filter.patch_outcome_counts').FilterModule().filters() == {
        'patch_outcome_counts': rules.patch_outcome_counts}
    assert controller('filter.patch_run_report').FilterModule().filters() == {'patch_run_report': rules.run_report}
    record = controller('filter.patch_host_record').FilterModule().filters()['patch_host_record']
    assert record({'host': 'h'})['status'] == 'unchanged'
    with pytest.raises(controller('filter.patch_host_record').AnsibleFilterError, match='patch_host_record'):
        record('h')
