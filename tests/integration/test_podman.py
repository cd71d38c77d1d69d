"""Podman hosts (tests/lab/lab up --podman-hosts P): what differs from Docker behind the same API.

The engine-parametrised suites (test_patch, test_crash, test_stage, test_inventory, test_engine_api)
run on Podman hosts too; here: the HEALTHCHECK the engine does not run (no systemd in the lab's
Podman hosts), containers of systemd units, the engine's identity and kind, bad input, what Podman
shows of CPU limits, the host's UTS namespace and image HEALTHCHECKs (which the clone sends its own
way), and patch.yml over Docker and Podman hosts with one report.
"""

import json
import os

import docker
import pytest

from patchkit import remove

pytestmark = pytest.mark.shard('podman')

PLAYBOOK = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'patch.yml')


@pytest.fixture(scope='module')
def podman(lab):
    hosts = lab.hosts_of('podman')
    if not hosts:
        pytest.skip('the lab has no Podman host (tests/lab/lab up --podman-hosts 3)')
    return hosts


@pytest.fixture
def host(podman):
    # The last one: the parametrised suites work on the first three of the kind.
    return podman[-1]


@pytest.fixture
def api(lab, host):
    return lab.pull(host, 'v1', 'v2', 'v2-broken')


def patch(lab, host, name, tag, **args):
    args['containers'] = [{'name': name, 'image': lab.image(tag)}]
    return lab.module(host, 'container_patch', args)[host]


def test_healthcheck_run_by_the_collection(lab, api, host, uid):
    """The engine leaves the HEALTHCHECK status at "starting"; the swap runs the check itself."""
    name = 'hc-' + uid
    cid = api.create_container(lab.image('v1'), name=name)['Id']
    api.start(cid)
    try:
        res = patch(lab, host, name, 'v2', verify_timeout=30)
        assert res['_status'] == 'ok', res.get('msg')
        new = api.inspect_container(name)
        assert new['Id'] != cid and new['Image'] == api.inspect_image(lab.image('v2'))['Id']
        # What the engine says of the new container, after more than its Interval: still starting.
        assert new['State']['Health']['Status'] == 'starting' and not new['State']['Health'].get('Log'), \
            new['State']['Health']
        health = res['containers'][0]['verification'][0]
        assert health['ok'] and 'HEALTHCHECK passed (run by patchops' in health['output'], health
        assert res['engine']['kind'] == 'podman'
    finally:
        remove(api, name)


def test_failing_healthcheck_rolled_back(lab, api, host, uid):
    """v2-broken starts and fails its HEALTHCHECK: rolled back to the same container, not passed
    because the engine's status never left "starting"."""
    name = 'hcb-' + uid
    cid = api.create_container(lab.image('v1'), name=name)['Id']
    api.start(cid)
    try:
        res = patch(lab, host, name, 'v2-broken', verify_timeout=30)
        assert res['_status'] == 'failed'
        assert 'health unhealthy' in res['msg'] and 'run by patchops' in res['msg'], res['msg']
        assert 'rolled back' in res['msg'] and cid[:12] in res['msg'], res['msg']
        back = api.inspect_container(name)
        assert back['Id'] == cid and back['State']['Running']
        assert back['Image'] == api.inspect_image(lab.image('v1'))['Id']
        assert [c['Names'] for c in api.containers(all=True, filters={'name': name})] == [['/' + name]]
    finally:
        remove(api, name)


def test_container_probe_runs_the_healthcheck(lab, api, host, uid):
    """container_probe's health probe on Podman: the image's check, run by exec."""
    name = 'hcp-' + uid
    api.start(api.create_container(lab.image('v1'), name=name)['Id'])
    broken = 'hcpb-' + uid
    api.start(api.create_container(lab.image('v2-broken'), name=broken)['Id'])
    try:
        probes = [{'type': 'health', 'retries': 10, 'interval': 1}]
        res = lab.module(host, 'container_probe', {'containers': [name], 'probes': probes})[host]
        assert res['_status'] == 'ok', res.get('msg')
        res = lab.module(host, 'container_probe', {'containers': [broken], 'probes': probes})[host]
        assert res['_status'] == 'failed', res
        assert 'HEALTHCHECK failed (run by patchops' in json.dumps(res), res.get('msg')
    finally:
        remove(api, name, broken)


def test_systemd_unit_container_refused(lab, api, host, uid):
    """A container of a systemd unit (PODMAN_SYSTEMD_UNIT): systemd would re-create it and undo the
    swap; refused with the unit's name, nothing changed."""
    name = 'unit-' + uid
    unit = 'container-%s.service' % name
    cid = api.create_container(lab.image('v1'), name=name, labels={'PODMAN_SYSTEMD_UNIT': unit})['Id']
    api.start(cid)
    try:
        res = patch(lab, host, name, 'v2')
        assert res['_status'] == 'failed' and not res.get('changed')
        assert 'run by the systemd unit %s (label PODMAN_SYSTEMD_UNIT)' % unit in res['msg'], res['msg']
        same = api.inspect_container(name)
        assert same['Id'] == cid and same['State']['Running']
        res = lab.module(host, 'container_rollback', {'containers': [name]})[host]
        assert res['_status'] == 'failed' and api.inspect_container(name)['Id'] == cid
    finally:
        remove(api, name)


def test_engine_kind_and_identity(lab, host):
    """Inventory names the engine (kind, Podman's own version); its ID, under which the journal, lock
    and stage manifest are kept, is the same on every call and across an engine restart (Podman's
    /info ID is new on every call)."""
    args = {'name': ['none-such']}
    first = lab.module(host, 'container_inventory', args)[host]
    assert first['_status'] == 'ok', first.get('msg')
    engine = first['engine']
    version = lab.engine(host).version()
    assert engine['kind'] == 'podman' and engine['version'] == version['Version'], engine
    assert engine['id'].startswith('podman-')
    assert lab.module(host, 'container_inventory', args)[host]['engine']['id'] == engine['id']
    lab.lab('fault', 'engine-stop', host)
    try:
        res = lab.module(host, 'container_inventory', args)[host]
        assert res['_status'] == 'failed', res
        assert 'connection refused' in res['msg'] or 'does not exist' in res['msg'], res['msg']
    finally:
        lab.lab('fault', 'engine-start', host)
    assert lab.module(host, 'container_inventory', args)[host]['engine']['id'] == engine['id']


def test_no_socket_says_how_to_serve_podman(lab, host):
    res = lab.module(host, 'container_inventory', {'docker_host': 'unix:///run/podman/podman.sock'})[host]
    assert res['_status'] == 'failed'
    assert 'the socket /run/podman/podman.sock does not exist' in res['msg'], res['msg']
    assert 'podman system service' in res['msg'], res['msg']


def test_update_check_without_distribution_endpoint(lab, api, host, uid):
    """Podman has no /distribution endpoint: the update check asks the registry's API itself."""
    name = 'upd-' + uid
    api.start(api.create_container(lab.image('v1'), name=name)['Id'])
    try:
        args = {'name': [name], 'check_updates': True,
                'registry_username': lab.registry_user, 'registry_password': lab.registry_password}
        res = lab.module(host, 'container_inventory', args)[host]
        assert res['_status'] == 'ok', res.get('msg')
        record = res['containers'][0]
        digest = api.inspect_image(lab.image('v1'))['RepoDigests'][0].split('@')[1]
        assert record['remote_digest'] == digest and record['update'] == 'current', record
        args['registry_password'] = 'wrong'
        res = lab.module(host, 'container_inventory', args)[host]
        record = res['containers'][0]
        assert record['update'] == 'unknown' and record['update_reason'].startswith('auth denied'), record
        assert 'wrong' not in json.dumps(res)
    finally:
        remove(api, name)


def test_mixed_fleet_one_report(lab, podman, tmp_path, uid):
    """patch.yml over a Docker 20.10 host and a Podman host in serial batches: one report, each host
    patched, each record naming its engine kind and version."""
    docker20 = lab.hosts_of('docker20')
    if not docker20:
        pytest.skip('needs a docker20 host')
    # The second Docker 20.10 host: in CI the Docker 20.10 shard runs at the same time, and its crash
    # tests leave interrupted swaps on the first, its engine-stop tests stop the last (conftest's shards).
    hosts = [docker20[1 if len(docker20) > 1 else 0], podman[-1]]
    name = 'mixp-' + uid
    for h in hosts:
        api = lab.pull(h, 'v1', 'v2')
        api.start(api.create_container(lab.image('v1'), name=name))
    try:
        extravars = {
            'patchops_hosts': ','.join(hosts),
            'patchops_targets': [{'name': name, 'image': lab.image('v2')}],
            'patchops_serial': [1, '100%'],
            'report_dir': str(tmp_path / 'reports'),
            'pretest_min_free_bytes': 1,
        }
        runner, dummy = lab.playbook(PLAYBOOK, extravars=extravars)
        assert runner.rc == 0, runner.collected_stdout[-3000:]
        stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
        artifact = stats['artifact_data']['patchops_patch']
        assert sorted(artifact['hosts']['patched']) == sorted(hosts)
        with open(artifact['report']) as fh:
            report = json.load(fh)
        assert sorted(r['host'] for r in report['hosts']) == sorted(hosts)
        for record in report['hosts']:
            api = lab.engine(record['host'])
            found = api.inspect_container(name)
            (c,) = record['containers']
            assert (c['outcome'], c['final_id'], c['final_image_id']) == ('patched', found['Id'], found['Image'])
            kind = 'podman' if record['host'] in podman else 'docker'
            assert record['engine']['kind'] == kind and record['engine']['version'] == api.version()['Version']
        with open(artifact['report'].replace('.json', '.md')) as fh:
            markdown = fh.read()
        assert '| %s | podman %s |' % (podman[-1], lab.engine(podman[-1]).version()['Version']) in markdown
    finally:
        for h in hosts:
            remove(lab.engine(h), name)


def test_what_the_clone_sends_differently(lab, api, host, uid):
    """What Podman shows of a CPU limit, the host's UTS namespace and an image's HEALTHCHECK, and refuses
    when sent back as shown: why the clone sends these its own way on Podman (docs/hosts.md; the patch of
    each, on every engine kind, is test_patch.py's test_fidelity_cpu_limits_and_uts_host and
    test_fidelity_image_healthcheck_without_retries)."""
    lab.pull(host, 'latest', repo='patchops/busybox')
    busybox = '%s/patchops/busybox:latest' % lab.registry
    name = 'shown-' + uid
    try:
        for flags in ({'nano_cpus': 500000000}, {'cpu_period': 100000, 'cpu_quota': 50000}):
            cid = api.create_container(busybox, name=name, command=['sleep', '60'],
                                       host_config=api.create_host_config(**flags))['Id']
            host_config = api.inspect_container(cid)['HostConfig']
            assert dict((k, host_config[k]) for k in ('NanoCpus', 'CpuPeriod', 'CpuQuota')) == {
                'NanoCpus': 500000000, 'CpuPeriod': 100000, 'CpuQuota': 50000}, flags
            api.remove_container(cid, force=True)
        both = {'Image': busybox, 'Cmd': ['sleep', '60'],
                'HostConfig': {'NanoCpus': 500000000, 'CpuPeriod': 100000, 'CpuQuota': 50000}}
        with pytest.raises(docker.errors.APIError, match='NanoCpus conflicts with CpuPeriod and CpuQuota'):
            api.create_container_from_config(both, name)

        cid = api.create_container(busybox, name=name, command=['sleep', '60'],
                                   host_config=api.create_host_config(uts_mode='host'))['Id']
        assert api.inspect_container(cid)['Config']['Hostname'] == lab.ssh(host, 'hostname').stdout.strip()
        api.remove_container(cid, force=True)
        with pytest.raises(docker.errors.APIError, match='cannot set hostname when running in the host UTS namespace'):
            api.create_container(busybox, name=name, hostname='mine', host_config=api.create_host_config(uts_mode='host'))

        # The image's HEALTHCHECK: not in the compat image inspect, in Podman's own; a check given at
        # create gets Podman's defaults filled in.
        image = api.inspect_image(lab.image('v1'))
        assert 'Healthcheck' not in image['Config'], image['Config']
        native = api._result(api._get(api._url('/libpod/images/{0}/json', image['Id'])), json=True)
        cid = api.create_container(lab.image('v1'), name=name)['Id']
        assert native['Healthcheck'] == api.inspect_container(cid)['Config']['Healthcheck']
        api.remove_container(cid, force=True)
        cid = api.create_container(busybox, name=name, command=['sleep', '60'],
                                   healthcheck={'test': ['CMD', 'true'], 'interval': 2000000000})['Id']
        assert api.inspect_container(cid)['Config']['Healthcheck'] == {
            'Test': ['CMD', 'true'], 'Interval': 2000000000, 'Timeout': 30000000000, 'Retries': 3}
    finally:
        remove(api, name)
