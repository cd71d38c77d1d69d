"""The module killed right after journaling each step, then rerun: nothing missing or stranded."""

import pytest

from patchkit import exec_out, remove

HOST = 'lab1'  # the first host of the engine kind under test (lab1 on Docker 20.10): on_engine
STOP_FIRST = ['planned', 'stop_old', 'rename_old', 'create_new', 'created_new', 'start_new', 'verify',
              'verified', 'remove_old']
START_FIRST = ['created_new', 'start_new', 'verified', 'stop_old', 'rename_old', 'rename_new', 'remove_old']


def play(lab, name, image, strategy, crash_at=None):
    task = {'name': 'patch', 'patchops.containers.container_patch': {
        'containers': [{'name': name, 'image': image}], 'strategy': strategy, 'force_start_first': True}}
    plays = [{'hosts': HOST, 'gather_facts': False, 'tasks': [task],
              'environment': {'PATCHOPS_TEST_CRASH_AT': crash_at} if crash_at else {}}]
    dummy, results = lab.playbook(plays)
    return results[HOST][-1]


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs on a Docker 20.10 host and on a Docker 26 host (conftest engine_kind)."""
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[0]


@pytest.mark.parametrize('strategy,steps', [('stop-first', STOP_FIRST), ('start-first', START_FIRST)])
def test_killed_at_each_step_then_rerun(lab, uid, strategy, steps):
    api = lab.pull(HOST, 'v1', 'v2')
    v1 = api.inspect_image(lab.image('v1'))['Id']
    v2 = api.inspect_image(lab.image('v2'))['Id']
    for step in steps:
        name = 'crash-%s-%s' % (uid, step.replace('_', ''))
        cid = api.create_container(lab.image('v1'), name=name, host_config=api.create_host_config(
            binds={'cv-' + name: {'bind': '/data', 'mode': 'rw'}}))['Id']
        api.start(cid)
        exec_out(api, cid, 'echo keep > /data/file')
        try:
            killed = play(lab, name, lab.image('v2'), strategy, crash_at=step)
            assert killed['_status'] == 'failed', step
            rerun = play(lab, name, lab.image('v2'), strategy)
            assert rerun['_status'] == 'ok', (step, rerun.get('msg'))
            assert [r['container'] for r in rerun['recovered']] == [name], step
            action = rerun['recovered'][0]['action']
            assert action == ('finished' if steps.index(step) >= steps.index('verified') else 'rolled_back'), step
            mine = [c for c in api.containers(all=True) if any(n.startswith('/' + name) for n in c['Names'])]
            assert [c['Names'] for c in mine] == [['/' + name]], (step, mine)
            state = api.inspect_container(name)
            assert state['State']['Running'], step
            assert state['Image'] in (v1, v2)
            assert state['Image'] == v2, step  # the rerun patched it after recovering
            assert exec_out(api, name, 'cat /data/file')[0].strip() == 'keep', step
        finally:
            remove(api, name)
            api.remove_volume('cv-' + name, force=True)
