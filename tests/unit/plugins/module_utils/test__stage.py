# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Staging (``_stage``): ``Stager`` on the shared fake engine
(tests/unit/fake_engine.py): the plan, free space, registry failures, pulls and loads, check
mode, idempotence and the stage manifest."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from urllib.error import URLError

import pytest
from docker.errors import APIError, NotFound

from ansible_collections.patchops.containers.plugins.module_utils import _stage
from ansible_collections.patchops.containers.plugins.module_utils._archive import inspect_archive
from ansible_collections.patchops.containers.plugins.module_utils._manifest import StageError, read_manifest
from ansible_collections.patchops.containers.plugins.module_utils._stage import Stager
from fake_engine import ENGINE_ID, make_archive, sha

REG = '10.213.7.1:5000'
APP = REG + '/patchops/app'
ID1 = 'sha256:' + 'a' * 64
ID2 = 'sha256:' + 'b' * 64


# -- Stager on the fake engine -----------------------------------------------------------------

class Disk:
    """os.statvfs of the engine's data root: ``free`` bytes, or ``error``."""

    def __init__(self):
        self.free = 10 ** 12
        self.error = None
        self.paths = []

    def __call__(self, path):
        self.paths.append(path)
        if self.error is not None:
            raise self.error
        return SimpleNamespace(f_bavail=self.free // 4, f_frsize=4)


@pytest.fixture
def disk(monkeypatch):
    disk = Disk()
    monkeypatch.setattr(_stage.os, 'statvfs', disk)
    return disk


@pytest.fixture(autouse=True)
def registry_api(monkeypatch, fake_registry):
    """The registry v2 API the stager reads manifests from (size estimate) is the fake registry."""
    monkeypatch.setattr(_stage.RegistryAPI, 'for_params', lambda params, registry, timeout: fake_registry)


class Run:
    """Builds Stagers on one engine and state directory; collects warnings and sleeps."""

    def __init__(self, engine, state_dir):
        self.engine = engine
        self.state_dir = state_dir
        self.warnings = []
        self.sleeps = []

    def stager(self, images, check_mode=False, **params):
        options = dict(images=images, state_dir=self.state_dir, retries=3, retry_delay=2.0, min_free_bytes=0,
                       space_factor=3.0, lock_timeout=5, registry_username='ci', registry_password='secret')
        options.update(params)
        return Stager(self.engine, options, check_mode=check_mode, warn=self.warnings.append, sleep=self.sleeps.append)

    def plan(self, images, **params):
        return self.stager(images, **params).plan()

    def present(self, images, check_mode=False, **params):
        return self.stager(images, check_mode=check_mode, **params).present()

    def manifest(self):
        return read_manifest(self.state_dir, ENGINE_ID)


@pytest.fixture
def run(fake_engine, tmp_path, disk):
    return Run(fake_engine, str(tmp_path / 'state'))


def pulled(engine, registry, ref):
    """Put on the engine what a pull of ``ref`` (name:tag, pushed to the registry) leaves."""
    digest = registry.resolve(ref)
    manifest = registry.manifests[digest]
    name = ref.rsplit(':', 1)[0]
    return engine.add_image([ref], image_id=manifest['image_id'], digests=['%s@%s' % (name, digest)],
                            size=manifest['size'])


# -- the plan ------------------------------------------------------------------------------------

def test_a_digest_the_engine_has_is_present_without_asking_the_registry(run, fake_engine, fake_registry):
    digest = fake_registry.push(APP + ':v2')
    pulled(fake_engine, fake_registry, APP + ':v2')
    [plan] = run.plan([{'ref': APP + '@' + digest}])
    assert (plan['action'], plan['digest'], plan['estimate']) == ('present', digest, None)
    assert fake_engine.api.called('inspect_distribution') == [] and fake_registry.api_calls == []


def test_a_tag_is_resolved_pinned_by_digest_and_its_download_estimated_without_shared_layers(
        run, fake_engine, fake_registry):
    shared = sha('shared layer')
    fake_registry.push(APP + ':v1', blobs={sha('config v1'): 100, shared: 5000})
    pulled(fake_engine, fake_registry, APP + ':v1')
    digest = fake_registry.push(APP + ':v2', blobs={sha('config v2'): 120, shared: 5000, sha('new layer'): 700})
    [plan] = run.plan([{'ref': APP + ':v2'}])
    assert plan['action'] == 'pull' and plan['digest'] == digest
    assert plan['pull_ref'] == APP + '@' + digest
    assert plan['estimate'] == 120 + 700  # the layer v1 has locally is not downloaded again
    assert plan['attempts'] == 1
    [(args, kwargs)] = fake_engine.api.called('inspect_distribution')
    assert args == (APP + ':v2',) and kwargs['auth_config']['username'] == 'ci'
    assert fake_engine.api.called('pull') == []  # planning pulls nothing


def test_an_image_present_by_digest_without_its_tag_is_tagged_and_the_tag_moves(run, fake_engine, fake_registry):
    fake_registry.push(APP + ':v1')
    old = pulled(fake_engine, fake_registry, APP + ':v1')
    digest = fake_registry.push(APP + ':v2')
    new = fake_engine.add_image([], image_id=fake_registry.manifests[digest]['image_id'],
                                digests=[APP + '@' + digest])
    fake_engine.set_tag(old, APP + ':v2')  # the local tag still names the old image
    stager = run.stager([{'ref': APP + ':v2'}])
    [plan] = stager.plan()
    assert plan['action'] == 'tag'
    stager.execute(plan)
    assert fake_engine.tags_of(new) == [APP + ':v2']
    assert fake_engine.tags_of(old) == [APP + ':v1']
    assert fake_engine.api.called('pull') == []


def test_archives_plan_load_tag_or_present(run, fake_engine, tmp_path):
    path = str(tmp_path / 'app.tar')
    image_id = make_archive(path, tags=[APP + ':v3'])
    [plan] = run.plan([{'archive': path}])
    assert plan['action'] == 'load' and plan['image_id'] == image_id
    assert plan['estimate'] == inspect_archive(path)['size'] > 8000  # config and both layers
    assert plan['keys'] == [APP + ':v3'] and plan['digest'] is None

    fake_engine.add_image([APP + ':v3'], image_id=image_id)
    assert run.plan([{'archive': path}])[0]['action'] == 'present'
    [plan] = run.plan([{'archive': path, 'ref': APP + ':stable'}])
    assert plan['action'] == 'tag' and plan['keys'] == [APP + ':v3', APP + ':stable']


def test_two_items_staging_the_same_reference_fail_naming_both(run, fake_registry, tmp_path):
    fake_registry.push(APP + ':v2')
    with pytest.raises(StageError, match=r'images\[0\] and images\[1\] both stage %s:v2' % APP):
        run.plan([{'ref': APP + ':v2'}, {'ref': APP + ':v2'}])
    path = str(tmp_path / 'app.tar')
    make_archive(path, tags=[APP + ':v2'])
    with pytest.raises(StageError, match=r'images\[0\] and images\[1\] both stage'):
        run.plan([{'ref': APP + ':v2'}, {'archive': path}])


@pytest.mark.parametrize('items, says', [
    ([], 'images is empty: nothing to stage'),
    ([{'ref': 'Not A Ref'}], 'images[].ref'),
    ([{'ref': APP + ':v2', 'expected_id': 'abc'}], "expected_id 'abc' is not an image ID"),
    ([{'ref': APP + '@' + ID1, 'expected_digest': ID2}], 'the reference pins %s but expected_digest is %s' % (ID1, ID2)),
])
def test_bad_items_are_refused_before_the_registry_is_asked(run, fake_engine, items, says):
    with pytest.raises(StageError) as err:
        run.plan(items)
    assert says in err.value.msg
    assert fake_engine.api.called('inspect_distribution') == []


def test_a_tag_that_moved_since_approval_fails_before_any_pull(run, fake_engine, fake_registry):
    digest = fake_registry.push(APP + ':v2')
    with pytest.raises(StageError) as err:
        run.present([{'ref': APP + ':v2', 'expected_digest': ID1}])
    assert err.value.msg == ('%s:v2 resolves to %s in the registry, not the expected %s: the tag moved since the '
                             'image was approved; nothing was pulled' % (APP, digest, ID1))
    assert fake_engine.api.called('pull') == []


def test_a_present_image_with_another_id_than_expected_fails(run, fake_engine, fake_registry):
    digest = fake_registry.push(APP + ':v2')
    image_id = pulled(fake_engine, fake_registry, APP + ':v2')
    with pytest.raises(StageError, match='is image %s, not the expected_id %s' % (image_id, ID1)):
        run.plan([{'ref': APP + '@' + digest, 'expected_id': ID1}])
    assert run.plan([{'ref': APP + '@' + digest, 'expected_id': image_id[7:19]}])[0]['action'] == 'present'


@pytest.mark.parametrize('item, says', [
    ({'expected_id': ID1}, 'holds image sha256:'),
    ({'expected_digest': ID1}, 'expected_digest applies to registry images'),
    ({'ref': APP + '@' + ID1}, 'pins a digest; an archive carries no registry digest'),
])
def test_archive_items_are_checked_before_the_engine_is_asked(run, fake_engine, tmp_path, item, says):
    path = str(tmp_path / 'app.tar')
    make_archive(path, tags=[APP + ':v3'])
    with pytest.raises(StageError, match=says):
        run.plan([dict(item, archive=path)])
    assert fake_engine.api.called('load_image') == []


def test_an_archive_without_tags_needs_a_ref(run, tmp_path):
    path = str(tmp_path / 'untagged.tar')
    make_archive(path, tags=[])
    with pytest.raises(StageError, match='has no tags: give images.*ref'):
        run.plan([{'archive': path}])
    assert run.plan([{'archive': path, 'ref': APP + ':v4'}])[0]['keys'] == [APP + ':v4']


# -- free space ----------------------------------------------------------------------------------

def test_too_little_free_space_fails_before_any_pull_naming_the_figures(run, fake_engine, fake_registry, disk):
    fake_registry.push(APP + ':v2', blobs={sha('c'): 200, sha('l'): 800})
    disk.free = 3996
    with pytest.raises(StageError) as err:
        run.present([{'ref': APP + ':v2'}], min_free_bytes=1000)
    needed = 1000 * 3 + 1000
    assert err.value.msg == ('not enough free space on lab1 to stage: /var/lib/docker has 3.9 KiB (3996 bytes) free, '
                             '3.9 KiB (4000 bytes) needed (estimated download 1000 B x space_factor 3.0 + '
                             'min_free_bytes 1000 B); nothing was pulled or loaded')
    assert (err.value.details['needed_bytes'], err.value.details['free_bytes']) == (needed, 3996)
    assert err.value.details['path'] == '/var/lib/docker'
    assert fake_engine.api.called('pull') == []
    assert not os.path.exists(run.stager([]).path)


def test_the_space_summary_counts_pulls_and_archives_with_their_factors(run, fake_engine, fake_registry, disk, tmp_path):
    fake_engine.engine_info['DockerRootDir'] = '/srv/docker'
    fake_registry.push(APP + ':v2', blobs={sha('c'): 200, sha('l'): 800})
    path = str(tmp_path / 'app.tar')
    make_archive(path, tags=[APP + ':v3'])
    stager = run.stager([{'ref': APP + ':v2'}, {'archive': path}], min_free_bytes=50, space_factor=2.5)
    plans = stager.plan()
    size = plans[1]['estimate']
    assert size > 0
    space = stager.check_space(plans)
    assert space == {'path': '/srv/docker', 'free_bytes': 10 ** 12, 'fetch_bytes': 1000 + size,
                     'needed_bytes': 2500 + 2 * size + 50, 'unknown_sizes': 0}
    assert disk.paths == ['/srv/docker']


def test_nothing_to_fetch_checks_no_space(run, fake_engine, fake_registry, disk):
    digest = fake_registry.push(APP + ':v2')
    pulled(fake_engine, fake_registry, APP + ':v2')
    stager = run.stager([{'ref': APP + '@' + digest}])
    assert stager.check_space(stager.plan()) == {'path': '/var/lib/docker', 'free_bytes': None,
                                                 'needed_bytes': None, 'fetch_bytes': None}
    assert disk.paths == []


def test_an_unknown_download_size_warns_and_counts_min_free_only(run, fake_registry, disk):
    digest = fake_registry.push(APP + ':v2')
    fake_registry.api_error = URLError('connection refused')
    stager = run.stager([{'ref': APP + ':v2'}], min_free_bytes=4000)
    disk.free = 4000
    space = stager.check_space(stager.plan())
    assert (space['needed_bytes'], space['unknown_sizes'], space['fetch_bytes']) == (4000, 1, 0)
    assert run.warnings == ['size of %s@%s unknown (registry API at %s: connection refused); using min_free_bytes '
                            'only for the free space check' % (APP, digest, REG)]


def test_an_invisible_data_root_warns_and_stages(run, fake_engine, fake_registry, disk):
    fake_registry.push(APP + ':v2')
    disk.error = FileNotFoundError(2, 'No such file or directory')
    result = run.present([{'ref': APP + ':v2'}])
    assert result['space']['free_bytes'] is None
    assert run.warnings == ['cannot check free space at /var/lib/docker (No such file or directory): the engine '
                            'data root is not visible from where the module runs; free space not checked']
    assert [i['action'] for i in result['images']] == ['pulled']


# -- registry failures ------------------------------------------------------------------------------

def test_a_transient_resolve_failure_is_retried_with_backoff(run, fake_engine, fake_registry):
    fake_registry.push(APP + ':v2')
    fake_engine.api.fail['inspect_distribution'] = [APIError('Get https://%s/v2/: connection refused' % REG),
                                                    APIError('received unexpected HTTP status: 503'), None]
    [plan] = run.plan([{'ref': APP + ':v2'}])
    assert plan['attempts'] == 3 and run.sleeps == [2.0, 4.0]


def test_a_resolve_failing_every_retry_says_how_often_and_how_long(run, fake_engine, fake_registry):
    fake_registry.push(APP + ':v2')
    fake_engine.api.fail['inspect_distribution'] = APIError('dial tcp %s: connection refused' % REG)
    with pytest.raises(StageError) as err:
        run.plan([{'ref': APP + ':v2'}], retries=2, retry_delay=1.5)
    assert err.value.msg == ('cannot resolve %s:v2 to a digest on lab1: registry unreachable (after 3 attempts '
                             '(retries=2, waited 1.5s, 3s)): dial tcp %s: connection refused; nothing was changed '
                             'for it' % (APP, REG))
    assert err.value.details == {'reason': 'registry unreachable', 'attempts': 3}
    assert run.sleeps == [1.5, 3.0]


@pytest.mark.parametrize('exc, reason', [
    (APIError('unauthorized: authentication required'), 'auth denied'),
    (NotFound('manifest unknown'), 'not found'),
    (APIError('x509: certificate signed by unknown authority'), 'tls error'),
])
def test_permanent_registry_failures_are_not_retried(run, fake_engine, fake_registry, exc, reason):
    fake_registry.push(APP + ':v2')
    fake_engine.api.fail['inspect_distribution'] = exc
    with pytest.raises(StageError) as err:
        run.plan([{'ref': APP + ':v2'}])
    assert '%s (not retried)' % reason in err.value.msg
    assert len(fake_engine.api.called('inspect_distribution')) == 1 and run.sleeps == []


def test_a_pull_stream_error_is_retried_and_counted(run, fake_engine, fake_registry):
    digest = fake_registry.push(APP + ':v2')
    fake_engine.api.stream_errors['pull'] = ['toomanyrequests: rate limit', None]
    result = run.present([{'ref': APP + ':v2'}])
    [image] = result['images']
    assert image['action'] == 'pulled' and image['registry_attempts'] == 1 + 2
    assert [kw['tag'] for dummy, kw in fake_engine.api.called('pull')] == [digest, digest]
    assert run.sleeps == [2.0]


def test_a_failure_mid_run_keeps_what_was_staged_and_says_so(run, fake_engine, fake_registry):
    fake_registry.push(APP + ':v1')
    fake_registry.push(APP + ':v2')
    fake_engine.api.stream_errors['pull'] = [None, 'denied: requested access to the resource is denied']
    with pytest.raises(StageError) as err:
        run.present([{'ref': APP + ':v1'}, {'ref': APP + ':v2'}])
    assert err.value.msg.startswith('cannot pull %s@' % APP)
    assert err.value.msg.endswith('(staged before the failure: %s:v1)' % APP)
    assert 'auth denied (not retried)' in err.value.msg
    assert err.value.details['reason'] == 'auth denied'
    assert [i['reference'] for i in err.value.details['result']['images']] == [APP + ':v1']
    assert list(run.manifest()['images']) == [APP + ':v1']
    assert fake_engine.tags_of(APP + ':v1') == [APP + ':v1'] and fake_engine.image(APP + ':v2') is None


def test_a_pulled_image_with_another_id_than_expected_is_removed_again(run, fake_engine, fake_registry):
    digest = fake_registry.push(APP + ':v2')
    with pytest.raises(StageError, match='is image sha256:.*, not the expected_id %s' % ID1):
        run.present([{'ref': APP + '@' + digest, 'expected_id': ID1}])
    assert fake_engine.image(APP + '@' + digest) is None
    assert fake_engine.api.called('remove_image')
    assert run.manifest()['images'] == {}


# -- pulls and loads ---------------------------------------------------------------------------------

def test_a_pull_by_digest_then_sets_the_tag_and_records_it(run, fake_engine, fake_registry):
    digest = fake_registry.push(APP + ':v2')
    image_id = fake_registry.manifests[digest]['image_id']
    result = run.present([{'ref': APP + ':v2'}])
    assert result['changed'] is True
    [(args, kwargs)] = fake_engine.api.called('pull')
    assert args == (APP,) and kwargs['tag'] == digest  # by digest, never by the tag
    assert fake_engine.tags_of(APP + '@' + digest) == [APP + ':v2']
    [image] = result['images']
    assert (image['action'], image['digest'], image['image_id']) == ('pulled', digest, image_id)


def test_a_loaded_archive_gets_the_extra_ref_tag(run, fake_engine, tmp_path):
    path = str(tmp_path / 'app.tar')
    image_id = make_archive(path, tags=[APP + ':v3'])
    result = run.present([{'archive': path, 'ref': APP + ':stable'}])
    assert fake_engine.tags_of(image_id) == [APP + ':stable', APP + ':v3']
    [image] = result['images']
    assert (image['action'], image['image_id'], image['archive']) == ('loaded', image_id, path)


def test_a_failed_load_removes_what_it_added_and_puts_moved_tags_back(run, fake_engine, tmp_path):
    old = fake_engine.add_image([APP + ':v3'])
    path = str(tmp_path / 'app.tar')
    image_id = make_archive(path, tags=[APP + ':v3'])
    fake_engine.api.stream_errors['load_image'] = ['write /var/lib/docker/tmp: no space left on device']
    with pytest.raises(StageError) as err:
        run.present([{'archive': path}])
    assert err.value.msg == ('loading archive %s on lab1 failed: write /var/lib/docker/tmp: no space left on device; '
                             'removed what it left (%s); nothing else changed (staged before the failure: none)'
                             % (path, image_id[:19]))
    assert fake_engine.image(image_id) is None
    assert fake_engine.tags_of(old) == [APP + ':v3']
    assert run.manifest()['images'] == {}


# -- check mode and idempotence ---------------------------------------------------------------------

def test_check_mode_changes_nothing_and_tells_what_would_be_done(run, fake_engine, fake_registry, tmp_path):
    digest = fake_registry.push(APP + ':v2')
    path = str(tmp_path / 'app.tar')
    image_id = make_archive(path, tags=[APP + ':v3'])
    images_before = json.dumps(fake_engine.images, sort_keys=True)
    result = run.present([{'ref': APP + ':v2'}, {'archive': path}], check_mode=True)
    assert result['changed'] is True
    assert [i['action'] for i in result['images']] == ['would_pull', 'would_load']
    assert result['manifest']['images'][APP + ':v2']['digest'] == digest
    assert result['manifest']['images'][APP + ':v3']['image_id'] == image_id
    assert result['before']['images'] == {}
    assert json.dumps(fake_engine.images, sort_keys=True) == images_before
    assert [m for m, a, k in fake_engine.api.calls if m in ('pull', 'load_image', 'tag', 'remove_image')] == []
    assert not os.path.exists(result['manifest_path'])


def test_a_second_run_plans_nothing_and_changes_nothing(run, fake_engine, fake_registry, tmp_path):
    fake_registry.push(APP + ':v2')
    path = str(tmp_path / 'app.tar')
    make_archive(path, tags=[APP + ':v3'])
    items = [{'ref': APP + ':v2'}, {'archive': path, 'ref': APP + ':stable'}]
    first = run.present(items)
    assert first['changed'] is True
    assert [i['action'] for i in first['images']] == ['pulled', 'loaded']
    with open(first['manifest_path']) as fh:
        written = fh.read()
    calls = len(fake_engine.api.calls)

    assert [p['action'] for p in run.plan(items)] == ['present', 'present']
    second = run.present(items)
    assert second['changed'] is False
    assert [i['action'] for i in second['images']] == ['present', 'present']
    assert [m for m, a, k in fake_engine.api.calls[calls:] if m in ('pull', 'load_image', 'tag')] == []
    with open(first['manifest_path']) as fh:
        assert fh.read() == written
    assert run.present(items, check_mode=True)['changed'] is False


# -- the manifest ----------------------------------------------------------------------------------

def test_the_manifest_records_each_reference_with_its_digest_and_image(run, fake_engine, fake_registry, tmp_path):
    digest = fake_registry.push(APP + ':v2')
    path = str(tmp_path / 'app.tar')
    image_id = make_archive(path, tags=[APP + ':v3'])
    result = run.present([{'ref': APP + ':v2'}, {'archive': path}])
    assert result['manifest_path'] == os.path.join(run.state_dir, ENGINE_ID.replace(':', '-'), 'stage.json')
    manifest = run.manifest()
    assert (manifest['engine_id'], manifest['engine_name']) == (ENGINE_ID, 'lab1')
    assert manifest['updated_at'] is not None
    registry = manifest['images'][APP + ':v2']
    assert {k: registry[k] for k in ('reference', 'repository', 'tag', 'digest', 'repo_digest', 'image_id', 'source')} \
        == {'reference': APP + ':v2', 'repository': APP, 'tag': 'v2', 'digest': digest,
            'repo_digest': APP + '@' + digest, 'image_id': fake_registry.manifests[digest]['image_id'],
            'source': 'registry'}
    archive = manifest['images'][APP + ':v3']
    assert (archive['source'], archive['archive'], archive['digest'], archive['image_id']) \
        == ('archive', path, None, image_id)
    assert registry['previous'] == [] and registry['staged_at']


def test_staging_a_moved_tag_keeps_the_superseded_image_in_previous(run, fake_engine, fake_registry):
    first = fake_registry.push(APP + ':v2', image_id=ID1)
    run.present([{'ref': APP + ':v2'}])
    second = fake_registry.push(APP + ':v2', image_id=ID2)
    result = run.present([{'ref': APP + ':v2'}])
    assert [i['action'] for i in result['images']] == ['pulled']
    entry = run.manifest()['images'][APP + ':v2']
    assert (entry['digest'], entry['image_id']) == (second, ID2)
    assert [(p['digest'], p['image_id']) for p in entry['previous']] == [(first, ID1)]
    assert fake_engine.tags_of(ID2) == [APP + ':v2'] and fake_engine.tags_of(ID1) == []


def test_a_corrupted_manifest_stops_before_anything_is_pulled(run, fake_engine, fake_registry):
    fake_registry.push(APP + ':v2')
    path = run.stager([]).path
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as fh:
        fh.write('{not json')
    with pytest.raises(StageError, match='stage manifest %s is corrupted' % path):
        run.present([{'ref': APP + ':v2'}])
    assert fake_engine.api.called('pull') == []


def test_absent_forgets_entries_and_leaves_the_images(run, fake_engine, fake_registry):
    fake_registry.push(APP + ':v1')
    fake_registry.push(APP + ':v2')
    run.present([{'ref': APP + ':v1'}, {'ref': APP + ':v2'}])

    checked = run.stager([{'ref': APP + ':v1'}], check_mode=True).absent()
    assert checked['changed'] is True and checked['forgotten'] == [APP + ':v1']
    assert APP + ':v1' not in checked['manifest']['images']
    assert sorted(run.manifest()['images']) == [APP + ':v1', APP + ':v2']  # check mode wrote nothing

    result = run.stager([{'ref': APP + ':v1'}, {'ref': APP + ':v9'}]).absent()
    assert result['changed'] is True and result['forgotten'] == [APP + ':v1']
    assert list(run.manifest()['images']) == [APP + ':v2']
    assert fake_engine.image(APP + ':v1') is not None

    again = run.stager([{'ref': APP + ':v1'}]).absent()
    assert again['changed'] is False and again['forgotten'] == []


def test_absent_needs_references(run, tmp_path):
    with pytest.raises(StageError, match=r'state=absent takes images\[\]\.ref'):
        run.stager([{'archive': str(tmp_path / 'app.tar')}]).absent()
