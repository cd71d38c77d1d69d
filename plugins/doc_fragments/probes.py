# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Readiness and probe options, one runner for container_patch, container_rollback, container_probe.
    DOCUMENTATION = r"""
options:
  wait_health:
    description:
      - Wait for the container to be running and, when its image has a HEALTHCHECK, healthy.
        Without a HEALTHCHECK the container must stay running (no restart) for O(settle) seconds.
    type: bool
    default: true
  verify_timeout:
    description: Seconds to wait for the container to become ready.
    type: int
    default: 60
  settle:
    description: Seconds a container without HEALTHCHECK must stay up to count as started.
    type: float
    default: 2.0
  probes:
    description:
      - Checks run after the container is ready. In M(patchops.containers.container_patch) any failure rolls the swap back.
      - In O(probes[].url) and O(probes[].host), V({ip}) stands for the container's IP address
        and V({name}) for its name.
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: V(health), V(http), V(tcp), V(exec) in the container, or V(log) (no line matches).
        type: str
        required: true
        choices: [health, http, tcp, exec, log]
      name:
        description: A label for the result.
        type: str
      url:
        description: URL for V(http).
        type: str
      status:
        description: Accepted HTTP status codes.
        type: list
        elements: int
        default: [200]
      body_regex:
        description: Regular expression the HTTP body must match.
        type: str
      host:
        description: Host for V(tcp).
        type: str
        default: 127.0.0.1
      port:
        description: Port for V(tcp).
        type: int
      command:
        description: Command for V(exec), a string (run by C(/bin/sh -c)) or a list.
        type: raw
      rc:
        description: Expected exit code of V(exec).
        type: int
        default: 0
      stdout_regex:
        description:
          - Regular expression the V(exec) output must match.
          - A command that exits with O(probes[].rc) and no output at all is run again at once, up to 3 times,
            because an engine under load can drop a short exec's output (Podman often, Docker rarely).
        type: str
      pattern:
        description: For V(log), a regular expression no log line since the start may match.
        type: str
      source:
        description: Run V(http)/V(tcp) from the host, or from inside the container's network namespace.
        type: str
        default: host
        choices: [host, container]
      timeout:
        description: Seconds for one attempt.
        type: float
        default: 5.0
      retries:
        description: Attempts before the probe fails.
        type: int
        default: 3
      interval:
        description: Seconds between attempts.
        type: float
        default: 1.0
"""
