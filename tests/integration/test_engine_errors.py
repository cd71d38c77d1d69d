"""Issue 2: clear messages for a stopped engine and a missing Docker SDK."""

import subprocess

HOST = 'lab3'


def test_stopped_engine_is_named(lab):
    lab.lab('fault', 'engine-stop', HOST)
    try:
        res = lab.module(HOST, 'container_patch', {'containers': [{'name': 'x', 'image': 'busybox'}]})[HOST]
    finally:
        lab.lab('fault', 'engine-start', HOST)
    assert res['_status'] == 'failed'
    assert 'Docker engine not answering at unix:///var/run/docker.sock' in res['msg']
    assert res['changed'] is False


def test_killed_engine_is_named(lab):
    lab.lab('fault', 'engine-kill', HOST)
    try:
        res = lab.module(HOST, 'container_rollback', {'containers': ['x']})[HOST]
    finally:
        lab.lab('fault', 'engine-start', HOST)
    assert res['_status'] == 'failed'
    assert 'Docker engine not answering at unix:///var/run/docker.sock' in res['msg']


def test_missing_sdk_says_how_to_install(lab, tmp_path):
    venv = tmp_path / 'nosdk'
    subprocess.run(['python3', '-m', 'venv', '--without-pip', str(venv)], check=True)
    # The module needs nothing from the controller's site-packages; docker is what is missing.
    res = lab.module(HOST, 'container_patch', {'containers': [{'name': 'x', 'image': 'busybox'}]},
                     extravars={'ansible_python_interpreter': str(venv / 'bin' / 'python')})[HOST]
    assert res['_status'] == 'failed'
    assert "The Python 'docker' SDK (>= 5.0) is required" in res['msg']
    assert "-m pip install 'docker>=5.0'" in res['msg']


REFUSED = 'is plain TCP without TLS to another host: anyone on the network path can drive that engine'
OTHER = '10.213.7.12'  # lab2's address (the hosts are .11-.20): the refusal comes before anything is sent


def test_plain_tcp_to_another_host_is_refused(lab, uid):
    """tcp:// without TLS to another host hands root there to anyone on the path: refused before
    connecting, nothing changed; tls_insecure_ok lets it through, the loopback is not refused, and TLS
    that does not verify the engine warns."""
    api = lab.pull(HOST, 'v1', 'v2')
    name = 'tcp-' + uid
    cid = api.create_container(lab.image('v1'), name=name)['Id']
    api.start(cid)
    plain = 'tcp://%s:2375' % OTHER
    try:
        for module, args in (('container_patch', {'containers': [{'name': name, 'image': lab.image('v2')}]}),
                             ('container_inventory', {})):
            res = lab.module(HOST, module, dict(args, docker_host=plain))[HOST]
            assert res['_status'] == 'failed' and res['changed'] is False, res
            assert res['msg'].startswith('docker_host %s %s' % (plain, REFUSED)), res['msg']
            assert 'tls_insecure_ok: true' in res['msg']
        same = api.inspect_container(name)
        assert same['Id'] == cid and same['State']['Running']
        assert same['Image'] == api.inspect_image(lab.image('v1'))['Id']

        # Let through: no engine listens at these addresses, so the connection itself is refused.
        for address, extra in ((plain, {'tls_insecure_ok': True}), ('tcp://127.0.0.1:1', {})):
            res = lab.module(HOST, 'container_inventory', dict(extra, docker_host=address))[HOST]
            assert res['_status'] == 'failed', res
            assert res['msg'].startswith('Docker engine not answering at %s: connection refused' % address), res['msg']
        res = lab.module(HOST, 'container_inventory', {'docker_host': 'tcp://%s:2376' % OTHER, 'tls': True})[HOST]
        assert res['_status'] == 'failed' and 'connection refused' in res['msg'], res['msg']
        assert any("TLS without verifying the engine's certificate" in w for w in res.get('warnings') or []), res
    finally:
        api.remove_container(name, force=True)
