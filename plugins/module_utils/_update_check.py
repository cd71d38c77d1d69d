# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Update detection of the inventory (check_updates, no pull): what to ask the registry for a
container's reference, and the verdict (``current``, ``available``, ``unknown``) from the image's
digests and the registry's answer. Pure: the registry call is the caller's.

Private: not a public API of the collection.
"""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._imageref import ImageRefError, is_image_id, parse


def check_plan(reference, image):
    """What to ask the registry for one container.

    Returns (ref, None) when the registry must be asked, or (None, reason) when the answer is
    `unknown` without asking.
    """
    if not reference:
        return None, 'the container has no image reference'
    if reference.startswith('sha256:') or is_image_id(reference):
        return None, 'created from an image ID, not a reference'
    try:
        ref = parse(reference)
    except ImageRefError as exc:
        return None, 'invalid reference: %s' % exc
    if ref.pinned:
        return None, 'pinned by digest'
    if not (image or {}).get('RepoDigests'):
        return None, 'the image has no registry digest (built or loaded locally)'
    return ref, None


def repo_digests(image, ref):
    """Digests the image has in ref's repository, and in any repository."""
    mine, every = set(), set()
    for item in (image or {}).get('RepoDigests') or []:
        name, dummy, digest = item.partition('@')
        every.add(digest)
        try:
            other = parse(name)
        except ImageRefError:
            continue
        if (other.registry, other.repository) == (ref.registry, ref.repository):
            mine.add(digest)
    return mine, every


def update_verdict(ref, image, remote, error):
    """(update, update_reason) from the image and the registry's answer for ref."""
    if error:
        return 'unknown', error
    if not remote:
        return 'unknown', 'the registry gave no digest'
    mine, every = repo_digests(image, ref)
    if remote in mine or remote in every:
        return 'current', None
    if mine:
        return 'available', None
    return 'unknown', 'the image has no digest from %s to compare with' % ref.name
