"""image_patch on a distroless Debian image, on the lab: patchops/distroless-app:v1 (files of bookworm
main .debs unpacked, one status.d entry per package, no shell, apt or dpkg; tests/lab/images/distroless)
patched from the lab mirror through a tooling container of patchops/debian:12, with the Engine API
alone. Once per engine kind (ids end in [docker20]/[docker26]/[podman]): built on the kind's first host,
rolled out on its second. The expected files are read from the mirror's own .debs on this machine."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import uuid

import docker
import pytest

from patchkit import remove, roll_onto
from test_build import Repo, build_pushed, mirror_updates, plain_labels, trivy_report

CONFIG_KEYS = ('Cmd', 'Entrypoint', 'Env', 'User', 'WorkingDir', 'ExposedPorts', 'Volumes', 'Healthcheck',
               'StopSignal')
STATUS_D = 'var/lib/dpkg/status.d/'
# Why nothing is built on Podman (the apt images alike; test_build runs on the Docker kinds only).
PODMAN_ENV = ("Podman's commit keeps in the image the environment Podman gives every container (container=podman, "
              "and a default PATH when the image has none) whatever config the request sends, so image_patch's "
              "config check refuses the result")


# -- helpers -----------------------------------------------------------------------------------

def image_tree(api, image):
    """{path: member, content or None} of the whole file system of ``image`` (a created, never started
    container of it, read through the archive API)."""
    cid = api.create_container(image)['Id']
    try:
        stream, dummy = api.get_archive(cid, '/')
        data = b''.join(stream)
    finally:
        api.remove_container(cid, force=True, v=True)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            path = member.name.lstrip('./')
            out[path] = (member, tar.extractfile(member).read() if member.isfile() else None)
    return out


def status_versions(tree):
    """{package: version} of the status.d entries in an image_tree."""
    versions = {}
    for path, (member, content) in tree.items():
        if path.startswith(STATUS_D) and content is not None and not path.endswith('.md5sums'):
            fields = dict(line.split(': ', 1) for line in content.decode().splitlines() if ': ' in line)
            versions[fields['Package']] = fields['Version']
    return versions


def mirror_debs(lab):
    """{package: path of its .deb} in the lab mirror (its Packages index)."""
    root = os.path.join(os.path.dirname(lab.env['PATCHOPS_LAB_APT_UPDATES']))
    debs, name = {}, None
    with open(os.path.join(root, 'Packages')) as fh:
        for line in fh:
            if line.startswith('Package: '):
                name = line.split(': ', 1)[1].strip()
            elif line.startswith('Filename: '):
                debs[name] = os.path.join(root, line.split(': ', 1)[1].strip())
    return debs


def deb_contents(path):
    """({path: sha256} of the regular files, md5sums text or None, conffiles) of a .deb (ar of control and data)."""
    with open(path, 'rb') as fh:
        data = fh.read()
    members, offset = {}, 8
    while offset < len(data):
        name, size = data[offset:offset + 16].decode().strip().rstrip('/'), int(data[offset + 48:offset + 58])
        members[name] = data[offset + 60:offset + 60 + size]
        offset += 60 + size + size % 2
    files, control = {}, {}
    for name, blob in members.items():
        if name.startswith(('data.tar', 'control.tar')):
            with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        content = tar.extractfile(member).read()
                        if name.startswith('data.tar'):
                            files[member.name.lstrip('./')] = hashlib.sha256(content).hexdigest()
                        else:
                            control[member.name.lstrip('./')] = content
    conffiles = [line.split()[-1].lstrip('/') for line in control.get('conffiles', b'').decode().splitlines() if line]
    return files, control.get('md5sums'), conffiles


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def hosts(lab, engine_kind):
    """(build host, rollout host) of the engine kind."""
    mine = lab.hosts_of(engine_kind)
    return mine[0], (mine[1:] or mine)[0]


@pytest.fixture(scope='module')
def repo(lab):
    repo = Repo(lab, 'dl' + uuid.uuid4().hex[:6])
    yield repo
    repo.cleanup()


@pytest.fixture(scope='module')
def original(lab, hosts):
    ref = '%s/patchops/distroless-app:v1' % lab.registry
    api = lab.pull(hosts[0], 'v1', repo='patchops/distroless-app')
    return ref, api.inspect_image(ref), image_tree(api, ref)


def left_behind(lab, host, original):
    """What image_patch runs on ``original`` left on ``host``: patch containers of the image or of the tooling
    image, and dangling images patched over it (other engineers' builds on the host are not counted)."""
    api = lab.engine(host)
    tooling = api.inspect_image('%s/patchops/debian:12' % lab.registry)['Id']
    containers = sorted(c['Names'][0] for c in api.containers(all=True)
                        if any('patchops-patch-' in n for n in c['Names'])
                        and (c['ImageID'] if 'ImageID' in c else c['Image']) in (original[1]['Id'], tooling))
    dangling = api.images(filters={'dangling': True, 'label': 'io.patchops.patch.base-id=%s' % original[1]['Id']})
    return containers, sorted(i['Id'] for i in dangling)


@pytest.fixture(scope='module')
def built(lab, repo, hosts, engine_kind, original):
    if engine_kind == 'podman':
        pytest.skip(PODMAN_ENV)
    args, result = build_pushed(lab, repo, hosts[0], engine_kind, {
        'image': original[0], 'output': repo.ref('v1-patched-%s' % engine_kind),
        'tooling_image': '%s/patchops/debian:12' % lab.registry})
    return args, result, image_tree(lab.engine(hosts[0]), args['output'])


def patch(lab, host, args, check=False):
    return lab.module(host, 'image_patch', args, check=check)[host]


# -- tests ---------------------------------------------------------------------------------------

def test_every_mirror_update_in_status_d(lab, original, built):
    args, result, tree = built
    before, after = status_versions(original[2]), status_versions(tree)
    updates = dict((name, version) for name, version in mirror_updates(lab).items() if name in before)
    assert len(updates) >= 2, 'the distroless image has fewer than two packages with mirror updates'
    assert sorted(n for n in after if after[n] != before.get(n)) == sorted(updates)
    assert after == dict(before, **updates)
    assert sorted((r['name'], r['before'], r['after']) for r in result['packages']) == \
        sorted((n, before[n], v) for n, v in updates.items())
    assert result['os']['distroless'] and result['changed'] and result['patched']
    assert 'zlib1g %s' % updates['zlib1g'] in result['diff']['after']


def test_updated_files_equal_the_debs(lab, original, built):
    args, result, tree = built
    debs = mirror_debs(lab)
    checked = 0
    for row in result['packages']:
        files, md5sums, conffiles = deb_contents(debs[row['name']])
        for path, digest in files.items():
            if path in conffiles:
                continue
            member, content = tree[path]
            assert hashlib.sha256(content).hexdigest() == digest, (row['name'], path)
            checked += 1
        if original[2].get(STATUS_D + row['name'] + '.md5sums'):
            assert tree[STATUS_D + row['name'] + '.md5sums'][1] == md5sums, row['name']
    assert checked > 100, checked  # tzdata alone has hundreds of files


def test_one_layer_config_kept_no_shell(lab, hosts, original, built):
    args, result, tree = built
    api = lab.engine(hosts[0])
    base, patched = original[1], api.inspect_image(args['output'])
    layers = base['RootFS']['Layers']
    assert patched['RootFS']['Layers'][:len(layers)] == layers
    assert len(patched['RootFS']['Layers']) == len(layers) + 1 == result['layers']
    for key in CONFIG_KEYS:
        assert patched['Config'].get(key) == base['Config'].get(key), key
    assert plain_labels(patched['Config']) == plain_labels(base['Config'])
    assert patched['Config']['Labels']['io.patchops.patch.base-id'] == base['Id']
    for path in ('bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/apt-get', 'usr/bin/dpkg', 'var/lib/dpkg/status'):
        assert path not in tree, path
    # Nothing of the tooling container (its work tree, apt's lists) reached the image.
    assert not [p for p in tree if p.startswith(('var/tmp/patchops', 'var/lib/apt', 'tmp/patchops'))]
    assert left_behind(lab, hosts[0], original) == ([], [])
    assert not [c for c in api.containers(all=True) if c['Image'].endswith('patchops/debian:12')
                and any('patchops-patch-' in n for n in c['Names'])]


def test_second_run_and_check_mode_change_nothing(lab, repo, hosts, built):
    args, result, tree = built
    again = patch(lab, hosts[0], args)
    assert again['_status'] == 'ok' and not again['changed'], again['msg']
    assert again['image_id'] == result['image_id']
    checked = patch(lab, hosts[0], dict(args, output=repo.ref('check-only')), check=True)
    assert checked['_status'] == 'ok' and checked['changed'], checked['msg']
    assert sorted((r['name'], r['after']) for r in checked['would_update']) == \
        sorted((r['name'], r['after']) for r in result['packages'])
    with pytest.raises(docker.errors.NotFound):
        lab.engine(hosts[0]).inspect_image(repo.ref('check-only'))


def test_report_driven_then_repatched_from_the_base(lab, repo, hosts, original, built, tmp_path):
    api = lab.engine(hosts[0])
    before = status_versions(original[2])
    updates = mirror_updates(lab)
    report = trivy_report(tmp_path / 'trivy.json', original[1]['Id'], [
        ('CVE-2023-45853', 'zlib1g', before['zlib1g'], updates['zlib1g']),
        ('CVE-2099-0002', 'libssl3', before['libssl3'], '9.9.9-1'),  # a fix not in the mirror
    ])
    first = patch(lab, hosts[0], {'image': original[0], 'output': repo.ref('report'), 'report': report,
                                  'tooling_image': built[0]['tooling_image']})
    assert first['_status'] == 'ok', first.get('msg')
    assert [f['id'] for f in first['fixed']] == ['CVE-2023-45853'] and [f['id'] for f in first['open']] == ['CVE-2099-0002']
    # The patched image patched again, naming another package: rebuilt over the original base, one patch
    # layer, the earlier patch's package kept.
    again = patch(lab, hosts[0], {'image': repo.ref('report'), 'output': repo.ref('repatched'), 'packages': ['liblzma5'],
                                  'tooling_image': built[0]['tooling_image']})
    assert again['_status'] == 'ok', again.get('msg')
    assert again['base']['id'] == original[1]['Id'] and again['source']['patched_image']
    layers = api.inspect_image(repo.ref('repatched'))['RootFS']['Layers']
    assert layers[:-1] == original[1]['RootFS']['Layers'] and len(layers) == len(original[1]['RootFS']['Layers']) + 1
    for ref, changed in ((repo.ref('report'), ['zlib1g']), (repo.ref('repatched'), ['liblzma5', 'zlib1g'])):
        after = status_versions(image_tree(api, ref))
        assert sorted(n for n in after if after[n] != before[n]) == changed, ref
        assert all(after[n] == updates[n] for n in changed)


def test_podman_refuses_the_commit_and_leaves_nothing(lab, repo, hosts, engine_kind, original):
    if engine_kind != 'podman':
        pytest.skip('the Docker kinds build it (the tests above)')
    api = lab.engine(hosts[0])
    out = patch(lab, hosts[0], {'image': original[0], 'output': repo.ref('podman'),
                                'tooling_image': '%s/patchops/debian:12' % lab.registry,
                                'registry_username': lab.registry_user, 'registry_password': lab.registry_password})
    # Everything before the commit (tooling container, archive reads and writes) went through.
    assert out['_status'] == 'failed' and 'changed its config (Env); nothing was kept' in out['msg'], out['msg']
    with pytest.raises(docker.errors.NotFound):
        api.inspect_image(repo.ref('podman'))
    assert left_behind(lab, hosts[0], original) == ([], [])


def test_without_a_tooling_image_it_says_what_to_set(lab, repo, hosts, original):
    out = patch(lab, hosts[0], {'image': original[0], 'output': repo.ref('no-tooling')})
    assert out['_status'] == 'failed' and 'tooling_image' in out['msg'] and 'distroless' in out['msg'], out['msg']


def test_container_rolled_onto_it_passes_its_probe(lab, hosts, built, uid):
    args, result, tree = built
    target = hosts[1]
    name = 'dl-' + uid
    try:
        api, out, cid = roll_onto(lab, target, 'patchops/distroless-app', args['output'], name,
                                  [{'type': 'http', 'url': 'http://{ip}:8080/health', 'body_regex': '^ok'}])
        assert out['_status'] == 'ok', out.get('msg')
        found = api.inspect_container(name)
        assert found['Image'] == api.inspect_image(args['output'])['Id'] and found['Id'] != cid
        assert found['State']['Running'] and 'MINE=kept' in found['Config']['Env']
    finally:
        remove(lab.engine(target), name)
