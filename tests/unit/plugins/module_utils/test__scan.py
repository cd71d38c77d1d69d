# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scan gate: a pair of reports compared, the policy's decision with its reasons, the scanner run."""

from __future__ import annotations

import json

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._scan import (
    compare,
    decide,
    evaluate,
    make_policy,
    pick_scanner,
    run_scanner,
    summarise,
    unused_ignores,
)
from ansible_collections.patchops.containers.plugins.module_utils._scan_report import (
    ScanError,
    ScanReportError,
    count_by_severity,
)
from scan_fixtures import by_key, finding, fixture, report


# ---------------------------------------------------------------------------
# Comparison

def test_compare_upgrade_that_keeps_the_cve_is_still_open():
    current = [finding('CVE-1', installed='1.0'), finding('CVE-2', package='zlib')]
    patched = [finding('CVE-1', installed='1.1'), finding('CVE-3', package='curl', severity='CRITICAL')]
    result = compare(current, patched)
    assert [f['id'] for f in result['fixed']] == ['CVE-2']
    assert [f['id'] for f in result['introduced']] == ['CVE-3']
    assert [(f['id'], f['installed']) for f in result['still_open']] == [('CVE-1', '1.1')]
    assert result['ignored'] == []


def test_compare_same_cve_in_another_package_is_introduced():
    result = compare([finding('CVE-1', package='libssl3')], [finding('CVE-1', package='libcrypto3')])
    assert len(result['fixed']) == 1 and len(result['introduced']) == 1


def test_compare_ignored_ids_count_nowhere_but_are_listed():
    policy = make_policy(ignore=[{'id': 'cve-1', 'reason': 'not reachable'}])
    result = compare([finding('CVE-1'), finding('CVE-2')], [finding('CVE-1', installed='1.1')], policy['ignore'])
    assert [f['id'] for f in result['fixed']] == ['CVE-2']
    assert result['introduced'] == [] and result['still_open'] == []
    assert len(result['ignored']) == 1
    assert result['ignored'][0]['reason'] == 'not reachable'
    assert result['ignored'][0]['found_in'] == ['current', 'patched']


def test_debian_pair_counts():
    result = compare(report('trivy-debian-current.json')['findings'], report('trivy-debian-patched.json')['findings'])
    assert sorted((f['id'], f['package']) for f in result['fixed']) == [
        ('CVE-2023-4911', 'libc6'), ('CVE-2024-28182', 'libnghttp2-14'), ('CVE-2024-5535', 'libssl3')]
    assert result['introduced'] == []
    assert count_by_severity(result['still_open']) == {
        'CRITICAL': 2, 'HIGH': 0, 'MEDIUM': 1, 'LOW': 3, 'UNKNOWN': 0}
    libssl = by_key(result['still_open'])[('CVE-2024-2511', 'libssl3')]
    assert libssl['installed'] == '3.0.13-1~deb12u1'  # as in the patched report


# ---------------------------------------------------------------------------
# Policy and decisions

def pair(current, patched, **policy):
    return evaluate('img', report(current), report(patched), make_policy(**policy))


def test_default_policy():
    policy = make_policy()
    assert policy == {'fail_on_new': ['CRITICAL', 'HIGH'], 'require_fix': False, 'max_severity': None, 'ignore': {}}


def test_policy_normalises_severities():
    assert make_policy(fail_on_new=None)['fail_on_new'] == ['CRITICAL', 'HIGH']
    assert make_policy(fail_on_new=['high', 'HIGH', 'low'])['fail_on_new'] == ['HIGH', 'LOW']
    assert make_policy(fail_on_new=[])['fail_on_new'] == []
    assert make_policy(max_severity='medium')['max_severity'] == 'MEDIUM'


def test_patch_that_fixes():
    record = pair('trivy-debian-current.json', 'trivy-debian-patched.json')
    assert record['decision'] == 'patch'
    assert record['reasons'][0] == 'the patched image fixes 3 findings (1 HIGH, 1 MEDIUM, 1 LOW)'
    assert record['counts']['fixed'] == {'CRITICAL': 0, 'HIGH': 1, 'MEDIUM': 1, 'LOW': 1, 'UNKNOWN': 0}
    assert record['current']['scanner'] == 'trivy'
    assert record['patched']['artifact'] == 'registry.example.com/web:1.4-patched'


def test_patch_introducing_a_critical_is_refused():
    record = pair('trivy-alpine-current.json', 'trivy-alpine-patched-critical.json')
    assert record['decision'] == 'refuse'
    assert record['reasons'][0] == (
        'the patched image introduces 1 finding (1 CRITICAL) of a severity listed in fail_on_new '
        '[CRITICAL, HIGH]: CVE-2024-6197 in curl 8.9.0-r0')
    assert record['counts']['introduced']['CRITICAL'] == 1
    assert record['counts']['introduced']['LOW'] == 1


def test_new_critical_allowed_when_fail_on_new_empty():
    record = pair('trivy-alpine-current.json', 'trivy-alpine-patched-critical.json', fail_on_new=[])
    assert record['decision'] == 'patch'


def test_new_low_refused_when_listed():
    record = pair('trivy-alpine-current.json', 'trivy-alpine-patched-critical.json', fail_on_new=['low'])
    assert record['decision'] == 'refuse'
    assert 'CVE-2024-6874 in curl' in record['reasons'][0]
    assert 'CVE-2024-6197' not in record['reasons'][0]


def test_patch_fixing_nothing_is_patched_by_default_and_skipped_with_require_fix():
    assert pair('trivy-ubuntu-current.json', 'trivy-ubuntu-patched-nofix.json')['decision'] == 'patch'
    record = pair('trivy-ubuntu-current.json', 'trivy-ubuntu-patched-nofix.json', require_fix=True)
    assert record['decision'] == 'skip'
    assert record['reasons'][0] == 'the patched image fixes nothing and require_fix is true'
    assert record['fixed'] == []


def test_max_severity_refuses_remaining_findings_above_it():
    record = pair('trivy-debian-current.json', 'trivy-debian-patched.json', max_severity='HIGH')
    assert record['decision'] == 'refuse'
    assert record['reasons'][0].startswith('the patched image still has 2 findings (2 CRITICAL) above max_severity HIGH: ')
    assert pair('trivy-debian-current.json', 'trivy-debian-patched.json', max_severity='CRITICAL')['decision'] == 'patch'


def test_max_severity_can_be_met_by_ignoring():
    record = pair('trivy-debian-current.json', 'trivy-debian-patched.json', max_severity='HIGH', ignore=[
        {'id': 'CVE-2023-45853', 'reason': 'minizip not shipped'},
        {'id': 'CVE-2024-24790', 'reason': 'no IPv6 parsing in web'}])
    assert record['decision'] == 'patch'
    assert sorted(f['id'] for f in record['ignored']) == ['CVE-2023-45853', 'CVE-2024-24790']
    assert record['counts']['still_open']['CRITICAL'] == 0


def test_unknown_is_the_lowest_severity():
    comparison = compare([], [finding('CVE-9', severity='UNKNOWN')])
    decision, _reasons = decide(comparison, make_policy(fail_on_new=[], max_severity='UNKNOWN'))
    assert decision == 'patch'
    decision, _reasons = decide(compare([], [finding('CVE-9', severity='LOW')]),
                                make_policy(fail_on_new=[], max_severity='UNKNOWN'))
    assert decision == 'refuse'


def test_refuse_wins_over_skip_and_lists_every_refusal():
    comparison = compare([finding('CVE-1', severity='CRITICAL')],
                         [finding('CVE-1', severity='CRITICAL'), finding('CVE-2', package='x', severity='HIGH')])
    decision, reasons = decide(comparison, make_policy(require_fix=True, max_severity='MEDIUM'))
    assert decision == 'refuse'
    assert reasons[0].startswith('the patched image introduces 1 finding (1 HIGH)')
    assert reasons[1].startswith('the patched image still has 2 findings (1 CRITICAL, 1 HIGH) above max_severity MEDIUM')


def test_long_id_lists_are_shortened():
    comparison = compare([], [finding('CVE-%d' % n, package='p%d' % n, severity='HIGH') for n in range(8)])
    _decision, reasons = decide(comparison, make_policy())
    assert reasons[0].endswith(' and 3 more')


def test_grype_pair_introduces_a_medium_only():
    record = pair('grype-debian-current.json', 'grype-debian-patched.json')
    assert record['decision'] == 'patch'
    assert [f['id'] for f in record['introduced']] == ['CVE-2024-37371']
    assert record['counts']['fixed'] == {'CRITICAL': 0, 'HIGH': 1, 'MEDIUM': 1, 'LOW': 0, 'UNKNOWN': 0}


@pytest.mark.parametrize('kwargs, message', [
    (dict(fail_on_new=['SEVERE']), "fail_on_new: unknown severity 'SEVERE' (expected one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)"),
    (dict(max_severity='none'), "max_severity: unknown severity 'none' (expected one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)"),
    (dict(ignore=[{'reason': 'x'}]), "ignore[0]: needs an 'id' (a vulnerability ID such as CVE-2024-1234)"),
    (dict(ignore=['CVE-1']), "ignore[0]: needs an 'id' (a vulnerability ID such as CVE-2024-1234)"),
])
def test_bad_policy(kwargs, message):
    with pytest.raises(ScanError) as err:
        make_policy(**kwargs)
    assert err.value.msg == message


def test_summarise_and_unused_ignores():
    policy = make_policy(ignore=[{'id': 'CVE-2011-3374', 'reason': 'apt-key unused'},
                                 {'id': 'CVE-1999-0001', 'reason': 'old'}])
    records = [evaluate('a', report('trivy-debian-current.json'), report('trivy-debian-patched.json'), policy),
               evaluate('b', report('trivy-alpine-current.json'), report('trivy-alpine-patched-critical.json'), policy)]
    assert summarise(records) == {'patch': 1, 'skip': 0, 'refuse': 1}
    assert unused_ignores(records, policy) == ['CVE-1999-0001']


def test_evaluate_output_is_json_serialisable():
    record = pair('trivy-ubi9.json', 'trivy-ubi9.json')
    assert json.loads(json.dumps(record)) == record


# ---------------------------------------------------------------------------
# Running a scanner

class FakeHost:
    def __init__(self, tools=('trivy', 'grype'), rc=0, out=None, err=''):
        self.tools = tools
        self.rc = rc
        self.out = out
        self.err = err
        self.calls = []

    def get_bin_path(self, name):
        return '/usr/local/bin/%s' % name if name in self.tools else None

    def run_command(self, argv, environ_update=None):
        self.calls.append((argv, environ_update))
        if self.out is not None:
            return self.rc, self.out, self.err
        name = 'grype-clean.json' if 'grype' in argv[0] else 'trivy-clean.json'
        return self.rc, open(fixture(name), encoding='utf-8').read(), self.err


def test_trivy_is_run_offline_by_default():
    host = FakeHost()
    rep = run_scanner('registry.example.com/static:1.0', host.run_command, host.get_bin_path)
    assert host.calls == [(['/usr/local/bin/trivy', 'image', '--format', 'json', '--quiet', '--skip-db-update',
                            '--skip-java-db-update', '--offline-scan', 'registry.example.com/static:1.0'], {})]
    assert rep['scanner'] == 'trivy'
    assert rep['source'] == 'trivy scan of registry.example.com/static:1.0'


def test_trivy_online():
    host = FakeHost()
    run_scanner('img:1', host.run_command, host.get_bin_path, offline=False)
    assert host.calls[0] == (['/usr/local/bin/trivy', 'image', '--format', 'json', '--quiet', 'img:1'], {})


def test_grype_when_trivy_missing():
    host = FakeHost(tools=('grype',))
    rep = run_scanner('img:1', host.run_command, host.get_bin_path)
    assert host.calls == [(['/usr/local/bin/grype', 'img:1', '-o', 'json'],
                           {'GRYPE_DB_AUTO_UPDATE': 'false', 'GRYPE_CHECK_FOR_APP_UPDATE': 'false'})]
    assert rep['scanner'] == 'grype'


def test_grype_online_and_explicit():
    host = FakeHost()
    run_scanner('img:1', host.run_command, host.get_bin_path, scanner='grype', offline=False)
    assert host.calls == [(['/usr/local/bin/grype', 'img:1', '-o', 'json'], {})]


def test_no_scanner_at_all():
    host = FakeHost(tools=())
    with pytest.raises(ScanError) as err:
        run_scanner('img:1', host.run_command, host.get_bin_path)
    assert err.value.msg == ('no report file given and neither trivy nor grype is on the PATH of this host: '
                             'give current_report/patched_report, or install a scanner, '
                             'or run the task where one is installed (delegate_to)')
    assert host.calls == []


def test_requested_scanner_missing():
    host = FakeHost(tools=('grype',))
    with pytest.raises(ScanError) as err:
        pick_scanner(host.get_bin_path, 'trivy')
    assert err.value.msg == 'scanner=trivy but trivy is not on the PATH of this host'


def test_unknown_scanner_name():
    with pytest.raises(ScanError) as err:
        pick_scanner(FakeHost().get_bin_path, 'clair')
    assert err.value.msg == "scanner: unknown scanner 'clair' (expected auto, trivy or grype)"


def test_scanner_failure_reports_stderr():
    host = FakeHost(rc=1, out='', err='FATAL\tinit error: --skip-db-update cannot be specified on the first run')
    with pytest.raises(ScanError) as err:
        run_scanner('img:1', host.run_command, host.get_bin_path)
    assert err.value.msg == ('trivy failed to scan img:1 (exit code 1): '
                             'FATAL\tinit error: --skip-db-update cannot be specified on the first run')


def test_scanner_failure_long_output_is_cut():
    host = FakeHost(rc=2, out='', err='x' * 5000 + 'END')
    with pytest.raises(ScanError) as err:
        run_scanner('img:1', host.run_command, host.get_bin_path)
    assert err.value.msg.endswith('xxxEND') and len(err.value.msg) < 700


def test_scanner_bad_output_names_the_scan():
    host = FakeHost(out='{"SchemaVersion": 2, "Results": {}}')
    with pytest.raises(ScanReportError) as err:
        run_scanner('img:1', host.run_command, host.get_bin_path)
    assert err.value.msg == 'report trivy scan of img:1: Results: expected a list, got an object'


@pytest.mark.parametrize('image', ['', '  ', '--output=/etc/passwd', None])
def test_image_reference_is_checked(image):
    host = FakeHost()
    with pytest.raises(ScanError) as err:
        run_scanner(image, host.run_command, host.get_bin_path)
    assert err.value.msg.startswith('cannot scan image ')
    assert host.calls == []
