# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap (plan, schedule, recovery): the plan, recovery of interrupted swaps and abandon, on an in-memory engine.

Only the engine is faked (the shared fake engine, tests/unit/fake_engine.py); the journal is the real
one, in tmp_path. Swaps that a crash interrupts are made by the real schedule.execute, with the fake
engine raising Crash (a BaseException, as the end of the process would be) at a known call.
"""

from __future__ import annotations

import json
import os

import pytest
from fake_engine import ENGINE_ID, Crash, FakeEngine, NotFound, hexid

from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError
from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal
from ansible_collections.patchops.containers.plugins.module_utils._swap import targets
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapContext, SwapError
from ansible_collections.patchops.containers.plugins.module_utils._swap.plan import make_plan
from ansible_collections.patchops.containers.plugins.module_utils._swap.recovery import abandon, recover, unresolved_message
from ansible_collections.patchops.containers.plugins.module_utils._swap.schedule import execute

WHERE = 'lab1 (unix:///var/run/docker.sock)'
WEB_V1, WEB_V2 = 'registry.example.com/shop/web:1.4.1', 'registry.example.com/shop/web:1.4.2'
BUSYBOX = 'registry.example.com/base/busybox:1.36'
IMAGES = {WEB_V1: 'sha256:' + hexid('web-1.4.1'), WEB_V2: 'sha256:' + hexid('web-1.4.2'),
          BUSYBOX: 'sha256:' + hexid('busybox-1.36'), 'registry.example.com/base/busybox:1.37': 'sha256:' + hexid('bb')}
READS = ('containers', 'top', 'inspect_container', 'inspect_image', 'inspect_network', 'info', 'version')


def swap_engine():
    """The shared fake engine with the IMAGES (each pulled: a repo digest), no container yet."""
    engine = FakeEngine()
    for ref, image_id in IMAGES.items():
        engine.add_image([ref], image_id=image_id, digests=[ref.rsplit(':', 1)[0] + '@sha256:' + hexid(ref)],
                         config={'Env': ['PATH=/usr/bin:/bin'], 'Cmd': ['serve'], 'Labels': {}})
    return engine


def add(engine, name, image=WEB_V1, running=True, network='frontend', host=None, labels=None):
    """A container ``name`` (ID ``hexid(name)``) of ``image``, on the user network ``frontend`` unless told."""
    return engine.add_container(name, image, running=running, labels=labels, network=network, host=host)


def calls_of(engine, method):
    """The first argument (the container) of each call of ``method``, in order."""
    return [args[0] for args, kwargs in engine.api.called(method)]


PARAMS = {'strategy': 'stop-first', 'force_start_first': False, 'rollback': 'auto', 'keep_old': False,
          'stop_timeout': 10, 'parallel': 1, 'drain_seconds': 0.0, 'on_failure': 'stop', 'lock_timeout': 0,
          'wait_health': True, 'verify_timeout': 1, 'settle': 0.0, 'probes': [], 'pull': 'never',
          'use_stage_manifest': False}


@pytest.fixture
def engine():
    return swap_engine()


@pytest.fixture
def journal(tmp_path):
    return Journal(str(tmp_path), ENGINE_ID)


@pytest.fixture
def verified(engine):
    """The swap's verify() (SwapContext.verify): every container is healthy unless its ID is in ``failing``."""
    state = {'calls': [], 'failing': set()}

    def fake_verify(engine, container_id, probes, wait_health=True, timeout=60, settle=2.0):
        state['calls'].append(container_id)
        if container_id in state['failing']:
            return False, [{'type': 'health', 'ok': False, 'output': 'container is unhealthy'}]
        return True, [{'type': 'health', 'ok': True, 'output': 'healthy'}]

    engine.fake_verify = fake_verify
    return state


@pytest.fixture
def swapper(engine, journal, tmp_path, verified):
    return make_swapper(engine, journal, tmp_path)


def make_swapper(engine, journal, tmp_path, check_mode=False, **params):
    return SwapContext(engine, journal, dict(PARAMS, state_dir=str(tmp_path), **params), check_mode=check_mode,
                       **({'verify': engine.fake_verify} if hasattr(engine, 'fake_verify') else {}))


def target(name, image=WEB_V2, **extra):
    return dict({'name': name, 'image': image}, **extra)


def summary(plan):
    return [(p['container'], p['action'], p['group'], p['reason'], p['strategy']) for p in plan]


# -- plan -----------------------------------------------------------------------------------------


def test_plan_one_container(engine, swapper):
    cid = add(engine, 'web')
    plan = make_plan(swapper, [target('web')])
    assert len(plan) == 1
    entry = plan[0]
    assert {k: v for k, v in entry.items() if k != 'stop'} == {
        'container': 'web', 'order': 1, 'reason': 'patch', 'action': 'recreate', 'group': 'web',
        'old_id': cid, 'old_image': WEB_V1, 'old_image_id': IMAGES[WEB_V1],
        'old_digests': ['registry.example.com/shop/web@sha256:' + hexid(WEB_V1)],
        'new_image': WEB_V2, 'new_image_id': IMAGES[WEB_V2],
        'new_digests': ['registry.example.com/shop/web@sha256:' + hexid(WEB_V2)],
        'strategy': 'stop-first', 'was_running': True, 'was_paused': False, 'depends_on': [],
        'mac_addresses': {}, 'stop_timeout': 10, 'verifiable': False}
    assert entry['stop']['stop_signal'] == 'SIGTERM'
    assert entry['stop']['kill_risk'] is False
    assert engine.created == []  # a plan changes nothing
    assert not any(c[0] in ('stop', 'rename', 'remove_container', 'start') for c in engine.api.calls)


def test_plan_by_container_id(engine, swapper):
    cid = add(engine, 'web')
    assert summary(make_plan(swapper, [target(cid)])) == [('web', 'recreate', 'web', 'patch', 'stop-first')]


def test_plan_current_image_is_none(engine, swapper):
    add(engine, 'web', image=WEB_V2)
    plan = make_plan(swapper, [target('web')])
    assert summary(plan) == [('web', 'none', 'web', 'patch', 'stop-first')]
    assert 'stop' not in plan[0]


def test_plan_empty_targets_refused(swapper):
    with pytest.raises(SwapError) as info:
        make_plan(swapper, [])
    assert info.value.msg == 'containers is empty: name at least one container to patch'


@pytest.mark.parametrize('key, value, what', [
    ('NetworkMode', 'container:{id}', 'network namespace'),
    ('NetworkMode', 'container:web', 'network namespace'),
    ('IpcMode', 'container:{id}', 'IPC namespace'),
    ('PidMode', 'container:{short}', 'PID namespace'),
    ('Links', ['/web:/sidecar/app'], 'link'),
])
def test_plan_adds_a_follower_after_its_provider(engine, swapper, key, value, what):
    cid = add(engine, 'web')
    if isinstance(value, str):
        value = value.format(id=cid, short=cid[:12])
    add(engine, 'sidecar', image=BUSYBOX, host={key: value}, network='default' if key == 'Links' else 'frontend')
    add(engine, 'other', image=BUSYBOX)
    plan = make_plan(swapper, [target('web')])
    assert summary(plan) == [
        ('web', 'recreate', 'web', 'patch', 'stop-first'),
        ('sidecar', 'recreate', 'web', 'follows web (%s)' % what, 'stop-first'),
    ]
    follower = plan[1]
    # The follower keeps its own image (named as it was configured: the name still means that image).
    assert (follower['new_image'], follower['new_image_id']) == (BUSYBOX, IMAGES[BUSYBOX])
    assert follower['old_image_id'] == follower['new_image_id']
    assert follower['depends_on'] == ['web']
    assert [p['order'] for p in plan] == [1, 2]


def test_plan_followers_transitively_in_one_group(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    add(engine, 'debug', image=BUSYBOX, host={'PidMode': 'container:sidecar'}, network='none')
    plan = make_plan(swapper, [target('web')])
    assert summary(plan) == [
        ('web', 'recreate', 'web', 'patch', 'stop-first'),
        ('sidecar', 'recreate', 'web', 'follows web (network namespace)', 'stop-first'),
        ('debug', 'recreate', 'web', 'follows sidecar (PID namespace)', 'stop-first'),
    ]


def test_plan_follower_whose_tag_moved_is_named_by_image_id(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    engine.images[IMAGES[BUSYBOX]]['RepoTags'] = []  # busybox:1.36 no longer means the image it runs
    plan = make_plan(swapper, [target('web')])
    assert plan[1]['new_image'] == IMAGES[BUSYBOX]


def fake_proc(root, engine, gone=()):
    """A /proc of this machine: one process per running container (``gone``: listed as running, but
    stopped since), its cgroup naming it, in its own namespaces or its provider's (``container:``
    modes); plus a host process in no container. Sets each container's State.Pid."""
    def provider(container, key):
        mode = container['HostConfig'].get(key) or ''
        return engine.container(mode[len('container:'):]) if mode.startswith('container:') else None

    def namespace(container, key, ns):
        found = provider(container, key)
        return namespace(found, key, ns) if found else '%s:[%s]' % (ns, container['Id'][:8])

    os.makedirs(str(root / '1' / 'ns'))
    (root / '1' / 'cgroup').write_text('0::/init.scope\n')
    for ns in ('net', 'ipc', 'pid'):
        os.symlink('%s:[1]' % ns, str(root / '1' / 'ns' / ns))
    for pid, container in enumerate(engine.containers.values(), start=100):
        if not container['State']['Running'] or container['Name'].lstrip('/') in gone:
            continue
        container['State']['Pid'] = pid
        os.makedirs(str(root / str(pid) / 'ns'))
        (root / str(pid) / 'cgroup').write_text('0::/system.slice/docker-%s.scope\n' % container['Id'])
        for key, ns in (('NetworkMode', 'net'), ('IpcMode', 'ipc'), ('PidMode', 'pid')):
            os.symlink(namespace(container, key, ns), str(root / str(pid) / 'ns' / ns))
    return str(root)


def inspected(engine, monkeypatch):
    """Names of the containers the swapper inspects, in order."""
    seen = []
    real = engine.find_container

    def find_container(ref):
        found = real(ref)
        seen.append(found['Name'].lstrip('/') if found else ref)
        return found
    monkeypatch.setattr(engine, 'find_container', find_container)
    return seen


@pytest.mark.parametrize('key, value, what', [
    ('NetworkMode', 'container:{id}', 'network namespace'),
    ('IpcMode', 'container:{id}', 'IPC namespace'),
    ('PidMode', 'container:{short}', 'PID namespace'),
    ('Links', ['/web:/sidecar/app'], 'link'),
])
def test_plan_inspects_only_the_possible_followers(engine, swapper, tmp_path, monkeypatch, key, value, what):
    cid = add(engine, 'web')
    if isinstance(value, str):
        value = value.format(id=cid, short=cid[:12])
    add(engine, 'sidecar', image=BUSYBOX, host={key: value}, network='default' if key == 'Links' else 'frontend')
    for n in range(5):
        add(engine, 'other%d' % n, image=BUSYBOX)
    add(engine, 'elsewhere', image=BUSYBOX, network='container:other0')  # follows another container
    swapper.proc = fake_proc(tmp_path / 'proc', engine)
    seen = inspected(engine, monkeypatch)
    plan = make_plan(swapper, [target('web')])
    assert summary(plan) == [
        ('web', 'recreate', 'web', 'patch', 'stop-first'),
        ('sidecar', 'recreate', 'web', 'follows web (%s)' % what, 'stop-first'),
    ]
    assert sorted(set(seen)) == ['sidecar', 'web']


def test_plan_inspects_what_proc_cannot_show(engine, swapper, tmp_path, monkeypatch):
    """Stopped containers have no process, and one may stop between the list and the read of /proc:
    those created after the provider are inspected, and an IPC follower among them is found."""
    engine.containers[add(engine, 'older', image=BUSYBOX, running=False)]['created_at'] = 1600000000
    cid = add(engine, 'web')
    add(engine, 'stopped', image=BUSYBOX, running=False, host={'IpcMode': 'container:%s' % cid})
    add(engine, 'stopping', image=BUSYBOX, host={'PidMode': 'container:web'})
    add(engine, 'other', image=BUSYBOX)
    add(engine, 'exited', image=BUSYBOX, running=False)
    swapper.proc = fake_proc(tmp_path / 'proc', engine, gone=('stopping',))
    seen = inspected(engine, monkeypatch)
    plan = make_plan(swapper, [target('web')])
    assert sorted(p['container'] for p in plan) == ['stopped', 'stopping', 'web']
    # other only because stopping, a follower now, has no process either: its own followers can't be read.
    assert sorted(set(seen)) == ['exited', 'other', 'stopped', 'stopping', 'web']


@pytest.mark.parametrize('why', ['remote engine', 'provider not running', 'not root'])
def test_plan_when_proc_cannot_tell(engine, swapper, tmp_path, monkeypatch, why):
    """A remote engine, or no root: every running container is inspected. A provider that is not
    running: the containers created after it (a follower names its ID, so was created since)."""
    add(engine, 'other', image=BUSYBOX)
    add(engine, 'web', running=why != 'provider not running')
    add(engine, 'sidecar', image=BUSYBOX, running=why != 'provider not running', host={'IpcMode': 'container:web'})
    add(engine, 'later', image=BUSYBOX, running=False)
    root = tmp_path / 'proc'
    swapper.proc = fake_proc(root, engine)
    if why == 'remote engine':  # the engine's PIDs are another machine's: here they are other processes
        for container in engine.containers.values():
            container['State']['Pid'] = 1
        swapper.proc = str(tmp_path / 'elsewhere')
    elif why == 'not root':
        monkeypatch.setattr(targets, 'namespace_members', lambda proc: None)
    seen = inspected(engine, monkeypatch)
    plan = make_plan(swapper, [target('web')])
    assert [p['container'] for p in plan] == ['web', 'sidecar']
    expected = ['later', 'sidecar', 'web'] if why == 'provider not running' else ['later', 'other', 'sidecar', 'web']
    assert sorted(set(seen)) == expected


def test_plan_follower_with_a_current_image_still_recreated(engine, swapper):
    """A follower that is a target on its current image is recreated all the same, as a follower."""
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    plan = make_plan(swapper, [target('web'), target('sidecar', image=BUSYBOX)])
    assert summary(plan) == [
        ('web', 'recreate', 'web', 'patch', 'stop-first'),
        ('sidecar', 'recreate', 'web', 'follows web (network namespace)', 'stop-first'),
    ]


def test_plan_follower_that_is_patched_too_keeps_its_reason(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    plan = make_plan(swapper, [target('sidecar', image='registry.example.com/base/busybox:1.37'), target('web')])
    assert summary(plan) == [
        ('web', 'recreate', 'web', 'patch', 'stop-first'),
        ('sidecar', 'recreate', 'web', 'patch', 'stop-first'),
    ]
    assert plan[1]['new_image_id'] == IMAGES['registry.example.com/base/busybox:1.37']


def test_plan_follower_not_added_when_the_provider_is_current(engine, swapper):
    cid = add(engine, 'web', image=WEB_V2)
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    assert summary(make_plan(swapper, [target('web')])) == [('web', 'none', 'web', 'patch', 'stop-first')]


def test_plan_dependent_patched_alone_leaves_its_provider(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    plan = make_plan(swapper, [target('sidecar', image='registry.example.com/base/busybox:1.37')])
    assert summary(plan) == [('sidecar', 'recreate', 'sidecar', 'patch', 'stop-first')]


def test_plan_endpoint_link_is_not_followed(engine, swapper):
    add(engine, 'db')
    add(engine, 'api', image=BUSYBOX)
    engine.containers[hexid('api')]['NetworkSettings']['Networks']['frontend']['Links'] = ['db:database']
    plan = make_plan(swapper, [target('db')])
    assert summary(plan) == [('db', 'recreate', 'db', 'patch', 'stop-first')]


def test_plan_start_first_on_a_provider_refused(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    with pytest.raises(SwapError) as info:
        make_plan(swapper, [target('web', strategy='start-first')])
    assert info.value.msg == ('container web cannot be patched start-first: sidecar follows it (they are recreated '
                              'after it, stop-first); use stop-first or auto')
    assert info.value.details == {'changed': False}


def test_plan_start_first_on_a_provider_with_two_followers_refused(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    add(engine, 'worker', image=BUSYBOX, network='default', host={'Links': ['/web:/worker/web']})
    with pytest.raises(SwapError) as info:
        make_plan(make_swapper(engine, swapper.journal, swapper.params['state_dir'], strategy='start-first'), [target('web')])
    assert info.value.msg.startswith('container web cannot be patched start-first: sidecar, worker follow it ')


def test_plan_auto_on_a_provider_is_stop_first(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'api')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    plan = make_plan(swapper, [target('web', strategy='auto'), target('api', strategy='auto')])
    assert summary(plan) == [
        ('web', 'recreate', 'web', 'patch', 'stop-first'),
        ('sidecar', 'recreate', 'web', 'follows web (network namespace)', 'stop-first'),
        ('api', 'recreate', 'api', 'patch', 'start-first'),  # nothing pinned, no followers
    ]


def test_plan_auto_with_pinned_identity_or_writable_storage_is_stop_first(engine, swapper):
    add(engine, 'web', host={'PortBindings': {'8080/tcp': [{'HostIp': '', 'HostPort': '8080'}]}})
    add(engine, 'db')
    engine.containers[hexid('db')]['Mounts'] = [{'Type': 'volume', 'Name': 'db-data', 'Destination': '/var/lib/db', 'RW': True}]
    plan = make_plan(swapper, [target('web', strategy='auto'), target('db', strategy='auto')])
    assert [(p['container'], p['strategy']) for p in plan] == [('web', 'stop-first'), ('db', 'stop-first')]


def test_plan_start_first_with_pinned_identity_refused(engine, swapper):
    add(engine, 'web', host={'PortBindings': {'8080/tcp': [{'HostIp': '', 'HostPort': '8080'}]}})
    with pytest.raises(SwapError) as info:
        make_plan(swapper, [target('web', strategy='start-first')])
    assert info.value.msg == ('container web cannot be patched start-first: it publishes host port(s) for 8080/tcp '
                              '(both would clash); use stop-first, or force_start_first')
    forced = make_swapper(engine, swapper.journal, swapper.params['state_dir'], force_start_first=True)
    assert make_plan(forced, [target('web', strategy='start-first')])[0]['strategy'] == 'start-first'


def test_plan_unknown_temporary_and_rm_refused_together(engine, swapper):
    add(engine, 'web-patchops-old')
    add(engine, 'api-patchops-new')
    add(engine, 'job', host={'AutoRemove': True})
    add(engine, 'web2')
    with pytest.raises(SwapError) as info:
        make_plan(swapper, [target('nosuch'), target('web-patchops-old'), target('api-patchops-new'), target('job'),
                            target('web2')])
    assert info.value.msg == '; '.join([
        "container 'nosuch' not found on %s" % WHERE,
        'container web-patchops-old is a patchops temporary; run again to recover it first',
        'container api-patchops-new is a patchops temporary; run again to recover it first',
        'container job runs with --rm (AutoRemove): stopping it would delete it, so it cannot be swapped safely; '
        'recreate it without --rm first',
    ])
    assert info.value.details == {'changed': False}
    assert engine.created == []


def test_plan_missing_image_refused(engine, swapper):
    add(engine, 'web')
    with pytest.raises(SwapError) as info:
        make_plan(swapper, [target('web', image='registry.example.com/shop/web:9.9')])
    assert info.value.msg == ('image registry.example.com/shop/web:9.9 is not on %s: stage it first with '
                              'patchops.containers.image_stage, or set pull: missing' % WHERE)


def test_plan_temporaries_are_not_followers(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'sidecar-patchops-old', image=BUSYBOX, network='container:%s' % cid)
    assert summary(make_plan(swapper, [target('web')])) == [('web', 'recreate', 'web', 'patch', 'stop-first')]


def test_plan_dependency_order(engine, swapper):
    add(engine, 'web', labels={'patchops.depends-on': 'api'})
    add(engine, 'api', labels={'patchops.depends-on': 'db'})
    add(engine, 'db')
    add(engine, 'cache')
    plan = make_plan(swapper, [target('web'), target('cache'), target('api'), target('db')])
    assert [(p['container'], p['order'], p['depends_on']) for p in plan] == [
        ('db', 1, []), ('api', 2, ['db']), ('web', 3, ['api']), ('cache', 4, [])]
    assert [p['group'] for p in plan] == ['db', 'api', 'web', 'cache']


def test_plan_group_runs_where_its_provider_comes(engine, swapper):
    add(engine, 'db')
    cid = add(engine, 'web', labels={'patchops.depends-on': 'db'})
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    plan = make_plan(swapper, [target('web'), target('db')])
    assert [(p['container'], p['group']) for p in plan] == [('db', 'db'), ('web', 'web'), ('sidecar', 'web')]


def test_plan_dependency_cycle_refused(engine, swapper):
    add(engine, 'a', labels={'patchops.depends-on': 'b'})
    add(engine, 'b', labels={'patchops.depends-on': 'a'})
    with pytest.raises(SwapError) as info:
        make_plan(swapper, [target('a'), target('b')])
    assert info.value.msg == 'dependency cycle between containers: a -> b -> a'


def test_plan_blocked_when_unresolved_names_a_member(engine, swapper):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    add(engine, 'api')
    swapper.unresolved['sidecar'] = {'container': 'sidecar', 'action': 'unresolved', 'step': 'start_new',
                                     'run': 'r1', 'error': 'start: no such file', 'state': 'sidecar is stopped'}
    plan = make_plan(swapper, [target('web'), target('api')])
    assert summary(plan) == [
        ('web', 'blocked', 'web', 'patch', 'stop-first'),
        ('sidecar', 'blocked', 'web', 'follows web (network namespace)', 'stop-first'),
        ('api', 'recreate', 'api', 'patch', 'stop-first'),
    ]
    message = unresolved_message(swapper, 'sidecar')
    assert plan[0]['blocked_by'] == plan[1]['blocked_by'] == message
    assert message == (
        'the interrupted swap of sidecar on %s (step start_new) could not be recovered: start: no such file. '
        'State: sidecar is stopped. Fix the cause and run again (every run retries the recovery first), or put '
        'sidecar right by hand and close the entry with patchops.containers.container_rollback abandon: [sidecar]'
        % WHERE)
    assert 'blocked_by' not in plan[2]


def test_plan_stopped_and_paused_recorded(engine, swapper):
    add(engine, 'web', running=False)
    add(engine, 'api')
    engine.containers[hexid('api')]['State'].update(Paused=True, Status='paused')
    plan = make_plan(swapper, [target('web'), target('api')])
    assert [(p['was_running'], p['was_paused']) for p in plan] == [(False, False), (True, True)]


def test_plan_stop_timeout_of_the_target_or_the_container(engine, swapper):
    add(engine, 'web')
    add(engine, 'api')
    engine.containers[hexid('api')]['Config']['StopTimeout'] = 30
    plan = make_plan(swapper, [target('web', stop_timeout=3), target('api')])
    assert [p['stop_timeout'] for p in plan] == [3, 30]


# -- execute (the states recovery starts from) --------------------------------------------------------


def test_execute_stop_first_swap(engine, swapper, journal, verified):
    old = add(engine, 'web')
    result = execute(swapper, make_plan(swapper, [target('web')]))
    new = engine.container('web')
    assert new['Id'] != old and new['Image'] == IMAGES[WEB_V2] and new['State']['Running']
    assert engine.names() == ['web']
    assert verified['calls'] == [new['Id']]
    assert [(r['container'], r['outcome'], r['new_id']) for r in result] == [('web', 'patched', new['Id'])]
    last = journal.load('web')['swaps'][-1]
    assert (last['step'], last['outcome'], last['verified']) == ('done', 'patched', True)
    assert [h['step'] for h in last['history']] == [
        'planned', 'stop_old', 'rename_old', 'create_new', 'created_new', 'start_new', 'verify', 'verified',
        'remove_old', 'done']


def test_execute_group_provider_and_follower(engine, swapper, verified):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid, host={'IpcMode': 'container:%s' % cid})
    result = execute(swapper, make_plan(swapper, [target('web')]))
    assert [(r['container'], r['outcome']) for r in result] == [('web', 'patched'), ('sidecar', 'recreated')]
    sidecar = engine.container('sidecar')
    assert sidecar['HostConfig']['NetworkMode'] == 'container:web'  # by name: survives the next swap of web
    assert sidecar['HostConfig']['IpcMode'] == 'container:web'
    assert engine.created == ['web', 'sidecar']
    stops = calls_of(engine, 'stop')
    assert stops == [hexid('sidecar'), cid]  # followers stopped first


def removed_by_an_outsider_when_stopped(engine, cid):
    """An ``engine.api.fail['stop']`` hook: someone force-removes ``cid`` while the run stops it."""
    def outsider(container):
        if container == cid:
            del engine.containers[cid]
            return NotFound('No such container: %s' % cid)
        return None
    return outsider


def test_execute_group_provider_removed_by_an_outsider_followers_given_back_stopped(engine, swapper, verified):
    """Someone force-removes the provider while the run stops it: its followers' old containers are given
    back under their names, stopped (no start can join a namespace whose container is gone), and their
    swaps closed: a later run has nothing to retry. The result says why each one is not running."""
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid, host={'IpcMode': 'container:%s' % cid})
    sidecar = hexid('sidecar')
    engine.api.fail['stop'] = removed_by_an_outsider_when_stopped(engine, cid)
    with pytest.raises(SwapError) as failed:
        execute(swapper, make_plan(swapper, [target('web')]))
    result = failed.value.details['results']
    assert 'the same container sidecar (%s) is back, not started, on %s again' % (sidecar[:12], BUSYBOX) in str(
        failed.value)
    assert [(r['container'], r['outcome']) for r in result] == [('web', 'abandoned'), ('sidecar', 'rolled_back')]
    back = engine.container('sidecar')
    assert (back['Id'], back['State']['Running']) == (sidecar, False) and engine.names() == ['sidecar']
    why = 'given back but not started: the container whose network namespace it joins (%s) was removed' % cid[:12]
    assert result[1]['not_started'].startswith(why)
    assert 'sidecar: ' + why in result[1]['failure']
    assert swapper.journal.pending() == []
    assert swapper.journal.load('sidecar')['swaps'][-1]['not_started'].startswith(why)


def test_execute_group_link_target_removed_by_an_outsider_link_client_given_back_stopped(engine, swapper, verified):
    """The same with a legacy link (seed 1600321, Docker 26): the engine refuses to start the old link client
    while no container holds the name its link points at; it is given back stopped, its swap closed."""
    cid = add(engine, 'web')
    add(engine, 'worker', image=BUSYBOX, network='default', host={'Links': ['/web:/worker/web']})
    worker = hexid('worker')
    engine.api.fail['stop'] = removed_by_an_outsider_when_stopped(engine, cid)
    with pytest.raises(SwapError) as failed:
        execute(swapper, make_plan(swapper, [target('web')]))
    result = failed.value.details['results']
    assert [(r['container'], r['outcome']) for r in result] == [('web', 'abandoned'), ('worker', 'rolled_back')]
    back = engine.container('worker')
    assert (back['Id'], back['State']['Running']) == (worker, False) and engine.names() == ['worker']
    why = 'given back but not started: the container it links to (web) was removed outside this run'
    assert result[1]['not_started'].startswith(why)
    assert 'worker: ' + why in result[1]['failure']
    assert swapper.journal.pending() == []


def interrupt(engine, swapper, targets, method, when=lambda *args: True):
    """Run the plan of ``targets`` until the engine call ``method`` (for which ``when`` holds) ends the process."""
    engine.api.fail[method] = lambda *args: Crash() if when(*args) else None
    with pytest.raises(Crash):
        execute(swapper, make_plan(swapper, targets))
    del engine.api.fail[method]


def fresh(engine, journal, tmp_path, **params):
    """The next run: a new SwapContext on the same engine and journal, engine calls counted from here."""
    engine.api.calls = []
    engine.created = []
    return make_swapper(engine, journal, tmp_path, **params)


# -- recover ------------------------------------------------------------------------------------------


def test_recover_nothing_pending(swapper):
    assert recover(swapper) == []


def test_recover_verified_swap_is_finished(engine, swapper, journal, tmp_path):
    old = add(engine, 'web')
    interrupt(engine, swapper, [target('web')], 'remove_container', lambda cid: cid == old)
    new_id = journal.load('web')['swaps'][-1]['new_id']
    assert engine.names() == ['web', 'web-patchops-old']

    again = fresh(engine, journal, tmp_path)
    assert recover(again) == [{'container': 'web', 'step': 'remove_old', 'action': 'finished'}]
    assert engine.names() == ['web']
    assert engine.container('web')['Id'] == new_id and engine.container('web')['State']['Running']
    last = journal.load('web')['swaps'][-1]
    assert (last['step'], last['outcome']) == ('done', 'patched')
    assert journal.pending() == []
    assert again.unresolved == {}


def test_recover_start_first_verified_before_rename(engine, journal, tmp_path, verified):
    old = add(engine, 'api')
    swapper = make_swapper(engine, journal, tmp_path)
    interrupt(engine, swapper, [target('api', strategy='start-first')], 'stop', lambda cid: cid == old)
    assert journal.load('api')['swaps'][-1]['verified'] is True
    assert engine.names() == ['api', 'api-patchops-new']

    again = fresh(engine, journal, tmp_path)
    assert recover(again) == [{'container': 'api', 'step': 'stop_old', 'action': 'finished'}]
    assert engine.names() == ['api']
    assert engine.container('api')['Image'] == IMAGES[WEB_V2]
    assert engine.container('api')['State']['Running']


def test_recover_unverified_swap_is_rolled_back(engine, swapper, journal, tmp_path, verified):
    old = add(engine, 'web')
    interrupt(engine, swapper, [target('web')], 'start', lambda cid: cid != old)
    assert journal.load('web')['swaps'][-1]['step'] == 'start_new'
    verified['calls'].clear()

    again = fresh(engine, journal, tmp_path)
    assert recover(again) == [{'container': 'web', 'step': 'start_new', 'action': 'rolled_back'}]
    assert engine.names() == ['web']
    back = engine.container('web')
    assert back['Id'] == old and back['State']['Running']  # the same container
    assert verified['calls'] == [old]
    last = journal.load('web')['swaps'][-1]
    assert (last['step'], last['outcome'], last['failure']) == ('rolled_back', 'rolled_back', 'interrupted at step start_new')


def test_recover_before_the_container_was_touched_restarts_it(engine, swapper, journal, tmp_path):
    """An engine crash stops every container: one whose turn had not come is started again."""
    old = add(engine, 'web')
    interrupt(engine, swapper, [target('web')], 'stop')
    assert journal.load('web')['swaps'][-1]['step'] == 'stop_old'
    engine.containers[old]['State'].update(Running=False, Status='exited')

    again = fresh(engine, journal, tmp_path)
    assert recover(again) == [{'container': 'web', 'step': 'stop_old', 'action': 'rolled_back'}]
    assert engine.container('web')['Id'] == old and engine.container('web')['State']['Running']
    assert engine.created == []


def test_recover_rolling_back_is_rolled_back_even_if_verified(engine, swapper, journal, tmp_path):
    """Verified, then the removal of the old one failed and the rollback began; the process ended in it."""
    old = add(engine, 'web')
    removals = []

    def remove(cid):
        removals.append(cid)
        if len(removals) == 1:
            return EngineError('remove old web: the engine answered: device or resource busy')
        return Crash()  # removing the new container on the way back

    engine.api.fail['remove_container'] = remove
    with pytest.raises(Crash):
        execute(swapper, make_plan(swapper, [target('web')]))
    del engine.api.fail['remove_container']
    last = journal.load('web')['swaps'][-1]
    assert (last['verified'], last['rolling_back'], last['step']) == (True, True, 'rollback')

    again = fresh(engine, journal, tmp_path)
    assert recover(again) == [{'container': 'web', 'step': 'rollback', 'action': 'rolled_back'}]
    assert engine.names() == ['web']
    assert engine.container('web')['Id'] == old and engine.container('web')['State']['Running']
    assert journal.load('web')['swaps'][-1]['outcome'] == 'rolled_back'


def test_engine_killed_while_it_removed_the_old_container_keeps_the_new_one(engine, swapper, journal, tmp_path):
    """The engine killed mid-removal leaves the old container dead ("marked for removal"), which no start can
    give back: the give-back finishes the removal and keeps the verified new container (seed 1200396)."""
    old = add(engine, 'web')

    def killed_mid_removal(cid):
        if cid == old and not engine.containers[old]['State'].get('Dead'):
            engine.containers[old]['State'].update(Status='dead', Dead=True, Running=False)
            return EngineError('remove old web: the engine at unix:///var/run/docker.sock did not answer')
        return None

    engine.api.fail['remove_container'] = killed_mid_removal
    with pytest.raises(SwapError) as failed:
        execute(swapper, make_plan(swapper, [target('web')]))
    result = failed.value.details['results'][0]
    new = engine.container('web')
    assert (result['outcome'], new['Id'], new['State']['Running']) == ('kept_new', result['new_id'], True)
    assert new['Id'] != old and engine.names() == ['web'] and old not in engine.containers
    last = journal.load('web')['swaps'][-1]
    assert (last['outcome'], last['old_dead']) == ('kept_new', True)
    assert recover(fresh(engine, journal, tmp_path)) == []


def test_podman_killed_while_it_removed_the_old_container_the_next_run_finishes_that_removal(
        engine, swapper, journal, tmp_path):
    """Podman killed while it removed a verified swap's old container deletes that container's layer at its
    next start and keeps the container: every compat inspect of it and every list fail ("layer not known").
    The next run finishes the removal and the swap, and lists again (seed 1700254)."""
    engine.kind = 'podman'
    old = add(engine, 'web')
    interrupt(engine, swapper, [target('web')], 'remove_container', lambda cid: cid == old)
    engine.lose_storage(old)
    again = fresh(engine, journal, tmp_path)
    assert recover(again) == [{'container': 'web', 'step': 'remove_old', 'action': 'finished'}]
    new = engine.container('web')
    assert old not in engine.containers and engine.names() == ['web'] and new['State']['Running']
    assert journal.load('web')['swaps'][-1]['outcome'] == 'patched'
    assert summary(make_plan(again, [target('web')])) == [('web', 'none', 'web', 'patch', 'stop-first')]  # on v2


def test_recover_group_rolled_back_as_a_whole_provider_first(engine, swapper, journal, tmp_path):
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    sidecar_old = hexid('sidecar')
    interrupt(engine, swapper, [target('web')], 'start',
              lambda c: c not in (cid, sidecar_old) and engine.containers[c]['Name'] == '/sidecar')
    # web was started and verified (its verified mark is the group's, once all are), sidecar was being started.
    steps = {n: journal.load(n)['swaps'][-1]['step'] for n in ('web', 'sidecar')}
    assert steps == {'web': 'verify', 'sidecar': 'start_new'}

    again = fresh(engine, journal, tmp_path)
    assert recover(again) == [
        {'container': 'web', 'step': 'verify', 'action': 'rolled_back'},
        {'container': 'sidecar', 'step': 'start_new', 'action': 'rolled_back'},
    ]
    assert journal.load('sidecar')['swaps'][-1]['failure'] == 'interrupted at step web: verify, sidecar: start_new'
    assert engine.names() == ['sidecar', 'web']
    assert engine.container('web')['Id'] == cid and engine.container('sidecar')['Id'] == sidecar_old
    starts = calls_of(engine, 'start')
    assert starts == [cid, sidecar_old]  # provider first


def test_recover_group_finished_removes_followers_old_first(engine, swapper, journal, tmp_path):
    """Podman refuses to remove a provider while a container joined to its namespace exists."""
    engine.kind = 'podman'
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    sidecar_old = hexid('sidecar')
    interrupt(engine, swapper, [target('web')], 'remove_container', lambda c: c == sidecar_old)
    assert all(journal.load(n)['swaps'][-1]['verified'] for n in ('web', 'sidecar'))

    again = fresh(engine, journal, tmp_path)
    assert [(d['container'], d['action']) for d in recover(again)] == [('web', 'finished'), ('sidecar', 'finished')]
    assert engine.names() == ['sidecar', 'web']
    assert calls_of(engine, 'remove_container') == [sidecar_old, cid]
    web = engine.container('web')['Id']
    assert web != cid and engine.container('sidecar')['HostConfig']['NetworkMode'] in ('container:web', 'container:' + web)
    assert journal.pending() == []


def test_recover_provider_in_a_restart_loop_says_to_restart_the_engine(engine, swapper, journal, tmp_path):
    """dockerd killed with its containerd can leave a restart-policy container in a loop that only an engine
    restart ends (seen on Docker 26): its follower cannot join it, and the run says so, with the way out."""
    cid = add(engine, 'web')
    add(engine, 'sidecar', image=BUSYBOX, network='container:%s' % cid)
    interrupt(engine, swapper, [target('web')], 'start', lambda c: engine.containers[c]['Name'] == '/sidecar')
    engine.containers[cid]['State'].update(Status='restarting', Running=True, Restarting=True, ExitCode=137)
    engine.containers[cid]['RestartCount'] = 6
    done = recover(fresh(engine, journal, tmp_path))
    # web is given back (the same container, which the engine restarts), sidecar waits for it.
    assert [(d['container'], d['action']) for d in done] == [('web', 'rolled_back'), ('sidecar', 'unresolved')]
    assert done[1]['error'].startswith('sidecar cannot start: web, whose network namespace it joins, keeps restarting '
                                       '(restarted 6 times, last exit code 137)')
    assert 'restart the engine (systemctl restart docker), then run again' in done[1]['error']
    assert [name for name, dummy in journal.pending()] == ['sidecar']

    engine.containers[cid]['State'].update(Status='running', Restarting=False, ExitCode=0)  # the engine restarted
    assert [(d['container'], d['action']) for d in recover(fresh(engine, journal, tmp_path))] == [
        ('sidecar', 'rolled_back')]
    assert engine.container('sidecar')['Id'] == hexid('sidecar') and engine.container('sidecar')['State']['Running']


def test_recover_stale_legacy_link_says_to_restart_the_engine(engine, swapper, journal, tmp_path):
    """dockerd restarted mid-swap keeps a linker's link on the container that held the name then."""
    old = add(engine, 'web')
    interrupt(engine, swapper, [target('web')], 'start', lambda cid: cid != old)
    again = fresh(engine, journal, tmp_path)
    refusal = 'Cannot link to a non running container: /db AS /web/db'
    engine.api.fail['start'] = lambda cid: EngineError(refusal) if cid == old else None
    done = recover(again)
    assert [(d['container'], d['action']) for d in done] == [('web', 'unresolved')]
    assert done[0]['error'].startswith(refusal + ': the engine restarted in the middle of the swap')
    assert 'restart the engine (systemctl restart docker' in done[0]['error']
    assert [name for name, dummy in journal.pending()] == ['web']  # retried by the next run

    del engine.api.fail['start']  # the engine restarted: its links read again by name
    assert [(d['container'], d['action']) for d in recover(fresh(engine, journal, tmp_path))] == [
        ('web', 'rolled_back')]
    assert engine.container('web')['Id'] == old and engine.container('web')['State']['Running']


def test_recover_engine_error_leaves_it_unresolved_and_handles_the_others(engine, swapper, journal, tmp_path):
    api_old = add(engine, 'api')
    web_old = add(engine, 'web')
    interrupt(engine, swapper, [target('api')], 'start', lambda cid: cid != api_old)
    interrupt(engine, fresh(engine, journal, tmp_path), [target('web')], 'remove_container', lambda cid: cid == web_old)

    again = fresh(engine, journal, tmp_path)
    error = ('restart old api: the engine at unix:///var/run/docker.sock answered: error while creating mount source '
             'path "/srv/api/conf": no such file or directory')
    engine.api.fail['start'] = lambda cid: EngineError(error) if cid == api_old else None
    done = recover(again)
    state = ('api is %s (the container from before the patch), image %s, exited' % (api_old[:12], WEB_V1))
    run = journal.load('api')['swaps'][-1]['run']
    assert done == [
        {'container': 'api', 'action': 'unresolved', 'step': 'start_new', 'run': run, 'error': error, 'state': state},
        {'container': 'web', 'step': 'remove_old', 'action': 'finished'},
    ]
    assert again.unresolved == {'api': done[0]}
    last = journal.load('api')['swaps'][-1]
    assert (last['step'], last['recovery_error'], last.get('outcome')) == ('recovery_failed', error, None)
    assert [name for name, dummy in journal.pending()] == ['api']  # retried by the next run
    assert journal.load('web')['swaps'][-1]['outcome'] == 'patched'

    # Until it is settled, a plan leaves it alone and says why.
    plan = make_plan(again, [target('api'), target('web')])
    assert [(p['container'], p['action']) for p in plan] == [('api', 'blocked'), ('web', 'none')]
    assert plan[0]['blocked_by'] == unresolved_message(again, 'api')


def test_recover_retried_by_the_next_run(engine, swapper, journal, tmp_path):
    old = add(engine, 'api')
    interrupt(engine, swapper, [target('api')], 'start', lambda cid: cid != old)
    engine.api.fail['start'] = lambda cid: EngineError('start failed')
    assert recover(fresh(engine, journal, tmp_path))[0]['action'] == 'unresolved'
    del engine.api.fail['start']
    assert recover(fresh(engine, journal, tmp_path)) == [
        {'container': 'api', 'step': 'recovery_failed', 'action': 'rolled_back'}]
    assert engine.container('api')['Id'] == old and engine.container('api')['State']['Running']


def test_recover_check_mode_changes_nothing(engine, swapper, journal, tmp_path):
    old = add(engine, 'web')
    interrupt(engine, swapper, [target('web')], 'start', lambda cid: cid != old)
    before = open(journal.path('web')).read()
    names = engine.names()
    checking = fresh(engine, journal, tmp_path, check_mode=True)
    assert recover(checking) == [{'container': 'web', 'action': 'would recover', 'step': 'start_new'}]
    assert open(journal.path('web')).read() == before
    assert engine.names() == names
    assert not [c for c in engine.api.calls if c[0] not in READS]


# -- abandon ------------------------------------------------------------------------------------------


def test_abandon_nothing(swapper):
    assert abandon(swapper, []) == []


def test_abandon_unknown_name_refused(engine, swapper, journal, tmp_path):
    with pytest.raises(SwapError) as info:
        abandon(swapper, ['web'])
    assert info.value.msg == 'the journal on %s has no unfinished swap of web to abandon (unfinished: none)' % WHERE
    old = add(engine, 'api')
    interrupt(engine, swapper, [target('api')], 'start', lambda cid: cid != old)
    with pytest.raises(SwapError) as info:
        abandon(fresh(engine, journal, tmp_path), ['web', 'db', 'api'])
    assert info.value.msg == ('the journal on %s has no unfinished swap of web, db to abandon (unfinished: api)' % WHERE)
    assert info.value.details == {'changed': False}


def test_abandon_check_mode_writes_nothing(engine, swapper, journal, tmp_path):
    old = add(engine, 'api')
    interrupt(engine, swapper, [target('api')], 'start', lambda cid: cid != old)
    before = open(journal.path('api')).read()
    new_id = journal.load('api')['swaps'][-1]['new_id']
    out = abandon(fresh(engine, journal, tmp_path, check_mode=True), ['api'])
    state = ('api is %s (the new container), image %s, created; api-patchops-old is %s (the container from before '
             'the patch), image %s, exited' % (new_id[:12], WEB_V2, old[:12], WEB_V1))
    assert out == [{'container': 'api', 'step': 'start_new', 'state': state, 'action': 'would abandon'}]
    assert open(journal.path('api')).read() == before
    assert sorted(os.listdir(journal.dir)) == ['api.json']


def test_abandon_closes_the_entry_without_touching_containers(engine, swapper, journal, tmp_path):
    old = add(engine, 'api')
    interrupt(engine, swapper, [target('api')], 'start', lambda cid: cid != old)
    names = engine.names()
    again = fresh(engine, journal, tmp_path)
    out = abandon(again, ['api'])
    assert [(o['container'], o['action']) for o in out] == [('api', 'abandoned')]
    assert engine.names() == names
    assert not [c for c in engine.api.calls if c[0] not in READS]
    with open(journal.path('api')) as fh:
        last = json.load(fh)['swaps'][-1]
    assert (last['step'], last['outcome'], last['abandoned_state']) == ('abandoned', 'abandoned', out[0]['state'])
    assert journal.pending() == []
    assert recover(again) == []


def test_abandon_result_names_the_step_it_was_at(engine, swapper, journal, tmp_path):
    old = add(engine, 'api')
    interrupt(engine, swapper, [target('api')], 'start', lambda cid: cid != old)
    assert abandon(fresh(engine, journal, tmp_path, check_mode=True), ['api'])[0]['step'] == 'start_new'
    assert abandon(fresh(engine, journal, tmp_path), ['api'])[0]['step'] == 'start_new'


def test_plan_by_short_container_id(engine, swapper):
    cid = add(engine, 'web')
    assert summary(make_plan(swapper, [target(cid[:12])])) == [('web', 'recreate', 'web', 'patch', 'stop-first')]


# -- nothing outside the run: a shared tag --------------------------------------------------------------

COMPOSE = {'com.docker.compose.project': 'shop', 'com.docker.compose.version': '1.29.2'}


def compose_project(engine, services=(('web', 2), ('db', 1), ('proxy', 1))):
    """Services that all name WEB_V1 in their image: (the same tag), as compose creates them."""
    for service, replicas in services:
        for number in range(1, replicas + 1):
            add(engine, 'shop_%s_%d' % (service, number),
                labels=dict(COMPOSE, **{'com.docker.compose.service': service}))


def test_plan_refuses_to_move_a_tag_that_containers_outside_the_run_use(engine, swapper):
    compose_project(engine)
    add(engine, 'other', running=False)  # created from the same reference, not compose: uses the tag too
    with pytest.raises(SwapError) as caught:
        make_plan(swapper, [{'compose_project': 'shop', 'service': 'web', 'image': WEB_V2}])
    msg = caught.value.msg
    assert ('patching shop_web_1, shop_web_2 would move the tag %s to the patched image, and containers not in '
            'this run use it: other, shop_db_1, shop_proxy_1 (compose would recreate them' % WEB_V1) in msg, msg
    for way_out in ('compose_file: update', 'patch those containers in the same run', 'move_shared_tag: true'):
        assert way_out in msg
    assert caught.value.details['changed'] is False
    assert not [c for c in engine.api.calls if c[0] not in READS]
    assert engine.created == []


def test_plan_refuses_in_check_mode_too(engine, journal, tmp_path, verified):
    compose_project(engine)
    with pytest.raises(SwapError, match='containers not in this run use it'):
        make_plan(make_swapper(engine, journal, tmp_path, check_mode=True),
                  [{'compose_project': 'shop', 'service': 'web', 'image': WEB_V2}])


def test_plan_moves_a_shared_tag_when_every_user_is_in_the_run_or_when_asked(engine, journal, tmp_path, verified):
    compose_project(engine)
    everyone = [{'compose_project': 'shop', 'service': s, 'image': WEB_V2} for s in ('web', 'db', 'proxy')]
    plan = make_plan(make_swapper(engine, journal, tmp_path), everyone)
    assert {p['compose_ref'] for p in plan} == {WEB_V1}
    asked = make_swapper(engine, journal, tmp_path, move_shared_tag=True)
    plan = make_plan(asked, [{'compose_project': 'shop', 'service': 'web', 'image': WEB_V2}])
    assert [(p['container'], p['compose_ref']) for p in plan] == [('shop_web_1', WEB_V1), ('shop_web_2', WEB_V1)]
    assert any('also concerns shop_db_1, shop_proxy_1' in n for n in asked.notes), asked.notes


def test_plan_leaves_the_tag_of_a_container_with_a_project_label_only(engine, swapper):
    add(engine, 'labelled', labels={'com.docker.compose.project': 'p'})  # not a service compose manages
    add(engine, 'other')
    plan = make_plan(swapper, [target('labelled')])
    assert plan[0]['action'] == 'recreate' and 'compose_ref' not in plan[0]


# -- a container on its target is verified; an image that failed is not put on what cannot be ------------


@pytest.fixture
def by_image(engine):
    """The swap's verify() (SwapContext.verify): a container fails when it runs an image in ``failing``."""
    state = {'calls': [], 'failing': set()}

    def fake_verify(engine_, container_id, probes, wait_health=True, timeout=60, settle=2.0):
        state['calls'].append(engine.container(container_id)['Name'].lstrip('/'))
        if engine.container(container_id)['Image'] in state['failing']:
            return False, [{'type': 'health', 'ok': False, 'output': 'health unhealthy'}]
        return True, [{'type': 'health', 'ok': True, 'output': 'health healthy'}]
    engine.fake_verify = fake_verify
    return state


def with_healthcheck(engine, ref=WEB_V2):
    engine.images[IMAGES[ref]]['Config']['Healthcheck'] = {'Test': ['CMD', 'true'], 'Interval': 1000000000}


def test_plan_says_which_containers_can_be_verified(engine, journal, tmp_path, by_image):
    with_healthcheck(engine)
    add(engine, 'web')
    add(engine, 'stopped', running=False)
    add(engine, 'paused')
    engine.containers[hexid('paused')]['State'].update(Paused=True, Status='paused')
    add(engine, 'nocheck')
    engine.containers[hexid('nocheck')]['Config']['Healthcheck'] = {'Test': ['NONE']}  # the operator turned it off
    targets = [target(n) for n in ('web', 'stopped', 'paused', 'nocheck')]
    plan = make_plan(make_swapper(engine, journal, tmp_path), targets)
    assert [(p['container'], p['verifiable']) for p in plan] == [
        ('web', True), ('stopped', False), ('paused', False), ('nocheck', False)]
    plan = make_plan(make_swapper(engine, journal, tmp_path, wait_health=False), targets)
    assert [p['verifiable'] for p in plan] == [False] * 4
    plan = make_plan(make_swapper(engine, journal, tmp_path, probes=[{'type': 'tcp', 'port': 8080}]), targets)
    assert [p['verifiable'] for p in plan] == [True, False, False, True]
    engine.images[IMAGES[WEB_V2]]['Config'].pop('Healthcheck')
    plan = make_plan(make_swapper(engine, journal, tmp_path), targets)
    assert [p['verifiable'] for p in plan] == [False] * 4


def test_current_container_is_verified(engine, journal, tmp_path, by_image):
    cid = add(engine, 'web', image=WEB_V2)
    add(engine, 'stopped', image=WEB_V2, running=False)
    swapper = make_swapper(engine, journal, tmp_path)
    result = execute(swapper, make_plan(swapper, [target('web'), target('stopped')]))
    assert [(r['container'], r['outcome'], r['changed'], r['new_id']) for r in result] == [
        ('web', 'current', False, cid), ('stopped', 'current', False, hexid('stopped'))]
    assert result[0]['verification'] == [{'type': 'health', 'ok': True, 'output': 'health healthy'}]
    assert by_image['calls'] == ['web']  # nothing runs in the stopped one to verify


def test_current_container_that_fails_verification_fails_the_run(engine, journal, tmp_path, by_image):
    by_image['failing'].add(IMAGES[WEB_V2])
    cid = add(engine, 'web', image=WEB_V2)  # e.g. kept after a failed give-back (kept_new), unhealthy
    swapper = make_swapper(engine, journal, tmp_path)
    with pytest.raises(SwapError) as caught:
        execute(swapper, make_plan(swapper, [target('web')]))
    assert caught.value.msg == ('web: it runs its target image %s already but fails verification: health unhealthy; '
                                'nothing changed' % WEB_V2)
    result = caught.value.details['results'][0]
    assert (result['outcome'], result['changed'], result['new_id']) == ('failed', False, cid)
    assert caught.value.details['changed'] is False
    assert engine.container('web')['Id'] == cid and engine.created == []


def test_image_that_failed_is_held_from_containers_that_cannot_be_verified(engine, journal, tmp_path, by_image):
    with_healthcheck(engine)
    by_image['failing'].add(IMAGES[WEB_V2])
    stopped = add(engine, 'stopped', running=False)  # first in the plan: waits for web's verification
    web = add(engine, 'web')
    swapper = make_swapper(engine, journal, tmp_path, parallel=3, on_failure='continue')
    with pytest.raises(SwapError) as caught:
        execute(swapper, make_plan(swapper, [target('stopped'), target('web')]))
    results = {r['container']: r for r in caught.value.details['results']}
    assert results['web']['outcome'] == 'rolled_back' and engine.container('web')['Id'] == web
    held = results['stopped']
    assert (held['outcome'], held['changed'], held['new_id']) == ('held', False, stopped)
    assert held['reason'] == ('held: %s failed verification on web in this run, and stopped cannot be verified '
                              '(it does not run)' % WEB_V2)
    assert 'stopped: held: %s failed verification on web' % WEB_V2 in caught.value.msg
    assert engine.created == ['web'] and engine.container('stopped')['Image'] == IMAGES[WEB_V1]
    assert journal.pending() == []
    assert journal.load('stopped')['swaps'][-1]['outcome'] == 'held'


def test_held_when_the_run_stops_at_the_failure(engine, journal, tmp_path, by_image):
    with_healthcheck(engine)
    by_image['failing'].add(IMAGES[WEB_V2])
    add(engine, 'web')
    add(engine, 'stopped', running=False)
    swapper = make_swapper(engine, journal, tmp_path)  # on_failure: stop, parallel 1
    with pytest.raises(SwapError) as caught:
        execute(swapper, make_plan(swapper, [target('web'), target('stopped')]))
    assert [(r['container'], r['outcome']) for r in caught.value.details['results']] == [
        ('web', 'rolled_back'), ('stopped', 'held')]
    assert caught.value.details['not_attempted'] == []


def test_current_container_failing_holds_the_image_from_the_others(engine, journal, tmp_path, by_image):
    with_healthcheck(engine)
    by_image['failing'].add(IMAGES[WEB_V2])
    add(engine, 'kept', image=WEB_V2)
    add(engine, 'stopped', running=False)
    swapper = make_swapper(engine, journal, tmp_path, on_failure='continue')
    with pytest.raises(SwapError):
        execute(swapper, make_plan(swapper, [target('stopped'), target('kept')]))
    assert engine.created == [] and engine.container('stopped')['Image'] == IMAGES[WEB_V1]


def test_image_that_passed_is_put_on_the_others_after_its_verification(engine, journal, tmp_path, by_image):
    with_healthcheck(engine)
    add(engine, 'stopped', running=False)
    add(engine, 'web')
    swapper = make_swapper(engine, journal, tmp_path, parallel=3)
    result = execute(swapper, make_plan(swapper, [target('stopped'), target('web')]))
    assert [(r['container'], r['outcome']) for r in result] == [('stopped', 'patched'), ('web', 'patched')]
    assert engine.created == ['web', 'stopped']  # the one that cannot be verified waited for web's verification


def test_waiting_for_a_verifier_that_needs_it_does_not_deadlock(engine, journal, tmp_path, by_image):
    with_healthcheck(engine)
    add(engine, 'db', running=False)
    add(engine, 'api', labels={'patchops.depends-on': 'db'})
    swapper = make_swapper(engine, journal, tmp_path, parallel=3)
    plan = make_plan(swapper, [target('api'), target('db')])
    assert [p['container'] for p in plan] == ['db', 'api']
    result = execute(swapper, plan)
    assert [(r['container'], r['outcome']) for r in result] == [('db', 'patched'), ('api', 'patched')]


def test_not_attempted_containers_have_a_result(engine, journal, tmp_path, by_image):
    by_image['failing'].add(IMAGES[WEB_V2])
    add(engine, 'web')
    add(engine, 'current', image=BUSYBOX)
    swapper = make_swapper(engine, journal, tmp_path)
    with pytest.raises(SwapError) as caught:
        execute(swapper, make_plan(swapper, [target('web'), target('current', image=BUSYBOX)]))
    assert [(r['container'], r['outcome']) for r in caught.value.details['results']] == [
        ('web', 'rolled_back'), ('current', 'not_attempted')]
    assert caught.value.details['not_attempted'] == ['current']
