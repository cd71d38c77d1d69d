# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Staging: put exact images on a Docker host before a patch window and record what was staged.

The stage manifest (``<state_dir>/<engine-dir>/stage.json``) maps each staged reference to the
digest it resolved to and the image ID that arrived. ``container_patch`` reads it with
:func:`read_manifest` and :func:`resolve_staged`, so a rollout uses exactly the staged image
even if the tag moved since.

Private: not a public API of the collection.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import tarfile
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from ansible.module_utils.urls import open_url

from ansible_collections.patchops.containers.plugins.module_utils._engine import EngineError, NotFound, PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._imageref import (
    ImageRefError,
    is_image_id,
    parse,
)
from ansible_collections.patchops.containers.plugins.module_utils._journal import (
    DEFAULT_STATE_DIR,
    Lock,
    engine_dir,
    write_json_atomic,
)
from ansible_collections.patchops.containers.plugins.module_utils._registry import (
    auth_config,
    classify_registry_error,
    remote_digest,
)

MANIFEST_FORMAT = 1
MANIFEST_FILE = 'stage.json'
JOURNAL_DIR = 'journal'
PREVIOUS_KEPT = 5
ARCHIVE_SPACE_FACTOR = 2
MAX_BACKOFF = 60

MANIFEST_MEDIA_TYPES = (
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.index.v1+json',
)
INDEX_MEDIA_TYPES = (
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.oci.image.index.v1+json',
)
_GO_ARCH = {'x86_64': 'amd64', 'amd64': 'amd64', 'aarch64': 'arm64', 'arm64': 'arm64',
            'armv7l': 'arm', 'armv6l': 'arm', 'arm': 'arm', 'i386': '386', 'i686': '386',
            'ppc64le': 'ppc64le', 's390x': 's390x', 'riscv64': 'riscv64'}
_TRANSIENT_WORDS = ('internal server error', 'bad gateway', 'service unavailable', 'gateway timeout',
                    'too many requests', 'toomanyrequests', 'connection reset', 'broken pipe',
                    'temporary failure', 'handshake timeout', 'unexpected eof', 'timed out',
                    'i/o timeout', 'connection refused', 'no route to host', 'network is unreachable')
_HTTP_5XX = re.compile(r'\b(?:429|500|502|503|504)\b')


class StageError(PatchopsError):
    """A staging failure already phrased for the operator."""


class RegistryFailure(Exception):
    """One failed registry operation; ``transient`` ones are worth another attempt."""

    def __init__(self, reason, text, transient):
        super().__init__('%s: %s' % (reason, text))
        self.reason = reason
        self.text = text
        self.transient = transient
        self.attempts = 1


# -- small pure helpers ---------------------------------------------------------------------

def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def human_bytes(value):
    if value is None:
        return 'unknown'
    size = float(value)
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(size) < 1024 or unit == 'TiB':
            return ('%d %s' % (size, unit)) if unit == 'B' else ('%.1f %s' % (size, unit))
        size /= 1024.0
    return '%d B' % value  # pragma: no cover


def full_id(text):
    """``sha256:<hex>`` for an image ID given with or without the prefix."""
    if not text:
        return text
    return text if text.startswith('sha256:') else 'sha256:' + text


def id_matches(actual, expected):
    """True if ``expected`` (full ID, bare hex or a 12+ digit prefix) names ``actual``."""
    if not actual or not expected:
        return False
    a = actual.split(':', 1)[-1].lower()
    e = expected.split(':', 1)[-1].lower()
    return len(e) >= 12 and a.startswith(e)


def is_transient(reason, text):
    """Is a registry failure worth retrying? Auth, not found and TLS failures never are."""
    if reason in ('auth denied', 'not found'):
        return False
    low = (text or '').lower()
    if 'handshake timeout' in low:
        return True
    if reason == 'tls error':
        return False
    if reason == 'registry unreachable':
        return True
    return any(word in low for word in _TRANSIENT_WORDS) or bool(_HTTP_5XX.search(low))


def registry_failure(text, not_found=False):
    reason = classify_registry_error(text)
    if reason == 'registry error' and not_found:
        reason = 'not found'
    return RegistryFailure(reason, text, is_transient(reason, text))


def backoff(delay, attempt, cap=MAX_BACKOFF):
    """Seconds to wait after failed attempt number ``attempt`` (1-based): doubling, capped."""
    return min(cap, max(0.0, float(delay)) * (2 ** (attempt - 1)))


def with_retries(action, retries, delay, sleep=time.sleep):
    """Run ``action()``; retry a transient RegistryFailure up to ``retries`` times with backoff.

    Returns (result, attempts). A permanent failure, or the last transient one, is raised with
    ``attempts`` set.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return action(), attempt
        except RegistryFailure as exc:
            exc.attempts = attempt
            if not exc.transient or attempt > retries:
                raise
            sleep(backoff(delay, attempt))


def go_arch(machine):
    return _GO_ARCH.get((machine or '').lower(), (machine or '').lower())


def pick_platform(index, os_type, arch, variant=None):
    """The manifest descriptor of an image index for this engine's platform, or None."""
    wanted_os = (os_type or 'linux').lower()
    wanted_arch = go_arch(arch)
    fallback = None
    for desc in index.get('manifests') or []:
        plat = desc.get('platform') or {}
        if plat.get('os') != wanted_os or plat.get('architecture') != wanted_arch:
            continue
        if variant is None or plat.get('variant') in (None, variant):
            return desc
        fallback = fallback or desc
    return fallback


def manifest_layers(doc):
    """{digest: size} of the blobs an image manifest makes the engine download."""
    blobs = {}
    config = doc.get('config') or {}
    if config.get('digest'):
        blobs[config['digest']] = int(config.get('size') or 0)
    for layer in doc.get('layers') or []:
        if layer.get('digest'):
            blobs[layer['digest']] = int(layer.get('size') or 0)
    return blobs


def parse_challenge(header):
    """(scheme, params) of a WWW-Authenticate header, e.g. ('bearer', {'realm': ...})."""
    if not header:
        return None, {}
    scheme, dummy, rest = header.strip().partition(' ')
    params = dict((k.lower(), v) for k, v in re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def space_needed(estimates, factor, min_free):
    """Bytes that must be free: each estimate (None = unknown, not counted) times ``factor``,
    plus ``min_free``. Returns (needed, unknown_count)."""
    total = 0
    unknown = 0
    for size, item_factor in estimates:
        if size is None:
            unknown += 1
            continue
        total += int(size * (item_factor if item_factor is not None else factor))
    return total + int(min_free or 0), unknown


def space_error(host, path, needed, free, fetch, factor, min_free):
    return ('not enough free space on %s to stage: %s has %s (%d bytes) free, %s (%d bytes) needed '
            '(estimated download %s x space_factor %s + min_free_bytes %s); nothing was pulled or loaded'
            % (host, path, human_bytes(free), free, human_bytes(needed), needed, human_bytes(fetch),
               factor, human_bytes(min_free)))


# -- the stage manifest ---------------------------------------------------------------------

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


# -- archives -------------------------------------------------------------------------------

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
    import gzip
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


# -- the registry HTTP API (size estimates only) --------------------------------------------

def registry_api_host(registry):
    return 'registry-1.docker.io' if registry == 'docker.io' else registry


def stored_credentials(registry):
    """Credentials of the connecting user's docker config for ``registry``, or None."""
    try:
        from docker import auth as docker_auth
        found = docker_auth.resolve_authconfig(docker_auth.load_config(), registry)
    except Exception:  # no SDK, no config, a broken credential helper: no credentials
        return None
    if found and found.get('username') and found.get('password'):
        return {'username': found['username'], 'password': found['password']}
    return None


class RegistryAPI:
    """Just enough of the registry v2 API to read manifests: basic and bearer token auth."""

    def __init__(self, registry, credentials, ca_path, validate_certs, timeout):
        self.base = 'https://%s' % registry_api_host(registry)
        self.credentials = credentials
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.auth_header = None

    def _open(self, url, headers):
        return open_url(url, headers=headers, validate_certs=self.validate_certs, ca_path=self.ca_path,
                        timeout=self.timeout, method='GET', http_agent='patchops.containers image_stage')

    def _basic(self):
        if not self.credentials:
            return None
        raw = '%s:%s' % (self.credentials['username'], self.credentials['password'])
        return 'Basic ' + base64.b64encode(raw.encode('utf-8')).decode('ascii')

    def _login(self, challenge):
        scheme, params = parse_challenge(challenge)
        if scheme == 'basic':
            self.auth_header = self._basic()
            return self.auth_header is not None
        if scheme == 'bearer' and params.get('realm'):
            query = dict((k, params[k]) for k in ('service', 'scope') if params.get(k))
            url = params['realm'] + ('?' + urlencode(query) if query else '')
            headers = {}
            if self._basic():
                headers['Authorization'] = self._basic()
            data = json.loads(self._open(url, headers).read().decode('utf-8'))
            token = data.get('token') or data.get('access_token')
            if token:
                self.auth_header = 'Bearer ' + token
                return True
        return False

    def manifest(self, repository, reference):
        url = '%s/v2/%s/manifests/%s' % (self.base, repository, reference)
        headers = {'Accept': ', '.join(MANIFEST_MEDIA_TYPES)}
        for attempt in (1, 2):
            if self.auth_header:
                headers['Authorization'] = self.auth_header
            try:
                return json.loads(self._open(url, headers).read().decode('utf-8'))
            except HTTPError as exc:
                if exc.code == 401 and attempt == 1 and self._login(exc.headers.get('WWW-Authenticate')):
                    continue
                raise
        return None  # pragma: no cover

    def image_blobs(self, repository, reference, os_type, arch):
        """{digest: size} of the config and layers of the image for this platform."""
        doc = self.manifest(repository, reference)
        if doc.get('mediaType') in INDEX_MEDIA_TYPES or 'manifests' in doc:
            desc = pick_platform(doc, os_type, arch)
            if desc is None:
                raise ValueError('no image for %s/%s in the index' % (os_type, go_arch(arch)))
            doc = self.manifest(repository, desc['digest'])
        return manifest_layers(doc)


# -- staging --------------------------------------------------------------------------------

def _explain(exc):
    if isinstance(exc, EngineError):
        return exc.msg
    text = getattr(exc, 'explanation', None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    return text


def _refs_of(image):
    return [r for r in (image.get('RepoTags') or []) + (image.get('RepoDigests') or [])
            if r and not r.startswith('<none>')]


def ref_repository(text):
    """Repository name (engine style) of a RepoTags / RepoDigests entry, or None."""
    try:
        return parse(text).name
    except ImageRefError:
        return None


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

    def _parse(self, text, what):
        try:
            return parse(text)
        except ImageRefError as exc:
            raise StageError('%s: %s' % (what, exc))

    def _check_expected_id(self, item):
        expected = item.get('expected_id')
        if expected and not is_image_id(expected) and not re.match(r'^(sha256:)?[0-9a-f]{12,64}$', expected):
            raise StageError('expected_id %r is not an image ID (sha256:<64 hex digits>)' % expected)
        return expected

    def _plan_registry(self, item):
        text = item.get('ref')
        ref = self._parse(text, 'images[].ref')
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
            if ref.tag and ref.tagged() not in (image.get('RepoTags') or []):
                plan['action'] = 'tag'
            plan['estimate'] = None
        else:
            plan['image'] = None
            plan['action'] = 'pull'
            plan['estimate'] = self._estimate(ref, digest)
        return plan

    def _resolve(self, ref):
        def lookup():
            digest, reason = remote_digest(self.engine, ref, self._auth(ref))
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
        creds = None
        if self.params.get('registry_username') and self.params.get('registry_password'):
            creds = {'username': self.params['registry_username'], 'password': self.params['registry_password']}
        else:
            creds = stored_credentials(ref.registry)
        ca_path = self.params.get('registry_ca_path')
        if not ca_path:
            candidate = '/etc/docker/certs.d/%s/ca.crt' % ref.registry
            ca_path = candidate if os.path.isfile(candidate) else None
        return RegistryAPI(ref.registry, creds, ca_path, self.params.get('registry_validate_certs', True),
                           self.engine.timeout)

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
            tags.append(self._parse(text, 'tag %s in archive %s' % (text, path)))
        if item.get('ref'):
            ref = self._parse(item['ref'], 'images[].ref')
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
            local = set(image.get('RepoTags') or [])
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
            local = set(image.get('RepoTags') or [])
            for tag in plan['tags']:
                if tag.tagged() not in local:
                    self._tag(plan['image_id'], tag)
        plan['image'] = self._inspect(plan['image_id'] if plan['source'] == 'archive' else plan['pull_ref'])

    def _tag(self, image_id, ref):
        self.engine.call('tag %s as %s' % (image_id, ref.tagged()), self.api.tag, image_id,
                         ref.name, ref.tag or 'latest', force=True)

    def _pull(self, plan):
        ref = plan['ref']
        name = ref.name

        def pull():
            try:
                for line in self.api.pull(name, tag=plan['digest'], stream=True, decode=True,
                                          auth_config=self._auth(ref)):
                    if isinstance(line, dict) and line.get('error'):
                        raise registry_failure(line.get('error'))
            except RegistryFailure:
                raise
            except Exception as exc:  # APIError, and requests errors when the engine goes away
                raise registry_failure(_explain(exc), not_found=isinstance(exc, NotFound))
        try:
            dummy, attempts = with_retries(pull, self.retries, self.delay, self.sleep)
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
            error = _explain(exc)
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
                    ref = parse(tag)
                    self.api.tag(image_id, ref.name, ref.tag or 'latest', force=True)
                except Exception:
                    failed.append(tag)
        if failed:
            return 'could not remove what it left: %s (remove by hand)' % ', '.join(failed)
        if removed:
            return 'removed what it left (%s); nothing else changed' % ', '.join(r[:19] for r in removed)
        return 'nothing was loaded'

    # -- entries ----------------------------------------------------------------------------
    def entries(self, plan):
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

    def report(self, plan, done):
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
            when = now()
            for plan in plans:
                for key, entry in self.entries(plan).items():
                    changed = merge_entry(after['images'], key, entry, when) or changed
            result.update(changed=changed, images=[self.report(p, False) for p in plans],
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
        result.update(changed=changed, images=[self.report(p, True) for p in done], manifest=manifest,
                      before=before)
        if failure is not None:
            staged = ', '.join(p['reference'] for p in done) or 'none'
            raise StageError('%s (staged before the failure: %s)' % (failure.msg, staged),
                             result=result, **failure.details)
        return result

    def _record(self, plans):
        with self._manifest_lock():
            manifest = read_manifest(self.state_dir, self.engine_id)
            when = now()
            changed = False
            for plan in plans:
                for key, entry in self.entries(plan).items():
                    changed = merge_entry(manifest['images'], key, entry, when) or changed
            if changed or manifest.get('engine_id') != self.engine_id:
                manifest['engine_id'] = self.engine_id
                manifest['engine_name'] = self.host
                manifest['updated_at'] = when
                write_json_atomic(self.path, manifest, mode=0o644)
                changed = True
        return manifest, changed

    def _manifest_lock(self):
        """Serialises read-modify-write of the manifest (not the swap lock)."""
        return Lock(self.path + '.lock', self.params.get('lock_timeout') or 60, holder='another image_stage run')

    def absent(self):
        """Forget manifest entries (the images stay; ``state: pruned`` removes them later)."""
        keys = []
        for item in self.params.get('images') or []:
            if not item.get('ref'):
                raise StageError('state=absent takes images[].ref, the references to forget')
            keys.append(manifest_key(self._parse(item['ref'], 'images[].ref')))
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
            manifest['updated_at'] = now()
            write_json_atomic(self.path, manifest, mode=0o644)
        result['manifest'] = manifest
        return result


# -- retention ------------------------------------------------------------------------------

def journal_mentions(directory, image_ids):
    """{image_id: [files]} for image IDs mentioned in any file under the journal directory.

    The contract with the journal writers: a file that names an image ID (``sha256:<hex>``, the
    bare 64-digit hex or the 12-digit short ID) keeps that image. An unreadable file raises
    StageError: pruning must not guess.
    """
    found = {}
    if not os.path.isdir(directory):
        return found
    wanted = dict((i, i.split(':', 1)[-1]) for i in image_ids)
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                with open(path, 'rb') as fh:
                    text = fh.read().decode('utf-8', 'replace').lower()
            except OSError as exc:
                raise StageError('cannot read journal file %s (%s); refusing to prune, an image it names '
                                 'may be needed for a rollback' % (path, exc.strerror or exc))
            for image_id, hexid in wanted.items():
                if hexid in text or re.search(r'(?<![0-9a-f])%s(?![0-9a-f])' % re.escape(hexid[:12]), text):
                    found.setdefault(image_id, []).append(path)
    return found


def plan_prune(repositories, images, current, used_by, journal, protected_tags, keep):
    """Decide what retention removes. Pure.

    images: [{'Id', 'RepoTags', 'RepoDigests', 'Created'}] (Created sortable, newest largest);
    current: staged image IDs; used_by: {image_id: [container names]}; journal: {image_id: [files]};
    protected_tags: manifest keys (a local tag equal to one is never removed).

    Per repository, the images with a reference in it that are not currently staged are sorted
    newest first: the first ``keep`` are kept; of the rest, those a container uses, the journal
    names, or that carry a staged tag are kept; the others are removed (their references in this
    repository are removed; the image goes when no reference is left).
    Returns (remove, kept): lists of dicts with repository, image_id, references, reasons.
    """
    remove, kept = [], []
    for repo in sorted(set(repositories)):
        candidates = []
        for image in images:
            refs = [r for r in _refs_of(image) if ref_repository(r) == repo]
            if refs and image['Id'] not in current:
                candidates.append((image, refs))
        candidates.sort(key=lambda c: (c[0].get('Created') or '', c[0]['Id']), reverse=True)
        for position, (image, refs) in enumerate(candidates):
            reasons = []
            if position < keep:
                reasons.append('one of the newest %d previous images of %s' % (keep, repo))
            if used_by.get(image['Id']):
                reasons.append('used by container %s' % ', '.join(sorted(used_by[image['Id']])))
            if journal.get(image['Id']):
                reasons.append('needed for rollback by journal %s' % ', '.join(journal[image['Id']]))
            staged_tags = sorted(set(image.get('RepoTags') or []) & set(protected_tags))
            if staged_tags:
                reasons.append('carries the staged tag %s (moved locally since staging)' % ', '.join(staged_tags))
            all_refs = _refs_of(image)
            record = {'repository': repo, 'image_id': image['Id'], 'references': sorted(refs),
                      'created': image.get('Created')}
            if reasons:
                record['reasons'] = reasons
                kept.append(record)
            else:
                record['removes_image'] = len(all_refs) == len(refs)
                remove.append(record)
    return remove, kept


class Pruner:
    """``state: pruned``: remove superseded images, keeping N previous and anything still needed."""

    def __init__(self, engine, params, check_mode=False, warn=None):
        self.engine = engine
        self.api = engine.api
        self.params = params
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.engine_id = engine.info.get('ID')
        self.host = engine.info.get('Name') or engine.docker_host
        self.state_dir = params.get('state_dir') or DEFAULT_STATE_DIR

    def run(self):
        keep = self.params.get('keep')
        keep = 1 if keep is None else keep
        if keep < 0:
            raise StageError('keep must be 0 or more')
        with Lock.engine(self.state_dir, self.engine_id, self.params.get('lock_timeout') or 60):
            return self._run(keep)

    def _run(self, keep):
        manifest = read_manifest(self.state_dir, self.engine_id)
        entries = manifest['images']
        repositories = set()
        for item in self.params.get('images') or []:
            if not item.get('ref'):
                raise StageError('state=pruned takes images[].ref to limit the repositories pruned')
            try:
                repositories.add(parse(item['ref']).name)
            except ImageRefError as exc:
                raise StageError('images[].ref: %s' % exc)
        if not self.params.get('images'):
            repositories = set(e.get('repository') for e in entries.values() if e.get('repository'))
        current = set(e.get('image_id') for e in entries.values() if e.get('image_id'))
        summaries = self.engine.call('list images', self.api.images)
        images = []
        for summary in summaries:
            refs = _refs_of(summary)
            if not any(ref_repository(r) in repositories for r in refs):
                continue
            created = summary.get('Created')
            try:
                created = self.engine.call('inspect image', self.api.inspect_image, summary['Id']).get('Created')
            except (EngineError, NotFound):
                pass
            images.append({'Id': summary['Id'], 'RepoTags': summary.get('RepoTags') or [],
                           'RepoDigests': summary.get('RepoDigests') or [], 'Created': str(created)})
        used_by = {}
        for container in self.engine.call('list containers', self.api.containers, all=True):
            names = [n.lstrip('/') for n in container.get('Names') or []] or [container['Id'][:12]]
            used_by.setdefault(container.get('ImageID'), []).extend(names)
        journal = journal_mentions(os.path.join(engine_dir(self.state_dir, self.engine_id), JOURNAL_DIR),
                                   [i['Id'] for i in images])
        remove, kept = plan_prune(repositories, images, current, used_by, journal, list(entries), keep)
        result = {'changed': bool(remove), 'keep': keep, 'repositories': sorted(repositories), 'kept': kept,
                  'removed': [], 'engine_id': self.engine_id}
        if self.check_mode:
            result['removed'] = remove
            return result
        done = []
        for record in remove:
            refused = None
            for name in sorted(record['references'], key=lambda r: ('@' in r, r)):
                try:
                    self.api.remove_image(name, force=False, noprune=False)
                except NotFound:
                    continue
                except Exception as exc:  # 409 conflict: a container or a child image appeared
                    refused = _explain(exc)
                    break
            if refused:
                record['reasons'] = ['the engine refused: %s' % refused]
                kept.append(record)
            else:
                done.append(record)
        result['removed'] = done
        result['changed'] = bool(done)
        return result
