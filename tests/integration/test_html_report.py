"""The HTML pages of the reports in headless Chromium: the fleet page from the inventory playbook
and the run page from patch.yml, both made by the real roles on the lab.

Each page loads with no console error, no exception and no request but itself; its figures are
those of the JSON report beside it; sorting and filtering work; a `<script>` label is shown as text.
Screenshots at desktop and phone widths go to build/html-report/ for people to look at.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from browserkit import CHROMIUM, Browser
from labkit import ROOT
from patchkit import remove
from shardkit import shard_of

SHOTS = os.path.join(ROOT, 'build', 'html-report')
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'scan')
DESKTOP = (1280, 900, False)
PHONE = (390, 844, True)
EVIL = '<script>window.pwned = 1</script>'

# CI runs this module in the Docker 26 shard (conftest), on Docker 26 hosts of its own; a test marked
# with another shard on that shard's hosts.
pytestmark = [pytest.mark.skipif(not CHROMIUM, reason='chromium is not installed (apt-get install chromium)'),
              pytest.mark.shard('docker26')]
HOSTS = []


@pytest.fixture(autouse=True)
def on_hosts(lab, request):
    HOSTS[:] = lab.pick(shard_of(request.node), 3)


# Read from the page: every figure, and each table's rows as the values their cells sort by.
FIGURES = "Object.fromEntries([...document.querySelectorAll('[data-figure]')].map(e => [e.dataset.figure, +e.textContent]))"
ROWS = ("[...document.querySelectorAll('#%s tbody tr')].filter(r => !r.hidden).map(r => [...r.cells].map("
        "c => c.hasAttribute('data-value') ? c.dataset.value : c.textContent.trim()))")


def column(page, table, index):
    return [row[index] for row in page.evaluate(ROWS % table)]


def click_header(page, table, label):
    page.evaluate("[...document.querySelectorAll('#%s thead th')].find(th => th.textContent === %s).click()"
                  % (table, json.dumps(label)))


def type_filter(page, table, text):
    page.evaluate("(() => { const i = document.querySelector('input[data-filter=%s]'); i.value = %s;"
                  " i.dispatchEvent(new Event('input')); })()" % (table, json.dumps(text)))


def numbers(values):
    return [float(v) for v in values]


def screenshots(page, name):
    """Desktop and phone PNGs; the page must not be wider than the phone (tables scroll inside)."""
    paths = []
    for label, (width, height, mobile) in (('desktop', DESKTOP), ('phone', PHONE)):
        paths.append(page.screenshot(os.path.join(SHOTS, '%s-%s.png' % (name, label)), width, height, mobile))
        assert page.evaluate('document.documentElement.scrollWidth') <= width, label
    return paths


@pytest.fixture
def fleet(lab, uid, tmp_path):
    """On two hosts: a Compose-labelled web with a `<script>` label, a worker, a stopped job; an
    unreachable third host (nothing listens on port 1 of the loopback)."""
    hosts = HOSTS[:2]
    compose = {'com.docker.compose.project': 'shop-' + uid, 'com.docker.compose.service': 'web',
               'com.docker.compose.project.working_dir': '/srv/shop', 'com.docker.compose.container-number': '1',
               'com.docker.compose.project.config_files': '/srv/shop/compose.yml'}
    made = {}
    for host in hosts:
        api = lab.pull(host, 'v1')
        names = ['web-' + uid, 'worker-' + uid, 'job-' + uid]
        for name in names:
            labels = dict(compose, note=EVIL) if name.startswith('web') else {'team': 'ops'}
            cid = api.create_container(lab.image('v1'), name=name, labels=labels)['Id']
            if not name.startswith('job'):
                api.start(cid)
        made[host] = names
    ghost = tmp_path / 'ghost.ini'
    ghost.write_text('[docker_hosts]\nghost-%s ansible_host=127.0.0.1 ansible_port=1\n' % uid)
    yield hosts, str(ghost)
    for host, names in made.items():
        remove(lab.engine(host), *names)


def test_fleet_page(lab, fleet, uid, tmp_path):
    hosts, ghost = fleet
    out = tmp_path / 'reports'
    runner, dummy = lab.playbook(os.path.join(ROOT, 'playbooks', 'inventory.yml'), cmdline=['-i', ghost], extravars={
        'inventory_hosts': ','.join(hosts + ['ghost-' + uid]),
        'inventory_report_dir': str(out),
        'inventory_name_patterns': ['*-' + uid],
        'inventory_registry_username': lab.registry_user,
        'inventory_registry_password': lab.registry_password,
        'inventory_scan_reports': [{'name': 'web-' + uid, 'report': os.path.join(FIXTURES, 'trivy-debian-current.json')}],
    })
    assert runner.rc == 0, runner.collected_stdout[-3000:]
    report = json.loads((out / 'inventory.json').read_text())
    assert report['totals']['hosts_unreachable'] == 1 and report['totals']['containers'] == 6
    os.makedirs(SHOTS, exist_ok=True)
    shutil.copy(out / 'inventory.html', os.path.join(SHOTS, 'inventory.html'))  # for people to open

    with Browser() as browser:
        page = browser.open((out / 'inventory.html').as_uri(), *DESKTOP[:2])
        assert page.problems == []
        # The figures are the JSON report's.
        figures = page.evaluate(FIGURES)
        for key, value in report['totals'].items():
            if key in figures:
                assert figures[key] == value, key
        assert set(report['totals']) - set(figures) == {'updates_current'}
        web = report['vulnerabilities']['web-' + uid]
        assert (figures['critical'], figures['high']) == (web['CRITICAL'], web['HIGH']) and web['CRITICAL'] + web['HIGH']
        assert column(page, 'hosts', 0) == [h['host'] for h in report['hosts']]
        assert column(page, 'hosts', 2) == [str(h['summary']['containers']) for h in report['hosts']]
        assert column(page, 'hosts', 1)[-1] == 'unreachable'
        images = page.evaluate(ROWS % 'images')
        assert [(r[0], r[1], r[4], r[5]) for r in images] == [
            (lab.image('v1'), '6', str(web['CRITICAL']), str(web['HIGH']))]
        projects = [['shop-' + uid, h, '1', 'web', '/srv/shop'] for h in sorted(hosts)]
        assert page.evaluate(ROWS % 'projects') == projects
        # The label is text: shown as written, never run, the page's own script the only one.
        labels = column(page, 'containers', 7)
        assert sum('note=' + EVIL in text for text in labels) == 2
        assert page.evaluate("typeof window.pwned") == 'undefined'
        assert page.evaluate("document.scripts.length") == 1
        # Sorting: by name, then the other way; the numbers of the hosts table as numbers.
        click_header(page, 'containers', 'name')
        names = column(page, 'containers', 1)
        assert names == sorted(names, key=str.lower) and len(names) == 6
        click_header(page, 'containers', 'name')
        assert column(page, 'containers', 1) == names[::-1]
        click_header(page, 'hosts', 'containers')
        assert numbers(column(page, 'hosts', 2)) == sorted(numbers(column(page, 'hosts', 2)))
        # Filtering: the words typed must all be in the row.
        type_filter(page, 'containers', 'job-%s %s' % (uid, hosts[1]))
        assert page.evaluate(ROWS % 'containers') and column(page, 'containers', 0) == [hosts[1]]
        assert page.evaluate("document.getElementById('containers-count').textContent") == '1 of 6'
        type_filter(page, 'containers', '')
        assert len(column(page, 'containers', 0)) == 6
        for path in screenshots(page, 'fleet'):
            assert os.path.getsize(path) > 10000
        assert page.problems == []


@pytest.fixture
def patch_fleet(lab, uid):
    """web, worker and cache (v1) on three hosts."""
    hosts = HOSTS[:3]
    names = ['web-' + uid, 'worker-' + uid, 'cache-' + uid]
    for host in hosts:
        api = lab.pull(host, 'v1', 'v2', 'v2-broken')
        for name in names:
            api.start(api.create_container(lab.image('v1'), name=name)['Id'])
    yield hosts, names
    for host in hosts:
        remove(lab.engine(host), *names)


def test_run_page(lab, patch_fleet):
    """One host per batch: the first patched (cache refused by the scan gate), the second's worker broken
    (rolled back, web restored by the handlers), the third never attempted (failure budget 0)."""
    hosts, (web, worker, cache) = patch_fleet
    reports = os.path.join(SHOTS, 'reports')  # kept for people to open, like the screenshots
    shutil.rmtree(reports, ignore_errors=True)
    targets = [{'name': n, 'image': lab.image('v2')} for n in (web, worker, cache)]
    runner, dummy = lab.playbook(os.path.join(ROOT, 'playbooks', 'patch.yml'), extravars={
        'patchops_hosts': ','.join(hosts),
        'patchops_targets': targets,
        'patchops_targets_by_host': {hosts[1]: [targets[0], {'name': worker, 'image': lab.image('v2-broken')}]},
        'patchops_serial': [1],
        'report_dir': reports,
        'pretest_min_free_bytes': 1,
        'rollout_verify_timeout': 20,
        'rollout_scan_reports': [{'name': cache, 'current_report': os.path.join(FIXTURES, 'trivy-alpine-current.json'),
                                  'patched_report': os.path.join(FIXTURES, 'trivy-alpine-patched-critical.json')}],
    })
    assert runner.rc != 0
    stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
    artifact = stats['artifact_data']['patchops_patch']
    with open(artifact['report']) as fh:
        report = json.load(fh)
    summary = report['summary']
    said = json.dumps([summary['hosts']] + [(r['host'], r['status'], r['message'], [
        (c['container'], c['outcome'], c.get('failure')) for c in r['containers']]) for r in report['hosts']])
    assert summary['hosts']['not_attempted'] == [hosts[2]] and summary['hosts']['rolled_back'] == [hosts[1]], said
    check_run_page(os.path.join(os.path.dirname(artifact['report']), 'report.html'), report, hosts, (web, worker, cache))


def check_run_page(page_path, report, hosts, names):
    web, worker, cache = names
    summary = report['summary']
    with Browser() as browser:
        page = browser.open('file://' + page_path, *DESKTOP[:2])
        assert page.problems == []
        figures = page.evaluate(FIGURES)
        for outcome, count in summary['containers'].items():
            assert figures['containers.' + outcome] == count, outcome
        for state, names in summary['hosts'].items():
            if state != 'planned':
                assert figures['hosts.' + state] == len(names), state
        assert figures['hosts_total'] == summary['hosts_total'] == 3
        assert figures['max_downtime_ms'] == summary['max_downtime_ms']
        held = [(r['host'], h['name'], h['decision']) for r in report['hosts'] for h in r['held_by_scan_gate']]
        assert figures['held_by_scan_gate'] == len(held) and (hosts[0], cache, 'refuse') in held
        # One row per container record and per hold, each with the record's outcome.
        rows = page.evaluate(ROWS % 'containers')
        expected = sorted([(r['host'], c['container'], c['outcome']) for r in report['hosts'] for c in r['containers']]
                          + held)
        assert sorted((r[1], r[2], r[3]) for r in rows) == expected
        assert (hosts[1], worker, 'rolled_back') in expected and (hosts[1], web, 'restored') in expected
        assert (hosts[0], web, 'patched') in expected
        downtime = {(r[1], r[2]): float(r[7]) for r in rows}
        for record in report['hosts']:
            for c in record['containers']:
                assert downtime[(record['host'], c['container'])] == (
                    -1 if c.get('downtime_ms') is None else c['downtime_ms'])  # none: an empty cell
        # Batches in order, the last one never attempted, said in words.
        batches = page.evaluate("[...document.querySelectorAll('.batch')].map(b => [...b.querySelectorAll('li')]"
                                ".map(li => li.dataset.host + ' ' + li.querySelector('.badge').textContent))")
        assert batches == [[hosts[0] + ' patched'], [hosts[1] + ' rolled back'], [hosts[2] + ' not attempted']]
        assert hosts[2] in page.evaluate("document.getElementById('never-attempted').textContent")
        outcome_words = page.evaluate("[...document.querySelectorAll('#containers .badge')].map(b => b.textContent)")
        assert 'refused (scan gate)' in outcome_words and 'restored' in outcome_words
        # Sorting by downtime (numbers), then by host the other way.
        click_header(page, 'containers', 'downtime')
        assert numbers(column(page, 'containers', 7)) == sorted(numbers(column(page, 'containers', 7)))
        click_header(page, 'containers', 'host')
        click_header(page, 'containers', 'host')
        assert column(page, 'containers', 1) == sorted(column(page, 'containers', 1), reverse=True)
        # Filtering on the outcome's words.
        type_filter(page, 'containers', 'rolled back')
        assert [(r[1], r[2]) for r in page.evaluate(ROWS % 'containers')] == [(hosts[1], worker)]
        type_filter(page, 'containers', 'scan gate')
        assert sorted((r[1], r[2]) for r in page.evaluate(ROWS % 'containers')) == sorted(h[:2] for h in held)
        type_filter(page, 'containers', '')
        screenshots(page, 'run')
        assert page.problems == []


@pytest.fixture
def sliced_fleet(lab, uid):
    """web (v1) on three hosts of the test's shard."""
    hosts = HOSTS[:3]
    name = 'web-' + uid
    for host in hosts:
        api = lab.pull(host, 'v1', 'v2')
        api.start(api.create_container(lab.image('v1'), name=name)['Id'])
    yield hosts, name
    for host in hosts:
        remove(lab.engine(host), name)


@pytest.mark.shard('podman')
def test_run_page_of_a_sliced_run(lab, sliced_fleet, tmp_path):
    """Two slices of one run (as an AWX sliced job runs them: one report_run_id and report_dir), serial 1:
    the page shows each slice's own batches as they ran, not batches recomputed over one slice's hosts."""
    hosts, name = sliced_fleet
    reports = str(tmp_path / 'reports')
    slices = [hosts[:2], hosts[2:]]
    for hosts_of_slice in slices:
        runner, dummy = lab.playbook(os.path.join(ROOT, 'playbooks', 'patch.yml'), extravars={
            'patchops_hosts': ','.join(hosts_of_slice), 'patchops_targets': [{'name': name, 'image': lab.image('v2')}],
            'patchops_serial': [1], 'report_dir': reports, 'report_run_id': 'sliced', 'pretest_min_free_bytes': 1,
        })
        assert runner.rc == 0, runner.collected_stdout[-3000:]
    root = os.path.join(reports, 'sliced')
    plays = []
    for entry in sorted(os.listdir(os.path.join(root, 'plays'))):
        with open(os.path.join(root, 'plays', entry)) as fh:
            plays.append(json.load(fh))
    # What each slice recorded, batch by batch.
    assert sorted(p['batches'] for p in plays) == sorted([[[h] for h in s] for s in slices])
    with open(os.path.join(root, 'report.json')) as fh:
        report = json.load(fh)
    assert report['summary']['hosts_total'] == 3 and sorted(report['summary']['hosts']['patched']) == sorted(hosts)
    with Browser() as browser:
        page = browser.open('file://' + os.path.join(root, 'report.html'), *DESKTOP[:2])
        assert page.problems == []
        shown = page.evaluate("[...document.querySelectorAll('.batch')].map(b => [b.dataset.batch,"
                              " b.querySelector('h3').textContent, [...b.querySelectorAll('li')]"
                              ".map(li => li.dataset.host + ' ' + li.querySelector('.badge').textContent)])")
        assert shown == [['1', 'Slice 1 of 2, batch 1 (1 host)', [hosts[0] + ' patched']],
                         ['2', 'Slice 1 of 2, batch 2 (1 host)', [hosts[1] + ' patched']],
                         ['3', 'Slice 2 of 2, batch 1 (1 host)', [hosts[2] + ' patched']]]
        # The containers table numbers each row by its host's batch across the run.
        rows = page.evaluate(ROWS % 'containers')
        assert sorted((r[1], int(r[0])) for r in rows) == [(h, n) for n, h in enumerate(hosts, 1)]
        assert page.evaluate(FIGURES)['hosts_total'] == 3
        assert page.problems == []


def test_build_page(lab, uid, tmp_path):
    """build.yml on the first host: one image patched (one package, not pushed), one bad reference that fails; the
    page's figures are build.json's, each image's outcome in words, the bad input shown as text."""
    base = '%s/patchops/debian-app:v1' % lab.registry
    output = '%s/patchops/html-%s:zlib' % (lab.registry, uid)
    api = lab.pull(HOSTS[0], 'v1', repo='patchops/debian-app')
    reports = str(tmp_path / 'reports')
    try:
        runner, dummy = lab.playbook(os.path.join(ROOT, 'playbooks', 'build.yml'), extravars={
            'patchops_build_host': HOSTS[0], 'patchops_hosts': HOSTS[0], 'build_push': False,
            'build_images': [{'image': base, 'output': output, 'packages': ['zlib1g']}, {'image': EVIL}],
            'build_ignore_failures': True, 'build_report_dir': reports, 'build_report_run_id': 'b-' + uid,
        })
        assert runner.rc == 0, runner.collected_stdout[-3000:]
        root = os.path.join(reports, 'b-' + uid)
        with open(os.path.join(root, 'build.json')) as fh:
            report = json.load(fh)
        totals = report['totals']
        assert (totals['images'], totals['built'], totals['failed'], totals['packages']) == (2, 1, 1, 1), totals
        built = next(i for i in report['hosts'][0]['images'] if i['patched'])
        assert built['reference'] == output and totals['layer_bytes'] == built['layer_size'] > 0
        assert api.inspect_image(output)['Id'] == built['image_id']
        with Browser() as browser:
            page = browser.open('file://' + os.path.join(root, 'build.html'), *DESKTOP[:2])
            assert page.problems == []
            figures = page.evaluate(FIGURES)
            for key in ('hosts', 'images', 'built', 'unchanged', 'failed', 'packages', 'layer_bytes'):
                assert figures[key] == totals[key], key
            rows = page.evaluate(ROWS % 'images')
            assert sorted((r[1], r[2], int(r[4])) for r in rows) == sorted([(base, 'built', 1), (EVIL, 'failed', 0)])
            assert int(next(r for r in rows if r[2] == 'built')[5]) == built['layer_size']
            words = page.evaluate("[...document.querySelectorAll('#images .badge')].map(b => b.textContent)")
            assert sorted(words) == ['built', 'failed']
            # The bad reference and the module's message about it are text, never markup.
            assert page.evaluate('window.pwned') is None
            assert EVIL in page.evaluate("document.getElementById('images').textContent")
            screenshots(page, 'build')
            assert page.problems == []
    finally:
        remove_image(api, output)


def remove_image(api, ref):
    try:
        api.remove_image(ref, force=True)
    except Exception:  # not built: nothing to remove
        pass


def test_stage_page(lab, tmp_path):
    """stage.yml on two hosts: the first stages the app image; the second also gets a bad reference and fails. The
    page's figures are stage.json's, each host's outcome and error in words, every image's action."""
    hosts = HOSTS[:2]
    reports = str(tmp_path / 'reports')
    runner, dummy = lab.playbook(os.path.join(ROOT, 'playbooks', 'stage.yml'), extravars={
        'patchops_hosts': ','.join(hosts), 'stage_images': [{'ref': lab.image('v2')}],
        'stage_from_inventory': {hosts[1]: [{'image': EVIL, 'update': 'available'}]},
        'stage_registry_username': lab.registry_user, 'stage_registry_password': lab.registry_password,
        'stage_min_free_bytes': 1, 'stage_report_dir': reports, 'stage_report_run_id': 'stage',
    })
    assert runner.rc != 0  # the second host failed
    with open(os.path.join(reports, 'stage', 'stage.json')) as fh:
        report = json.load(fh)
    totals = report['totals']
    status = dict((h['host'], h['status']) for h in report['hosts'])
    assert status[hosts[1]] == 'failed' and status[hosts[0]] in ('changed', 'ok'), status
    assert totals['hosts'] == 2 and totals['hosts_failed'] == 1 and totals['images'] >= 1
    assert lab.registry_password not in json.dumps(report)
    with Browser() as browser:
        page = browser.open('file://' + os.path.join(reports, 'stage', 'stage.html'), *DESKTOP[:2])
        assert page.problems == []
        figures = page.evaluate(FIGURES)
        for key in ('hosts', 'hosts_changed', 'hosts_ok', 'hosts_failed', 'hosts_unreachable', 'images',
                    'fetch_bytes'):
            assert figures[key] == totals[key], key
        for action, count in totals['actions'].items():
            assert figures['actions.' + action] == count, action
        rows = page.evaluate(ROWS % 'hosts')
        assert sorted((r[0], r[1]) for r in rows) == sorted(status.items())
        images = page.evaluate(ROWS % 'images')
        assert sorted((r[0], r[1], r[2]) for r in images) == sorted(
            (h['host'], i['reference'], i['action']) for h in report['hosts'] for i in h['images'])
        failed_text = page.evaluate("document.getElementById('hosts').textContent")
        assert EVIL in failed_text and page.evaluate('window.pwned') is None
        screenshots(page, 'stage')
        assert page.problems == []
