# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters patch_outcomes and patch_outcome_counts (plugins/plugin_utils/_outcomes.py)."""

from __future__ import annotations

import importlib

import pytest

from ansible.module_utils import _internal

COLLECTION = 'ansible_collections.patchops.containers.plugins.'


@pytest.fixture(autouse=True, scope='module')
def on_the_controller():
    """The filters are controller code: importing them (ansible.errors) marks the whole process as
    the controller, and from then on module warnings go to the display instead of the module result
    (tests/unit/plugins/modules/ would lose theirs). So they are imported only while this module's
    tests run, and the process is a module's again afterwards."""
    was = _internal.is_controller
    yield
    _internal.is_controller = was


def controller(name):
    return importlib.import_module(COLLECTION + name)


def patch_outcomes(*args):
    return controller('plugin_utils._outcomes').patch_outcomes(*args)


def patch_outcome_counts(*args):
    return controller('plugin_utils._outcomes').patch_outcome_counts(*args)


V1, V2 = 'sha256:' + '1' * 64, 'sha256:' + '2' * 64
BUSYBOX = 'sha256:' + 'b' * 64


def cid(name, generation):
    return ('%s%d' % (name, generation)).encode().hex().ljust(64, '0')


def planned(name, old_image=V1, new_image=V2, reason='patch', group=None, action='recreate'):
    """A plan entry of container_patch (see Swapper.plan)."""
    return {'container': name, 'action': action, 'reason': reason, 'group': group or name,
            'old_id': cid(name, 0), 'old_image_id': old_image, 'new_image_id': new_image, 'strategy': 'stop-first'}


def result(name, outcome, **kw):
    """A container result of container_patch or container_rollback (see Swapper.execute)."""
    entry = dict(planned(name, **{k: kw.pop(k) for k in ('old_image', 'new_image', 'reason', 'group') if k in kw}))
    entry.update(outcome=outcome, changed=outcome != 'current', rolled_back=outcome == 'rolled_back')
    entry['new_id'] = {'patched': cid(name, 1), 'recreated': cid(name, 1), 'failed': cid(name, 1),
                       'restored': cid(name, 2)}.get(outcome, entry['old_id'])
    entry.update(kw)
    return entry


def rollout(*containers, plan=None):
    return {'changed': True, 'plan': plan if plan is not None else [planned(c['container']) for c in containers],
            'containers': list(containers)}


def by_name(records):
    return {r['container']: r for r in records}


def test_filters_are_registered():
    outcomes = controller('plugin_utils._outcomes')
    wrapper = controller('filter.patch_outcomes').FilterModule().filters()['patch_outcomes']
    assert wrapper({'containers': []}) == outcomes.patch_outcomes({'containers': []}) == []
    with pytest.raises(controller('filter.patch_outcomes').AnsibleFilterError):
        wrapper(['not a result'])
    assert controller('filter.patch_outcome_counts').FilterModule().filters() == {
        'patch_outcome_counts': outcomes.patch_outcome_counts}


def test_patched_and_current():
    records = patch_outcomes(rollout(result('web', 'patched'), result('db', 'current', new_image=V1)))
    assert [(r['container'], r['outcome'], r['final_id'], r['final_image_id']) for r in records] == [
        ('web', 'patched', cid('web', 1), V2),
        ('db', 'current', cid('db', 0), V1),
    ]


def test_records_keep_the_module_entry():
    records = patch_outcomes(rollout(result('web', 'patched', downtime_ms=812, verification=[{'ok': True}])))
    assert records[0]['downtime_ms'] == 812
    assert records[0]['verification'] == [{'ok': True}]
    assert records[0]['strategy'] == 'stop-first'


def test_patched_then_restored_by_the_handlers():
    # The handlers' container_rollback: a new container (generation 2) on the pre-patch image.
    back = {'containers': [result('web', 'restored', reason='rollback', old_image=V2, new_image=V1)]}
    record = patch_outcomes(rollout(result('web', 'patched')), back)[0]
    assert record['outcome'] == 'restored'
    assert record['rollout_outcome'] == 'patched'
    assert record['restored_id'] == cid('web', 2)
    assert (record['final_id'], record['final_image_id']) == (cid('web', 2), V1)


def test_follower_stays_recreated():
    out = rollout(result('web', 'patched'), result('sidecar', 'recreated', reason='follows web (network namespace)',
                                                   group='web', old_image=BUSYBOX, new_image=BUSYBOX))
    record = by_name(patch_outcomes(out))['sidecar']
    assert record['outcome'] == 'recreated'
    assert (record['final_id'], record['final_image_id']) == (cid('sidecar', 1), BUSYBOX)


def test_follower_recreated_again_by_the_handlers():
    out = rollout(result('web', 'patched'), result('sidecar', 'recreated', old_image=BUSYBOX, new_image=BUSYBOX))
    back = {'containers': [
        result('web', 'restored', reason='rollback', old_image=V2, new_image=V1),
        result('sidecar', 'recreated', reason='follows web (network namespace)', old_image=BUSYBOX, new_image=BUSYBOX,
               new_id=cid('sidecar', 2)),
    ]}
    records = by_name(patch_outcomes(out, back))
    assert records['web']['outcome'] == 'restored'
    assert records['sidecar']['outcome'] == 'recreated'
    assert records['sidecar']['rollout_outcome'] == 'recreated'
    assert records['sidecar']['final_id'] == cid('sidecar', 2)


def test_follower_recreated_only_by_the_handlers():
    back = {'containers': [
        result('web', 'restored', reason='rollback', old_image=V2, new_image=V1),
        result('sidecar', 'recreated', reason='follows web (network namespace)', old_image=BUSYBOX, new_image=BUSYBOX,
               new_id=cid('sidecar', 2)),
    ]}
    records = patch_outcomes(rollout(result('web', 'patched')), back)
    assert [(r['container'], r['outcome'], r['final_id'], r['final_image_id']) for r in records] == [
        ('web', 'restored', cid('web', 2), V1),
        ('sidecar', 'recreated', cid('sidecar', 2), BUSYBOX),
    ]


def test_own_failed_swap_is_rolled_back_to_the_same_container():
    record = patch_outcomes(rollout(result('web', 'rolled_back', failure='web: container is unhealthy')))[0]
    assert record['outcome'] == 'rolled_back'
    assert (record['final_id'], record['final_image_id']) == (cid('web', 0), V1)


def test_failed_without_rollback_runs_the_new_container():
    record = patch_outcomes(rollout(result('web', 'failed', failure='container is unhealthy')))[0]
    assert record['outcome'] == 'failed'
    assert (record['final_id'], record['final_image_id']) == (cid('web', 1), V2)


def test_handler_could_not_put_it_back():
    """container_rollback's own swap failed and gave back the patched container: still on the new image."""
    back = {'failed': True, 'msg': 'patching web to sha256:111 failed',
            'containers': [result('web', 'rolled_back', reason='rollback', old_image=V2, new_image=V1,
                                  old_id=cid('web', 1), failure='web: container is unhealthy')]}
    record = patch_outcomes(rollout(result('web', 'patched')), back)[0]
    assert record['outcome'] == 'restore_failed'
    assert record['restore_failure'] == 'web: container is unhealthy'
    assert (record['final_id'], record['final_image_id']) == (cid('web', 1), V2)


def test_handlers_failed_before_putting_anything_back():
    back = {'failed': True, 'msg': 'another patchops run holds the lock /var/lib/patchops/x/lock', 'containers': []}
    records = by_name(patch_outcomes(rollout(result('web', 'patched'), result('db', 'current', new_image=V1)), back))
    assert records['web']['outcome'] == 'restore_failed'
    assert records['web']['restore_failure'] == 'another patchops run holds the lock /var/lib/patchops/x/lock'
    assert records['db']['outcome'] == 'current'


def test_skipped_handlers_change_nothing():
    records = patch_outcomes(rollout(result('web', 'patched')), {'skipped': True, 'failed': True, 'msg': 'skipped'})
    assert records[0]['outcome'] == 'patched'
    assert patch_outcomes(rollout(result('web', 'patched')), None)[0]['outcome'] == 'patched'


def test_planned_without_a_result_not_attempted_when_the_rollout_ran():
    plan = [planned('web'), planned('api'), planned('db', action='none', new_image=V1), planned('cache', action='blocked')]
    out = rollout(result('web', 'rolled_back', failure='unhealthy'), plan=plan)
    out['failed'] = True
    records = patch_outcomes(out)
    assert [(r['container'], r['outcome']) for r in records] == [('web', 'rolled_back'), ('api', 'not_attempted')]
    api = records[1]
    assert api['changed'] is False
    assert (api['final_id'], api['final_image_id']) == (cid('api', 0), V1)


def test_check_mode_plans_are_not_not_attempted():
    """In check mode the module returns its plan and no containers: nothing was due to run."""
    records = patch_outcomes({'changed': True, 'plan': [planned('web'), planned('api')]})
    assert records == []


def test_no_rollout_at_all():
    assert patch_outcomes({'skipped': True, 'changed': False}) == []


@pytest.mark.parametrize('rollout_result, rollback', [([], None), ('text', None), ({}, []), (None, {})])
def test_not_module_results_refused(rollout_result, rollback):
    with pytest.raises(ValueError) as info:
        patch_outcomes(rollout_result, rollback)
    assert str(info.value).startswith('patch_outcomes: expected registered module results (dicts), got ')


def test_counts_every_outcome_word():
    records = patch_outcomes(
        rollout(result('web', 'patched'), result('api', 'patched'), result('db', 'current', new_image=V1),
                result('job', 'rolled_back'), plan=[planned(n) for n in ('web', 'api', 'db', 'job', 'cache')]),
        {'containers': [result('api', 'restored', reason='rollback', old_image=V2, new_image=V1)]})
    assert patch_outcome_counts(records) == {
        'patched': 1, 'current': 1, 'recreated': 0, 'restored': 1, 'rolled_back': 1, 'restore_failed': 0,
        'failed': 0, 'blocked': 0, 'not_attempted': 1}


def test_counts_zeros_and_order():
    counts = patch_outcome_counts([])
    outcomes = controller('plugin_utils._outcomes').OUTCOMES
    assert list(counts) == list(outcomes)
    assert set(counts.values()) == {0}
    assert outcomes == ('patched', 'current', 'recreated', 'restored', 'rolled_back', 'restore_failed', 'failed',
                        'blocked', 'not_attempted')
    assert patch_outcome_counts(None) == counts


def test_counts_other_words_and_missing_outcomes():
    counts = patch_outcome_counts([{'outcome': 'blocked'}, {'outcome': 'abandoned'}, {'action': 'none'}, {}, None])
    assert counts['blocked'] == 1
    assert counts['abandoned'] == 1
    assert counts['none'] == 1
    assert counts['unknown'] == 2


def test_rollout_stopped_by_a_journal_error_reports_not_attempted():
    # run_module returns containers: [] (not absent, as in check mode) when a run stops after its plan
    out = {'failed': True, 'changed': False, 'plan': [planned('web')], 'containers': [], 'recovered': [], 'unresolved': [],
           'msg': 'cannot write the journal file /var/lib/patchops/x/journal/web.json before step planned: '
                  'No space left on device'}
    assert [(r['container'], r['outcome']) for r in patch_outcomes(out)] == [('web', 'not_attempted')]
