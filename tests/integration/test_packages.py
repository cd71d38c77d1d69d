"""Packages per image and an SBOM per image (container_inventory ``packages``, the inventory role's
``inventory_sbom``) on the real lab, once per engine kind.

What the inventory lists is compared with what ``dpkg-query -W`` prints in a container of the same
image that the test starts itself. Every container and image made here carries a uid and is removed
afterwards; the module's cache goes to a state directory of this module's own.
"""

from __future__ import annotations

import io
import json
import os
import glob
import re
import subprocess
import tarfile
import tempfile
import time
import uuid

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from docker.errors import NotFound
from packageurl import PackageURL

from labkit import ROOT
from patchkit import exec_out

PLAYBOOK = os.path.join(ROOT, 'playbooks', 'inventory.yml')
HOSTS = []  # the hosts of the engine kind under test (conftest engine_hosts): on_engine
DPKG_QUERY = "dpkg-query -W -f '${Package} ${Version} ${Architecture}\\n'"
NO_DB = 'no package database (/var/lib/dpkg/status or /var/lib/dpkg/status.d)'
# A distroless-style image's status.d: one control stanza per file, md5sums beside them.
STATUS_D = {
    'libc6': 'Package: libc6\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\nSource: glibc\nMaintainer: x\n',
    'libc6.md5sums': 'd41d8cd98f00b204e9800998ecf8427e  lib/x86_64-linux-gnu/libc.so.6\n',
    'tzdata': 'Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nDescription: time zones\n data\n',
}
# The .debs the lab's distroless-style app image is made of (tests/lab/lab, DISTROLESS_DEBS).
DISTROLESS_DEBS = os.path.join(os.environ.get('PATCHOPS_LAB_CACHE', '/var/cache/patchops-lab'), 'distroless-bookworm')
FAKE = '\nPackage: patchops-fake\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n'


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs once per engine kind (conftest engine_kind)."""
    HOSTS[:] = engine_hosts


class Setup:
    """On one host: a container of patchops/debian:12, one of patchops/debian-app:v1 whose dpkg status
    was changed in the container (so the image's must come from a created container), one of the
    busybox app (no package database) and one of a distroless-style image made here."""

    def __init__(self, lab):
        self.lab = lab
        self.host = HOSTS[1]
        self.uid = uuid.uuid4().hex[:8]
        self.prefix = 'pkg-%s' % self.uid
        self.state_dir = '/tmp/patchops-pkg-%s' % self.uid
        self.api = lab.engine(self.host)
        self.made = []
        self.images = []
        self.debian = '%s/patchops/debian:12' % lab.registry
        self.debian_app = '%s/patchops/debian-app:v1' % lab.registry
        self.busybox = lab.image('v1')
        self.distroless = 'patchops-pkg/distroless:%s' % self.uid
        self.distroless_app = '%s/patchops/distroless-app:v1' % lab.registry

    def name(self, suffix):
        return '%s-%s' % (self.prefix, suffix)

    def run(self, image, suffix, **kwargs):
        cid = self.api.create_container(image, name=self.name(suffix), **kwargs)['Id']
        self.made.append(cid)
        self.api.start(cid)
        return cid

    def exec(self, cid, command):
        out, rc = exec_out(self.api, cid, command)
        assert rc == 0 and out, out
        return out

    def build(self):
        self.lab.pull(self.host, '12', repo='patchops/debian')
        self.lab.pull(self.host, 'v1', repo='patchops/debian-app')
        self.lab.pull(self.host, 'v1')
        self.lab.pull(self.host, 'v1', repo='patchops/distroless-app')
        self.dlapp = self.run(self.distroless_app, 'dlapp')  # no shell: mini_httpd as its own user
        self.deb = self.run(self.debian, 'deb', command=['sleep', '3600'])
        self.app = self.run(self.debian_app, 'app')
        # (a lost output repeats it: the fake stanza twice is the same change)
        self.exec(self.app, "printf '%s' >> /var/lib/dpkg/status && echo changed" % FAKE)
        self.bb = self.run(self.busybox, 'bb', command=['sleep', '3600'])
        # The distroless-style image: status.d entries put into a container of the busybox image, committed.
        scratch = self.api.create_container(self.busybox, name=self.name('scratch'))['Id']
        try:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode='w') as tar:
                top = tarfile.TarInfo('var/lib/dpkg/status.d')
                top.type, top.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(top)
                for name, text in STATUS_D.items():
                    info = tarfile.TarInfo('var/lib/dpkg/status.d/' + name)
                    info.size = len(text.encode())
                    tar.addfile(info, io.BytesIO(text.encode()))
            self.api.put_archive(scratch, '/', buf.getvalue())
            repo, tag = self.distroless.split(':')
            self.api.commit(scratch, repository=repo, tag=tag)
            self.images.append(self.distroless)
        finally:
            self.api.remove_container(scratch, force=True)
        self.static = self.run(self.distroless, 'static', command=['sleep', '3600'])

    def dpkg_query(self, image):
        """(name, version, arch) of every package, as dpkg-query prints them in a fresh container of image."""
        cid = self.run(image, 'query-%s' % uuid.uuid4().hex[:4], entrypoint=['sleep'], command=['600'])
        try:
            out = self.exec(cid, DPKG_QUERY)
        finally:
            self.api.remove_container(cid, force=True)
            self.made.remove(cid)
        return sorted(tuple(line.split(' ')) for line in out.splitlines() if line.strip())

    def inventory(self, check=False):
        res = self.lab.module(self.host, 'container_inventory', {
            'name': ['%s-*' % self.prefix], 'packages': True, 'state_dir': self.state_dir}, check=check)[self.host]
        assert res['_status'] == 'ok', res.get('msg')
        assert res['changed'] is False
        return res

    def containers(self):
        """Every container of the engine (id, name, state, image)."""
        return {(c['Id'], c['Names'][0].lstrip('/'), c['State'], c['ImageID'])
                for c in self.api.containers(all=True)}

    def destroy(self):
        for cid in reversed(self.made):
            try:
                self.api.remove_container(cid, force=True, v=True)
            except NotFound:
                pass
        for ref in self.images:
            try:
                self.api.remove_image(ref, force=True)
            except NotFound:
                pass
        self.lab.ssh(self.host, 'rm -rf %s' % self.state_dir, check=False)


@pytest.fixture(scope='module')
def setup(lab, on_engine):
    setup = Setup(lab)
    try:
        setup.build()
        yield setup
    finally:
        setup.destroy()


@pytest.fixture(scope='module')
def first(setup):
    """The first inventory with packages (nothing cached yet), with the engine's containers and
    events around it."""
    before = setup.containers()
    since = int(time.time()) - 1
    t0 = time.monotonic()
    res = setup.inventory()
    seconds = time.monotonic() - t0
    until = int(time.time()) + 1
    after = setup.containers()
    events = list(setup.api.events(since=since, until=until, decode=True, filters={'type': 'container'}))
    return {'res': res, 'before': before, 'after': after, 'events': events, 'seconds': seconds}


def by_tag(res, ref):
    found = [i for i in res['images'] if ref in i['tags'] or any(t.endswith('/' + ref) for t in i['tags'])]
    assert len(found) == 1, [i['tags'] for i in res['images']]
    return found[0]


def triples(image):
    return sorted((p['name'], p['version'], p['arch']) for p in image['packages'])


def test_debian_packages_equal_dpkg_query(setup, first):
    image = by_tag(first['res'], setup.debian)
    assert image['package_db'] == 'dpkg' and image['packages_note'] is None
    assert image['packages_source'] == 'container'  # its container's database is the image's
    assert image['containers'] == [setup.name('deb')]
    assert (image['os']['id'], image['os']['version_id'], image['os']['version_codename']) == ('debian', '12', 'bookworm')
    expected = setup.dpkg_query(setup.debian)
    assert len(expected) > 50
    assert triples(image) == expected
    # the source package of a binary rebuilt under another name
    assert {p['name']: p['source'] for p in image['packages']}['libc6'] == 'glibc'


def test_a_container_whose_database_changed_gives_way_to_a_created_never_started_reader(setup, first):
    image = by_tag(first['res'], setup.debian_app)
    assert image['packages_source'] == 'created container'
    assert 'patchops-fake' not in [p['name'] for p in image['packages']]
    assert triples(image) == setup.dpkg_query(setup.debian_app)
    readers = [e for e in first['events'] if (e.get('Actor', {}).get('Attributes', {}).get('name') or '')
               .startswith('patchops-pkgread-%s' % image['id'].split(':')[1][:12])]
    actions = [e.get('Action') or e.get('status') for e in readers]
    assert 'create' in actions and any(a in ('destroy', 'remove') for a in actions), actions
    assert 'start' not in actions, actions


def test_the_reader_is_gone_and_nothing_of_ours_changed(setup, first):
    assert not [c for c in first['after'] if c[1].startswith('patchops-pkgread-')]
    ours = {c for c in first['before'] if c[1].startswith(setup.prefix)}
    assert ours == {c for c in first['after'] if c[1].startswith(setup.prefix)}
    changed = first['before'] ^ first['after']
    # Other engineers' containers on the same host may come and go meanwhile; the inventory touched none.
    others = {c[1] for c in changed}
    touched = {(e.get('Actor', {}).get('Attributes', {}).get('name') or '') for e in first['events']
               if (e.get('Action') or e.get('status')) in ('create', 'start', 'stop', 'die', 'kill', 'destroy', 'remove')}
    assert others <= touched - {''}, (others, touched)
    assert not [n for n in others if n.startswith(setup.prefix)]


def test_busybox_has_no_package_database(setup, first):
    image = by_tag(first['res'], setup.busybox)
    assert (image['package_db'], image['packages'], image['packages_note']) == (None, [], NO_DB)


def test_distroless_style_status_d(setup, first):
    image = by_tag(first['res'], setup.distroless)
    assert image['package_db'] == 'dpkg-status.d'
    assert [(p['name'], p['version'], p['source'], p['arch']) for p in image['packages']] == [
        ('libc6', '2.36-9+deb12u7', 'glibc', 'amd64'), ('tzdata', '2024a-0+deb12u1', 'tzdata', 'all')]


def test_distroless_lab_app_lists_exactly_its_debs(setup, first):
    """patchops/distroless-app:v1 is the files of real .debs and one status.d entry each: its packages are
    what dpkg-deb says of those .debs."""
    debs = sorted(glob.glob(os.path.join(DISTROLESS_DEBS, '*.deb')))
    assert debs, 'the lab has no distroless .debs in %s (tests/lab/lab distroless)' % DISTROLESS_DEBS
    expected = []
    for deb in debs:
        fields = dict(line.split(': ', 1) for line in subprocess.run(
            ['dpkg-deb', '-f', deb, 'Package', 'Version', 'Architecture', 'Source'], check=True,
            capture_output=True, text=True).stdout.splitlines() if ': ' in line)
        source = (fields.get('Source') or fields['Package']).split(' (')[0]
        expected.append((fields['Package'], fields['Version'], fields['Architecture'], source))
    image = by_tag(first['res'], setup.distroless_app)
    assert image['package_db'] == 'dpkg-status.d' and image['os']['id'] == 'debian'
    assert [(p['name'], p['version'], p['arch'], p['source']) for p in image['packages']] == sorted(expected)


def test_second_inventory_reads_nothing(setup, first):
    res = first['res']
    images = len(res['images'])
    assert images == 5
    assert res['summary']['packages_read'] == images and res['summary']['packages_cached'] == 0
    assert res['summary']['packages_failed'] == 0
    since = int(time.time()) - 1
    started_ns = time.time_ns()  # the events API's since is in seconds: the first run's may fall in it
    t0 = time.monotonic()
    again = setup.inventory()
    seconds = time.monotonic() - t0
    events = [e for e in setup.api.events(since=since, until=int(time.time()) + 1, decode=True,
                                          filters={'type': 'container'}) if e.get('timeNano', 0) >= started_ns]
    assert (again['summary']['packages_read'], again['summary']['packages_cached']) == (0, images)
    assert {i['packages_source'] for i in again['images']} == {'cache'}
    assert [(i['id'], i['packages']) for i in again['images']] == [(i['id'], i['packages']) for i in res['images']]
    assert not [e for e in events if (e.get('Actor', {}).get('Attributes', {}).get('name') or '')
                .startswith('patchops-pkgread-')]
    print('inventory with packages on %s (%s): first %.2f s (%d images read), second %.2f s (all cached)'
          % (setup.host, setup.lab.kinds[setup.host], first['seconds'], images, seconds))


def test_check_mode_reads_and_keeps_no_cache(setup, first):
    saved, setup.state_dir = setup.state_dir, setup.state_dir + '-check'
    try:
        res = setup.inventory(check=True)
        assert res['summary']['packages_read'] == len(first['res']['images'])
        assert triples(by_tag(res, setup.debian)) == triples(by_tag(first['res'], setup.debian))
        assert setup.lab.ssh(setup.host, 'test -e %s' % setup.state_dir, check=False).returncode == 1
    finally:
        setup.lab.ssh(setup.host, 'rm -rf %s' % setup.state_dir, check=False)
        setup.state_dir = saved
    assert not [c for c in setup.containers() if c[1].startswith('patchops-pkgread-')]


def test_the_role_writes_a_valid_sbom_per_image_linked_from_the_page(lab, setup, first):
    with tempfile.TemporaryDirectory(prefix='patchops-sbom-') as out:
        run, dummy = lab.playbook(PLAYBOOK, limit=setup.host, extravars={
            'inventory_report_dir': out, 'inventory_name_patterns': ['%s-*' % setup.prefix],
            'inventory_check_updates': False})
        assert run.rc == 0, run.collected_stdout[-3000:]
        with open(os.path.join(out, 'inventory.json')) as fh:
            report = json.load(fh)
        images = report['hosts'][0]['images']
        assert {i['id'] for i in images} == {i['id'] for i in first['res']['images']}
        listed = {s['image_id']: s for s in report['sboms']}
        # busybox has no package database: no SBOM, the others one each
        assert set(listed) == {i['id'] for i in images if i['package_db']}
        with open(os.path.join(out, 'inventory.html')) as fh:
            page = fh.read()
        with open(os.path.join(out, 'inventory.md')) as fh:
            markdown = fh.read()
        validator = JsonStrictValidator(SchemaVersion.V1_5)
        for ref in (setup.debian, setup.debian_app):
            image = by_tag(first['res'], ref)
            entry = listed[image['id']]
            assert entry['file'] == 'sbom/%s.cdx.json' % image['id'].split(':')[1][:12]
            assert 'href="%s"' % entry['file'] in page and entry['file'] in markdown
            with open(os.path.join(out, entry['file'])) as fh:
                text = fh.read()
            error = validator.validate_str(text)
            assert error is None, str(error)[:2000]
            bom = json.loads(text)
            assert bom['metadata']['component']['version'] == image['id']
            purls = [PackageURL.from_string(c['purl']) for c in bom['components'] if c['type'] == 'library']
            assert sorted((p.name, p.version, p.qualifiers['arch']) for p in purls) == setup.dpkg_query(ref)
            assert {(p.type, p.namespace, p.qualifiers['distro']) for p in purls} == {('deb', 'debian', 'debian-12')}
        # The distroless-style images' SBOMs too: valid, with exactly the packages their status.d lists.
        for ref in (setup.distroless, setup.distroless_app):
            image = by_tag(first['res'], ref)
            with open(os.path.join(out, listed[image['id']]['file'])) as fh:
                text = fh.read()
            error = validator.validate_str(text)
            assert error is None, str(error)[:2000]
            purls = [PackageURL.from_string(c['purl']) for c in json.loads(text)['components'] if c['type'] == 'library']
            assert [(p.name, p.version, p.qualifiers['arch']) for p in purls] == triples(image)
            assert re.search(r'@1%3A', ''.join(c['purl'] for c in bom['components'] if c['type'] == 'library'))
