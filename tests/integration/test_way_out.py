"""The way out of interrupted swaps from a playbook (playbooks/rollback.yml, rollback_abandon and
rollback_recover) on the lab, once per engine kind: a swap that recovery cannot settle is closed
without touching any container, one that it can is settled, and check mode changes nothing."""

import json
import os
import shutil

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import engine_dir
from patchkit import exec_out, patch_report, remove

HOST = None  # engine_hosts[1] of the engine kind under test: on_engine
STATE = None  # the test's own journal directory on HOST: state_dir
ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
ROLLBACK = os.path.join(ROOT, 'playbooks', 'rollback.yml')
SURVEY = os.path.join(ROOT, 'docs', 'awx', 'survey-rollback-way-out.json')
TEMPLATE_VARS = {'rollback_recover': True}  # the extra vars of the job template in docs/awx.md
SETTLE = 'Close the journal entries of rollback_abandon and settle the interrupted swaps'
STUCK = 'Fail while an interrupted swap stays unresolved'


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs once per engine kind, in that kind's shard (conftest engine_kind); not on
    the kind's first host, where test_crash leaves interrupted swaps for its own reruns to settle."""
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[1]


@pytest.fixture(autouse=True)
def state_dir(lab, uid):
    """A journal of the test's own: any run on the host with the default state_dir (another suite's, the
    lab's) recovers every interrupted swap of its journal, and would settle this test's before it does."""
    global STATE  # pylint: disable=global-statement
    STATE = '/tmp/patchops-wayout-state-' + uid
    yield STATE
    lab.ssh(HOST, 'rm -rf %s' % STATE)


@pytest.fixture
def api(lab):
    return lab.pull(HOST, 'v1', 'v2')


def patch(lab, containers):
    args = {'containers': containers, 'verify_timeout': 20, 'state_dir': STATE}
    return lab.module(HOST, 'container_patch', args)[HOST]


def crash_patch(lab, name, image, step):
    """container_patch killed right after journaling ``step``."""
    args = {'containers': [{'name': name, 'image': image}], 'state_dir': STATE}
    plays = [{'hosts': HOST, 'gather_facts': False, 'environment': {'PATCHOPS_TEST_CRASH_AT': step},
              'tasks': [{'patchops.containers.container_patch': args}]}]
    return lab.playbook(plays)[1][HOST][-1]


def way_out(lab, check=False, **extravars):
    """playbooks/rollback.yml on HOST, on the test's journal; returns (runner, {task name: result})."""
    extravars.setdefault('patchops_hosts', HOST)
    extravars['rollback_state_dir'] = STATE
    runner, results = lab.playbook(ROLLBACK, extravars=extravars, check=check)
    return runner, {r['_task']: r for r in results.get(HOST, [])}


def survey_run(lab, answers):
    """rollback.yml as the AWX job template of docs/awx.md launches it: the template's extra vars and the
    survey's answers (strings; an unanswered question gives its default)."""
    with open(SURVEY) as fh:
        spec = json.load(fh)['spec']
    assert set(answers) <= {q['variable'] for q in spec}
    extravars = dict(TEMPLATE_VARS, **{q['variable']: answers.get(q['variable'], q['default']) for q in spec})
    return way_out(lab, **extravars)


def journal(lab, name):
    """The journal file of ``name`` on HOST, as stored."""
    path = '%s/journal/%s.json' % (engine_dir(STATE, lab.engine_id(HOST)), name)
    return lab.ssh(HOST, 'cat %s' % path).stdout


def unfinished(lab, names):
    """Which of ``names`` have an unfinished journal entry, as the module's check-mode recovery sees them."""
    res = lab.module(HOST, 'container_rollback', {'recover': True, 'state_dir': STATE}, check=True)[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    return sorted(r['container'] for r in res['recovered'] if r['container'] in names)


def engine_view(api, uid):
    """Every container of the test: ID -> (names, image ID, state)."""
    return {c['Id']: (tuple(c['Names']), c['ImageID'], c['State']) for c in api.containers(all=True)
            if any(uid in n for n in c['Names'])}


def app(api, lab, name, **host):
    """A v1 app container; its HEALTHCHECK off, so that a busy lab's slow probe fails no swap here."""
    cid = api.create_container(lab.image('v1'), name=name, healthcheck={'test': ['NONE']},
                               host_config=api.create_host_config(**host))['Id']
    api.start(cid)
    return cid


def test_abandon_an_entry_recovery_cannot_settle(lab, api, uid):
    """Killed mid-swap, then the old container cannot start (its bind mount source is gone): patch runs
    report it unresolved and block it; rollback.yml with rollback_recover fails naming the way out;
    rollback_abandon (check mode first) closes the entry, no container changes, the next runs proceed."""
    stuck, other = 'stuck-' + uid, 'other-' + uid
    source = '/tmp/patchops-wayout-' + uid
    os.makedirs(source)
    try:
        cid = app(api, lab, stuck, mounts=[{'Type': 'bind', 'Source': source, 'Target': '/cfg'}])
        app(api, lab, other)
        assert crash_patch(lab, stuck, lab.image('v2'), 'start_new')['_status'] == 'failed'
        shutil.rmtree(source)

        res = patch(lab, [{'name': other, 'image': lab.image('v2')}])
        assert res['_status'] == 'ok', res.get('msg')
        assert [(c['container'], c['outcome']) for c in res['containers']] == [(other, 'patched')]
        assert [(u['container'], u['step']) for u in res['unresolved']] == [(stuck, 'start_new')]
        res = patch(lab, [{'name': stuck, 'image': lab.image('v2')}])
        assert res['_status'] == 'failed' and 'not patched: %s' % stuck in res['msg'], res.get('msg')
        # The recovery got as far as the engine let it: the old container under its name, stopped.
        found = api.inspect_container(stuck)
        assert (found['Id'], found['State']['Running']) == (cid, False)

        # Recover mode cannot settle it: the host fails, naming the container and the playbook's way out.
        runner, tasks = way_out(lab, rollback_recover=True)
        assert runner.rc != 0
        assert [u['container'] for u in tasks[SETTLE]['unresolved']] == [stuck]
        assert tasks[STUCK]['_status'] == 'failed'
        assert '"rollback_abandon": ["%s"]' % stuck in tasks[STUCK]['msg'], tasks[STUCK]['msg']
        assert '--limit %s' % HOST in tasks[STUCK]['msg'] and source in tasks[STUCK]['msg']

        # The operator accepts the state (the old container, stopped) and closes the entry: check mode first.
        before, entry = engine_view(api, uid), journal(lab, stuck)
        runner, tasks = way_out(lab, check=True, rollback_abandon=[stuck])
        assert runner.rc == 0, runner.collected_stdout[-2000:]
        assert [(a['container'], a['action']) for a in tasks[SETTLE]['abandoned']] == [(stuck, 'would abandon')]
        assert tasks[SETTLE]['changed'] is False
        assert (engine_view(api, uid), journal(lab, stuck)) == (before, entry)
        assert unfinished(lab, [stuck]) == [stuck]

        runner, tasks = survey_run(lab, {'patchops_hosts': HOST, 'rollback_abandon': stuck})
        assert runner.rc == 0, runner.collected_stdout[-2000:]
        [closed] = tasks[SETTLE]['abandoned']
        assert (closed['container'], closed['action'], closed['step']) == (stuck, 'abandoned', 'recovery_failed')
        assert '%s is %s (the container from before the patch)' % (stuck, cid[:12]) in closed['state']
        assert tasks[SETTLE]['changed'] is True and tasks[SETTLE]['unresolved'] == []
        assert tasks[STUCK]['_status'] == 'skipped'
        assert engine_view(api, uid) == before
        last = json.loads(journal(lab, stuck))['swaps'][-1]
        assert (last['outcome'], last['abandoned_state']) == ('abandoned', closed['state'])
        assert unfinished(lab, [stuck, other]) == []

        # Abandoning again: nothing to close, a clear error, nothing changes.
        entry = journal(lab, stuck)
        runner, tasks = way_out(lab, rollback_abandon=[stuck])
        assert runner.rc != 0 and tasks[SETTLE]['_status'] == 'failed'
        assert 'no unfinished swap of %s' % stuck in tasks[SETTLE]['msg']
        assert (engine_view(api, uid), journal(lab, stuck)) == (before, entry)

        # The next patch runs proceed: nothing unresolved, nothing recovered, the container no longer blocked.
        res = patch(lab, [{'name': other, 'image': lab.image('v1')}])
        assert res['_status'] == 'ok' and res['unresolved'] == [] and res['recovered'] == [], res
        os.makedirs(source)
        res = patch(lab, [{'name': stuck, 'image': lab.image('v2')}])
        assert res['_status'] == 'ok', res.get('msg')
        assert [(c['container'], c['outcome']) for c in res['containers']] == [(stuck, 'patched')]
        assert api.inspect_container(stuck)['Image'] == api.inspect_image(lab.image('v2'))['Id']
    finally:
        settle_leftovers(lab, stuck)
        remove(api, stuck, other)
        shutil.rmtree(source, ignore_errors=True)


def test_recover_settles_a_crashed_swap_and_rolls_nothing_back(lab, api, uid):
    """Killed mid-swap, recoverable: rollback.yml with rollback_recover (check mode first) gives the old
    container back and restores nothing else, though the journal shows another container patched."""
    crashed, done = 'crashed-' + uid, 'done-' + uid
    v1, v2 = (api.inspect_image(lab.image(t))['Id'] for t in ('v1', 'v2'))
    try:
        cid = app(api, lab, crashed, binds={'data-' + crashed: {'bind': '/data', 'mode': 'rw'}})
        exec_out(api, cid, 'echo precious > /data/file')
        app(api, lab, done)
        assert patch(lab, [{'name': done, 'image': lab.image('v2')}])['_status'] == 'ok'
        done_id = api.inspect_container(done)['Id']
        assert crash_patch(lab, crashed, lab.image('v2'), 'start_new')['_status'] == 'failed'
        assert api.inspect_container(crashed + '-patchops-old')['Id'] == cid

        before, entry = engine_view(api, uid), journal(lab, crashed)
        runner, tasks = way_out(lab, check=True, rollback_recover=True)
        assert runner.rc == 0, runner.collected_stdout[-2000:]
        mine = [(r['container'], r['action'], r['step']) for r in tasks[SETTLE]['recovered'] if r['container'] == crashed]
        assert mine == [(crashed, 'would recover', 'start_new')]
        assert tasks[SETTLE]['changed'] is False
        assert (engine_view(api, uid), journal(lab, crashed)) == (before, entry)

        runner, tasks = survey_run(lab, {'patchops_hosts': HOST})  # nothing to close: only settle
        assert runner.rc == 0, runner.collected_stdout[-2000:]
        assert tasks[SETTLE].get('abandoned', []) == []
        assert [(r['container'], r['action']) for r in tasks[SETTLE]['recovered']] == [(crashed, 'rolled_back')]
        assert tasks[SETTLE]['changed'] is True and tasks[SETTLE]['unresolved'] == []
        assert tasks[SETTLE].get('containers', []) == [] and tasks[STUCK]['_status'] == 'skipped'
        found = api.inspect_container(crashed)
        assert (found['Id'], found['Image'], found['State']['Running']) == (cid, v1, True)
        assert exec_out(api, crashed, 'cat /data/file')[0].strip() == 'precious'
        names = {n.lstrip('/') for c in api.containers(all=True) for n in c['Names']}
        assert not {crashed + '-patchops-old', crashed + '-patchops-new'} & names
        found = api.inspect_container(done)  # patched before, in the journal: not rolled back
        assert (found['Id'], found['Image']) == (done_id, v2)
        assert unfinished(lab, [crashed, done]) == []

        res = patch(lab, [{'name': crashed, 'image': lab.image('v2')}])
        assert res['_status'] == 'ok' and res['recovered'] == [], res.get('msg')
        assert api.inspect_container(crashed)['Image'] == v2
    finally:
        settle_leftovers(lab, crashed)
        remove(api, crashed, done)
        api.remove_volume('data-' + crashed, force=True)


def settle_leftovers(lab, name):
    """After a failed test: close an entry left open, so later tests on the host see a clean journal
    (the module fails, changing nothing, when there is none)."""
    lab.module(HOST, 'container_rollback', {'abandon': [name], 'state_dir': STATE})


def test_recover_with_containers_is_refused(lab, api, uid):
    """recover: true rolls nothing back: naming containers too is an error that changes nothing."""
    name = 'named-' + uid
    try:
        app(api, lab, name)
        assert patch(lab, [{'name': name, 'image': lab.image('v2')}])['_status'] == 'ok'
        before = engine_view(api, uid)
        res = lab.module(HOST, 'container_rollback', {'recover': True, 'containers': [name], 'state_dir': STATE})[HOST]
        assert res['_status'] == 'failed' and res['changed'] is False
        assert res['msg'] == 'recover: true rolls nothing back; containers must be empty (got %s)' % name
        assert engine_view(api, uid) == before
    finally:
        remove(api, name)


def test_without_the_way_out_variables_rollback_yml_restores(lab, api, uid):
    """The role's own run with neither variable is the restore it was: rollback_containers back on v1."""
    name = 'restored-' + uid
    try:
        cid = app(api, lab, name)
        assert patch(lab, [{'name': name, 'image': lab.image('v2')}])['_status'] == 'ok'
        runner, tasks = way_out(lab, rollback_containers=[name])
        assert runner.rc == 0, runner.collected_stdout[-2000:]
        assert SETTLE not in tasks
        [restored] = tasks['Roll back containers to their pre-patch images']['containers']
        assert (restored['container'], restored['outcome']) == (name, 'restored')
        found = api.inspect_container(name)
        assert found['Id'] != cid and found['Image'] == api.inspect_image(lab.image('v1'))['Id']
    finally:
        remove(api, name)


def patch_run(lab, tmp_path, targets):
    """playbooks/patch.yml on HOST with the test's journal; returns (runner, artifact, report.json, pages)."""
    return patch_report(lab, {'patchops_hosts': HOST, 'patchops_targets': targets,
                              'report_dir': str(tmp_path / 'reports'), 'rollout_state_dir': STATE,
                              'pretest_state_dir': STATE, 'pretest_min_free_bytes': 1})


def test_unresolved_swap_in_every_report_format_until_rollback_yml_closes_it(lab, api, uid, tmp_path):
    """A swap recovery cannot settle is `unresolved` in the job's artifact, report.json, report.md and
    report.html, with the way out beside it; rollback.yml closes it and the next run's report has none."""
    stuck, other = 'unres-' + uid, 'peer-' + uid
    source = '/tmp/patchops-unres-' + uid
    os.makedirs(source)
    try:
        app(api, lab, stuck, mounts=[{'Type': 'bind', 'Source': source, 'Target': '/cfg'}])
        app(api, lab, other)
        assert crash_patch(lab, stuck, lab.image('v2'), 'start_new')['_status'] == 'failed'
        shutil.rmtree(source)

        runner, artifact, report, pages = patch_run(lab, tmp_path / 'first', [{'name': other, 'image': lab.image('v2')}])
        assert artifact['containers']['unresolved'] == 1 and artifact['containers']['patched'] == 1, artifact
        record = next(r for r in report['hosts'] if r['host'] == HOST)
        outcomes = {c['container']: c for c in record['containers']}
        assert outcomes[other]['outcome'] == 'patched'
        assert outcomes[stuck]['outcome'] == 'unresolved' and outcomes[stuck]['step'] == 'start_new'
        way = "--limit %s -e rollback_abandon='[%s]'" % (HOST, stuck)
        assert way in outcomes[stuck]['way_out']
        row = next(line for line in pages['report.md'].splitlines() if line.startswith('| %s | %s |' % (HOST, stuck)))
        assert '| unresolved;' in row and way in row, row
        assert stuck in pages['report.html'] and 'unresolved' in pages['report.html']
        assert 'rollback_abandon=' in pages['report.html']

        runner, tasks = way_out(lab, rollback_abandon=[stuck])
        assert runner.rc == 0, runner.collected_stdout[-2000:]

        runner, artifact, report, pages = patch_run(lab, tmp_path / 'second', [{'name': other, 'image': lab.image('v2')}])
        assert runner.rc == 0, runner.collected_stdout[-3000:]
        assert artifact['containers']['unresolved'] == 0 and artifact['containers']['current'] == 1, artifact
        record = next(r for r in report['hosts'] if r['host'] == HOST)
        assert stuck not in {c['container'] for c in record['containers']}
        assert 'unresolved;' not in pages['report.md']
    finally:
        settle_leftovers(lab, stuck)
        remove(api, stuck, other)
        shutil.rmtree(source, ignore_errors=True)
