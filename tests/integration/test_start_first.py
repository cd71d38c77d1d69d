"""Start-first and the service's network alias (lab): a client that resolves the alias before every
request never reaches a new container that is not verified; the alias moves to the new one before
the old one leaves the network and stops."""

import datetime
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import engine_dir
from patchkit import remove

HOST_PICK = ('docker26', 1)  # HOST: a Docker 26 host of its own in CI's Docker 26 shard (conftest)
HOST = None
pytestmark = pytest.mark.shard('docker26')  # CI runs it in the Docker 26 shard (conftest)


POLLER = os.path.join(os.path.dirname(__file__), '..', '..', 'bench', 'benchkit', 'poller.py')


@pytest.fixture
def service(lab, uid):
    """web (v1) answering to the alias svc-<uid> on a user network, and a client container on it."""
    api = lab.pull(HOST, 'v1', 'v2', 'v2-broken')
    lab.pull(HOST, 'latest', repo='patchops/busybox')
    net, web, client, alias = 'sfnet-' + uid, 'sfweb-' + uid, 'sfcl-' + uid, 'svc-' + uid
    api.create_network(net, driver='bridge')
    api.start(api.create_container(
        lab.image('v1'), name=web, host_config=api.create_host_config(network_mode=net),
        networking_config=api.create_networking_config({net: api.create_endpoint_config(aliases=[alias])})))
    api.start(api.create_container('%s/patchops/busybox:latest' % lab.registry, name=client, command=['sleep', '3600'],
                                   host_config=api.create_host_config(network_mode=net)))
    for dummy in range(100):
        if (api.inspect_container(web)['State'].get('Health') or {}).get('Status') == 'healthy':
            break
        time.sleep(0.1)
    yield api, net, web, client, alias
    remove(api, client, web)
    api.remove_network(net)


class Poller:
    """The alias resolved through the engine's DNS before every request, from the client's netns."""

    def __init__(self, api, client, alias):
        pid = api.inspect_container(client)['State']['Pid']
        self.proc = subprocess.Popen(
            ['nsenter', '-t', str(pid), '-n', sys.executable, POLLER, '--alias', alias, '--port', '8080',
             '--timeout', '0.5', '--max-seconds', '180'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == 'READY'

    def stop(self):
        self.proc.stdin.write('\n')
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())['samples']


def addresses(samples):
    return [s[2].rsplit('(', 1)[-1].rstrip(')') for s in samples if not s[1]]


def test_unverified_new_container_never_reached(lab, service):
    """v2-broken never becomes healthy: under start-first, clients only ever reach the old container."""
    api, net, web, client, alias = service
    before = api.inspect_container(web)['Id']
    poller = Poller(api, client, alias)
    time.sleep(0.5)
    res = lab.module(HOST, 'container_patch', {'containers': [{'name': web, 'image': lab.image('v2-broken')}],
                                               'strategy': 'start-first', 'verify_timeout': 8})[HOST]
    time.sleep(0.5)
    samples = poller.stop()
    assert res['_status'] == 'failed' and res['rolled_back'] is True
    assert api.inspect_container(web)['Id'] == before
    assert len(samples) > 100
    assert [s for s in samples if not s[1]] == []
    assert {s[2] for s in samples} == {'1'}  # every answer came from the old container


def test_alias_moves_before_the_old_one_leaves_and_stops(lab, service):
    api, net, web, client, alias = service
    old_ip = api.inspect_container(web)['NetworkSettings']['Networks'][net]['IPAddress']
    poller = Poller(api, client, alias)
    time.sleep(0.5)
    res = lab.module(HOST, 'container_patch', {'containers': [{'name': web, 'image': lab.image('v2')}],
                                               'strategy': 'start-first', 'drain_seconds': 1})[HOST]
    time.sleep(0.5)
    samples = poller.stop()
    assert res['_status'] == 'ok', res.get('msg')
    result = res['containers'][0]
    assert result['downtime_ms'] == 0 and 'aliases' in result['breakdown_ms']
    new = api.inspect_container(web)
    assert new['NetworkSettings']['Networks'][net]['Aliases'][:1] == [alias] or alias in new['NetworkSettings']['Networks'][net]['Aliases']
    path = '%s/journal/%s.json' % (engine_dir('/var/lib/patchops', api.info()['ID']), web)
    swap = json.loads(lab.ssh(HOST, 'cat %s' % path).stdout)['swaps'][-1]
    at = {h['step']: datetime.datetime.fromisoformat(h['at']) for h in swap['history']}
    assert at['verified'] < at['take_aliases'] < at['release_old'] < at['stop_old']
    assert (at['release_old'] - at['take_aliases']).total_seconds() >= 1  # the drain: both answered
    answers = [s[2] for s in samples if s[1]]
    assert answers[0] == '1' and answers[-1] == '2'
    # A request still in flight on the old container when it leaves the network can be lost; the new
    # one is never reached before it is ready, and the old address is gone from DNS before it stops.
    lost = addresses(samples)
    assert len(lost) <= 1 and set(lost) <= {old_ip}, lost
