# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The state a swap run shares between its phases, and the names every phase uses.

Private: not a public API of the collection.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._journal import JournalError
from ansible_collections.patchops.containers.plugins.module_utils._probe import verify as run_probes

ASIDE_SUFFIX = '-patchops-old'
NEW_SUFFIX = '-patchops-new'
DONE = ('patched', 'restored', 'recreated')


class SwapError(PatchopsError):
    """A failure that stops the run; ``results`` says what happened to each container."""


class VerificationFailed(Exception):
    def __init__(self, msg, results):
        super().__init__(msg)
        self.msg = msg
        self.results = results


def container_name(container):
    """The name of an inspected container, without its leading slash."""
    return (container.get('Name') or '').lstrip('/')


def is_temporary(name):
    return name.endswith(ASIDE_SUFFIX) or name.endswith(NEW_SUFFIX)


def outcome_of(reason):
    """What a verified swap did: patched (a target), restored (a rollback), recreated (a follower)."""
    if reason == 'rollback':
        return 'restored'
    if reason.startswith('follows'):
        return 'recreated'
    return 'patched'


@dataclass
class SwapContext:
    """One run on one engine: the engine, its journal, the module's options, and what the phases
    learn on the way (the plan's reads, the operator's warnings, unresolved swaps)."""

    engine: Any
    journal: Any
    params: Dict[str, Any]
    check_mode: bool = False
    verify: Callable = run_probes  # the probe runner: verify(engine, id, probes, wait_health, timeout, settle)
    proc: str = '/proc'
    # read by the plan: one container list, each container inspected once
    listed: List[dict] = field(default_factory=list)
    names: Dict[str, str] = field(default_factory=dict)  # container ID -> name
    inspected: Dict[str, Optional[dict]] = field(default_factory=dict)  # ID -> inspect (None: gone)
    proc_view: Optional[tuple] = None
    manifest: Optional[dict] = None
    shared_tags: Dict[str, dict] = field(default_factory=dict)  # tag -> {'run': names, 'others': containers}
    # told to the operator
    notes: List[str] = field(default_factory=list)
    journal_errors: List[str] = field(default_factory=list)  # writes that failed while putting things back
    unresolved: Dict[str, dict] = field(default_factory=dict)  # name -> interrupted swap recovery could not settle
    failed_images: Dict[str, str] = field(default_factory=dict)  # image ID -> container it failed verification on

    @property
    def api(self):
        return self.engine.api

    @property
    def where(self):
        return '%s (%s)' % (self.engine.info.get('Name'), self.engine.docker_host)

    def inspect(self, ref):
        return self.engine.find_container(ref)

    def image(self, ref):
        return self.engine.find_image(ref)

    def verify_container(self, cid):
        """Wait for the container's HEALTHCHECK and run the probes, as the options say."""
        return self.verify(self.engine, cid, self.params.get('probes') or [],
                           wait_health=self.params.get('wait_health', True),
                           timeout=self.params.get('verify_timeout', 60), settle=self.params.get('settle', 2.0))

    def record_despite_journal_errors(self, swap, step, **fields):
        """Journal a step of putting things back (rollback, finishing an interrupted swap).

        A journal that cannot be written (its filesystem full) must not stop the containers from
        being put back: the step is taken anyway, the error kept for the result, and the next run
        settles the record (every step of a recovery can be taken again).
        """
        try:
            self.journal.record(swap, step, **fields)
        except JournalError as exc:
            if str(exc) not in self.journal_errors:
                self.journal_errors.append(str(exc))

    @contextlib.contextmanager
    def timed(self, swap, phase):
        """Add the milliseconds of a swap phase to its breakdown (journaled with the next step)."""
        began = time.monotonic()
        try:
            yield
        finally:
            breakdown = swap.setdefault('breakdown_ms', {})
            breakdown[phase] = breakdown.get(phase, 0) + int((time.monotonic() - began) * 1000)

    def pause_if_it_was(self, swap, cid):
        """Leave the container paused if the operator had paused the old one."""
        if swap.get('was_paused') and not ((self.inspect(cid) or {}).get('State') or {}).get('Paused'):
            self.engine.call('pause %s' % swap['container'], self.api.pause, cid)

    def remove_old(self, swap, record=None):
        """The last step of a verified swap: the old container goes (unless keep_old)."""
        if self.params.get('keep_old'):
            return
        (record or self.journal.record)(swap, 'remove_old')
        if self.inspect(swap['old_id']) is not None:
            # v=False: anonymous volumes now belong to the new container.
            with self.timed(swap, 'remove'):
                self.engine.remove(swap['old_id'], 'remove old %s' % swap['container'])
