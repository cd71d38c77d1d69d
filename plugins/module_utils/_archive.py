# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``docker save`` archives: read and verify one before it reaches the engine.

Private: not a public API of the collection.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile

from ansible_collections.patchops.containers.plugins.module_utils._manifest import StageError


def _norm(name):
    while name.startswith('./'):
        name = name[2:]
    return name


def _member_digest(tar, member):
    handle = tar.extractfile(member)
    if handle is None:
        raise StageError('entry %s is not a file' % member.name)
    sha = hashlib.sha256()
    head = handle.read(1024 * 1024)
    gz = head[:2] == b'\x1f\x8b'
    while head:
        sha.update(head)
        head = handle.read(1024 * 1024)
    return 'sha256:' + sha.hexdigest(), gz


def _gunzip_digest(tar, member):
    sha = hashlib.sha256()
    with gzip.GzipFile(fileobj=tar.extractfile(member)) as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b''):
            sha.update(chunk)
    return 'sha256:' + sha.hexdigest()


def inspect_archive(path):
    """Read and verify a ``docker save`` archive without loading it.

    Returns {'image_id', 'repo_tags', 'size'}: the image ID is the sha256 of the image config,
    and every layer's content is checked against the config's ``rootfs.diff_ids``, so a
    corrupted or truncated archive is found before anything reaches the engine.
    """
    if not os.path.isfile(path):
        raise StageError('archive %s does not exist on this host' % path)
    try:
        with tarfile.open(path, 'r:*') as tar:
            members = dict((_norm(m.name), m) for m in tar.getmembers())
            if 'manifest.json' not in members:
                raise StageError('archive %s is not a docker save archive: it has no manifest.json' % path)
            index = json.loads(tar.extractfile(members['manifest.json']).read().decode('utf-8'))
            if not isinstance(index, list) or len(index) != 1:
                raise StageError('archive %s holds %s images; image_stage loads archives of exactly one '
                                 'image (docker save one image, with as many tags as needed)'
                                 % (path, len(index) if isinstance(index, list) else 'no readable'))
            entry = index[0]
            config_name = entry.get('Config') or ''
            if _norm(config_name) not in members:
                raise StageError('archive %s is corrupted: its image config %s is missing' % (path, config_name))
            raw_config = tar.extractfile(members[_norm(config_name)]).read()
            image_id = 'sha256:' + hashlib.sha256(raw_config).hexdigest()
            config = json.loads(raw_config.decode('utf-8'))
            diff_ids = ((config.get('rootfs') or {}).get('diff_ids')) or []
            layers = entry.get('Layers') or []
            if len(layers) != len(diff_ids):
                raise StageError('archive %s is corrupted: %d layers listed, the image config expects %d'
                                 % (path, len(layers), len(diff_ids)))
            size = len(raw_config)
            for name, want in zip(layers, diff_ids):
                member = members.get(_norm(name))
                if member is None:
                    raise StageError('archive %s is corrupted: layer %s is missing' % (path, name))
                got, gz = _member_digest(tar, member)
                if got != want and gz:
                    got = _gunzip_digest(tar, member)
                if got != want:
                    raise StageError('archive %s is corrupted: layer %s has content %s, the image config '
                                     'expects %s' % (path, name, got[:19], want[:19]))
                size += member.size
    except StageError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise StageError('archive %s is corrupted or not a docker save archive: %s' % (path, exc or type(exc).__name__))
    return {'image_id': image_id, 'repo_tags': list(entry.get('RepoTags') or []), 'size': size}
