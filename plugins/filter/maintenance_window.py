# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_window
short_description: Whether now (or a given time) is inside a maintenance window
version_added: 0.1.0
author:
  - patchops.containers developers (@patchops)
description:
  - "Takes a window V({weekdays, start, end, timezone}) and returns V({open, reason, local_time})."
  - An empty window is always open. A window whose end is before its start crosses midnight; the
    hours after midnight belong to the previous weekday's window.
options:
  _input:
    description: 'The window, for example V({weekdays: [sat, sun], start: "02:00", end: "05:00", timezone: Europe/Paris}).'
    type: dict
    required: true
  now:
    description: An ISO 8601 time with offset to test instead of the current time.
    type: str
"""

EXAMPLES = r"""
- name: Refuse outside the window
  ansible.builtin.assert:
    that: (window | patchops.containers.maintenance_window).open
  vars:
    window: {weekdays: [sun], start: "02:00", end: "05:00", timezone: Europe/Paris}
"""

RETURN = r"""
_value:
  description: "V(open) (bool), V(reason) (a sentence naming the local time and the window), V(local_time)."
  type: dict
"""

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.patchops.containers.plugins.module_utils._window import WindowError, check


def maintenance_window(window, now=None):
    when = None
    if now:
        try:
            when = datetime.datetime.fromisoformat(str(now))
        except ValueError:
            raise AnsibleFilterError('maintenance_window: now=%r is not an ISO 8601 time' % (now,))
        if when.tzinfo is None:
            raise AnsibleFilterError('maintenance_window: now=%r has no UTC offset' % (now,))
    try:
        return check(window, when)
    except WindowError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {'maintenance_window': maintenance_window}
