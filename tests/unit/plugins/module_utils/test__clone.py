# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_clone: docker inspect (Engine API 1.41 shape, tests/unit/fixtures/clone/) -> the create request."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._clone import (
    anonymous_volumes,
    clone,
    configured_macs,
    network_mode,
    operator_aliases,
    pinned_identity,
    podman_addresses,
    shares_netns,
    writable_storage,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'clone')

WEB_ID = '4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2'
DATA_VOLUME = '0d6eb03cc557f6aeed1357a47c82a65e5d180f06b125da5526ec9652be90ca2b'
CACHE_VOLUME = 'bb88307821c6ff0489b0e0cf5c15a21a2f3e9674df88882c3af7e0d6a32b8358'
NEW_REF = 'registry.example.com/shop/web:1.4.2'


def load(name):
    with open(os.path.join(FIXTURES, name)) as fh:
        return json.load(fh)


@pytest.fixture
def web():
    return load('web.json')


@pytest.fixture
def web_image():
    return load('image-web-1.4.1.json')


@pytest.fixture
def busybox():
    return load('image-busybox.json')


PLANNED_NAMES = {WEB_ID: 'web', WEB_ID[:12]: 'web', 'db': 'db', 'db-patchops-old': 'db'}


def planned_name(ref):
    """What Swapper._name_of gives: the name a container has in the plan."""
    return PLANNED_NAMES.get(ref, ref)


# -- the whole request ------------------------------------------------------------


def test_web_create_request(web, web_image):
    original = copy.deepcopy(web)
    body, extra = clone(web, web_image, NEW_REF)

    host = body.pop('HostConfig')
    assert body == {
        'AttachStderr': False, 'AttachStdin': False, 'AttachStdout': False,
        'Domainname': '',
        'Env': ['LANG=de_DE.UTF-8', 'APP_MODE=production'],
        'ExposedPorts': {'8080/tcp': {}},
        'Image': NEW_REF,
        'Labels': {'com.example.team': 'shop'},
        'OpenStdin': False, 'StdinOnce': False, 'Tty': False,
        'Volumes': {'/cache': {}},
        'NetworkingConfig': {'EndpointsConfig': {
            'frontend': {'Aliases': ['shop'], 'IPAMConfig': {'IPv4Address': '172.28.0.10'}}}},
    }
    assert extra == [('backend', {'Aliases': ['web-api'], 'Links': ['db:database']})]

    # HostConfig is kept as the operator set it: only the container ID file goes, the anonymous
    # volumes are added to the binds.
    expected_host = copy.deepcopy(original['HostConfig'])
    del expected_host['ContainerIDFile']
    expected_host['Binds'] = ['/srv/web/conf:/etc/app:ro', 'web-uploads:/srv/app/uploads',
                              '%s:/data' % DATA_VOLUME, '%s:/cache' % CACHE_VOLUME]
    assert host == expected_host
    assert web == original  # the inspect given is not changed


def test_new_image_reference_replaces_the_old(web, web_image):
    body, dummy = clone(web, web_image, 'sha256:f36f695b1f7272b8d19d9f1d86ef4a92e19db1c287f8146ce03499728b650a92')
    assert body['Image'] == 'sha256:f36f695b1f7272b8d19d9f1d86ef4a92e19db1c287f8146ce03499728b650a92'


def test_build_only_keys_dropped(web, web_image):
    web['Config'].update(OnBuild=['RUN true'], Shell=['/bin/bash', '-c'], ArgsEscaped=True)
    body, dummy = clone(web, web_image, NEW_REF)
    assert not {'OnBuild', 'Shell', 'ArgsEscaped'} & set(body)


def test_no_old_image_keeps_everything(web):
    """Without the old image's inspect nothing can be told apart from a default: all is kept."""
    body, dummy = clone(web, None, NEW_REF)
    assert body['Env'] == web['Config']['Env']
    assert body['Labels'] == web['Config']['Labels']
    assert body['Entrypoint'] == ['/app/bin/docker-entrypoint']
    assert body['Cmd'] == ['serve', '--port', '8080']
    assert body['User'] == 'app'
    assert body['ExposedPorts'] == {'8080/tcp': {}, '9090/tcp': {}}


# -- image defaults, one rule each ----------------------------------------------------


def test_env_image_entries_subtracted(web, web_image):
    web['Config']['Env'].append('APP_VERSION=1.4.0')  # the operator's value, not the image's
    body, dummy = clone(web, web_image, NEW_REF)
    # PATH and APP_VERSION=1.4.1 were the image's; LANG overrides the image's C.UTF-8.
    assert body['Env'] == ['LANG=de_DE.UTF-8', 'APP_MODE=production', 'APP_VERSION=1.4.0']


def test_env_equal_to_the_image_default_follows_the_new_image(web, web_image):
    web['Config']['Env'] = list(web_image['Config']['Env'])
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['Env'] == []


def test_labels_equal_to_the_image_subtracted(web, web_image):
    web['Config']['Labels']['org.opencontainers.image.source'] = 'https://git.example.com/fork/web'
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['Labels'] == {'com.example.team': 'shop',
                              'org.opencontainers.image.source': 'https://git.example.com/fork/web'}


def test_cmd_and_entrypoint_of_the_image_dropped(web, web_image):
    body, dummy = clone(web, web_image, NEW_REF)
    assert 'Entrypoint' not in body
    assert 'Cmd' not in body


def test_cmd_of_the_operator_kept_with_the_image_entrypoint(web, web_image):
    web['Config']['Cmd'] = ['serve', '--port', '8081']
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['Cmd'] == ['serve', '--port', '8081']
    assert 'Entrypoint' not in body


def test_cmd_kept_when_the_entrypoint_changed(web, web_image):
    """Cmd equal to the image's is dropped only with an unchanged Entrypoint."""
    web['Config']['Entrypoint'] = ['/usr/bin/tini', '--', '/app/bin/docker-entrypoint']
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['Entrypoint'] == ['/usr/bin/tini', '--', '/app/bin/docker-entrypoint']
    assert body['Cmd'] == ['serve', '--port', '8080']


def test_no_entrypoint_in_image_or_container(busybox):
    worker = load('worker.json')
    body, dummy = clone(worker, busybox, 'registry.example.com/base/busybox:1.37')
    assert 'Entrypoint' not in body
    assert body['Cmd'] == ['sh', '-c', 'exec /usr/local/bin/worker --db database:5432']
    worker['Config']['Cmd'] = ['sh']
    body, dummy = clone(worker, busybox, 'registry.example.com/base/busybox:1.37')
    assert 'Cmd' not in body


@pytest.mark.parametrize('key, own', [('WorkingDir', '/srv/other'), ('User', '1000:1000'), ('StopSignal', 'SIGTERM')])
def test_scalars_equal_to_the_image_dropped_others_kept(web, web_image, key, own):
    body, dummy = clone(web, web_image, NEW_REF)
    assert key not in body
    web['Config'][key] = own
    body, dummy = clone(web, web_image, NEW_REF)
    assert body[key] == own


def test_stop_signal_of_the_operator_kept(busybox):
    body, dummy = clone(load('worker.json'), busybox, 'busybox:1.37')
    assert body['StopSignal'] == 'SIGINT'


def test_healthcheck_of_the_image_dropped(web, web_image):
    body, dummy = clone(web, web_image, NEW_REF)
    assert 'Healthcheck' not in body


@pytest.mark.parametrize('healthcheck', [
    {'Test': ['NONE']},
    {'Test': ['CMD', '/app/bin/web', 'health'], 'Interval': 30000000000, 'Timeout': 2000000000, 'Retries': 3},
])
def test_healthcheck_of_the_operator_kept(web, web_image, healthcheck):
    web['Config']['Healthcheck'] = healthcheck
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['Healthcheck'] == healthcheck


def test_exposed_ports_of_the_image_dropped_unless_published(web, web_image):
    web['Config']['ExposedPorts']['5000/udp'] = {}  # the operator's --expose
    body, dummy = clone(web, web_image, NEW_REF)
    # 8080 is the image's but published; 9090 only the image's; 5000/udp not the image's.
    assert body['ExposedPorts'] == {'8080/tcp': {}, '5000/udp': {}}


def test_exposed_ports_absent_when_none_left(web, web_image):
    web['HostConfig']['PortBindings'] = {}
    body, dummy = clone(web, web_image, NEW_REF)
    assert 'ExposedPorts' not in body


def test_volumes_of_the_image_dropped(web, web_image):
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['Volumes'] == {'/cache': {}}
    del web['Config']['Volumes']['/cache']
    body, dummy = clone(web, web_image, NEW_REF)
    assert 'Volumes' not in body


def test_default_hostname_dropped(web, web_image):
    assert web['Config']['Hostname'] == WEB_ID[:12]
    body, dummy = clone(web, web_image, NEW_REF)
    assert 'Hostname' not in body
    web['Config']['Hostname'] = ''
    body, dummy = clone(web, web_image, NEW_REF)
    assert 'Hostname' not in body


def test_hostname_and_domainname_of_the_operator_kept(busybox):
    body, dummy = clone(load('worker.json'), busybox, 'busybox:1.37')
    assert body['Hostname'] == 'worker01'
    assert body['Domainname'] == 'example.internal'


@pytest.mark.parametrize('fixture', ['sidecar.json', 'edge.json'])
def test_hostname_and_domainname_dropped_in_shared_network_modes(busybox, fixture):
    """container: and host modes take the provider's (or host's) names: create refuses them."""
    container = load(fixture)
    container['Config']['Domainname'] = 'example.org'
    assert container['Config']['Hostname']
    body, dummy = clone(container, busybox, 'busybox:1.37')
    assert 'Hostname' not in body
    assert 'Domainname' not in body


def test_hostconfig_kept_but_the_container_id_file(web, web_image):
    body, dummy = clone(web, web_image, NEW_REF)
    host = body['HostConfig']
    assert 'ContainerIDFile' not in host
    assert host['RestartPolicy'] == {'Name': 'unless-stopped', 'MaximumRetryCount': 0}
    assert host['PortBindings'] == {'8080/tcp': [{'HostIp': '', 'HostPort': '8080'}]}
    assert host['Memory'] == 536870912
    assert host['CapDrop'] == ['ALL'] and host['CapAdd'] == ['NET_BIND_SERVICE']
    assert host['Init'] is True
    assert host['Ulimits'] == [{'Name': 'nofile', 'Hard': 65536, 'Soft': 65536}]


# -- volumes ----------------------------------------------------------------------


def test_anonymous_volumes_found(web):
    assert anonymous_volumes(web) == [(DATA_VOLUME, '/data', True), (CACHE_VOLUME, '/cache', True)]


def test_anonymous_volumes_reattached_by_name(web, web_image):
    body, dummy = clone(web, web_image, NEW_REF)
    binds = body['HostConfig']['Binds']
    assert binds[2:] == ['%s:/data' % DATA_VOLUME, '%s:/cache' % CACHE_VOLUME]
    # The bind and the named volume are not added twice.
    assert [b for b in binds if b.split(':')[1] == '/etc/app'] == ['/srv/web/conf:/etc/app:ro']
    assert [b for b in binds if b.split(':')[1] == '/srv/app/uploads'] == ['web-uploads:/srv/app/uploads']


def test_anonymous_volume_read_only_kept_read_only(web, web_image):
    web['Mounts'][3]['RW'] = False
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['HostConfig']['Binds'][-1] == '%s:/cache:ro' % CACHE_VOLUME


def test_volume_declared_in_hostconfig_mounts_not_reattached(web, web_image):
    web['HostConfig']['Mounts'] = [{'Type': 'volume', 'Target': '/data', 'Source': DATA_VOLUME}]
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['HostConfig']['Binds'] == ['/srv/web/conf:/etc/app:ro', 'web-uploads:/srv/app/uploads',
                                           '%s:/cache' % CACHE_VOLUME]
    assert body['HostConfig']['Mounts'] == web['HostConfig']['Mounts']


def test_no_binds_added_without_anonymous_volumes(busybox):
    body, dummy = clone(load('sidecar.json'), busybox, 'busybox:1.37')
    assert body['HostConfig']['Binds'] is None


# -- networks ---------------------------------------------------------------------


def test_primary_network_at_create_others_after(web, web_image):
    body, extra = clone(web, web_image, NEW_REF)
    assert list(body['NetworkingConfig']['EndpointsConfig']) == ['frontend']
    assert [name for name, dummy in extra] == ['backend']


@pytest.mark.parametrize('mode', ['default', 'bridge'])
def test_networks_given_at_create_without_a_mode_do_not_add_the_default_bridge(web, web_image, mode):
    # The SDK's create with a networking config only: Docker shows the mode default (20.10) or
    # bridge (26), the container is on its networks only; created on "bridge", the copy was on both.
    web['HostConfig']['NetworkMode'] = mode
    body, extra = clone(web, web_image, NEW_REF)
    assert body['HostConfig']['NetworkMode'] == mode
    assert list(body['NetworkingConfig']['EndpointsConfig']) == ['backend']
    assert [name for name, dummy in extra] == ['frontend']


def test_aliases_minus_the_short_and_full_id(web, web_image):
    web['NetworkSettings']['Networks']['backend']['Aliases'].append(WEB_ID)
    body, extra = clone(web, web_image, NEW_REF)
    assert body['NetworkingConfig']['EndpointsConfig']['frontend']['Aliases'] == ['shop']
    assert dict(extra)['backend']['Aliases'] == ['web-api']


def test_only_default_aliases_gives_no_aliases_key(web, web_image):
    web['NetworkSettings']['Networks']['frontend']['Aliases'] = [WEB_ID[:12]]
    body, dummy = clone(web, web_image, NEW_REF)
    assert body['NetworkingConfig']['EndpointsConfig']['frontend'] == {'IPAMConfig': {'IPv4Address': '172.28.0.10'}}


def test_static_ipv4_and_ipv6_kept_empty_ones_dropped(web, web_image):
    web['NetworkSettings']['Networks']['backend']['IPAMConfig'] = {
        'IPv4Address': '172.29.0.30', 'IPv6Address': 'fd00:29::30', 'LinkLocalIPs': []}
    body, extra = clone(web, web_image, NEW_REF)
    assert dict(extra)['backend']['IPAMConfig'] == {'IPv4Address': '172.29.0.30', 'IPv6Address': 'fd00:29::30'}
    web['NetworkSettings']['Networks']['backend']['IPAMConfig'] = {'IPv4Address': '', 'LinkLocalIPs': None}
    body, extra = clone(web, web_image, NEW_REF)
    assert 'IPAMConfig' not in dict(extra)['backend']


def test_endpoint_links_kept(web, web_image):
    body, extra = clone(web, web_image, NEW_REF, resolve_container=planned_name)
    assert dict(extra)['backend']['Links'] == ['db:database']


def test_driver_opts_kept(web, web_image):
    web['NetworkSettings']['Networks']['backend']['DriverOpts'] = {'com.example.vlan': '12'}
    body, extra = clone(web, web_image, NEW_REF)
    assert dict(extra)['backend']['DriverOpts'] == {'com.example.vlan': '12'}


def test_mac_address_only_when_the_operator_fixed_it(web, web_image):
    # Below API 1.44: container-wide (Config.MacAddress, the primary network's); endpoint MACs ignored.
    body, extra = clone(web, web_image, NEW_REF)
    assert 'MacAddress' not in body['NetworkingConfig']['EndpointsConfig']['frontend']
    assert 'MacAddress' not in dict(extra)['backend']
    web['Config']['MacAddress'] = '02:42:ac:1c:00:0a'
    body, extra = clone(web, web_image, NEW_REF)
    assert body['MacAddress'] == '02:42:ac:1c:00:0a'
    assert 'MacAddress' not in body['NetworkingConfig']['EndpointsConfig']['frontend']
    assert 'MacAddress' not in dict(extra)['backend']  # the engine's own (02:42 and its IPv4): not pinned
    # From 1.44: every network at create, a MAC on each endpoint the operator fixed.
    body, extra = clone(web, web_image, NEW_REF, api_version='1.45')
    endpoints = body['NetworkingConfig']['EndpointsConfig']
    assert extra == [] and 'MacAddress' not in body
    assert endpoints['frontend']['MacAddress'] == '02:42:ac:1c:00:0a' and 'MacAddress' not in endpoints['backend']


def test_default_network_mode_is_the_bridge_without_aliases_or_links(busybox):
    worker = load('worker.json')
    worker['NetworkSettings']['Networks']['bridge'].update(Aliases=['worker'], Links=['db:database'],
                                                           IPAMConfig={'IPv4Address': '172.17.0.9'})
    body, extra = clone(worker, busybox, 'busybox:1.37')
    assert body['NetworkingConfig'] == {'EndpointsConfig': {'bridge': {'IPAMConfig': {'IPv4Address': '172.17.0.9'}}}}
    assert extra == []


def test_default_bridge_plus_a_user_network(busybox):
    worker = load('worker.json')
    worker['NetworkSettings']['Networks']['backend'] = {
        'IPAMConfig': None, 'Links': None, 'Aliases': ['worker', '87eba76e7f31'], 'NetworkID': 'x', 'DriverOpts': None}
    body, extra = clone(worker, busybox, 'busybox:1.37')
    assert body['NetworkingConfig'] == {'EndpointsConfig': {'bridge': {}}}
    assert extra == [('backend', {'Aliases': ['worker']})]


@pytest.mark.parametrize('fixture', ['sidecar.json', 'edge.json'])
def test_no_networks_for_shared_network_modes(busybox, fixture):
    body, extra = clone(load(fixture), busybox, 'busybox:1.37')
    assert 'NetworkingConfig' not in body
    assert extra == []


def test_no_networks_for_mode_none(busybox):
    worker = load('worker.json')
    worker['HostConfig']['NetworkMode'] = 'none'
    worker['NetworkSettings']['Networks'] = {'none': {'IPAMConfig': None, 'Links': None, 'Aliases': None}}
    body, extra = clone(worker, busybox, 'busybox:1.37')
    assert 'NetworkingConfig' not in body
    assert extra == []
    assert body['HostConfig']['NetworkMode'] == 'none'


# -- links and container: references ------------------------------------------------------


def test_legacy_links_rewritten_for_create(busybox):
    body, dummy = clone(load('worker.json'), busybox, 'busybox:1.37')
    assert body['HostConfig']['Links'] == ['db:database']


def test_legacy_link_without_alias_path(busybox):
    worker = load('worker.json')
    worker['HostConfig']['Links'] = ['/db:/worker/db', '/cache:/worker/redis']
    body, dummy = clone(worker, busybox, 'busybox:1.37')
    assert body['HostConfig']['Links'] == ['db:db', 'cache:redis']


def test_legacy_link_target_resolved_after_a_rename(busybox):
    """A legacy link follows its target through renames: while db is set aside it shows the aside name."""
    worker = load('worker.json')
    worker['HostConfig']['Links'] = ['/db-patchops-old:/worker/database']
    body, dummy = clone(worker, busybox, 'busybox:1.37', resolve_container=planned_name)
    assert body['HostConfig']['Links'] == ['db:database']
    body, dummy = clone(worker, busybox, 'busybox:1.37')
    assert body['HostConfig']['Links'] == ['db-patchops-old:database']


def test_container_modes_rewritten_to_the_provider_name(busybox):
    sidecar = load('sidecar.json')
    body, dummy = clone(sidecar, busybox, 'busybox:1.37', resolve_container=planned_name)
    host = body['HostConfig']
    assert (host['NetworkMode'], host['IpcMode'], host['PidMode']) == ('container:web',) * 3


def test_container_modes_kept_without_a_resolver(busybox):
    body, dummy = clone(load('sidecar.json'), busybox, 'busybox:1.37')
    host = body['HostConfig']
    assert (host['NetworkMode'], host['IpcMode'], host['PidMode']) == ('container:%s' % WEB_ID,) * 3


def test_each_container_mode_resolved_on_its_own(busybox):
    sidecar = load('sidecar.json')
    sidecar['HostConfig'].update(NetworkMode='host', IpcMode='container:%s' % WEB_ID[:12], PidMode='host')
    seen = []

    def resolve(ref):
        seen.append(ref)
        return 'web'

    body, dummy = clone(sidecar, busybox, 'busybox:1.37', resolve_container=resolve)
    host = body['HostConfig']
    assert (host['NetworkMode'], host['IpcMode'], host['PidMode']) == ('host', 'container:web', 'host')
    assert seen == [WEB_ID[:12]]


def test_non_container_modes_untouched_by_the_resolver(web, web_image):
    body, dummy = clone(web, web_image, NEW_REF, resolve_container=lambda ref: pytest.fail('resolved %s' % ref))
    assert body['HostConfig']['NetworkMode'] == 'frontend'
    assert body['HostConfig']['IpcMode'] == 'private'
    assert body['HostConfig']['PidMode'] == ''


# -- helpers --------------------------------------------------------------------------


def test_network_mode_and_shares_netns(web, busybox):
    assert network_mode(web) == 'frontend'
    assert network_mode({'HostConfig': {'NetworkMode': ''}}) == 'default'
    assert network_mode({}) == 'default'
    assert shares_netns(load('sidecar.json')) == WEB_ID
    assert shares_netns(web) is None
    assert shares_netns(load('edge.json')) is None


def test_pinned_identity_of_web(web):
    assert pinned_identity(web) == ['publishes host port(s) for 8080/tcp', 'has a static IP on network frontend']


def test_pinned_identity_every_reason(web):
    web['HostConfig'].update(PublishAllPorts=True, AutoRemove=True, NetworkMode='host')
    web['HostConfig']['PortBindings']['9090/tcp'] = [{'HostIp': '127.0.0.1', 'HostPort': ''}]  # engine-chosen
    web['NetworkSettings']['Networks']['backend']['IPAMConfig'] = {'IPv6Address': 'fd00:29::3'}
    web['Config']['MacAddress'] = '02:42:ac:1c:00:0a'
    assert pinned_identity(web) == [
        'publishes host port(s) for 8080/tcp',
        'publishes all ports',
        'has a static IP on network backend',
        'has a static IP on network frontend',
        'has a fixed MAC address on network frontend',
        'network mode host',
        'is started with --rm',
    ]


@pytest.mark.parametrize('fixture, reasons', [
    ('sidecar.json', ['network mode container:%s' % WEB_ID]),
    ('edge.json', ['network mode host']),
    ('worker.json', []),
])
def test_pinned_identity_of_the_others(fixture, reasons):
    assert pinned_identity(load(fixture)) == reasons


def test_writable_storage(web):
    assert writable_storage(web) == ['/srv/app/uploads', '/data', '/cache']
    assert writable_storage(load('worker.json')) == []  # read-only volume
    assert writable_storage(load('edge.json')) == []  # read-only bind
    web['Mounts'] = [{'Type': 'tmpfs', 'Destination': '/tmp', 'RW': True},
                     {'Type': 'bind', 'Source': '/srv/x', 'Destination': '/x'}]  # RW missing: read-write
    assert writable_storage(web) == ['/x']


# -- MAC addresses in either inspect shape (API 1.41 and 1.44+) ----------------------------------

MAC_CID = 'a938aef7874f' + '0' * 52


def mac_inspect(config_mac=None, networks=None, mode='na'):
    return {'Id': MAC_CID, 'Config': {'Image': 'app:v1', 'MacAddress': config_mac, 'Env': [], 'Labels': {}},
            'HostConfig': {'NetworkMode': mode}, 'Mounts': [],
            'NetworkSettings': {'Networks': networks or {}}}


def mac_endpoint(ip, mac, aliases=None):
    return {'IPAddress': ip, 'MacAddress': mac, 'Aliases': aliases, 'IPAMConfig': None}


# Docker 26, inspect at API 1.45: MACs on both networks set at create (docker run --network name=..,mac-address=..).
TWO_MACS = mac_inspect('02:00:00:00:aa:01', {'na': mac_endpoint('172.18.0.2', '02:00:00:00:aa:01', ['web']),
                                             'nb': mac_endpoint('172.19.0.2', '02:00:00:00:bb:01', ['api'])})
# Only the second network's MAC set; the first's is the one the engine derives from its IPv4.
SECOND_ONLY = mac_inspect(None, {'na': mac_endpoint('172.18.0.3', '02:42:ac:12:00:03'),
                                 'nb': mac_endpoint('172.19.0.3', '02:00:00:00:bb:02')})
# Docker 20.10 (API 1.41): --mac-address, aliases with the short ID.
DOCKER20 = mac_inspect('02:00:00:00:cc:01', {'na': mac_endpoint('172.18.0.4', '02:00:00:00:cc:01', ['web', MAC_CID[:12]]),
                                             'nb': mac_endpoint('172.19.0.4', '02:42:ac:13:00:04', [MAC_CID[:12]])})


def test_configured_macs_in_either_shape():
    assert configured_macs(TWO_MACS) == {'na': '02:00:00:00:aa:01', 'nb': '02:00:00:00:bb:01'}
    assert configured_macs(SECOND_ONLY) == {'nb': '02:00:00:00:bb:02'}
    assert configured_macs(DOCKER20) == {'na': '02:00:00:00:cc:01'}
    assert configured_macs(mac_inspect(None, {'na': mac_endpoint('172.18.0.5', '02:42:ac:12:00:05')})) == {}


def test_api_1_44_every_network_at_create_with_its_mac():
    body, extra = clone(TWO_MACS, {}, 'app:v2', api_version='1.45')
    assert extra == []
    assert 'MacAddress' not in body
    assert body['NetworkingConfig']['EndpointsConfig'] == {
        'na': {'Aliases': ['web'], 'MacAddress': '02:00:00:00:aa:01'},
        'nb': {'Aliases': ['api'], 'MacAddress': '02:00:00:00:bb:01'}}
    body, extra = clone(SECOND_ONLY, {}, 'app:v2', api_version='1.44')
    assert body['NetworkingConfig']['EndpointsConfig'] == {'na': {}, 'nb': {'MacAddress': '02:00:00:00:bb:02'}}


def test_below_1_44_one_network_at_create_and_the_mac_container_wide():
    body, extra = clone(DOCKER20, {}, 'app:v2', api_version='1.41')
    assert body['MacAddress'] == '02:00:00:00:cc:01'
    assert body['NetworkingConfig']['EndpointsConfig'] == {'na': {'Aliases': ['web']}}
    assert extra == [('nb', {})]


def test_a_mac_on_any_network_pins_the_container():
    assert 'has a fixed MAC address on network nb' in pinned_identity(SECOND_ONLY)
    assert pinned_identity(mac_inspect(None, {'na': mac_endpoint('172.18.0.5', '02:42:ac:12:00:05')})) == []


# -- Podman (its Docker-compatible API) ---------------------------------------------

PODMAN_ID = '709475caffc35e8a5bdf1c2aa8c0d9b1aa4ab5d0b1cf7f6e0e6f0a1b2c3d4e5f'


@pytest.fixture
def podman_web():
    """What Podman 5.4's compat inspect shows of `--network a --ip 172.31.9.77 --network-alias al1
    --network b --hostname hh1`: NetworkMode "bridge", no IPAMConfig, no Config.MacAddress, the
    short ID and the host name among each endpoint's aliases."""
    def endpoint(ip, mac, aliases):
        return {'IPAMConfig': None, 'Aliases': aliases + [PODMAN_ID[:12], 'hh1'], 'MacAddress': mac,
                'IPAddress': ip, 'GlobalIPv6Address': '', 'Links': None, 'DriverOpts': None}
    return {'Id': PODMAN_ID, 'Name': '/web',
            'Config': {'Image': 'registry.example.com/shop/web:1.4.1', 'Hostname': 'hh1', 'Env': [], 'Labels': {}},
            'HostConfig': {'NetworkMode': 'bridge'},
            'NetworkSettings': {'Networks': {'a': endpoint('172.31.9.77', '72:3f:7c:d0:97:07', ['al1']),
                                             'b': endpoint('10.89.1.5', '0a:a7:68:85:02:e6', [])}}}


def test_podman_every_network_at_create_with_its_mac_and_address(podman_web):
    macs = configured_macs(podman_web, 'podman')
    assert macs == {'a': '72:3f:7c:d0:97:07', 'b': '0a:a7:68:85:02:e6'}
    addresses = podman_addresses(podman_web)
    body, extra = clone(podman_web, {}, NEW_REF, api_version='1.41', macs=macs, engine_kind='podman',
                        addresses=addresses)
    assert extra == []
    assert body['HostConfig']['NetworkMode'] == 'bridge'
    assert body['NetworkingConfig']['EndpointsConfig'] == {
        'a': {'IPAMConfig': {'IPv4Address': '172.31.9.77'}, 'Aliases': ['al1'], 'MacAddress': '72:3f:7c:d0:97:07'},
        'b': {'IPAMConfig': {'IPv4Address': '10.89.1.5'}, 'MacAddress': '0a:a7:68:85:02:e6'},
    }


def test_podman_start_first_takes_new_macs_and_addresses(podman_web):
    body, dummy = clone(podman_web, {}, NEW_REF, api_version='1.41', macs={}, engine_kind='podman', addresses={})
    assert body['NetworkingConfig']['EndpointsConfig'] == {'a': {'Aliases': ['al1']}, 'b': {}}
    # Podman's MACs are random: they do not make start-first unsafe there (they would on Docker)
    assert pinned_identity(podman_web, 'podman') == []
    assert pinned_identity(podman_web) != []


@pytest.mark.parametrize('kind, expected', [('docker', ['db', 'web01']), ('podman', ['db'])])
def test_operator_aliases_drop_only_what_the_engine_adds(kind, expected):
    """An alias that begins the container's ID (db, for an ID db3a6e...) is the operator's."""
    container = {'Id': 'db3a6e00d69a' + '0' * 52, 'Config': {'Hostname': 'web01'}}
    settings = {'Aliases': ['db', 'db3a6e00d69a', container['Id'], 'web01']}
    assert operator_aliases(settings, container, kind) == expected


# -- what Podman 5.4 shows of CPU limits, the host's UTS namespace and image HEALTHCHECKs -------------

@pytest.mark.parametrize('shown, sent', [
    # Podman: `--cpus 0.5` and `--cpu-period 100000 --cpu-quota 50000` both show all three
    ({'NanoCpus': 500000000, 'CpuPeriod': 100000, 'CpuQuota': 50000}, {'CpuPeriod': 100000, 'CpuQuota': 50000}),
    # Docker shows only the one given; so does Podman for a period other than 100000
    ({'NanoCpus': 500000000, 'CpuPeriod': 0, 'CpuQuota': 0}, {'NanoCpus': 500000000, 'CpuPeriod': 0, 'CpuQuota': 0}),
    ({'NanoCpus': 0, 'CpuPeriod': 200000, 'CpuQuota': 100000}, {'NanoCpus': 0, 'CpuPeriod': 200000, 'CpuQuota': 100000}),
    ({'NanoCpus': 0, 'CpuPeriod': 0, 'CpuQuota': 50000}, {'NanoCpus': 0, 'CpuPeriod': 0, 'CpuQuota': 50000}),
])
def test_cpu_limit_sent_one_way(busybox, shown, sent):
    """The engine refuses NanoCpus with CpuPeriod or CpuQuota: period and quota when both are shown."""
    container = load('worker.json')
    container['HostConfig'].update(shown)
    body, dummy = clone(container, busybox, 'busybox:1.37', engine_kind='podman')
    assert dict((k, body['HostConfig'][k]) for k in sent) == sent
    assert ('NanoCpus' in body['HostConfig']) == ('NanoCpus' in sent)


def test_host_uts_namespace_takes_the_hosts_names(busybox):
    """--uts host: Podman shows the host's name as the container's, and refuses a create that gives one."""
    container = load('worker.json')
    container['HostConfig']['UTSMode'] = 'host'
    container['Config']['Hostname'] = 'lab9'
    body, dummy = clone(container, busybox, 'busybox:1.37', engine_kind='podman')
    assert 'Hostname' not in body and 'Domainname' not in body
    assert body['HostConfig']['UTSMode'] == 'host'
    container['HostConfig']['UTSMode'] = 'private'  # Podman's default: the container's own names are kept
    body, dummy = clone(container, busybox, 'busybox:1.37', engine_kind='podman')
    assert body['Hostname'] == 'lab9'


NO_RETRIES = {'Test': ['CMD', '/bin/true'], 'Interval': 2000000000, 'Timeout': 3000000000}


@pytest.mark.parametrize('image', [
    {'Config': {'Healthcheck': NO_RETRIES}},  # Docker
    {'Config': {'Env': []}, 'Healthcheck': NO_RETRIES},  # Podman, through Engine.find_image
    {'Config': {'Healthcheck': dict(NO_RETRIES, Retries=0, StartPeriod=0)}},  # fields at 0 shown
])
def test_image_healthcheck_without_retries_not_frozen(busybox, image):
    """A container shows its image's check: it is the image's, so the new image's applies (Podman would
    otherwise create it with its own defaults filled in, Retries 3 and a 30 s Timeout)."""
    container = load('worker.json')
    container['Config']['Healthcheck'] = dict(NO_RETRIES)
    body, dummy = clone(container, image, 'busybox:1.37', engine_kind='podman')
    assert 'Healthcheck' not in body


@pytest.mark.parametrize('image', [{'Config': {}}, {'Config': {}, 'Healthcheck': None},
                                   {'Config': {}, 'Healthcheck': dict(NO_RETRIES, Retries=5)}])
def test_healthcheck_other_than_the_images_kept(busybox, image):
    container = load('worker.json')
    container['Config']['Healthcheck'] = dict(NO_RETRIES)
    body, dummy = clone(container, image, 'busybox:1.37', engine_kind='podman')
    assert body['Healthcheck'] == NO_RETRIES
