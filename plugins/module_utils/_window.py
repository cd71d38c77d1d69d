# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Maintenance windows: weekdays, hours and a time zone.

Private: not a public API of the collection.
"""

from __future__ import annotations

import re

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # Python < 3.9 on the controller
    ZoneInfo = None

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._time import utc_now

DAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
_HHMM = re.compile(r'^([01]?\d|2[0-3]):([0-5]\d)$')


class WindowError(PatchopsError):
    """A maintenance window that does not parse; the message names what is wrong."""


def _minutes(text, key):
    match = _HHMM.match(str(text or ''))
    if not match:
        raise WindowError('maintenance window %s %r is not a time HH:MM (00:00 to 23:59)' % (key, text))
    return int(match.group(1)) * 60 + int(match.group(2))


def parse(window):
    """Validate {weekdays, start, end, timezone}; empty or None means always open."""
    if not window:
        return None
    if not isinstance(window, dict):
        raise WindowError('maintenance window must be a dict with weekdays, start, end, timezone; got %r' % (window,))
    unknown = set(window) - {'weekdays', 'start', 'end', 'timezone'}
    if unknown:
        raise WindowError('maintenance window has unknown keys: %s' % ', '.join(sorted(unknown)))
    days = window.get('weekdays') or list(DAYS)
    if isinstance(days, str) or not isinstance(days, list):
        raise WindowError('maintenance window weekdays must be a list such as [sat, sun]; got %r' % (days,))
    norm = []
    for day in days:
        short = str(day).strip().lower()[:3]
        if short not in DAYS:
            raise WindowError('maintenance window weekday %r is not one of %s' % (day, ', '.join(DAYS)))
        norm.append(short)
    start = _minutes(window.get('start', '00:00'), 'start')
    end = _minutes(window.get('end', '23:59'), 'end')
    zone_name = window.get('timezone') or 'UTC'
    if ZoneInfo is None:
        raise WindowError('maintenance windows need Python >= 3.9 on the controller (zoneinfo)')
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError('maintenance window timezone %r is not a known IANA time zone' % (zone_name,))
    return {'weekdays': norm, 'start': start, 'end': end, 'timezone': zone, 'zone_name': zone_name}


def check(window, now=None):
    """Return {open: bool, reason: str, local_time: str} for ``now`` (aware datetime, default: now)."""
    spec = parse(window)
    if spec is None:
        return {'open': True, 'reason': 'no maintenance window set', 'local_time': None}
    now = now or utc_now()
    local = now.astimezone(spec['timezone'])
    minute = local.hour * 60 + local.minute
    day = DAYS[local.weekday()]
    start, end = spec['start'], spec['end']
    if start <= end:
        inside_hours = start <= minute < end
        opening_day = day
    else:  # crosses midnight: the part after midnight belongs to the previous day's window
        inside_hours = minute >= start or minute < end
        opening_day = day if minute >= start else DAYS[(local.weekday() - 1) % 7]
    inside = inside_hours and opening_day in spec['weekdays']
    text = '%s %s %s' % (day, local.strftime('%H:%M'), spec['zone_name'])
    window_text = '%s %02d:%02d-%02d:%02d %s' % (','.join(spec['weekdays']), start // 60, start % 60,
                                                 end // 60, end % 60, spec['zone_name'])
    reason = ('%s is inside the maintenance window %s' if inside else
              '%s is outside the maintenance window %s') % (text, window_text)
    return {'open': inside, 'reason': reason, 'local_time': local.isoformat()}
