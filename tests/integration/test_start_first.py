"""Start-first and the service's network alias (lab): a client that resolves the alias before every
request never reaches a new container that is not verified; the alias moves to the new one before
the old one leaves the network and stops. The downtime the module reports is measured, and checked
here against the journal's step times that bound it."""

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
# The journal's times are wall-clock milliseconds written before each step; the module's gaps are
# whole milliseconds of the monotonic clock: a bound read from the journal holds within this.
SLACK_MS = 50
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


def last_swap(lab, name):
    """The container's last swap in the host's journal, and its steps' times."""
    path = '%s/journal/%s.json' % (engine_dir('/var/lib/patchops', lab.engine_id(HOST)), name)
    swap = json.loads(lab.ssh(HOST, 'cat %s' % path).stdout)['swaps'][-1]
    return swap, {h['step']: datetime.datetime.fromisoformat(h['at']) for h in swap['history']}


def ms(delta):
    return delta.total_seconds() * 1000


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
    assert 'aliases' in result['breakdown_ms']
    new = api.inspect_container(web)
    assert new['NetworkSettings']['Networks'][net]['Aliases'][:1] == [alias] or alias in new['NetworkSettings']['Networks'][net]['Aliases']
    swap, at = last_swap(lab, web)
    assert at['verified'] < at['take_aliases'] < at['release_old'] < at['stop_old'] < at['rename_new'] < at['remove_old']
    assert (at['release_old'] - at['take_aliases']).total_seconds() >= 1  # the drain: both answered
    # The alias gap: the new container joined before `release_old` was journaled, the old one began
    # to leave after it, so the journal bounds the gap by max(0, joined - leaving) <= 0.
    bound = max(0, ms(at['release_old'] - at['release_old']))
    assert result['downtime_ms'] == result['breakdown_ms']['alias_gap'] == swap['breakdown_ms']['alias_gap']
    assert result['downtime_ms'] <= bound + SLACK_MS
    # Clients of the container's name: from the old one leaving (after `release_old`, before
    # `stop_old`) to the new one renamed (after `rename_new`, before `remove_old`).
    name_gap = result['breakdown_ms']['name_gap']
    assert ms(at['rename_new'] - at['stop_old']) - SLACK_MS <= name_gap <= ms(at['remove_old'] - at['release_old']) + SLACK_MS
    assert swap['breakdown_ms']['name_gap'] == name_gap
    answers = [s[2] for s in samples if s[1]]
    assert answers[0] == '1' and answers[-1] == '2'
    # A request still in flight on the old container when it leaves the network can be lost; the new
    # one is never reached before it is ready, and the old address is gone from DNS before it stops.
    lost = addresses(samples)
    assert len(lost) <= 1 and set(lost) <= {old_ip}, lost


def test_by_name_downtime_runs_from_the_stop_to_the_rename(lab, service, uid):
    """A container reached by its name (no alias to hold): the new one takes the name only once the old
    one stopped and was set aside; the module reports that gap, within the journal's times."""
    api, net, web, client, alias = service
    plain = 'sfplain-' + uid
    api.start(api.create_container(lab.image('v1'), name=plain, host_config=api.create_host_config(network_mode=net)))
    try:
        res = lab.module(HOST, 'container_patch', {'containers': [{'name': plain, 'image': lab.image('v2')}],
                                                   'strategy': 'start-first'})[HOST]
        assert res['_status'] == 'ok', res.get('msg')
        result = res['containers'][0]
        assert result['strategy'] == 'start-first' and 'alias_gap' not in result['breakdown_ms']
        swap, at = last_swap(lab, plain)
        assert 'take_aliases' not in at and at['verified'] < at['stop_old'] < at['rename_old'] < at['rename_new']
        # stop_old is journaled just before the stop, rename_new just before the rename, remove_old after it
        low, high = ms(at['rename_new'] - at['stop_old']), ms(at['remove_old'] - at['stop_old'])
        assert result['downtime_ms'] > 0
        assert low - SLACK_MS <= result['downtime_ms'] <= high + SLACK_MS, (low, result['downtime_ms'], high)
        assert result['downtime_ms'] == result['breakdown_ms']['name_gap'] == swap['breakdown_ms']['name_gap']
        assert swap['downtime_ms'] == result['downtime_ms']
    finally:
        remove(api, plain)
