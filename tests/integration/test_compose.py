"""A real compose project on the lab: patched by service without drift (compose recreates nothing
afterwards), a -patched tag, a failed patch rolled back, and the inventory's sync verdict.

Each test runs twice (conftest engine_kind): Compose v1 (Debian 12's docker-compose 1.29) on a
Docker 20.10 host, and Compose v2 (Debian 13's docker-compose 2.26, from the lab's trixie root
filesystem) on a Docker 26 host. Both run here against the host's engine socket; the module runs on
the host over SSH, where only docker-compose 1.29 is on PATH."""

import json
import os
import subprocess
import textwrap

import pytest

from patchkit import exec_out

V2_COMPOSE = '/var/cache/patchops-lab/rootfs-trixie/usr/bin/docker-compose'
# engine kind: (compose command, major version, container name separator)
FLAVOURS = {'docker20': (['docker-compose'], '1', '_'), 'docker26': ([V2_COMPOSE], '2', '-')}
HOST = None  # the host of the engine kind under test (on_engine)
COMPOSE = None
SEP = None


@pytest.fixture(scope='module', autouse=True)
def on_engine(lab, engine_kind):
    """Compose v1 on a Docker 20.10 host, Compose v2 on a Docker 26 host."""
    global HOST, COMPOSE, SEP
    if engine_kind not in FLAVOURS:
        pytest.skip('the compose tests run on Docker engines, not %s' % engine_kind)
    command, major, SEP = FLAVOURS[engine_kind]
    if not os.path.exists(command[0]) and '/' in command[0]:
        pytest.skip('no Compose v2 at %s (tests/lab/lab rootfs)' % command[0])
    HOST = lab.pick(engine_kind, 1)[0]
    COMPOSE = command
    version = subprocess.run(command + ['version', '--short'], capture_output=True, text=True, check=True)
    assert version.stdout.strip().lstrip('v').startswith(major + '.'), version.stdout


def name(project, service, number=1):
    return SEP.join((project, service, str(number)))


def compose(lab, workdir, project, *args):
    env = dict(os.environ, DOCKER_HOST='unix://' + lab.socket(HOST))
    return subprocess.run(COMPOSE + ['-p', project, '-f', os.path.join(workdir, 'compose.yml')] + list(args),
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture
def shop(lab, uid, tmp_path):
    """Project shop<uid>: db (named volume), api depends_on db, web with 2 replicas, a custom network;
    each service has its own local image reference (tags of the lab app v1)."""
    api = lab.pull(HOST, 'v1', 'v2', 'v2-broken')
    project = 'shop' + uid
    refs = {s: 'patchops-lab/%s-%s:1' % (project, s) for s in ('db', 'api', 'web')}
    for ref in refs.values():
        repo, tag = ref.rsplit(':', 1)
        api.tag(lab.image('v1'), repo, tag)
    (tmp_path / 'compose.yml').write_text(textwrap.dedent('''\
        version: "2.4"
        services:
          db:
            image: %(db)s
            volumes: [dbdata:/data]
            networks: [back]
          api:
            image: %(api)s  # the api's own tag
            depends_on: [db]
            networks: [back]
          web:
            image: %(web)s
            scale: 2
            networks: [back]
        volumes:
          dbdata: {}
        networks:
          back: {}
        ''' % refs))
    up = compose(lab, str(tmp_path), project, 'up', '-d')
    assert up.returncode == 0, up.stderr
    yield api, project, refs, str(tmp_path)
    compose(lab, str(tmp_path), project, 'down', '-v')
    for ref in refs.values():
        for suffix in ('', '-patched'):
            try:
                api.remove_image(ref + suffix, noprune=True)
            except Exception:
                pass


def containers(api, project):
    """{name: (id, image id)} of the project's containers."""
    found = api.containers(all=True, filters={'label': 'com.docker.compose.project=%s' % project})
    return {c['Names'][0].lstrip('/'): (c['Id'], api.inspect_container(c['Id'])['Image']) for c in found}


def unchanged_by_up(lab, api, project, workdir):
    before = containers(api, project)
    up = compose(lab, workdir, project, 'up', '-d')
    assert up.returncode == 0, up.stderr
    assert containers(api, project) == before, up.stderr  # compose recreated nothing
    return before


def config_hashes(lab, workdir, project):
    """{service: hash} as the project's compose computes them now (`config --hash="*"`, in 1.29 as in v2)."""
    out = compose(lab, workdir, project, 'config', '--hash=*')
    assert out.returncode == 0, out.stderr
    hashes = dict(line.split() for line in out.stdout.splitlines() if len(line.split()) == 2)
    assert hashes, out.stdout
    return hashes


def hashes_match(lab, api, project, workdir):
    """Every container of the project carries the config hash compose computes for its service."""
    hashes = config_hashes(lab, workdir, project)
    labels = {n: api.inspect_container(n)['Config']['Labels'] for n in containers(api, project)}
    assert {n: l['com.docker.compose.config-hash'] for n, l in labels.items()} == \
        {n: hashes[l['com.docker.compose.service']] for n, l in labels.items()}


def verdicts(lab, project):
    res = lab.module(HOST, 'container_inventory', {'label': ['com.docker.compose.project=%s' % project]})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    return {c['name']: c['compose'] for c in res['containers']}


def test_patch_a_service_without_drift(lab, shop):
    api, project, refs, workdir = shop
    assert {v['verdict'] for v in verdicts(lab, project).values()} == {'in sync'}
    hashes_match(lab, api, project, workdir)
    exec_out(api, name(project, 'db'), 'echo kept > /data/file')

    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'web', 'image': lab.image('v2')}]})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    web = [name(project, 'web'), name(project, 'web', 2)]
    assert sorted(c['container'] for c in res['containers']) == web
    assert {c['compose_retagged'] for c in res['containers']} == {refs['web']}
    v2 = api.inspect_image(lab.image('v2'))['Id']
    assert api.inspect_image(refs['web'])['Id'] == v2
    state = unchanged_by_up(lab, api, project, workdir)
    assert {state[n][1] for n in web} == {v2}
    new = api.inspect_container(web[0])['Config']
    assert new['Image'] == refs['web'] and new['Labels']['com.docker.compose.service'] == 'web'
    assert new['Labels']['com.docker.compose.config-hash']
    assert {v['verdict'] for v in verdicts(lab, project).values()} == {'in sync'}
    ps = compose(lab, workdir, project, 'ps')
    assert ps.returncode == 0 and ps.stdout.count(' Up ') >= 4, ps.stdout
    hashes_match(lab, api, project, workdir)  # compose sees no drift in the patched containers' hashes

    # A patched image under a -patched tag: the service's own reference is retagged to it.
    repo, tag = refs['api'].rsplit(':', 1)
    api.tag(lab.image('v2'), repo, tag + '-patched')
    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'api', 'image': refs['api'] + '-patched'}]})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    assert res['containers'][0]['compose_retagged'] == refs['api']
    state = unchanged_by_up(lab, api, project, workdir)
    assert state[name(project, 'api')][1] == v2
    hashes_match(lab, api, project, workdir)

    # The service with the named volume: the new db container has the data the old one wrote.
    db = api.inspect_container(name(project, 'db'))['Id']
    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'db', 'image': lab.image('v2')}]})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    assert [(c['container'], c['outcome']) for c in res['containers']] == [(name(project, 'db'), 'patched')]
    state = unchanged_by_up(lab, api, project, workdir)
    assert state[name(project, 'db')][1] == v2 and state[name(project, 'db')][0] != db
    assert exec_out(api, name(project, 'db'), 'cat /data/file')[0].strip() == 'kept'
    hashes_match(lab, api, project, workdir)


def test_failed_patch_rolls_the_service_back(lab, shop):
    api, project, refs, workdir = shop
    before = containers(api, project)
    v1 = api.inspect_image(lab.image('v1'))['Id']
    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'web', 'image': lab.image('v2-broken')}], 'verify_timeout': 15})[HOST]
    assert res['_status'] == 'failed' and res['rolled_back'] is True
    assert api.inspect_image(refs['web'])['Id'] == v1  # the tag moved back
    assert containers(api, project) == before
    unchanged_by_up(lab, api, project, workdir)

    # patched, then container_rollback restores the container, the tag and the labels
    ok = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'db', 'image': lab.image('v2')}]})[HOST]
    assert ok['_status'] == 'ok', ok.get('msg')
    back = lab.module(HOST, 'container_rollback', {'containers': [name(project, 'db')]})[HOST]
    assert back['_status'] == 'ok', back.get('msg')
    assert api.inspect_image(refs['db'])['Id'] == v1
    state = unchanged_by_up(lab, api, project, workdir)
    assert state[name(project, 'db')][1] == v1


def test_inventory_says_when_compose_would_recreate(lab, shop):
    api, project, refs, workdir = shop
    path = os.path.join(workdir, 'compose.yml')
    with open(path) as fh:
        text = fh.read()
    with open(path, 'w') as fh:  # changed by hand: db now names another image
        fh.write(text.replace('image: %s' % refs['db'], 'image: %s' % refs['db'].replace(':1', ':2')))
    found = verdicts(lab, project)
    db = found[name(project, 'db')]
    assert db['in_sync'] is False and 'the compose file now names image' in db['verdict'], db
    assert found[name(project, 'web')]['verdict'] == 'in sync'
    repo, tag = refs['api'].rsplit(':', 1)
    api.tag(lab.image('v2'), repo, tag)  # the tag moved (a pull): compose would recreate api
    api_verdict = verdicts(lab, project)[name(project, 'api')]
    assert api_verdict['in_sync'] is False and 'now means' in api_verdict['verdict'], api_verdict


@pytest.fixture
def shared(lab, uid, tmp_path):
    """Project mix<uid>: web (2 replicas), db (named volume) and proxy, all three services on one local tag."""
    api = lab.pull(HOST, 'v1', 'v2')
    project = 'mix' + uid
    ref = 'patchops-lab/%s-app:1' % project
    repo, tag = ref.rsplit(':', 1)
    api.tag(lab.image('v1'), repo, tag)
    (tmp_path / 'compose.yml').write_text(textwrap.dedent('''\
        version: "2.4"
        services:
          web:
            image: %(ref)s
            scale: 2
          db:
            image: %(ref)s
            volumes: [dbdata:/data]
          proxy:
            image: %(ref)s
        volumes:
          dbdata: {}
        ''' % {'ref': ref}))
    up = compose(lab, str(tmp_path), project, 'up', '-d')
    assert up.returncode == 0, up.stderr
    yield api, project, ref, str(tmp_path)
    compose(lab, str(tmp_path), project, 'down', '-v')
    try:
        api.remove_image(ref, noprune=True)
    except Exception:
        pass


def test_a_tag_that_services_outside_the_run_use_is_not_moved(lab, shared):
    """Patching web, whose image: tag db and proxy use too, would move that tag under them: the run
    refuses (check mode too) naming them and the ways out, and changes nothing: compose's next up
    recreates nothing. Patching every service of the tag in one run is allowed."""
    api, project, ref, workdir = shared
    web = [name(project, 'web'), name(project, 'web', 2)]
    others = [name(project, 'db'), name(project, 'proxy')]
    before = containers(api, project)
    assert sorted(before) == sorted(web + others)
    v1, v2 = (api.inspect_image(lab.image(t))['Id'] for t in ('v1', 'v2'))
    target = [{'compose_project': project, 'service': 'web', 'image': lab.image('v2')}]
    for check in (True, False):
        res = lab.module(HOST, 'container_patch', {'containers': target}, check=check)[HOST]
        assert res['_status'] == 'failed' and not res.get('changed'), res
        msg = res['msg']
        assert 'patching %s would move the tag %s to the patched image, and containers not in this run use it: %s' % (
            ', '.join(web), ref, ', '.join(sorted(others))) in msg, msg
        for way_out in ('compose_file: update', 'patch those containers in the same run', 'move_shared_tag: true'):
            assert way_out in msg, msg
        assert not res.get('containers'), res
        assert containers(api, project) == before
        assert api.inspect_image(ref)['Id'] == v1
    assert unchanged_by_up(lab, api, project, workdir) == before
    assert api.inspect_image(ref)['Id'] == v1
    hashes_match(lab, api, project, workdir)

    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': s, 'image': lab.image('v2')} for s in ('web', 'db', 'proxy')]})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    assert sorted((c['container'], c['outcome']) for c in res['containers']) == sorted(
        (n, 'patched') for n in web + others)
    state = unchanged_by_up(lab, api, project, workdir)
    assert {state[n][1] for n in web + others} == {v2} and api.inspect_image(ref)['Id'] == v2
    hashes_match(lab, api, project, workdir)


PATCH_YML = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'patch.yml')


def test_patch_yml_with_a_service_target(lab, shop, tmp_path):
    """playbooks/patch.yml takes {compose_project, service, image} targets: every replica patched,
    reported per container, compose recreates nothing afterwards."""
    api, project, refs, workdir = shop
    v2 = api.inspect_image(lab.image('v2'))['Id']
    runner, results = lab.playbook(PATCH_YML, extravars={
        'patchops_hosts': HOST, 'patchops_serial': 1, 'pretest_min_free_bytes': 1,
        'report_dir': str(tmp_path / 'reports'),
        'patchops_targets': [{'compose_project': project, 'service': 'web', 'image': lab.image('v2')}]})
    failed = [r for r in results[HOST] if r['_status'] == 'failed' and not r['_ignored']]
    assert not failed and runner.status == 'successful', runner.collected_stdout[-3000:]
    patched = next(r for r in results[HOST] if r['_task'] == 'Remember what this run patched on the host')
    web = [name(project, 'web'), name(project, 'web', 2)]
    assert sorted(patched['ansible_facts']['rollout_patched']) == web
    state = unchanged_by_up(lab, api, project, workdir)
    assert {state[n][1] for n in web} == {v2} and api.inspect_image(refs['web'])['Id'] == v2
    stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
    with open(stats['artifact_data']['patchops_patch']['report']) as fh:
        report = json.load(fh)
    record = next(r for r in report['hosts'] if r['host'] == HOST)
    assert sorted(c['container'] for c in record['containers'] if c['outcome'] == 'patched') == web


def test_compose_file_update(lab, shop):
    """compose_file: update writes the patched reference into the service's image: line (nothing
    else of the file changes, a backup beside it), moves no tag; check mode shows it and writes
    nothing; a failed patch and container_rollback write the old reference back."""
    api, project, refs, workdir = shop
    # Compose v2 hashes the image: string: the new hash needs a v2 on the host, which is not on PATH
    # there (the lab's Compose v2 is in the trixie root filesystem, visible at the same path).
    path = os.path.join(workdir, 'compose.yml')
    with open(path, 'rb') as fh:
        original = fh.read()
    v1, v2 = (api.inspect_image(lab.image(t))['Id'] for t in ('v1', 'v2'))
    patched_ref = refs['api'] + '-patched'
    repo, tag = patched_ref.rsplit(':', 1)
    api.tag(lab.image('v2'), repo, tag)
    target = [{'compose_project': project, 'service': 'api', 'image': patched_ref}]

    plan = lab.module(HOST, 'container_patch', {'containers': target, 'compose_file': 'update', 'compose_command': COMPOSE[0]},
                      check=True, diff=True)[HOST]
    assert plan['_status'] == 'ok' and plan['changed'] is True, plan.get('msg')
    edit = plan['plan'][0]['compose_file']
    assert (edit['path'], edit['from'], edit['to'], edit['line']) == (path, refs['api'], patched_ref, 8), edit
    assert plan['diff']['after'][name(project, 'api')]['compose_file'] == '%s:8 image: %s' % (path, patched_ref)
    with open(path, 'rb') as fh:
        assert fh.read() == original
    assert not [f for f in os.listdir(workdir) if f.endswith('.bak')]

    res = lab.module(HOST, 'container_patch', {'containers': target, 'compose_file': 'update', 'compose_command': COMPOSE[0]})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    done = res['containers'][0]
    assert done['compose_retagged'] is None and done['compose_file']['to'] == patched_ref
    with open(path, 'rb') as fh:
        assert fh.read() == original.replace(b'image: ' + refs['api'].encode() + b'  #',
                                             b'image: ' + patched_ref.encode() + b'  #')
    with open(done['compose_file_backup'], 'rb') as fh:
        assert fh.read() == original
    assert os.path.dirname(done['compose_file_backup']) == workdir
    assert api.inspect_image(refs['api'])['Id'] == v1  # no tag moved
    assert api.inspect_container(name(project, 'api'))['Config']['Image'] == patched_ref
    state = unchanged_by_up(lab, api, project, workdir)
    assert state[name(project, 'api')][1] == v2
    found = verdicts(lab, project)[name(project, 'api')]
    assert found['verdict'] == 'in sync' and found['file_image'] == patched_ref, found

    back = lab.module(HOST, 'container_rollback', {'containers': [name(project, 'api')]})[HOST]
    assert back['_status'] == 'ok', back.get('msg')
    with open(path, 'rb') as fh:
        assert fh.read() == original  # the backup's reference again
    state = unchanged_by_up(lab, api, project, workdir)
    assert state[name(project, 'api')][1] == v1
    assert api.inspect_container(name(project, 'api'))['Config']['Image'] == refs['api']

    # a failed patch writes the old reference back too
    before = containers(api, project)
    broken_ref = refs['web'] + '-patched'
    repo, tag = broken_ref.rsplit(':', 1)
    api.tag(lab.image('v2-broken'), repo, tag)
    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'web', 'image': broken_ref}], 'compose_file': 'update', 'compose_command': COMPOSE[0],
        'verify_timeout': 15})[HOST]
    assert res['_status'] == 'failed' and res['rolled_back'] is True
    with open(path, 'rb') as fh:
        assert fh.read() == original
    assert containers(api, project) == before
    unchanged_by_up(lab, api, project, workdir)

    # refused before anything changes: an image ID (no reference to write), a file changed by hand
    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'api', 'image': v2}], 'compose_file': 'update', 'compose_command': COMPOSE[0]})[HOST]
    assert res['_status'] == 'failed' and 'compose_file' in res['msg'] and 'is an image ID' in res['msg'], res['msg']
    with open(path, 'wb') as fh:
        fh.write(original.replace(refs['db'].encode(), refs['db'].replace(':1', ':3').encode()))
    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'db', 'image': patched_ref}], 'compose_file': 'update', 'compose_command': COMPOSE[0]})[HOST]
    assert res['_status'] == 'failed' and 'names image %s' % refs['db'].replace(':1', ':3') in res['msg'], res['msg']
    assert containers(api, project) == before


def test_warnings_for_what_undoes_a_local_patch(lab, shop):
    """pull_policy: always and build: (compose would pull or rebuild the tag at its next up): the
    plan warns and patches all the same."""
    api, project, refs, workdir = shop
    path = os.path.join(workdir, 'compose.yml')
    with open(path) as fh:
        text = fh.read()
    with open(path, 'w') as fh:
        fh.write(text.replace('image: %s\n' % refs['web'], 'image: %s\n    pull_policy: always\n' % refs['web'])
                 .replace('image: %s  #' % refs['api'], 'build: ./api\n    image: %s  #' % refs['api']))
    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': s, 'image': lab.image('v2')} for s in ('web', 'api')]},
        check=True)[HOST]
    assert res['_status'] == 'ok' and res['changed'] is True, res.get('msg')
    warnings = res.get('warnings', [])
    assert any('service web has pull_policy: always' in w for w in warnings), warnings
    assert any('service api has build' in w for w in warnings), warnings


@pytest.mark.parametrize('step, action', [('created_new', 'rolled_back'), ('verified', 'finished')])
def test_compose_file_update_killed_then_rerun(lab, shop, step, action):
    """The module killed after the compose file was written (new container created, or verified):
    the rerun recovers (the file written back with the container, or kept with it) and patches;
    the file and the containers agree, compose recreates nothing."""
    api, project, refs, workdir = shop
    path = os.path.join(workdir, 'compose.yml')
    with open(path, 'rb') as fh:
        original = fh.read()
    patched_ref = refs['api'] + '-patched'
    repo, tag = patched_ref.rsplit(':', 1)
    api.tag(lab.image('v2'), repo, tag)
    v2 = api.inspect_image(lab.image('v2'))['Id']
    task = {'name': 'patch', 'patchops.containers.container_patch': {
        'containers': [{'compose_project': project, 'service': 'api', 'image': patched_ref}],
        'compose_file': 'update', 'compose_command': COMPOSE[0]}}

    def play(crash_at=None):
        plays = [{'hosts': HOST, 'gather_facts': False, 'tasks': [task],
                  'environment': {'PATCHOPS_TEST_CRASH_AT': crash_at} if crash_at else {}}]
        return lab.playbook(plays)[1][HOST][-1]
    killed = play(step)
    assert killed['_status'] == 'failed', killed
    edited = original.replace(b'image: ' + refs['api'].encode() + b'  #', b'image: ' + patched_ref.encode() + b'  #')
    with open(path, 'rb') as fh:
        assert fh.read() == edited  # written before the new container was created
    rerun = play()
    assert rerun['_status'] == 'ok', rerun.get('msg')
    assert [(r['container'], r['action']) for r in rerun['recovered']] == [(name(project, 'api'), action)]
    with open(path, 'rb') as fh:
        assert fh.read() == edited
    state = unchanged_by_up(lab, api, project, workdir)
    assert state[name(project, 'api')][1] == v2
    assert api.inspect_container(name(project, 'api'))['Config']['Image'] == patched_ref
    assert len([f for f in os.listdir(workdir) if f.endswith('.bak')]) >= 1


def test_rollback_when_the_file_changed_since(lab, shop):
    """container_rollback of a compose_file: update patch whose image: line was changed by hand since:
    the container is rolled back all the same, the file left as it is, a warning says so."""
    api, project, refs, workdir = shop
    path = os.path.join(workdir, 'compose.yml')
    patched_ref = refs['api'] + '-patched'
    repo, tag = patched_ref.rsplit(':', 1)
    api.tag(lab.image('v2'), repo, tag)
    v1, v2 = (api.inspect_image(lab.image(t))['Id'] for t in ('v1', 'v2'))
    res = lab.module(HOST, 'container_patch', {'containers': [
        {'compose_project': project, 'service': 'api', 'image': patched_ref}], 'compose_file': 'update',
        'compose_command': COMPOSE[0]})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    with open(path) as fh:
        text = fh.read()
    hand = text.replace('image: %s' % patched_ref, 'image: %s' % refs['api'].replace(':1', ':7'))
    with open(path, 'w') as fh:
        fh.write(hand)
    back = lab.module(HOST, 'container_rollback', {'containers': [name(project, 'api')]})[HOST]
    assert back['_status'] == 'ok', back.get('msg')
    assert any('rolled back without writing its image: line back' in w for w in back.get('warnings', [])), back
    assert api.inspect_container(name(project, 'api'))['Image'] == v1
    assert api.inspect_image(patched_ref)['Id'] == v2 and api.inspect_image(refs['api'])['Id'] == v1
    with open(path) as fh:
        assert fh.read() == hand
