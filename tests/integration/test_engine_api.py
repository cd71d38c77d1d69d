"""What changed in the Engine API under the swap and the inventory: the same container, kept the same
on Docker 20.10 (API 1.41) and Docker 26 (API 1.45). Per-network MAC addresses and several networks
at create exist from API 1.44; aliases lost the container's short ID and gained DNSNames there."""

import docker
import pytest

from patchkit import remove

HOST = 'lab1'  # the first host of the engine kind under test: on_engine


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[0]


@pytest.fixture
def api(lab):
    return lab.pull(HOST, 'v1', 'v2')


@pytest.fixture
def nets(api, uid):
    names = ['ma-' + uid, 'mb-' + uid]
    for name in names:
        api.create_network(name, driver='bridge')
    yield names
    for name in names:
        api.remove_network(name)


def api_at_least(api, version):
    return docker.utils.version_gte(api.api_version, version)


def endpoints(api, name):
    networks = api.inspect_container(name)['NetworkSettings']['Networks']
    return {net: (settings.get('MacAddress'), sorted(a for a in settings.get('Aliases') or []
                                                     if a != api.inspect_container(name)['Id'][:12]))
            for net, settings in networks.items()}


def create(api, lab, name, endpoints_config, primary):
    """As `docker run --network name=A,mac-address=..,alias=.. --network name=B,...` does on API >= 1.44."""
    body = {'Image': lab.image('v1'), 'HostConfig': {'NetworkMode': primary},
            'NetworkingConfig': {'EndpointsConfig': endpoints_config}}
    cid = api.create_container_from_config(body, name=name)['Id']
    api.start(cid)
    return cid


def patch(lab, name):
    res = lab.module(HOST, 'container_patch', {'containers': [{'name': name, 'image': lab.image('v2')}]})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    return res


def test_a_mac_on_each_network_is_kept(lab, api, nets, uid):
    if not api_at_least(api, '1.44'):
        pytest.skip('a MAC address per network needs API 1.44 (Docker 25); this engine speaks %s' % api.api_version)
    name = 'mac2-' + uid
    create(api, lab, name, {nets[0]: {'MacAddress': '02:00:00:00:%s:01' % uid[:2], 'Aliases': ['web']},
                            nets[1]: {'MacAddress': '02:00:00:00:%s:02' % uid[:2], 'Aliases': ['api']}}, nets[0])
    try:
        before = endpoints(api, name)
        assert before[nets[1]][0] == '02:00:00:00:%s:02' % uid[:2]
        patch(lab, name)
        assert endpoints(api, name) == before
    finally:
        remove(api, name)


def test_a_mac_on_the_second_network_only_is_kept(lab, api, nets, uid):
    if not api_at_least(api, '1.44'):
        pytest.skip('a MAC address per network needs API 1.44 (Docker 25); this engine speaks %s' % api.api_version)
    name = 'mac1-' + uid
    create(api, lab, name, {nets[0]: {}, nets[1]: {'MacAddress': '02:00:00:01:%s:02' % uid[:2]}}, nets[0])
    try:
        mac = endpoints(api, name)[nets[1]][0]
        assert mac == '02:00:00:01:%s:02' % uid[:2]
        patch(lab, name)
        assert endpoints(api, name)[nets[1]][0] == mac
    finally:
        remove(api, name)


def test_a_mac_given_container_wide_is_kept(lab, api, nets, uid):
    """`docker run --mac-address` of a Docker 20.10 client: Config.MacAddress, on every engine."""
    name = 'macw-' + uid
    old = docker.APIClient(base_url='unix://' + lab.socket(HOST), version='1.41')
    cid = old.create_container_from_config({'Image': lab.image('v1'), 'MacAddress': '02:00:00:02:%s:01' % uid[:2],
                                            'HostConfig': {'NetworkMode': nets[0]}}, name=name)['Id']
    old.start(cid)
    try:
        before = endpoints(api, name)
        patch(lab, name)
        assert endpoints(api, name) == before
    finally:
        remove(api, name)


def test_inventory_aliases_are_the_operator_s_on_every_engine(lab, api, nets, uid):
    name = 'alias-' + uid
    create(api, lab, name, {nets[0]: {'Aliases': ['web', 'www']}}, nets[0])
    try:
        res = lab.module(HOST, 'container_inventory', {'name': [name]})[HOST]
        assert res['_status'] == 'ok', res.get('msg')
        network = [n for n in res['containers'][0]['networks'] if n['name'] == nets[0]][0]
        assert sorted(network['aliases']) == ['web', 'www']
    finally:
        remove(api, name)


def test_api_version_negotiated(lab, api):
    """auto: the newest both know; an explicit version the engine refuses is named before anything runs."""
    res = lab.module(HOST, 'container_inventory', {'name': ['nothing-matches-this']})[HOST]
    assert res['_status'] == 'ok', res.get('msg')
    engine = res['engine']
    assert engine['api_version'] == api.version()['ApiVersion']
    res = lab.module(HOST, 'container_inventory', {'name': ['x'], 'api_version': '1.99'})[HOST]
    assert res['_status'] == 'failed' and 'api_version 1.99 is newer than API' in res['msg']
