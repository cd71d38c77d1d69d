# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every filter is documented in plugins/filter/<name>.yml (what ansible-doc reads for a filter whose file
registers several), and every such file documents a filter that exists."""

from __future__ import annotations

import glob
import os

import yaml

from controller_code import controller

FOLDER = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'filter')


def registered():
    names = {}
    for path in glob.glob(os.path.join(FOLDER, '*.py')):
        module = os.path.basename(path)[:-3]
        for name in controller('filter.' + module).FilterModule().filters():
            assert name not in names, '%s registered by %s and %s' % (name, names.get(name), module)
            names[name] = module
    return names


def test_each_filter_has_its_documentation_and_nothing_else_does():
    names = registered()
    docs = {os.path.basename(p)[:-4]: p for p in glob.glob(os.path.join(FOLDER, '*.yml'))}
    assert sorted(docs) == sorted(names)
    for name, path in docs.items():
        with open(path) as fh:
            doc = yaml.safe_load(fh)
        assert sorted(doc) == ['DOCUMENTATION', 'EXAMPLES', 'RETURN'], path
        assert doc['DOCUMENTATION']['name'] == name
        assert 'patchops.containers.%s' % name in doc['EXAMPLES'], path
        assert '_value' in doc['RETURN'], path


def test_filter_files_carry_no_documentation_of_their_own():
    for path in glob.glob(os.path.join(FOLDER, '*.py')):
        with open(path) as fh:
            assert 'DOCUMENTATION' not in fh.read(), path
