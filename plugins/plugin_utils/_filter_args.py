# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters' one check of their arguments' types, with a message that names the filter and the argument.

Private: not a public API of the collection.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def expect_dict(filter_name, what, value, optional=False):
    """Raise AnsibleFilterError unless ``value`` is a dict (or None, when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, dict):
        raise AnsibleFilterError('%s: expected %s as a dict, got %s' % (filter_name, what, type(value).__name__))
