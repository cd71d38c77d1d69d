# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scan gate: compare the findings of an image and of its patched image, decide under a policy
(patch, skip, refuse) with the reasons, and run a scanner on the host when no report is given.

Private: not a public API of the collection. Reading the reports is _scan_report's.
"""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._scan_report import (
    SEVERITIES,
    SEVERITY_RANK,
    ScanError,
    count_by_severity,
    parse_report,
    sort_findings,
)

DEFAULT_FAIL_ON_NEW = ('CRITICAL', 'HIGH')
DECISIONS = ('patch', 'skip', 'refuse')
SCANNERS = ('trivy', 'grype')
LIST_LIMIT = 5  # IDs quoted in one reason before "and N more"


def _match_key(finding):
    # Patching changes the installed version, so a pair is matched without it.
    return (finding['id'], finding['package'])


# ---------------------------------------------------------------------------
# Policy and comparison

def make_policy(fail_on_new=DEFAULT_FAIL_ON_NEW, require_fix=False, max_severity=None, ignore=None):
    """Validate the policy options once; returns a plain dict. fail_on_new=None means the default."""
    if fail_on_new is None:
        fail_on_new = DEFAULT_FAIL_ON_NEW
    severities = [_policy_severity(s, 'fail_on_new') for s in fail_on_new]
    fail_on_new = [s for index, s in enumerate(severities) if s not in severities[:index]]
    if max_severity is not None:
        max_severity = _policy_severity(max_severity, 'max_severity')
    ignored = {}
    for index, entry in enumerate(ignore or []):
        if not isinstance(entry, dict) or not isinstance(entry.get('id'), str) or not entry['id'].strip():
            raise ScanError("ignore[%d]: needs an 'id' (a vulnerability ID such as CVE-2024-1234)" % index)
        ignored[entry['id'].strip().upper()] = dict(id=entry['id'].strip(), reason=entry.get('reason') or '')
    return dict(fail_on_new=fail_on_new, require_fix=bool(require_fix),
                max_severity=max_severity, ignore=ignored)


def _policy_severity(value, option):
    if not isinstance(value, str) or value.upper() not in SEVERITY_RANK:
        raise ScanError('%s: unknown severity %r (expected one of %s)' % (option, value, ', '.join(SEVERITIES)))
    return value.upper()


def _split_ignored(findings, ignore):
    kept, ignored = [], []
    for finding in findings:
        (ignored if finding['id'].upper() in ignore else kept).append(finding)
    return kept, ignored


def compare(current, patched, ignore=None):
    """Fixed / introduced / still_open between two finding lists, ignored IDs set apart."""
    ignore = ignore or {}
    current, ignored_current = _split_ignored(current, ignore)
    patched, ignored_patched = _split_ignored(patched, ignore)
    current_keys = set(_match_key(f) for f in current)
    patched_keys = set(_match_key(f) for f in patched)
    return dict(
        fixed=sort_findings(f for f in current if _match_key(f) not in patched_keys),
        introduced=sort_findings(f for f in patched if _match_key(f) not in current_keys),
        still_open=sort_findings(f for f in patched if _match_key(f) in current_keys),
        ignored=_ignored_list(ignored_current, ignored_patched, ignore),
    )


def _ignored_list(in_current, in_patched, ignore):
    listed = {}
    for where, findings in (('current', in_current), ('patched', in_patched)):
        for finding in findings:
            entry = listed.setdefault(_match_key(finding), dict(
                finding, reason=ignore[finding['id'].upper()]['reason'], found_in=[]))
            if where not in entry['found_in']:
                entry['found_in'].append(where)
    return sort_findings(listed.values())


def decide(comparison, policy):
    """('patch'|'skip'|'refuse', reasons): refusal first, then require_fix, else patch."""
    refusals = _refusals(comparison, policy)
    context = _context(comparison)
    if refusals:
        return 'refuse', refusals + context
    if policy['require_fix'] and not comparison['fixed']:
        return 'skip', ['the patched image fixes nothing and require_fix is true'] + context[1:]
    return 'patch', context


def _refusals(comparison, policy):
    reasons = []
    new_bad = [f for f in comparison['introduced'] if f['severity'] in policy['fail_on_new']]
    if new_bad:
        reasons.append('the patched image introduces %s of a severity listed in fail_on_new [%s]: %s'
                       % (_count_phrase(new_bad), ', '.join(policy['fail_on_new']), _id_list(new_bad)))
    limit = policy['max_severity']
    if limit is not None:
        remaining = sort_findings(comparison['still_open'] + comparison['introduced'])
        above = [f for f in remaining if SEVERITY_RANK[f['severity']] > SEVERITY_RANK[limit]]
        if above:
            reasons.append('the patched image still has %s above max_severity %s: %s'
                           % (_count_phrase(above), limit, _id_list(above)))
    return reasons


def _context(comparison):
    lines = []
    for key, verb in (('fixed', 'fixes'), ('introduced', 'introduces'), ('still_open', 'leaves open')):
        findings = comparison[key]
        lines.append('the patched image %s %s' % (verb, _count_phrase(findings) if findings else 'nothing'))
    if comparison['ignored']:
        ignored = comparison['ignored']
        lines.append('%s ignored by policy: %s' % (_plural(len(ignored), 'finding'), _id_list(ignored)))
    return lines


def _plural(count, noun):
    return '%d %s%s' % (count, noun, '' if count == 1 else 's')


def _count_phrase(findings):
    counts = count_by_severity(findings)
    parts = ['%d %s' % (counts[s], s) for s in reversed(SEVERITIES) if counts[s]]
    return '%s (%s)' % (_plural(len(findings), 'finding'), ', '.join(parts))


def _id_list(findings):
    shown = ['%s in %s %s' % (f['id'], f['package'], f['installed']) if f['installed']
             else '%s in %s' % (f['id'], f['package']) for f in findings[:LIST_LIMIT]]
    more = len(findings) - LIST_LIMIT
    return ', '.join(shown) + (' and %d more' % more if more > 0 else '')


def _report_summary(report):
    return dict((key, report[key]) for key in ('scanner', 'source', 'artifact', 'os', 'image_id'))


def evaluate(name, current_report, patched_report, policy):
    """The full decision record for one image."""
    comparison = compare(current_report['findings'], patched_report['findings'], policy['ignore'])
    decision, reasons = decide(comparison, policy)
    counts = dict((key, count_by_severity(comparison[key])) for key in ('fixed', 'introduced', 'still_open'))
    record = dict(name=name, decision=decision, reasons=reasons, counts=counts,
                  current=_report_summary(current_report), patched=_report_summary(patched_report))
    record.update(comparison)
    return record


def summarise(decisions):
    summary = dict((name, 0) for name in DECISIONS)
    for record in decisions:
        summary[record['decision']] += 1
    return summary


def unused_ignores(decisions, policy):
    """Ignore entries that matched nothing in any report: probably stale."""
    used = set(f['id'].upper() for record in decisions for f in record['ignored'])
    return [entry['id'] for key, entry in sorted(policy['ignore'].items()) if key not in used]


# ---------------------------------------------------------------------------
# Running a scanner (only when no report file is given)

def pick_scanner(get_bin_path, scanner='auto'):
    """(name, path) of the scanner to run; `get_bin_path(name)` returns a path or None."""
    if scanner not in ('auto',) + SCANNERS:
        raise ScanError('scanner: unknown scanner %r (expected auto, trivy or grype)' % (scanner,))
    names = SCANNERS if scanner == 'auto' else (scanner,)
    for name in names:
        path = get_bin_path(name)
        if path:
            return name, path
    if scanner == 'auto':
        raise ScanError('no report file given and neither trivy nor grype is on the PATH of this host: '
                        'give current_report/patched_report, or install a scanner, '
                        'or run the task where one is installed (delegate_to)')
    raise ScanError('scanner=%s but %s is not on the PATH of this host' % (scanner, scanner))


def scanner_command(name, path, image, offline=True):
    """(argv, extra environment) for one scan writing JSON to stdout."""
    if name == 'trivy':
        argv = [path, 'image', '--format', 'json', '--quiet']
        if offline:
            argv += ['--skip-db-update', '--skip-java-db-update', '--offline-scan']
        return argv + [image], {}
    env = {'GRYPE_DB_AUTO_UPDATE': 'false', 'GRYPE_CHECK_FOR_APP_UPDATE': 'false'} if offline else {}
    return [path, image, '-o', 'json'], env


def run_scanner(image, run_command, get_bin_path, scanner='auto', offline=True):
    """Scan `image` and return the normalised report.

    `run_command(argv, environ_update=dict)` returns (rc, stdout, stderr), like
    AnsibleModule.run_command.
    """
    if not isinstance(image, str) or not image.strip() or image.startswith('-'):
        raise ScanError('cannot scan image %r: expected an image reference such as nginx:1.25' % (image,))
    name, path = pick_scanner(get_bin_path, scanner)
    argv, env = scanner_command(name, path, image, offline)
    rc, out, err = run_command(argv, environ_update=env)
    if rc != 0:
        raise ScanError('%s failed to scan %s (exit code %s): %s'
                        % (name, image, rc, _tail(err) or _tail(out) or 'no output'))
    return parse_report(out, '%s scan of %s' % (name, image))


def _tail(text, limit=600):
    text = (text or '').strip()
    return text if len(text) <= limit else '...' + text[-limit:]
