# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit test fixtures: the one fake engine (tests/unit/fake_engine.py), importable as ``fake_engine``."""

from __future__ import annotations

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from fake_engine import FakeEngine, FakeRegistry  # noqa: E402


@pytest.fixture
def fake_registry():
    """An empty registry (push images into it)."""
    return FakeRegistry()


@pytest.fixture
def fake_engine(fake_registry):
    """A Docker engine with no image or container, pulling from ``fake_registry``."""
    return FakeEngine(registry=fake_registry)


@pytest.fixture(autouse=True, scope='module')
def on_the_controller():
    """Importing controller code (ansible.errors, controller_code.controller) marks the process as the
    controller; each test module leaves the mark as it found it."""
    from ansible.module_utils import _internal
    was = _internal.is_controller
    yield
    _internal.is_controller = was
