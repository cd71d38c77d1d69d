"""image_patch and the build role on the lab: the Debian 12 app image (bookworm main only) patched from
the lab's package mirror (its bookworm-security/-updates packages), real engine and registry.

The core build (every mirror update, one layer, idempotence, the rollout of the result) runs once per
Docker engine kind: on lab1 with the rollout on lab2 (Docker 20.10), and on the first two Docker 26
hosts (ids end in [docker20]/[docker26]). The report-driven, re-patch, bad-input and chain tests run on
lab1. Every image made here lives in a repository of its own (patchops/bld-<uid>) and is removed
afterwards."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
import uuid

import docker
import pytest
import requests

from aptkit import apt_pending, mirror_sources
from labkit import LAB_DIR
from patchkit import exec_out, remove, roll_onto

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = 'lab1'      # the build host
TARGET = 'lab2'    # where the patched image rolls out
# The engine kinds of the core build (PATCHOPS_TEST_ENGINES narrows them, as in conftest).
KINDS = [k for k in os.environ.get('PATCHOPS_TEST_ENGINES', 'docker20,docker26').split(',')
         if k in ('docker20', 'docker26')]
PATCH_LABELS = ('org.opencontainers.image.base.name', 'org.opencontainers.image.base.digest',
                'io.patchops.patch.base-id', 'io.patchops.patch.packages', 'io.patchops.patch.created',
                'io.patchops.patch.tool')


# -- helpers -----------------------------------------------------------------------------------

class Repo:
    """The private repository of this module's images, on the hosts and in the registry."""

    def __init__(self, lab, uid):
        self.lab = lab
        self.name = '%s/patchops/bld-%s' % (lab.registry, uid)
        self.pushed = set()

    def ref(self, tag):
        return '%s:%s' % (self.name, tag)

    def cleanup(self):
        for host in self.lab.hosts:
            api = self.lab.engine(host)
            try:
                images = api.images(all=True)
            except (docker.errors.DockerException, requests.RequestException):
                continue  # an engine down (another suite's fault test) has none of ours
            for image in images:
                refs = [r for r in (image.get('RepoTags') or []) + (image.get('RepoDigests') or [])
                        if r.startswith(self.name + ':') or r.startswith(self.name + '@')]
                for ref in sorted(refs, key=lambda r: ('@' in r, r)):
                    try:
                        api.remove_image(ref)
                    except docker.errors.APIError:
                        pass
        path = self.name.split('/', 1)[1]
        for digest in self.pushed:
            requests.delete('https://%s/v2/%s/manifests/%s' % (self.lab.registry, path, digest),
                            auth=(self.lab.registry_user, self.lab.registry_password), verify=self.lab.ca, timeout=30)
        shutil.rmtree(os.path.join(LAB_DIR, 'registry', 'data', 'docker', 'registry', 'v2', 'repositories', path),
                      ignore_errors=True)


def mirror_updates(lab):
    """{package: version} of the lab mirror (what bookworm-security/-updates has newer than the image)."""
    with open(lab.env['PATCHOPS_LAB_APT_UPDATES']) as fh:
        return dict(line.strip().split('=', 1) for line in fh if '=' in line)


def dpkg_versions(api, image):
    """{package: version} of the installed packages of an image (a throwaway container of it)."""
    cid = api.create_container(image, command=['dpkg-query', '-W', '-f', '${Package}=${Version}\n'], user='0')['Id']
    try:
        api.start(cid)
        api.wait(cid, timeout=60)
        out = api.logs(cid, stdout=True, stderr=False).decode()
    finally:
        api.remove_container(cid, force=True, v=True)
    return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)


def top_layer_names(api, ref, tmp_path):
    """File names in the last layer of an image (from its docker save archive)."""
    path = tmp_path / 'image.tar'
    with open(path, 'wb') as fh:
        for chunk in api.get_image(ref):
            fh.write(chunk)
    with tarfile.open(path) as outer:
        manifest = json.load(outer.extractfile('manifest.json'))
        layer = outer.extractfile(manifest[0]['Layers'][-1])
        with tarfile.open(fileobj=io.BytesIO(layer.read())) as inner:
            return inner.getnames()


def leftovers(api):
    """Patch containers, and dangling images made by image_patch, on a build host."""
    containers = [c['Names'] for c in api.containers(all=True) if any('patchops-patch-' in n for n in c['Names'])]
    dangling = [i['Id'] for i in api.images(filters={'dangling': True, 'label': 'io.patchops.patch.tool'})]
    return containers, sorted(dangling)


def plain_labels(config):
    return dict((k, v) for k, v in (config.get('Labels') or {}).items() if k not in PATCH_LABELS)


def trivy_report(path, image_id, findings):
    doc = {'SchemaVersion': 2, 'ArtifactName': 'patchops/debian-app:v1', 'ArtifactType': 'container_image',
           'Metadata': {'OS': {'Family': 'debian', 'Name': '12'}, 'ImageID': image_id},
           'Results': [{'Target': 'patchops/debian-app:v1 (debian 12)', 'Class': 'os-pkgs', 'Type': 'debian',
                        'Vulnerabilities': [
                            {'VulnerabilityID': vid, 'PkgName': pkg, 'InstalledVersion': installed,
                             'FixedVersion': fixed, 'Severity': 'HIGH'} for vid, pkg, installed, fixed in findings]}]}
    path.write_text(json.dumps(doc))
    return str(path)


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def repo(lab):
    repo = Repo(lab, uuid.uuid4().hex[:8])
    yield repo
    repo.cleanup()


@pytest.fixture(scope='module')
def base(lab):
    """The Debian app image on the build host and its inspect."""
    ref = '%s/patchops/debian-app:v1' % lab.registry
    api = lab.pull(HOST, 'v1', repo='patchops/debian-app')
    return ref, api.inspect_image(ref)


@pytest.fixture(scope='module')
def before_leftovers(lab):
    return leftovers(lab.engine(HOST))


@pytest.fixture(scope='module', params=KINDS)
def engine_kind(request, lab):
    """The engine kind of the core build (this module's own, Docker kinds only; conftest shards by it)."""
    if not lab.hosts_of(request.param):
        pytest.skip('the lab has no %s host (tests/lab/lab up --docker26-hosts 3)' % request.param)
    return request.param


@pytest.fixture(scope='module')
def hosts(lab, engine_kind):
    """(build host, rollout host) of the engine kind."""
    if engine_kind == 'docker20':
        return HOST, TARGET
    mine = lab.hosts_of(engine_kind)
    return mine[0], (mine[1:] or mine)[0]


@pytest.fixture(scope='module')
def kind_base(lab, hosts):
    """The Debian app image on the build host of the engine kind, and its inspect."""
    ref = '%s/patchops/debian-app:v1' % lab.registry
    api = lab.pull(hosts[0], 'v1', repo='patchops/debian-app')
    return ref, api.inspect_image(ref)


@pytest.fixture(scope='module')
def kind_leftovers(lab, hosts):
    return leftovers(lab.engine(hosts[0]))


def build_pushed(lab, repo, host, engine_kind, args):
    """image_patch with ``args`` on ``host`` (with diff), pushed with the lab's credentials, timed: (args, result)."""
    args = dict(args, push=True, registry_username=lab.registry_user, registry_password=lab.registry_password)
    t0 = time.time()
    result = lab.module(host, 'image_patch', args, diff=True)[host]
    elapsed = time.time() - t0
    assert result['_status'] == 'ok', result.get('msg')
    repo.pushed.add(result['digest'])
    print('image_patch of %s on %s (%s): %.1f s (module %s), %d packages, patch layer %d bytes, updated packages '
          'installed %d bytes' % (args['image'], host, engine_kind, elapsed, result['timings'], len(result['packages']),
                                  result['layer_size'], result['updated_installed_size']))
    return args, result


@pytest.fixture(scope='module')
def built(lab, repo, hosts, engine_kind, kind_base, kind_leftovers):
    """The app image patched with every update of the mirror on the kind's build host, pushed (once per kind)."""
    return build_pushed(lab, repo, hosts[0], engine_kind,
                        {'image': kind_base[0], 'output': repo.ref('v1-patched-%s' % engine_kind)})


def patch(lab, args, check=False, diff=False, host=HOST):
    return lab.module(host, 'image_patch', args, check=check, diff=diff)[host]


# -- the Debian app image patched from the mirror ------------------------------------------------

def test_every_mirror_update_and_nothing_else(lab, hosts, kind_base, built):
    args, result = built
    api = lab.engine(hosts[0])
    updates = mirror_updates(lab)
    assert updates, 'the lab mirror lists no updates'
    before = dpkg_versions(api, kind_base[0])
    after = dpkg_versions(api, args['output'])
    changed = set(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    # Every package with a newer version in the mirror has it; nothing else moved.
    assert changed == set(updates)
    for name, version in updates.items():
        assert after[name] == version, name
    assert sorted(row['name'] for row in result['packages']) == sorted(changed)
    for row in result['packages']:
        assert (row['before'], row['after']) == (before.get(row['name']), after[row['name']])
    assert result['changed'] and result['patched']
    assert 'zlib1g %s' % updates['zlib1g'] in result['diff']['after']


def test_one_layer_over_the_original_config_kept(lab, hosts, kind_base, built, tmp_path):
    args, result = built
    api = lab.engine(hosts[0])
    base = kind_base
    original, patched = base[1], api.inspect_image(args['output'])
    layers, new_layers = original['RootFS']['Layers'], patched['RootFS']['Layers']
    assert new_layers[:len(layers)] == layers
    assert len(new_layers) == len(layers) + 1 == result['layers']
    for key in ('Cmd', 'Entrypoint', 'Env', 'User', 'WorkingDir', 'ExposedPorts', 'Volumes', 'Healthcheck',
                'StopSignal'):
        assert patched['Config'].get(key) == original['Config'].get(key), key
    assert plain_labels(patched['Config']) == plain_labels(original['Config'])
    labels = patched['Config']['Labels']
    assert labels['org.opencontainers.image.base.name'] == base[0]
    assert labels['org.opencontainers.image.base.digest'] == original['RepoDigests'][0].split('@')[1]
    assert labels['io.patchops.patch.base-id'] == original['Id']
    # The patch layer holds the packages' files and the dpkg database, no package lists, caches or logs.
    names = top_layer_names(api, args['output'], tmp_path)
    bad = [n for n in names if n.startswith(('var/lib/apt/lists/', 'var/cache/apt/', 'var/log/apt/', 'tmp/'))
           or n.endswith('.deb') or n == 'var/log/dpkg.log']
    assert not bad, bad[:10]
    assert any(n.startswith('usr/lib/x86_64-linux-gnu/libz.so') for n in names)
    assert result['layer_size'] == patched['Size'] - original['Size']
    print('patch layer %.1f MiB for %d packages whose installed size is %.1f MiB (%d files)'
          % (result['layer_size'] / 2 ** 20, len(result['packages']), result['updated_installed_size'] / 2 ** 20,
             len(names)))


def test_idempotent_and_check_mode(lab, repo, hosts, built, kind_leftovers):
    args, result = built
    again = patch(lab, args, host=hosts[0])
    assert again['_status'] == 'ok' and not again['changed'], again['msg']
    assert again['image_id'] == result['image_id'] and again['digest'] == result['digest']
    checked = patch(lab, args, check=True, host=hosts[0])
    assert checked['_status'] == 'ok' and not checked['changed'], checked['msg']
    fresh = dict(args, output=repo.ref('check-only'))
    plan = patch(lab, fresh, check=True, diff=True, host=hosts[0])
    assert plan['_status'] == 'ok' and plan['changed']
    assert sorted((r['name'], r['after']) for r in plan['would_update']) == \
        sorted((r['name'], r['after']) for r in result['packages'])
    assert 'zlib1g' in plan['diff']['after']
    api = lab.engine(hosts[0])
    with pytest.raises(docker.errors.NotFound):
        api.inspect_image(fresh['output'])
    assert leftovers(api) == kind_leftovers


def test_container_moved_onto_the_patched_image(lab, hosts, built, uid):
    args, result = built
    target = hosts[1]
    name = 'deb-' + uid
    try:
        api, out, cid = roll_onto(lab, target, 'patchops/debian-app', args['output'], name, [
            {'type': 'health'}, {'type': 'exec', 'command': ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/version']}])
        assert out['_status'] == 'ok', out.get('msg')
        found = api.inspect_container(name)
        assert found['Image'] == api.inspect_image(args['output'])['Id']
        assert found['State']['Health']['Status'] == 'healthy'
        assert 'MINE=kept' in found['Config']['Env']
        text, code = exec_out(api, name, "dpkg-query -W -f '${Version}' zlib1g")
        assert code == 0 and text == mirror_updates(lab)['zlib1g']
    finally:
        remove(lab.engine(target), name)


# -- report-driven and re-patch ------------------------------------------------------------------

@pytest.fixture(scope='module')
def report_built(lab, repo, base, tmp_path_factory):
    updates = mirror_updates(lab)
    api = lab.engine(HOST)
    before = dpkg_versions(api, base[0])
    path = trivy_report(tmp_path_factory.mktemp('report') / 'trivy.json', base[1]['Id'], [
        ('CVE-2023-45853', 'zlib1g', before['zlib1g'], updates['zlib1g']),
        ('CVE-2022-4899', 'libzstd1', before['libzstd1'], updates['libzstd1']),
        ('CVE-2011-3374', 'libapt-pkg6.0', before['libapt-pkg6.0'], ''),   # no fix published
        ('CVE-2099-0001', 'perl-base', before['perl-base'], '9:9.9-9'),     # a fix not in the mirror
    ])
    args = {'image': base[0], 'output': repo.ref('v1-report'), 'report': path}
    result = patch(lab, args)
    assert result['_status'] == 'ok', result.get('msg')
    return args, result, before


def test_report_driven_changes_only_the_named_packages(lab, report_built):
    args, result, before = report_built
    updates = mirror_updates(lab)
    after = dpkg_versions(lab.engine(HOST), args['output'])
    changed = sorted(name for name in after if before.get(name) != after[name])
    assert changed == ['libzstd1', 'zlib1g']
    assert after['zlib1g'] == updates['zlib1g'] and after['libzstd1'] == updates['libzstd1']
    assert sorted(f['id'] for f in result['fixed']) == ['CVE-2022-4899', 'CVE-2023-45853']
    assert sorted(f['id'] for f in result['open']) == ['CVE-2011-3374', 'CVE-2099-0001']
    assert all(f['reason'] for f in result['open'] if f['id'] == 'CVE-2099-0001')


def test_repatch_rebuilds_from_the_recorded_base(lab, repo, base, report_built):
    args, first, before = report_built
    again = patch(lab, {'image': args['output'], 'output': repo.ref('v1-repatched'), 'packages': ['liblzma5']})
    assert again['_status'] == 'ok', again.get('msg')
    assert again['base']['id'] == base[1]['Id'] and again['source']['patched_image']
    api = lab.engine(HOST)
    patched = api.inspect_image(repo.ref('v1-repatched'))
    assert patched['RootFS']['Layers'][:-1] == base[1]['RootFS']['Layers']
    assert len(patched['RootFS']['Layers']) == len(base[1]['RootFS']['Layers']) + 1
    after = dpkg_versions(api, repo.ref('v1-repatched'))
    # The earlier patch's packages are kept, the new one added, all in the one patch layer.
    assert sorted(name for name in after if before.get(name) != after[name]) == ['liblzma5', 'libzstd1', 'zlib1g']


# -- bad input and failures -----------------------------------------------------------------------

def _tar(files):
    """A layer tar from {path: (content bytes or None for a directory, mode)} plus symlinks {path: target}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for path, (content, mode) in files.items():
            info = tarfile.TarInfo(path)
            info.mode = mode
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


@pytest.fixture(scope='module')
def odd_images(lab, repo):
    """An Alpine-looking image (busybox, os-release ID=alpine) and a distroless one (no shell)."""
    api = lab.engine(HOST)
    with open('/bin/busybox', 'rb') as fh:
        busybox = fh.read()
    alpine = _tar({'bin': (None, 0o755), 'bin/busybox': (busybox, 0o755), 'bin/sh': ('busybox', 0o777),
                   'etc': (None, 0o755),
                   'etc/os-release': (b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n', 0o644)})
    distroless = _tar({'etc': (None, 0o755), 'etc/os-release': (b'PRETTY_NAME="Distroless"\nID=debian\n', 0o644),
                       'var': (None, 0o755), 'var/lib': (None, 0o755), 'var/lib/dpkg': (None, 0o755),
                       'var/lib/dpkg/status.d': (None, 0o755), 'app': (b'#!/nothing\n', 0o755)})
    for tag, data in (('alpine', alpine), ('distroless', distroless)):
        api.import_image_from_data(data, repository=repo.name, tag=tag, changes=['CMD ["/app"]'])
    return {'alpine': repo.ref('alpine'), 'distroless': repo.ref('distroless')}


def test_bad_input_fails_clearly_and_leaves_nothing(lab, repo, base, odd_images, before_leftovers, tmp_path):
    api = lab.engine(HOST)
    mine = dict(output=repo.ref('bad'))

    def fails(args, *words):
        out = patch(lab, dict(mine, **args))
        assert out['_status'] == 'failed', out
        assert 'Traceback' not in out['msg']
        for word in words:
            assert word in out['msg'], (word, out['msg'])
        return out
    fails({'image': repo.ref('nope'), 'registry_username': lab.registry_user,
           'registry_password': lab.registry_password}, 'not found', repo.ref('nope'))
    started = time.time()
    out = fails({'image': base[0], 'sources': ['deb [trusted=yes] http://%s:9/ ./' % lab.registry.split(':')[0]],
                 'retries': 1, 'retry_delay': 0.2}, 'package sources unreachable', 'after 2 attempts', 'nothing was built')
    assert time.time() - started < 60
    out = fails({'image': base[0], 'push': True, 'registry_username': lab.registry_user,
                 'registry_password': 'wrong-password'}, 'denied', 'nothing was built or pushed')
    assert 'wrong-password' not in json.dumps(out)
    other = trivy_report(tmp_path / 'other.json', 'sha256:' + '0' * 64, [('CVE-1', 'zlib1g', '1', '2')])
    fails({'image': base[0], 'report': other}, 'is for image', 'sha256:' + '0' * 64)
    wrong = trivy_report(tmp_path / 'wrong.json', '', [('CVE-1', 'zlib1g', '0.1-1', '2')])
    fails({'image': base[0], 'report': wrong}, 'does not match', 'zlib1g')
    fails({'image': odd_images['alpine']}, 'not supported yet', 'Alpine')
    fails({'image': odd_images['distroless']}, 'distroless')
    fails({'image': '%s/patchops/busybox:latest' % lab.registry, 'registry_username': lab.registry_user,
           'registry_password': lab.registry_password}, 'no package manager')
    fails({'image': base[0], 'packages': ['no-such-package']}, 'no-such-package', 'not installed')
    with pytest.raises(docker.errors.NotFound):
        api.inspect_image(repo.ref('bad'))
    assert leftovers(api) == before_leftovers


# -- the chain: inventory -> build -> stage -> patch.yml, one run ----------------------------------

def test_inventory_build_stage_patch_in_one_run(lab, repo, engine_kind, built, uid, tmp_path):
    """inventory.yml, build.yml, stage.yml and patch.yml in one ansible-playbook run, the build's input
    being the inventory's report (patchops_build_from_inventory): of three containers on the target,
    only the one whose image has pending updates gets a built image and is patched onto it; the one
    already patched (nothing pending) and the busybox one (no package database) are not built and
    not touched. apt in the image now running has nothing left to update."""
    if engine_kind != 'docker20':
        pytest.skip('the chain runs once, on Docker 20.10 (lab1 builds, lab2 patches)')
    args, result = built
    api = lab.pull(TARGET, 'v1', repo='patchops/debian-app')
    lab.pull(TARGET, 'v1')
    base = repo.ref('chain-%s' % uid)  # debian-app:v1 under a tag of this test, pushed for the build host
    api.tag('%s/patchops/debian-app:v1' % lab.registry, base)
    for line in api.push(base, auth_config=lab.auth, stream=True, decode=True):
        assert 'error' not in line, line
        if 'aux' in line:
            repo.pushed.add(line['aux']['Digest'])
    api.pull(args['output'], auth_config=lab.auth)
    names = {key: 'chain-%s-%s' % (uid, key) for key in ('app', 'done', 'bb')}
    refs = {'app': base, 'done': args['output'], 'bb': lab.image('v1')}
    ids = {}
    for key, ref in refs.items():
        ids[key] = api.create_container(ref, name=names[key])['Id']
        api.start(ids[key])
    plays = [{'import_playbook': os.path.join(ROOT, 'playbooks', p)}
             for p in ('inventory.yml', 'build.yml', 'stage.yml', 'patch.yml')]
    creds = {'registry_username': lab.registry_user, 'registry_password': lab.registry_password}
    extravars = {
        'inventory_hosts': TARGET, 'inventory_report_dir': str(tmp_path / 'inventory'),
        'inventory_check_updates': False, 'inventory_name_patterns': ['chain-%s-*' % uid],
        'inventory_package_sources': mirror_sources('c%s' % uid),
        'patchops_build_host': HOST, 'patchops_build_from_inventory': True,
        'build_registry_username': creds['registry_username'], 'build_registry_password': creds['registry_password'],
        'build_report_dir': str(tmp_path / 'reports'), 'build_report_run_id': 'chain',
        'stage_registry_username': creds['registry_username'], 'stage_registry_password': creds['registry_password'],
        'patchops_hosts': TARGET, 'report_dir': str(tmp_path / 'reports'), 'report_run_id': 'chain',
        'pretest_min_free_bytes': 1,
    }
    try:
        runner, results = lab.playbook(plays, extravars=extravars)
        assert runner.rc == 0, runner.collected_stdout[-4000:]
        with open(tmp_path / 'inventory' / 'inventory.json') as fh:
            inventory = json.load(fh)
        pending = {i['id']: i for i in inventory['hosts'][0]['images']}
        assert pending[api.inspect_image(base)['Id']]['pending_status'] == 'ok'
        wanted = sorted(p['name'] for p in pending[api.inspect_image(base)['Id']]['pending'])
        assert wanted, 'the base image has nothing pending against the mirror'

        stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
        artifacts = stats.get('artifact_data', {})
        lines = {line['image']: line for line in artifacts['patchops_build']['images']}
        assert sorted(lines) == sorted(refs.values())  # every image of the report considered once
        assert (lines[base]['status'], sorted(p['name'] for p in lines[base]['packages'])) == ('changed', wanted)
        assert lines[args['output']]['status'] == 'nothing_pending'
        assert lines[lab.image('v1')]['status'] == 'skipped'
        patched = lines[base]['reference']
        assert artifacts['patchops_targets_by_host'] == {TARGET: [{'name': names['app'], 'image': patched}]}
        with open(tmp_path / 'reports' / 'chain' / 'build.json') as fh:
            totals = json.load(fh)['totals']
        assert (totals['built'], totals['skipped']) == (1, 1), totals

        # The engine: the one container moved onto the built image, the other two untouched.
        found = api.inspect_container(names['app'])
        assert found['Image'] == api.inspect_image(patched)['Id'] and found['Id'] != ids['app']
        for key in ('done', 'bb'):
            assert api.inspect_container(names[key])['Id'] == ids[key]
        assert apt_pending(api, patched) == {}
        with open(tmp_path / 'reports' / 'chain' / 'report.json') as fh:
            report = json.load(fh)
        assert {c['container']: c['outcome'] for c in report['hosts'][0]['containers']} == {names['app']: 'patched'}
        # The proof: pending before (the inventory's) -> after (the image running now, read back), and
        # exactly the pending packages changed, at the versions the mirror has.
        proof = report['hosts'][0]['containers'][0]['packages']
        before = pending[api.inspect_image(base)['Id']]
        assert (proof['before']['count'], proof['before']['security']) == (
            before['pending_count'], before['pending_security'])
        assert (proof['after']['status'], proof['after']['count']) == ('ok', 0)
        assert {c['name']: c['after'] for c in proof['changed']} == {p['name']: p['candidate'] for p in before['pending']}
        with open(tmp_path / 'reports' / 'chain' / 'report.md') as fh:
            assert '| %s | %s | %s | 0 pending (0 security) |' % (TARGET, names['app'], before['pending_summary']) in fh.read()
    finally:
        remove(api, *names.values())
