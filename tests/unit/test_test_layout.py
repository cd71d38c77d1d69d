# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where tests live (CONTRIBUTING, Layout): unit tests of a private module are test__<file>.py,
and every role has its molecule scenario."""

from __future__ import annotations

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize('kind', ['module_utils', 'plugin_utils'])
def test_unit_test_files_are_named_after_the_private_module_they_test(kind):
    tests = sorted(f for f in os.listdir(os.path.join(ROOT, 'tests', 'unit', 'plugins', kind))
                   if f.startswith('test') and f.endswith('.py'))
    assert tests
    wrong = [f for f in tests if not (f.startswith('test__')
                                      and os.path.isfile(os.path.join(ROOT, 'plugins', kind, f[len('test_'):])))]
    assert wrong == [], 'name them test__<file>.py after plugins/%s/_<file>.py' % kind


def test_every_role_has_a_molecule_scenario():
    roles = sorted(os.listdir(os.path.join(ROOT, 'roles')))
    assert len(roles) >= 8
    missing = [r for r in roles if not os.path.isfile(os.path.join(ROOT, 'extensions', 'molecule', r, 'molecule.yml'))]
    assert missing == []
