# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry client: failure classification, retries, registry documents, credentials."""

from __future__ import annotations

import pytest
from fake_engine import FakeEngine

from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse
from ansible_collections.patchops.containers.plugins.module_utils._registry import (
    RegistryFailure,
    auth_config,
    backoff,
    credentials,
    is_transient,
    manifest_layers,
    parse_challenge,
    pick_platform,
    pull,
    registry_api_host,
    registry_failure,
    with_retries,
)


# -- retries ----------------------------------------------------------------------------------

@pytest.mark.parametrize('text, transient', [
    ('Get "https://r:5000/v2/": dial tcp 10.0.0.1:5000: connect: connection refused', True),
    ('received unexpected HTTP status: 503 Service Unavailable', True),
    ('received unexpected HTTP status: 500 Internal Server Error', True),
    ('toomanyrequests: You have reached your pull rate limit', True),
    ('net/http: TLS handshake timeout', True),
    ('read tcp 10.0.0.2:4242->10.0.0.1:5000: i/o timeout', True),
    ('unauthorized: authentication required', False),
    ('Head "https://r:5000/v2/a/manifests/v2": no basic auth credentials', False),
    ('manifest unknown: manifest unknown', False),
    ('x509: certificate signed by unknown authority', False),
    ('invalid reference format', False),
])
def test_transient_classification(text, transient):
    assert registry_failure(text).transient is transient


def test_not_found_flag_wins_over_an_unclear_text():
    failure = registry_failure('something odd', not_found=True)
    assert failure.reason == 'not found' and not failure.transient
    assert not is_transient('auth denied', 'service unavailable')


def test_backoff_doubles_and_is_capped():
    assert [backoff(2, n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(10, 10) == 60
    assert backoff(0, 3) == 0


def test_retries_transient_failures_then_succeeds():
    calls, waits = [], []

    def action():
        calls.append(1)
        if len(calls) < 3:
            raise RegistryFailure('registry unreachable', 'connection refused', True)
        return 'sha256:x'

    assert with_retries(action, 3, 1, sleep=waits.append) == ('sha256:x', 3)
    assert waits == [1, 2]


def test_retries_are_bounded():
    waits = []

    def action():
        raise RegistryFailure('registry unreachable', 'connection refused', True)

    with pytest.raises(RegistryFailure) as info:
        with_retries(action, 2, 0.5, sleep=waits.append)
    assert info.value.attempts == 3
    assert waits == [0.5, 1.0]


def test_permanent_failures_are_not_retried():
    waits = []

    def action():
        raise RegistryFailure('auth denied', 'unauthorized', False)

    with pytest.raises(RegistryFailure) as info:
        with_retries(action, 5, 1, sleep=waits.append)
    assert info.value.attempts == 1 and waits == []


# -- registry documents ----------------------------------------------------------------------

INDEX = {'mediaType': 'application/vnd.oci.image.index.v1+json', 'manifests': [
    {'digest': 'sha256:arm', 'platform': {'os': 'linux', 'architecture': 'arm', 'variant': 'v7'}},
    {'digest': 'sha256:arm64', 'platform': {'os': 'linux', 'architecture': 'arm64'}},
    {'digest': 'sha256:amd64', 'platform': {'os': 'linux', 'architecture': 'amd64'}},
    {'digest': 'sha256:win', 'platform': {'os': 'windows', 'architecture': 'amd64'}},
]}


@pytest.mark.parametrize('os_type, machine, digest', [
    ('linux', 'x86_64', 'sha256:amd64'),
    ('linux', 'aarch64', 'sha256:arm64'),
    ('linux', 'armv7l', 'sha256:arm'),
    ('windows', 'x86_64', 'sha256:win'),
])
def test_pick_platform(os_type, machine, digest):
    assert pick_platform(INDEX, os_type, machine)['digest'] == digest


def test_pick_platform_none_for_a_missing_platform():
    assert pick_platform(INDEX, 'linux', 's390x') is None


def test_manifest_layers_counts_config_and_layers():
    doc = {'config': {'digest': 'sha256:c', 'size': 100},
           'layers': [{'digest': 'sha256:l1', 'size': 1000}, {'digest': 'sha256:l2', 'size': 20}]}
    assert manifest_layers(doc) == {'sha256:c': 100, 'sha256:l1': 1000, 'sha256:l2': 20}


def test_parse_challenge():
    scheme, params = parse_challenge('Bearer realm="https://auth.example/token",service="registry.example",'
                                     'scope="repository:a/b:pull"')
    assert scheme == 'bearer'
    assert params == {'realm': 'https://auth.example/token', 'service': 'registry.example',
                      'scope': 'repository:a/b:pull'}
    assert parse_challenge('Basic realm="patchops-lab"') == ('basic', {'realm': 'patchops-lab'})
    assert parse_challenge(None) == (None, {})


def test_credentials_from_options_and_auth_config_for_the_engine():
    params = {'registry_username': 'u', 'registry_password': 'p'}
    assert credentials(params, 'r.example') == {'username': 'u', 'password': 'p'}
    assert auth_config(params, 'r.example') == {'username': 'u', 'password': 'p', 'serveraddress': 'r.example'}
    assert credentials({'registry_username': 'u'}, 'r.example') is None
    assert auth_config({}, 'r.example') is None


def test_docker_hub_api_host():
    assert registry_api_host('docker.io') == 'registry-1.docker.io'
    assert registry_api_host('10.213.7.1:5000') == '10.213.7.1:5000'


# -- Podman: the remote digest from the registry's API ------------------------------------------

def _http_error(code, reason):
    from urllib.error import HTTPError
    return HTTPError('https://reg.example:5000/v2/app/manifests/v1', code, reason, {}, None)


@pytest.mark.parametrize('code, reason, creds, verdict', [
    (401, 'Unauthorized', None, 'auth denied: no basic auth credentials'),
    (401, 'Unauthorized', {'username': 'u', 'password': 'secret-pw'}, 'auth denied: registry'),
    (404, 'Not Found', None, 'not found: registry'),
    (503, 'Service Unavailable', None, 'registry error: registry'),
])
def test_podman_remote_digest_failures(monkeypatch, code, reason, creds, verdict):
    from ansible_collections.patchops.containers.plugins.module_utils import _registry
    from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse

    def fail(self, repository, reference):
        raise _http_error(code, reason)
    monkeypatch.setattr(_registry.RegistryAPI, 'digest', fail)
    monkeypatch.setattr(_registry, 'credentials', lambda params, registry, stored=False: None)
    monkeypatch.setattr(_registry, 'podman_credentials', lambda registry: None)
    digest, why = _registry.remote_digest(FakeEngine(kind='podman'), parse('reg.example:5000/app:v1'), creds, {})
    assert digest is None and why.startswith(verdict), why
    assert 'secret-pw' not in why
    assert is_transient(why.split(':')[0], why) == (code == 503)


def test_podman_module_credentials_stay_with_their_registry(monkeypatch):
    """registry_username/password given for another registry (auth None here) are not sent."""
    from ansible_collections.patchops.containers.plugins.module_utils import _registry
    from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse
    sent = {}

    def digest(self, repository, reference):
        sent['credentials'] = self.credentials
        return 'sha256:' + 'a' * 64
    monkeypatch.setattr(_registry.RegistryAPI, 'digest', digest)
    monkeypatch.setattr(_registry, 'podman_credentials', lambda registry: None)
    params = {'registry_username': 'u', 'registry_password': 'p'}
    monkeypatch.setenv('DOCKER_CONFIG', '/nonexistent')
    assert _registry.remote_digest(FakeEngine(kind='podman'), parse('reg.example:5000/app:v1'), None, params) == (
        'sha256:' + 'a' * 64, None)
    assert sent['credentials'] is None


# -- the one pull ---------------------------------------------------------------------------------

def test_pull_reads_the_streams_error_and_retries_what_is_transient(fake_engine, fake_registry):
    fake_registry.push('reg.example.com/shop/web:2')
    fake_engine.api.stream_errors['pull'] = ['received unexpected HTTP status: 503 Service Unavailable', None]
    waits = []
    assert pull(fake_engine, parse('reg.example.com/shop/web:2'), '2', None, retries=3, delay=2, sleep=waits.append) == 2
    assert waits == [2] and fake_engine.image('reg.example.com/shop/web:2') is not None


def test_pull_of_what_the_registry_lacks_fails_at_once(fake_engine):
    with pytest.raises(RegistryFailure) as info:
        pull(fake_engine, parse('reg.example.com/shop/web:9'), '9', None, retries=3, delay=2, sleep=None)
    assert (info.value.reason, info.value.attempts) == ('not found', 1)
    assert 'manifest unknown' in info.value.msg
