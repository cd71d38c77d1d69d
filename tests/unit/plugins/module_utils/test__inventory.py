"""Pure helpers of the container inventory (the engine side is covered by tests/integration); the
record fields are test__container_record.py's, the update verdict test__update_check.py's."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils import _deps
from ansible_collections.patchops.containers.plugins.module_utils import _inventory as inv

ID_A = 'a' * 64
ID_B = 'b' * 64


def entry(name, state='running', labels=None, cid=None, extra_names=()):
    return {'Id': cid or (name * 64)[:64], 'Names': ['/' + name] + list(extra_names), 'State': state,
            'Labels': labels or {}}


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
