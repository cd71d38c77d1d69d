# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scanner reports (Trivy, Grype): read, validate and normalise into findings, count them.

Private: not a public API of the collection. The scan gate's decisions are in _scan.

A report is read completely and validated before anything is decided from it: any
problem raises ScanReportError naming the report and the exact place that is wrong.
"""

from __future__ import annotations

import codecs
import json

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError

SEVERITIES = ('UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL')
SEVERITY_RANK = dict((name, rank) for rank, name in enumerate(SEVERITIES))

TRIVY_SCHEMA_VERSION = 2
# Other Trivy result classes (secret, config, license...) never carry vulnerabilities.
VULN_CLASSES = ('os-pkgs', 'lang-pkgs')
GRYPE_SEVERITY = {
    'critical': 'CRITICAL', 'high': 'HIGH', 'medium': 'MEDIUM', 'low': 'LOW',
    'negligible': 'LOW', 'unknown': 'UNKNOWN',
}
# Grype artifact types that are distribution packages; everything else is a language package.
GRYPE_OS_TYPES = ('deb', 'rpm', 'apk', 'alpm', 'portage')


class ScanError(PatchopsError):
    """A scan problem already phrased for the operator."""


class ScanReportError(ScanError):
    """A report that cannot be trusted: unreadable, malformed or of an unknown schema."""


# ---------------------------------------------------------------------------
# Reading and decoding

def load_report(path):
    """Read, parse and normalise one report file."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except OSError as exc:
        raise ScanReportError('report %s: cannot read the file: %s' % (path, exc.strerror or exc))
    return parse_report(data, path)


def parse_report(data, source):
    """Parse a Trivy or Grype JSON report given as text or bytes; `source` names it in errors."""
    text = _decode(data, source)
    if not text.strip():
        raise ScanReportError('report %s: the file is empty (did the scanner fail before writing it?)' % source)
    return parse_document(_load_json(text, source), source)


def _decode(data, source):
    if isinstance(data, str):
        return data[1:] if data.startswith('\ufeff') else data
    # A BOM is harmless and common after editors or PowerShell; accept it.
    for bom, codec in ((codecs.BOM_UTF8, 'utf-8-sig'), (codecs.BOM_UTF16_LE, 'utf-16'),
                       (codecs.BOM_UTF16_BE, 'utf-16')):
        if data.startswith(bom):
            break
    else:
        codec = 'utf-8'
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise ScanReportError('report %s: not %s text (byte 0x%02x at offset %d); '
                              'expected a JSON report from trivy --format json or grype -o json'
                              % (source, codec.upper().replace('-SIG', ''), data[exc.start], exc.start))


def _load_json(text, source):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if _looks_truncated(text, exc):
            raise ScanReportError('report %s: the file is truncated: the JSON stops early (%s)'
                                  % (source, _json_problem(exc)))
        raise ScanReportError('report %s: not valid JSON (%s); '
                              'expected a report from trivy --format json or grype -o json'
                              % (source, _json_problem(exc)))
    except RecursionError:
        raise ScanReportError('report %s: JSON nested too deeply to be a scanner report' % source)
    except ValueError as exc:
        raise ScanReportError('report %s: not valid JSON: %s' % (source, exc))


def _json_problem(exc):
    joint = ' ' if exc.msg.endswith(' at') else ' at '
    return '%s%sline %d column %d' % (exc.msg, joint, exc.lineno, exc.colno)


def _looks_truncated(text, exc):
    rest = text[exc.pos:]
    if not rest.strip():
        return True
    # JSON strings hold no raw newline: an open string running to the end was cut off.
    return exc.msg.startswith('Unterminated string') and '\n' not in rest.rstrip()


# ---------------------------------------------------------------------------
# Strict access to the JSON tree

def _json_type(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, list):
        return 'a list'
    if isinstance(value, dict):
        return 'an object'
    return type(value).__name__


def _shown(value):
    """The wrong value, short, for an error message."""
    if isinstance(value, (list, dict)) or value is None:
        return _json_type(value)
    text = json.dumps(value)
    if len(text) > 40:
        text = text[:37] + '...'
    return '%s %s' % (_json_type(value), text)


_CHECKS = {
    'a string': lambda v: isinstance(v, str),
    'a list': lambda v: isinstance(v, list),
    'an object': lambda v: isinstance(v, dict),
    'an integer': lambda v: isinstance(v, int) and not isinstance(v, bool),
}


class _Tree:
    """Typed look-ups in one report that fail with the report name and a JSON path."""

    def __init__(self, source):
        self.source = source

    def error(self, where, what):
        prefix = 'report %s: ' % self.source
        return ScanReportError(prefix + ('%s: %s' % (where, what) if where else what))

    def get(self, obj, key, where, kind, required=True):
        """obj[key] checked to be `kind`; None when optional and absent or null."""
        if key not in obj:
            if required:
                raise self.error(where, "missing '%s'" % key)
            return None
        value = obj[key]
        if value is None and not required:
            return None
        if not _CHECKS[kind](value):
            raise self.error(_join(where, key), 'expected %s, got %s' % (kind, _shown(value)))
        return value

    def items(self, obj, key, where, required=True):
        """The list at obj[key] (null or absent-when-optional: empty), each item an object."""
        values = self.get(obj, key, where, 'a list', required) or []
        path = _join(where, key)
        for index, item in enumerate(values):
            item_path = '%s[%d]' % (path, index)
            if not isinstance(item, dict):
                raise self.error(item_path, 'expected an object, got %s' % _shown(item))
            yield item_path, item


def _join(where, key):
    return '%s.%s' % (where, key) if where else key


# ---------------------------------------------------------------------------
# Format detection and normalisation

def parse_document(doc, source):
    """Normalise an already decoded JSON document into a report dict."""
    tree = _Tree(source)
    if isinstance(doc, list):
        raise _list_error(tree, doc)
    if not isinstance(doc, dict):
        raise tree.error('', 'top level is %s, expected a JSON object (a Trivy or Grype report)' % _shown(doc))
    if 'SchemaVersion' in doc or 'Results' in doc or 'ArtifactName' in doc:
        return _trivy_report(tree, doc)
    if 'matches' in doc:
        return _grype_report(tree, doc)
    raise _unknown_error(tree, doc)


def _list_error(tree, doc):
    if doc and all(isinstance(item, dict) and 'Target' in item for item in doc):
        return tree.error('', 'top level is a list of results: this is a Trivy SchemaVersion 1 report '
                              '(trivy < 0.20); only SchemaVersion 2 is supported, upgrade trivy')
    return tree.error('', 'top level is a list, expected a JSON object (a Trivy or Grype report)')


def _unknown_error(tree, doc):
    if doc.get('bomFormat') == 'CycloneDX' or 'spdxVersion' in doc:
        return tree.error('', 'this is an SBOM, not a vulnerability report; '
                              'use trivy --format json or grype -o json')
    if 'runs' in doc and '$schema' in doc:
        return tree.error('', 'this is a SARIF report, not a JSON vulnerability report; '
                              'use trivy --format json or grype -o json')
    keys = ', '.join(sorted(str(k) for k in doc)[:8]) or 'none (empty object)'
    return tree.error('', "neither a Trivy report (no 'SchemaVersion') nor a Grype report (no 'matches'); "
                          'top-level keys: %s' % keys)


def _report(scanner, source, artifact, os_name, image_id, findings):
    return dict(scanner=scanner, source=source, artifact=artifact or '', os=os_name or '',
                image_id=image_id or '', findings=dedupe(findings))


def _severity(tree, value, where, mapping, expected):
    found = mapping.get(value.lower())
    if found is None:
        raise tree.error(where, 'unknown severity %s (expected one of %s)' % (json.dumps(value), expected))
    return found


def _finding(vuln_id, package, installed, fixed, severity, klass, target):
    return {'id': vuln_id, 'package': package, 'installed': installed, 'fixed': fixed,
            'severity': severity, 'class': klass, 'target': target}


# --- Trivy

_TRIVY_SEVERITY = dict((name.lower(), name) for name in SEVERITIES)


def _trivy_report(tree, doc):
    if 'SchemaVersion' not in doc:
        raise tree.error('', "missing 'SchemaVersion': looks like a Trivy report but the schema is unknown "
                             '(only SchemaVersion 2, trivy >= 0.20, is supported)')
    version = tree.get(doc, 'SchemaVersion', '', 'an integer')
    if version != TRIVY_SCHEMA_VERSION:
        raise tree.error('SchemaVersion', 'unsupported Trivy SchemaVersion %d (only %d is supported)'
                         % (version, TRIVY_SCHEMA_VERSION))
    artifact = tree.get(doc, 'ArtifactName', '', 'a string', required=False)
    os_name, image_id = _trivy_metadata(tree, doc)
    findings = []
    classes = []
    for where, result in tree.items(doc, 'Results', '', required=False):
        classes.append(result.get('Class'))
        findings.extend(_trivy_result(tree, result, where))
    if classes and not any(klass in VULN_CLASSES for klass in classes):
        raise tree.error('Results', 'no os-pkgs or lang-pkgs result: the report was made without the '
                                    'vulnerability scanner (use trivy --scanners vuln)')
    return _report('trivy', tree.source, artifact, os_name, image_id, findings)


def _trivy_metadata(tree, doc):
    meta = tree.get(doc, 'Metadata', '', 'an object', required=False) or {}
    image_id = tree.get(meta, 'ImageID', 'Metadata', 'a string', required=False)
    tree.get(meta, 'RepoDigests', 'Metadata', 'a list', required=False)
    os_info = tree.get(meta, 'OS', 'Metadata', 'an object', required=False) or {}
    family = tree.get(os_info, 'Family', 'Metadata.OS', 'a string', required=False)
    name = tree.get(os_info, 'Name', 'Metadata.OS', 'a string', required=False)
    os_name = ' '.join(part for part in (family, name) if part)
    return os_name, image_id


def _trivy_result(tree, result, where):
    target = tree.get(result, 'Target', where, 'a string')
    klass = tree.get(result, 'Class', where, 'a string', required=False)
    tree.get(result, 'Type', where, 'a string', required=False)
    vulns = list(tree.items(result, 'Vulnerabilities', where, required=False))
    if not vulns:
        return []
    if klass is None:
        raise tree.error(where, "missing 'Class' (a result with Vulnerabilities must say os-pkgs or lang-pkgs)")
    if klass not in VULN_CLASSES:
        raise tree.error(_join(where, 'Class'), 'unknown class %s for a result with Vulnerabilities '
                         '(expected os-pkgs or lang-pkgs)' % json.dumps(klass))
    return [_trivy_vuln(tree, vuln, vuln_where, klass, target) for vuln_where, vuln in vulns]


def _trivy_vuln(tree, vuln, where, klass, target):
    vuln_id = tree.get(vuln, 'VulnerabilityID', where, 'a string')
    package = tree.get(vuln, 'PkgName', where, 'a string')
    installed = tree.get(vuln, 'InstalledVersion', where, 'a string', required=False) or ''
    fixed = tree.get(vuln, 'FixedVersion', where, 'a string', required=False) or ''
    tree.get(vuln, 'Status', where, 'a string', required=False)
    severity = tree.get(vuln, 'Severity', where, 'a string')
    severity = _severity(tree, severity, _join(where, 'Severity'), _TRIVY_SEVERITY, ', '.join(SEVERITIES))
    if not vuln_id or not package:
        raise tree.error(where, 'empty %s' % ("'VulnerabilityID'" if not vuln_id else "'PkgName'"))
    return _finding(vuln_id, package, installed, split_versions(fixed), severity, klass, target)


def split_versions(text):
    """Trivy's FixedVersion: '', '1.2.3' or '1.2.3, 1.3.0' -> list of versions."""
    return [part.strip() for part in text.split(',') if part.strip()]


# --- Grype

def _grype_report(tree, doc):
    findings = [_grype_match(tree, match, where) for where, match in tree.items(doc, 'matches', '')]
    artifact, image_id = _grype_source(tree, doc)
    distro = tree.get(doc, 'distro', '', 'an object', required=False) or {}
    name = tree.get(distro, 'name', 'distro', 'a string', required=False)
    version = tree.get(distro, 'version', 'distro', 'a string', required=False)
    os_name = ' '.join(part for part in (name, version) if part)
    return _report('grype', tree.source, artifact, os_name, image_id, findings)


def _grype_source(tree, doc):
    source = tree.get(doc, 'source', '', 'an object', required=False) or {}
    target = source.get('target')
    if isinstance(target, str):
        return target, ''
    if isinstance(target, dict):
        artifact = tree.get(target, 'userInput', 'source.target', 'a string', required=False)
        image_id = tree.get(target, 'imageID', 'source.target', 'a string', required=False)
        return artifact, image_id
    return '', ''


def _grype_match(tree, match, where):
    vuln_where = _join(where, 'vulnerability')
    vuln = tree.get(match, 'vulnerability', where, 'an object')
    vuln_id = tree.get(vuln, 'id', vuln_where, 'a string')
    severity = tree.get(vuln, 'severity', vuln_where, 'a string')
    severity = _severity(tree, severity, _join(vuln_where, 'severity'), GRYPE_SEVERITY,
                         'Unknown, Negligible, Low, Medium, High, Critical')
    fixed = _grype_fix(tree, vuln, vuln_where)
    art_where = _join(where, 'artifact')
    artifact = tree.get(match, 'artifact', where, 'an object')
    package = tree.get(artifact, 'name', art_where, 'a string')
    installed = tree.get(artifact, 'version', art_where, 'a string')
    kind = tree.get(artifact, 'type', art_where, 'a string')
    tree.get(artifact, 'purl', art_where, 'a string', required=False)
    if not vuln_id or not package:
        raise tree.error(vuln_where if not vuln_id else art_where,
                         "empty '%s'" % ('id' if not vuln_id else 'name'))
    klass = 'os-pkgs' if kind.lower() in GRYPE_OS_TYPES else 'lang-pkgs'
    return _finding(vuln_id, package, installed, fixed, severity, klass,
                    _grype_location(tree, artifact, art_where))


def _grype_fix(tree, vuln, where):
    fix = tree.get(vuln, 'fix', where, 'an object', required=False) or {}
    fix_where = _join(where, 'fix')
    tree.get(fix, 'state', fix_where, 'a string', required=False)
    versions = tree.get(fix, 'versions', fix_where, 'a list', required=False) or []
    for index, version in enumerate(versions):
        if not isinstance(version, str):
            raise tree.error('%s.versions[%d]' % (fix_where, index), 'expected a string, got %s' % _shown(version))
    return [version.strip() for version in versions if version.strip()]


def _grype_location(tree, artifact, where):
    for _where, location in tree.items(artifact, 'locations', where, required=False):
        path = location.get('path')
        if isinstance(path, str) and path:
            return path
    return ''


# ---------------------------------------------------------------------------
# Normalised findings

def dedupe(findings):
    """One finding per (id, package, installed); duplicates merge fix versions, keep the worst severity."""
    merged = {}
    for finding in findings:
        key = (finding['id'], finding['package'], finding['installed'])
        seen = merged.get(key)
        if seen is None:
            merged[key] = dict(finding, fixed=list(finding['fixed']))
            continue
        seen['fixed'].extend(v for v in finding['fixed'] if v not in seen['fixed'])
        if SEVERITY_RANK[finding['severity']] > SEVERITY_RANK[seen['severity']]:
            seen['severity'] = finding['severity']
    return sort_findings(merged.values())


def sort_findings(findings):
    """Worst first, then by id and package: stable output for diffs and tests."""
    return sorted(findings, key=lambda f: (-SEVERITY_RANK[f['severity']], f['id'], f['package'], f['installed']))


def count_by_severity(findings):
    counts = dict((name, 0) for name in SEVERITIES)
    for finding in findings:
        counts[finding['severity']] += 1
    return counts
