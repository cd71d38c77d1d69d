"""Pure helpers of the container inventory (the engine side is covered by tests/integration)."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils import _deps
from ansible_collections.patchops.containers.plugins.module_utils import _inventory as inv
from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse

ID_A = 'a' * 64
ID_B = 'b' * 64
DIGEST_1 = 'sha256:' + '1' * 64
DIGEST_2 = 'sha256:' + '2' * 64


def entry(name, state='running', labels=None, cid=None, extra_names=()):
    return {'Id': cid or (name * 64)[:64], 'Names': ['/' + name] + list(extra_names), 'State': state,
            'Labels': labels or {}}


class TestSelect:
    ENTRIES = [
        entry('web-1', labels={'tier': 'front', 'team': 'a'}),
        entry('web-2', state='exited', labels={'tier': 'front'}),
        entry('db', state='paused', labels={'tier': 'back'}),
        entry('job', state='created'),
    ]

    def names(self, **kw):
        return [inv._name(e) for e in inv.select(self.ENTRIES, **kw)]

    def test_running_paused_restarting_by_default(self):
        assert self.names() == ['web-1', 'db']

    def test_include_stopped(self):
        assert self.names(include_stopped=True) == ['web-1', 'web-2', 'db', 'job']

    def test_status_wins_over_include_stopped(self):
        assert self.names(statuses=['exited', 'created']) == ['web-2', 'job']

    def test_name_globs_any(self):
        assert self.names(names=['web-*', 'job'], include_stopped=True) == ['web-1', 'web-2', 'job']

    def test_labels_all(self):
        assert self.names(labels=['tier=front', 'team'], include_stopped=True) == ['web-1']
        assert self.names(labels=['tier'], include_stopped=True) == ['web-1', 'web-2', 'db']
        assert self.names(labels=['tier=back'], include_stopped=True) == ['db']

    def test_link_names_are_not_the_name(self):
        e = entry('db', extra_names=['/web/db'])
        e['Names'] = ['/web/db', '/db']
        assert inv._name(e) == 'db'


def test_ports_running_uses_bindings_in_effect():
    inspect = {'State': {'Running': True},
               'NetworkSettings': {'Ports': {'8080/tcp': [{'HostIp': '127.0.0.1', 'HostPort': '32768'}],
                                             '53/udp': [{'HostIp': '', 'HostPort': '53'}],
                                             '9000/tcp': None}},
               'HostConfig': {'PortBindings': {'8080/tcp': [{'HostIp': '127.0.0.1', 'HostPort': ''}]}}}
    assert inv.ports(inspect) == [
        {'container_port': 53, 'protocol': 'udp', 'host_ip': '', 'host_port': 53},
        {'container_port': 8080, 'protocol': 'tcp', 'host_ip': '127.0.0.1', 'host_port': 32768},
    ]


def test_ports_stopped_uses_configuration():
    inspect = {'State': {'Running': False}, 'NetworkSettings': {'Ports': {}},
               'HostConfig': {'PortBindings': {'8080/tcp': [{'HostIp': '', 'HostPort': ''}]}}}
    assert inv.ports(inspect) == [{'container_port': 8080, 'protocol': 'tcp', 'host_ip': '', 'host_port': None}]


def test_mounts_kinds():
    inspect = {'Mounts': [
        {'Type': 'volume', 'Name': 'c' * 64, 'Source': '/v/c/_data', 'Destination': '/data', 'Driver': 'local',
         'Mode': '', 'RW': True, 'Propagation': ''},
        {'Type': 'volume', 'Name': 'pgdata', 'Source': '/v/pg/_data', 'Destination': '/var/lib/pg',
         'Driver': 'local', 'Mode': 'z', 'RW': True, 'Propagation': ''},
        {'Type': 'bind', 'Source': '/srv/conf', 'Destination': '/conf', 'Mode': 'ro', 'RW': False,
         'Propagation': 'rprivate'},
        {'Type': 'tmpfs', 'Source': '', 'Destination': '/run', 'Mode': '', 'RW': True, 'Propagation': ''},
    ]}
    got = inv.mounts(inspect)
    assert [(m['type'], m['destination']) for m in got] == [
        ('bind', '/conf'), ('anonymous', '/data'), ('tmpfs', '/run'), ('named', '/var/lib/pg')]
    assert got[0] == {'type': 'bind', 'name': None, 'source': '/srv/conf', 'destination': '/conf', 'driver': None,
                      'mode': 'ro', 'rw': False, 'propagation': 'rprivate'}


def test_compose_info():
    labels = {'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web',
              'com.docker.compose.project.working_dir': '/srv/shop',
              'com.docker.compose.project.config_files': '/srv/shop/compose.yaml,/srv/shop/override.yaml',
              'com.docker.compose.container-number': '2'}
    assert inv.compose_info(labels) == {
        'project': 'shop', 'service': 'web', 'working_dir': '/srv/shop',
        'config_files': ['/srv/shop/compose.yaml', '/srv/shop/override.yaml'], 'container_number': 2}
    assert inv.compose_info({'a': 'b'}) is None


def test_parse_compose_depends_on():
    assert _deps.parse_compose_depends_on('db:service_healthy:false, cache:service_started:true,old,') == [
        ('db', 'service_healthy'), ('cache', 'service_started'), ('old', None)]
    assert _deps.parse_compose_depends_on(None) == []


def test_dependencies_every_kind():
    compose = {'com.docker.compose.project': 'shop'}
    index = _deps.Index([
        entry('db', cid=ID_A),
        entry('vpn', cid=ID_B),
        dict(entry('shop-db-1'), Labels=dict(compose, **{'com.docker.compose.service': 'db'})),
        dict(entry('shop-db-2'), Labels=dict(compose, **{'com.docker.compose.service': 'db'})),
        dict(entry('other-db-1'), Labels={'com.docker.compose.project': 'other',
                                          'com.docker.compose.service': 'db'}),
    ])
    inspect = {
        'HostConfig': {'Links': ['/db:/web/database'], 'NetworkMode': 'container:' + ID_B,
                       'PidMode': 'container:bbbbbbbb', 'IpcMode': 'shareable', 'VolumesFrom': ['db:ro']},
        'Config': {'Labels': dict(compose, **{
            'patchops.depends-on': 'vpn, ghost',
            'com.docker.compose.depends_on': 'db:service_healthy:false,cache:service_started:false'})},
    }
    deps = _deps.dependencies(inspect, index)
    assert deps == [
        {'kind': 'link', 'name': 'db', 'resolved': True, 'alias': 'database'},
        {'kind': 'netns', 'name': 'vpn', 'resolved': True},
        {'kind': 'pid', 'name': 'vpn', 'resolved': True},
        {'kind': 'volumes_from', 'name': 'db', 'resolved': True},
        {'kind': 'label', 'name': 'vpn', 'resolved': True},
        {'kind': 'label', 'name': 'ghost', 'resolved': False},
        {'kind': 'compose', 'name': 'shop-db-1', 'resolved': True, 'service': 'db', 'condition': 'service_healthy'},
        {'kind': 'compose', 'name': 'shop-db-2', 'resolved': True, 'service': 'db', 'condition': 'service_healthy'},
        {'kind': 'compose', 'name': None, 'resolved': False, 'service': 'cache', 'condition': 'service_started'},
    ]


def test_links_on_user_defined_networks():
    inspect = {'HostConfig': {'NetworkMode': 'shop_default'}, 'Config': {},
               'NetworkSettings': {'Networks': {'shop_default': {'Links': ['db:database']}}}}
    assert _deps.dependencies(inspect, _deps.Index([entry('db')])) == [
        {'kind': 'link', 'name': 'db', 'resolved': True, 'alias': 'database'}]


def test_unresolved_namespace_keeps_the_reference():
    deps = _deps.dependencies({'HostConfig': {'NetworkMode': 'container:' + ID_A}, 'Config': {}}, _deps.Index([]))
    assert deps == [{'kind': 'netns', 'name': ID_A, 'resolved': False}]


IMAGE = {'RepoDigests': ['reg:5000/app@' + DIGEST_1, 'other.example/app@' + DIGEST_2]}


@pytest.mark.parametrize('reference, image, reason', [
    ('reg:5000/app@' + DIGEST_1, IMAGE, 'pinned by digest'),
    ('reg:5000/app:1@' + DIGEST_1, IMAGE, 'pinned by digest'),
    ('sha256:' + 'c' * 64, IMAGE, 'created from an image ID, not a reference'),
    ('Bad Ref', IMAGE, 'invalid reference'),
    ('', IMAGE, 'the container has no image reference'),
    ('reg:5000/app:1', {'RepoDigests': []}, 'the image has no registry digest (built or loaded locally)'),
    ('reg:5000/app:1', None, 'the image has no registry digest (built or loaded locally)'),
])
def test_check_plan_unknown_without_asking(reference, image, reason):
    ref, why = inv.check_plan(reference, image)
    assert ref is None and why.startswith(reason)


def test_check_plan_asks_for_tagged_reference():
    ref, why = inv.check_plan('reg:5000/app', IMAGE)
    assert why is None and ref.tagged() == 'reg:5000/app:latest'


def test_update_verdict():
    ref = parse('reg:5000/app:1')
    assert inv.update_verdict(ref, IMAGE, DIGEST_1, None) == ('current', None)
    assert inv.update_verdict(ref, IMAGE, 'sha256:' + '9' * 64, None) == ('available', None)
    assert inv.update_verdict(ref, IMAGE, None, 'auth denied: x') == ('unknown', 'auth denied: x')
    assert inv.update_verdict(ref, IMAGE, None, None) == ('unknown', 'the registry gave no digest')
    # Same content pushed to another repository has the same digest: still current.
    assert inv.update_verdict(parse('third.example/app:1'), IMAGE, DIGEST_2, None) == ('current', None)
    verdict, why = inv.update_verdict(parse('third.example/app:1'), IMAGE, 'sha256:' + '9' * 64, None)
    assert verdict == 'unknown' and 'third.example/app' in why


def test_summarise():
    def c(state, health=None, update=None, image='i1'):
        return {'state': state, 'health': health, 'update': update, 'image_id': image}
    containers = [c('running', 'unhealthy', 'available'), c('running', 'healthy', 'current', 'i2'),
                  c('exited', None, 'unknown'), c('running', None, 'available')]
    containers[3]['stop'] = {'kill_risk': True}
    assert inv.summarise(containers, True) == {
        'containers': 4, 'running': 3, 'stopped': 1, 'unhealthy': 1, 'kill_risk': 1, 'images': 2,
        'updates_available': 2, 'updates_current': 1, 'updates_unknown': 1}
    assert inv.summarise(containers, False)['updates_available'] == 0
