# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/doc_tables.py RESULTS.json [KEY ...]: each measure's table as docs/performance.md quotes
it, with the line that names its results file (tests/unit/test_docs_figures.py checks the pair)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchkit.doctable import tables  # noqa: E402


def main(argv):
    path, keys = argv[0], argv[1:]
    rel = os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for key, table in tables(path, keys).items():
        print(table)
        print('\nResults: `%s`, measure `%s`.\n' % (rel, key))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
