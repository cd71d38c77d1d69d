# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one clock of the collection.

Private: not a public API of the collection.
"""

from __future__ import annotations

import datetime


def utc_now():
    """The current time as a timezone-aware datetime in UTC.

    Each file format writes it in its own, documented text form (the journal with milliseconds,
    the stage manifest to the second with a ``Z``).
    """
    return datetime.datetime.now(datetime.timezone.utc)
