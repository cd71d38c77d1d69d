# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Options of every module that recreates containers (container_patch, container_rollback),
    # with patchops.containers.probes for verification.
    DOCUMENTATION = r"""
options:
  strategy:
    description:
      - V(stop-first) stops the old container, then creates and starts the new one under its name.
      - V(start-first) starts the new container beside the old one and stops the old one once the
        new one is verified (no downtime); refused when a host port, a static IP or a fixed MAC would
        clash, unless O(force_start_first=true).
      - V(auto) picks start-first when nothing would clash and the container has no writable
        volume or bind mount (two instances must not write the same data), else stop-first.
    type: str
    default: stop-first
    choices: [stop-first, start-first, auto]
  force_start_first:
    description: Allow start-first even when ports, static IPs or a MAC address would clash.
    type: bool
    default: false
  rollback:
    description: V(auto) restores the container being replaced when anything fails; V(never) leaves the failed new one.
    type: str
    default: auto
    choices: [auto, never]
  keep_old:
    description: Keep the replaced container (stopped, renamed with a C(-patchops-old) suffix) after a verified swap.
    type: bool
    default: false
  stop_timeout:
    description: Seconds the old container gets to stop before it is killed.
    type: int
    default: 10
  drain_seconds:
    description:
      - Start-first only. The new container joins its networks without the service's network aliases and
        takes them once it is verified; then, for O(drain_seconds), both old and new answer to the alias;
        then the old one leaves those networks (the engine's DNS no longer names it) and is stopped.
    type: float
    default: 0
  parallel:
    description:
      - "How many containers (or groups of a container and its followers) are swapped at the same time on
        this host. Dependency order is kept: a container starts only after those it depends on are done."
      - Each swap is verified and rolled back on its own; one journal and one lock per engine as always.
      - V(1) swaps one after the other.
    type: int
    default: 3
  on_failure:
    description:
      - V(stop) starts no new swap once one failed (the running ones finish, each verified or rolled back);
        the containers never started are listed as not attempted.
      - V(continue) goes on with every container that does not depend on a failed one; the module still
        fails at the end, naming each failure.
    type: str
    default: stop
    choices: [stop, continue]
  state_dir:
    description: Directory of the journal and lock, one subdirectory per engine ID.
    type: path
    default: /var/lib/patchops
  lock_timeout:
    description: Seconds to wait for another run on the same engine to finish.
    type: int
    default: 300
"""
