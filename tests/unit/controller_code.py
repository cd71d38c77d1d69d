# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's controller-side code (filters, plugin_utils) as unit tests import it; importing it
marks the process as the controller (tests/unit/conftest.py's on_the_controller undoes that)."""

from __future__ import annotations

import glob
import importlib
import os

COLLECTION = 'ansible_collections.patchops.containers.plugins.'


def controller(name):
    """The module ``name`` under plugins/ (``filter.patch_run_report``, ``plugin_utils._report_rules``)."""
    return importlib.import_module(COLLECTION + name)


def filter_plugin(name):
    """The filter ``name`` as Ansible finds it: in whichever file of plugins/filter/ registers it."""
    folder = os.path.join(os.path.dirname(__file__), '..', '..', 'plugins', 'filter')
    for path in sorted(glob.glob(os.path.join(folder, '*.py'))):
        found = controller('filter.' + os.path.basename(path)[:-3]).FilterModule().filters()
        if name in found:
            return found[name]
    raise LookupError('no filter named %s in plugins/filter' % name)
