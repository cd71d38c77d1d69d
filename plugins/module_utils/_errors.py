# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The error base of the collection and its operator-facing text. No SDK import: pure modules
(``_scan``, ``_window``, ``_imageref``, ``_journal``, ...) raise these without loading the engine client.

Private: not a public API of the collection.
"""

from __future__ import annotations


class PatchopsError(Exception):
    """A failure already phrased for the operator, with details for the module result."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class EngineError(PatchopsError):
    """An engine failure."""


def error_text(exc):
    """The operator-facing text of a failure: an EngineError's message, the engine's own
    explanation of an APIError (bytes decoded), else the exception text."""
    if isinstance(exc, PatchopsError):
        return exc.msg
    text = getattr(exc, 'explanation', None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    return text
