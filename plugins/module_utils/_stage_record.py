# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What one staging plan (``_stage.Stager.plan``) leaves behind: its stage manifest entries and its
line of the module's ``images`` result. Pure: the caller writes the manifest.

Private: not a public API of the collection.
"""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse


def plan_entries(plan):
    """{key: entry} to record for a plan (after execute, or the would-be values)."""
    image = plan.get('image') or {}
    image_id = image.get('Id') or plan.get('image_id')
    out = {}
    for key in plan['keys']:
        ref = parse(key)
        entry = {'reference': key, 'repository': ref.name, 'tag': ref.tag, 'digest': plan.get('digest'),
                 'repo_digest': plan.get('pull_ref'), 'image_id': image_id, 'size': image.get('Size'),
                 'source': plan['source']}
        if plan['source'] == 'archive':
            entry['archive'] = plan['archive']
        out[key] = entry
    return out


def plan_report(plan, done):
    """The plan's item of the module's ``images`` result: ``done`` after execute, else what it would do."""
    would = {'pull': 'would_pull', 'load': 'would_load', 'tag': 'would_tag'}
    action = {'pull': 'pulled', 'load': 'loaded', 'tag': 'tagged'}.get(plan['action'], 'present')
    if not done and plan['action'] != 'present':
        action = would[plan['action']]
    image = plan.get('image') or {}
    return {'reference': plan['reference'], 'references': plan['keys'], 'source': plan['source'],
            'action': action, 'digest': plan.get('digest'),
            'image_id': image.get('Id') or plan.get('image_id'), 'size': image.get('Size'),
            'estimated_bytes': plan.get('estimate'), 'archive': plan.get('archive'),
            'registry_attempts': plan.get('attempts') or 0}
