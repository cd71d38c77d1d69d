# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One container of the inventory (``_container_record``): the selection of list entries, and the
record's ports, mounts and compose labels read from an inspect."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils import _container_record as inv


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


def test_engine_time_zero_is_none():
    assert inv.engine_time('0001-01-01T00:00:00Z') is None
    assert inv.engine_time('') is None and inv.engine_time(None) is None
    assert inv.engine_time('2025-03-01T10:00:00.123456789Z') == '2025-03-01T10:00:00.123456789Z'


def test_networks_aliases_without_the_own_id():
    cid = 'f' * 64
    inspect = {'Id': cid, 'HostConfig': {'NetworkMode': 'shop_default'}, 'NetworkSettings': {'Networks': {
        'shop_default': {'NetworkID': 'n1', 'IPAddress': '172.18.0.2', 'Gateway': '172.18.0.1',
                         'MacAddress': '02:42:ac:12:00:02', 'Aliases': ['web', cid[:12]],
                         'IPAMConfig': {'IPv4Address': '172.18.0.2'}},
        'bridge': {'NetworkID': 'n0', 'Aliases': None}}}}
    assert inv.networks(inspect) == [
        {'name': 'bridge', 'id': 'n0', 'ip_address': '', 'ipv6_address': '', 'gateway': '', 'mac_address': '',
         'aliases': [], 'static_ipv4': '', 'static_ipv6': ''},
        {'name': 'shop_default', 'id': 'n1', 'ip_address': '172.18.0.2', 'ipv6_address': '',
         'gateway': '172.18.0.1', 'mac_address': '02:42:ac:12:00:02', 'aliases': ['web'],
         'static_ipv4': '172.18.0.2', 'static_ipv6': ''}]


def test_a_container_in_another_namespace_has_no_networks_or_ports():
    inspect = {'HostConfig': {'NetworkMode': 'container:' + 'a' * 64}, 'State': {'Running': True},
               'NetworkSettings': {'Networks': {'bridge': {}}, 'Ports': {'80/tcp': [{'HostPort': '8080'}]}}}
    assert inv.networks(inspect) == [] and inv.ports(inspect) == []


def test_from_list_reads_health_exit_code_and_published_ports():
    listed = dict(entry('web', labels={'tier': 'front'}), Image='web:1', ImageID='sha256:' + 'c' * 64,
                  Status='Up 5 minutes (healthy)', Created=0, HostConfig={'NetworkMode': 'bridge'},
                  Ports=[{'PrivatePort': 80, 'Type': 'tcp', 'PublicPort': 8080, 'IP': '0.0.0.0'},
                         {'PrivatePort': 443, 'Type': 'tcp'}])
    view = inv.from_list(listed)
    assert view['Name'] == '/web' and view['Image'] == 'sha256:' + 'c' * 64
    assert view['Created'] == '1970-01-01T00:00:00Z'
    assert view['Config'] == {'Image': 'web:1', 'Labels': {'tier': 'front'}}
    assert view['State'] == {'Status': 'running', 'Running': True, 'Health': {'Status': 'healthy'}, 'ExitCode': 0}
    assert view['NetworkSettings']['Ports'] == {'80/tcp': [{'HostIp': '0.0.0.0', 'HostPort': '8080'}]}
    assert inv.ports(view) == [{'container_port': 80, 'protocol': 'tcp', 'host_ip': '0.0.0.0', 'host_port': 8080}]
    exited = inv.from_list(dict(entry('job', state='exited'), Status='Exited (137) 2 hours ago'))
    assert exited['State']['ExitCode'] == 137 and exited['State']['Health'] is None
