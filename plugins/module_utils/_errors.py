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


def orphan_task(message, container_id):
    """The start an engine refuses with ``task <ID>: already exists``, and the way out. Docker 20.10
    (containerd 1.6) killed while it starts a container (or as a stop ends one with restart policy
    ``always``) leaves a containerd shim running with no process in it; the engine's containerd finds
    the shim again at every start-up, so no engine restart clears it, while stopping the shim does.
    The pattern's ``[c]`` keeps pkill off the shell that runs it (an ad hoc ``shell`` task)."""
    return ('%s: containerd still holds a task of container %s with no process in it, left by an engine killed while '
            'it started or stopped that container; an engine restart keeps it. Stop its shim on the engine\'s host '
            "(pkill -f '[c]ontainerd-shim-runc-v2 -namespace moby -id %s'), then run again"
            % (message, container_id[:12], container_id))
