"""Case 8: a corpus of bad input to every module and to the roles and playbooks.

Each case must fail (or, for update checks, report) with a message naming the bad thing, report
changed=false, and leave the host as it was. The module cases run as the tasks of one play (each
``ignore_errors``), the role cases as blocks of a second one (each rescued), the playbook cases one
ansible-playbook run each (a bad ``serial`` stops a playbook before any task): three kinds of run
instead of forty. What test_patch.py::test_bad_input_changes_nothing already checks for
container_patch (unknown container, absent tag, malformed reference, start-first clash, bad strategy,
empty list, probe without url) is not repeated here.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from labkit import ROOT

from faultkit import app_container, remove_app, safe_id

HOSTS = ['lab1', 'lab2', 'lab3']  # the cases are spread over three hosts, run in parallel
PATCH = os.path.join(ROOT, 'playbooks', 'patch.yml')
WORK = '/tmp/patchops-badinput'

# (case id, module, arguments, [substrings the message must contain]); {uid}, {name}, {image},
# {registry}, {work}, {state} and {password} are filled in.
MODULE_CASES = [
    # container_patch
    ('patch-missing-image', 'container_patch', {'containers': [{'name': '{name}'}]},
     ['missing required arguments: image', 'containers']),
    ('patch-unknown-option', 'container_patch',
     {'containers': [{'name': '{name}', 'image': '{image}'}], 'colour': 'blue'}, ['Unsupported parameters', 'colour']),
    ('patch-stop-timeout-not-int', 'container_patch',
     {'containers': [{'name': '{name}', 'image': '{image}'}], 'stop_timeout': 'soon'}, ['stop_timeout', 'int']),
    ('patch-digest-too-short', 'container_patch',
     {'containers': [{'name': '{name}', 'image': '{registry}/patchops/app@sha256:1234'}]}, ['sha256:1234']),
    ('patch-empty-image', 'container_patch', {'containers': [{'name': '{name}', 'image': ''}]},
     ["target image ''"]),
    ('patch-probe-bad-regex', 'container_patch',
     {'containers': [{'name': '{name}', 'image': '{image}'}],
      'probes': [{'type': 'http', 'url': 'http://127.0.0.1:8080/', 'body_regex': '(unclosed'}]},
     ['body_regex', 'not a valid regular expression']),
    ('patch-wrong-registry-password', 'container_patch',
     {'containers': [{'name': '{name}', 'image': '{registry}/patchops/app:absent-{uid}'}], 'pull': 'missing',
      'registry_username': 'patchops', 'registry_password': 'wrong-{uid}', 'state_dir': '{state}'},
     ['app:absent-{uid}', 'pulling it failed']),
    ('patch-unreachable-registry', 'container_patch',
     {'containers': [{'name': '{name}', 'image': '10.213.7.1:5999/patchops/app:v2'}], 'pull': 'missing',
      'state_dir': '{state}'},
     ['10.213.7.1:5999/patchops/app:v2', 'pulling it failed']),
    ('patch-corrupted-journal', 'container_patch',
     {'containers': [{'name': '{name}', 'image': '{image}'}], 'state_dir': '{work}/corrupt'},
     ['journal file {work}/corrupt/', '{name}.json is corrupted']),
    ('patch-journal-newer-format', 'container_patch',
     {'containers': [{'name': '{name}', 'image': '{image}'}], 'state_dir': '{work}/newer'},
     ['journal file {work}/newer/', 'has format 99', 'use a newer patchops.containers']),
    # container_rollback
    ('rollback-unknown-container', 'container_rollback', {'containers': ['nope-{uid}'], 'state_dir': '{state}'},
     ['nope-{uid}']),
    ('rollback-bad-strategy', 'container_rollback', {'containers': ['{name}'], 'strategy': 'backwards'},
     ['strategy', 'backwards']),
    ('rollback-journal-newer-format', 'container_rollback', {'containers': ['{name}'], 'state_dir': '{work}/newer'},
     ['has format 99']),
    # container_probe
    ('probe-empty-list', 'container_probe', {'containers': []}, ['containers is empty']),
    ('probe-unknown-container', 'container_probe', {'containers': ['nope-{uid}']}, ["container 'nope-{uid}' not found"]),
    ('probe-tcp-without-port', 'container_probe', {'containers': ['{name}'], 'probes': [{'type': 'tcp'}]},
     ["'port' is required", 'tcp']),
    ('probe-rc-not-int', 'container_probe',
     {'containers': ['{name}'], 'probes': [{'type': 'exec', 'command': 'true', 'rc': 'zero'}]}, ['rc', 'int']),
    # container_inventory
    ('inventory-unknown-state', 'container_inventory', {'status': ['sleeping']}, ['status', 'sleeping']),
    ('inventory-bool-not-bool', 'container_inventory', {'include_stopped': 'perhaps'}, ['include_stopped', 'bool']),
    # image_stage
    ('stage-item-without-ref', 'image_stage', {'images': [{}], 'state_dir': '{state}'}, ['images[0] needs ref or archive']),
    ('stage-malformed-ref', 'image_stage', {'images': [{'ref': 'bad//ref::x'}], 'state_dir': '{state}'},
     ['images[].ref', 'bad//ref::x']),
    ('stage-expected-id-not-an-id', 'image_stage',
     {'images': [{'ref': '{image}', 'expected_id': 'abc'}], 'state_dir': '{state}'}, ["expected_id 'abc'"]),
    ('stage-wrong-registry-password', 'image_stage',
     {'images': [{'ref': '{registry}/patchops/app:v2'}], 'registry_username': 'patchops',
      'registry_password': 'wrong-{uid}', 'retries': 0, 'state_dir': '{state}'},
     ['cannot resolve {registry}/patchops/app:v2', 'auth denied']),
    ('stage-unreachable-registry', 'image_stage',
     {'images': [{'ref': '10.213.7.1:5999/patchops/app:v2'}], 'retries': 0, 'state_dir': '{state}'},
     ['cannot resolve 10.213.7.1:5999/patchops/app:v2', 'registry unreachable']),
    ('stage-corrupted-manifest', 'image_stage', {'images': [{'ref': '{image}'}], 'state_dir': '{work}/corrupt'},
     ['stage manifest {work}/corrupt/', 'is corrupted']),
    # scan_gate (reports written on the controller, read on the host through the shared /tmp)
    ('scan-truncated-report', 'scan_gate',
     {'images': [{'name': 'web', 'current_report': '{work}/truncated.json', 'patched_report': '{work}/ok.json'}]},
     ['{work}/truncated.json']),
    ('scan-unknown-format', 'scan_gate',
     {'images': [{'name': 'web', 'current_report': '{work}/unknown.json', 'patched_report': '{work}/ok.json'}]},
     ['{work}/unknown.json']),
    ('scan-unknown-severity-in-report', 'scan_gate',
     {'images': [{'name': 'web', 'current_report': '{work}/ok.json', 'patched_report': '{work}/extreme.json'}]},
     ['{work}/extreme.json', 'EXTREME']),
    ('scan-report-and-image', 'scan_gate',
     {'images': [{'name': 'web', 'current_report': '{work}/ok.json', 'current_image': '{image}',
                  'patched_report': '{work}/ok.json'}]},
     ['mutually exclusive', 'current_report', 'current_image']),
    ('scan-duplicate-names', 'scan_gate',
     {'images': [{'name': 'web', 'current_report': '{work}/ok.json', 'patched_report': '{work}/ok.json'},
                 {'name': 'web', 'current_report': '{work}/ok.json', 'patched_report': '{work}/ok.json'}]},
     ["the name 'web' is given twice"]),
]

# (case id, role, role variables, [substrings]): each run as a rescued block of one play.
ROLE_CASES = [
    ('window-unknown-weekday', 'pretest', {'pretest_window': {'weekdays': ['funday']}}, ["weekday 'funday'"]),
    ('window-bad-hour', 'pretest', {'pretest_window': {'start': '25:00', 'end': '05:00'}}, ["start '25:00'"]),
    ('window-unknown-timezone', 'pretest', {'pretest_window': {'timezone': 'Mars/Olympus_Mons'}},
     ["timezone 'Mars/Olympus_Mons'"]),
    ('window-not-a-dict', 'pretest', {'pretest_window': 'sundays'}, ['pretest_window', 'dict']),
    ('pretest-free-bytes-threshold', 'pretest', {'pretest_min_free_bytes': 10 ** 18},
     ['pretest_min_free_bytes is 1000000000000000000', 'bytes free in']),
    ('pretest-unknown-container', 'pretest', {'pretest_targets': [{'name': 'nope-{uid}', 'image': '{image}'}]},
     ["container 'nope-{uid}' not found"]),
    ('rollout-bad-strategy', 'rollout', {'rollout_strategy': 'sideways'}, ['rollout_strategy', 'sideways']),
    ('stage-role-malformed-ref', 'stage', {'stage_images': [{'ref': 'bad//ref::x'}], 'stage_state_dir': '{state}'},
     ['bad//ref::x']),
]

# (case id, extra vars of patch.yml, [substrings]): one ansible-playbook run each.
PLAYBOOK_CASES = [
    ('serial-not-a-number', {'patchops_serial': 'abc'}, ['patchops_serial', "'abc'"]),
    ('serial-zero', {'patchops_serial': 0}, ['patchops_serial', '0']),
    ('serial-over-100-percent', {'patchops_serial': [1, '150%']}, ['patchops_serial', "'150%'"]),
    ('targets-not-a-list', {'patchops_targets': 'web'}, ['patchops_targets', "'web'"]),
]

TRIVY_OK = {'SchemaVersion': 2, 'ArtifactName': 'app:v1', 'ArtifactType': 'container_image',
            'Metadata': {'OS': {'Family': 'debian', 'Name': '12.5'}},
            'Results': [{'Target': 'app (debian 12.5)', 'Class': 'os-pkgs', 'Type': 'debian', 'Vulnerabilities': [
                {'VulnerabilityID': 'CVE-2024-1', 'PkgName': 'libc6', 'InstalledVersion': '2.36-9',
                 'FixedVersion': '2.36-10', 'Severity': 'HIGH'}]}]}


def fill(value, values):
    if isinstance(value, str):
        for key, text in values.items():
            value = value.replace('{%s}' % key, str(text))
        return value
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, dict):
        return dict((k, fill(v, values)) for k, v in value.items())
    return value


def snapshot(lab, uid, work):
    """What the corpus could have changed: on each host this test's containers and the images of
    the lab app's repository; every file under the corpus' state directories but the lock files."""
    hosts = {}
    for host in HOSTS:
        api = lab.engine(host)
        containers = sorted((c['Id'], tuple(c['Names']), c['Image'], c['State'])
                            for c in api.containers(all=True) if any(uid in n for n in c['Names']))
        images = []
        for image in api.images(all=True):
            refs = sorted(r for r in (image.get('RepoTags') or []) + (image.get('RepoDigests') or [])
                          if '/patchops/app' in r)
            if refs:
                images.append((image['Id'], refs))
        hosts[host] = (containers, sorted(images))
    files = []
    for top, dummy, names in os.walk(work):
        for name in names:
            if name == 'lock' or name.endswith('.lock'):
                continue  # a run takes the engine's lock whatever it then does
            with open(os.path.join(top, name), 'rb') as fh:
                files.append((os.path.join(top, name), fh.read()))
    return hosts, sorted(files)


def write_fixtures(lab, work, name):
    """A corrupted journal and stage manifest, a journal of a newer format (for every engine, under
    the corpus' own state directories), and scanner reports."""
    for host in HOSTS:
        engine = safe_id(lab.engine(host).info()['ID'])
        for sub, content in (('corrupt', '{"format": 1, "container": "x", "swaps": [ {"run": '),
                             ('newer', json.dumps({'format': 99, 'container': name, 'swaps': []}))):
            os.makedirs(os.path.join(work, sub, engine, 'journal'))
            with open(os.path.join(work, sub, engine, 'journal', name + '.json'), 'w') as fh:
                fh.write(content)
        with open(os.path.join(work, 'corrupt', engine, 'stage.json'), 'w') as fh:
            fh.write('{"format": 1, "images": ')
    os.makedirs(os.path.join(work, 'state'))
    extreme = json.loads(json.dumps(TRIVY_OK))
    extreme['Results'][0]['Vulnerabilities'][0]['Severity'] = 'EXTREME'
    for file_name, content in (('ok.json', json.dumps(TRIVY_OK)), ('extreme.json', json.dumps(extreme)),
                               ('truncated.json', json.dumps(TRIVY_OK)[:70]),
                               ('unknown.json', json.dumps({'hello': 'world'}))):
        with open(os.path.join(work, file_name), 'w') as fh:
            fh.write(content)


def spread(cases):
    """(host, case) pairs: case i runs on host i % 3."""
    return [(HOSTS[index % len(HOSTS)], case) for index, case in enumerate(cases)]


def module_play(values):
    tasks = [{'name': case, 'patchops.containers.' + module: fill(args, values), 'ignore_errors': True,
              'when': "inventory_hostname == '%s'" % host}
             for host, (case, module, args, dummy) in spread(MODULE_CASES)]
    return {'hosts': ','.join(HOSTS), 'gather_facts': False, 'strategy': 'free', 'tasks': tasks}


def role_play(values):
    tasks = []
    for host, (case, role, variables, dummy) in spread(ROLE_CASES):
        tasks.append({'name': case, 'when': "inventory_hostname == '%s'" % host, 'block': [
            {'ansible.builtin.include_role': {'name': 'patchops.containers.' + role}, 'vars': fill(variables, values)},
            {'name': case + ' did not fail', 'ansible.builtin.fail': {'msg': 'no failure'}}],
            'rescue': [{'name': case + ' rescued', 'ansible.builtin.set_fact': {
                'case_result': {'msg': '{{ ansible_failed_result.msg | default("") }}',
                                'changed': '{{ ansible_failed_result.changed | default(false) }}'}}}]})
    # What the cases do not override: this test's container as the target, its own state directory.
    return {'hosts': ','.join(HOSTS), 'gather_facts': False, 'strategy': 'free', 'tasks': tasks,
            'vars': {'patchops_targets': [{'name': values['name'], 'image': values['image']}],
                     'pretest_min_free_bytes': 1, 'pretest_state_dir': values['state'],
                     'rollout_state_dir': values['state'], 'rollback_state_dir': values['state']}}


@pytest.fixture(scope='module')
def corpus(lab):
    """Run every case once; yields {case: (message, changed)} and the snapshots around the runs."""
    uid = 'rbad%s' % os.urandom(3).hex()
    work = '%s-%s' % (WORK, uid)
    name = 'bad-%s' % uid
    values = {'uid': uid, 'name': name, 'image': lab.image('v2'), 'registry': lab.registry, 'work': work,
              'state': os.path.join(work, 'state'), 'password': lab.registry_password}
    try:
        for host in HOSTS:
            app_container(lab, lab.pull(host, 'v1', 'v2'), name)
        write_fixtures(lab, work, name)
        before = snapshot(lab, uid, work)
        found = {}
        dummy, results = lab.playbook([module_play(values), role_play(values)])
        module_cases = set(c[0] for c in MODULE_CASES)
        for res in (r for rs in results.values() for r in rs if r['_status'] != 'skipped'):
            if res['_task'] in module_cases:
                found[res['_task']] = (res.get('msg') or '', res.get('changed'))
            elif res['_task'].endswith(' rescued'):
                case_result = res['ansible_facts']['case_result']
                found[res['_task'][:-len(' rescued')]] = (case_result['msg'], case_result['changed'])
        for case, extra, dummy in PLAYBOOK_CASES:
            extravars = {'patchops_hosts': 'lab2', 'patchops_targets': [{'name': name, 'image': values['image']}],
                         'report_dir': os.path.join(work, 'reports'), 'pretest_min_free_bytes': 1,
                         'pretest_state_dir': values['state'], 'rollout_state_dir': values['state']}
            extravars.update(extra)
            runner, results = lab.playbook(PATCH, extravars=extravars)
            failed = [r for rs in results.values() for r in rs if r['_status'] == 'failed']
            touched = sorted(h for h in results if h != 'localhost')
            found[case] = (failed[0].get('msg') if failed else 'rc %s: %s' % (runner.rc, runner.collected_stdout[-1500:]),
                           runner.rc == 0 or bool(touched))
        after = snapshot(lab, uid, work)
        yield {'found': found, 'values': values, 'before': before, 'after': after}
    finally:
        for host in HOSTS:
            remove_app(lab.engine(host), name)
        shutil.rmtree(work, ignore_errors=True)


ALL = [(c[0], c[-1]) for c in MODULE_CASES + ROLE_CASES + PLAYBOOK_CASES]


def test_at_least_thirty_cases_across_every_module():
    assert len(ALL) >= 30 and len(set(c for c, dummy in ALL)) == len(ALL)
    modules = {'container_patch', 'container_rollback', 'container_probe', 'container_inventory', 'image_stage',
               'scan_gate'}
    assert set(c[1] for c in MODULE_CASES) == modules


@pytest.mark.parametrize('case,expected', ALL, ids=[c for c, dummy in ALL])
def test_bad_input(corpus, case, expected):
    assert case in corpus['found'], 'case %s left no result' % case
    msg, changed = corpus['found'][case]
    for text in fill(expected, corpus['values']):
        assert text in msg, '%s: %r not in %r' % (case, text, msg)
    assert changed in (None, False, 'False', 'false'), '%s reported changed (or reached a host)' % case
    assert corpus['values']['password'] not in msg
    assert corpus['after'] == corpus['before'], 'a host changed during the corpus'
