"""Case 4: the disk fills up while the new container is being created.

What is full is the filesystem of the swap journal (``state_dir``, a 64 KiB tmpfs mounted in the
host's own mount namespace and filled up at the ``create_new`` step). On a real host
``/var/lib/patchops`` and ``/var/lib/docker`` usually share ``/var``, so this is the part of "the
engine's disk is full" that patchops itself meets. The engine's own data root running out of space
cannot be made here without rebuilding a lab host's data root on a small filesystem (see
docs/reliability.md).
"""

import os

import pytest

from labkit import LAB_DIR

from faultkit import (Background, Guard, app_container, last_swap, remove_app, safe_id, tagged_play, thaw,
                      wait_paused)

HOST = None  # the second host of the engine kind under test: on_engine


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Once per engine kind, in that kind's shard, on its second host (conftest engine_kind)."""
    global HOST  # pylint: disable=global-statement
    HOST = engine_hosts[1]


def test_journal_disk_full_while_creating_rolls_back_then_converges(lab, uid):
    api = lab.pull(HOST, 'v1', 'v2')
    v1, v2 = (api.inspect_image(lab.image(t))['Id'] for t in ('v1', 'v2'))
    name = 'df-%s' % uid
    state_dir = '/tmp/patchops-full-%s' % uid
    with open(os.path.join(LAB_DIR, 'hosts', HOST, 'sshd.pid')) as fh:
        host_root = '/proc/%s/root' % fh.read().strip()  # the host's mount namespace, seen from here
    journal = '%s%s/%s/journal/%s.json' % (host_root, state_dir, safe_id(lab.engine_id(HOST)), name)
    args = {'containers': [{'name': name, 'image': lab.image('v2')}], 'state_dir': state_dir, 'verify_timeout': 30}
    lab.ssh(HOST, 'mkdir -p %s && mount -t tmpfs -o size=64k,mode=700 patchops-full %s' % (state_dir, state_dir))
    try:
        app_container(lab, api, name)
        old_id = api.inspect_container(name)['Id']
        guard = Guard(lab, HOST, [name], uid)

        run = Background(lab.playbook, tagged_play(HOST, [{'patchops.containers.container_patch': args}], uid,
                                                   pause_at='create_new'))
        run.start()
        frozen = []
        try:
            frozen = wait_paused(uid, run)
            assert last_swap(journal)['step'] == 'create_new'
            filled = lab.ssh(HOST, 'dd if=/dev/zero of=%s/fill bs=4k; df -k %s' % (state_dir, state_dir), check=False)
            assert 'No space left on device' in filled.stdout + filled.stderr, filled
            thaw(frozen)
            dummy, results = run.join_result()
        finally:
            thaw(frozen)
        res = results[HOST][-1]
        assert res['_status'] == 'failed'
        assert res['rolled_back'] is True, res
        assert 'cannot write the journal file %s/' % state_dir in res['msg'], res['msg']
        assert 'No space left on device' in res['msg'] and 'rolled back: the same container' in res['msg'], res['msg']
        assert any('put back all the same' in w for w in res.get('warnings') or []), res.get('warnings')
        after = guard.check({v1})
        assert after[name]['Id'] == old_id  # the same container, not a copy

        # Still full: the next run says so before it touches anything.
        again = lab.module(HOST, 'container_patch', args)[HOST]
        assert again['_status'] == 'failed'
        assert 'cannot write the journal file' in again['msg'] and 'before step planned' in again['msg'], again['msg']
        assert guard.check({v1})[name]['Id'] == old_id

        # Space again: the unfinished record is settled, the patch goes through, then nothing to do.
        lab.ssh(HOST, 'rm -f %s/fill' % state_dir)
        rerun = lab.module(HOST, 'container_patch', args)[HOST]
        assert rerun['_status'] == 'ok', rerun.get('msg')
        assert [(r['container'], r['action']) for r in rerun['recovered']] == [(name, 'rolled_back')]
        assert guard.check({v2})[name]['Image'] == v2
        guard.no_pending(state_dir=host_root + state_dir)
        last = lab.module(HOST, 'container_patch', args)[HOST]
        assert last['_status'] == 'ok' and last['changed'] is False, last
    finally:
        remove_app(lab.engine(HOST), name)
        lab.ssh(HOST, 'umount %s; rmdir %s' % (state_dir, state_dir), check=False)
