# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inputs of playbooks/patch.yml: batches, failure budget, targets (controller side; the
filters patch_serial, patch_host_targets and patch_run_problems).

An AWX survey passes every answer as text, so lists and mappings may arrive as YAML text.

Private: not a public API of the collection.
"""

from __future__ import annotations

import json
import re

import yaml

DEFAULT_SERIAL = [1, '25%', '100%']
_BATCH = re.compile(r'^([1-9][0-9]*|([1-9][0-9]?|100)%)$')
_PERCENT = re.compile(r'^([0-9]|[1-9][0-9]|100)([.][0-9]+)?$')


def _from_text(value):
    """YAML text read as data; anything else (or text that is not YAML) as given."""
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _is_list(value):
    return isinstance(value, (list, tuple))


def serial(value):
    """The batches: None means the default; text starting with ``[`` is a YAML list."""
    if value is None:
        return list(DEFAULT_SERIAL)
    if isinstance(value, str) and value.startswith('['):
        return _from_text(value)
    return value


def serial_items(value):
    """The batch sizes of ``serial(value)`` as a list (a single size is a list of one)."""
    batches = serial(value)
    return list(batches) if _is_list(batches) else [batches]


def host_targets(targets, by_host, host):
    """The targets of one host: its entry of ``by_host`` if any, else the common ``targets``."""
    by_host = _from_text(by_host if by_host is not None else {})
    common = _from_text(targets if targets is not None else [])
    return by_host.get(host, common) if isinstance(by_host, dict) else common


def problems(serial_value, max_fail, targets, by_host):
    """What is wrong with the run's parameters, one sentence each naming the bad value."""
    found = []
    items = serial_items(serial_value)
    bad = [str(item) for item in items if not _BATCH.match(str(item))]
    if not items or bad:
        why = ' (empty)' if not items else " (not a batch size: '%s')" % "', '".join(bad)
        found.append("patchops_serial must be a batch size (a number of hosts, 1 or more, or a percentage "
                     "from 1%% to 100%%) or a non-empty list of them, such as [1, '25%%', '100%%']; got %s%s"
                     % (json.dumps(serial_value), why))
    if not _PERCENT.match(str(max_fail)):
        found.append("patchops_max_fail_percentage must be a number from 0 to 100; got '%s'" % (max_fail,))
    common = _from_text(targets)
    per_host = _from_text(by_host)
    ok = (_is_list(common) and all(isinstance(t, dict) for t in common)
          and isinstance(per_host, dict) and all(_is_list(v) for v in per_host.values()))
    if not ok:
        found.append('patchops_targets must be a list of {name, image} (and patchops_targets_by_host a mapping of '
                     'host to such lists), such as [{name: web, image: "registry.example.com/web:1.4.2"}] or, for '
                     'every container of a compose service, [{compose_project: shop, service: web, image: ...}]; '
                     "got patchops_targets '%s', patchops_targets_by_host '%s'" % (targets, by_host))
    return found
