# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.patchops.containers.plugins.modules import scan_gate

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'scan'))


def fixture(name):
    return os.path.join(FIXTURES, name)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Module warnings are process-global: start each test with none."""
    monkeypatch.setattr(module_warnings, '_global_warnings', {})
    monkeypatch.setattr(module_warnings, '_global_deprecations', {})


def warning_texts(result):
    """Warning messages, whether the core returns plain strings or 2.19 warning summaries."""
    return [w['event']['msg'] if isinstance(w, dict) else w for w in result.get('warnings', [])]


def run_module(capsys, args, check_mode=False):
    """Run main() as Ansible would and return the JSON result it printed."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            scan_gate.main()
    result = json.loads(capsys.readouterr().out)
    assert (exc.value.code != 0) == bool(result.get('failed'))
    return result


def image(name, current, patched):
    return dict(name=name, current_report=fixture(current), patched_report=fixture(patched))


DEBIAN = image('web', 'trivy-debian-current.json', 'trivy-debian-patched.json')
ALPINE = image('proxy', 'trivy-alpine-current.json', 'trivy-alpine-patched-critical.json')
UBUNTU = image('worker', 'trivy-ubuntu-current.json', 'trivy-ubuntu-patched-nofix.json')
GRYPE = image('web-grype', 'grype-debian-current.json', 'grype-debian-patched.json')


# ---------------------------------------------------------------------------
# Decisions from report files

def test_single_patch(capsys):
    result = run_module(capsys, dict(images=[DEBIAN]))
    assert result['changed'] is False
    assert not result.get('failed')
    assert result['summary'] == {'patch': 1, 'skip': 0, 'refuse': 0}
    assert warning_texts(result) == []
    record = result['decisions'][0]
    assert record['name'] == 'web'
    assert record['decision'] == 'patch'
    assert record['counts'] == {
        'fixed': {'CRITICAL': 0, 'HIGH': 1, 'MEDIUM': 1, 'LOW': 1, 'UNKNOWN': 0},
        'introduced': {'CRITICAL': 0, 'HIGH': 0, 'MEDIUM': 0, 'LOW': 0, 'UNKNOWN': 0},
        'still_open': {'CRITICAL': 2, 'HIGH': 0, 'MEDIUM': 1, 'LOW': 3, 'UNKNOWN': 0},
    }
    assert set(record) == {'name', 'decision', 'reasons', 'counts', 'fixed', 'introduced', 'still_open',
                           'ignored', 'current', 'patched'}
    assert record['current']['source'] == fixture('trivy-debian-current.json')
    assert set(record['fixed'][0]) == {'id', 'package', 'installed', 'fixed', 'severity', 'class', 'target'}


def test_patch_skip_refuse_in_one_run_keeps_order(capsys):
    result = run_module(capsys, dict(images=[DEBIAN, ALPINE, UBUNTU, GRYPE], require_fix=True))
    assert [(d['name'], d['decision']) for d in result['decisions']] == [
        ('web', 'patch'), ('proxy', 'refuse'), ('worker', 'skip'), ('web-grype', 'patch')]
    assert result['summary'] == {'patch': 2, 'skip': 1, 'refuse': 1}
    assert result['changed'] is False


def test_check_mode_gives_the_same_output(capsys):
    args = dict(images=[DEBIAN, ALPINE, UBUNTU], max_severity='CRITICAL',
                ignore=[dict(id='CVE-2011-3374', reason='apt-key unused')])
    normal = run_module(capsys, args)
    checked = run_module(capsys, args, check_mode=True)
    for result in (normal, checked):
        result.pop('invocation', None)
    assert checked == normal
    assert checked['changed'] is False


def test_policy_options_reach_the_decision(capsys):
    result = run_module(capsys, dict(images=[ALPINE], fail_on_new=['MEDIUM']))
    assert result['decisions'][0]['decision'] == 'patch'  # the new CRITICAL is not listed
    result = run_module(capsys, dict(images=[DEBIAN], max_severity='HIGH'))
    assert result['decisions'][0]['decision'] == 'refuse'
    assert 'above max_severity HIGH' in result['decisions'][0]['reasons'][0]


def test_ignore_is_listed_and_stale_entries_warned(capsys):
    result = run_module(capsys, dict(images=[DEBIAN], ignore=[
        dict(id='cve-2011-3374', reason='apt-key unused'),
        dict(id='CVE-2019-0001', reason='left over')]))
    ignored = result['decisions'][0]['ignored']
    assert [(f['id'], f['package']) for f in ignored] == [('CVE-2011-3374', 'apt'), ('CVE-2011-3374', 'libapt-pkg6.0')]
    assert ignored[0]['reason'] == 'apt-key unused'
    assert ignored[0]['found_in'] == ['current', 'patched']
    assert warning_texts(result) == ['ignore: CVE-2019-0001 matches no finding in any report (stale entry?)']


def test_mixed_scanners_warned(capsys):
    result = run_module(capsys, dict(images=[image('mixed', 'trivy-debian-current.json', 'grype-debian-patched.json')]))
    assert warning_texts(result) == [
        'mixed: the current image was scanned with trivy and the patched image with grype; '
        'findings of different scanners do not compare well']


# ---------------------------------------------------------------------------
# Failures

def test_malformed_report_fails_the_whole_run(capsys):
    bad = fixture('malformed/trivy-vuln-missing-id.json')
    result = run_module(capsys, dict(images=[DEBIAN, dict(name='bad', current_report=bad,
                                                          patched_report=fixture('trivy-debian-patched.json'))]))
    assert result['failed'] is True
    assert result['changed'] is False
    assert result['msg'] == "report %s: Results[2].Vulnerabilities[0]: missing 'VulnerabilityID'" % bad
    assert 'decisions' not in result
    assert 'exception' not in result


def test_missing_report_file(capsys):
    missing = fixture('does-not-exist.json')
    result = run_module(capsys, dict(images=[dict(name='x', current_report=missing,
                                                  patched_report=fixture('trivy-clean.json'))]))
    assert result['failed'] is True
    assert result['msg'] == 'report %s: cannot read the file: No such file or directory' % missing


def test_duplicate_names(capsys):
    result = run_module(capsys, dict(images=[DEBIAN, DEBIAN]))
    assert result['failed'] is True
    assert result['msg'] == "images: the name 'web' is given twice; names label the decisions and must be unique"


def test_count_gives_the_findings_of_each_report_per_severity(capsys):
    result = run_module(capsys, dict(count=[dict(name='web', report=fixture('trivy-debian-current.json'))]))
    assert not result.get('failed') and result['decisions'] == []
    assert result['summary'] == {'patch': 0, 'skip': 0, 'refuse': 0}
    # The same numbers as comparing the report with itself: every finding still open.
    same = run_module(capsys, dict(images=[image('web', 'trivy-debian-current.json', 'trivy-debian-current.json')]))
    assert result['counts'] == {'web': same['decisions'][0]['counts']['still_open']}


def test_count_and_images_in_one_run(capsys):
    result = run_module(capsys, dict(images=[DEBIAN], count=[dict(name='db', report=fixture('grype-debian-current.json'))]))
    assert [d['name'] for d in result['decisions']] == ['web'] and list(result['counts']) == ['db']


def test_count_duplicate_names_and_bad_reports_fail(capsys):
    entry = dict(name='web', report=fixture('trivy-debian-current.json'))
    result = run_module(capsys, dict(count=[entry, entry]))
    assert result['failed'] and "count: the name 'web' is given twice" in result['msg']
    result = run_module(capsys, dict(count=[dict(name='web', report=fixture('no-such-report.json'))]))
    assert result['failed'] and 'no-such-report.json' in result['msg']


def test_images_or_count_is_required(capsys):
    result = run_module(capsys, dict())
    assert result['failed'] and 'images' in result['msg'] and 'count' in result['msg']


@pytest.mark.parametrize('entry, text', [
    (dict(name='x', patched_report='/p.json'), 'one of the following is required: current_report, current_image'),
    (dict(name='x', current_report='/c.json', current_image='img:1', patched_report='/p.json'),
     'parameters are mutually exclusive: current_report|current_image'),
    (dict(current_report='/c.json', patched_report='/p.json'), 'missing required arguments: name'),
])
def test_image_entry_validation(capsys, entry, text):
    result = run_module(capsys, dict(images=[entry]))
    assert result['failed'] is True
    assert text in result['msg']


def test_bad_severity_choice(capsys):
    result = run_module(capsys, dict(images=[DEBIAN], fail_on_new=['SEVERE']))
    assert result['failed'] is True
    assert 'fail_on_new' in result['msg'] and 'SEVERE' in result['msg']


def test_ignore_needs_a_reason(capsys):
    result = run_module(capsys, dict(images=[DEBIAN], ignore=[dict(id='CVE-1')]))
    assert result['failed'] is True
    assert 'missing required arguments: reason' in result['msg']


# ---------------------------------------------------------------------------
# Scanning images on the host

class FakeScanner:
    """Stands in for AnsibleModule.get_bin_path / run_command."""

    def __init__(self, tools=('trivy',), outputs=None, rc=0, err=''):
        self.tools = tools
        self.outputs = outputs or {}
        self.rc = rc
        self.err = err
        self.calls = []

    def install(self, monkeypatch):
        scanner = self

        def get_bin_path(_module, name, *args, **kwargs):
            return '/usr/bin/%s' % name if name in scanner.tools else None

        def run_command(_module, argv, *args, **kwargs):
            scanner.calls.append((list(argv), kwargs.get('environ_update')))
            image_ref = argv[-1] if argv[1] == 'image' else argv[1]
            out = open(fixture(scanner.outputs[image_ref]), encoding='utf-8').read() if scanner.rc == 0 else ''
            return scanner.rc, out, scanner.err

        monkeypatch.setattr(AnsibleModule, 'get_bin_path', get_bin_path)
        monkeypatch.setattr(AnsibleModule, 'run_command', run_command)
        return self


def test_self_scan_with_trivy(capsys, monkeypatch):
    fake = FakeScanner(outputs={'web:1.4': 'trivy-debian-current.json',
                                'web:1.4-patched': 'trivy-debian-patched.json'}).install(monkeypatch)
    result = run_module(capsys, dict(images=[dict(name='web', current_image='web:1.4', patched_image='web:1.4-patched')]))
    assert result['decisions'][0]['decision'] == 'patch'
    assert result['decisions'][0]['current']['source'] == 'trivy scan of web:1.4'
    assert [call[0] for call in fake.calls] == [
        ['/usr/bin/trivy', 'image', '--format', 'json', '--quiet', '--skip-db-update', '--skip-java-db-update',
         '--offline-scan', 'web:1.4'],
        ['/usr/bin/trivy', 'image', '--format', 'json', '--quiet', '--skip-db-update', '--skip-java-db-update',
         '--offline-scan', 'web:1.4-patched'],
    ]


def test_self_scan_mixed_with_report_and_grype_online(capsys, monkeypatch):
    fake = FakeScanner(tools=('grype',), outputs={'web:1.4-patched': 'grype-debian-patched.json'}).install(monkeypatch)
    result = run_module(capsys, dict(images=[dict(name='web', current_report=fixture('grype-debian-current.json'),
                                                  patched_image='web:1.4-patched')], offline=False))
    assert result['decisions'][0]['patched']['scanner'] == 'grype'
    assert fake.calls == [(['/usr/bin/grype', 'web:1.4-patched', '-o', 'json'], {})]


def test_same_image_is_scanned_once(capsys, monkeypatch):
    fake = FakeScanner(outputs={'base:1': 'trivy-ubuntu-current.json', 'a:1': 'trivy-ubuntu-patched-nofix.json',
                                'b:1': 'trivy-ubuntu-patched-nofix.json'}).install(monkeypatch)
    run_module(capsys, dict(images=[dict(name='a', current_image='base:1', patched_image='a:1'),
                                    dict(name='b', current_image='base:1', patched_image='b:1')]))
    assert [call[0][-1] for call in fake.calls] == ['base:1', 'a:1', 'b:1']


def test_no_scanner_and_no_report(capsys, monkeypatch):
    FakeScanner(tools=()).install(monkeypatch)
    result = run_module(capsys, dict(images=[dict(name='web', current_image='web:1.4', patched_image='web:1.4-p')]))
    assert result['failed'] is True
    assert result['changed'] is False
    assert result['msg'].startswith('no report file given and neither trivy nor grype is on the PATH of this host')


def test_scanner_failure_fails_the_module(capsys, monkeypatch):
    FakeScanner(rc=1, err='FATAL image scan error: unable to find the specified image "web:9"').install(monkeypatch)
    result = run_module(capsys, dict(images=[dict(name='web', current_image='web:9', patched_image='web:9-p')]))
    assert result['failed'] is True
    assert result['msg'] == ('trivy failed to scan web:9 (exit code 1): '
                             'FATAL image scan error: unable to find the specified image "web:9"')


# ---------------------------------------------------------------------------
# Documentation matches the argument spec (a small local validate-modules)

def _docs():
    return (yaml.safe_load(scan_gate.DOCUMENTATION), yaml.safe_load(scan_gate.EXAMPLES),
            yaml.safe_load(scan_gate.RETURN))


def test_documentation_is_valid_yaml():
    doc, examples, returned = _docs()
    assert doc['module'] == 'scan_gate'
    assert str(doc['version_added']) == '0.1.0'
    assert doc['attributes']['check_mode']['support'] == 'full'
    assert doc['attributes']['diff_mode']['support'] == 'none'
    assert doc['attributes']['idempotent']['support'] == 'full'
    assert isinstance(examples, list) and examples
    assert set(returned) == {'decisions', 'counts', 'summary'}


def _compare_spec(spec, options, where):
    assert set(spec) == set(options), where
    for name, arg in spec.items():
        opt = options[name]
        here = '%s.%s' % (where, name)
        assert opt['type'] == arg.get('type', 'str'), here
        assert opt.get('required', False) == arg.get('required', False), here
        assert opt.get('default') == arg.get('default'), here
        assert opt.get('choices') == arg.get('choices'), here
        assert opt.get('elements') == arg.get('elements'), here
        assert opt.get('description'), here
        if 'options' in arg:
            _compare_spec(arg['options'], opt['suboptions'], here)
        else:
            assert 'suboptions' not in opt, here


def test_documentation_matches_argument_spec():
    doc = _docs()[0]
    _compare_spec(scan_gate.argument_spec(), doc['options'], 'options')


def test_examples_use_only_documented_options():
    doc, examples, _returned = _docs()
    for task in examples:
        args = task.get('patchops.containers.scan_gate')
        if args:
            assert set(args) <= set(doc['options'])
            for entry in args.get('images', []):
                assert set(entry) <= set(doc['options']['images']['suboptions'])
