# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of image staging: retries, estimates, manifest, archives, retention decisions."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import write_json_atomic
from ansible_collections.patchops.containers.plugins.module_utils._stage import (
    RegistryFailure,
    StageError,
    backoff,
    empty_manifest,
    id_matches,
    inspect_archive,
    is_transient,
    journal_mentions,
    manifest_layers,
    manifest_path,
    merge_entry,
    parse_challenge,
    pick_platform,
    plan_prune,
    read_manifest,
    registry_failure,
    resolve_staged,
    space_error,
    space_needed,
    staged_entry,
    with_retries,
)

REG = '10.213.7.1:5000'
D1 = 'sha256:' + '1' * 64
D2 = 'sha256:' + '2' * 64
ID1 = 'sha256:' + 'a' * 64
ID2 = 'sha256:' + 'b' * 64


# -- retries ----------------------------------------------------------------------------------

@pytest.mark.parametrize('text, transient', [
    ('Get "https://r:5000/v2/": dial tcp 10.0.0.1:5000: connect: connection refused', True),
    ('received unexpected HTTP status: 503 Service Unavailable', True),
    ('received unexpected HTTP status: 500 Internal Server Error', True),
    ('toomanyrequests: You have reached your pull rate limit', True),
    ('net/http: TLS handshake timeout', True),
    ('read tcp 10.0.0.2:4242->10.0.0.1:5000: i/o timeout', True),
    ('unauthorized: authentication required', False),
    ('Head "https://r:5000/v2/a/manifests/v2": no basic auth credentials', False),
    ('manifest unknown: manifest unknown', False),
    ('x509: certificate signed by unknown authority', False),
    ('invalid reference format', False),
])
def test_transient_classification(text, transient):
    assert registry_failure(text).transient is transient


def test_not_found_flag_wins_over_an_unclear_text():
    failure = registry_failure('something odd', not_found=True)
    assert failure.reason == 'not found' and not failure.transient
    assert not is_transient('auth denied', 'service unavailable')


def test_backoff_doubles_and_is_capped():
    assert [backoff(2, n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(10, 10) == 60
    assert backoff(0, 3) == 0


def test_retries_transient_failures_then_succeeds():
    calls, waits = [], []

    def action():
        calls.append(1)
        if len(calls) < 3:
            raise RegistryFailure('registry unreachable', 'connection refused', True)
        return 'sha256:x'

    assert with_retries(action, 3, 1, sleep=waits.append) == ('sha256:x', 3)
    assert waits == [1, 2]


def test_retries_are_bounded():
    waits = []

    def action():
        raise RegistryFailure('registry unreachable', 'connection refused', True)

    with pytest.raises(RegistryFailure) as info:
        with_retries(action, 2, 0.5, sleep=waits.append)
    assert info.value.attempts == 3
    assert waits == [0.5, 1.0]


def test_permanent_failures_are_not_retried():
    waits = []

    def action():
        raise RegistryFailure('auth denied', 'unauthorized', False)

    with pytest.raises(RegistryFailure) as info:
        with_retries(action, 5, 1, sleep=waits.append)
    assert info.value.attempts == 1 and waits == []


# -- registry documents ----------------------------------------------------------------------

INDEX = {'mediaType': 'application/vnd.oci.image.index.v1+json', 'manifests': [
    {'digest': 'sha256:arm', 'platform': {'os': 'linux', 'architecture': 'arm', 'variant': 'v7'}},
    {'digest': 'sha256:arm64', 'platform': {'os': 'linux', 'architecture': 'arm64'}},
    {'digest': 'sha256:amd64', 'platform': {'os': 'linux', 'architecture': 'amd64'}},
    {'digest': 'sha256:win', 'platform': {'os': 'windows', 'architecture': 'amd64'}},
]}


@pytest.mark.parametrize('os_type, machine, digest', [
    ('linux', 'x86_64', 'sha256:amd64'),
    ('linux', 'aarch64', 'sha256:arm64'),
    ('linux', 'armv7l', 'sha256:arm'),
    ('windows', 'x86_64', 'sha256:win'),
])
def test_pick_platform(os_type, machine, digest):
    assert pick_platform(INDEX, os_type, machine)['digest'] == digest


def test_pick_platform_none_for_a_missing_platform():
    assert pick_platform(INDEX, 'linux', 's390x') is None


def test_manifest_layers_counts_config_and_layers():
    doc = {'config': {'digest': 'sha256:c', 'size': 100},
           'layers': [{'digest': 'sha256:l1', 'size': 1000}, {'digest': 'sha256:l2', 'size': 20}]}
    assert manifest_layers(doc) == {'sha256:c': 100, 'sha256:l1': 1000, 'sha256:l2': 20}


def test_parse_challenge():
    scheme, params = parse_challenge('Bearer realm="https://auth.example/token",service="registry.example",'
                                     'scope="repository:a/b:pull"')
    assert scheme == 'bearer'
    assert params == {'realm': 'https://auth.example/token', 'service': 'registry.example',
                      'scope': 'repository:a/b:pull'}
    assert parse_challenge('Basic realm="patchops-lab"') == ('basic', {'realm': 'patchops-lab'})
    assert parse_challenge(None) == (None, {})


# -- free space ------------------------------------------------------------------------------

def test_space_needed_counts_known_sizes_times_factor_plus_margin():
    assert space_needed([(100, None), (None, None), (50, 2)], 3, 1000) == (300 + 100 + 1000, 1)
    assert space_needed([], 3, 0) == (0, 0)


def test_space_error_names_host_path_needed_and_free():
    msg = space_error('lab1', '/var/lib/docker', 5 * 1024 ** 3, 1024 ** 3, 2 * 1024 ** 3, 2.0, 1024 ** 3)
    assert 'lab1' in msg and '/var/lib/docker' in msg
    assert '5368709120 bytes) needed' in msg and '1073741824 bytes) free' in msg
    assert 'nothing was pulled' in msg


# -- manifest --------------------------------------------------------------------------------

def entry(image_id, digest, tag='v2', repo=REG + '/patchops/app'):
    return {'reference': '%s:%s' % (repo, tag), 'repository': repo, 'tag': tag, 'digest': digest,
            'repo_digest': '%s@%s' % (repo, digest) if digest else None, 'image_id': image_id,
            'size': 10, 'source': 'registry'}


def test_manifest_path_is_keyed_by_engine_id(tmp_path):
    path = manifest_path(str(tmp_path), 'RHJE:Y3SW:AT5C')
    assert path == os.path.join(str(tmp_path), 'RHJE-Y3SW-AT5C', 'stage.json')


def test_read_missing_manifest_is_empty(tmp_path):
    assert read_manifest(str(tmp_path), 'E:1')['images'] == {}


def test_write_then_read_round_trip_and_no_temp_file_left(tmp_path):
    path = manifest_path(str(tmp_path), 'E:1')
    data = empty_manifest('E:1', 'lab1')
    data['images']['x'] = entry(ID1, D1)
    write_json_atomic(path, data)
    assert read_manifest(str(tmp_path), 'E:1') == data
    assert os.listdir(os.path.dirname(path)) == ['stage.json']


@pytest.mark.parametrize('content, words', [
    ('{"images": {', 'corrupted'),
    ('[]', 'corrupted'),
    ('{"format": 99, "images": {}}', 'format 99'),
])
def test_bad_manifest_is_a_clear_error(tmp_path, content, words):
    path = manifest_path(str(tmp_path), 'E:1')
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as fh:
        fh.write(content)
    with pytest.raises(StageError, match=words):
        read_manifest(str(tmp_path), 'E:1')


def test_merge_entry_keeps_staged_at_when_unchanged_and_records_previous():
    images = {}
    assert merge_entry(images, 'k', entry(ID1, D1), 't1') is True
    assert merge_entry(images, 'k', entry(ID1, D1), 't2') is False
    assert images['k']['staged_at'] == 't1'
    assert merge_entry(images, 'k', entry(ID2, D2), 't3') is True
    assert images['k']['image_id'] == ID2 and images['k']['staged_at'] == 't3'
    assert images['k']['previous'] == [{'image_id': ID1, 'digest': D1, 'staged_at': 't1', 'superseded_at': 't3'}]


def test_resolve_staged_by_tag_digest_and_both():
    manifest = {'images': {REG + '/patchops/app:v2': entry(ID1, D1)}}
    assert resolve_staged(manifest, REG + '/patchops/app:v2') == ID1
    assert resolve_staged(manifest, REG + '/patchops/app@' + D1) == ID1
    assert resolve_staged(manifest, REG + '/patchops/app:v2@' + D1) == ID1
    assert resolve_staged(manifest, REG + '/patchops/app:v2@' + D2) is None
    assert resolve_staged(manifest, REG + '/patchops/app:v3') is None
    assert resolve_staged(manifest, REG + '/patchops/other@' + D1) is None
    assert resolve_staged(manifest, 'Not A Ref') is None
    assert staged_entry(manifest, REG + '/patchops/app:v2')['digest'] == D1


def test_resolve_staged_normalises_docker_hub_names():
    manifest = {'images': {'nginx:latest': entry(ID1, D1, tag='latest', repo='nginx')}}
    assert resolve_staged(manifest, 'docker.io/library/nginx') == ID1


def test_id_matches():
    assert id_matches(ID1, ID1) and id_matches(ID1, 'a' * 64) and id_matches(ID1, 'a' * 12)
    assert not id_matches(ID1, 'a' * 11) and not id_matches(ID1, ID2) and not id_matches(ID1, None)


# -- archives --------------------------------------------------------------------------------

def _layer(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_archive(path, layers=None, tags=('example.test/app:v1',), images=1, gz_layers=False, corrupt=None):
    layers = layers or [_layer({'bin/a': b'a' * 5000}), _layer({'etc/b': b'b' * 3000})]
    diff_ids = ['sha256:' + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {},
                         'rootfs': {'type': 'layers', 'diff_ids': diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + '.json'
    stored = [gzip.compress(layer) if gz_layers else layer for layer in layers]
    if corrupt == 'flip':
        stored[0] = stored[0][:700] + bytes([stored[0][700] ^ 0xFF]) + stored[0][701:]
    names = ['l%d/layer.tar' % n for n in range(len(layers))]
    index = [{'Config': config_name, 'RepoTags': list(tags), 'Layers': names}] * images
    with tarfile.open(path, 'w') as tar:
        for name, data in [(config_name, config), ('manifest.json', json.dumps(index).encode())] + list(zip(names, stored)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    if corrupt == 'truncate':
        with open(path, 'r+b') as fh:
            fh.truncate(os.path.getsize(path) // 2)
    return 'sha256:' + hashlib.sha256(config).hexdigest()


def test_inspect_archive_reads_id_tags_and_size(tmp_path):
    path = str(tmp_path / 'a.tar')
    image_id = make_archive(path)
    found = inspect_archive(path)
    assert found['image_id'] == image_id
    assert found['repo_tags'] == ['example.test/app:v1']
    assert found['size'] > 8000


def test_inspect_archive_accepts_gzip_layers_and_compressed_archives(tmp_path):
    path = str(tmp_path / 'a.tar')
    image_id = make_archive(path, gz_layers=True)
    assert inspect_archive(path)['image_id'] == image_id
    with open(path, 'rb') as src, gzip.open(str(tmp_path / 'a.tar.gz'), 'wb') as dst:
        dst.write(src.read())
    assert inspect_archive(str(tmp_path / 'a.tar.gz'))['image_id'] == image_id


@pytest.mark.parametrize('kind, words', [
    ('flip', 'is corrupted: layer l0/layer.tar has content'),
    ('truncate', 'corrupted'),
])
def test_inspect_archive_finds_corruption(tmp_path, kind, words):
    path = str(tmp_path / 'bad.tar')
    make_archive(path, corrupt=kind)
    with pytest.raises(StageError, match=words):
        inspect_archive(path)


def test_inspect_archive_refuses_several_images_and_non_archives(tmp_path):
    path = str(tmp_path / 'two.tar')
    make_archive(path, images=2)
    with pytest.raises(StageError, match='holds 2 images'):
        inspect_archive(path)
    junk = tmp_path / 'junk.tar'
    junk.write_bytes(b'not a tar at all' * 100)
    with pytest.raises(StageError, match='not a docker save archive'):
        inspect_archive(str(junk))
    with pytest.raises(StageError, match='does not exist'):
        inspect_archive(str(tmp_path / 'missing.tar'))


# -- retention -------------------------------------------------------------------------------

R = REG + '/patchops/app'


def img(n, created, tags=(), digests=None):
    image_id = 'sha256:%064x' % n
    return {'Id': image_id, 'Created': created, 'RepoTags': list(tags),
            'RepoDigests': list(digests if digests is not None else ['%s@sha256:%064x' % (R, n + 1000)])}


def ids(records):
    return [r['image_id'] for r in records]


def test_prune_keeps_newest_previous_and_removes_older():
    images = [img(1, '2026-01-01'), img(2, '2026-01-02'), img(3, '2026-01-03'), img(4, '2026-01-04', [R + ':v4'])]
    current = {images[3]['Id']}
    remove, kept = plan_prune([R], images, current, {}, {}, [R + ':v4'], keep=1)
    assert ids(kept) == [images[2]['Id']]
    assert ids(remove) == [images[1]['Id'], images[0]['Id']]
    assert all(r['removes_image'] for r in remove)


def test_prune_never_removes_used_or_journaled_images():
    images = [img(1, '2026-01-01'), img(2, '2026-01-02'), img(3, '2026-01-03'), img(4, '2026-01-04')]
    used = {images[0]['Id']: ['web']}
    journal = {images[1]['Id']: ['/x/journal/web.json']}
    remove, kept = plan_prune([R], images, {images[3]['Id']}, used, journal, [], keep=0)
    assert ids(remove) == [images[2]['Id']]
    reasons = dict((r['image_id'], r['reasons']) for r in kept)
    assert reasons == {images[0]['Id']: ['used by container web'],
                       images[1]['Id']: ['needed for rollback by journal /x/journal/web.json']}


def test_prune_lists_every_reason_of_a_kept_image():
    images = [img(1, '2026-01-01'), img(2, '2026-01-02')]
    remove, kept = plan_prune([R], images, {images[1]['Id']}, {images[0]['Id']: ['db', 'web']}, {}, [], keep=1)
    assert remove == []
    assert kept[0]['reasons'] == ['one of the newest 1 previous images of %s' % R, 'used by container db, web']


def test_prune_keep_zero_removes_every_unprotected_previous_image():
    images = [img(1, '2026-01-01'), img(2, '2026-01-02')]
    remove, kept = plan_prune([R], images, {images[1]['Id']}, {}, {}, [], keep=0)
    assert ids(remove) == [images[0]['Id']] and kept == []


def test_prune_leaves_other_repositories_and_untags_shared_images():
    other = REG + '/patchops/other'
    shared = img(1, '2026-01-01', tags=[R + ':old', other + ':keepme'])
    foreign = img(2, '2026-01-01', tags=[other + ':x'], digests=[])
    dangling = img(3, '2026-01-01', tags=[], digests=[])
    remove, kept = plan_prune([R], [shared, foreign, dangling], set(), {}, {}, [], keep=0)
    assert ids(remove) == [shared['Id']]
    assert remove[0]['references'] == sorted([R + ':old', '%s@sha256:%064x' % (R, 1001)])
    assert remove[0]['removes_image'] is False


def test_prune_protects_an_image_carrying_a_staged_tag():
    moved = img(1, '2026-01-01', tags=[R + ':v2'])
    remove, kept = plan_prune([R], [moved], {'sha256:' + 'f' * 64}, {}, {}, [R + ':v2'], keep=0)
    assert remove == [] and 'staged tag' in kept[0]['reasons'][0]


def test_journal_mentions_full_bare_and_short_ids(tmp_path):
    journal = tmp_path / 'journal'
    (journal / 'sub').mkdir(parents=True)
    a, b, c, d = ('sha256:' + hashlib.sha256(n).hexdigest() for n in (b'a', b'b', b'c', b'd'))
    (journal / 'web.json').write_text(json.dumps({'old_image_id': a}))
    (journal / 'sub' / 'api.json').write_text('{"image": "%s"}' % b.split(':')[1])
    (journal / 'db.json').write_text('{"short": "%s"}' % c.split(':')[1][:12])
    found = journal_mentions(str(journal), [a, b, c, d])
    assert found[a] == [str(journal / 'web.json')]
    assert found[b] == [str(journal / 'sub' / 'api.json')]
    assert found[c] == [str(journal / 'db.json')]
    assert d not in found
    assert journal_mentions(str(tmp_path / 'none'), [a]) == {}


def test_unreadable_journal_stops_the_prune(tmp_path):
    journal = tmp_path / 'journal'
    journal.mkdir()
    os.symlink(str(tmp_path / 'gone'), str(journal / 'broken.json'))
    with pytest.raises(StageError, match='refusing to prune'):
        journal_mentions(str(journal), ['sha256:' + 'a' * 64])
