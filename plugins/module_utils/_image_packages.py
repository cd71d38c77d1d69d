# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an image holds, read through the engine's archive endpoint without running anything
(``_container_files``): its OS, and the package database of each image (``ImagePackages``), cached
on the host by image ID.

Where the packages are read from, per image: an existing container of the image whose dpkg
database is the image's (one never started, or one whose changes list touches neither ``status``
nor ``status.d``), else a
container created from the image for the read, never started, removed before the call returns
(``patchops-pkgread-*``, removed on error too). The cache is
``<state_dir>/<engine-dir>/packages/<image-id-hex>.json`` (an image ID names its content, so an
entry never goes stale); check mode reads it but does not write it.

Private: not a public API of the collection.
"""

from __future__ import annotations

import os
import tarfile
import uuid
from typing import List, Optional, TypedDict

from ansible_collections.patchops.containers.plugins.module_utils._container_files import (
    MAX_DATABASE,
    TooLarge,
    exists,
    read_dir,
    read_file,
    read_os_release,
)
from ansible_collections.patchops.containers.plugins.module_utils._engine import EngineError, NotFound, error_text
from ansible_collections.patchops.containers.plugins.module_utils._journal import (
    JournalError,
    engine_dir,
    read_json,
    write_json_atomic,
)
from ansible_collections.patchops.containers.plugins.module_utils._osrelease import os_identity
from ansible_collections.patchops.containers.plugins.module_utils._packages import (
    DB_DPKG,
    Package,
    DB_STATUS_D,
    DPKG_STATUS,
    DPKG_STATUS_D,
    NO_DATABASE,
    UNREAD_DATABASES,
    parse_status,
    parse_status_d,
)
from ansible_collections.patchops.containers.plugins.module_utils._time import utc_now

CACHE_FORMAT = 1
READER_PREFIX = 'patchops-pkgread-'
READER_LABEL = 'patchops.pkgread'
# Paths whose change in a container makes its dpkg database differ from its image's.
_DPKG_PATHS = (DPKG_STATUS, DPKG_STATUS_D)
_UNUSABLE_STATES = ('removing', 'dead')
_NOT_READ = object()  # ImagePackages.get: the caller has not read the image's OS


def image_os(engine, cid):
    """The OS identity of a container's image from its os-release (None: it has none)."""
    release = read_os_release(engine, cid)
    return os_identity(release) if release is not None else None


def read_packages(engine, cid):
    """{package_db, packages_note, packages} of a container's files."""
    try:
        text = read_file(engine, cid, DPKG_STATUS, MAX_DATABASE)
        if text is not None:
            return {'package_db': DB_DPKG, 'packages_note': None, 'packages': parse_status(text)}
    except NotFound:
        pass
    try:
        entries = read_dir(engine, cid, DPKG_STATUS_D)
        if entries is not None:
            return {'package_db': DB_STATUS_D, 'packages_note': None, 'packages': parse_status_d(entries)}
    except NotFound:
        pass
    except TooLarge:
        return {'package_db': None, 'packages': [],
                'packages_note': '%s is larger than %d MiB: not read' % (DPKG_STATUS_D, MAX_DATABASE >> 20)}
    for path, note in UNREAD_DATABASES:
        if exists(engine, cid, path):
            return {'package_db': None, 'packages_note': note, 'packages': []}
    return {'package_db': None, 'packages_note': NO_DATABASE, 'packages': []}


def dpkg_changed(changes):
    """Whether a container's changes list (``GET /containers/{id}/changes``) touches its dpkg
    database: then what it holds is not the image's."""
    for change in changes or []:
        path = change.get('Path') or ''
        for db in _DPKG_PATHS:
            if path == db or path.startswith(db + '/') or (change.get('Kind') == 2 and db.startswith(path + '/')):
                return True
    return False


def reader_name(image_id):
    """The name of the container created to read ``image_id`` (unique per read)."""
    return '%s%s-%s' % (READER_PREFIX, image_id.split(':')[-1][:12], uuid.uuid4().hex[:6])


class ImagePackages:
    """The packages of the images of one engine, each image read once and cached by its ID."""

    def __init__(self, engine, engine_id, state_dir, check_mode=False, warn=None):
        self.engine = engine
        self.api = engine.api
        self.dir = os.path.join(engine_dir(state_dir, engine_id), 'packages')
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.cache_problem = None

    def path(self, image_id):
        return os.path.join(self.dir, '%s.json' % image_id.split(':')[-1])

    def cached(self, image_id):
        """The cached read of an image, or None (absent, or unreadable: read again and replaced)."""
        path = self.path(image_id)
        if not os.path.exists(path):
            return None
        try:
            data = read_json(path, 'packages cache')
        except JournalError:
            return None
        if data.get('image_id') != image_id or not isinstance(data.get('packages'), list):
            return None
        return data

    def _store(self, entry):
        if self.check_mode:
            return
        try:
            write_json_atomic(self.path(entry['image_id']), entry, mode=0o644)
        except OSError as exc:
            if self.cache_problem is None:  # once per run: the reads worked, only the cache did not
                self.cache_problem = 'the packages cache %s cannot be written (%s): images are read again ' \
                                     'on every run' % (self.dir, exc.strerror or exc)
                self.warn(self.cache_problem)

    def get(self, image_id, entries, os_read=_NOT_READ):
        """(entry, 'cached' | 'read' | 'failed') of one image; ``entries`` are its containers' list
        entries (Id, State), running first; ``os_read``: the image's OS when the caller has read it
        already (None: it has no os-release). An entry: {image_id, read_at, read_from, os, package_db,
        packages_note, packages}."""
        entry = self.cached(image_id)
        if entry is not None:
            return entry, 'cached'
        errors = []
        for container in sorted(entries, key=lambda c: c.get('State') != 'created'):
            if container.get('State') in _UNUSABLE_STATES:
                continue
            try:
                # A container that never started holds its image's files: nothing ran in it. One that
                # ran may have installed or removed packages: its changes say (a slow call, and only then).
                if container.get('State') != 'created' and dpkg_changed(self.engine.call(
                        'list the changes of %s' % container['Id'][:12], self.api.diff, container['Id'])):
                    continue  # packages installed or removed in the container: not the image's
                entry = self._read(image_id, container['Id'], 'container', os_read)
                break
            except (EngineError, NotFound, tarfile.TarError, OSError) as exc:
                errors.append(error_text(exc))  # being removed, say: try another
        if entry is None:
            try:
                entry = self._read_created(image_id, os_read)
            except (EngineError, NotFound, tarfile.TarError, OSError) as exc:
                errors.append(error_text(exc))
                return {'image_id': image_id, 'read_at': None, 'read_from': None, 'os': None, 'package_db': None,
                        'packages': [], 'packages_note': 'not read: %s' % '; '.join(errors)}, 'failed'
        self._store(entry)
        return entry, 'read'

    def _read(self, image_id, cid, source, os_read=_NOT_READ):
        entry = {'format': CACHE_FORMAT, 'image_id': image_id, 'read_at': utc_now().isoformat(timespec='seconds'),
                 'read_from': source, 'os': image_os(self.engine, cid) if os_read is _NOT_READ else os_read}
        entry.update(read_packages(self.engine, cid))
        return entry

    def _read_created(self, image_id, os_read=_NOT_READ):
        """Read from a container created for it, never started, always removed."""
        image = self.engine.call('inspect image %s' % image_id, self.api.inspect_image, image_id)
        config = image.get('Config') or {}
        kwargs = {}
        if not config.get('Cmd') and not config.get('Entrypoint'):
            kwargs['command'] = ['/never-started']  # the engine wants a command to create; it never runs
        created = self.engine.call(
            'create a container of %s to read its packages' % image_id, self.api.create_container, image_id,
            name=reader_name(image_id), labels={READER_LABEL: image_id}, network_disabled=True,
            host_config=self.api.create_host_config(network_mode='none'), **kwargs)
        try:
            return self._read(image_id, created['Id'], 'created container', os_read)
        finally:
            try:
                self.engine.remove(created['Id'], 'remove the reader container %s' % created['Id'][:12], volumes=True)
            except NotFound:
                pass
            except EngineError as exc:
                self.warn('could not remove the container %s made to read the packages of %s: %s; remove it '
                          'with docker rm -f %s' % (created['Id'][:12], image_id, exc.msg, created['Id'][:12]))


NOT_ASKED = 'not read: the packages option is off'


class ImageEntry(TypedDict):
    """One item of container_inventory's ``images`` (the inventory role's ``hosts[].images``; the pending
    updates and the SBOMs are computed from it on the controller)."""
    id: str                         # sha256:...
    tags: List[str]
    repo_digests: List[str]
    created: Optional[str]
    containers: List[str]           # the listed containers that run it, sorted
    os: Optional[dict]              # os_identity(): id, version_id, version_codename, name, pretty_name
    package_db: Optional[str]       # DB_DPKG | DB_STATUS_D | None
    packages_note: Optional[str]    # why package_db is None
    packages_source: Optional[str]  # cache | container | created container | None
    packages: List[Package]


def images_result(inspects, containers, oses, reads=None):
    """(images, counts) of the result: one entry per image ID the containers use, sorted by ID;
    ``reads`` {image ID: (entry, how)} from ImagePackages.get, None when packages were not asked for.
    counts: packages_read, packages_cached, packages_failed (images)."""
    counts = {'packages_read': 0, 'packages_cached': 0, 'packages_failed': 0}
    out = []
    for iid in sorted({c['image_id'] for c in containers}):
        inspect = inspects.get(iid) or {}
        entry, how = (reads or {}).get(iid) or (None, None)
        if how:
            counts['packages_%s' % how] += 1
        entry = entry or {'package_db': None, 'packages_note': NOT_ASKED, 'packages': [], 'os': None}
        out.append(ImageEntry(
            id=iid,
            tags=list(inspect.get('RepoTags') or []),
            repo_digests=list(inspect.get('RepoDigests') or []),
            created=inspect.get('Created'),
            containers=sorted(c['name'] for c in containers if c['image_id'] == iid),
            os=oses.get(iid) or entry.get('os'),
            package_db=entry.get('package_db'),
            packages_note=entry.get('packages_note'),
            packages_source=how and ('cache' if how == 'cached' else entry.get('read_from')),
            packages=entry.get('packages') or [],
        ))
    return out, counts
