"""Parallel swaps on one host (lab): concurrency within the bound, dependency order kept, a failure
with on_failure stop and continue, and the module killed with several swaps in flight."""

import datetime
import json

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import engine_dir
from patchkit import exec_out, remove

HOST = None  # engine_hosts[2] of the engine kind under test: on_engine


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs once per engine kind, in that kind's shard (conftest engine_kind)."""
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[2]


@pytest.fixture
def api(lab):
    return lab.pull(HOST, 'v1', 'v2', 'v2-broken')


@pytest.fixture
def fleet(lab, api, uid):
    """Five independent v1 apps with data, and one (db) that another (app) depends on by label."""
    names = ['par%d-%s' % (i, uid) for i in range(5)] + ['db-' + uid, 'app-' + uid]
    for name in names:
        labels = {'patchops.depends-on': 'db-' + uid} if name.startswith('app-') else {}
        cid = api.create_container(lab.image('v1'), name=name, labels=labels, host_config=api.create_host_config(
            binds={'pv-' + name: {'bind': '/data', 'mode': 'rw'}}))['Id']
        api.start(cid)
        exec_out(api, cid, 'echo keep-%s > /data/file' % name)
    yield names
    remove(api, *names)
    for name in names:
        api.remove_volume('pv-' + name, force=True)


def journal(lab, api, name):
    path = '%s/journal/%s.json' % (engine_dir('/var/lib/patchops', lab.engine_id(HOST)), name)
    return json.loads(lab.ssh(HOST, 'cat %s' % path).stdout)['swaps'][-1]


def window(swap):
    at = {h['step']: datetime.datetime.fromisoformat(h['at']) for h in swap['history']}
    return at['stop_old'], at['done']


def intact(api, names, images):
    everything = [n.lstrip('/') for c in api.containers(all=True) for n in c['Names']]
    for name in names:
        assert everything.count(name) == 1, name
        assert not [n for n in everything if n.startswith(name + '-patchops-')], name
        found = api.inspect_container(name)
        assert found['State']['Running'] and found['Image'] in images, name
        assert exec_out(api, name, 'cat /data/file')[0].strip() == 'keep-' + name


def test_parallel_swaps_overlap_within_the_bound_in_dependency_order(lab, api, fleet):
    res = lab.module(HOST, 'container_patch', {'containers': [{'name': n, 'image': lab.image('v2')} for n in fleet],
                                               'parallel': 3})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    assert [c['outcome'] for c in res['containers']] == ['patched'] * len(fleet)
    windows = {n: window(journal(lab, api, n)) for n in fleet}
    edges = sorted([(start, 1) for start, end in windows.values()] + [(end, -1) for start, end in windows.values()])
    running, most = 0, 0
    for dummy, step in edges:
        running += step
        most = max(most, running)
    assert 2 <= most <= 3, windows
    db, app = fleet[-2], fleet[-1]
    assert windows[app][0] >= windows[db][1]  # the dependent after its provider is done
    v2 = api.inspect_image(lab.image('v2'))['Id']
    intact(api, fleet, {v2})
    again = lab.module(HOST, 'container_patch', {'containers': [{'name': n, 'image': lab.image('v2')} for n in fleet],
                                                 'parallel': 3})[HOST]
    assert again['_status'] == 'ok' and again['changed'] is False


@pytest.mark.parametrize('on_failure', ['stop', 'continue'])
def test_a_failure_among_parallel_swaps(lab, api, fleet, on_failure):
    targets = [{'name': n, 'image': lab.image('v2')} for n in fleet]
    targets[0]['image'] = lab.image('v2-broken')
    before = {n: api.inspect_container(n)['Id'] for n in fleet}
    res = lab.module(HOST, 'container_patch', {'containers': targets, 'parallel': 2, 'on_failure': on_failure,
                                               'verify_timeout': 15})[HOST]
    assert res['_status'] == 'failed'
    by_name = {c['container']: c for c in res['containers']}
    assert by_name[fleet[0]]['outcome'] == 'rolled_back'
    assert api.inspect_container(fleet[0])['Id'] == before[fleet[0]]
    others = fleet[1:]
    if on_failure == 'continue':
        assert all(by_name[n]['outcome'] == 'patched' for n in others), by_name
        assert res['not_attempted'] == []
    else:
        assert set(res['not_attempted']) | {n for n in others if by_name.get(n, {}).get('outcome') == 'patched'} == set(others)
        assert res['not_attempted'], 'with parallel 2 and the failure first, some were never started'
        for name in res['not_attempted']:
            assert api.inspect_container(name)['Id'] == before[name]
        assert 'not attempted: ' in res['msg']
    assert 'patching %s to %s failed' % (fleet[0], lab.image('v2-broken')) in res['msg']
    v1, v2 = (api.inspect_image(lab.image(t))['Id'] for t in ('v1', 'v2'))
    intact(api, fleet, {v1, v2})


def test_killed_with_several_swaps_in_flight_then_rerun(lab, api, fleet):
    plays = [{'hosts': HOST, 'gather_facts': False, 'environment': {'PATCHOPS_TEST_CRASH_AT': 'verify'},
              'tasks': [{'patchops.containers.container_patch': {
                  'containers': [{'name': n, 'image': lab.image('v2')} for n in fleet[:5]], 'parallel': 5}}]}]
    killed = lab.playbook(plays)[1][HOST][-1]
    assert killed['_status'] == 'failed'
    steps = {n: journal(lab, api, n).get('step') for n in fleet[:5]}
    assert len([s for s in steps.values() if s != 'planned']) >= 2, steps  # several were in flight
    rerun = lab.module(HOST, 'container_patch', {'containers': [{'name': n, 'image': lab.image('v2')} for n in fleet[:5]]})[HOST]
    assert rerun['_status'] == 'ok', rerun.get('msg')
    assert sorted(r['container'] for r in rerun['recovered']) == sorted(fleet[:5])
    v2 = api.inspect_image(lab.image('v2'))['Id']
    intact(api, fleet[:5], {v2})
