# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import codecs
import json
import os
import tempfile

import pytest

from ansible_collections.patchops.containers.plugins.module_utils import _scan
from ansible_collections.patchops.containers.plugins.module_utils._scan import (
    ScanError,
    ScanReportError,
    compare,
    count_by_severity,
    decide,
    dedupe,
    evaluate,
    load_report,
    make_policy,
    parse_report,
    pick_scanner,
    run_scanner,
    split_versions,
    summarise,
    unused_ignores,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'scan')
MALFORMED = os.path.join(FIXTURES, 'malformed')
# Files that are not clean UTF-8 text (sanity rejects those in the tree) are kept base64-encoded.
ENCODED = os.path.join(FIXTURES, 'encoded')
MALFORMED_ENCODED = ('binary-garbage.json', 'not-utf8.json')
DECODED = tempfile.mkdtemp(prefix='patchops-scan-fixtures-')
for _encoded in os.listdir(ENCODED):
    with open(os.path.join(ENCODED, _encoded), 'rb') as _src, \
            open(os.path.join(DECODED, _encoded[:-len('.b64')]), 'wb') as _dst:
        _dst.write(base64.b64decode(_src.read()))


def fixture(name):
    if os.path.exists(os.path.join(DECODED, name)):
        return os.path.join(DECODED, name)
    return os.path.normpath(os.path.join(FIXTURES, name))


def malformed_path(name):
    return os.path.join(DECODED if name in MALFORMED_ENCODED else MALFORMED, name)


def report(name):
    return load_report(fixture(name))


def by_key(findings):
    return dict(((f['id'], f['package']), f) for f in findings)


def finding(vuln_id, package='pkg', installed='1.0', severity='HIGH', fixed=None, klass='os-pkgs'):
    return {'id': vuln_id, 'package': package, 'installed': installed, 'fixed': fixed or [],
            'severity': severity, 'class': klass, 'target': 't'}


# ---------------------------------------------------------------------------
# Trivy

def test_trivy_debian_report_metadata_and_counts():
    rep = report('trivy-debian-current.json')
    assert rep['scanner'] == 'trivy'
    assert rep['source'] == fixture('trivy-debian-current.json')
    assert rep['artifact'] == 'registry.example.com/web:1.4'
    assert rep['os'] == 'debian 12.5'
    assert rep['image_id'].startswith('sha256:5d1b4c3d')
    # 7 OS findings + 2 in web + 1 duplicate stdlib in healthcheck merged away
    assert len(rep['findings']) == 9
    assert count_by_severity(rep['findings']) == {
        'CRITICAL': 2, 'HIGH': 1, 'MEDIUM': 2, 'LOW': 4, 'UNKNOWN': 0}


def test_trivy_finding_is_normalised():
    found = by_key(report('trivy-debian-current.json')['findings'])
    assert found[('CVE-2023-4911', 'libc6')] == {
        'id': 'CVE-2023-4911', 'package': 'libc6', 'installed': '2.36-9+deb12u1',
        'fixed': ['2.36-9+deb12u3'], 'severity': 'HIGH', 'class': 'os-pkgs',
        'target': 'registry.example.com/web:1.4 (debian 12.5)'}


def test_trivy_comma_separated_fixed_version_and_lang_class():
    stdlib = by_key(report('trivy-debian-current.json')['findings'])[('CVE-2024-24790', 'stdlib')]
    assert stdlib['fixed'] == ['1.21.11', '1.22.4']
    assert stdlib['class'] == 'lang-pkgs'
    assert stdlib['target'] == 'usr/local/bin/web'  # first of the two binaries


def test_trivy_missing_fixed_version_is_empty_list():
    apt = by_key(report('trivy-debian-current.json')['findings'])[('CVE-2011-3374', 'apt')]
    assert apt['fixed'] == []


def test_trivy_findings_sorted_worst_first():
    severities = [f['severity'] for f in report('trivy-debian-current.json')['findings']]
    ranks = [_scan.SEVERITY_RANK[s] for s in severities]
    assert ranks == sorted(ranks, reverse=True)


def test_trivy_alpine_and_npm():
    rep = report('trivy-alpine-current.json')
    assert rep['os'] == 'alpine 3.19.1'
    express = by_key(rep['findings'])[('CVE-2024-29041', 'express')]
    assert express['fixed'] == ['4.19.2', '5.0.0-beta.3']
    assert express['class'] == 'lang-pkgs'
    assert express['target'] == 'app/package-lock.json'


def test_trivy_ubi9_skips_secret_results_and_reads_jar_findings():
    rep = report('trivy-ubi9.json')
    assert rep['os'] == 'redhat 9.4'
    assert len(rep['findings']) == 8
    found = by_key(rep['findings'])
    assert found[('CVE-2024-22259', 'org.springframework:spring-web')]['fixed'] == ['5.3.33', '6.0.18', '6.1.5']
    assert found[('GHSA-4265-ccf5-phj5', 'org.apache.commons:commons-compress')]['class'] == 'lang-pkgs'
    assert found[('CVE-2024-0727', 'openssl-libs')]['fixed'] == []
    assert all(f['class'] in ('os-pkgs', 'lang-pkgs') for f in rep['findings'])


def test_trivy_report_without_vulnerabilities_keys_is_clean():
    rep = report('trivy-clean.json')
    assert rep['findings'] == []
    assert rep['os'] == 'alpine 3.20.3'


def test_trivy_ubuntu_unknown_severity_kept():
    found = by_key(report('trivy-ubuntu-current.json')['findings'])
    assert found[('CVE-2024-41996', 'libssl3')]['severity'] == 'UNKNOWN'


@pytest.mark.parametrize('results', ['absent', None, []])
def test_trivy_without_results_has_no_findings(results):
    doc = {'SchemaVersion': 2, 'ArtifactName': 'scratch-app:1'}
    if results != 'absent':
        doc['Results'] = results
    rep = parse_report(json.dumps(doc), 'r.json')
    assert rep['findings'] == []
    assert rep['os'] == '' and rep['image_id'] == ''


def test_trivy_vulnerabilities_null_is_empty():
    doc = {'SchemaVersion': 2, 'Results': [{'Target': 'x', 'Class': 'os-pkgs', 'Type': 'debian',
                                            'Vulnerabilities': None}]}
    assert parse_report(json.dumps(doc), 'r.json')['findings'] == []


def test_trivy_lowercase_severity_is_accepted_and_normalised():
    doc = {'SchemaVersion': 2, 'Results': [{'Target': 'x', 'Class': 'os-pkgs', 'Vulnerabilities': [
        {'VulnerabilityID': 'CVE-1', 'PkgName': 'p', 'InstalledVersion': '1', 'Severity': 'high'}]}]}
    assert parse_report(json.dumps(doc), 'r.json')['findings'][0]['severity'] == 'HIGH'


def test_trivy_empty_vulnerability_id_is_refused():
    doc = {'SchemaVersion': 2, 'Results': [{'Target': 'x', 'Class': 'os-pkgs', 'Vulnerabilities': [
        {'VulnerabilityID': '', 'PkgName': 'p', 'InstalledVersion': '1', 'Severity': 'HIGH'}]}]}
    with pytest.raises(ScanReportError) as err:
        parse_report(json.dumps(doc), 'r.json')
    assert err.value.msg == "report r.json: Results[0].Vulnerabilities[0]: empty 'VulnerabilityID'"


def test_trivy_metadata_wrong_type():
    doc = {'SchemaVersion': 2, 'Metadata': {'OS': 'debian'}, 'Results': []}
    with pytest.raises(ScanReportError) as err:
        parse_report(json.dumps(doc), 'r.json')
    assert err.value.msg == 'report r.json: Metadata.OS: expected an object, got a string "debian"'


# ---------------------------------------------------------------------------
# Grype

def test_grype_report_metadata():
    rep = report('grype-debian-current.json')
    assert rep['scanner'] == 'grype'
    assert rep['artifact'] == 'registry.example.com/web:1.4'
    assert rep['os'] == 'debian 12'
    assert rep['image_id'].startswith('sha256:5d1b4c3d')
    assert len(rep['findings']) == 10


@pytest.mark.parametrize('package, klass', [
    ('libc6', 'os-pkgs'), ('zlib1g', 'os-pkgs'), ('stdlib', 'lang-pkgs'), ('requests', 'lang-pkgs'),
    ('snakeyaml', 'lang-pkgs'), ('braces', 'lang-pkgs'), ('node', 'lang-pkgs'),
])
def test_grype_artifact_type_gives_class(package, klass):
    classes = dict((f['package'], f['class']) for f in report('grype-debian-current.json')['findings'])
    assert classes[package] == klass


@pytest.mark.parametrize('kind, klass', [('deb', 'os-pkgs'), ('rpm', 'os-pkgs'), ('apk', 'os-pkgs'),
                                         ('go-module', 'lang-pkgs'), ('gem', 'lang-pkgs')])
def test_grype_type_mapping(kind, klass):
    doc = {'matches': [{'vulnerability': {'id': 'CVE-1', 'severity': 'Low'},
                        'artifact': {'name': 'p', 'version': '1', 'type': kind}}]}
    assert parse_report(json.dumps(doc), 'g.json')['findings'][0]['class'] == klass


def test_grype_severity_mapping_and_fix_versions():
    found = by_key(report('grype-debian-current.json')['findings'])
    assert found[('CVE-2011-3374', 'apt')]['severity'] == 'LOW'  # Negligible
    assert found[('CVE-2024-9999', 'node')]['severity'] == 'UNKNOWN'
    assert found[('CVE-2023-45853', 'zlib1g')]['severity'] == 'CRITICAL'
    assert found[('CVE-2023-4911', 'libc6')]['fixed'] == ['2.36-9+deb12u3']
    assert found[('CVE-2023-45853', 'zlib1g')]['fixed'] == []  # wont-fix
    assert found[('CVE-2023-4911', 'libc6')]['target'] == '/var/lib/dpkg/status'
    assert found[('GHSA-mjmj-j48q-9wg2', 'snakeyaml')]['target'] == '/opt/app/lib/snakeyaml-1.33.jar'


def test_grype_clean_report():
    rep = report('grype-clean.json')
    assert rep['findings'] == []
    assert rep['os'] == 'alpine 3.20.3'


def test_grype_minimal_match_without_fix_or_locations():
    doc = {'matches': [{'vulnerability': {'id': 'GHSA-aaaa-bbbb-cccc', 'severity': 'Medium'},
                        'artifact': {'name': 'lodash', 'version': '4.17.20', 'type': 'npm'}}],
           'source': {'type': 'directory', 'target': '/src'}}
    rep = parse_report(json.dumps(doc), 'g.json')
    assert rep['artifact'] == '/src'
    assert rep['findings'] == [{'id': 'GHSA-aaaa-bbbb-cccc', 'package': 'lodash', 'installed': '4.17.20',
                                'fixed': [], 'severity': 'MEDIUM', 'class': 'lang-pkgs', 'target': ''}]


def test_grype_fix_version_not_string():
    doc = {'matches': [{'vulnerability': {'id': 'CVE-1', 'severity': 'Low', 'fix': {'versions': ['1', 2]}},
                        'artifact': {'name': 'p', 'version': '1', 'type': 'deb'}}]}
    with pytest.raises(ScanReportError) as err:
        parse_report(json.dumps(doc), 'g.json')
    assert err.value.msg == 'report g.json: matches[0].vulnerability.fix.versions[1]: expected a string, got a number 2'


# ---------------------------------------------------------------------------
# Encodings

def test_utf8_bom_is_accepted():
    assert report('trivy-utf8-bom.json')['findings'] == []


def test_utf16_with_bom_is_accepted(tmp_path):
    text = open(fixture('trivy-alpine-current.json'), encoding='utf-8').read()
    path = tmp_path / 'utf16.json'
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode('utf-16-le'))
    assert len(load_report(str(path))['findings']) == 5


def test_text_with_bom_is_accepted():
    assert parse_report('\ufeff{"matches": []}', 's')['findings'] == []


# ---------------------------------------------------------------------------
# Malformed corpus: every file gives its own exact message naming the file

MALFORMED_MESSAGES = {
    'binary-garbage.json': 'not UTF-8 text (byte 0x8b at offset 1); '
                           'expected a JSON report from trivy --format json or grype -o json',
    'cyclonedx-sbom.json': 'this is an SBOM, not a vulnerability report; use trivy --format json or grype -o json',
    'empty-object.json': "neither a Trivy report (no 'SchemaVersion') nor a Grype report (no 'matches'); "
                         'top-level keys: none (empty object)',
    'empty.json': 'the file is empty (did the scanner fail before writing it?)',
    'grype-artifact-missing-version.json': "matches[4].artifact: missing 'version'",
    'grype-fix-versions-not-list.json': 'matches[0].vulnerability.fix.versions: expected a list, '
                                        'got a string "2.36-9+deb12u3"',
    'grype-match-missing-vulnerability.json': "matches[1]: missing 'vulnerability'",
    'grype-match-null.json': 'matches[2]: expected an object, got null',
    'grype-matches-not-list.json': 'matches: expected a list, got an object',
    'grype-severity-unknown.json': 'matches[3].vulnerability.severity: unknown severity "Severe" '
                                   '(expected one of Unknown, Negligible, Low, Medium, High, Critical)',
    'neither-format.json': "neither a Trivy report (no 'SchemaVersion') nor a Grype report (no 'matches'); "
                           'top-level keys: image, vulnerabilities',
    'not-utf8.json': 'not UTF-8 text (byte 0xe9 at offset 1834); '
                     'expected a JSON report from trivy --format json or grype -o json',
    'sarif.json': 'this is a SARIF report, not a JSON vulnerability report; '
                  'use trivy --format json or grype -o json',
    'top-level-list.json': 'top level is a list, expected a JSON object (a Trivy or Grype report)',
    'top-level-null.json': 'top level is null, expected a JSON object (a Trivy or Grype report)',
    'trivy-fixedversion-not-string.json': 'Results[0].Vulnerabilities[0].FixedVersion: expected a string, got a list',
    'trivy-missing-schema-version.json': "missing 'SchemaVersion': looks like a Trivy report but the schema is "
                                         'unknown (only SchemaVersion 2, trivy >= 0.20, is supported)',
    'trivy-result-missing-class.json': "Results[0]: missing 'Class' (a result with Vulnerabilities must say "
                                       'os-pkgs or lang-pkgs)',
    'trivy-result-not-object.json': 'Results[1]: expected an object, got a string "usr/local/bin/web"',
    'trivy-result-unknown-class.json': 'Results[0].Class: unknown class "vuln" for a result with Vulnerabilities '
                                       '(expected os-pkgs or lang-pkgs)',
    'trivy-results-not-list.json': 'Results: expected a list, got an object',
    'trivy-schema-v1-list.json': 'top level is a list of results: this is a Trivy SchemaVersion 1 report '
                                 '(trivy < 0.20); only SchemaVersion 2 is supported, upgrade trivy',
    'trivy-schema-version-1.json': 'SchemaVersion: unsupported Trivy SchemaVersion 1 (only 2 is supported)',
    'trivy-schema-version-3.json': 'SchemaVersion: unsupported Trivy SchemaVersion 3 (only 2 is supported)',
    'trivy-schema-version-string.json': 'SchemaVersion: expected an integer, got a string "2"',
    'trivy-secrets-only.json': 'Results: no os-pkgs or lang-pkgs result: the report was made without the '
                               'vulnerability scanner (use trivy --scanners vuln)',
    'trivy-severity-not-string.json': 'Results[0].Vulnerabilities[0].Severity: expected a string, got a number 3',
    'trivy-severity-unknown.json': 'Results[0].Vulnerabilities[1].Severity: unknown severity "SEVERE" '
                                   '(expected one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)',
    'trivy-table-output.txt': 'not valid JSON (Expecting value at line 2 column 1); '
                              'expected a report from trivy --format json or grype -o json',
    'trivy-vuln-missing-id.json': "Results[2].Vulnerabilities[0]: missing 'VulnerabilityID'",
    'trivy-vuln-missing-pkgname.json': "Results[0].Vulnerabilities[0]: missing 'PkgName'",
    'trivy-vulnerabilities-not-list.json': 'Results[0].Vulnerabilities: expected a list, got a string "none"',
    'truncated.json': 'the file is truncated: the JSON stops early '
                      '(Unterminated string starting at line 259 column 13)',
    'whitespace-only.json': 'the file is empty (did the scanner fail before writing it?)',
}


def test_malformed_corpus_is_fully_covered():
    assert sorted(os.listdir(MALFORMED) + list(MALFORMED_ENCODED)) == sorted(MALFORMED_MESSAGES)
    assert len(MALFORMED_MESSAGES) >= 12


@pytest.mark.parametrize('name', sorted(MALFORMED_MESSAGES))
def test_malformed_report_gives_exact_message(name):
    path = malformed_path(name)
    with pytest.raises(ScanReportError) as err:
        load_report(path)
    assert err.value.msg == 'report %s: %s' % (path, MALFORMED_MESSAGES[name])
    assert str(err.value) == err.value.msg


def test_missing_file(tmp_path):
    path = str(tmp_path / 'nope.json')
    with pytest.raises(ScanReportError) as err:
        load_report(path)
    assert err.value.msg == 'report %s: cannot read the file: No such file or directory' % path


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ScanReportError) as err:
        load_report(str(tmp_path))
    assert err.value.msg == 'report %s: cannot read the file: Is a directory' % tmp_path


@pytest.mark.parametrize('text, message', [
    ('{"a": [1, 2', "the file is truncated: the JSON stops early (Expecting ',' delimiter at line 1 column 12)"),
    ('{"matches": [}', 'not valid JSON (Expecting value at line 1 column 14); '
                       'expected a report from trivy --format json or grype -o json'),
    ('{"matches": []}}', 'not valid JSON (Extra data at line 1 column 16); '
                         'expected a report from trivy --format json or grype -o json'),
    ('"text"', 'top level is a string "text", expected a JSON object (a Trivy or Grype report)'),
    ('[' * 100000, 'JSON nested too deeply to be a scanner report'),
    ('{"SchemaVersion": true}', 'SchemaVersion: expected an integer, got a boolean true'),
    ('{"matches": [{"vulnerability": {"id": "CVE-1", "severity": "Low"}, "artifact": {"name": "", '
     '"version": "1", "type": "deb"}}]}', "matches[0].artifact: empty 'name'"),
])
def test_inline_malformed(text, message):
    with pytest.raises(ScanReportError) as err:
        parse_report(text, 'inline.json')
    assert err.value.msg == 'report inline.json: ' + message


def test_report_error_is_a_scan_error_not_a_value_error():
    assert issubclass(ScanReportError, ScanError)
    assert not issubclass(ScanReportError, ValueError)


# ---------------------------------------------------------------------------
# Normalisation helpers

@pytest.mark.parametrize('text, versions', [
    ('', []), ('1.2.3', ['1.2.3']), ('1.2.3, 1.3.0', ['1.2.3', '1.3.0']), (' 1.2.3 ,, 2.0 ', ['1.2.3', '2.0']),
])
def test_split_versions(text, versions):
    assert split_versions(text) == versions


def test_dedupe_merges_fix_versions_and_keeps_worst_severity():
    merged = dedupe([finding('CVE-1', severity='LOW', fixed=['1.1']),
                     finding('CVE-1', severity='HIGH', fixed=['1.1', '2.0']),
                     finding('CVE-1', installed='2.0')])
    assert len(merged) == 2
    first = [f for f in merged if f['installed'] == '1.0'][0]
    assert first['severity'] == 'HIGH'
    assert first['fixed'] == ['1.1', '2.0']


def test_dedupe_does_not_mutate_input():
    items = [finding('CVE-1', fixed=['1']), finding('CVE-1', fixed=['2'])]
    dedupe(items)
    assert items[0]['fixed'] == ['1']


def test_count_by_severity_has_every_severity():
    assert count_by_severity([]) == dict((s, 0) for s in _scan.SEVERITIES)


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
