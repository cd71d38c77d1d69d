# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""No Jinja program ({% for %}, {% set %}, {% if %}) in a role's tasks: what a role computes lives in a
filter (plugins/filter, logic in plugins/plugin_utils) with unit tests. Templates may loop."""

from __future__ import annotations

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAM = re.compile(r'\{%[-+]?\s*(for|set|if)\b')


def programs(text):
    """(line number, line) of each Jinja for/set/if statement in ``text``."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if PROGRAM.search(line)]


def test_the_check_finds_each_kind_of_statement():
    text = ('x: "{{ a | b }}"\n'
            'y: >-\n  {%- set out = [] -%}\n  {% for i in a %}{{ i }}{% endfor %}\n  {%+ if a %}1{% endif %}\n'
            'z: "{{ \'{% raw %}\' }}"\n')
    assert [n for n, line in programs(text)] == [3, 4, 5]


def test_no_role_task_file_has_a_program():
    files = sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'tasks', '*.yml')))
    assert len(files) > 8  # every role's task files, not an empty glob
    found = []
    for path in files:
        with open(path) as fh:
            found += ['%s:%d: %s' % (os.path.relpath(path, ROOT), n, line) for n, line in programs(fh.read())]
    assert found == [], 'Jinja programs in role tasks (move them into a filter):\n' + '\n'.join(found)
