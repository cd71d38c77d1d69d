import errno

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._connection import (
    describe_connection_error, transport_problem)

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


@pytest.mark.parametrize('docker_host, exc, says', [
    ('unix:///run/none.sock', FileNotFoundError(errno.ENOENT, 'No such file or directory'),
     'the socket /run/none.sock does not exist'),
    ('unix:///run/d.sock', PermissionError(errno.EACCES, 'Permission denied'), 'run the task as root'),
    ('tcp://127.0.0.1:2375', ConnectionRefusedError(errno.ECONNREFUSED, 'Connection refused'), 'connection refused'),
    ('tcp://127.0.0.1:2375', TimeoutError('timed out'), 'no answer within 7 s'),
    ('tcp://127.0.0.1:2375', RuntimeError('something else'), 'something else'),
])
def test_a_connection_failure_is_one_sentence_naming_the_address(docker_host, exc, says):
    wrapped = RuntimeError('while connecting')
    wrapped.__cause__ = exc
    # The SDK wraps the socket's OSError (requests' ConnectionError): its errno is found under it.
    text = describe_connection_error(docker_host, 7, wrapped if isinstance(exc, OSError) and exc.errno else exc)
    assert text.startswith(('Docker engine not answering at %s' % docker_host, 'Permission denied')), text
    assert says in text, text
