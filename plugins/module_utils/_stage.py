# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Staging (``image_stage state=present/absent``): put exact images on a Docker host before a
patch window and record them in the stage manifest (``_manifest``). The free space arithmetic is
``_stage_space``'s; a plan's manifest entries and result line are ``_stage_record``'s.

Private: not a public API of the collection.
"""

from __future__ import annotations

import json
import os
import re
import time
from urllib.error import HTTPError, URLError

from ansible_collections.patchops.containers.plugins.module_utils._archive import inspect_archive
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError, error_text
from ansible_collections.patchops.containers.plugins.module_utils._imageref import (
    id_matches,
    is_image_id,
    local_tags,
    parse,
    parse_as,
)
from ansible_collections.patchops.containers.plugins.module_utils._journal import DEFAULT_STATE_DIR
from ansible_collections.patchops.containers.plugins.module_utils._manifest import (
    StageError,
    manifest_key,
    manifest_lock,
    manifest_path,
    merge_entry,
    read_manifest,
    stamp,
    write_manifest,
)
from ansible_collections.patchops.containers.plugins.module_utils._registry import (
    RegistryAPI,
    RegistryFailure,
    auth_config,
    backoff,
    is_transient,
    pull,
    registry_api_host,
    remote_digest,
    with_retries,
)
from ansible_collections.patchops.containers.plugins.module_utils._stage_record import plan_entries, plan_report
from ansible_collections.patchops.containers.plugins.module_utils._stage_space import (
    ARCHIVE_SPACE_FACTOR,
    space_error,
    space_needed,
)


# -- staging --------------------------------------------------------------------------------

class Stager:
    """``state: present`` and ``state: absent`` of image_stage."""

    def __init__(self, engine, params, check_mode=False, warn=None, sleep=time.sleep):
        self.engine = engine
        self.api = engine.api
        self.params = params
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.sleep = sleep
        self.info = engine.info
        self.engine_id = self.info.get('ID')
        self.host = self.info.get('Name') or engine.docker_host
        self.state_dir = params.get('state_dir') or DEFAULT_STATE_DIR
        self.path = manifest_path(self.state_dir, self.engine_id)
        self.retries = params.get('retries') if params.get('retries') is not None else 3
        self.delay = params.get('retry_delay') if params.get('retry_delay') is not None else 2
        self._local_blobs = None

    # -- engine helpers ---------------------------------------------------------------------
    def _inspect(self, name):
        return self.engine.find_image(name)

    def _auth(self, ref):
        return auth_config(self.params, ref.registry)

    # -- planning ---------------------------------------------------------------------------
    def plan(self):
        items = self.params.get('images') or []
        if not items:
            raise StageError('images is empty: nothing to stage')
        plans = []
        keys = {}
        for number, item in enumerate(items):
            plan = self._plan_archive(item) if item.get('archive') else self._plan_registry(item)
            for key in plan['keys']:
                if key in keys:
                    raise StageError('images[%d] and images[%d] both stage %s' % (keys[key], number, key))
                keys[key] = number
            plans.append(plan)
        return plans

    def _check_expected_id(self, item):
        expected = item.get('expected_id')
        if expected and not is_image_id(expected) and not re.match(r'^(sha256:)?[0-9a-f]{12,64}$', expected):
            raise StageError('expected_id %r is not an image ID (sha256:<64 hex digits>)' % expected)
        return expected

    def _plan_registry(self, item):
        text = item.get('ref')
        ref = parse_as(text, 'images[].ref', StageError)
        expected_digest = item.get('expected_digest')
        self._check_expected_id(item)
        if ref.digest and expected_digest and ref.digest != expected_digest:
            raise StageError('%s: the reference pins %s but expected_digest is %s' % (text, ref.digest, expected_digest))
        plan = {'item': item, 'source': 'registry', 'ref': ref, 'reference': manifest_key(ref),
                'keys': [manifest_key(ref)], 'attempts': 0}
        if ref.digest:
            digest = ref.digest
        else:
            digest, attempts = self._resolve(ref)
            plan['attempts'] = attempts
            if expected_digest and digest != expected_digest:
                raise StageError('%s resolves to %s in the registry, not the expected %s: the tag moved since '
                                 'the image was approved; nothing was pulled' % (ref.tagged(), digest, expected_digest))
        plan['digest'] = digest
        plan['pull_ref'] = ref.with_digest(digest)
        image = self._inspect(plan['pull_ref'])
        if image is not None:
            self._verify_id(plan, image['Id'])
            plan['image'] = image
            plan['action'] = 'present'
            if ref.tag and ref.tagged() not in local_tags(image):
                plan['action'] = 'tag'
            plan['estimate'] = None
        else:
            plan['image'] = None
            plan['action'] = 'pull'
            plan['estimate'] = self._estimate(ref, digest)
        return plan

    def _resolve(self, ref):
        def lookup():
            digest, reason = remote_digest(self.engine, ref, self._auth(ref), self.params)
            if digest:
                return digest
            kind, dummy, text = (reason or 'registry error: no digest').partition(': ')
            raise RegistryFailure(kind, text or kind, is_transient(kind, text))
        try:
            return with_retries(lookup, self.retries, self.delay, self.sleep)
        except RegistryFailure as exc:
            raise StageError(self._failure_text('cannot resolve %s to a digest' % ref.tagged(), exc),
                             reason=exc.reason, attempts=exc.attempts)

    def _failure_text(self, what, exc):
        if exc.transient:
            waits = ', '.join('%gs' % backoff(self.delay, n) for n in range(1, exc.attempts))
            waited = ', waited ' + waits if waits else ''
            tries = 'after %d attempts (retries=%d%s)' % (exc.attempts, self.retries, waited)
        else:
            tries = 'not retried'
        return '%s on %s: %s (%s): %s; nothing was changed for it' % (what, self.host, exc.reason, tries, exc.text)

    def _verify_id(self, plan, image_id):
        expected = plan['item'].get('expected_id')
        if expected and not id_matches(image_id, expected):
            raise StageError('%s is image %s, not the expected_id %s' % (plan['reference'], image_id, expected))

    def _local_layer_blobs(self, ref):
        """Blob digests of local images of the same repository (to not count shared layers)."""
        blobs = set()
        try:
            images = self.engine.call('list images', self.api.images, name=ref.name)
        except EngineError:
            return blobs
        digests = []
        for image in sorted(images, key=lambda i: i.get('Created') or 0, reverse=True):
            for rd in image.get('RepoDigests') or []:
                if rd.startswith(ref.name + '@'):
                    digests.append(rd.split('@', 1)[1])
                    break
        client = self._registry_api(ref)
        for digest in digests[:3]:
            try:
                blobs.update(client.image_blobs(ref.repository, digest, self.info.get('OSType'),
                                                self.info.get('Architecture')))
            except Exception:  # gone from the registry, or unreadable: just not subtracted
                continue
        return blobs

    def _registry_api(self, ref):
        return RegistryAPI.for_params(self.params, ref.registry, self.engine.timeout)

    def _estimate(self, ref, digest):
        """Compressed bytes to download for ``digest``, or None (with a warning) when unknown."""
        try:
            blobs = self._registry_api(ref).image_blobs(ref.repository, digest, self.info.get('OSType'),
                                                        self.info.get('Architecture'))
        except (HTTPError, URLError, ValueError, OSError, KeyError, TypeError, AttributeError) as exc:
            reason = getattr(exc, 'reason', None) or exc
            self.warn('size of %s unknown (registry API at %s: %s); using min_free_bytes only for the '
                      'free space check' % (ref.with_digest(digest), registry_api_host(ref.registry), reason))
            return None
        shared = self._local_layer_blobs(ref)
        return sum(size for blob, size in blobs.items() if blob not in shared)

    def _plan_archive(self, item):
        path = item['archive']
        expected_id = self._check_expected_id(item)
        if item.get('expected_digest'):
            raise StageError('images[].expected_digest applies to registry images; verify archive %s '
                             'with expected_id' % path)
        archive = inspect_archive(path)
        if expected_id and not id_matches(archive['image_id'], expected_id):
            raise StageError('archive %s holds image %s, not the expected_id %s; nothing was loaded'
                             % (path, archive['image_id'], expected_id))
        tags = []
        for text in archive['repo_tags']:
            tags.append(parse_as(text, 'tag %s in archive %s' % (text, path), StageError))
        if item.get('ref'):
            ref = parse_as(item['ref'], 'images[].ref', StageError)
            if ref.digest:
                raise StageError('archive %s: ref %s pins a digest; an archive carries no registry digest, '
                                 'give a tag reference (or none)' % (path, item['ref']))
            if ref.tagged() not in [t.tagged() for t in tags]:
                tags.append(ref)
        if not tags:
            raise StageError('archive %s has no tags: give images[].ref, the tag to record it under' % path)
        plan = {'item': item, 'source': 'archive', 'archive': path, 'tags': tags,
                'keys': [t.tagged() for t in tags], 'reference': tags[0].tagged(),
                'image_id': archive['image_id'], 'digest': None, 'attempts': 0}
        image = self._inspect(archive['image_id'])
        plan['image'] = image
        if image is None:
            plan['action'] = 'load'
            plan['estimate'] = archive['size']
        else:
            local = local_tags(image)
            plan['action'] = 'tag' if any(t.tagged() not in local for t in tags) else 'present'
            plan['estimate'] = None
        return plan

    # -- free space -------------------------------------------------------------------------
    def check_space(self, plans):
        """Fail before any pull when the engine's filesystem lacks room. Returns a summary."""
        factor = self.params.get('space_factor')
        factor = 3.0 if factor is None else factor
        min_free = self.params.get('min_free_bytes') or 0
        fetching = [p for p in plans if p['action'] in ('pull', 'load')]
        path = self.info.get('DockerRootDir') or '/var/lib/docker'
        summary = {'path': path, 'free_bytes': None, 'needed_bytes': None, 'fetch_bytes': None}
        if not fetching:
            return summary
        estimates = [(p['estimate'], ARCHIVE_SPACE_FACTOR if p['source'] == 'archive' else None) for p in fetching]
        needed, unknown = space_needed(estimates, factor, min_free)
        fetch = sum(p['estimate'] or 0 for p in fetching)
        summary.update(needed_bytes=needed, fetch_bytes=fetch, unknown_sizes=unknown)
        try:
            st = os.statvfs(path)
        except OSError as exc:
            self.warn('cannot check free space at %s (%s): the engine data root is not visible from where '
                      'the module runs; free space not checked' % (path, exc.strerror or exc))
            return summary
        free = st.f_bavail * st.f_frsize
        summary['free_bytes'] = free
        if free < needed:
            raise StageError(space_error(self.host, path, needed, free, fetch, factor, min_free),
                             path=path, needed_bytes=needed, free_bytes=free)
        return summary

    # -- doing ------------------------------------------------------------------------------
    def execute(self, plan):
        if plan['action'] == 'pull':
            self._pull(plan)
        elif plan['action'] == 'load':
            self._load(plan)
        if plan['source'] == 'registry':
            ref = plan['ref']
            if ref.tag and plan['action'] in ('pull', 'tag'):
                self._tag(plan['image']['Id'], ref)
        elif plan['action'] in ('load', 'tag'):
            image = self._inspect(plan['image_id'])
            local = local_tags(image)
            for tag in plan['tags']:
                if tag.tagged() not in local:
                    self._tag(plan['image_id'], tag)
        plan['image'] = self._inspect(plan['image_id'] if plan['source'] == 'archive' else plan['pull_ref'])

    def _tag(self, image_id, ref):
        self.engine.tag(image_id, ref)

    def _pull(self, plan):
        ref = plan['ref']
        try:
            attempts = pull(self.engine, ref, plan['digest'], self._auth(ref), self.retries, self.delay, self.sleep)
        except RegistryFailure as exc:
            raise StageError(self._failure_text('cannot pull %s' % plan['pull_ref'], exc),
                             reason=exc.reason, attempts=exc.attempts)
        plan['attempts'] += attempts
        image = self._inspect(plan['pull_ref'])
        if image is None:
            raise StageError('pulled %s but the engine on %s does not list it' % (plan['pull_ref'], self.host))
        try:
            self._verify_id(plan, image['Id'])
        except StageError:
            self._remove_quietly(plan['pull_ref'])
            raise
        plan['image'] = image

    def _snapshot(self):
        images = self.engine.call('list images', self.api.images, all=True)
        return dict((i['Id'], set(i.get('RepoTags') or []) - {'<none>:<none>'}) for i in images)

    def _remove_quietly(self, name):
        try:
            self.api.remove_image(name, force=False, noprune=False)
        except Exception:  # best effort clean-up after a failure already being reported
            return False
        return True

    def _load(self, plan):
        path = plan['archive']
        before = self._snapshot()
        error = None
        try:
            with open(path, 'rb') as fh:
                for line in self.api.load_image(fh):
                    if isinstance(line, dict) and line.get('error'):
                        error = line.get('error')
        except Exception as exc:  # APIError, IO errors, engine gone
            error = error_text(exc)
        if error is None and self._inspect(plan['image_id']) is None:
            error = 'the engine did not register image %s' % plan['image_id']
        if error is not None:
            leftovers = self._undo_load(before)
            raise StageError('loading archive %s on %s failed: %s; %s' % (path, self.host, error, leftovers))

    def _undo_load(self, before):
        """Remove images and tags a failed load added; put moved tags back."""
        try:
            after = self._snapshot()
        except EngineError as exc:
            return 'could not check for half-loaded images (%s)' % exc.msg
        removed, failed = [], []
        for image_id, tags in after.items():
            if image_id in before:
                continue
            for tag in sorted(tags):
                self._remove_quietly(tag)
            if self._remove_quietly(image_id) or self._inspect(image_id) is None:
                removed.append(image_id)
            else:
                failed.append(image_id)
        for image_id, tags in before.items():
            for tag in tags - after.get(image_id, set()):
                try:
                    self.engine.tag(image_id, parse(tag))
                except Exception:
                    failed.append(tag)
        if failed:
            return 'could not remove what it left: %s (remove by hand)' % ', '.join(failed)
        if removed:
            return 'removed what it left (%s); nothing else changed' % ', '.join(r[:19] for r in removed)
        return 'nothing was loaded'

    # -- the whole run ----------------------------------------------------------------------
    def present(self):
        before = read_manifest(self.state_dir, self.engine_id)
        plans = self.plan()
        space = self.check_space(plans)
        changed = any(p['action'] != 'present' for p in plans)
        result = {'manifest_path': self.path, 'engine_id': self.engine_id, 'space': space}
        if self.check_mode:
            after = json.loads(json.dumps(before))
            after['engine_name'] = after.get('engine_name') or self.host
            when = stamp()
            for plan in plans:
                for key, entry in plan_entries(plan).items():
                    changed = merge_entry(after['images'], key, entry, when) or changed
            result.update(changed=changed, images=[plan_report(p, False) for p in plans],
                          manifest=after, before=before)
            return result
        done = []
        failure = None
        for plan in plans:
            try:
                self.execute(plan)
            except (StageError, EngineError) as exc:
                failure = exc
                break
            done.append(plan)
        manifest, wrote = self._record(done)
        changed = wrote or any(p['action'] != 'present' for p in done)
        result.update(changed=changed, images=[plan_report(p, True) for p in done], manifest=manifest,
                      before=before)
        if failure is not None:
            staged = ', '.join(p['reference'] for p in done) or 'none'
            raise StageError('%s (staged before the failure: %s)' % (failure.msg, staged),
                             result=result, **failure.details)
        return result

    def _record(self, plans):
        with self._manifest_lock():
            manifest = read_manifest(self.state_dir, self.engine_id)
            when = stamp()
            changed = False
            for plan in plans:
                for key, entry in plan_entries(plan).items():
                    changed = merge_entry(manifest['images'], key, entry, when) or changed
            if changed or manifest.get('engine_id') != self.engine_id:
                manifest['engine_id'] = self.engine_id
                manifest['engine_name'] = self.host
                manifest['updated_at'] = when
                write_manifest(self.state_dir, self.engine_id, manifest)
                changed = True
        return manifest, changed

    def _manifest_lock(self):
        return manifest_lock(self.state_dir, self.engine_id, self.params.get('lock_timeout') or 60)

    def absent(self):
        """Forget manifest entries (the images stay; ``state: pruned`` removes them later)."""
        keys = []
        for item in self.params.get('images') or []:
            if not item.get('ref'):
                raise StageError('state=absent takes images[].ref, the references to forget')
            keys.append(manifest_key(parse_as(item['ref'], 'images[].ref', StageError)))
        before = read_manifest(self.state_dir, self.engine_id)
        gone = [k for k in keys if k in before['images']]
        result = {'manifest_path': self.path, 'engine_id': self.engine_id, 'forgotten': gone,
                  'changed': bool(gone), 'before': before}
        if self.check_mode or not gone:
            after = json.loads(json.dumps(before))
            for key in gone:
                after['images'].pop(key, None)
            result['manifest'] = after
            return result
        with self._manifest_lock():
            manifest = read_manifest(self.state_dir, self.engine_id)
            for key in gone:
                manifest['images'].pop(key, None)
            manifest['updated_at'] = stamp()
            write_manifest(self.state_dir, self.engine_id, manifest)
        result['manifest'] = manifest
        return result
