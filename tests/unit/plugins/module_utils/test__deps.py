# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_deps: container dependencies and the order to recreate them in."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._deps import (
    COMPOSE_DEPENDS,
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
    DEPENDS_LABEL,
    CycleError,
    Index,
    dependencies,
    entry_name,
    followed,
    needed_names,
    order,
    parse_compose_depends_on,
)

DB_ID = '7bdc25d1694ef984782a16f6f1710c1c6bc83ba7a131b515baf532bea021d011'
WEB_ID = '4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2'
# Two IDs that share their first 6 characters, for ambiguous prefixes.
CACHE_ID = '7bdc25aa00000000000000000000000000000000000000000000000000000001'
QUEUE_ID = '9e1f00c3d5b7a9e1f3c5b7d9e1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9'


def entry(cid, *names, **labels):
    """A /containers/json entry."""
    return {'Id': cid, 'Names': ['/' + n for n in names], 'Image': 'busybox', 'Labels': labels, 'State': 'running'}


@pytest.fixture
def index():
    return Index([
        # db is the target of a legacy link from web: the engine lists the link name too.
        entry(DB_ID, 'web/database', 'db', **{COMPOSE_PROJECT: 'shop', COMPOSE_SERVICE: 'db'}),
        entry(WEB_ID, 'web', **{COMPOSE_PROJECT: 'shop', COMPOSE_SERVICE: 'web'}),
        entry(CACHE_ID, 'cache-2', **{COMPOSE_PROJECT: 'shop', COMPOSE_SERVICE: 'cache'}),
        entry(QUEUE_ID, 'cache-1', **{COMPOSE_PROJECT: 'shop', COMPOSE_SERVICE: 'cache'}),
    ])


def inspect(host=None, labels=None, networks=None):
    return {'Id': 'f' * 64, 'Name': '/app', 'HostConfig': host or {}, 'Config': {'Labels': labels or {}},
            'NetworkSettings': {'Networks': networks or {}}}


# -- entry_name, parse_compose_depends_on ---------------------------------------------


@pytest.mark.parametrize('names, expected', [
    (['/web'], 'web'),
    (['/web/database', '/db'], 'db'),  # a link name first: the primary name is the one without a slash
    (['/db', '/web/database', '/api/db'], 'db'),
    (['/web/database'], 'web/database'),  # only link names: the first
])
def test_entry_name(names, expected):
    assert entry_name({'Id': DB_ID, 'Names': names}) == expected


def test_entry_name_without_names_is_the_short_id():
    assert entry_name({'Id': DB_ID, 'Names': []}) == '7bdc25d1694e'
    assert entry_name({'Id': DB_ID}) == '7bdc25d1694e'


@pytest.mark.parametrize('text, expected', [
    ('db:service_healthy:false,cache:service_started:true', [('db', 'service_healthy'), ('cache', 'service_started')]),
    ('db:service_started', [('db', 'service_started')]),  # compose before 2.20
    ('db', [('db', None)]),
    ('db::true', [('db', None)]),
    (' db:service_healthy , ,cache:service_started ', [('db', 'service_healthy'), ('cache', 'service_started')]),
    ('', []),
    (None, []),
])
def test_parse_compose_depends_on(text, expected):
    assert parse_compose_depends_on(text) == expected


# -- Index ----------------------------------------------------------------------------


def test_index_maps(index):
    assert index.by_name == {'db': DB_ID, 'web': WEB_ID, 'cache-2': CACHE_ID, 'cache-1': QUEUE_ID}
    assert index.by_id[DB_ID] == 'db'
    assert index.services == {('shop', 'db'): ['db'], ('shop', 'web'): ['web'],
                              ('shop', 'cache'): ['cache-1', 'cache-2']}  # sorted


@pytest.mark.parametrize('ref, expected', [
    ('db', 'db'),
    ('/db', 'db'),
    (DB_ID, 'db'),
    (WEB_ID[:12], 'web'),
    (WEB_ID[:4], 'web'),  # unique prefix of 4
    ('7bdc25d', 'db'),  # unique once long enough
    ('7bdc25', None),  # ambiguous: db and cache-2
    ('4b5', None),  # shorter than 4
    ('nosuch', None),
    ('', None),
    (None, None),
])
def test_index_resolve(index, ref, expected):
    assert index.resolve(ref) == expected


def test_index_resolve_prefers_a_name_over_an_id_prefix():
    named = Index([entry(DB_ID, 'db'), entry('abcd' + '0' * 60, '7bdc')])
    assert named.resolve('7bdc') == '7bdc'


# -- dependencies -----------------------------------------------------------------------


def test_dependencies_every_kind(index):
    app = inspect(
        host={'Links': ['/db:/app/database'], 'NetworkMode': 'container:%s' % WEB_ID,
              'PidMode': 'container:web', 'IpcMode': 'container:%s' % WEB_ID[:12], 'VolumesFrom': ['db:ro', 'cache-1']},
        labels={DEPENDS_LABEL: 'cache-2, nosuch', COMPOSE_PROJECT: 'shop',
                COMPOSE_DEPENDS: 'cache:service_started:false,mail:service_healthy:true'},
        networks={'backend': {'Links': ['db:sql', 'queue']}})
    assert dependencies(app, index) == [
        {'kind': 'link', 'name': 'db', 'resolved': True, 'alias': 'database'},
        {'kind': 'link', 'name': 'db', 'resolved': True, 'alias': 'sql'},
        {'kind': 'link', 'name': 'queue', 'resolved': False, 'alias': None},
        {'kind': 'netns', 'name': 'web', 'resolved': True},
        {'kind': 'pid', 'name': 'web', 'resolved': True},
        {'kind': 'ipc', 'name': 'web', 'resolved': True},
        {'kind': 'volumes_from', 'name': 'db', 'resolved': True},
        {'kind': 'volumes_from', 'name': 'cache-1', 'resolved': True},
        {'kind': 'label', 'name': 'cache-2', 'resolved': True},
        {'kind': 'label', 'name': 'nosuch', 'resolved': False},
        {'kind': 'compose', 'name': 'cache-1', 'resolved': True, 'service': 'cache', 'condition': 'service_started'},
        {'kind': 'compose', 'name': 'cache-2', 'resolved': True, 'service': 'cache', 'condition': 'service_started'},
        {'kind': 'compose', 'name': None, 'resolved': False, 'service': 'mail', 'condition': 'service_healthy'},
    ]


def test_dependencies_none(index):
    assert dependencies(inspect(host={'NetworkMode': 'frontend', 'IpcMode': 'private', 'PidMode': ''}), index) == []
    assert dependencies({}, index) == []


def test_compose_depends_on_within_the_own_project_only(index):
    other = inspect(labels={COMPOSE_PROJECT: 'billing', COMPOSE_DEPENDS: 'db:service_started:false'})
    assert dependencies(other, index) == [
        {'kind': 'compose', 'name': None, 'resolved': False, 'service': 'db', 'condition': 'service_started'}]


def test_needed_names_resolved_and_unique(index):
    app = inspect(host={'Links': ['/db:/app/database'], 'VolumesFrom': ['db'], 'NetworkMode': 'container:web'},
                  labels={DEPENDS_LABEL: 'nosuch'})
    assert needed_names(app, index) == ['db', 'web']


# -- followed -----------------------------------------------------------------------------


@pytest.mark.parametrize('key, what', [
    ('NetworkMode', 'network namespace'), ('IpcMode', 'IPC namespace'), ('PidMode', 'PID namespace')])
@pytest.mark.parametrize('ref', [WEB_ID, WEB_ID[:12], 'web'])
def test_followed_namespaces_by_id_or_name(index, key, what, ref):
    assert followed(inspect(host={key: 'container:%s' % ref}), index) == [('web', what)]


def test_followed_legacy_links(index):
    app = inspect(host={'Links': ['/db:/app/database', '/db:/app/sql', '/web:/app/web']})
    assert followed(app, index) == [('db', 'link'), ('web', 'link')]


def test_followed_every_kind_in_order(index):
    app = inspect(host={'NetworkMode': 'container:%s' % WEB_ID, 'IpcMode': 'container:web',
                        'PidMode': 'container:%s' % DB_ID, 'Links': ['/db:/app/database']})
    assert followed(app, index) == [('web', 'network namespace'), ('web', 'IPC namespace'),
                                    ('db', 'PID namespace'), ('db', 'link')]


def test_endpoint_links_on_user_networks_not_followed(index):
    """A link on a user-defined network resolves by name through the engine's DNS: nothing to follow."""
    app = inspect(networks={'backend': {'Links': ['db:database']}}, host={'NetworkMode': 'backend'})
    assert followed(app, index) == []
    assert [d['kind'] for d in dependencies(app, index)] == ['link']  # still a dependency for the order


def test_not_followed(index):
    app = inspect(host={'NetworkMode': 'host', 'IpcMode': 'shareable', 'PidMode': 'host',
                        'VolumesFrom': ['db'], 'Links': ['/gone:/app/gone']},
                  labels={DEPENDS_LABEL: 'web'})
    assert followed(app, index) == []


# -- order ----------------------------------------------------------------------------------


def test_order_keeps_the_given_order_without_edges():
    assert order(['c', 'a', 'b'], {}) == ['c', 'a', 'b']


def test_order_providers_first():
    assert order(['web', 'worker', 'db', 'cache'], {'web': ['db', 'cache'], 'worker': ['db']}) == \
        ['db', 'cache', 'web', 'worker']


def test_order_transitive_and_stable():
    edges = {'a': ['b'], 'b': ['c'], 'd': ['c']}
    assert order(['a', 'd', 'b', 'c'], edges) == ['c', 'b', 'a', 'd']
    assert order(['d', 'a', 'b', 'c'], edges) == ['c', 'd', 'b', 'a']


def test_order_ignores_names_outside_and_duplicates():
    assert order(['web', 'web', 'api'], {'web': ['db', 'api'], 'api': ['nosuch']}) == ['api', 'web']


def test_order_cycle_error_names_the_cycle():
    with pytest.raises(CycleError) as info:
        order(['a', 'b', 'c'], {'a': ['b'], 'b': ['c'], 'c': ['a']})
    assert str(info.value) == 'dependency cycle between containers: a -> b -> c -> a'


def test_order_cycle_reached_from_outside_it():
    with pytest.raises(CycleError) as info:
        order(['web', 'db', 'cache'], {'web': ['db'], 'db': ['cache'], 'cache': ['db']})
    assert str(info.value) == 'dependency cycle between containers: web -> db -> cache -> db'


def test_order_self_dependency_is_a_cycle():
    with pytest.raises(CycleError) as info:
        order(['a'], {'a': ['a']})
    assert str(info.value) == 'dependency cycle between containers: a -> a'


def test_cycle_error_is_a_value_error():
    assert issubclass(CycleError, ValueError)
