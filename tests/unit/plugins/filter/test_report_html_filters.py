# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML report filters refuse what is not a report, naming the filter and the argument."""

from __future__ import annotations

import importlib

import pytest

from controller_code import filter_plugin


@pytest.mark.parametrize('name, what', [
    ('build_report_html', 'the build report'),
    ('fleet_report_html', 'the report'),
    ('run_report_html', 'the report'),
    ('stage_report_html', 'the stage report'),
])
def test_a_report_that_is_not_a_dict_is_refused(name, what):
    page = filter_plugin(name)
    for bad in (['a list'], 'report.json', None):
        with pytest.raises(importlib.import_module('ansible.errors').AnsibleFilterError) as exc:
            page(bad)
        assert str(exc.value) == '%s: expected %s as a dict, got %s' % (name, what, type(bad).__name__)
    assert '<html' in page({}).lower()


def test_run_page_parameters_must_be_a_dict_when_given():
    page = filter_plugin('run_report_html')
    with pytest.raises(importlib.import_module('ansible.errors').AnsibleFilterError) as exc:
        page({}, ['hosts'])
    assert str(exc.value) == 'run_report_html: expected the parameters as a dict, got list'
    assert '<html' in page({}, None).lower()
