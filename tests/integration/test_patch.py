"""container_patch and container_rollback on the lab: fidelity, rollback, check mode, bad input."""

import fcntl
import os
import shutil
import time

import docker
import pytest

from faultkit import Background, tagged_play, thaw, wait_paused
from patchkit import env_of, exec_out, free_subnet, normalise, remove

HOST = 'lab2'  # the second host of the engine kind under test (lab2 on Docker 20.10): on_engine


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs on a Docker 20.10 host and on a Docker 26 host (conftest engine_kind)."""
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[1]


@pytest.fixture
def api(lab):
    lab.pull(HOST, 'latest', repo='patchops/busybox')
    return lab.pull(HOST, 'v1', 'v2', 'v2-broken', 'v2-crash')


def patch(lab, containers, **args):
    args['containers'] = containers
    check = args.pop('_check', False)
    diff = args.pop('_diff', False)
    return lab.module(HOST, 'container_patch', args, check=check, diff=diff)[HOST]


def simple(api, lab, name, port=None, tag='v1'):
    host_config = api.create_host_config(
        port_bindings={8080: port} if port else None,
        binds={'data-%s' % name: {'bind': '/data', 'mode': 'rw'}},
        restart_policy={'Name': 'unless-stopped'})
    cid = api.create_container(lab.image(tag), name=name, host_config=host_config,
                               ports=[8080] if port else None, environment={'MINE': 'kept'})['Id']
    api.start(cid)
    exec_out(api, cid, 'echo precious > /data/file')
    return cid


@pytest.fixture
def rich(lab, api, uid, tmp_path):
    """A container with most of what an operator configures, a netns dependent, and data everywhere."""
    name = 'rich-' + uid
    nets = ['neta-' + uid, 'netb-' + uid]
    subnet = free_subnet()
    ipam = {'Driver': 'default', 'Config': [{'Subnet': subnet}]}
    api.create_network(nets[0], driver='bridge', ipam=ipam)
    api.create_network(nets[1], driver='bridge')
    bind_dir = '/tmp/patchops-bind-' + uid
    os.makedirs(bind_dir, exist_ok=True)
    static_ip = subnet.replace('.0/24', '.77')
    host_config = api.create_host_config(
        binds={'named-' + uid: {'bind': '/named', 'mode': 'rw'}, bind_dir: {'bind': '/bind', 'mode': 'rw'}},
        tmpfs={'/scratch': 'size=16m'}, port_bindings={8080: ('127.0.0.1', None)},
        restart_policy={'Name': 'on-failure', 'MaximumRetryCount': 3},
        cap_add=['NET_ADMIN'], cap_drop=['MKNOD'],
        ulimits=[{'Name': 'nofile', 'Soft': 1024, 'Hard': 2048}],
        log_config={'Type': 'json-file', 'Config': {'max-size': '1m', 'max-file': '2'}},
        extra_hosts={'db.internal': '10.213.7.250'}, dns_search=['lab.internal'], init=True,
        shm_size='32m', sysctls={'net.ipv4.ip_unprivileged_port_start': '1024'},
        network_mode=nets[0])
    networking = api.create_networking_config({nets[0]: api.create_endpoint_config(
        aliases=['web-alias'], ipv4_address=static_ip)})
    cid = api.create_container(
        lab.image('v1'), name=name, host_config=host_config, networking_config=networking,
        environment={'MINE': 'kept', 'APP_VERSION': 'operator'}, labels={'team': 'shop', 'com.docker.compose.project': 'p'},
        user='1000:1000', working_dir='/tmp', hostname='rich-host', ports=[8080], volumes=['/anon'],
        healthcheck={'test': ['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/version'],
                     'interval': 1000000000, 'timeout': 2000000000, 'retries': 3})['Id']
    api.connect_container_to_network(cid, nets[1], aliases=['second-alias'])
    api.start(cid)
    side = api.create_container(
        '%s/patchops/busybox:latest' % lab.registry, name='side-' + uid, command=['sleep', '3600'],
        host_config=api.create_host_config(network_mode='container:' + cid))['Id']
    api.start(side)
    for path in ('/named', '/bind', '/anon', '/data'):
        out, rc = exec_out(api, cid, 'echo data-%s > %s/file' % (uid, path))
        assert rc == 0, out
    yield name
    remove(api, 'side-' + uid, name)
    for net in nets:
        api.remove_network(net)
    api.remove_volume('named-' + uid, force=True)
    shutil.rmtree(bind_dir, ignore_errors=True)


def test_fidelity_v1_to_v2(lab, api, rich, uid):
    before = api.inspect_container(rich)
    side_before = api.inspect_container('side-' + uid)
    res = patch(lab, [{'name': rich, 'image': lab.image('v2')}])
    assert res['_status'] == 'ok', res.get('msg')
    assert res['changed'] is True
    by_name = {c['container']: c for c in res['containers']}
    assert by_name[rich]['outcome'] == 'patched'
    assert by_name['side-' + uid]['reason'].startswith('follows')
    assert [c['container'] for c in res['plan']] == [rich, 'side-' + uid]

    after = api.inspect_container(rich)
    assert after['Id'] != before['Id']
    assert after['Image'] == api.inspect_image(lab.image('v2'))['Id']
    nb, na = normalise(before), normalise(after)
    assert na['host'] == nb['host']
    assert na['mounts'] == nb['mounts']  # anonymous volumes re-attached by name
    assert na['networks'] == nb['networks']
    assert na['config'] == nb['config']
    assert after['Config']['Hostname'] == 'rich-host'
    env = env_of(after)
    assert env['MINE'] == 'kept'
    assert env['APP_SETTING'] == 'from-v2'  # v1's ENV not frozen in
    assert 'APP_V1_ONLY' not in env
    assert env['APP_VERSION'] == 'operator'  # the operator overrode the image: kept
    labels = after['Config']['Labels']
    assert labels['team'] == 'shop' and labels['com.docker.compose.project'] == 'p'
    assert labels['org.opencontainers.image.version'] == 'v2'
    if lab.kinds[HOST] == 'podman':
        # Podman runs HEALTHCHECKs on systemd timers only, and the lab's hosts have no systemd: the
        # engine's status stays "starting", and the swap ran the container's check itself.
        assert 'HEALTHCHECK passed (run by patchops' in by_name[rich]['verification'][0]['output']
    else:
        assert after['State']['Health']['Status'] == 'healthy'
    neta = 'neta-' + uid
    assert after['NetworkSettings']['Networks'][neta]['IPAddress'] == \
        before['NetworkSettings']['Networks'][neta]['IPAddress']  # the static address
    for path in ('/named', '/bind', '/anon', '/data'):
        out, rc = exec_out(api, rich, 'cat %s/file' % path)
        assert (rc, out.strip()) == (0, 'data-' + uid), path

    side = api.inspect_container('side-' + uid)
    assert side['Id'] != side_before['Id'] and side['State']['Running']
    assert side['HostConfig']['NetworkMode'] == 'container:' + after['Id']
    assert side['Image'] == side_before['Image']

    again = patch(lab, [{'name': rich, 'image': lab.image('v2')}])
    assert again['_status'] == 'ok' and again['changed'] is False, again.get('msg')
    assert [c['outcome'] for c in again['containers']] == ['current']
    assert api.inspect_container(rich)['Id'] == after['Id']


@pytest.mark.parametrize('tag', ['v2-broken', 'v2-crash'])
def test_failed_verification_rolls_back_same_container(lab, api, uid, tag):
    name = 'rb-' + uid
    cid = simple(api, lab, name, port=19000 + int(uid[:3], 16) % 500)
    side = api.create_container('%s/patchops/busybox:latest' % lab.registry, name='rbside-' + uid,
                                command=['sleep', '3600'], host_config=api.create_host_config(
                                    network_mode='container:' + cid, init=True))['Id']
    api.start(side)
    port = api.inspect_container(cid)['HostConfig']['PortBindings']['8080/tcp'][0]['HostPort']
    try:
        res = patch(lab, [{'name': name, 'image': lab.image(tag)}], verify_timeout=20)
        assert res['_status'] == 'failed'
        assert res['rolled_back'] is True
        assert 'rolled back' in res['msg'] and name in res['msg']
        result = res['containers'][0]
        assert result['outcome'] == 'rolled_back'
        assert result['verification'][-1]['ok'] is False
        after = api.inspect_container(name)
        assert after['Id'] == cid
        assert after['State']['Running']
        served = lab.ssh(HOST, 'curl -s http://127.0.0.1:%s/version' % port).stdout.strip()
        assert served == '1'
        assert exec_out(api, cid, 'cat /data/file')[0].strip() == 'precious'
        # The sidecar in its namespace was restarted into the restored container's new namespace.
        out, rc = exec_out(api, side, 'wget -q -O- http://127.0.0.1:8080/version')
        assert (rc, out.strip()) == (0, '1')
        names = [c['Names'][0] for c in api.containers(all=True)]
        assert not [n for n in names if 'patchops-' in n and n.startswith('/' + name)]
    finally:
        remove(api, 'rbside-' + uid, name)
        api.remove_volume('data-' + name, force=True)


def test_check_mode_plans_and_changes_nothing(lab, api, uid):
    name = 'cm-' + uid
    cid = simple(api, lab, name)
    try:
        res = patch(lab, [{'name': name, 'image': lab.image('v2')}], _check=True, _diff=True)
        assert res['_status'] == 'ok' and res['changed'] is True
        plan = res['plan'][0]
        assert plan['action'] == 'recreate' and plan['strategy'] == 'stop-first'
        assert plan['old_image'] == lab.image('v1') and plan['new_image'] == lab.image('v2')
        assert res['diff']['after'][name]['image'] == lab.image('v2')
        assert api.inspect_container(name)['Id'] == cid
        assert api.inspect_container(name)['State']['Running']
    finally:
        remove(api, name)
        api.remove_volume('data-' + name, force=True)


def test_plan_inspects_the_target_and_what_may_follow_it(lab, api, uid):
    """The plan lists the engine's containers and inspects the target and what may follow it: a
    running IPC follower (found in /proc by its namespace), a stopped network-namespace follower and
    a stopped container created after the target; not the running containers that share nothing
    with it (one of them in another container's network namespace), nor the stopped ones created
    before it."""
    image = '%s/patchops/busybox:latest' % lab.registry
    name = 'pi-' + uid
    made = []

    def make(suffix, start=True, **host):
        made.append('%s-%s' % (name, suffix))
        cid = api.create_container(image, name=made[-1], command=['sleep', '3600'],
                                   host_config=api.create_host_config(**host))['Id']
        if start:
            api.start(cid)
    try:
        for n in range(2):
            make('before%d' % n, start=False)
        time.sleep(1.1)  # the engine's Created is in whole seconds
        made.append(name)
        api.start(api.create_container(lab.image('v1'), name=name, host_config=api.create_host_config(
            ipc_mode='shareable'))['Id'])
        for n in range(6):
            make('other%d' % n)
        make('elsewhere', network_mode='container:%s-other0' % name)  # follows another container
        make('ipc', ipc_mode='container:' + name)
        # The stopped follower is a provider in turn: what was created in its second or after is
        # inspected for it; a second apart, that is only the container made after it.
        time.sleep(1.1)
        make('netns', start=False, network_mode='container:' + name)
        make('after', start=False)
        res = patch(lab, [{'name': name, 'image': lab.image('v2')}], _check=True)
        assert res['_status'] == 'ok', res.get('msg')
        assert res['plan'][0]['container'] == name
        assert sorted((p['container'], p['action']) for p in res['plan']) == [
            (name, 'recreate'), (name + '-ipc', 'recreate'), (name + '-netns', 'recreate')]
        assert res['plan_inspected'] == 4
        assert api.inspect_container(name)['State']['Running']
    finally:
        remove(api, *reversed(made))


def test_start_first_and_rollback_module(lab, api, uid):
    name = 'sf-' + uid
    cid = api.create_container(lab.image('v1'), name=name)['Id']
    api.start(cid)
    try:
        res = patch(lab, [{'name': name, 'image': lab.image('v2'), 'strategy': 'start-first'}])
        assert res['_status'] == 'ok', res.get('msg')
        # No alias to move: the downtime is the name's gap, old stopped -> new renamed (test_start_first
        # checks it against the journal's step times).
        result = res['containers'][0]
        assert result['downtime_ms'] == result['breakdown_ms']['name_gap'] and 'alias_gap' not in result['breakdown_ms']
        patched = api.inspect_container(name)
        assert patched['Image'] == api.inspect_image(lab.image('v2'))['Id']

        back = lab.module(HOST, 'container_rollback', {'containers': [name]})[HOST]
        assert back['_status'] == 'ok', back.get('msg')
        restored = api.inspect_container(name)
        assert restored['Image'] == api.inspect_image(lab.image('v1'))['Id']
        assert restored['Config']['Image'] == lab.image('v1')
        again = lab.module(HOST, 'container_rollback', {'containers': [name]})[HOST]
        assert again['_status'] == 'ok' and again['changed'] is False
    finally:
        remove(api, name)


def test_bad_input_changes_nothing(lab, api, uid):
    name = 'bad-' + uid
    cid = simple(api, lab, name, port=19600 + int(uid[:3], 16) % 300)
    try:
        cases = [
            ([{'name': 'nope-' + uid, 'image': lab.image('v2')}], {}, "container 'nope-%s' not found" % uid),
            ([{'name': name, 'image': lab.registry + '/patchops/app:absent'}], {}, 'is not on'),
            ([{'name': name, 'image': 'Bad//Ref::x'}], {}, 'malformed'),
            ([{'name': name, 'image': lab.image('v2'), 'strategy': 'start-first'}], {}, 'cannot be patched start-first'),
            ([{'name': name, 'image': lab.image('v2')}], {'strategy': 'sideways'}, 'value of strategy must be one of'),
            ([], {}, 'containers is empty'),
            ([{'name': name, 'image': lab.image('v2')}], {'probes': [{'type': 'http'}]}, "'url' is required"),
        ]
        for containers, extra, expected in cases:
            res = patch(lab, containers, **extra)
            assert res['_status'] == 'failed', (containers, extra)
            assert expected in res['msg'], res['msg']
            assert not res.get('changed')
            assert api.inspect_container(name)['Id'] == cid
            assert api.inspect_container(name)['State']['Running']
        rb = lab.module(HOST, 'container_rollback', {'containers': [name]})[HOST]
        assert rb['_status'] == 'failed' and 'no patch of container' in rb['msg']
    finally:
        remove(api, name)
        api.remove_volume('data-' + name, force=True)


def test_lock_held_by_another_run(lab, api, uid):
    name = 'lk-' + uid
    simple(api, lab, name)
    engine_id = lab.engine_id(HOST).replace(':', '-')
    path = '/var/lib/patchops/%s/lock' % engine_id
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, 'a+') as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            res = patch(lab, [{'name': name, 'image': lab.image('v2')}], lock_timeout=2)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        assert res['_status'] == 'failed'
        assert 'another patchops run holds the lock' in res['msg'] and path in res['msg']
        assert api.inspect_container(name)['Image'] == api.inspect_image(lab.image('v1'))['Id']
    finally:
        remove(api, name)
        api.remove_volume('data-' + name, force=True)


def test_patch_follows_the_stage_manifest_when_the_tag_moved(lab, api, uid):
    """Stage v2 under a tag, move the tag to v2-broken (registry and host): the patch puts the staged image in place."""
    repo = '%s/patchops/moving-%s' % (lab.registry, uid)
    name = 'mv-' + uid
    api.tag(lab.image('v2'), repo, 'release')
    api.push(repo, tag='release', auth_config=lab.auth)
    staged = lab.module(HOST, 'image_stage', {
        'images': [{'ref': repo + ':release'}], 'registry_username': lab.registry_user,
        'registry_password': lab.registry_password})[HOST]
    assert staged['_status'] == 'ok', staged.get('msg')
    v2 = api.inspect_image(lab.image('v2'))['Id']
    api.tag(lab.image('v2-broken'), repo, 'release')  # the tag moves, here and in the registry
    api.push(repo, tag='release', auth_config=lab.auth)
    assert api.inspect_image(repo + ':release')['Id'] != v2
    cid = api.create_container(lab.image('v1'), name=name)['Id']
    api.start(cid)
    try:
        res = patch(lab, [{'name': name, 'image': repo + ':release'}], verify_timeout=20)
        assert res['_status'] == 'ok', res.get('msg')
        assert res['plan'][0]['new_image_id'] == v2
        after = api.inspect_container(name)
        assert after['Image'] == v2
        if lab.kinds[HOST] == 'podman':
            # Podman records one of the image's own names when the reference's repository no longer
            # tags it (the tag moved): not the staged digest reference the swap created it with.
            assert after['Config']['Image'] in api.inspect_image(v2)['RepoTags'] + [repo + '@' + staged['images'][0]['digest']]
        else:
            assert after['Config']['Image'].startswith(repo + '@sha256:')
        unpinned = patch(lab, [{'name': name, 'image': repo + ':release'}], use_stage_manifest=False, _check=True)
        assert unpinned['plan'][0]['new_image_id'] != v2
    finally:
        remove(api, name)
        lab.module(HOST, 'image_stage', {'state': 'absent', 'images': [{'ref': repo + ':release'}]})
        for image in api.images(name=repo):  # untag only: the images are the shared lab ones
            for ref in (image.get('RepoTags') or []) + (image.get('RepoDigests') or []):
                if ref.startswith(repo):
                    try:
                        api.remove_image(ref)
                    except docker.errors.NotFound:  # went with the tag before it
                        pass


# ---- CPU limits, the host's UTS namespace, an image HEALTHCHECK without retries (issue 25) ---------
# What Podman shows differently of these (tests/integration/test_podman.py) the clone must send the way
# the engine takes it. Each container is patched and verified on every engine kind, its configuration
# equal to the original by the clone's rules (patchkit.normalise).

CPU_HALF = {'NanoCpus': 500000000, 'CpuPeriod': 100000, 'CpuQuota': 50000}  # what Podman shows of either


@pytest.mark.parametrize('flags, shown', [
    ({'nano_cpus': 500000000}, {'NanoCpus': 500000000, 'CpuPeriod': 0, 'CpuQuota': 0}),  # --cpus 0.5
    ({'cpu_period': 100000, 'cpu_quota': 50000}, {'NanoCpus': 0, 'CpuPeriod': 100000, 'CpuQuota': 50000}),
    ({'uts_mode': 'host'}, {'UTSMode': 'host'}),
], ids=['cpus', 'cpu-period-quota', 'uts-host'])
def test_fidelity_cpu_limits_and_uts_host(lab, api, uid, flags, shown):
    podman = lab.kinds[HOST] == 'podman'
    if podman and 'UTSMode' not in shown:
        shown = CPU_HALF
    name = 'lim-' + uid
    # The operator's check, with room for a loaded lab machine and half a CPU (the image's times out at 2 s)
    check = {'test': ['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/health'], 'interval': 1000000000,
             'timeout': 30000000000, 'retries': 3}
    cid = api.create_container(lab.image('v1'), name=name, host_config=api.create_host_config(**flags),
                               healthcheck=check)['Id']
    api.start(cid)
    try:
        before = api.inspect_container(cid)
        res = patch(lab, [{'name': name, 'image': lab.image('v2')}], verify_timeout=90)
        assert res['_status'] == 'ok', res.get('msg')
        assert res['containers'][0]['outcome'] == 'patched' and res['containers'][0]['verification'][-1]['ok']
        after = api.inspect_container(name)
        assert after['Id'] != cid and after['State']['Running']
        assert after['Image'] == api.inspect_image(lab.image('v2'))['Id']
        assert dict((k, before['HostConfig'][k]) for k in shown) == shown
        assert normalise(after) == normalise(before)
        if flags.get('uts_mode'):  # the name shown: Podman's the host's (again), Docker's the short ID
            names = [before['Config']['Hostname'], after['Config']['Hostname']]
            if podman:
                assert names == [lab.ssh(HOST, 'hostname').stdout.strip()] * 2
            else:
                assert names == [cid[:12], after['Id'][:12]]
    finally:
        remove(api, name)


def test_fidelity_image_healthcheck_without_retries(lab, api, uid):
    """A container shows its image's HEALTHCHECK, which gives no retries: the new image's own check applies,
    and no engine default (Podman fills in Retries 3) is frozen into the container."""
    repo = 'patchops-hc-' + uid
    checks = {'a': ('true', '2s'), 'b': ('test -d /', '1s')}
    scratch = api.create_container('%s/patchops/busybox:latest' % lab.registry, name='hcs-' + uid)['Id']
    try:
        for tag, (test, interval) in checks.items():
            api.commit(scratch, repository=repo, tag=tag, changes=[  # a timeout with room for a loaded lab machine
                'CMD ["sleep", "3600"]', 'HEALTHCHECK --interval=%s --timeout=30s CMD %s' % (interval, test)])
    finally:
        api.remove_container(scratch, force=True)
    name = 'hcr-' + uid
    cid = api.create_container(repo + ':a', name=name)['Id']
    api.start(cid)
    try:
        before = api.inspect_container(cid)
        assert before['Config']['Healthcheck'] == {
            'Test': ['CMD-SHELL', 'true'], 'Interval': 2000000000, 'Timeout': 30000000000}, before['Config']
        res = patch(lab, [{'name': name, 'image': repo + ':b'}], verify_timeout=90)
        assert res['_status'] == 'ok', res.get('msg')
        assert res['containers'][0]['outcome'] == 'patched' and res['containers'][0]['verification'][-1]['ok']
        after = api.inspect_container(name)
        assert after['Id'] != cid and after['Image'] == api.inspect_image(repo + ':b')['Id']
        assert after['Config']['Healthcheck'] == {
            'Test': ['CMD-SHELL', 'test -d /'], 'Interval': 1000000000, 'Timeout': 30000000000}, after['Config']
        nb, na = normalise(before), normalise(after)
        nb['config'].pop('Healthcheck')
        na['config'].pop('Healthcheck')
        assert na == nb
    finally:
        remove(api, name)
        for tag in checks:
            api.remove_image('%s:%s' % (repo, tag), force=True)


def test_rerun_after_a_failed_give_back_fails_on_the_unhealthy_container(lab, api, uid):
    """The set-aside container removed by someone else while the new one (v2-broken: starts, then turns
    unhealthy) is verified: the give-back keeps the new container (kept_new). The rerun finds it on its
    target image and verifies it: it fails naming the unhealthy container, and changes nothing."""
    name = 'kn-' + uid
    simple(api, lab, name)
    aside = name + '-patchops-old'  # the swap's name for the set-aside container (_swap/context.py ASIDE_SUFFIX)
    args = {'containers': [{'name': name, 'image': lab.image('v2-broken')}], 'verify_timeout': 30}
    frozen = []
    try:
        # The module stops itself once it has journaled `verify` (old container set aside, new one started):
        # the set-aside container is removed then, whatever the machine's load.
        run = Background(lab.playbook, tagged_play(HOST, [{'patchops.containers.container_patch': args}], uid,
                                                   pause_at='verify'))
        run.start()
        frozen = wait_paused(uid, run)
        api.remove_container(aside, force=True, v=False)
        thaw(frozen)
        dummy, results = run.join_result(timeout=180)
        res = results[HOST][-1]
        assert res['_status'] == 'failed', res
        assert [(c['container'], c['outcome']) for c in res['containers']] == [(name, 'kept_new')]
        kept = api.inspect_container(name)
        broken = api.inspect_image(lab.image('v2-broken'))['Id']
        assert kept['Image'] == broken and kept['State']['Running']

        again = patch(lab, [{'name': name, 'image': lab.image('v2-broken')}], verify_timeout=30)
        assert again['_status'] == 'failed' and not again.get('changed'), again
        assert again['msg'].startswith('%s: it runs its target image %s already but fails verification: health '
                                       'unhealthy' % (name, lab.image('v2-broken'))), again['msg']
        result = again['containers'][0]
        assert (result['container'], result['outcome'], result['changed']) == (name, 'failed', False)
        assert result['verification'][-1]['ok'] is False
        after = api.inspect_container(name)
        assert (after['Id'], after['Image']) == (kept['Id'], broken)
    finally:
        thaw(frozen)
        remove(api, name)
        api.remove_volume('data-' + name, force=True)


def test_an_image_that_failed_is_not_put_on_a_stopped_container(lab, api, uid):
    """v2-broken fails verification on a running container; a stopped container of the same target in the
    same run (nothing would verify it) is held: not recreated, with the reason."""
    running, stopped = 'hr-' + uid, 'hs-' + uid
    rid = simple(api, lab, running)
    sid = api.create_container(lab.image('v1'), name=stopped)['Id']  # created, never started
    v1 = api.inspect_image(lab.image('v1'))['Id']
    try:
        plan = patch(lab, [{'name': n, 'image': lab.image('v2-broken')} for n in (stopped, running)], _check=True)
        assert [(p['container'], p['verifiable']) for p in plan['plan']] == [(stopped, False), (running, True)]
        res = patch(lab, [{'name': n, 'image': lab.image('v2-broken')} for n in (stopped, running)], verify_timeout=30)
        assert res['_status'] == 'failed', res
        by_name = {c['container']: c for c in res['containers']}
        assert by_name[running]['outcome'] == 'rolled_back'
        held = by_name[stopped]
        assert (held['outcome'], held['changed'], held['new_id']) == ('held', False, sid)
        assert held['reason'] == 'held: %s failed verification on %s in this run, and %s cannot be verified (it does ' \
            'not run)' % (lab.image('v2-broken'), running, stopped)
        assert '%s: held: ' % stopped in res['msg'], res['msg']
        for name, cid, running_now in ((running, rid, True), (stopped, sid, False)):
            after = api.inspect_container(name)
            assert (after['Id'], after['Image'], after['State']['Running']) == (cid, v1, running_now), name
    finally:
        remove(api, running, stopped)
        api.remove_volume('data-' + running, force=True)
