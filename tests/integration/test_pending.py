"""Pending updates of the lab's Debian images against the lab mirror, on the real lab (no mocks),
once per engine kind: the inventory role with inventory_package_sources, compared with what apt
itself says in a container of the same image against the same sources (aptkit).

Every container and tag made here carries a uid and is removed afterwards.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid

import pytest
import requests

from aptkit import MIRROR, SUITE, apt_pending, mirror_sources
from labkit import LAB_DIR, ROOT
from patchkit import remove

PLAYBOOK = os.path.join(ROOT, 'playbooks', 'inventory.yml')
HOSTS = []  # the hosts of the engine kind under test (conftest engine_hosts): on_engine
IMAGES = (('patchops/debian', '12'), ('patchops/debian-app', 'v1'))
# image_patch on Podman builds, then refuses its commit (Podman's commit changes the image config):
# test_distroless.py::test_podman_refuses_the_commit_and_leaves_nothing shows the refusal on the lab.
PODMAN_COMMIT = ('image_patch on Podman refuses its own commit (it changes the image config), so no patched image '
                 'is made; test_distroless.py::test_podman_refuses_the_commit_and_leaves_nothing shows it')


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    HOSTS[:] = engine_hosts


def mirror_suites():
    """{name: version} of the mirror's packages that came from bookworm-security (its `suites` file)."""
    text = requests.get(MIRROR + 'suites', timeout=30).text
    return dict(line.split()[0].split('=', 1) for line in text.splitlines() if 'security' in line.split()[1:])


def inventory(lab, uid, run, bad=False):
    report_dir = tempfile.mkdtemp(prefix='patchops-pending-')
    runner, dummy = lab.playbook(PLAYBOOK, extravars={
        'inventory_hosts': HOSTS[0], 'inventory_report_dir': report_dir, 'inventory_name_patterns': ['*%s*' % uid],
        'inventory_check_updates': False, 'inventory_packages': True,
        'inventory_package_sources': mirror_sources(run, bad)})
    assert runner.status == 'successful', runner.collected_stdout[-3000:]
    with open(os.path.join(report_dir, 'inventory.json')) as fh:
        report = json.load(fh)
    with open(os.path.join(report_dir, 'inventory.md')) as fh:
        markdown = fh.read()
    with open(os.path.join(report_dir, 'inventory.html')) as fh:
        html = fh.read()
    return report, markdown, html


@pytest.fixture(scope='module')
def fleet(lab, on_engine):
    """On the kind's first host: a created container of each lab Debian image, of the app image
    patched by image_patch (a local tag), and of the busybox app; the inventory run over them."""
    uid = uuid.uuid4().hex[:8]
    host = HOSTS[0]
    api = lab.engine(host)
    refs = {}
    for repo, tag in IMAGES:
        lab.pull(host, tag, repo=repo)
        refs[repo] = '%s/%s:%s' % (lab.registry, repo, tag)
    lab.pull(host, 'v1')
    refs['busybox'] = lab.image('v1')
    patched = '%s/patchops/debian-app:pend-%s' % (lab.registry, uid)
    if lab.kinds.get(host) == 'podman':
        patch_error = PODMAN_COMMIT  # not run: it would build, then refuse its commit
    else:
        result = lab.module(host, 'image_patch', {'image': refs['patchops/debian-app'], 'output': patched,
                                                  'push': False})[host]
        patch_error = None if result['_status'] == 'ok' else result.get('msg') or result['_status']
    if not patch_error:
        refs['patched'] = patched
    names = dict((key, 'pend-%s-%s' % (uid, key.rsplit('/', 1)[-1])) for key in refs)
    try:
        for key, ref in refs.items():
            api.create_container(ref, name=names[key], command=['true'] if key == 'busybox' else None)
        report, markdown, html = inventory(lab, uid, 'p%s' % uid)
        yield {'uid': uid, 'api': api, 'refs': refs, 'names': names, 'report': report, 'markdown': markdown,
               'html': html, 'patch_error': patch_error}
    finally:
        remove(api, *names.values())
        try:
            api.remove_image(patched)
        except Exception:  # already gone
            pass


def image_of(fleet, key):
    """The report's image record that the container made for ``key`` runs."""
    images = [i for h in fleet['report']['hosts'] for i in h.get('images') or []]
    found = [i for i in images if fleet['names'][key] in i['containers']]
    assert len(found) == 1, images
    return found[0]


@pytest.mark.parametrize('key', [repo for repo, dummy in IMAGES])
def test_pending_updates_equal_apt_dist_upgrade_in_the_image(fleet, key):
    image = image_of(fleet, key)
    apt = apt_pending(fleet['api'], fleet['refs'][key])
    assert apt, 'apt sees no update in %s: the lab mirror should have them' % key
    ours = dict((p['name'], (p['installed'], p['candidate'], p['security'])) for p in image['pending'])
    assert ours == apt
    security = len([p for p in image['pending'] if p['security']])
    assert (image['pending_status'], image['pending_count'], image['pending_security']) == ('ok', len(apt), security)
    assert image['pending_summary'] == '%d pending (%d security)' % (len(apt), security)


@pytest.mark.parametrize('key', [repo for repo, dummy in IMAGES])
def test_security_marking_is_the_suite_each_package_came_from(fleet, key):
    image = image_of(fleet, key)
    from_security = mirror_suites()
    assert set(p['name'] for p in image['pending'] if p['security']) == set(
        p['name'] for p in image['pending'] if p['name'] in from_security)
    for p in image['pending']:
        assert p['suite'] == (SUITE + '-security/' if p['security'] else './'), p


def test_an_image_patched_by_image_patch_has_nothing_pending(engine_kind, fleet):
    if engine_kind == 'podman':
        pytest.skip(PODMAN_COMMIT)
    assert fleet['patch_error'] is None, fleet['patch_error']
    image = image_of(fleet, 'patched')
    assert apt_pending(fleet['api'], fleet['refs']['patched']) == {}
    assert (image['pending_status'], image['pending'], image['pending_summary']) == ('ok', [], '0 pending (0 security)')


def test_an_image_without_a_package_database_is_unknown_not_zero(fleet):
    image = image_of(fleet, 'busybox')
    assert (image['pending_status'], image['pending_count']) == ('unknown', None)
    assert image['pending_reason'].startswith('no package database read')


def test_report_totals_sources_and_pages(fleet):
    report = fleet['report']
    app = image_of(fleet, 'patchops/debian-app')
    base = image_of(fleet, 'patchops/debian')
    totals = report['totals']
    assert totals['images_pending'] == 2 and totals['images_pending_unknown'] == 1
    assert totals['pending'] == app['pending_count'] + base['pending_count']
    assert [(s['suite'], s['status'], s['security']) for s in report['package_sources']] == [
        ('./', 'ok', False), (SUITE + '-security/', 'ok', True), (SUITE + '-updates/', 'ok', False)]
    for page in (fleet['markdown'], fleet['html']):
        assert app['pending_summary'] in page and fleet['names']['patchops/debian-app'] in page


def test_each_source_index_is_read_once_per_run_not_per_image(fleet):
    """Four images on the host, each source's index fetched once (the mirror's own log)."""
    run = 'x-p%s/' % fleet['uid']
    with open(os.path.join(LAB_DIR, 'mirror.log')) as fh:
        fetched = [line.split('"')[1].split()[1] for line in fh if run in line and '" 200 ' in line]
    # The mirror has no Packages.xz: each .gz read once after the .xz is refused.
    assert sorted(fetched) == sorted('/%s../%sPackages.gz' % (run, s) for s in ('', SUITE + '-security/', SUITE + '-updates/'))


def test_a_source_that_cannot_be_read_is_named_and_no_count_is_given(lab, fleet):
    report, markdown, dummy = inventory(lab, fleet['uid'], 'q%s' % fleet['uid'], bad=True)
    failed = [s for s in report['package_sources'] if s['status'] != 'ok']
    assert [s['url'] for s in failed] == ['http://10.213.7.1:9/']
    assert 'http://10.213.7.1:9/dists/%s-security/main/binary-amd64/Packages' % SUITE in failed[0]['error']
    images = [i for h in report['hosts'] for i in h['images']]
    assert images and all(i['pending_status'] == 'unknown' and i['pending_count'] is None for i in images)
    assert 'http://10.213.7.1:9/' in markdown


def test_build_from_the_report_builds_exactly_what_is_fixable(lab, engine_kind, fleet):
    """The build role given this report: the two Debian images built for their pending packages
    only, the patched one `nothing pending`, the busybox one skipped (its pending updates unknown)."""
    if engine_kind == 'podman':
        pytest.skip(PODMAN_COMMIT)
    host = HOSTS[0]
    report_dir = tempfile.mkdtemp(prefix='patchops-pending-build-')
    outputs = ['%s-patched' % fleet['refs'][key] for key, dummy in IMAGES]
    try:
        runner, dummy = lab.playbook(os.path.join(ROOT, 'playbooks', 'build.yml'), extravars={
            'patchops_build_host': host, 'build_from_inventory': fleet['report'], 'build_targets': [],
            'build_push': False, 'build_report_dir': report_dir, 'build_report_run_id': 'pending',
            'build_hand_off_hosts': host})
        assert runner.status == 'successful', runner.collected_stdout[-3000:]
        with open(os.path.join(report_dir, 'pending', 'build.json')) as fh:
            build = json.load(fh)
        lines = dict((line['image'], line) for line in build['hosts'][0]['images'])
        for key, dummy in IMAGES:
            line = lines[fleet['refs'][key]]
            wanted = sorted(p['name'] for p in image_of(fleet, key)['pending'])
            assert (line['status'], sorted(p['name'] for p in line['packages'])) == ('changed', wanted), line
            assert apt_pending(fleet['api'], line['reference']) == {}
        if fleet['patch_error'] is None:
            assert (lines[fleet['refs']['patched']]['status'], lines[fleet['refs']['patched']]['msg']) == (
                'nothing_pending', 'nothing pending')
        busybox = lines[fleet['refs']['busybox']]
        assert busybox['status'] == 'skipped' and busybox['msg'].startswith('pending updates unknown: ')
        assert (build['totals']['built'], build['totals']['skipped']) == (2, 1)
    finally:
        for ref in outputs:
            try:
                fleet['api'].remove_image(ref)
            except Exception:  # not built
                pass
