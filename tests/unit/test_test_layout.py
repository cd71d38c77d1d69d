# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where tests live (CONTRIBUTING, Layout): unit tests of a private module are test__<file>.py (one
for every private file), every role has its molecule scenario, no module_utils file grows past
MAX_MODULE_UTILS_LINES, and the unit tests have one fake engine (fake_engine.py)."""

from __future__ import annotations

import ast
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What one file of plugins/module_utils may hold at most (wc -l).
MAX_MODULE_UTILS_LINES = 450


def _tested_file(kind, test):
    """The private file a unit test names: test__<file>.py tests _<file>.py, or the package _<file>/
    as a whole; test__<package>_<file>.py tests _<package>/<file>.py."""
    base = os.path.join(ROOT, 'plugins', kind)
    stem = test[len('test__'):-len('.py')]
    candidates = [os.path.join(base, '_%s.py' % stem), os.path.join(base, '_%s' % stem, '__init__.py')]
    package, sep, rest = stem.partition('_')
    if sep:
        candidates.append(os.path.join(base, '_%s' % package, '%s.py' % rest))
    return next((c for c in candidates if os.path.isfile(c)), None)


@pytest.mark.parametrize('kind', ['module_utils', 'plugin_utils'])
def test_unit_test_files_are_named_after_the_private_module_they_test(kind):
    tests = sorted(f for f in os.listdir(os.path.join(ROOT, 'tests', 'unit', 'plugins', kind))
                   if f.startswith('test') and f.endswith('.py'))
    assert tests
    wrong = [f for f in tests if not (f.startswith('test__') and _tested_file(kind, f))]
    assert wrong == [], 'name them test__<file>.py after plugins/%s/_<file>.py (or _<package>/<file>.py)' % kind


@pytest.mark.parametrize('kind', ['module_utils', 'plugin_utils'])
def test_every_file_of_a_private_package_has_its_unit_test(kind):
    base = os.path.join(ROOT, 'plugins', kind)
    packages = [d for d in os.listdir(base) if d.startswith('_') and os.path.isdir(os.path.join(base, d))
                and os.path.isfile(os.path.join(base, d, '__init__.py'))]
    missing = ['%s/%s' % (p, f) for p in packages for f in sorted(os.listdir(os.path.join(base, p)))
               if f.endswith('.py') and f != '__init__.py'
               and not os.path.isfile(os.path.join(ROOT, 'tests', 'unit', 'plugins', kind,
                                                   'test_%s_%s' % (p, f)))]
    assert missing == []


@pytest.mark.parametrize('kind', ['module_utils', 'plugin_utils'])
def test_every_private_file_has_its_unit_test(kind):
    base = os.path.join(ROOT, 'plugins', kind)
    files = sorted(f for f in os.listdir(base) if f.startswith('_') and f.endswith('.py') and f != '__init__.py'
                   and os.path.isfile(os.path.join(base, f)))
    assert files
    missing = [f for f in files
               if not os.path.isfile(os.path.join(ROOT, 'tests', 'unit', 'plugins', kind, 'test_%s' % f))]
    assert missing == [], 'plugins/%s/_<file>.py needs tests/unit/plugins/%s/test__<file>.py' % (kind, kind)


def test_no_module_utils_file_is_over_450_lines():
    too_long = []
    for folder, dummy, files in os.walk(os.path.join(ROOT, 'plugins', 'module_utils')):
        for name in sorted(files):
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8') as fh:
                    count = fh.read().count('\n')  # as wc -l counts
                if count > MAX_MODULE_UTILS_LINES:
                    too_long.append('%s: %d lines' % (os.path.relpath(path, ROOT), count))
    assert too_long == [], 'over %d lines, split along a seam: %s' % (MAX_MODULE_UTILS_LINES, ', '.join(too_long))


def test_every_role_has_a_molecule_scenario():
    roles = sorted(os.listdir(os.path.join(ROOT, 'roles')))
    assert len(roles) >= 8
    missing = [r for r in roles if not os.path.isfile(os.path.join(ROOT, 'extensions', 'molecule', r, 'molecule.yml'))]
    assert missing == []


FAKE_ENGINE_NAME = re.compile(r'Fake\w*(API|Engine|Client)')


def _fake_engines(path):
    """The classes of ``path`` that stand in for the engine or its SDK client: named Fake...API,
    Fake...Engine or Fake...Client, or built on the shared FakeAPI or FakeEngine."""
    with open(path) as fh:
        tree = ast.parse(fh.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, 'attr', None) for b in node.bases}
            if FAKE_ENGINE_NAME.search(node.name) or bases & {'FakeAPI', 'FakeEngine'}:
                found.append(node.name)
    return found


def test_the_unit_tests_have_one_fake_engine():
    unit = os.path.join(ROOT, 'tests', 'unit')
    shared = os.path.join(unit, 'fake_engine.py')
    assert _fake_engines(shared) == ['FakeAPI', 'FakeEngine']
    others = {}
    for top, dirs, files in os.walk(unit):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        for name in sorted(files):
            path = os.path.join(top, name)
            if name.endswith('.py') and path != shared and _fake_engines(path):
                others[os.path.relpath(path, ROOT)] = _fake_engines(path)
    assert others == {}, ('tests/unit/fake_engine.py is the one fake engine: give its FakeAPI / FakeEngine '
                          'what these need instead')


def test_every_path_contributing_names_exists():
    """CONTRIBUTING's layout and "To change X, edit Y" table name only what exists (a path with a
    placeholder such as <role> is checked up to it)."""
    with open(os.path.join(ROOT, 'CONTRIBUTING.md'), encoding='utf-8') as fh:
        text = fh.read()
    paths = set(re.findall(r'`((?:plugins|roles|tests|docs|playbooks|extensions|bench|demo|\.ci)/[^`\s]*)`', text))
    assert len(paths) > 40
    missing = []
    for path in sorted(paths):
        path = path.split('::')[0].replace('...', '').rstrip('/')
        if '*' in path and '<' not in path:
            found = glob.glob(os.path.join(ROOT, path))
        else:
            found = os.path.exists(os.path.join(ROOT, re.split(r'[<{]', path)[0]))
        if not found:
            missing.append(path)
    assert missing == []
