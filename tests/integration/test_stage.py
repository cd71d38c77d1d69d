"""image_stage and the stage role on the real lab: registry by tag and digest, archives, faults,
free space, idempotence, check mode, retention. Every image and tag made here lives in a
repository of its own (patchops/stg-<uid>) and is removed afterwards."""

from __future__ import annotations

import io
import json
import os
import shutil
import time

import docker
import pytest
import requests

from labkit import LAB_DIR
from patchkit import write_image_archive

from ansible_collections.patchops.containers.plugins.module_utils._journal import engine_dir
from ansible_collections.patchops.containers.plugins.module_utils._manifest import (
    manifest_path,
    read_manifest,
    resolve_staged,
    staged_entry,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(ROOT, 'playbooks', 'stage.yml')


class Scratch:
    """Test images in a private repository, built on the lab's builder engine and pushed."""

    def __init__(self, lab, uid):
        self.lab = lab
        self.uid = uid
        self.repo = '%s/patchops/stg-%s' % (lab.registry, uid)
        self.builder = docker.APIClient(base_url='unix://' + os.path.join(lab.run_dir, 'build', 'docker.sock'),
                                        version='auto', timeout=120)
        self.auth = {'username': lab.registry_user, 'password': lab.registry_password}
        self.pushed = set()
        self.containers = []
        self.other_repos = []

    def ref(self, tag):
        return '%s:%s' % (self.repo, tag)

    def build(self, tag, label):
        """An image with v2's layers and a label of its own: a distinct digest and image ID."""
        dockerfile = 'FROM %s\nLABEL io.patchops.test.stage="%s-%s"\n' % (self.lab.image('v2'), self.uid, label)
        for line in self.builder.build(fileobj=io.BytesIO(dockerfile.encode()), tag=self.ref(tag), rm=True,
                                       decode=True):
            assert 'error' not in line, line
        return self.builder.inspect_image(self.ref(tag))['Id']

    def push(self, tag):
        digest = None
        for line in self.builder.push(self.repo, tag=tag, stream=True, decode=True, auth_config=self.auth):
            assert 'error' not in line, line
            digest = (line.get('aux') or {}).get('Digest') or digest
        assert digest
        self.pushed.add(digest)
        return digest

    def publish(self, tag, label=None):
        image_id = self.build(tag, label or tag)
        return image_id, self.push(tag)

    def save(self, tag, path):
        with open(path, 'wb') as fh:
            for chunk in self.builder.get_image(self.ref(tag)):
                fh.write(chunk)
        return path

    def registry_digest(self, tag):
        return self.builder.inspect_distribution(self.ref(tag), auth_config=self.auth)['Descriptor']['digest']

    def container(self, host, image_id, name):
        api = self.lab.engine(host)
        cid = api.create_container(image_id, name='stg-%s-%s' % (self.uid, name), command=['true'])['Id']
        self.containers.append((host, cid))
        return api.inspect_container(cid)

    def cleanup(self):
        for host, cid in self.containers:
            try:
                self.lab.engine(host).remove_container(cid, force=True)
            except docker.errors.NotFound:
                pass
        # Only this shard's hosts: the other shards stop and kill their own engines on purpose.
        for api in [self.builder] + [self.lab.engine(h) for h in HOSTS]:
            for repo in self.other_repos + [self.repo]:
                remove_repo(api, repo)
        path = self.repo.split('/', 1)[1]
        for digest in self.pushed:
            requests.delete('https://%s/v2/%s/manifests/%s' % (self.lab.registry, path, digest),
                            auth=(self.lab.registry_user, self.lab.registry_password), verify=self.lab.ca, timeout=30)
        # The registry API cannot delete a repository: drop its (now tagless) directory so the
        # catalog does not fill up with test repositories. Blobs stay for the registry's GC.
        shutil.rmtree(os.path.join(LAB_DIR, 'registry', 'data', 'docker', 'registry', 'v2', 'repositories', path),
                      ignore_errors=True)


def repo_refs(image, repo):
    return [r for r in (image.get('RepoTags') or []) + (image.get('RepoDigests') or [])
            if r.startswith(repo + ':') or r.startswith(repo + '@')]


def remove_repo(api, repo):
    """Remove only references in our private repository (the image goes with its last one)."""
    for image in api.images(all=True):
        for ref in sorted(repo_refs(image, repo), key=lambda r: ('@' in r, r)):
            try:
                api.remove_image(ref)
            except docker.errors.APIError:
                pass


def repo_snapshot(lab, host, repo, *image_ids):
    """The images and references of our private repository on a host, and which of ``image_ids``
    exist there. Other engineers' tests use the same engines at the same time, so the proof that
    nothing changed looks only at what this test could have changed."""
    images = lab.engine(host).images(all=True)
    present = set(i['Id'] for i in images)
    return (sorted((i['Id'], tuple(sorted(repo_refs(i, repo)))) for i in images if repo_refs(i, repo)),
            sorted(i for i in image_ids if i in present))


def engine_id(lab, host):
    return lab.engine_id(host)


HOSTS = []  # three hosts of the engine kind under test (conftest engine_hosts): on_engine


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs on Docker 20.10 hosts and on Docker 26 hosts (conftest engine_kind)."""
    HOSTS[:] = engine_hosts


@pytest.fixture(autouse=True)
def engines_up(lab, on_engine):
    """Other suites stop and kill lab engines on purpose; start only when every engine answers."""
    deadline = time.monotonic() + 120
    for host in HOSTS[:3]:
        while lab.ssh(host, 'docker version >/dev/null', check=False).returncode != 0:
            assert time.monotonic() < deadline, '%s: the engine does not answer over SSH' % host
            time.sleep(1)


@pytest.fixture
def scratch(lab, uid):
    s = Scratch(lab, uid)
    try:
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def state_dir(tmp_path):
    path = tmp_path / 'state'
    path.mkdir()
    return str(path)


def stage_args(lab, state_dir, images, **extra):
    args = dict(images=images, state_dir=state_dir, registry_username=lab.registry_user,
                registry_password=lab.registry_password, registry_ca_path=lab.ca, retries=2, retry_delay=0.5)
    args.update(extra)
    return args


def ok(result):
    assert result['_status'] == 'ok', result.get('msg')
    return result


def failed(result):
    assert result['_status'] == 'failed', result
    return result


# -- by tag on three hosts, then the tag moves ------------------------------------------------

def test_stage_by_tag_on_three_hosts_is_pinned_when_the_tag_moves(lab, scratch, state_dir):
    hosts = HOSTS[:3]
    x_id, x_digest = scratch.publish('rel', 'x')
    images = [{'ref': scratch.ref('rel')}, {'ref': lab.image('v2')}]
    v2_digest = lab.registry_digest(lab.image('v2'))

    results = lab.module(','.join(hosts), 'image_stage', stage_args(lab, state_dir, images))
    assert sorted(results) == sorted(hosts)
    for host in hosts:
        res = ok(results[host])
        assert res['changed'] is True
        by_ref = dict((i['reference'], i) for i in res['images'])
        assert by_ref[scratch.ref('rel')]['action'] == 'pulled'
        assert by_ref[scratch.ref('rel')]['digest'] == x_digest
        assert by_ref[scratch.ref('rel')]['image_id'] == x_id
        assert by_ref[lab.image('v2')]['digest'] == v2_digest
        manifest = read_manifest(state_dir, engine_id(lab, host))
        assert res['manifest_path'] == manifest_path(state_dir, engine_id(lab, host))
        assert manifest['engine_name'] == host
        entry = staged_entry(manifest, scratch.ref('rel'))
        assert entry['digest'] == x_digest and entry['image_id'] == x_id and entry['source'] == 'registry'
        assert entry['repo_digest'] == '%s@%s' % (scratch.repo, x_digest)
        assert entry['size'] > 0 and entry['staged_at']
        assert staged_entry(manifest, lab.image('v2'))['digest'] == v2_digest
        # pulled by digest, then tagged locally
        image = lab.engine(host).inspect_image(scratch.ref('rel'))
        assert image['Id'] == x_id
        assert '%s@%s' % (scratch.repo, x_digest) in image['RepoDigests']

    # Someone pushes a different image under the same tag.
    y_id, y_digest = scratch.publish('rel', 'y')
    assert y_id != x_id and scratch.registry_digest('rel') == y_digest

    # The staged digest still pulls the old image, even on an engine that lost it.
    last = lab.engine(hosts[2])
    remove_repo(last, scratch.repo)
    with pytest.raises(docker.errors.NotFound):
        last.inspect_image(x_id)
    last.pull(scratch.repo, tag=x_digest, auth_config=scratch.auth)
    assert last.inspect_image('%s@%s' % (scratch.repo, x_digest))['Id'] == x_id

    for host in hosts:
        manifest = read_manifest(state_dir, engine_id(lab, host))
        # The rollout resolves the staged reference to exactly the staged image...
        assert resolve_staged(manifest, scratch.ref('rel')) == x_id
        assert resolve_staged(manifest, '%s@%s' % (scratch.repo, x_digest)) == x_id
        # ...and a container made from it (what container_patch does) runs the staged image, not the moved tag.
        made = scratch.container(host, resolve_staged(manifest, scratch.ref('rel')), 'rollout')
        assert made['Image'] == x_id != y_id

    # Staging with the approved digest now refuses the moved tag, before any pull.
    before = repo_snapshot(lab, hosts[0], scratch.repo, y_id)
    res = failed(lab.module(hosts[0], 'image_stage', stage_args(
        lab, state_dir, [{'ref': scratch.ref('rel'), 'expected_digest': x_digest}]))[hosts[0]])
    assert 'the tag moved' in res['msg'] and y_digest in res['msg'] and x_digest in res['msg']
    assert repo_snapshot(lab, hosts[0], scratch.repo, y_id) == before and before[1] == []
    assert resolve_staged(read_manifest(state_dir, engine_id(lab, hosts[0])), scratch.ref('rel')) == x_id


# -- idempotence, check mode, diff -------------------------------------------------------------

def test_check_mode_changes_nothing_and_a_second_run_is_unchanged(lab, scratch, state_dir):
    host = HOSTS[0]
    image_id, digest = scratch.publish('idem')
    args = stage_args(lab, state_dir, [{'ref': scratch.ref('idem'), 'expected_id': image_id}])
    path = manifest_path(state_dir, engine_id(lab, host))
    before = repo_snapshot(lab, host, scratch.repo, image_id)
    assert before == ([], [])

    res = ok(lab.module(host, 'image_stage', args, check=True, diff=True)[host])
    assert res['changed'] is True
    assert res['images'][0]['action'] == 'would_pull'
    assert res['images'][0]['digest'] == digest
    assert res['images'][0]['estimated_bytes'] > 0  # read from the registry API with the lab CA
    assert res['space']['free_bytes'] > res['space']['needed_bytes'] > 0
    assert res['diff']['before'] == {} and scratch.ref('idem') in res['diff']['after']
    assert repo_snapshot(lab, host, scratch.repo, image_id) == before
    assert not os.path.exists(path)

    res = ok(lab.module(host, 'image_stage', args, diff=True)[host])
    assert res['changed'] is True and res['images'][0]['action'] == 'pulled'
    assert res['images'][0]['image_id'] == image_id
    assert res['diff']['before'] == {}
    assert res['diff']['after'][scratch.ref('idem')]['image_id'] == image_id
    with open(path) as fh:
        written = fh.read()
    mtime = os.stat(path).st_mtime_ns
    after_first = repo_snapshot(lab, host, scratch.repo, image_id)
    assert after_first[1] == [image_id]
    assert os.listdir(os.path.dirname(path)) == ['stage.json', 'stage.json.lock']  # no temp file left

    for check in (False, True):
        res = ok(lab.module(host, 'image_stage', args, check=check, diff=True)[host])
        assert res['changed'] is False, res
        assert res['images'][0]['action'] == 'present'
        assert res['images'][0]['registry_attempts'] == 1
        assert res['diff']['before'] == res['diff']['after']
    assert repo_snapshot(lab, host, scratch.repo, image_id) == after_first
    with open(path) as fh:
        assert fh.read() == written
    assert os.stat(path).st_mtime_ns == mtime

    # By digest: nothing asked from the registry when present.
    res = ok(lab.module(host, 'image_stage', stage_args(
        lab, state_dir, [{'ref': '%s@%s' % (scratch.repo, digest)}]))[host])
    assert res['images'][0]['action'] == 'present' and res['images'][0]['registry_attempts'] == 0
    assert resolve_staged(res['manifest'], '%s@%s' % (scratch.repo, digest)) == image_id


# -- free space ------------------------------------------------------------------------------

def test_not_enough_space_fails_before_any_pull(lab, scratch, state_dir):
    host = HOSTS[0]
    big_id, dummy = scratch.publish('big')
    before = repo_snapshot(lab, host, scratch.repo, big_id)
    assert before == ([], [])
    root = lab.engine(host).info()['DockerRootDir']
    for check in (True, False):
        res = failed(lab.module(host, 'image_stage', stage_args(
            lab, state_dir, [{'ref': scratch.ref('big')}], min_free_bytes=10 ** 15), check=check)[host])
        msg = res['msg']
        assert msg.startswith('not enough free space on %s to stage: %s has ' % (host, root)), msg
        assert 'needed' in msg and 'free' in msg and 'nothing was pulled' in msg
        assert res['needed_bytes'] > 10 ** 15 > res['free_bytes'] > 0
        assert res['path'] == root
        assert repo_snapshot(lab, host, scratch.repo, big_id) == before
    assert not os.path.exists(manifest_path(state_dir, engine_id(lab, host)))


# -- registry outage: archives still work, registry staging fails clearly -------------------------

def test_registry_down_archive_stages_and_registry_stage_fails_after_bounded_retries(lab, scratch, state_dir, tmp_path):
    host = HOSTS[1]
    arch_id, dummy = scratch.publish('arch')
    reg_id, reg_digest = scratch.publish('reg')
    archive = scratch.save('arch', str(tmp_path / 'arch.tar'))
    before = repo_snapshot(lab, host, scratch.repo, arch_id, reg_id)
    assert before == ([], [])
    reg_args = stage_args(lab, state_dir, [{'ref': scratch.ref('reg')}], retries=2, retry_delay=0.5)
    # by digest there is nothing to resolve: the pull itself meets the outage
    pin_args = stage_args(lab, state_dir, [{'ref': '%s@%s' % (scratch.repo, reg_digest)}], retries=2,
                          retry_delay=0.5, min_free_bytes=0)
    arch_args = stage_args(lab, state_dir, [{'archive': archive, 'expected_id': arch_id}])

    outage = time.monotonic()
    lab.lab('fault', 'registry-block', host)  # this host only: the other shards' tests go on
    try:
        started = time.monotonic()
        reg = lab.module(host, 'image_stage', reg_args)[host]
        reg_seconds = time.monotonic() - started
        after_reg = repo_snapshot(lab, host, scratch.repo, arch_id, reg_id)
        pin = lab.module(host, 'image_stage', pin_args)[host]
        after_pin = repo_snapshot(lab, host, scratch.repo, arch_id, reg_id)
        manifest_after_reg = os.path.exists(manifest_path(state_dir, engine_id(lab, host)))
        arch = lab.module(host, 'image_stage', arch_args)[host]
    finally:
        lab.lab('fault', 'registry-unblock', host)
        print('registry outage: %.1f s' % (time.monotonic() - outage))
    arch_again = lab.module(host, 'image_stage', arch_args)[host]

    failed(reg)
    assert 'cannot resolve %s to a digest on %s: registry unreachable' % (scratch.ref('reg'), host) in reg['msg']
    assert 'after 3 attempts (retries=2, waited 0.5s, 1s)' in reg['msg']
    assert 'nothing was changed' in reg['msg']
    assert reg['attempts'] == 3
    assert reg_seconds < 30
    assert after_reg == before and not manifest_after_reg

    failed(pin)
    assert pin['msg'].startswith('cannot pull %s@%s on %s: registry unreachable (after 3 attempts (retries=2, '
                                 'waited 0.5s, 1s))' % (scratch.repo, reg_digest, host)), pin['msg']
    assert 'staged before the failure: none' in pin['msg']
    assert pin['attempts'] == 3 and pin['changed'] is False
    assert after_pin == before

    ok(arch)
    assert arch['changed'] is True
    assert arch['images'][0]['action'] == 'loaded' and arch['images'][0]['image_id'] == arch_id
    assert lab.engine(host).inspect_image(scratch.ref('arch'))['Id'] == arch_id
    entry = staged_entry(read_manifest(state_dir, engine_id(lab, host)), scratch.ref('arch'))
    assert entry['source'] == 'archive' and entry['image_id'] == arch_id and entry['archive'] == archive
    assert entry['digest'] is None
    ok(arch_again)
    assert arch_again['changed'] is False and arch_again['images'][0]['action'] == 'present'


# -- corrupted archives ----------------------------------------------------------------------

def _corrupt_copies(archive, tmp_path):
    with open(archive, 'rb') as fh:
        data = fh.read()
    truncated = tmp_path / 'truncated.tar'
    truncated.write_bytes(data[:len(data) // 2])
    flipped = bytearray(data)
    middle = len(data) // 2  # inside the big busybox layer
    flipped[middle:middle + 16] = bytes(b ^ 0xFF for b in flipped[middle:middle + 16])
    flipped_path = tmp_path / 'flipped.tar'
    flipped_path.write_bytes(bytes(flipped))
    return {'truncated': str(truncated), 'flipped': str(flipped_path)}


def _engine_rejected_archive(path, tag):
    """A well-formed archive (digests match) whose layer is not a tar: only the engine finds out."""
    return write_image_archive(path, tag, b'this is not a tar stream ' * 4000)


def test_corrupted_archive_fails_clearly_and_loads_nothing(lab, scratch, state_dir, tmp_path):
    host = HOSTS[1]
    bad_id = scratch.build('bad', 'bad')
    archive = scratch.save('bad', str(tmp_path / 'bad.tar'))
    copies = _corrupt_copies(archive, tmp_path)
    junk_id = _engine_rejected_archive(str(tmp_path / 'junk.tar'), scratch.ref('junk'))
    copies['engine-rejected'] = str(tmp_path / 'junk.tar')
    before = repo_snapshot(lab, host, scratch.repo, bad_id, junk_id)
    assert before == ([], [])
    for kind, path in sorted(copies.items()):
        res = failed(lab.module(host, 'image_stage', stage_args(lab, state_dir, [{'archive': path}]))[host])
        if kind == 'engine-rejected':
            assert res['msg'].startswith('loading archive %s on %s failed: ' % (path, host)), res['msg']
            assert 'nothing was loaded' in res['msg'] or 'removed what it left' in res['msg']
        else:
            assert res['msg'].startswith('archive %s is corrupted' % path), res['msg']
        assert repo_snapshot(lab, host, scratch.repo, bad_id, junk_id) == before, kind
    assert not os.path.exists(manifest_path(state_dir, engine_id(lab, host)))

    # An archive holding another image than expected is not loaded either.
    res = failed(lab.module(host, 'image_stage', stage_args(
        lab, state_dir, [{'archive': archive, 'expected_id': 'sha256:' + '0' * 64}]))[host])
    assert 'not the expected_id' in res['msg'] and 'nothing was loaded' in res['msg']
    assert repo_snapshot(lab, host, scratch.repo, bad_id, junk_id) == before


# -- retention -------------------------------------------------------------------------------

def test_retention_keeps_n_previous_and_what_rollback_needs(lab, scratch, state_dir):
    host = HOSTS[0]
    api = lab.engine(host)
    ids = {}
    for name in ('a', 'b', 'c', 'd', 'e'):
        ids[name], dummy = scratch.publish('rel', name)
        ok(lab.module(host, 'image_stage', stage_args(lab, state_dir, [{'ref': scratch.ref('rel')}]))[host])
    manifest = read_manifest(state_dir, engine_id(lab, host))
    entry = staged_entry(manifest, scratch.ref('rel'))
    assert entry['image_id'] == ids['e']
    assert [p['image_id'] for p in entry['previous']] == [ids['d'], ids['c'], ids['b'], ids['a']]
    assert set(i for i, dummy in repo_snapshot(lab, host, scratch.repo)[0]) == set(ids.values())

    # b is used by a stopped container, a is named by a patch journal.
    scratch.container(host, ids['b'], 'uses-b')
    journal = os.path.join(engine_dir(state_dir, engine_id(lab, host)), 'journal')
    os.makedirs(journal)
    with open(os.path.join(journal, 'stg-%s.json' % scratch.uid), 'w') as fh:
        json.dump({'format': 1, 'swaps': [{'old_image_id': ids['a'], 'outcome': 'patched'}]}, fh)
    # c also carries a tag in another repository: pruning this repository only untags it.
    other_repo = scratch.repo + '-other'
    scratch.other_repos.append(other_repo)
    api.tag(ids['c'], other_repo, 'keep')

    prune = dict(state='pruned', keep=1, state_dir=state_dir)
    res = ok(lab.module(host, 'image_stage', prune, check=True)[host])
    assert res['changed'] is True
    assert [r['image_id'] for r in res['removed']] == [ids['c']]
    kept = dict((k['image_id'], k['reasons']) for k in res['kept'])
    assert sorted(kept) == sorted([ids['d'], ids['b'], ids['a']])
    assert kept[ids['d']] == ['one of the newest 1 previous images of %s' % scratch.repo]
    assert kept[ids['b']] == ['used by container stg-%s-uses-b' % scratch.uid]
    assert kept[ids['a']][0].startswith('needed for rollback by journal %s' % journal)
    assert set(i for i, dummy in repo_snapshot(lab, host, scratch.repo)[0]) == set(ids.values())

    res = ok(lab.module(host, 'image_stage', prune)[host])
    assert res['changed'] is True and [r['image_id'] for r in res['removed']] == [ids['c']]
    assert res['removed'][0]['removes_image'] is False
    assert set(i for i, dummy in repo_snapshot(lab, host, scratch.repo)[0]) == {ids['a'], ids['b'], ids['d'], ids['e']}
    assert api.inspect_image(other_repo + ':keep')['Id'] == ids['c']
    assert repo_refs(api.inspect_image(ids['c']), scratch.repo) == []
    assert api.inspect_image(scratch.ref('rel'))['Id'] == ids['e']

    res = ok(lab.module(host, 'image_stage', prune)[host])
    assert res['changed'] is False and res['removed'] == []

    # keep=0: only what a container or the journal needs survives besides the staged image.
    res = ok(lab.module(host, 'image_stage', dict(prune, keep=0))[host])
    assert [r['image_id'] for r in res['removed']] == [ids['d']]
    assert res['removed'][0]['removes_image'] is True
    assert set(i for i, dummy in repo_snapshot(lab, host, scratch.repo)[0]) == {ids['a'], ids['b'], ids['e']}
    with pytest.raises(docker.errors.NotFound):
        api.inspect_image(ids['d'])


# -- the role and the playbook -----------------------------------------------------------------

def _stats(run):
    for event in run.collected_events:
        if event.get('event') == 'playbook_on_stats':
            return event['event_data']
    raise AssertionError('no playbook_on_stats event')


def test_stage_playbook_on_three_hosts_with_archive_and_summary(lab, scratch, state_dir, tmp_path):
    hosts = HOSTS[:3]
    reg_id, reg_digest = scratch.publish('role-reg')
    arch_id = scratch.build('role-arch', 'role-arch')
    archive = scratch.save('role-arch', str(tmp_path / 'role-arch.tar'))
    archive_dir = str(tmp_path / 'archives')
    extravars = {
        'patchops_hosts': ','.join(hosts),
        # one image from the patch targets (the patch playbook's input), one archive from the controller
        'patchops_targets': [{'name': 'web', 'image': scratch.ref('role-reg')}],
        'stage_images': [{'src': archive, 'expected_id': arch_id}],
        'stage_state_dir': state_dir,
        'stage_archive_dir': archive_dir,
        'stage_registry_username': lab.registry_user,
        'stage_registry_password': lab.registry_password,
        'stage_registry_ca_path': lab.ca,
        'stage_pull_throttle': 1,
        'stage_retry_delay': 0.5,
    }
    before = dict((h, repo_snapshot(lab, h, scratch.repo, reg_id, arch_id)) for h in hosts)

    run, dummy = lab.playbook(PLAYBOOK, extravars=extravars, check=True)
    assert run.rc == 0, run.collected_stdout
    stats = _stats(run)
    summary = stats['artifact_data']['patchops_stage']
    assert summary['check_mode'] is True and summary['failed'] == []
    for host in hosts:
        assert summary['hosts'][host]['images'][0]['action'] == 'would_pull'
        assert summary['hosts'][host]['not_copied'] == [archive]
        assert repo_snapshot(lab, host, scratch.repo, reg_id, arch_id) == before[host] == ([], [])
    assert not os.path.exists(archive_dir)
    assert lab.registry_password not in run.collected_stdout

    run, results = lab.playbook(PLAYBOOK, extravars=extravars)
    assert run.rc == 0, run.collected_stdout
    summary = _stats(run)['artifact_data']['patchops_stage']
    assert sorted(summary['changed']) == sorted(hosts) and summary['failed'] == []
    for host in hosts:
        actions = dict((i['reference'], i['action']) for i in summary['hosts'][host]['images'])
        assert actions == {scratch.ref('role-reg'): 'pulled', scratch.ref('role-arch'): 'loaded'}
        manifest = read_manifest(state_dir, engine_id(lab, host))
        assert resolve_staged(manifest, scratch.ref('role-reg')) == reg_id
        assert staged_entry(manifest, scratch.ref('role-reg'))['digest'] == reg_digest
        assert resolve_staged(manifest, scratch.ref('role-arch')) == arch_id
    assert os.path.exists(os.path.join(archive_dir, 'role-arch.tar'))

    run, results = lab.playbook(PLAYBOOK, extravars=extravars)
    assert run.rc == 0
    stats = _stats(run)
    assert not stats.get('changed'), stats.get('changed')
    summary = stats['artifact_data']['patchops_stage']
    assert summary['changed'] == []
    for host in hosts:
        assert set(i['action'] for i in summary['hosts'][host]['images']) == {'present'}


def test_stage_playbook_reports_a_failed_host_in_the_summary(lab, scratch, state_dir):
    hosts = HOSTS[:2]
    extravars = {
        'patchops_hosts': ','.join(hosts),
        # the inventory report's records: only `update: available` ones are staged
        'stage_from_inventory': dict((h, [
            {'name': 'web', 'image': scratch.ref('never-pushed'), 'update': 'available',
             'remote_digest': 'sha256:' + '1' * 64},
            {'name': 'db', 'image': scratch.ref('current'), 'update': 'current'}]) for h in hosts),
        'stage_state_dir': state_dir,
        'stage_registry_username': lab.registry_user,
        'stage_registry_password': lab.registry_password,
        'stage_retry_delay': 0.5,
    }
    run, results = lab.playbook(PLAYBOOK, extravars=extravars)
    assert run.rc != 0
    summary = _stats(run)['artifact_data']['patchops_stage']
    assert sorted(summary['failed']) == sorted(hosts)
    for host in hosts:
        msg = summary['hosts'][host]['msg']
        assert msg.startswith('cannot resolve %s to a digest on %s: not found (not retried)'
                              % (scratch.ref('never-pushed'), host)), msg
        assert scratch.ref('current') not in msg
