# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's controller-side code (filters, plugin_utils) as unit tests import it; importing it
marks the process as the controller (tests/unit/conftest.py's on_the_controller undoes that)."""

from __future__ import annotations

import importlib

COLLECTION = 'ansible_collections.patchops.containers.plugins.'


def controller(name):
    """The module ``name`` under plugins/ (``filter.patch_run_report``, ``plugin_utils._report_rules``)."""
    return importlib.import_module(COLLECTION + name)
