# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one registry client: credentials, failure classification and retries, the remote-digest
lookup (through the engine, or the registry's API on Podman; no pull), and just enough of the registry v2 HTTP API to read
manifests (size estimates).

Private: not a public API of the collection.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from urllib.error import HTTPError
from urllib.parse import urlencode

from ansible_collections.patchops.containers.plugins.module_utils._engine import NotFound
from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError, error_text
from ansible_collections.patchops.containers.plugins.module_utils._imageref import DEFAULT_REGISTRY

REGISTRY_ARGUMENT_SPEC = dict(
    registry_username=dict(type='str'),
    registry_password=dict(type='str', no_log=True),
)
DOCKER_HUB_API = 'registry-1.docker.io'
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


class RegistryFailure(PatchopsError):
    """One failed registry operation; ``transient`` ones are worth another attempt."""

    def __init__(self, reason, text, transient):
        super().__init__('%s: %s' % (reason, text))
        self.reason = reason
        self.text = text
        self.transient = transient
        self.attempts = 1


# -- credentials ------------------------------------------------------------------------------

def credentials(params, registry, stored=False):
    """{'username', 'password'} for ``registry``: the module options, else (``stored``) the
    connecting user's docker config; None when there are none."""
    user = params.get('registry_username')
    password = params.get('registry_password')
    if user and password:
        return {'username': user, 'password': password}
    if not stored:
        return None
    try:
        from docker import auth as docker_auth
        found = docker_auth.resolve_authconfig(docker_auth.load_config(), registry)
    except Exception:  # no SDK, no config, a broken credential helper: no credentials
        return None
    if found and found.get('username') and found.get('password'):
        return {'username': found['username'], 'password': found['password']}
    return None


def podman_credentials(registry):
    """{'username', 'password'} for ``registry`` from Podman's auth files, or None."""
    for pattern in PODMAN_AUTH_FILES:
        path = os.path.expanduser(os.path.expandvars(pattern.replace('${UID}', str(os.getuid()))))
        if '$' in path or not os.path.isfile(path):
            continue
        try:
            from docker import auth as docker_auth
            found = docker_auth.resolve_authconfig(docker_auth.load_config(config_path=path), registry)
        except Exception:  # unreadable or not JSON: the next file
            continue
        if found and found.get('username') and found.get('password'):
            return {'username': found['username'], 'password': found['password']}
    return None


def auth_config(params, registry):
    """The engine's ``auth_config`` for ``registry`` from module options; None lets the SDK use
    the host's docker config (``~/.docker/config.json`` of the connecting user)."""
    found = credentials(params, registry)
    return dict(found, serveraddress=registry) if found else None


# -- failures and retries -----------------------------------------------------------------------

def classify_registry_error(text):
    """A short reason for an update check or pull failure, from the engine's message."""
    low = (text or '').lower()
    if 'unauthorized' in low or 'authentication required' in low or 'no basic auth' in low \
            or 'denied' in low or 'incorrect username or password' in low:
        return 'auth denied'
    if 'manifest unknown' in low or 'not found' in low or 'name unknown' in low:
        return 'not found'
    if 'x509' in low or 'certificate' in low or 'tls' in low:
        return 'tls error'
    if 'connection refused' in low or 'no such host' in low or 'timeout' in low \
            or 'i/o timeout' in low or 'no route to host' in low or 'eof' in low:
        return 'registry unreachable'
    return 'registry error'


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


# -- through the engine -------------------------------------------------------------------------

def pull(engine, ref, tag, auth, retries=3, delay=2, sleep=time.sleep):
    """Pull ``ref`` (an ImageRef) at ``tag`` (a tag or a digest) through the engine: the one pull of
    the collection. The engine reports a failed pull in its stream, not as an HTTP error, so the
    stream is read to the end; a transient failure is retried (``with_retries``). Returns the
    attempts; raises RegistryFailure (``reason``, ``attempts``)."""
    def once():
        try:
            for line in engine.api.pull(ref.name, tag=tag, stream=True, decode=True, auth_config=auth):
                if isinstance(line, dict) and line.get('error'):
                    raise registry_failure(line.get('error'))
        except RegistryFailure:
            raise
        except Exception as exc:  # APIError, and requests errors when the engine goes away
            raise registry_failure(error_text(exc), not_found=isinstance(exc, NotFound))
    return with_retries(once, retries, delay, sleep)[1]


def remote_digest(engine, ref, auth, params=None):
    """The registry's current digest of ``ref``: asked of the engine (``GET
    /distribution/{name}/json``), or, on Podman (which has no such endpoint), of the registry's own
    API from this host, with ``auth``, else the host's stored credentials (``params`` give the CA).

    Returns (digest, None) or (None, reason); the password never appears in a reason.
    """
    if getattr(engine, 'kind', 'docker') == 'podman':
        return _registry_digest(ref, auth, params or {}, engine.timeout)
    try:
        data = engine.api.inspect_distribution(ref.tagged() or ref.text, auth_config=auth)
    except Exception as exc:  # APIError subclasses, and requests errors when the engine goes away
        failure = registry_failure(error_text(exc), not_found=isinstance(exc, NotFound))
        return None, failure.msg
    return (data.get('Descriptor') or {}).get('digest'), None


def remote_image_id(engine, ref, auth, params=None):
    """The image ID (config digest) the registry's ``ref`` names for the engine's platform, asked of
    the registry's API, or None. Podman re-encodes a manifest it pushes and does not record the
    digest it pushed under: a local image can be the registry's with none of its digests."""
    try:
        client = _client(ref, auth, params or {}, engine.timeout)
        info = engine.info
        return client.config_digest(ref.repository, ref.tag or 'latest', info.get('OSType'), info.get('Architecture'))
    except Exception:  # a second opinion only: the digest comparison stands
        return None


def _client(ref, auth, params, timeout):
    """A registry API client for ``ref`` with ``auth`` (the module's credentials for this registry),
    else only the host's stored ones: the module's may be meant for another registry."""
    client = RegistryAPI.for_params(dict(params, registry_username=None, registry_password=None),
                                    ref.registry, timeout)
    if auth and auth.get('username'):
        client.credentials = {'username': auth['username'], 'password': auth.get('password')}
    return client


def _registry_digest(ref, auth, params, timeout):
    client = None
    try:
        client = _client(ref, auth, params, timeout)
        return client.digest(ref.repository, ref.tag or 'latest'), None
    except HTTPError as exc:
        text = 'registry %s answered HTTP %s %s' % (registry_api_host(ref.registry), exc.code, exc.reason)
        if exc.code == 401 and not (client and client.credentials):
            text = 'no basic auth credentials (%s)' % text
        elif exc.code in (401, 403):
            text += ' (unauthorized)'
        return None, registry_failure(text, not_found=exc.code == 404).msg
    except Exception as exc:  # URLError, TLS and socket errors, a body that is not a manifest
        text = 'registry %s: %s' % (registry_api_host(ref.registry), getattr(exc, 'reason', None) or exc)
        return None, registry_failure(text).msg


# -- the registry HTTP API (manifests only) -----------------------------------------------------

# Where engines keep each registry's CA: Docker, then Podman (containers-certs.d).
CERTS_DIRS = ('/etc/docker/certs.d', '/etc/containers/certs.d')
# Podman's credential files (containers-auth.json), read after the Docker config.
PODMAN_AUTH_FILES = ('${REGISTRY_AUTH_FILE}', '${XDG_RUNTIME_DIR}/containers/auth.json',
                     '/run/containers/${UID}/auth.json', '~/.config/containers/auth.json')


def registry_api_host(registry):
    """The host serving ``registry``'s v2 API (Docker Hub's is not ``docker.io``)."""
    return DOCKER_HUB_API if registry == DEFAULT_REGISTRY else registry


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


class RegistryAPI:
    """Just enough of the registry v2 API to read manifests: basic and bearer token auth."""

    def __init__(self, registry, credentials, ca_path, validate_certs, timeout):
        self.base = 'https://%s' % registry_api_host(registry)
        self.credentials = credentials
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.auth_header = None

    @classmethod
    def for_params(cls, params, registry, timeout):
        """A client for ``registry`` from module options (credentials, CA), the host's docker
        config and ``/etc/docker/certs.d`` filling what they leave out."""
        ca_path = params.get('registry_ca_path')
        if not ca_path:
            candidates = ['%s/%s/ca.crt' % (d, registry) for d in CERTS_DIRS]
            ca_path = next((c for c in candidates if os.path.isfile(c)), None)
        found = credentials(params, registry, stored=True) or podman_credentials(registry)
        return cls(registry, found, ca_path, params.get('registry_validate_certs', True), timeout)

    def _open(self, url, headers):
        # Imported here: it loads the cryptography package (30 ms), which a run that asks no registry skips.
        from ansible.module_utils.urls import open_url
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

    def _manifest_response(self, repository, reference):
        url = '%s/v2/%s/manifests/%s' % (self.base, repository, reference)
        headers = {'Accept': ', '.join(MANIFEST_MEDIA_TYPES)}
        for attempt in (1, 2):
            if self.auth_header:
                headers['Authorization'] = self.auth_header
            try:
                return self._open(url, headers)
            except HTTPError as exc:
                if exc.code == 401 and attempt == 1 and self._login(exc.headers.get('WWW-Authenticate')):
                    continue
                raise
        return None  # pragma: no cover

    def manifest(self, repository, reference):
        return json.loads(self._manifest_response(repository, reference).read().decode('utf-8'))

    def digest(self, repository, reference):
        """The digest a tag points at (an index's own digest for a multi-platform image), as the
        engine's /distribution endpoint answers it: the registry's Docker-Content-Digest, else the
        SHA-256 of the manifest as served."""
        resp = self._manifest_response(repository, reference)
        body = resp.read()
        digest = resp.headers.get('Docker-Content-Digest')
        return digest or 'sha256:' + hashlib.sha256(body).hexdigest()

    def config_digest(self, repository, reference, os_type, arch):
        """The config digest (the image ID) of the image ``reference`` names for this platform."""
        doc = self.manifest(repository, reference)
        if doc.get('mediaType') in INDEX_MEDIA_TYPES or 'manifests' in doc:
            desc = pick_platform(doc, os_type, arch)
            if desc is None:
                return None
            doc = self.manifest(repository, desc['digest'])
        return (doc.get('config') or {}).get('digest')

    def image_blobs(self, repository, reference, os_type, arch):
        """{digest: size} of the config and layers of the image for this platform."""
        doc = self.manifest(repository, reference)
        if doc.get('mediaType') in INDEX_MEDIA_TYPES or 'manifests' in doc:
            desc = pick_platform(doc, os_type, arch)
            if desc is None:
                raise ValueError('no image for %s/%s in the index' % (os_type, go_arch(arch)))
            doc = self.manifest(repository, desc['digest'])
        return manifest_layers(doc)
