"""Case 3: the registry stops in the middle of staging (image_stage).

Three images in one run: X from the registry, Z from an archive, Y from the registry. The registry is
stopped the moment the host's engine reports X pulled (while Z loads), so Y's pull meets the outage.
Expected: a clear error naming Y and the outage, X and Z staged and recorded, nothing of Y on the host
or in the stage manifest; the registry is started again at once, and the next run stages Y.
(The registry down for a whole run is tests/integration/test_stage.py::
test_registry_down_archive_stages_and_registry_stage_fails_after_bounded_retries.)
"""

import io
import json
import os
import shutil
import tarfile
import time

import docker
import pytest
import requests

from labkit import LAB_DIR
from patchkit import write_image_archive

from ansible_collections.patchops.containers.plugins.module_utils._manifest import read_manifest, staged_entry

from faultkit import Background

HOST = 'lab2'
# It stops the registry for every host: CI runs it alone, after the concurrent shards (shardkit).
pytestmark = pytest.mark.shard('serial')


def big_archive(path, tag, size=48 * 1024 * 1024):
    """A docker-save archive of one image with one layer of random bytes (its load takes a while)."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode='w') as tar:
        info = tarfile.TarInfo('blob')
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return write_image_archive(path, tag, layer.getvalue())


class Repo:
    """Images of a private repository, built on the lab's builder engine and pushed (removed after)."""

    def __init__(self, lab, uid):
        self.lab = lab
        self.repo = '%s/patchops/rel-%s' % (lab.registry, uid)
        self.builder = docker.APIClient(base_url='unix://' + os.path.join(lab.run_dir, 'build', 'docker.sock'),
                                        version='auto', timeout=120)
        self.digests = []

    def publish(self, tag):
        dockerfile = 'FROM %s\nLABEL io.patchops.test.reliability="%s"\n' % (self.lab.image('v2'), self.repo + tag)
        for line in self.builder.build(fileobj=io.BytesIO(dockerfile.encode()), tag='%s:%s' % (self.repo, tag),
                                       rm=True, decode=True):
            assert 'error' not in line, line
        digest = None
        for line in self.builder.push(self.repo, tag=tag, stream=True, decode=True, auth_config=self.lab.auth):
            assert 'error' not in line, line
            digest = (line.get('aux') or {}).get('Digest') or digest
        self.digests.append(digest)
        return self.builder.inspect_image('%s:%s' % (self.repo, tag))['Id'], digest

    def cleanup(self):
        for api in (self.builder, self.lab.engine(HOST)):
            for image in api.images(all=True):
                for ref in (image.get('RepoTags') or []) + (image.get('RepoDigests') or []):
                    if ref.startswith(self.repo + ':') or ref.startswith(self.repo + '@'):
                        try:
                            api.remove_image(ref)
                        except docker.errors.APIError:
                            pass
        path = self.repo.split('/', 1)[1]
        for digest in self.digests:
            requests.delete('https://%s/v2/%s/manifests/%s' % (self.lab.registry, path, digest),
                            auth=(self.lab.registry_user, self.lab.registry_password), verify=self.lab.ca, timeout=30)
        shutil.rmtree(os.path.join(LAB_DIR, 'registry', 'data', 'docker', 'registry', 'v2', 'repositories', path),
                      ignore_errors=True)


def test_registry_stopped_mid_staging(lab, uid, tmp_path):
    repo = Repo(lab, uid)
    api = lab.pull(HOST, 'v2')
    state_dir = str(tmp_path / 'state')
    try:
        x_id, x_digest = repo.publish('x')
        y_id, y_digest = repo.publish('y')
        archive = str(tmp_path / 'z.tar')
        z_id = big_archive(archive, repo.repo + ':z')
        images = [{'ref': repo.repo + ':x'}, {'archive': archive}, {'ref': repo.repo + ':y'}]
        args = {'images': images, 'state_dir': state_dir, 'registry_username': lab.registry_user,
                'registry_password': lab.registry_password, 'registry_ca_path': lab.ca, 'retries': 1,
                'retry_delay': 0.5, 'min_free_bytes': 0}
        since = int(time.time()) - 1
        run = Background(lab.module, HOST, 'image_stage', args)
        run.start()
        stopped_at = None
        try:
            pulled = api.events(since=since, until=int(time.time()) + 120, decode=True,
                                filters={'type': 'image', 'event': 'pull'})
            assert any(repo.repo in (e.get('id') or '') for e in pulled), 'the engine never reported X pulled'
            lab.lab('fault', 'registry-stop')
            stopped_at = time.monotonic()
            res = run.join_result(timeout=120)[HOST]
        finally:
            lab.lab('fault', 'registry-start')
        outage = time.monotonic() - stopped_at
        assert outage < 60, outage

        assert res['_status'] == 'failed', res
        msg = res['msg']
        assert msg.startswith('cannot pull %s@%s on %s: registry unreachable' % (repo.repo, y_digest, HOST)), msg
        assert 'staged before the failure: %s:x, %s:z' % (repo.repo, repo.repo) in msg, msg
        assert lab.registry_password not in json.dumps(res)
        # X and Z staged and recorded, each entry naming an image that is there; nothing of Y.
        manifest = read_manifest(state_dir, api.info()['ID'])
        assert sorted(manifest['images']) == sorted([repo.repo + ':x', repo.repo + ':z'])
        assert staged_entry(manifest, repo.repo + ':x')['image_id'] == x_id == api.inspect_image(repo.repo + ':x')['Id']
        assert staged_entry(manifest, repo.repo + ':z')['image_id'] == z_id == api.inspect_image(repo.repo + ':z')['Id']
        refs = [r for i in api.images(all=True) for r in (i.get('RepoTags') or []) + (i.get('RepoDigests') or [])]
        assert not [r for r in refs if r.startswith(repo.repo + ':y') or r == '%s@%s' % (repo.repo, y_digest)], refs
        assert y_id not in [i['Id'] for i in api.images(all=True)]

        # The registry is back: the same run stages Y and leaves X and Z as they were.
        again = lab.module(HOST, 'image_stage', args)[HOST]
        assert again['_status'] == 'ok', again.get('msg')
        actions = dict((i['reference'], i['action']) for i in again['images'])
        assert actions == {repo.repo + ':x': 'present', repo.repo + ':z': 'present', repo.repo + ':y': 'pulled'}
        manifest = read_manifest(state_dir, api.info()['ID'])
        assert staged_entry(manifest, repo.repo + ':y')['digest'] == y_digest
    finally:
        repo.cleanup()
