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
from patchkit import exec_out, remove

HOST = None  # engine_hosts[1] of the engine kind under test: on_engine


# Requests sampled before and after the swap: a measurement window, not a wait for a condition.
WINDOW = 0.5
POLLER = os.path.join(os.path.dirname(__file__), '..', '..', 'bench', 'benchkit', 'poller.py')


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs once per engine kind, in that kind's shard (conftest engine_kind)."""
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[1]


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
    # Up when the client reaches it through the alias (the engine's own health status stays
    # `starting` on the lab's Podman hosts: no systemd to run its checks).
    deadline = time.monotonic() + 30
    while exec_out(api, client, 'wget -q -O - http://%s:8080/health' % alias)[1] != 0:
        assert time.monotonic() < deadline, '%s not answering as %s after 30 s' % (web, alias)
        time.sleep(0.1)
    yield api, net, web, client, alias
    remove(api, client, web)
    api.remove_network(net)


class Poller:
    """The alias resolved through the engine's DNS before every request, from the client's netns."""

    def __init__(self, api, client, alias):
        pid = api.inspect_container(client)['State']['Pid']
        # The engine's DNS as the client sees it: Docker's 127.0.0.11, a Podman network's gateway.
        resolv, rc = exec_out(api, client, 'cat /etc/resolv.conf')
        assert rc == 0, resolv
        dns = next(line.split()[1] for line in resolv.splitlines() if line.startswith('nameserver'))
        self.proc = subprocess.Popen(
            ['nsenter', '-t', str(pid), '-n', sys.executable, POLLER, '--alias', alias, '--dns', dns, '--port', '8080',
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
    time.sleep(WINDOW)
    res = lab.module(HOST, 'container_patch', {'containers': [{'name': web, 'image': lab.image('v2-broken')}],
                                               'strategy': 'start-first', 'verify_timeout': 8})[HOST]
    time.sleep(WINDOW)
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
    time.sleep(WINDOW)
    res = lab.module(HOST, 'container_patch', {'containers': [{'name': web, 'image': lab.image('v2')}],
                                               'strategy': 'start-first', 'drain_seconds': 1})[HOST]
    time.sleep(WINDOW)
    samples = poller.stop()
    assert res['_status'] == 'ok', res.get('msg')
    result = res['containers'][0]
    assert result['downtime_ms'] == 0 and 'aliases' in result['breakdown_ms']
    new = api.inspect_container(web)
    assert new['NetworkSettings']['Networks'][net]['Aliases'][:1] == [alias] or alias in new['NetworkSettings']['Networks'][net]['Aliases']
    path = '%s/journal/%s.json' % (engine_dir('/var/lib/patchops', lab.engine_id(HOST)), web)
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
