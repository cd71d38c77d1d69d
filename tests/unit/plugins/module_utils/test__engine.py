import os
import threading

import pytest
from docker.errors import APIError, NotFound
from fake_engine import FakeAPI, FakeEngine

from ansible_collections.patchops.containers.plugins.module_utils import _engine
from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    MAX_API_VERSION, engine_kind, fail_module, negotiate_api_version, podman_engine_id, rename_problem)
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError, PatchopsError
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

def _client(answer):
    """``docker.APIClient`` as ``Engine()`` makes it: the shared fake API, for the version it is made
    for, of an engine answering /version as ``answer``: the API floor is checked on that answer alone."""
    engine = FakeEngine()
    engine.version = answer
    return lambda version=None, **kwargs: FakeAPI(engine, api_version=version)


@pytest.mark.parametrize('answer, refused', [
    ({'Version': '1.12.6', 'ApiVersion': '1.24'}, True),
    ({'Version': '17.05.0-ce', 'ApiVersion': '1.29'}, True),
    ({'Version': '17.06.0-ce', 'ApiVersion': '1.30', 'MinAPIVersion': '1.12'}, False),
])
def test_engine_below_api_1_30_refused(monkeypatch, answer, refused):
    monkeypatch.setattr(_engine.docker, 'APIClient', _client(answer))
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


# -- start: the one start of the collection -------------------------------------------------------------

def test_start_finishes_a_stop_that_podman_left_cut_off(fake_engine):
    """Podman killed mid-stop leaves the container in state "stopping" for good; a stop finishes it."""
    cid = _running(fake_engine)
    fake_engine.api._state(cid, Status='stopping', Running=False)
    fake_engine.start(cid, 'restart old web', stop_timeout=7)
    assert [c[0] for c in fake_engine.api.calls[-4:]] == ['start', 'inspect_container', 'stop', 'start']
    assert fake_engine.api.called('stop')[-1] == ((cid,), {'timeout': 7})
    assert fake_engine.container(cid)['State']['Status'] == 'running'


def test_start_refused_for_another_reason_stops_nothing(fake_engine):
    cid = _running(fake_engine)
    fake_engine.api.fail['start'] = [APIError('no such network')]
    with pytest.raises(EngineError, match='^start web: .* answered: no such network'):
        fake_engine.start(cid, 'start web')
    assert fake_engine.api.called('stop') == []


def test_start_refused_for_a_task_containerd_kept_names_the_shim_to_stop(fake_engine):
    """Docker 20.10 killed while it starts a container keeps that start's shim through engine restarts."""
    cid = _running(fake_engine)
    fake_engine.api._state(cid, Status='exited', Running=False)
    fake_engine.api.fail['start'] = [APIError('task %s: already exists' % cid)]
    with pytest.raises(EngineError) as exc:
        fake_engine.start(cid, 'restart old web')
    assert exc.value.msg.startswith('restart old web: ')
    assert ("an engine restart keeps it. Stop its shim on the engine's host (pkill -f "
            "'[c]ontainerd-shim-runc-v2 -namespace moby -id %s'), then run again" % cid) in exc.value.msg
    assert fake_engine.api.called('stop') == []


def test_start_refused_for_another_container_s_task_says_only_what_the_engine_said(fake_engine):
    cid = _running(fake_engine)
    fake_engine.api._state(cid, Status='exited', Running=False)
    fake_engine.api.fail['start'] = [APIError('task %s: already exists' % ('f' * 64))]
    with pytest.raises(EngineError) as exc:
        fake_engine.start(cid, 'start web')
    assert 'pkill' not in exc.value.msg


def plugin_sources():
    """(file name, text) of every plugin file but _engine.py."""
    plugins = os.path.dirname(os.path.dirname(os.path.abspath(_engine.__file__)))
    assert os.path.isfile(os.path.join(plugins, 'module_utils', '_probe.py'))  # the walk finds the plugins
    for folder, dummy, files in os.walk(plugins):
        for name in sorted(f for f in files if f.endswith('.py') and f != '_engine.py'):
            with open(os.path.join(folder, name)) as fh:
                yield name, fh.read()


def test_only_the_engine_starts_containers():
    assert [name for name, text in plugin_sources() if 'api.start' in text] == []


def test_only_the_engine_lists_and_removes_containers():
    assert [name for name, text in plugin_sources() if 'api.containers' in text or 'api.remove_container' in text
            ] == []


# -- exec: the one exec of the collection -------------------------------------------------------------

def _running(fake_engine):
    fake_engine.add_image(['app:v1'])
    return fake_engine.add_container('web', 'app:v1')


def test_exec_runs_the_command_and_reads_its_exit_code(fake_engine):
    cid = _running(fake_engine)
    fake_engine.api.exec_answers = lambda cmd: (3, b'caf\xc3\xa9 ' + cmd[-1].encode())
    assert fake_engine.exec(cid, ['/bin/sh', '-c', 'check']) == (3, 'café check')
    api = fake_engine.api
    assert api.called('exec_create') == [((cid, ['/bin/sh', '-c', 'check']),
                                          {'stdout': True, 'stderr': True, 'user': '', 'environment': None})]
    assert [a for a, k in api.called('exec_start')] == [('exec1',)] and len(api.called('exec_inspect')) == 1


def test_exec_as_a_user_with_an_environment_and_without_the_exit_code(fake_engine):
    cid = _running(fake_engine)
    fake_engine.api.exec_answers = [(0, b'out\n')]
    assert fake_engine.exec(cid, ['cat', '/x'], user='0', environment={'A': '1'}, exit_code=False) == (None, 'out\n')
    assert fake_engine.api.called('exec_create')[0][1]['user'] == '0'
    assert fake_engine.api.called('exec_create')[0][1]['environment'] == {'A': '1'}
    assert fake_engine.api.called('exec_inspect') == []  # the output tells the caller
    fake_engine.api.exec_answers = [(0, None)]  # no output at all reads as an empty one
    assert fake_engine.exec(cid, ['true']) == (0, '')


def test_exec_gives_up_after_its_timeout(fake_engine):
    cid = _running(fake_engine)
    release = threading.Event()

    def hang(cmd):
        release.wait(10)
        return 0, b'late'
    fake_engine.api.exec_answers = hang
    try:
        assert fake_engine.exec(cid, ['sleep', '60'], timeout=0.05) == (None, 'timed out after 0.05 s')
    finally:
        release.set()
    fake_engine.api.exec_answers = [(1, b'no')]
    assert fake_engine.exec(cid, ['false'], timeout=5) == (1, 'no')


def test_exec_failures_name_the_call_or_the_callers_action(fake_engine):
    cid = _running(fake_engine)
    api = fake_engine.api
    api.fail['exec_create'] = APIError('boom')
    with pytest.raises(EngineError) as caught:
        fake_engine.exec(cid, ['true'])
    assert caught.value.msg == 'create exec: the engine at unix:///var/run/docker.sock answered: boom'
    del api.fail['exec_create']
    for timeout in (None, 5):  # a failure in the waiting thread is raised in the caller's
        api.fail['exec_start'] = [APIError('gone')]
        with pytest.raises(EngineError, match='^run exec: the engine at .* answered: gone$'):
            fake_engine.exec(cid, ['true'], timeout=timeout)
    api.fail['exec_inspect'] = [APIError('lost')]
    with pytest.raises(EngineError, match='^inspect exec: .* answered: lost$'):
        fake_engine.exec(cid, ['true'])
    api.fail['exec_start'] = [APIError('gone')]
    with pytest.raises(EngineError, match='^apt-get update: the engine at .* answered: gone$'):
        fake_engine.exec(cid, ['true'], what='apt-get update')


def test_exec_in_a_stopped_or_missing_container(fake_engine):
    fake_engine.add_image(['app:v1'])
    stopped = fake_engine.add_container('old', 'app:v1', running=False)
    with pytest.raises(EngineError, match='^create exec: .* is not running$'):
        fake_engine.exec(stopped, ['true'])
    with pytest.raises(NotFound):
        fake_engine.exec('nothere', ['true'])


def test_exec_detached_is_polled_by_its_state(fake_engine):
    cid = _running(fake_engine)
    api = fake_engine.api
    api.exec_answers, api.exec_polls_running = [(7, b'unseen')], 2
    exec_id = fake_engine.exec_detached(cid, ['/bin/sh', '-c', 'step'], user='0', environment=None, what='step')
    assert api.called('exec_start') == [((exec_id,), {'detach': True})]
    assert [fake_engine.exec_state(exec_id)['Running'] for dummy in range(3)] == [True, True, False]
    assert fake_engine.exec_state(exec_id, what='step')['ExitCode'] == 7
    api.fail['exec_start'] = [APIError('gone')]
    with pytest.raises(EngineError, match='^start exec: '):
        fake_engine.exec_detached(cid, ['true'])
    api.fail['exec_inspect'] = [APIError('lost')]
    with pytest.raises(EngineError, match='^step: .* answered: lost$'):
        fake_engine.exec_state(exec_id, what='step')


def test_only_the_engine_calls_the_exec_api():
    """One home per engine action: every exec goes through Engine.exec / exec_detached / exec_state."""
    assert ['%s: %s' % (name, call) for name, text in plugin_sources()
            for call in ('exec_create', 'exec_start', 'exec_inspect') if call in text] == []


# -- a Podman container whose storage is gone ----------------------------------------------------------

def _lost(kind='podman'):
    engine = FakeEngine(kind=kind)
    engine.add_image(['app:v1'])
    kept = engine.add_container('kept', 'app:v1')
    lost = engine.add_container('web-patchops-old', 'app:v1')
    engine.lose_storage(lost)
    return engine, kept, lost


def test_a_podman_container_whose_storage_is_gone_reads_as_dead():
    engine, kept, lost = _lost()
    for ref in ('web-patchops-old', lost, lost[:12]):
        found = engine.find_container(ref)
        assert (found['Id'], found['Name'], found['State']['Dead'], found['StorageLost']) == (
            lost, '/web-patchops-old', True, True)
        assert found['Config']['Image'] == 'app:v1'
    assert engine.find_container('kept')['Id'] == kept and engine.find_container('nothing') is None


def test_a_podman_list_that_a_lost_container_fails_names_it_and_the_way_out():
    engine, kept, lost = _lost()
    with pytest.raises(EngineError) as exc:
        engine.list_containers()
    assert 'layer not known' in exc.value.msg
    assert ('Container web-patchops-old (%s) lost its storage' % lost[:12]) in exc.value.msg
    assert exc.value.msg.endswith('podman rm -f web-patchops-old, then run again')
    assert lost in engine.containers  # named, not touched


def test_removing_a_podman_container_whose_storage_is_gone_removes_it():
    engine, kept, lost = _lost()
    engine.remove(lost, 'remove old web')
    assert lost not in engine.containers and [c['Id'] for c in engine.list_containers()] == [kept]


def test_layer_not_known_from_docker_is_only_what_the_engine_said():
    engine, kept, lost = _lost(kind='docker')
    with pytest.raises(EngineError) as exc:
        engine.find_container(lost)
    assert 'lost its storage' not in exc.value.msg and engine.api.called('_get') == []
    with pytest.raises(EngineError):
        engine.remove(lost, 'remove old web')
