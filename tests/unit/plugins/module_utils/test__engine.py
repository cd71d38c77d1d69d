import pytest

from ansible_collections.patchops.containers.plugins.module_utils import _engine
from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    MAX_API_VERSION, engine_kind, fail_module, negotiate_api_version, podman_engine_id, rename_problem,
    transport_problem)
from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse


@pytest.mark.parametrize('requested, engine_api, engine_min, expected', [
    ('auto', '1.41', '1.12', '1.41'),           # Docker 20.10: its own newest
    ('auto', '1.45', '1.24', '1.45'),           # Docker 26
    ('auto', '1.52', '1.44', MAX_API_VERSION),  # Docker 29: the newest the collection knows
    ('auto', '1.60', '1.50', '1.50'),           # an engine whose minimum is past what we know: never below it
    ('AUTO', '1.41', None, '1.41'),
    (None, '1.41', '1.12', '1.41'),
    ('1.41', '1.45', '1.24', '1.41'),           # explicit and in range: as asked
    ('1.44', '1.52', '1.44', '1.44'),
])
def test_negotiated(requested, engine_api, engine_min, expected):
    assert negotiate_api_version(requested, engine_api, engine_min) == (expected, None)


@pytest.mark.parametrize('requested, engine_api, engine_min, says', [
    ('1.41', '1.52', '1.44', 'below the minimum API 1.44 of this engine'),   # Docker 29 refuses 1.41
    ('1.44', '1.41', '1.12', 'newer than API 1.41'),
    ('1.26', '1.45', '1.24', 'below 1.30, the oldest API patchops.containers speaks'),
])
def test_explicit_version_outside_the_engine_range(requested, engine_api, engine_min, says):
    version, why = negotiate_api_version(requested, engine_api, engine_min)
    assert version is None and says in why and 'api_version: auto' in why


# /version of the lab's engines (trimmed): Podman 5.4 lists itself as a component; Docker as "Engine".
PODMAN_VERSION = {'Platform': {'Name': 'linux/amd64/debian-13'}, 'Version': '5.4.2', 'ApiVersion': '1.41',
                  'Components': [{'Name': 'Podman Engine', 'Version': '5.4.2'},
                                 {'Name': 'Conmon', 'Version': 'conmon version 2.1.12'}]}
DOCKER_VERSION = {'Platform': {'Name': ''}, 'Version': '20.10.24+dfsg1', 'ApiVersion': '1.41',
                  'Components': [{'Name': 'Engine', 'Version': '20.10.24+dfsg1'},
                                 {'Name': 'containerd', 'Version': '1.6.20~ds1'}]}


@pytest.mark.parametrize('version, expected', [
    (PODMAN_VERSION, ('podman', '5.4.2')),
    (DOCKER_VERSION, ('docker', '20.10.24+dfsg1')),
    ({'Platform': {'Name': 'Podman Engine'}, 'Version': '4.9.3'}, ('podman', '4.9.3')),
    ({'Version': '17.06.0-ce'}, ('docker', '17.06.0-ce')),  # no Components before API 1.35
    ({}, ('docker', None)),
])
def test_engine_kind(version, expected):
    assert engine_kind(version) == expected


def test_old_podman_cannot_rename():
    why = rename_problem('podman', '2.2.1', 'unix:///run/podman/podman.sock')
    assert why.startswith('Podman 2.2.1 at unix:///run/podman/podman.sock cannot rename containers')
    assert 'Podman 3.0 or newer' in why
    assert rename_problem('podman', '3.0.1', 'x') is None
    assert rename_problem('docker', '1.13.1', 'x') is None  # Docker renames since 1.5


def test_podman_engine_id_is_stable():
    # Podman's own /info ID differs on every call; the store names the engine.
    a = podman_engine_id({'ID': 'one', 'Name': 'lab7', 'DockerRootDir': '/var/lib/containers/storage'})
    b = podman_engine_id({'ID': 'two', 'Name': 'lab7', 'DockerRootDir': '/var/lib/containers/storage'})
    other = podman_engine_id({'ID': 'one', 'Name': 'lab8', 'DockerRootDir': '/var/lib/containers/storage'})
    assert a == b != other and a.startswith('podman-')


class _Module:
    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise SystemExit(1)


def test_fail_module_keeps_the_partial_result_without_before():
    module = _Module()
    exc = PatchopsError('pull failed on lab1', result={'images': [1], 'before': {'x': 1}, 'changed': True}, host='lab1')
    with pytest.raises(SystemExit):
        fail_module(module, exc)
    assert module.failed == {'msg': 'pull failed on lab1', 'images': [1], 'changed': True, 'host': 'lab1'}
    with pytest.raises(SystemExit):
        fail_module(module, PatchopsError('bad'))
    assert module.failed == {'msg': 'bad', 'changed': False}


# -- the engine address: plain TCP to another host refused, TLS without verification warned ------------

REFUSED = 'is plain TCP without TLS to another host'
WARNED = "TLS without verifying the engine's certificate"


@pytest.mark.parametrize('params, refused, warned', [
    ({'docker_host': 'tcp://10.213.7.12:2375'}, True, False),
    ({'docker_host': '10.213.7.12:2375'}, True, False),                    # the SDK reads it as tcp://
    ({'docker_host': 'tcp://docker1.example.com:2375'}, True, False),
    ({'docker_host': 'tcp://[2001:db8::1]:2375'}, True, False),
    ({'docker_host': 'http://10.213.7.12:2375', 'tls': True}, True, False),  # http:// is plain whatever tls says
    ({'docker_host': 'tcp://10.213.7.12:2376', 'tls': True}, False, True),
    ({'docker_host': 'tcp://10.213.7.12:2376', 'validate_certs': True}, False, False),
    ({'docker_host': 'tcp://10.213.7.12:2376', 'tls': True, 'validate_certs': True}, False, False),
    ({'docker_host': 'tcp://10.213.7.12:2375', 'tls_insecure_ok': True}, False, False),
    ({'docker_host': 'tcp://10.213.7.12:2376', 'tls': True, 'tls_insecure_ok': True}, False, False),
    ({'docker_host': 'tcp://127.0.0.1:2375'}, False, False),                 # the loopback: nobody on the path
    ({'docker_host': 'tcp://127.8.9.10:2375'}, False, False),
    ({'docker_host': 'tcp://localhost:2375'}, False, False),
    ({'docker_host': 'tcp://[::1]:2375'}, False, False),
    ({'docker_host': 'tcp://:2375'}, False, False),                          # the SDK's 127.0.0.1
    ({'docker_host': 'tcp://127.0.0.1:2376', 'tls': True}, False, False),
    ({'docker_host': 'unix:///var/run/docker.sock'}, False, False),
    ({'docker_host': '/run/podman/podman.sock'}, False, False),
    ({'docker_host': 'ssh://root@10.213.7.12'}, False, False),
    ({'docker_host': 'https://10.213.7.12:2376'}, False, False),             # verified by the SDK's defaults
    ({'docker_host': 'https://10.213.7.12:2376', 'tls': True}, False, True),
    ({}, False, False),
])
def test_transport_problem(params, refused, warned):
    why, warning = transport_problem(params)
    assert (why is not None, warning is not None) == (refused, warned)
    if refused:
        assert why.startswith('docker_host %s %s' % (params['docker_host'], REFUSED)), why
        assert 'root on its host' in why and 'tls_insecure_ok: true' in why
    if warned:
        assert WARNED in warning and 'validate_certs: true' in warning


class _FakeClient:
    """The SDK client, answering /version as ``answer``: the API floor is checked on that answer alone."""
    answer = {}

    def __init__(self, version=None, **kwargs):
        self.api_version = version

    def version(self, api_version=True):
        return self.answer

    def close(self):
        pass


@pytest.mark.parametrize('answer, refused', [
    ({'Version': '1.12.6', 'ApiVersion': '1.24'}, True),
    ({'Version': '17.05.0-ce', 'ApiVersion': '1.29'}, True),
    ({'Version': '17.06.0-ce', 'ApiVersion': '1.30', 'MinAPIVersion': '1.12'}, False),
])
def test_engine_below_api_1_30_refused(monkeypatch, answer, refused):
    monkeypatch.setattr(_engine.docker, 'APIClient', type('Client', (_FakeClient,), {'answer': answer}))
    params = {'docker_host': 'unix:///var/run/docker.sock', 'api_version': 'auto'}
    if refused:
        with pytest.raises(_engine.EngineError) as exc:
            _engine.Engine(params)
        assert exc.value.msg == ('Docker engine at unix:///var/run/docker.sock speaks API %s (Docker %s); '
                                 'patchops.containers needs API >= 1.30 (Docker 17.06 or newer)'
                                 % (answer['ApiVersion'], answer['Version']))
    else:
        assert _engine.Engine(params).facts == {'kind': 'docker', 'version': '17.06.0-ce', 'api_version': '1.30'}


def test_tag_moves_the_tag_to_the_image(fake_engine):
    old = fake_engine.add_image(['reg.example.com/shop/web:1'])
    new = fake_engine.add_image(['reg.example.com/shop/web:2'])
    fake_engine.tag(new, parse('reg.example.com/shop/web:1'))
    fake_engine.tag(new, parse('reg.example.com/shop/web'))
    assert fake_engine.tags_of(new) == ['reg.example.com/shop/web:1', 'reg.example.com/shop/web:2',
                                        'reg.example.com/shop/web:latest']
    assert fake_engine.tags_of(old) == []
    assert fake_engine.api.called('tag')[0] == ((new, 'reg.example.com/shop/web'), {'tag': '1', 'force': True})
