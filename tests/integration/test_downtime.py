"""Downtime explained on the lab: the per-phase breakdown, a PID 1 that ignores SIGTERM detected when
it is killed and predicted before the window, one that handles it, and one run under --init."""

import json
import os

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import DEFAULT_STATE_DIR, engine_dir
from patchkit import remove

HOST = None  # engine_hosts[1] of the engine kind under test: on_engine


# busybox sh execs the last command: httpd becomes PID 1, and it has no handler for SIGTERM.
IGNORES = ['/bin/sh', '-c', 'mkdir -p /tmp/www && echo ok > /tmp/www/health && httpd -f -p 8080 -h /tmp/www']
PHASES = {'stop', 'rename', 'create', 'start', 'ready', 'remove'}


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs once per engine kind, in that kind's shard (conftest engine_kind)."""
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[1]


@pytest.fixture
def api(lab):
    return lab.pull(HOST, 'v1', 'v2')


@pytest.fixture
def trio(lab, api, uid):
    """handles (the lab app: PID 1 traps SIGTERM), ignores (sh -c as PID 1), init (the same, with --init)."""
    names = {'handles': 'handles-' + uid, 'ignores': 'ignores-' + uid, 'init': 'init-' + uid}
    api.start(api.create_container(lab.image('v1'), name=names['handles']))
    api.start(api.create_container(lab.image('v1'), name=names['ignores'], entrypoint=IGNORES))
    api.start(api.create_container(lab.image('v1'), name=names['init'], entrypoint=IGNORES,
                                   host_config=api.create_host_config(init=True)))
    yield names
    remove(api, *names.values())


def inventory(lab, names):
    res = lab.module(HOST, 'container_inventory', {'name': list(names)})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    return {c['name']: c for c in res['containers']}, res['summary']


def test_prediction_breakdown_and_stopped_by(lab, api, trio):
    names = trio
    found, summary = inventory(lab, names.values())
    stop = {kind: found[name]['stop'] for kind, name in names.items()}
    assert stop['handles']['handles_signal'] is True and stop['handles']['kill_risk'] is False
    assert stop['ignores']['handles_signal'] is False and stop['ignores']['kill_risk'] is True
    assert 'no handler for SIGTERM' in stop['ignores']['kill_reason'] and stop['ignores']['expected_stop_s'] == 10
    assert stop['ignores']['pid1'].startswith('httpd -f')
    assert stop['init']['init'] is True and stop['init']['kill_risk'] is False
    assert stop['init']['handles_signal'] is True  # docker-init catches it and passes it on
    assert summary['kill_risk'] == 1

    targets = [{'name': n, 'image': lab.image('v2'), 'stop_timeout': 3} for n in names.values()]
    plan = lab.module(HOST, 'container_patch', {'containers': targets}, check=True)[HOST]
    assert plan['_status'] == 'ok', plan.get('msg')
    planned = {p['container']: p for p in plan['plan']}
    assert planned[names['ignores']]['stop']['kill_risk'] is True
    assert planned[names['ignores']]['stop_timeout'] == 3
    assert planned[names['handles']]['stop']['kill_risk'] is False

    res = lab.module(HOST, 'container_patch', {'containers': targets})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    by_name = {c['container']: c for c in res['containers']}
    for kind, name in names.items():
        c = by_name[name]
        assert set(c['breakdown_ms']) == PHASES, (kind, c['breakdown_ms'])
        assert sum(c['breakdown_ms'].values()) <= c['duration_ms']
        assert c['stop_signal'] == 'SIGTERM'
    killed = by_name[names['ignores']]
    assert killed['stopped_by'] == 'kill' and killed['stop_waited_ms'] >= 2500
    assert killed['breakdown_ms']['stop'] >= 2500
    for kind in ('handles', 'init'):
        assert by_name[names[kind]]['stopped_by'] == 'signal', kind
        assert by_name[names[kind]]['stop_waited_ms'] < 2500, kind
    warning = [w for w in res.get('warnings', []) if names['ignores'] in w]
    assert warning and '--init' in warning[0] and 'exec-form CMD' in warning[0], res.get('warnings')
    assert not [w for w in res.get('warnings', []) if names['handles'] in w]

    # The journal keeps it, and the next inventory says so from the journal too.
    path = '%s/journal/%s.json' % (engine_dir(DEFAULT_STATE_DIR, lab.engine_id(HOST)), names['ignores'])
    journal = json.loads(lab.ssh(HOST, 'cat %s' % path).stdout)
    last = journal['swaps'][-1]
    assert (last['stopped_by'], last['outcome']) == ('kill', 'patched')
    assert set(last['breakdown_ms']) == PHASES
    found, summary = inventory(lab, names.values())
    assert found[names['ignores']]['stop']['kill_risk'] is True


PLAYBOOK = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'patch.yml')


def patch_run(lab, tmp_path, targets, **extra):
    extravars = dict({'patchops_hosts': HOST, 'patchops_targets': targets, 'patchops_serial': [1],
                      'report_dir': str(tmp_path / 'reports'), 'pretest_min_free_bytes': 1}, **extra)
    runner, results = lab.playbook(PLAYBOOK, extravars=extravars)
    stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
    artifact = stats['artifact_data']['patchops_patch']
    with open(artifact['report']) as fh:
        report = json.load(fh)
    with open(os.path.join(os.path.dirname(artifact['report']), 'report.md')) as fh:
        markdown = fh.read()
    return runner, report, markdown


def test_patch_run_refuses_or_reports_the_kill(lab, api, trio, tmp_path):
    names = trio
    targets = [{'name': names[k], 'image': lab.image('v2'), 'stop_timeout': 3} for k in ('handles', 'ignores')]
    before = {n: api.inspect_container(n)['Id'] for n in names.values()}
    runner, report, markdown = patch_run(lab, tmp_path, targets, pretest_on_kill_risk='fail')
    assert runner.rc != 0
    assert 'likely to be killed on stop: %s' % names['ignores'] in report['hosts'][0]['message']
    assert {n: api.inspect_container(n)['Id'] for n in names.values()} == before  # nothing touched

    runner, report, markdown = patch_run(lab, tmp_path, targets)  # warn (the default)
    assert runner.rc == 0, runner.collected_stdout[-3000:]
    assert 'is likely to be killed on stop' in runner.collected_stdout
    rows = {c['container']: c for c in report['hosts'][0]['containers']}
    assert rows[names['ignores']]['stopped_by'] == 'kill' and rows[names['handles']]['stopped_by'] == 'signal'
    for row in rows.values():
        assert set(row['breakdown_ms']) == PHASES
    assert 'kill (SIGTERM, waited ' in markdown
    line = next(ln for ln in markdown.splitlines() if ('| %s |' % names['handles']) in ln)
    assert '| signal |' in line and line.count(' / ') >= 5
