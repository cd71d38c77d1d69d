"""Case 6: patch runs started at once against the same containers of one host.

The per-engine lock serialises them: a run with the default lock_timeout waits and then finds
nothing left to do; a run with a short lock_timeout refuses cleanly, naming the lock and its holder.
(A lock held by a process of the test itself is tests/integration/test_patch.py::test_lock_held_by_another_run.)
"""

import pytest

from faultkit import (Background, Guard, app_container, forget_journals, freeze, journal_path, last_swap,
                      remove_app, tagged_play, thaw, wait_paused)

HOST = None  # the second host of the engine kind under test: on_engine


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Once per engine kind, in that kind's shard, on its second host (conftest engine_kind)."""
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[1]


def test_two_runs_at_once_one_waits_one_refuses(lab, uid):
    api = lab.pull(HOST, 'v1', 'v2')
    v2 = api.inspect_image(lab.image('v2'))['Id']
    names = ['cc-%s-a' % uid, 'cc-%s-b' % uid]
    args = {'containers': [{'name': n, 'image': lab.image('v2')} for n in names], 'verify_timeout': 30}
    frozen = []
    try:
        for name in names:
            app_container(lab, api, name)
        guard = Guard(lab, HOST, names, uid)
        first = Background(lab.playbook, tagged_play(HOST, [{'patchops.containers.container_patch': args}], uid,
                                                     pause_at='verify'))
        first.start()
        # Hold the first run mid-swap (an old container set aside, its new one about to be verified),
        # inside the lock, while two more runs start.
        frozen = wait_paused(uid, first)
        freeze(frozen)
        assert any(last_swap(journal_path(lab, HOST, n))['step'] == 'verify' for n in names)
        waiter = Background(lab.module, HOST, 'container_patch', args)
        hasty = Background(lab.module, HOST, 'container_patch', dict(args, lock_timeout=1))
        waiter.start()
        hasty.start()
        res = hasty.join_result(timeout=120)[HOST]
        assert res['_status'] == 'failed'
        assert 'another patchops run holds the lock' in res['msg'] and 'waited 1 s (lock_timeout)' in res['msg'], res['msg']
        assert any('(pid %d since' % pid in res['msg'] for pid in frozen), res['msg']  # the holder is named
        assert not res.get('changed')
        assert waiter.is_alive()  # still waiting for the lock
        thaw(frozen)

        dummy, results = first.join_result(timeout=180)
        res = results[HOST][-1]
        assert res['_status'] == 'ok', res.get('msg')
        assert [c['outcome'] for c in res['containers']] == ['patched', 'patched']

        res = waiter.join_result(timeout=180)[HOST]
        assert res['_status'] == 'ok', res.get('msg')
        assert res['changed'] is False and res['recovered'] == [], res  # it waited, then found both current
        # Both current in its plan: it planned only after the first run's swaps were done (they were on
        # v1 when it started). (Its ad hoc run may end before the first's ansible-playbook process does.)
        assert [p['action'] for p in res['plan']] == ['none', 'none']

        guard.check({v2})
        guard.no_pending()
    finally:
        thaw(frozen)
        remove_app(lab.engine(HOST), *names)
        forget_journals(lab, HOST, names)
