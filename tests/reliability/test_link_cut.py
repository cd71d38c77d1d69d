"""Case 2: a host's link cut in the middle of its batch of patch.yml (SSH lost), restored, run again.

The controller gives up on the host (SSH keepalive, as an operator would set for unattended runs);
the module on the host does not depend on the controller and finishes its swap on its own. Nothing
is lost, and the rerun brings every host to the target.
"""

import json
import os

import pytest

from labkit import ROOT

from faultkit import (STATE_DIR, Background, Guard, app_container, forget_journals, journal_path, remove_app, safe_id,
                      lock_free, wait_for, wait_for_step)

PLAYBOOK = os.path.join(ROOT, 'playbooks', 'patch.yml')
HOSTS = []  # the three hosts of the engine kind under test (on_engine)
CUT = None  # the third, in the second batch with the second


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    global CUT  # pylint: disable=global-statement
    HOSTS[:] = engine_hosts
    CUT = HOSTS[2]


def engine_lock_free(lab, host):
    """True when no run holds the engine lock of ``host`` (its module is done)."""
    return lock_free(os.path.join(STATE_DIR, safe_id(lab.engine_id(host)), 'lock'))


def ssh_args(lab):
    with open(lab.inventory) as fh:
        line = next(li for li in fh if li.startswith('ansible_ssh_common_args='))
    # Keepalives: a dead link is noticed in ~3 s instead of TCP's minutes.
    return line.split('=', 1)[1].strip().strip("'") + ' -o ServerAliveInterval=1 -o ServerAliveCountMax=3'


def patch_run(lab, tmp_path, name, label, serial=(1, '100%')):
    extravars = {
        'patchops_hosts': ','.join(HOSTS),
        'patchops_targets': [{'name': name, 'image': lab.image('v2')}],
        'patchops_serial': list(serial),
        'report_dir': str(tmp_path / label),
        'pretest_min_free_bytes': 1,
        'rollout_verify_timeout': 30,
        'ansible_ssh_common_args': ssh_args(lab),
    }
    runner, results = lab.playbook(PLAYBOOK, extravars=extravars)
    stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
    return runner, results, stats


def test_link_cut_mid_batch_then_restored_and_rerun(lab, uid, tmp_path):
    name = 'lc-%s' % uid
    guards = {}
    v2 = None
    try:
        for host in HOSTS:
            api = lab.pull(host, 'v1', 'v2')
            v2 = api.inspect_image(lab.image('v2'))['Id']
            app_container(lab, api, name)
            guards[host] = Guard(lab, host, [name], uid)
        v1 = lab.engine(CUT).inspect_image(lab.image('v1'))['Id']

        run = Background(patch_run, lab, tmp_path, name, 'faulted')
        run.start()
        try:
            # The new container on the cut host is being verified when its link goes down.
            wait_for_step(journal_path(lab, CUT, name), ['verify'], run, timeout=240)
            lab.lab('fault', 'link-cut', CUT)
            runner, results, stats = run.join_result(timeout=240)
        finally:
            lab.lab('fault', 'link-restore', CUT)
        assert runner.rc != 0
        assert CUT in stats['dark'], stats  # unreachable for the controller
        artifact = stats['artifact_data']['patchops_patch']
        assert artifact['hosts']['unreachable'] == [CUT], artifact  # not "not attempted": it was
        assert sorted(artifact['hosts']['patched']) == sorted(HOSTS[:2]), artifact
        for host in HOSTS[:2]:
            assert host not in stats['dark'] and host not in stats['failures'], stats
            assert guards[host].check({v2})[name]['Image'] == v2

        # The host finished alone: once its module let go of the lock, the container is whole,
        # on the old or the new image, and the journal holds no unfinished swap.
        wait_for('the module on %s to finish' % CUT, lambda: engine_lock_free(lab, CUT), timeout=120, interval=0.5)
        alone = guards[CUT].check({v1, v2})
        print('%s after the cut: %s' % (CUT, 'v2' if alone[name]['Image'] == v2 else 'v1'))
        guards[CUT].no_pending()

        runner, results, stats = patch_run(lab, tmp_path, name, 'rerun', serial=['100%'])
        assert runner.rc == 0, [(h, r['_task'], r.get('msg')) for h, rs in results.items() for r in rs
                                if r['_status'] in ('failed', 'unreachable')]
        artifact = stats['artifact_data']['patchops_patch']
        assert sorted(artifact['hosts']['unchanged'] + artifact['hosts']['patched']) == sorted(HOSTS), artifact
        for host in HOSTS:
            assert guards[host].check({v2})[name]['Image'] == v2
        with open(artifact['report']) as fh:
            assert json.load(fh)['summary']['hosts']['failed'] == []
    finally:
        lab.lab('fault', 'link-restore', CUT, check=False)
        for host in HOSTS:
            remove_app(lab.engine(host), name)
            forget_journals(lab, host, [name])
