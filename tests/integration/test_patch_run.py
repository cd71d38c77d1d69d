"""playbooks/patch.yml on the lab: batches, failure budget, restore on failure, report, artifacts, engine knobs."""

import json
import os
import threading

import pytest

from patchkit import exec_out, remove
from shardkit import shard_of

PLAYBOOK = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'patch.yml')
REPORT_PLAYBOOK = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'report.yml')
# These tests run on the Docker 20.10 shard's hosts, except those marked with these: on the Docker 26
# or the Podman shard's (CI runs the shards at once; this keeps them about as long as each other).
DOCKER26_SHARD = pytest.mark.shard('docker26')
PODMAN_SHARD = pytest.mark.shard('podman')


@pytest.fixture
def fleet(lab, uid, request):
    """Two v1 containers on each of three hosts of the test's shard (its engine kind: shardkit); yields
    (hosts, names, ids before)."""
    hosts = lab.pick(shard_of(request.node), 3)
    names = ['web-' + uid, 'worker-' + uid]
    ids = {}
    for host in hosts:
        api = lab.pull(host, 'v1', 'v2', 'v2-broken')
        for name in names:
            cid = api.create_container(lab.image('v1'), name=name)['Id']
            api.start(cid)
            ids[(host, name)] = cid
    yield hosts, names, ids
    for host in hosts:
        remove(lab.engine(host), *names)


def run(lab, tmp_path, hosts, names, tag='v2', by_host=None, **extra):
    extravars = {
        'patchops_hosts': ','.join(hosts),
        'patchops_targets': [{'name': n, 'image': lab.image(tag)} for n in names],
        'patchops_serial': [1, '100%'],
        'report_dir': str(tmp_path / 'reports'),
        'pretest_min_free_bytes': 1,
    }
    if by_host:
        extravars['patchops_targets_by_host'] = by_host
    check = extra.pop('_check', False)
    extravars.update(extra)
    runner, results = lab.playbook(PLAYBOOK, extravars=extravars, check=check)
    stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
    artifact = stats.get('artifact_data', {}).get('patchops_patch')
    assert artifact, runner.collected_stdout[-3000:]
    with open(artifact['report']) as fh:
        report = json.load(fh)
    return runner, artifact, report


def matches_engines(lab, report):
    """Every container record of the report says what the engine shows now; returns {(host, name): outcome}
    of the containers the run patched or planned (not the interrupted swaps it only recovered first, such
    as another suite's on the same host)."""
    outcomes = {}
    for record in report['hosts']:
        api = lab.engine(record['host'])
        for c in record['containers']:
            outcomes[(record['host'], c['container'])] = c['outcome']
            if c['outcome'] == 'recovered':  # another suite's, which it may have removed since
                continue
            found = api.inspect_container(c['container'])
            assert (found['Id'], found['Image']) == (c['final_id'], c['final_image_id']), (record['host'], c)
            # The read-back saw the same.
            assert (found['Id'], found['Image']) == (c['engine']['id'], c['engine']['image_id']), (record['host'], c)
    counted = {}
    for outcome in outcomes.values():
        counted[outcome] = counted.get(outcome, 0) + 1
    assert {k: v for k, v in report['summary']['containers'].items() if v} == counted
    return {k: v for k, v in outcomes.items() if v != 'recovered'}


def image_of(lab, host, name):
    api = lab.engine(host)
    return api.inspect_container(name)['Image'], api.inspect_container(name)['Id']


def test_all_hosts_patched_then_nothing_to_do(lab, fleet, tmp_path):
    hosts, names, ids = fleet
    a, b, c = hosts
    runner, artifact, report = run(lab, tmp_path, hosts, names)
    assert runner.rc == 0, runner.collected_stdout[-3000:]
    assert sorted(artifact['hosts']['patched']) == hosts
    assert artifact['containers']['patched'] == 6
    assert set(matches_engines(lab, report).values()) == {'patched'}
    v2 = lab.engine(a).inspect_image(lab.image('v2'))['Id']
    for host in hosts:
        for name in names:
            assert image_of(lab, host, name)[0] == v2
    records = {r['host']: r for r in report['hosts']}
    for host in hosts:
        assert {c['container'] for c in records[host]['containers']} == set(names)
        for c in records[host]['containers']:
            assert c['old_digests'] and c['new_digests'] and c['downtime_ms'] > 0
    with open(os.path.join(os.path.dirname(artifact['report']), 'report.md')) as fh:
        assert '| 3 | 3 | 0 | 0 | 0 | 0 |' in fh.read()

    runner, artifact, report = run(lab, tmp_path, hosts, names)
    assert runner.rc == 0
    assert sorted(artifact['hosts']['unchanged']) == hosts
    assert artifact['containers']['current'] == 6


def test_broken_canary_rolls_back_and_stops_the_run(lab, fleet, tmp_path):
    hosts, names, ids = fleet
    a, b, c = hosts
    broken = {a: [{'name': names[0], 'image': lab.image('v2')},
                  {'name': names[1], 'image': lab.image('v2-broken')}]}
    runner, artifact, report = run(lab, tmp_path, hosts, names, by_host=broken, rollout_verify_timeout=20)
    assert runner.rc != 0
    assert artifact['hosts']['rolled_back'] == [a]
    assert sorted(artifact['hosts']['not_attempted']) == sorted([b, c])
    v1 = lab.engine(a).inspect_image(lab.image('v1'))['Id']
    # The canary: the broken one is the same container again, the other one restored by the rollout.
    assert image_of(lab, a, names[1]) == (v1, ids[(a, names[1])])
    assert image_of(lab, a, names[0])[0] == v1
    for host in (b, c):
        for name in names:
            assert image_of(lab, host, name) == (v1, ids[(host, name)])
    record = next(r for r in report['hosts'] if r['host'] == a)
    assert record['status'] == 'rolled_back'
    assert record['restored_by_rollback'] == [names[0]]
    assert 'rolled back' in record['message']
    # The final state, not what the rollout did: names[0] was patched, then restored.
    assert matches_engines(lab, report) == {(a, names[0]): 'restored', (a, names[1]): 'rolled_back'}
    assert artifact['containers']['patched'] == 0
    with open(os.path.join(os.path.dirname(artifact['report']), 'report.md')) as fh:
        assert '| 2 | 0 | 0 | 0 | 1 | 1 | 0 | 0 | 0 |' in fh.read()


@PODMAN_SHARD
def test_failure_in_a_later_batch_within_budget(lab, fleet, tmp_path):
    hosts, names, ids = fleet
    a, b, c = hosts
    broken = {b: [{'name': names[0], 'image': lab.image('v2-broken')}]}
    runner, artifact, report = run(lab, tmp_path, hosts, names, by_host=broken, patchops_max_fail_percentage=50,
                                   rollout_verify_timeout=20)
    assert runner.rc != 0  # a failed host still fails the run
    assert sorted(artifact['hosts']['patched']) == sorted([a, c])
    assert artifact['hosts']['rolled_back'] == [b]
    v1 = lab.engine(a).inspect_image(lab.image('v1'))['Id']
    assert image_of(lab, b, names[0]) == (v1, ids[(b, names[0])])


@DOCKER26_SHARD
def test_posttest_failure_restores_what_the_rollout_patched(lab, fleet, tmp_path):
    hosts, names, ids = fleet
    a, b, c = hosts
    probe = [{'type': 'exec', 'command': 'test "$APP_VERSION" = 1', 'retries': 1}]
    runner, artifact, report = run(lab, tmp_path, hosts, names, patchops_hosts=c, posttest_probes=probe)
    assert runner.rc != 0
    assert artifact['hosts']['rolled_back'] == [c]
    record = report['hosts'][0]
    assert sorted(record['restored_by_rollback']) == sorted(names)
    assert record['posttest_failures']
    assert set(matches_engines(lab, report).values()) == {'restored'}
    v1 = lab.engine(c).inspect_image(lab.image('v1'))['Id']
    for name in names:
        assert image_of(lab, c, name)[0] == v1


@DOCKER26_SHARD
def test_engine_connection_from_the_patchops_docker_knobs(lab, fleet, tmp_path):
    """The patchops_docker_* knobs reach every module through module_defaults: a wrong address fails
    the host before anything changes, naming the address; the right one, with a timeout, patches."""
    hosts, names, ids = fleet
    a, b, c = hosts
    runner, artifact, report = run(lab, tmp_path, hosts, names, patchops_hosts=a,
                                   patchops_docker_host='unix:///run/patchops-none.sock')
    assert runner.rc != 0
    assert artifact['hosts']['failed'] == [a]
    assert 'unix:///run/patchops-none.sock' in report['hosts'][0]['message']
    v1 = lab.engine(a).inspect_image(lab.image('v1'))['Id']
    for name in names:
        assert image_of(lab, a, name) == (v1, ids[(a, name)])

    runner, artifact, report = run(lab, tmp_path, hosts, names, patchops_hosts=a,
                                   patchops_docker_host='unix:///var/run/docker.sock', patchops_docker_timeout=30)
    assert runner.rc == 0, runner.collected_stdout[-3000:]
    assert artifact['hosts']['patched'] == [a]


def test_check_mode_plans_without_change(lab, fleet, tmp_path):
    """Also the AWX survey's form: serial and targets arrive as YAML text."""
    hosts, names, ids = fleet
    a, b, c = hosts
    targets = '\n'.join('- {name: %s, image: "%s"}' % (n, lab.image('v2')) for n in names)
    runner, artifact, report = run(lab, tmp_path, hosts, names, _check=True, patchops_targets=targets,
                                   patchops_serial="[1, '100%']")
    assert runner.rc == 0, runner.collected_stdout[-3000:]
    assert sorted(artifact['hosts']['planned']) == hosts
    for record in report['hosts']:
        assert {p['container'] for p in record['plan']} == set(names)
        assert all(p['action'] == 'recreate' for p in record['plan'])
        # The read-back runs under --check too: each planned container as its engine shows it.
        for p in record['plan']:
            assert (p['engine']['id'], p['engine']['state']) == (ids[(record['host'], p['container'])], 'running')
    v1 = lab.engine(a).inspect_image(lab.image('v1'))['Id']
    for (host, name), cid in ids.items():
        assert image_of(lab, host, name) == (v1, cid)


@DOCKER26_SHARD
def test_scan_gate_refuses_a_patch_that_adds_a_critical(lab, fleet, tmp_path):
    """names[0]'s patch introduces a CRITICAL (refused, stays on v1); names[1]'s fixes findings (rolled out)."""
    hosts, names, ids = fleet
    a, b, c = hosts
    fixtures = os.path.join(os.path.dirname(__file__), '..', 'unit', 'fixtures', 'scan')
    reports = [
        {'name': names[0], 'current_report': os.path.join(fixtures, 'trivy-alpine-current.json'),
         'patched_report': os.path.join(fixtures, 'trivy-alpine-patched-critical.json')},
        {'name': names[1], 'current_report': os.path.join(fixtures, 'trivy-debian-current.json'),
         'patched_report': os.path.join(fixtures, 'trivy-debian-patched.json')},
    ]
    runner, artifact, report = run(lab, tmp_path, hosts, names, patchops_hosts=b, rollout_scan_reports=reports)
    assert runner.rc == 0, runner.collected_stdout[-3000:]
    v1 = lab.engine(b).inspect_image(lab.image('v1'))['Id']
    v2 = lab.engine(b).inspect_image(lab.image('v2'))['Id']
    assert image_of(lab, b, names[0]) == (v1, ids[(b, names[0])])
    assert image_of(lab, b, names[1])[0] == v2
    record = report['hosts'][0]
    held = {h['name']: h for h in record['held_by_scan_gate']}
    assert list(held) == [names[0]] and held[names[0]]['decision'] == 'refuse'
    assert any('CRITICAL' in reason for reason in held[names[0]]['reasons'])
    with open(os.path.join(os.path.dirname(artifact['report']), 'report.md')) as fh:
        assert 'refuse (scan gate: ' in fh.read()


@DOCKER26_SHARD
def test_followers_reported_as_recreated_and_restored_with_their_provider(lab, fleet, tmp_path, uid):
    """A netns sidecar and a --link client of web on lab2: recreated with it, then restored with it when
    the post-patch test fails; the report's outcomes and counts are what the engine shows."""
    hosts, names, ids = fleet
    a, b, c = hosts
    api = lab.pull(b, 'latest', repo='patchops/busybox')
    side, client = 'side-' + uid, 'client-' + uid
    busybox = '%s/patchops/busybox:latest' % lab.registry
    try:
        for name, host_config in ((side, api.create_host_config(network_mode='container:' + names[0])),
                                  (client, api.create_host_config(links={names[0]: 'db'}))):
            api.start(api.create_container(busybox, name=name, command=['sleep', '3600'], host_config=host_config))
        runner, artifact, report = run(lab, tmp_path, hosts, [names[0]], patchops_hosts=b)
        assert runner.rc == 0, runner.collected_stdout[-3000:]
        outcomes = matches_engines(lab, report)
        assert outcomes == {(b, names[0]): 'patched', (b, side): 'recreated', (b, client): 'recreated'}
        record = report['hosts'][0]
        assert {c['container']: c['reason'] for c in record['containers']}[side] == 'follows %s (network namespace)' % names[0]
        with open(os.path.join(os.path.dirname(artifact['report']), 'report.md')) as fh:
            assert 'recreated (follows %s (link))' % names[0] in fh.read()

        probe = [{'type': 'exec', 'command': 'test "$APP_VERSION" = 1', 'retries': 1}]
        runner, artifact, report = run(lab, tmp_path, hosts, [names[0]], tag='v1', patchops_hosts=b)  # back to v1
        assert runner.rc == 0, runner.collected_stdout[-3000:]
        runner, artifact, report = run(lab, tmp_path, hosts, [names[0]], patchops_hosts=b, posttest_probes=probe,
                                       posttest_containers=[names[0]])
        assert runner.rc != 0
        outcomes = matches_engines(lab, report)
        assert outcomes == {(b, names[0]): 'restored', (b, side): 'recreated', (b, client): 'recreated'}
        assert artifact['containers']['restored'] == 1 and artifact['containers']['recreated'] == 2
        assert artifact['containers']['patched'] == 0
        out, rc = exec_out(api, client, 'wget -q -O - http://db:8080/version')
        assert (rc, out.strip()) == (0, '1')
    finally:
        remove(api, client, side)


@PODMAN_SHARD
def test_slices_write_one_report(lab, fleet, tmp_path):
    """Two ansible-playbook runs over parts of the inventory (as AWX job slicing runs them) with one
    report_run_id and report_dir: one report with every host, counted once."""
    hosts, names, ids = fleet
    a, b, c = hosts
    first = run(lab, tmp_path, hosts, names, patchops_hosts=a, report_run_id='sliced')[2]
    assert first['summary']['hosts_total'] == 1
    runner, artifact, report = run(lab, tmp_path, hosts, names, patchops_hosts=b + ',' + c, report_run_id='sliced')
    assert runner.rc == 0, runner.collected_stdout[-3000:]
    assert report['summary']['hosts_total'] == 3
    assert sorted(report['summary']['hosts']['patched']) == sorted(hosts)
    assert report['summary']['hosts']['not_attempted'] == [] and report['summary']['hosts']['unreachable'] == []
    assert report['summary']['containers']['patched'] == 6
    assert set(matches_engines(lab, report).values()) == {'patched'}


def at_once(*calls):
    """Run the calls (functions) at the same time; their results, in order."""
    out, errors = [None] * len(calls), []

    def one(i, call):
        try:
            out[i] = call()
        except BaseException as exc:  # re-raised in the test
            errors.append(exc)
    threads = [threading.Thread(target=one, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(900)
    assert not errors, errors
    return out


@PODMAN_SHARD
def test_two_slices_at_once_one_report(lab, fleet, tmp_path):
    """Two ansible-playbook processes over parts of the inventory at the same time (as AWX job slicing
    runs them) with one report_run_id and report_dir: they write the report in turn under the run's
    lock, and the last one holds every host once, equal to the engines."""
    hosts, names, ids = fleet
    a, b, c = hosts
    slices = at_once(lambda: run(lab, tmp_path, hosts, names, patchops_hosts=a, report_run_id='together'),
                     lambda: run(lab, tmp_path, hosts, names, patchops_hosts=b + ',' + c, report_run_id='together'))
    for runner, artifact, report in slices:
        assert runner.rc == 0, runner.collected_stdout[-3000:]
    with open(slices[0][1]['report']) as fh:
        report = json.load(fh)
    assert sorted(r['host'] for r in report['hosts']) == sorted(hosts)
    assert report['summary']['hosts_total'] == 3
    assert sorted(report['summary']['hosts']['patched']) == sorted(hosts)
    assert report['summary']['containers']['patched'] == 6
    assert set(matches_engines(lab, report).values()) == {'patched'}
    assert not os.path.exists(os.path.join(os.path.dirname(slices[0][1]['report']), 'lock'))


@PODMAN_SHARD
def test_slices_without_shared_storage_one_report_from_their_artifacts(lab, fleet, tmp_path):
    """Two slices each with a directory of its own (AWX slices on different execution nodes): their
    artifacts, merged the way AWX merges them (dict.update, later slices winning), handed to
    playbooks/report.yml as extra variables make one report, every host once, equal to the engines."""
    hosts, names, ids = fleet
    a, b, c = hosts
    merged = {}
    for number, part in enumerate((a, b + ',' + c)):
        runner, dummy = lab.playbook(PLAYBOOK, extravars={
            'patchops_hosts': part, 'patchops_targets': [{'name': n, 'image': lab.image('v2')} for n in names],
            'report_dir': str(tmp_path / ('node%d' % number)), 'pretest_min_free_bytes': 1})
        assert runner.rc == 0, runner.collected_stdout[-3000:]
        stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
        merged.update(stats['artifact_data'])
    assert len([k for k in merged if k.startswith('patchops_patch_host_')]) == 3
    assert len([k for k in merged if k.startswith('patchops_patch_play_')]) == 2
    runner, dummy = lab.playbook(REPORT_PLAYBOOK, extravars=dict(merged, report_dir=str(tmp_path / 'final')))
    assert runner.rc == 0, runner.collected_stdout[-3000:]
    stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
    artifact = stats['artifact_data']['patchops_patch']
    assert artifact['report'].startswith(str(tmp_path / 'final'))
    with open(artifact['report']) as fh:
        report = json.load(fh)
    assert sorted(r['host'] for r in report['hosts']) == sorted(hosts)
    assert artifact == report['summary'] and artifact['hosts_total'] == 3
    assert sorted(artifact['hosts']['patched']) == sorted(hosts) and artifact['containers']['patched'] == 6
    assert set(matches_engines(lab, report).values()) == {'patched'}
    root = os.path.dirname(artifact['report'])
    with open(os.path.join(root, 'report.md')) as fh:
        assert '| 3 | 3 | 0 | 0 | 0 | 0 |' in fh.read()
    with open(os.path.join(root, 'report.html')) as fh:
        page = fh.read()
    assert all('data-host="%s"' % h in page for h in (a, b, c))


def test_mixed_fleet_one_report(lab, tmp_path, uid):
    """patch.yml over a Docker 20.10 host and a Docker 26 host in serial batches: one report, each
    host patched, the report equal to what both engines show."""
    old, new = lab.hosts_of('docker20'), lab.hosts_of('docker26')
    if not old or not new:
        pytest.skip('needs a docker20 and a docker26 host (tests/lab/lab up --docker26-hosts 1)')
    # The second Docker 26 host: in CI the Docker 26 shard runs at the same time, and its crash tests
    # leave interrupted swaps on the first, its engine-stop tests stop the last (see conftest's shards).
    hosts = [old[0], new[1 if len(new) > 1 else 0]]
    name = 'mixed-' + uid
    for host in hosts:
        api = lab.pull(host, 'v1', 'v2')
        api.start(api.create_container(lab.image('v1'), name=name))
    try:
        runner, artifact, report = run(lab, tmp_path, hosts, [name], patchops_serial=[1, '100%'])
        assert runner.rc == 0, runner.collected_stdout[-3000:]
        assert sorted(artifact['hosts']['patched']) == sorted(hosts)
        assert matches_engines(lab, report) == {(h, name): 'patched' for h in hosts}
        versions = {h: lab.engine(h).version()['Version'] for h in hosts}
        assert versions[hosts[0]].startswith('20.') and versions[hosts[1]].startswith('26.'), versions
    finally:
        for host in hosts:
            remove(lab.engine(host), name)
