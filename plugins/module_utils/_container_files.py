# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files of a container through the engine's archive endpoint (``GET /containers/{id}/archive``):
no process runs in the container, so it works on a created, never started one and on an image
with no shell. The one home of reading a container's files: a file (links followed, size capped),
a directory's files, os-release, whether a path exists, a path's tar as it comes.

Private: not a public API of the collection.
"""

from __future__ import annotations

import io
import posixpath
import tarfile

from ansible_collections.patchops.containers.plugins.module_utils._engine import NotFound
from ansible_collections.patchops.containers.plugins.module_utils._osrelease import PATHS as OS_RELEASE_PATHS
from ansible_collections.patchops.containers.plugins.module_utils._osrelease import parse_os_release

MAX_FILE = 64 * 1024  # os-release and the like
MAX_DATABASE = 32 * 1024 * 1024  # a dpkg status file or status.d directory


class TooLarge(Exception):
    """The archive of a path is larger than the reader takes."""


def _archive(engine, cid, path, limit):
    """(tar, stat) of ``path`` in container ``cid``; raises NotFound, TooLarge."""
    stream, stat = engine.call('read %s of %s' % (path, cid[:12]), engine.api.get_archive, cid, path)
    stat = stat or {}
    if not stat.get('linkTarget') and (stat.get('size') or 0) > limit:
        stream.close()
        raise TooLarge(path)
    chunks, size = [], 0
    for chunk in stream:
        size += len(chunk)
        if size > limit + 1024 * 1024:  # a directory's stat size says nothing of its content
            stream.close()
            raise TooLarge(path)
        chunks.append(chunk)
    return tarfile.open(fileobj=io.BytesIO(b''.join(chunks))), stat


def _link_target(path, stat, member):
    return stat.get('linkTarget') or posixpath.normpath(posixpath.join(posixpath.dirname(path), member.linkname))


def read_file(engine, cid, path, limit=MAX_FILE, hops=0):
    """A file of a container as text, symlinks followed; None when it is not a regular file or is
    larger than ``limit``. Raises NotFound when the path does not exist."""
    if hops > 8:
        return None
    try:
        tar, stat = _archive(engine, cid, path, limit)
    except TooLarge:
        return None
    with tar:
        member = next(iter(tar.getmembers()), None)
        if member is None:
            return None
        if member.issym() or member.islnk():
            return read_file(engine, cid, _link_target(path, stat, member), limit, hops + 1)
        if not member.isfile():
            return None
        handle = tar.extractfile(member)
        return handle.read(limit).decode('utf-8', 'replace') if handle else None


def read_dir(engine, cid, path, limit=MAX_DATABASE):
    """The regular files right under a directory of a container, ``{name: text}``; None when the path
    is not a directory. Raises NotFound when it does not exist, TooLarge past ``limit``."""
    tar, stat = _archive(engine, cid, path, limit)
    with tar:
        members = tar.getmembers()
        if not members:
            return None
        top = members[0]
        if top.issym():
            return read_dir(engine, cid, _link_target(path, stat, top), limit)
        if not top.isdir():
            return None
        out = {}
        for member in members[1:]:
            rel = posixpath.relpath(member.name, top.name)
            if member.isfile() and '/' not in rel:
                out[rel] = tar.extractfile(member).read().decode('utf-8', 'replace')
        return out


def read_os_release(engine, cid):
    """The parsed os-release of a container's files, the first of its paths that is a readable file
    (links followed); None when it has none."""
    for path in OS_RELEASE_PATHS:
        try:
            text = read_file(engine, cid, path)
        except NotFound:
            continue
        if text is not None:
            return parse_os_release(text)
    return None


def exists(engine, cid, path):
    """Whether ``path`` exists in container ``cid`` (a link counts as it is, not followed)."""
    try:
        engine.call('look for %s in %s' % (path, cid[:12]), engine.api.get_archive, cid, path)[0].close()
    except NotFound:
        return False
    return True


def tar_of(engine, cid, path):
    """The tar (bytes) of ``path`` as the engine sends it; None when there is no such path."""
    try:
        stream, dummy = engine.call('read %s of %s' % (path, cid[:12]), engine.api.get_archive, cid, path)
    except NotFound:
        return None
    return b''.join(stream)
