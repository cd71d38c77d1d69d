# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The swap engine of container_patch and container_rollback, one file per phase.

``context`` the run's shared state, ``records`` the plan entry and per-container result,
``targets`` and ``plan`` what a run will do (changes nothing), ``schedule`` the groups in order,
``steps`` the steps of one swap, ``network`` the moves of a start-first swap's aliases,
``recovery`` giving back, finishing and abandoning, ``module`` the body of the modules.

Private: not a public API of the collection.
"""
