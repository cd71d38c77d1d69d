# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report's rules (plugins/plugin_utils/_report_rules.py): the modules' outcomes, set against what the
engine shows at the end of the run; host records and status; the run's counts."""

from __future__ import annotations

import pytest

from controller_code import controller


def patch_outcomes(*args):
    return controller('plugin_utils._report_rules').patch_outcomes(*args)


def patch_outcome_counts(*args):
    return controller('plugin_utils._report_rules').patch_outcome_counts(*args)


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
        'failed': 0, 'blocked': 0, 'not_attempted': 1, 'recovered': 0, 'unresolved': 0, 'kept_new': 0,
        'abandoned': 0, 'held': 0, 'diverged': 0, 'unknown': 0}


def test_counts_zeros_and_order():
    counts = patch_outcome_counts([])
    outcomes = controller('plugin_utils._report_rules').OUTCOMES
    assert list(counts) == list(outcomes)
    assert set(counts.values()) == {0}
    assert outcomes == ('patched', 'current', 'recreated', 'restored', 'rolled_back', 'restore_failed', 'failed',
                        'blocked', 'not_attempted', 'recovered', 'unresolved', 'kept_new', 'abandoned', 'held',
                        'diverged', 'unknown')
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


# -- the read-back: the modules' word set against what the engine shows ------------------------------
def rules():
    return controller('plugin_utils._report_rules')


def shown(name, cid_, image, state='running', health=None):
    """A container_inventory entry (what the engine shows)."""
    return {'name': name, 'id': cid_, 'image': 'app', 'image_id': image, 'state': state, 'health': health}


def readback(*containers):
    return {'changed': False, 'containers': list(containers)}


def record_of(rollout_result, read, **facts):
    return rules().host_record(dict(facts, host='lab1', rollout=rollout_result, readback=read))


def test_engine_agrees_the_modules_word_stands():
    out = rollout(result('web', 'patched'), result('db', 'current', new_image=V1))
    record = record_of(out, readback(shown('web', cid('web', 1), V2, health='healthy'), shown('db', cid('db', 0), V1)))
    assert record['status'] == 'patched' and record['message'] == ''
    assert record['readback'] == {'engine': 'read', 'error': None, 'diverged': 0}
    web = by_name(record['containers'])['web']
    assert web['outcome'] == 'patched' and 'module_outcome' not in web
    assert web['engine'] == {'state': 'running', 'id': cid('web', 1), 'image': 'app', 'image_id': V2,
                             'health': 'healthy'}


def test_another_container_or_image_or_none_is_diverged_and_fails_the_host():
    out = rollout(result('web', 'patched'), result('api', 'patched'), result('db', 'current', new_image=V1))
    record = record_of(out, readback(shown('web', cid('web', 0), V1, state='exited'), shown('api', cid('api', 1), V1)))
    c = by_name(record['containers'])
    assert [c[n]['outcome'] for n in ('web', 'api', 'db')] == ['diverged'] * 3
    assert [c[n]['module_outcome'] for n in ('web', 'api', 'db')] == ['patched', 'patched', 'current']
    assert c['web']['engine']['state'] == 'exited' and c['db']['engine'] == {'state': 'missing'}
    assert c['web']['diverged'] == ('web: the modules said patched (%s on image %s); the engine shows web is %s on '
                                    'image %s, exited' % (cid('web', 1)[:12], '2' * 12, cid('web', 0)[:12], '1' * 12))
    assert 'the engine shows no container is named db' in c['db']['diverged']
    assert record['status'] == 'failed' and record['readback']['diverged'] == 3
    assert c['api']['diverged'] in record['message']
    report = rules().run_report([record], [{'hosts_all': ['lab1'], 'hosts_left': ['lab1']}])
    assert report['summary']['hosts']['failed'] == ['lab1'] and report['summary']['containers']['diverged'] == 3


def test_engine_unreadable_every_outcome_unknown_and_the_host_fails():
    out = rollout(result('web', 'patched'))
    for read in ({'failed': False, 'msg': 'cannot reach the engine at unix:///var/run/docker.sock'},
                 {'unreachable': True, 'msg': 'ssh: connect timed out'}):
        record = record_of(out, read)
        web = record['containers'][0]
        assert (web['outcome'], web['module_outcome'], web['engine']) == ('unknown', 'patched', {'state': 'unknown'})
        assert record['status'] == 'failed' and record['readback']['engine'] == 'unknown'
        assert record['message'].startswith("the engine could not be read after the run (%s): the containers' state "
                                            'is unknown' % read['msg'])
    report = rules().run_report([record], [])
    assert report['summary']['engine_unknown'] == ['lab1'] and report['summary']['containers']['unknown'] == 1


def test_nothing_to_read_back_is_no_failure():
    record = record_of({'skipped': True, 'changed': False}, {'skipped': True, 'changed': False})
    assert (record['status'], record['containers'], record['readback']['engine']) == ('unchanged', [], 'read')


def test_give_back_without_the_set_aside_container_kept_new_or_abandoned():
    kept = result('web', 'kept_new', failure='web: container is unhealthy')
    kept['new_id'] = cid('web', 1)
    out = dict(rollout(kept), failed=True)
    record = record_of(out, readback(shown('web', cid('web', 1), V2, health='unhealthy')), host_failed=True,
                       host_failure='lab1: patching web failed')
    web = record['containers'][0]
    assert (web['outcome'], web['final_id'], web['final_image_id']) == ('kept_new', cid('web', 1), V2)
    assert web['engine']['health'] == 'unhealthy' and record['status'] == 'failed'
    assert record['message'] == 'lab1: patching web failed'
    # The new one kept by the module, the engine showing the old one: both said.
    web = record_of(out, readback(shown('web', cid('web', 0), V1)), host_failed=True)['containers'][0]
    assert (web['outcome'], web['module_outcome']) == ('diverged', 'kept_new')
    gone = dict(result('web', 'abandoned'), new_id=None)
    record = record_of(dict(rollout(gone), failed=True), readback(), host_failed=True)
    assert record['containers'][0]['outcome'] == 'abandoned' and record['containers'][0]['final_id'] is None
    web = record_of(dict(rollout(gone), failed=True), readback(shown('web', cid('web', 5), V1)))['containers'][0]
    assert (web['outcome'], web['module_outcome']) == ('diverged', 'abandoned')
    assert 'the modules said abandoned (no container)' in web['diverged']


def test_recovered_and_unresolved_swaps_are_outcomes_with_the_way_out():
    out = rollout(result('web', 'patched'), result('db', 'blocked', new_image=V1))
    out['recovered'] = [{'container': 'old', 'step': 'verify', 'action': 'rolled_back'},
                        {'container': 'web', 'step': 'create', 'action': 'finished'},
                        {'container': 'db', 'action': 'unresolved', 'step': 'rename'},
                        {'container': 'cache', 'action': 'unresolved', 'step': 'stop'}]
    out['unresolved'] = [{'container': 'db', 'action': 'unresolved', 'step': 'rename', 'error': '409 conflict',
                          'state': 'db is 1234 (the new container)'},
                         {'container': 'cache', 'action': 'unresolved', 'step': 'stop', 'error': '500', 'state': 's'}]
    read = readback(shown('web', cid('web', 1), V2), shown('db', cid('db', 0), V1), shown('old', cid('old', 0), V1),
                    shown('cache', cid('cache', 3), V1, state='exited'))
    c = by_name(record_of(out, read)['containers'])
    assert [c[n]['outcome'] for n in ('web', 'db', 'old', 'cache')] == ['patched', 'unresolved', 'recovered',
                                                                        'unresolved']
    assert c['web']['recovered'] == {'action': 'finished', 'step': 'create'}
    assert c['old']['recovered'] == {'action': 'rolled_back', 'step': 'verify'}
    assert (c['db']['step'], c['db']['failure'], c['db']['state']) == ('rename', '409 conflict',
                                                                       'db is 1234 (the new container)')
    assert 'patchops.containers.container_rollback abandon: [db]' in c['db']['way_out']
    assert "playbooks/rollback.yml --limit lab1 -e rollback_abandon='[db]'" in c['db']['way_out']
    assert c['cache']['engine']['state'] == 'exited'
    # A recovered container the engine no longer shows is diverged.
    out['containers'] = []
    assert by_name(record_of(out, readback())['containers'])['old']['outcome'] == 'diverged'


def test_held_ends_on_its_own_container():
    held = result('job', 'held', reason='image failed verification on web')
    record = record_of(dict(rollout(held), changed=False), readback(shown('job', cid('job', 0), V1, state='exited')))
    assert record['containers'][0]['outcome'] == 'held' and record['status'] == 'unchanged'
    assert record['containers'][0]['reason'] == 'image failed verification on web'


def test_rolled_back_host_and_a_check_mode_plan():
    out = dict(rollout(result('web', 'rolled_back')), failed=True)
    record = record_of(out, readback(shown('web', cid('web', 0), V1)), host_failed=True, host_failure='failed')
    assert record['status'] == 'rolled_back'
    plan = {'changed': True, 'plan': [planned('web')]}
    record = record_of(plan, readback(shown('web', cid('web', 0), V1)), check_mode=True)
    assert (record['status'], record['containers'], record['plan'][0]['engine']['id']) == ('planned', [], cid('web', 0))
    record = record_of(plan, {'failed': False, 'msg': 'engine stopped'}, check_mode=True)
    assert (record['status'], record['plan'][0]['engine']) == ('failed', {'state': 'unknown'})


def test_run_report_counts_hosts_and_downtime():
    a = record_of(rollout(result('web', 'patched', downtime_ms=900)), readback(shown('web', cid('web', 1), V2)))
    b = dict(record_of(rollout(result('web', 'patched', downtime_ms=40)), {'failed': False, 'msg': 'x'}), host='lab0')
    plays = [{'hosts_all': ['lab0', 'lab1', 'lab2', 'lab3'], 'hosts_left': ['lab0', 'lab1', 'lab3']}]
    report = rules().run_report([a, b, 'junk'], plays, run='r1', report='/r/report.json')
    s = report['summary']
    assert [r['host'] for r in report['hosts']] == ['lab0', 'lab1']
    assert s['hosts'] == {'patched': ['lab1'], 'unchanged': [], 'planned': [], 'rolled_back': [], 'failed': ['lab0'],
                          'unreachable': ['lab2'], 'not_attempted': ['lab3']}
    assert (s['hosts_total'], s['max_downtime_ms'], s['run'], s['report']) == (4, 900, 'r1', '/r/report.json')
    assert s['containers']['patched'] == 1 and s['containers']['unknown'] == 1
    assert sum(s['containers'].values()) == 2 and s['engine_unknown'] == ['lab0']


def test_host_record_wants_a_dict():
    with pytest.raises(ValueError, match='patch_host_record: expected a dict'):
        rules().host_record(['lab1'])


def test_patched_containers_get_their_packages_before_and_after_only_with_package_sources():
    """With the package sources read (indexes) and the run's inventory report: a patched container's
    pending updates before (the report's, by the image it ran) and after (the image read back now)."""
    index = {'url': 'http://m/', 'suite': 'security/', 'components': [], 'security': True, 'indexes': [],
             'status': 'ok', 'error': None, 'packages': {'zlib1g': [['1.2.13-1+deb12u1', 'amd64']]}}
    old = {'id': V1, 'package_db': 'dpkg', 'pending_status': 'ok', 'pending_count': 1, 'pending_security': 1,
           'pending_summary': '1 pending (1 security)',
           'packages': [{'name': 'zlib1g', 'arch': 'amd64', 'version': '1.2.13-1'}]}
    new = {'id': V2, 'package_db': 'dpkg', 'packages': [{'name': 'zlib1g', 'arch': 'amd64', 'version': '1.2.13-1+deb12u1'}]}
    out = rollout(result('web', 'patched'), result('db', 'current', new_image=V1))
    read = dict(readback(shown('web', cid('web', 1), V2), shown('db', cid('db', 0), V1)), images=[new])
    inventory = {'hosts': [{'host': 'lab1', 'images': [old]}]}
    record = record_of(out, read, inventory=inventory, indexes=[index])
    web, db = by_name(record['containers'])['web'], by_name(record['containers'])['db']
    assert (web['packages']['before']['count'], web['packages']['after']['count']) == (1, 0)
    assert web['packages']['changed'] == [{'name': 'zlib1g', 'arch': 'amd64', 'before': '1.2.13-1',
                                           'after': '1.2.13-1+deb12u1'}]
    assert 'packages' not in db  # not patched: nothing to prove
    assert 'packages' not in by_name(record_of(out, read)['containers'])['web']  # no sources: no claim
