# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one clock (``_time``): the current time, timezone-aware in UTC, in each file format's text form."""

from __future__ import annotations

import datetime

from ansible_collections.patchops.containers.plugins.module_utils._time import utc_now


def test_utc_now_is_timezone_aware_utc():
    now = utc_now()
    assert isinstance(now, datetime.datetime)
    assert now.tzinfo is not None and now.utcoffset() == datetime.timedelta(0)


def test_utc_now_is_the_current_time():
    before = datetime.datetime.now(datetime.timezone.utc)
    now = utc_now()
    after = datetime.datetime.now(datetime.timezone.utc)
    assert before <= now <= after


def test_utc_now_in_the_text_forms_of_the_files():
    now = utc_now()
    journal = now.isoformat(timespec='milliseconds')  # _journal
    manifest = now.strftime('%Y-%m-%dT%H:%M:%SZ')  # _manifest
    assert journal.endswith('+00:00') and len(journal) == len('2025-01-01T00:00:00.000+00:00')
    assert datetime.datetime.strptime(manifest, '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc) == now.replace(microsecond=0)
