# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters' check of their arguments (``_filter_args``): a dict passes, anything else fails with a
message naming the filter, the argument and the type given (controller code: imported inside the tests)."""

from __future__ import annotations

import pytest
from controller_code import controller


def filter_args():
    return controller('plugin_utils._filter_args')


@pytest.mark.parametrize('value, optional', [({}, False), ({'hosts': []}, False), ({}, True), (None, True)])
def test_a_dict_or_an_optional_none_passes(value, optional):
    assert filter_args().expect_dict('run_report_html', 'the report', value, optional=optional) is None


@pytest.mark.parametrize('value, type_name', [
    (None, 'NoneType'), ([], 'list'), ('report', 'str'), (3, 'int'), ((('a', 1),), 'tuple')])
def test_anything_else_fails_naming_filter_argument_and_type(value, type_name):
    module = filter_args()
    with pytest.raises(module.AnsibleFilterError) as exc:
        module.expect_dict('pending_updates', 'the report', value)
    assert str(exc.value).startswith('pending_updates: expected the report as a dict, got %s' % type_name)


def test_optional_still_wants_a_dict_when_given():
    module = filter_args()
    with pytest.raises(module.AnsibleFilterError, match='run_report_html: expected the parameters as a dict, got list'):
        module.expect_dict('run_report_html', 'the parameters', [], optional=True)
