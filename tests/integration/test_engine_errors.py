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
