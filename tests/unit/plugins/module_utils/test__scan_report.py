# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading Trivy and Grype reports: normalised findings, and an exact message for every malformed one."""

from __future__ import annotations

import codecs
import json
import os

import pytest

from ansible_collections.patchops.containers.plugins.module_utils import _scan_report
from ansible_collections.patchops.containers.plugins.module_utils._scan_report import (
    ScanError,
    ScanReportError,
    count_by_severity,
    dedupe,
    load_report,
    parse_report,
    split_versions,
)
from scan_fixtures import MALFORMED, MALFORMED_ENCODED, by_key, finding, fixture, malformed_path, report


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
    ranks = [_scan_report.SEVERITY_RANK[s] for s in severities]
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
    assert count_by_severity([]) == dict((s, 0) for s in _scan_report.SEVERITIES)
