"""container_inventory and the inventory role on the real lab (no mocks).

Every container and image tag made here carries a uid and is removed afterwards; the report
filters on that uid, so containers of other engineers on the same lab do not matter.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
import uuid

import pytest
from docker.errors import NotFound

from labkit import LAB_DIR, ROOT

PLAYBOOK = os.path.join(ROOT, 'playbooks', 'inventory.yml')
HOSTS = []  # three hosts of the engine kind under test (conftest engine_hosts): on_engine
OS_RELEASE_DEBIAN = (b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
                     b'VERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n')


def auth(lab):
    return {'username': lab.registry_user, 'password': lab.registry_password}


def pull(lab, host, repo, tag):
    api = lab.engine(host)
    api.pull('%s/%s' % (lab.registry, repo), tag=tag, auth_config=auth(lab))
    return api


def push(lab, api, repo, tag):
    """Push with credentials; returns the manifest digest the registry now has for the tag."""
    digest = None
    for line in api.push(repo, tag=tag, auth_config=auth(lab), stream=True, decode=True):
        assert 'error' not in line, line
        digest = (line.get('aux') or {}).get('Digest') or digest
    # Podman's push stream names no digest: the registry's own answer then.
    digest = digest or lab.registry_digest('%s:%s' % (repo, tag))
    assert digest, 'push of %s:%s gave no digest' % (repo, tag)
    return digest


def untag_in_registry(repo, tag):
    """The registry API cannot delete a tag alone (only a manifest, which other tags share):
    remove the tag from the lab registry's storage instead."""
    path = os.path.join(LAB_DIR, 'registry', 'data', 'docker', 'registry', 'v2', 'repositories',
                        repo, '_manifests', 'tags', tag)
    shutil.rmtree(path, ignore_errors=True)


def wait_for(what, predicate, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError('timed out waiting for ' + what)


def shown(lab, host, status):
    """The health the engine shows of a container whose HEALTHCHECK is ``status``: Podman runs
    HEALTHCHECKs on systemd timers only, the lab's Podman hosts have none, so there "starting"
    (the inventory runs nothing in containers; it reports the engine's status)."""
    return 'starting' if lab.kinds[host] == 'podman' else status


def health(api, cid):
    return ((api.inspect_container(cid)['State'].get('Health')) or {}).get('Status')


def snapshot(api):
    """The image list of an engine, to prove that nothing was pulled."""
    return sorted((i['Id'], tuple(sorted(i.get('RepoTags') or [])), tuple(sorted(i.get('RepoDigests') or [])))
                  for i in api.images(all=True))


def ok(results, host):
    res = results[host]
    assert res['_status'] == 'ok', res.get('msg')
    assert res['changed'] is False
    return res


def by_name(res):
    return {c['name']: c for c in res['containers']}


# -- the fleet: a mix of containers on 3 hosts ---------------------------------------------

class Fleet:
    def __init__(self, lab):
        self.lab = lab
        self.uid = uuid.uuid4().hex[:8]
        self.prefix = 'inv-%s' % self.uid
        self.project = 'inv%s' % self.uid
        self.hosts = HOSTS[:3]
        self.made = []  # (host, container id)
        self.tags = []  # (host, image reference)
        self.networks = []
        self.volumes = []
        self.bind_dir = tempfile.mkdtemp(prefix='patchops-inv-')
        self.apis = {}

    def name(self, suffix):
        return '%s-%s' % (self.prefix, suffix)

    def create(self, host, image, suffix=None, name=None, start=True, **kwargs):
        api = self.apis[host]
        host_config = kwargs.pop('host_config', {})
        cid = api.create_container(image, name=name or self.name(suffix),
                                   host_config=api.create_host_config(**host_config), **kwargs)['Id']
        self.made.append((host, cid))
        if start:
            api.start(cid)
        return cid

    def build(self):
        lab = self.lab
        h1, h2, h3 = self.hosts
        v1, broken = lab.image('v1'), lab.image('v2-broken')
        busybox = '%s/patchops/busybox:latest' % lab.registry
        for host in self.hosts:
            self.apis[host] = pull(lab, host, 'patchops/app', 'v1')
        pull(lab, h1, 'patchops/busybox', 'latest')
        pull(lab, h2, 'patchops/app', 'v2-broken')
        sleep = {'command': ['sleep', '3600']}

        # lab1: ports, restart policy, named/anonymous/bind mounts, every dependency kind.
        api = self.apis[h1]
        api.create_volume(self.name('data'))
        self.volumes.append((h1, self.name('data')))
        self.db = self.create(h1, v1, 'db')
        self.web = self.create(h1, v1, 'web', volumes=['/cache'], ports=[8080],
                               labels={'patchops.depends-on': '%s, %s' % (self.name('db'), self.name('ghost'))},
                               host_config=dict(port_bindings={8080: ('127.0.0.1', None)},
                                                restart_policy={'Name': 'on-failure', 'MaximumRetryCount': 3},
                                                binds={self.name('data'): {'bind': '/data', 'mode': 'rw'},
                                                       self.bind_dir: {'bind': '/conf', 'mode': 'ro'}}))
        self.side = self.create(h1, busybox, 'side', host_config=dict(
            network_mode='container:' + self.name('web'), volumes_from=[self.name('db') + ':ro']), **sleep)
        if lab.kinds[h1] != 'podman':  # Podman has no legacy links ("link is not supported")
            self.linked = self.create(h1, busybox, 'linked', host_config=dict(
                links={self.name('db'): 'database'}), **sleep)
        else:
            self.linked = self.create(h1, busybox, 'linked', **sleep)
        api.stop(self.linked, timeout=1)

        # lab2: a Compose project (labels as compose writes them) and an unhealthy container.
        api = self.apis[h2]
        net = '%s_default' % self.project
        api.create_network(net, labels={'com.docker.compose.project': self.project})
        self.networks.append((h2, net))

        def compose(service, **extra):
            labels = {'com.docker.compose.project': self.project,
                      'com.docker.compose.service': service,
                      'com.docker.compose.project.working_dir': '/srv/%s' % self.project,
                      'com.docker.compose.project.config_files': '/srv/%s/compose.yaml' % self.project,
                      'com.docker.compose.container-number': '1',
                      'com.docker.compose.oneoff': 'False'}
            labels.update(extra)
            return self.create(h2, v1, name='%s-%s-1' % (self.project, service), labels=labels,
                               networking_config=api.create_networking_config(
                                   {net: api.create_endpoint_config(aliases=[service])}),
                               host_config=dict(network_mode=net))
        self.cdb = compose('db')
        self.cweb = compose('web', **{'com.docker.compose.depends_on':
                                      'db:service_healthy:false,cache:service_started:false'})
        self.broken = self.create(h2, broken, 'broken')

        # lab3: created, exited, pinned by digest, and an image of its own (symlinked os-release).
        api = self.apis[h3]
        v1_digest = [d for d in api.inspect_image(v1)['RepoDigests'] if d.startswith(lab.registry)][0]
        self.created = self.create(h3, v1, 'created', start=False)
        self.exited = self.create(h3, v1, 'exited')
        api.stop(self.exited, timeout=1)
        self.pinned = self.create(h3, v1_digest, 'pinned')
        scratch = api.create_container(v1, name=self.name('scratch'))['Id']
        try:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode='w') as tar:
                link = tarfile.TarInfo('etc/os-release')
                link.type, link.linkname = tarfile.SYMTYPE, '../usr/lib/os-release'
                tar.addfile(link)
                data = tarfile.TarInfo('usr/lib/os-release')
                data.size = len(OS_RELEASE_DEBIAN)
                tar.addfile(data, io.BytesIO(OS_RELEASE_DEBIAN))
            api.put_archive(scratch, '/', buf.getvalue())
            self.local_image = 'patchops-inv/osrel:%s' % self.uid
            api.commit(scratch, repository='patchops-inv/osrel', tag=self.uid)
            self.tags.append((h3, self.local_image))
        finally:
            api.remove_container(scratch, force=True, v=True)
        self.osrel = self.create(h3, self.local_image, 'osrel', start=False)

        # Stable health before anything is compared.
        for host, cid in [(h1, self.db), (h1, self.web), (h2, self.cdb), (h2, self.cweb), (h3, self.pinned)]:
            wait_for('healthy', lambda: health(self.apis[host], cid) == shown(lab, host, 'healthy'))
        wait_for('unhealthy', lambda: health(self.apis[h2], self.broken) == shown(lab, h2, 'unhealthy'))

    def destroy(self):
        for host, cid in reversed(self.made):
            try:
                self.lab.engine(host).remove_container(cid, force=True, v=True)
            except NotFound:
                pass
        for host, ref in self.tags:
            try:
                self.lab.engine(host).remove_image(ref)
            except NotFound:
                pass
        for host, net in self.networks:
            try:
                self.lab.engine(host).remove_network(net)
            except NotFound:
                pass
        for host, vol in self.volumes:
            try:
                self.lab.engine(host).remove_volume(vol)
            except NotFound:
                pass
        shutil.rmtree(self.bind_dir, ignore_errors=True)


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs on Docker 20.10 hosts and on Docker 26 hosts (conftest engine_kind)."""
    HOSTS[:] = engine_hosts


@pytest.fixture(scope='module')
def fleet(lab, on_engine):
    fleet = Fleet(lab)
    try:
        fleet.build()
        yield fleet
    finally:
        fleet.destroy()


@pytest.fixture(scope='module')
def report(lab, fleet):
    """One module run over the fleet, with the update check and the right credentials."""
    args = {'name': ['*%s*' % fleet.uid], 'include_stopped': True, 'check_updates': True,
            'registry_username': lab.registry_user, 'registry_password': lab.registry_password}
    return lab.module(','.join(fleet.hosts), 'container_inventory', args)


# -- every field against docker inspect ----------------------------------------------------

def expected_ports(ins):
    if ins['State']['Running']:
        source = ins['NetworkSettings']['Ports'] or {}
    else:
        source = ins['HostConfig']['PortBindings'] or {}
    out = set()
    for key, bindings in source.items():
        port, proto = key.split('/')
        for b in bindings or []:
            out.add((int(port), proto, b['HostIp'], int(b['HostPort']) if b['HostPort'] else None))
    return out


def assert_matches_inspect(c, ins, img):
    state = ins['State']
    assert c['id'] == ins['Id']
    assert c['name'] == ins['Name'][1:]
    assert c['image'] == ins['Config']['Image']
    assert c['image_id'] == ins['Image']
    assert c['image_tags'] == (img['RepoTags'] or [])
    assert c['repo_digests'] == (img['RepoDigests'] or [])
    assert c['image_created'] == img['Created']
    assert c['created'] == ins['Created']
    assert c['state'] == state['Status']
    assert c['health'] == ((state.get('Health') or {}).get('Status') if state['Status'] == 'running' else None)
    assert c['exit_code'] == state['ExitCode']
    assert c['started_at'] == (None if state['StartedAt'].startswith('0001') else state['StartedAt'])
    assert c['finished_at'] == (None if state['FinishedAt'].startswith('0001') else state['FinishedAt'])
    assert c['restart_count'] == ins['RestartCount']
    policy = ins['HostConfig']['RestartPolicy']
    assert c['restart_policy'] == {'name': policy['Name'] or 'no', 'maximum_retry_count': policy['MaximumRetryCount']}
    assert c['network_mode'] == ins['HostConfig']['NetworkMode']
    assert c['labels'] == (ins['Config']['Labels'] or {})
    # A container in another's network namespace has no ports or networks of its own (Podman shows that one's).
    follower = ins['HostConfig']['NetworkMode'].startswith('container:')
    assert {(p['container_port'], p['protocol'], p['host_ip'], p['host_port']) for p in c['ports']} == (
        set() if follower else expected_ports(ins))
    assert sorted((m['destination'], m['name'], m['source'], m['rw'], m['mode']) for m in c['mounts']) == sorted(
        (m['Destination'], m.get('Name'), m['Source'], m['RW'], m['Mode']) for m in ins['Mounts'])
    assert {n['name']: (n['id'], n['ip_address'], n['mac_address'], n['gateway'], n['aliases'])
            for n in c['networks']} == {
        # the operator's aliases: API < 1.44 also lists the short container ID there, the inventory does
        # not (compare whole IDs: an alias such as db may begin one)
        name: (n['NetworkID'], n['IPAddress'], n['MacAddress'], n['Gateway'],
               [a for a in n['Aliases'] or [] if a not in (ins['Id'], ins['Id'][:12])])
        for name, n in ins['NetworkSettings']['Networks'].items() if not follower}
    labels = ins['Config']['Labels'] or {}
    if 'com.docker.compose.project' in labels:
        assert c['compose'] == {
            'project': labels['com.docker.compose.project'],
            'service': labels['com.docker.compose.service'],
            'working_dir': labels['com.docker.compose.project.working_dir'],
            'config_files': labels['com.docker.compose.project.config_files'].split(','),
            'container_number': int(labels['com.docker.compose.container-number']),
            # no compose file on the host to read; the reference resolves to the image the container runs
            'image_ref': ins['Config']['Image'], 'file_image': None, 'warnings': [],
            'in_sync': True, 'verdict': 'in sync'}
    else:
        assert c['compose'] is None


def test_every_field_matches_docker_inspect(lab, fleet, report):
    seen = 0
    for host in fleet.hosts:
        res = ok(report, host)
        api = fleet.apis[host]
        mine = {cid for h, cid in fleet.made if h == host}
        assert {c['id'] for c in res['containers']} == mine
        assert [c['name'] for c in res['containers']] == sorted(c['name'] for c in res['containers'])
        for c in res['containers']:
            ins = api.inspect_container(c['id'])
            assert_matches_inspect(c, ins, api.inspect_image(ins['Image']))
            seen += 1
    assert seen == len(fleet.made) == 11


def test_engine_facts_match_the_engine(fleet, report):
    for host in fleet.hosts:
        engine = ok(report, host)['engine']
        api = fleet.apis[host]
        version, info = api.version(), api.info()
        assert engine['name'] == info['Name'] == host
        if fleet.lab.kinds[host] == 'podman':
            # Podman's /info ID is new on every call: the collection names the engine by its store.
            key = '%s\0%s' % (info['Name'], info['DockerRootDir'])
            assert engine['id'] == 'podman-' + hashlib.sha256(key.encode()).hexdigest()[:32]
            assert engine['kind'] == 'podman'
        else:
            assert engine['id'] == info['ID']
            assert engine['kind'] == 'docker'
        assert engine['version'] == version['Version']
        assert engine['api_version'] == version['ApiVersion']
        assert engine['storage_driver'] == info['Driver']
        assert engine['docker_root_dir'] == info['DockerRootDir']
        st = os.statvfs(info['DockerRootDir'])
        assert engine['total_bytes'] == st.f_blocks * st.f_frsize
        assert 0 < engine['free_bytes'] <= engine['total_bytes']


def test_states_health_mounts_and_ports(lab, fleet, report):
    h1, h2, h3 = fleet.hosts
    one, two, three = by_name(ok(report, h1)), by_name(ok(report, h2)), by_name(ok(report, h3))
    web = one[fleet.name('web')]
    assert web['state'] == 'running' and web['health'] == shown(lab, h1, 'healthy')
    assert web['restart_policy'] == {'name': 'on-failure', 'maximum_retry_count': 3}
    assert [(p['container_port'], p['protocol'], p['host_ip']) for p in web['ports']] == [(8080, 'tcp', '127.0.0.1')]
    assert web['ports'][0]['host_port'] > 0
    assert {m['destination']: (m['type'], m['name']) for m in web['mounts']} == {
        '/cache': ('anonymous', web['mounts'][0]['name']),
        '/conf': ('bind', None),
        '/data': ('named', fleet.name('data')),
    }
    assert [m['rw'] for m in web['mounts']] == [True, False, True]
    assert web['mounts'][1]['source'] == fleet.bind_dir
    default_network = 'podman' if lab.kinds[h1] == 'podman' else 'bridge'
    assert web['networks'][0]['name'] == default_network and web['networks'][0]['ip_address']

    side = one[fleet.name('side')]
    assert side['network_mode'] == 'container:' + fleet.web and side['networks'] == []
    assert side['health'] is None and side['ports'] == []

    assert one[fleet.name('linked')]['state'] == 'exited'
    assert one[fleet.name('linked')]['health'] is None

    broken = two[fleet.name('broken')]
    assert broken['state'] == 'running' and broken['health'] == shown(lab, h2, 'unhealthy')
    assert ok(report, h2)['summary']['unhealthy'] == int(shown(lab, h2, 'unhealthy') == 'unhealthy')

    cweb = two['%s-web-1' % fleet.project]
    assert cweb['compose'] == {'project': fleet.project, 'service': 'web', 'working_dir': '/srv/%s' % fleet.project,
                               'config_files': ['/srv/%s/compose.yaml' % fleet.project], 'container_number': 1,
                               'image_ref': lab.image('v1'), 'file_image': None, 'warnings': [],
                               'in_sync': True, 'verdict': 'in sync'}
    # Podman shows NetworkMode "bridge" whatever networks the container is on
    assert cweb['network_mode'] == ('bridge' if lab.kinds[h2] == 'podman' else '%s_default' % fleet.project)
    assert cweb['networks'][0]['name'] == '%s_default' % fleet.project
    assert 'web' in cweb['networks'][0]['aliases']

    created, exited = three[fleet.name('created')], three[fleet.name('exited')]
    assert created['state'] == 'created' and created['started_at'] is None and created['finished_at'] is None
    assert exited['state'] == 'exited' and exited['started_at'] and exited['finished_at']
    assert created['ports'] == [] and created['mounts'][0]['type'] == 'anonymous'

    summary = dict(ok(report, h1)['summary'])
    assert summary.pop('kill_risk') == sum(1 for c in ok(report, h1)['containers'] if c['stop']['kill_risk'])
    assert summary == {'containers': 4, 'running': 3, 'stopped': 1, 'unhealthy': 0, 'images': 2,
                       'updates_available': 0, 'updates_current': 4, 'updates_unknown': 0,
                       'packages_read': 0, 'packages_cached': 0, 'packages_failed': 0}  # packages not asked for
    assert ok(report, h3)['summary']['stopped'] == 3


def test_image_os_read_without_running_anything(fleet, report):
    h1, h2, h3 = fleet.hosts
    busybox = {'id': 'busybox', 'version_id': '1.35', 'name': 'Busybox', 'pretty_name': 'patchops lab busybox',
               'version_codename': None}
    for host in fleet.hosts:
        for c in ok(report, host)['containers']:
            if c['image_id'] != fleet.apis[h3].inspect_image(fleet.local_image)['Id']:
                assert c['image_os'] == busybox, c['name']
    osrel = by_name(ok(report, h3))[fleet.name('osrel')]
    # /etc/os-release is a symlink to ../usr/lib/os-release in that image, and the container never ran.
    assert osrel['state'] == 'created'
    assert osrel['image_os'] == {'id': 'debian', 'version_id': '12', 'name': 'Debian GNU/Linux',
                                 'pretty_name': 'Debian GNU/Linux 12 (bookworm)', 'version_codename': 'bookworm'}
    # Still created: reading the file did not start it.
    assert fleet.apis[h3].inspect_container(fleet.osrel)['State']['Status'] == 'created'


def test_dependencies(fleet, report):
    h1, h2, h3 = fleet.hosts
    one, two = by_name(ok(report, h1)), by_name(ok(report, h2))
    assert one[fleet.name('web')]['dependencies'] == [
        {'kind': 'label', 'name': fleet.name('db'), 'resolved': True},
        {'kind': 'label', 'name': fleet.name('ghost'), 'resolved': False},
    ]
    assert one[fleet.name('web')]['depends_on'] == [fleet.name('db')]
    assert one[fleet.name('side')]['dependencies'] == [
        {'kind': 'netns', 'name': fleet.name('web'), 'resolved': True},
        {'kind': 'volumes_from', 'name': fleet.name('db'), 'resolved': True},
    ]
    assert one[fleet.name('side')]['depends_on'] == sorted([fleet.name('db'), fleet.name('web')])
    if fleet.lab.kinds[h1] != 'podman':
        assert one[fleet.name('linked')]['dependencies'] == [
            {'kind': 'link', 'name': fleet.name('db'), 'resolved': True, 'alias': 'database'}]
    assert one[fleet.name('db')]['dependencies'] == []
    assert two['%s-web-1' % fleet.project]['dependencies'] == [
        {'kind': 'compose', 'name': '%s-db-1' % fleet.project, 'resolved': True, 'service': 'db',
         'condition': 'service_healthy'},
        {'kind': 'compose', 'name': None, 'resolved': False, 'service': 'cache', 'condition': 'service_started'},
    ]
    assert two['%s-web-1' % fleet.project]['depends_on'] == ['%s-db-1' % fleet.project]


def test_update_check_current_pinned_and_local(lab, fleet, report):
    h1, h2, h3 = fleet.hosts
    v1_digest = [d for d in fleet.apis[h1].inspect_image(lab.image('v1'))['RepoDigests']
                 if d.startswith(lab.registry)][0].split('@')[1]
    for name, c in by_name(ok(report, h1)).items():
        assert (c['update'], c['update_reason']) == ('current', None), name
        assert '%s@%s' % (c['image'].rsplit(':', 1)[0], c['remote_digest']) in c['repo_digests'], name
    assert by_name(ok(report, h1))[fleet.name('web')]['remote_digest'] == v1_digest
    three = by_name(ok(report, h3))
    if lab.kinds[h3] == 'podman':
        # Podman records the image's tag, not the digest reference the container was created with.
        assert '@' not in three[fleet.name('pinned')]['image']
        assert three[fleet.name('pinned')]['update'] == 'current'
    else:
        assert (three[fleet.name('pinned')]['update'], three[fleet.name('pinned')]['update_reason']) == (
            'unknown', 'pinned by digest')
        assert three[fleet.name('pinned')]['remote_digest'] is None
    assert three[fleet.name('osrel')]['update'] == 'unknown'
    if lab.kinds[h3] == 'podman':
        # Podman gives a committed image a digest under its (Docker Hub) name: the registry is asked,
        # from the lab it cannot be reached, and the answer is unknown all the same.
        assert three[fleet.name('osrel')]['update_reason'].startswith('registry')
    else:
        assert three[fleet.name('osrel')]['update_reason'].startswith('the image has no registry digest')
        assert three[fleet.name('osrel')]['repo_digests'] == []
    # One question per distinct reference per host.
    assert ok(report, h1)['update_checks'] == [
        {'reference': lab.image('v1'), 'remote_digest': v1_digest, 'error': None},
        {'reference': '%s/patchops/busybox:latest' % lab.registry,
         'remote_digest': by_name(ok(report, h1))[fleet.name('side')]['remote_digest'], 'error': None},
    ]
    asked = [lab.image('v1')] + (['patchops-inv/osrel:%s' % fleet.uid] if lab.kinds[h3] == 'podman' else [])
    assert sorted(u['reference'] for u in ok(report, h3)['update_checks']) == sorted(asked)


def test_check_mode_and_filters(lab, fleet, report):
    h1, h2, h3 = fleet.hosts
    base = {'name': ['*%s*' % fleet.uid]}
    checked = ok(lab.module(h1, 'container_inventory', dict(base, include_stopped=True), check=True), h1)
    # Image tags and digests are left out: other engineers tag the shared lab images meanwhile.
    plain = ('update', 'remote_digest', 'update_reason', 'image_tags', 'repo_digests')
    assert [{k: v for k, v in c.items() if k not in plain} for c in checked['containers']] == [
        {k: v for k, v in c.items() if k not in plain} for c in ok(report, h1)['containers']]
    assert dict(checked['engine'], free_bytes=0) == dict(ok(report, h1)['engine'], free_bytes=0)
    assert all(c['update'] is None for c in checked['containers']) and checked['update_checks'] == []

    running = ok(lab.module(h3, 'container_inventory', base), h3)
    assert [c['name'] for c in running['containers']] == [fleet.name('pinned')]
    exited = ok(lab.module(h3, 'container_inventory', dict(base, status=['exited', 'created'])), h3)
    assert [c['name'] for c in exited['containers']] == sorted(
        [fleet.name('created'), fleet.name('exited'), fleet.name('osrel')])
    compose = ok(lab.module(h2, 'container_inventory', dict(
        base, label=['com.docker.compose.project=' + fleet.project, 'com.docker.compose.service'])), h2)
    assert [c['name'] for c in compose['containers']] == ['%s-db-1' % fleet.project, '%s-web-1' % fleet.project]
    globbed = ok(lab.module(h1, 'container_inventory', dict(base, name=[fleet.name('d*'), fleet.name('side')])), h1)
    assert [c['name'] for c in globbed['containers']] == [fleet.name('db'), fleet.name('side')]


def test_wrong_password_is_unknown_not_a_failure(lab, fleet):
    h1 = fleet.hosts[0]
    res = ok(lab.module(h1, 'container_inventory', {
        'name': ['*%s*' % fleet.uid], 'include_stopped': True, 'check_updates': True,
        'registry_username': lab.registry_user, 'registry_password': 'wrong-' + fleet.uid}), h1)
    assert len(res['containers']) == 4
    for c in res['containers']:
        assert c['update'] == 'unknown' and c['remote_digest'] is None
        assert c['update_reason'].startswith('auth denied: '), c['update_reason']
        assert 'wrong-' + fleet.uid not in c['update_reason']
    assert res['summary']['updates_unknown'] == 4
    assert all(u['error'].startswith('auth denied') for u in res['update_checks'])


def test_stored_credentials_and_registry_host(lab, fleet):
    """Without credentials in the task, the host's Docker client config is used; credentials for
    another registry are not sent to this one."""
    h1 = fleet.hosts[0]
    stored = tempfile.mkdtemp(prefix='patchops-inv-dc-')
    empty = tempfile.mkdtemp(prefix='patchops-inv-dc-')
    try:
        token = '%s:%s' % (lab.registry_user, lab.registry_password)
        with open(os.path.join(stored, 'config.json'), 'w') as fh:
            json.dump({'auths': {lab.registry: {'auth': base64.b64encode(token.encode()).decode()}}}, fh)
        args = {'name': [fleet.name('db')], 'check_updates': True}
        play = [{'hosts': h1, 'gather_facts': False, 'tasks': [
            {'name': 'stored', 'patchops.containers.container_inventory': args,
             'environment': {'DOCKER_CONFIG': stored}},
            {'name': 'elsewhere', 'patchops.containers.container_inventory': dict(
                args, registry_username=lab.registry_user, registry_password=lab.registry_password,
                registry_host='https://registry.example.invalid:5000/'),
             'environment': {'DOCKER_CONFIG': empty}},
        ]}]
        runner, results = lab.playbook(play)
        assert runner.rc == 0, runner.collected_stdout
        by_task = {r['_task']: r for r in results[h1]}
        assert by_task['stored']['containers'][0]['update'] == 'current'
        unknown = by_task['elsewhere']['containers'][0]
        assert unknown['update'] == 'unknown' and unknown['update_reason'].startswith('auth denied')
        assert 'no basic auth credentials' in unknown['update_reason']
        assert lab.registry_password not in runner.collected_stdout
    finally:
        shutil.rmtree(stored, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)


def test_update_available_after_push_without_pull(lab, uid):
    """v2's image pushed (from another host) under the tag a container runs: available, nothing pulled."""
    h1, h2 = HOSTS[0], HOSTS[1]
    repo, tag = '%s/patchops/app' % lab.registry, 'upd-' + uid
    ref = '%s:%s' % (repo, tag)
    name = 'inv-%s-upd' % uid
    api1, api2 = pull(lab, h1, 'patchops/app', 'v1'), pull(lab, h2, 'patchops/app', 'v2')
    args = {'name': [name], 'check_updates': True,
            'registry_username': lab.registry_user, 'registry_password': lab.registry_password}
    try:
        api1.tag(lab.image('v1'), repo, tag)
        first = push(lab, api1, repo, tag)
        api1.start(api1.create_container(ref, name=name)['Id'])
        v1_id = api1.inspect_image(ref)['Id']

        before = ok(lab.module(h1, 'container_inventory', args), h1)['containers'][0]
        assert (before['update'], before['remote_digest']) == ('current', first)
        if lab.kinds[h1] != 'podman':  # Podman re-encodes what it pushes, and records no digest for it
            assert '%s@%s' % (repo, first) in before['repo_digests']

        api2.tag(lab.image('v2'), repo, tag)
        second = push(lab, api2, repo, tag)
        assert second != first
        images = snapshot(api1)
        after = ok(lab.module(h1, 'container_inventory', args), h1)
        assert snapshot(api1) == images  # nothing pulled, nothing tagged
        c = after['containers'][0]
        assert (c['update'], c['remote_digest'], c['update_reason']) == ('available', second, None)
        assert c['image_id'] == v1_id and c['image'] == ref
        assert after['summary']['updates_available'] == 1
        assert after['update_checks'] == [{'reference': ref, 'remote_digest': second, 'error': None}]
    finally:
        try:
            api1.remove_container(name, force=True, v=True)
        except NotFound:
            pass
        for api in (api1, api2):
            try:
                api.remove_image(ref)
            except NotFound:
                pass
        untag_in_registry('patchops/app', tag)


# -- the role and the playbook -------------------------------------------------------------

def test_role_reports_a_stopped_engine_and_an_unreachable_host(lab, fleet):
    h1, h2, h3 = fleet.hosts
    unhealthy = int(shown(lab, h2, 'unhealthy') == 'unhealthy')
    out = tempfile.mkdtemp(prefix='patchops-inv-report-')
    extra = os.path.join(out, 'ghost.ini')
    with open(extra, 'w') as fh:
        # Nothing listens on port 1 of the loopback: SSH fails at once.
        fh.write('[docker_hosts]\nghost-%s ansible_host=127.0.0.1 ansible_port=1\n' % fleet.uid)
    extravars = {
        'inventory_hosts': ','.join(fleet.hosts + ['ghost-%s' % fleet.uid]),  # not the lab's other hosts
        'inventory_report_dir': os.path.join(out, 'reports'),
        'inventory_name_patterns': ['*%s*' % fleet.uid],
        'inventory_registry_username': lab.registry_user,
        'inventory_registry_password': lab.registry_password,
    }
    try:
        lab.lab('fault', 'engine-stop', h3)
        try:
            runner, results = lab.playbook(PLAYBOOK, extravars=extravars, cmdline=['-i', extra])
        finally:
            lab.lab('fault', 'engine-start', h3)
        assert runner.rc == 0, runner.collected_stdout
        ghost = 'ghost-%s' % fleet.uid

        with open(os.path.join(out, 'reports', 'inventory.json')) as fh:
            data = json.load(fh)
        hosts = {h['host']: h for h in data['hosts']}
        assert set(hosts) == {h1, h2, h3, ghost}
        assert hosts[h3]['status'] == 'failed'
        assert hosts[h3]['message'].startswith('Docker engine not answering at unix:///var/run/docker.sock')
        assert hosts[h3]['containers'] == []
        assert hosts[ghost]['status'] == 'unreachable' and hosts[ghost]['message']
        for host, count in ((h1, 4), (h2, 3)):
            assert hosts[host]['status'] == 'ok' and hosts[host]['message'] == ''
            assert len(hosts[host]['containers']) == count
            assert hosts[host]['engine']['name'] == host
            assert all(c['update'] == 'current' for c in hosts[host]['containers'] if c['name'] != fleet.name('broken'))
        assert data['totals'] == {
            'hosts': 4, 'hosts_ok': 2, 'hosts_failed': 1, 'hosts_unreachable': 1, 'containers': 7, 'running': 6,
            'stopped': 1, 'unhealthy': unhealthy, 'updates_available': 0, 'updates_current': 7,
            'updates_unknown': 0}
        assert lab.registry_password not in json.dumps(data)

        with open(os.path.join(out, 'reports', 'inventory.csv'), newline='') as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 7
        assert {(r['host'], r['name']) for r in rows} == {
            (h, c['name']) for h in (h1, h2) for c in hosts[h]['containers']}
        web = [r for r in rows if r['name'] == fleet.name('web')][0]
        assert web['state'] == 'running' and web['health'] == shown(lab, h1, 'healthy') and web['update'] == 'current'
        assert web['restart_policy'] == 'on-failure:3' and web['depends_on'] == fleet.name('db')
        assert web['ports'].startswith('127.0.0.1:') and web['ports'].endswith('->8080/tcp')
        assert web['mounts'] == 'anonymous->/cache bind:%s->/conf named:%s->/data' % (
            fleet.bind_dir, fleet.name('data'))
        assert [r['compose_project'] for r in rows if r['name'].startswith(fleet.project)] == [fleet.project] * 2

        with open(os.path.join(out, 'reports', 'inventory.md')) as fh:
            md = fh.read()
        assert '| %s | ok | 4 | 3 | 0 | 0 | 0 |' % h1 in md
        assert '| %s | ok | 3 | 3 | %d | 0 | 0 |' % (h2, unhealthy) in md
        assert '| %s | failed | 0 | 0 | 0 | 0 | 0 |' % h3 in md
        assert '| %s | unreachable |' % ghost in md
        assert '## Hosts not inventoried' in md and ('## Unhealthy containers' in md) == bool(unhealthy)
        sections = dict(part.split('\n', 1) for part in md.split('\n## ')[1:])
        assert ('| %s | %s |' % (h2, fleet.name('broken')) in sections.get('Unhealthy containers', '')) == bool(unhealthy)

        # The set_stats artifact, as AWX receives it.
        stats = [e for e in runner.collected_events if e.get('event') == 'playbook_on_stats']
        artifact = stats[-1]['event_data']['artifact_data']['patchops_inventory']
        assert artifact['totals'] == data['totals']
        assert artifact['report_dir'] == os.path.join(out, 'reports')
        assert artifact['files'] == {k: os.path.join(out, 'reports', 'inventory.' + e)
                                     for k, e in (('json', 'json'), ('csv', 'csv'), ('markdown', 'md'), ('html', 'html'))}
        assert artifact['hosts'][h3]['status'] == 'failed' and artifact['hosts'][ghost]['status'] == 'unreachable'
        assert artifact['hosts'][h2] == {'status': 'ok', 'message': '', 'containers': 3, 'running': 3,
                                         'unhealthy': unhealthy, 'updates_available': 0, 'updates_unknown': 0,
                                         'with_updates': []}
        assert 'Report written to %s' % os.path.join(out, 'reports', 'inventory.json') in runner.collected_stdout
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_role_shows_scanner_severity_counts(lab, tmp_path):
    """inventory_scan_reports: per-container severity counts in the JSON and Markdown reports."""
    from ansible_collections.patchops.containers.plugins.module_utils._scan_report import count_by_severity, load_report

    name = 'scanned-%s' % uuid.uuid4().hex[:8]
    report_file = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'scan', 'trivy-debian-current.json')
    api = lab.pull(HOSTS[0], 'v1')
    api.create_container(lab.image('v1'), name=name)
    try:
        runner, dummy = lab.playbook(PLAYBOOK, extravars={
            'inventory_hosts': HOSTS[0], 'inventory_report_dir': str(tmp_path), 'inventory_check_updates': False,
            'inventory_scan_reports': [{'name': name, 'report': report_file}]})
        assert runner.rc == 0, runner.collected_stdout[-3000:]
        with open(tmp_path / 'inventory.json') as fh:
            data = json.load(fh)
        expected = count_by_severity(load_report(report_file)['findings'])
        assert data['vulnerabilities'][name] == expected and sum(expected.values()) > 0
        markdown = (tmp_path / 'inventory.md').read_text()
        assert '| %s | %d | %d |' % (name, expected['CRITICAL'], expected['HIGH']) in markdown
    finally:
        api.remove_container(name, force=True)


def test_summary_detail_is_the_list_call_and_agrees_with_full(lab, fleet):
    """detail=summary makes no inspect: every field it has equals the full inventory's, and the
    fields only an inspect gives are null."""
    only_inspect = ('started_at', 'finished_at', 'restart_count', 'restart_policy', 'dependencies', 'depends_on',
                    'stop')
    # Left out: the update check (not asked here), tags and digests (other tests tag the shared images).
    plain = ('update', 'remote_digest', 'update_reason', 'image_tags', 'repo_digests')
    args = {'name': ['*%s*' % fleet.uid], 'include_stopped': True}
    for host in fleet.hosts:
        # Both now, one after the other: earlier tests here stop and restart this fleet's engines.
        summary = ok(lab.module(host, 'container_inventory', dict(args, detail='summary')), host)
        fresh = ok(lab.module(host, 'container_inventory', args), host)
        assert summary['detail'] == 'summary' and fresh['detail'] == 'full'
        full = by_name(fresh)
        assert sorted(c['name'] for c in summary['containers']) == sorted(full)
        for c in summary['containers']:
            want = full[c['name']]
            assert all(c[k] is None for k in only_inspect), c['name']
            assert c['created'] == want['created'][:19] + 'Z'  # to the second
            if want['compose']:
                assert c['compose']['verdict'] is None and c['compose']['project'] == want['compose']['project']
            if lab.kinds[host] == 'podman':  # its list shows no health (status text without it)
                assert c['health'] is None
            else:
                assert c['health'] == want['health'], c['name']
            podman_follower = lab.kinds[host] == 'podman' and want['network_mode'].startswith('container:')
            expected_ports = want['ports'] if want['state'] == 'running' else []
            if not podman_follower:  # Podman's list shows such a container with its provider's ports and networks
                assert c['ports'] == expected_ports, c['name']
                assert c['networks'] == [dict(n, aliases=None) for n in want['networks']], c['name']
            if lab.kinds[host] == 'podman':  # its list has no HostConfig
                assert c['network_mode'] == ''
            else:
                assert c['network_mode'] == want['network_mode']
            skip = set(only_inspect + plain + ('created', 'compose', 'health', 'ports', 'network_mode', 'networks'))
            diff = {k: (c[k], want[k]) for k in c if k not in skip and c[k] != want[k]}
            assert not diff, (c['name'], c['state'], diff)
        assert summary['summary']['containers'] == fresh['summary']['containers']
