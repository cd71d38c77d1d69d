# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stage manifest: what image_stage put on an engine, read by container_patch.

``<state_dir>/<engine-dir>/stage.json``; its format is described in docs/stage.md.
``container_patch`` reads it with :func:`read_manifest` and :func:`staged_entry`, so a rollout
uses exactly the staged image even if the tag moved since. Writers take :func:`manifest_lock`
around read-modify-write and write with :func:`write_manifest`.

Private: not a public API of the collection.
"""

from __future__ import annotations

import json
import os

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._imageref import ImageRefError, parse
from ansible_collections.patchops.containers.plugins.module_utils._journal import (
    DEFAULT_STATE_DIR,
    Lock,
    engine_dir,
    write_json_atomic,
)
from ansible_collections.patchops.containers.plugins.module_utils._time import utc_now

MANIFEST_FORMAT = 1
MANIFEST_FILE = 'stage.json'
PREVIOUS_KEPT = 5


class StageError(PatchopsError):
    """A staging failure (the manifest, an archive, a pull) already phrased for the operator."""


def stamp():
    """The manifest's time format: UTC to the second, ``Z`` suffix."""
    return utc_now().strftime('%Y-%m-%dT%H:%M:%SZ')


def manifest_path(state_dir, engine_id):
    return os.path.join(engine_dir(state_dir or DEFAULT_STATE_DIR, engine_id), MANIFEST_FILE)


def empty_manifest(engine_id=None, engine_name=None):
    return {'format': MANIFEST_FORMAT, 'engine_id': engine_id, 'engine_name': engine_name,
            'updated_at': None, 'images': {}}


def read_manifest(state_dir, engine_id):
    """The stage manifest of one engine; an empty one when nothing was staged yet.

    Raises StageError when the file is corrupted or of a newer format.
    """
    path = manifest_path(state_dir, engine_id)
    if not os.path.exists(path):
        return empty_manifest(engine_id)
    try:
        with open(path) as fh:
            data = json.load(fh)
    except ValueError as exc:
        raise StageError('stage manifest %s is corrupted (%s): move it aside and stage again' % (path, exc))
    except OSError as exc:
        raise StageError('cannot read the stage manifest %s: %s' % (path, exc))
    if not isinstance(data, dict) or not isinstance(data.get('images'), dict):
        raise StageError('stage manifest %s is corrupted: expected an object with "images"' % path)
    version = data.get('format')
    if not isinstance(version, int) or version > MANIFEST_FORMAT:
        raise StageError('stage manifest %s has format %r; this collection reads format %d or older'
                         % (path, version, MANIFEST_FORMAT))
    return data


def write_manifest(state_dir, engine_id, manifest):
    """Replace the manifest atomically (readable by all: it holds no secret)."""
    write_json_atomic(manifest_path(state_dir, engine_id), manifest, mode=0o644)


def manifest_lock(state_dir, engine_id, timeout):
    """Serialises read-modify-write of the manifest (not the swap lock)."""
    return Lock(manifest_path(state_dir, engine_id) + '.lock', timeout, holder='another image_stage run')


def manifest_key(ref):
    """The manifest key of a parsed reference: ``name:tag``, or ``name@digest`` without a tag."""
    return ref.tagged() or ref.with_digest(ref.digest)


def staged_entry(manifest, ref):
    """The manifest entry staged for ``ref`` (a string or parsed reference), or None.

    A tag reference finds the entry recorded for that tag. A digest reference finds an entry of
    the same repository with that digest; with both a tag and a digest, the tag's entry must
    carry that digest.
    """
    if isinstance(ref, str):
        try:
            ref = parse(ref)
        except ImageRefError:
            return None
    images = (manifest or {}).get('images') or {}
    if ref.tag or not ref.digest:
        entry = images.get(ref.tagged())
        if entry and (not ref.digest or entry.get('digest') == ref.digest):
            return entry
        if not ref.digest:
            return None
    for entry in images.values():
        if entry.get('repository') == ref.name and entry.get('digest') == ref.digest:
            return entry
    return None


def resolve_staged(manifest, ref):
    """The image ID (``sha256:...``) staged for ``ref``, or None when it was not staged."""
    entry = staged_entry(manifest, ref)
    return entry.get('image_id') if entry else None


def _comparable(entry):
    return dict((k, v) for k, v in entry.items() if k not in ('staged_at', 'previous'))


def merge_entry(images, key, new, when):
    """Put ``new`` under ``key``; keep ``staged_at`` when nothing changed, remember what it replaces.

    Returns True if the manifest changed.
    """
    old = images.get(key)
    if old and _comparable(old) == _comparable(new):
        return False
    entry = dict(new)
    entry['staged_at'] = when
    previous = list((old or {}).get('previous') or [])
    if old and old.get('image_id') != new.get('image_id'):
        previous.insert(0, {'image_id': old.get('image_id'), 'digest': old.get('digest'),
                            'staged_at': old.get('staged_at'), 'superseded_at': when})
    entry['previous'] = previous[:PREVIOUS_KEPT]
    images[key] = entry
    return True
