# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML pages of the reports: figures, batches, escaping (the browser checks are in
tests/integration/test_html_report.py)."""

from __future__ import annotations

import re

import pytest

from ansible_collections.patchops.containers.plugins.plugin_utils._html_report import (
    batches,
    build_html,
    build_outcome,
    fleet_html,
    fleet_images,
    fleet_pending,
    run_html,
    run_batches,
    run_rows,
    stage_html,
)

EVIL = '<script>alert(1)</script>'


def figures(page):
    return dict((k, int(v)) for k, v in re.findall(r'data-figure="([^"]+)">(\d+)<', page))


def run_report():
    patched = {'container': 'web', 'outcome': 'patched', 'reason': 'patch', 'old_image': 'app:v1',
               'new_image': 'app:v2', 'old_digests': ['app@sha256:' + 'a' * 64], 'new_digests': ['app@sha256:' + 'b' * 64],
               'strategy': 'stop-first', 'downtime_ms': 1200,
               'verification': [{'name': 'health', 'type': 'health', 'ok': True}]}
    follower = {'container': EVIL, 'outcome': 'recreated', 'reason': 'follows web (link)', 'downtime_ms': 300}
    broken = {'container': 'api', 'outcome': 'rolled_back', 'reason': 'patch', 'downtime_ms': 9000,
              'failure': 'unhealthy after 30 s', 'verification': [{'name': 'health', 'ok': False, 'output': EVIL}]}
    return {
        'summary': {'run': '20261202T120000Z', 'report': '/r/report.json', 'check_mode': False, 'hosts_total': 4,
                    'hosts': {'patched': ['h1'], 'unchanged': [], 'planned': [], 'rolled_back': ['h2'], 'failed': [],
                              'unreachable': [], 'not_attempted': ['h3', 'h4']},
                    'containers': {'patched': 1, 'current': 0, 'recreated': 1, 'restored': 0, 'rolled_back': 1,
                                   'restore_failed': 0, 'failed': 0, 'blocked': 0, 'not_attempted': 0},
                    'max_downtime_ms': 9000},
        'hosts': [
            {'host': 'h1', 'status': 'patched', 'message': '', 'containers': [patched, follower], 'plan': [],
             'held_by_scan_gate': [{'name': 'db', 'decision': 'refuse', 'reasons': ['new CRITICAL: CVE-1']}]},
            {'host': 'h2', 'status': 'rolled_back', 'message': 'h2 rolled back ' + EVIL, 'containers': [broken],
             'plan': [], 'held_by_scan_gate': []},
        ]}


@pytest.mark.parametrize('hosts, serial, expected', [
    (['a', 'b', 'c', 'd', 'e'], [1, '25%', '100%'], [['a'], ['b'], ['c', 'd', 'e']]),
    (['a', 'b', 'c'], None, [['a'], ['b'], ['c']]),  # the default [1, 25%, 100%]: 25% of 3 is at least 1
    (['a', 'b', 'c', 'd', 'e'], 2, [['a', 'b'], ['c', 'd'], ['e']]),  # the last size repeats
    (['a', 'b', 'c'], '[1, "100%"]', [['a'], ['b', 'c']]),  # YAML text, as a survey passes it
    ([], [1], []),
])
def test_batches_as_ansible_cuts_them(hosts, serial, expected):
    assert batches(hosts, serial) == expected


def test_run_page_figures_are_the_summary():
    report = run_report()
    found = figures(run_html(report, {'hosts': ['h1', 'h2', 'h3', 'h4'], 'serial': [1, 1, '100%']}))
    for outcome, n in report['summary']['containers'].items():
        assert found['containers.' + outcome] == n
    for state, hosts in report['summary']['hosts'].items():
        if state != 'planned':
            assert found['hosts.' + state] == len(hosts)
    assert found['hosts_total'] == 4 and found['held_by_scan_gate'] == 1 and found['max_downtime_ms'] == 9000


def test_run_page_batches_never_attempted_and_holds():
    page = run_html(run_report(), {'hosts': ['h1', 'h2', 'h3', 'h4'], 'serial': [1, 1, '100%'],
                                   'targets': [{'name': 'web', 'image': 'app:v2'}]})
    assert re.findall(r'data-batch="(\d)"', page) == ['1', '2', '3']
    assert page.index('data-host="h1"') < page.index('data-host="h2"') < page.index('data-host="h3"')
    assert 'id="never-attempted"' in page and '2 never attempted: h3, h4' in page
    assert 'refused (scan gate)' in page and 'new CRITICAL: CVE-1' in page
    assert 'follows web (link)' in page and 'unhealthy after 30 s' in page
    assert [r['outcome'] for r in run_rows(run_report())] == ['patched', 'recreated', 'refuse', 'rolled_back']
    assert 'aria-label="9000 ms"' in page and 'width="120"' in page  # the longest bar is full length


def test_run_page_batches_from_each_slice_as_recorded():
    # Two slices of one run (an AWX sliced job), serial 1: each cut its own hosts; the second slice
    # stopped after h3 failed (failure budget), h4 never reached. Recomputing over every host would
    # give other batches.
    plays = [{'hosts_all': ['h3', 'h4'], 'hosts_left': ['h4'], 'batches': [['h3']]},
             {'hosts_all': ['h1', 'h2'], 'hosts_left': ['h1', 'h2'], 'batches': [['h1'], ['h2']]}]
    cut = run_batches(plays, [2], ['h1', 'h2', 'h3', 'h4'])
    assert cut == [(1, 'Slice 1 of 2, batch 1', ['h1']), (2, 'Slice 1 of 2, batch 2', ['h2']),
                   (3, 'Slice 2 of 2, batch 1', ['h3']), (0, 'Not reached (slice 2 of 2)', ['h4'])]
    page = run_html(run_report(), {'hosts': ['h3', 'h4'], 'serial': [2], 'plays': plays})
    assert re.findall(r'data-batch="(\d)"', page) == ['1', '2', '3', '0']
    assert 'Slice 2 of 2, batch 1 (1 host)' in page
    # A slice that recorded no batches (a report from before they were recorded): cut by serial.
    assert run_batches([{'hosts_all': ['a', 'b', 'c']}], [2], []) == [(1, 'Batch 1', ['a', 'b']), (2, 'Batch 2', ['c'])]
    assert run_batches([], [1], ['a', 'b']) == [(1, 'Batch 1', ['a']), (2, 'Batch 2', ['b'])]


def test_check_mode_shows_the_plan():
    report = {'summary': {'run': 'r', 'check_mode': True, 'hosts_total': 1, 'hosts': {'planned': ['h1']},
                          'containers': {}},
              'hosts': [{'host': 'h1', 'status': 'planned', 'containers': [],
                         'plan': [{'container': 'web', 'action': 'recreate', 'old_image': 'a:1', 'new_image': 'a:2'}]}]}
    page = run_html(report)
    assert 'check mode: plan only' in page and 'recreate' in page and figures(page)['hosts.planned'] == 1


def fleet_report():
    c1 = {'name': 'web-1', 'state': 'running', 'health': 'healthy', 'image': 'reg/app:v1', 'update': 'available',
          'image_os': {'pretty_name': 'Debian GNU/Linux 12 (bookworm)'}, 'labels': {'team': EVIL},
          'compose': {'project': 'shop', 'service': 'web', 'working_dir': '/srv/shop'}, 'depends_on': []}
    c2 = dict(c1, name=EVIL, health='unhealthy', update='current', labels={})
    c3 = {'name': 'db', 'state': 'exited', 'health': None, 'image': 'reg/db:15', 'update': 'unknown',
          'update_reason': 'pinned by digest', 'compose': None, 'labels': {}, 'depends_on': ['web-1']}
    return {'generated_at': '2026-12-02T12:00:00Z', 'options': {'check_updates': True},
            'totals': {'hosts': 3, 'hosts_ok': 2, 'hosts_failed': 0, 'hosts_unreachable': 1, 'containers': 3,
                       'running': 2, 'stopped': 1, 'unhealthy': 1, 'updates_available': 1, 'updates_current': 1,
                       'updates_unknown': 1},
            'hosts': [
                {'host': 'd1', 'status': 'ok', 'message': '', 'engine': {'version': '20.10', 'free_bytes': 2 ** 31},
                 'summary': {'containers': 2, 'running': 2, 'unhealthy': 1, 'updates_available': 1,
                             'updates_unknown': 0}, 'containers': [c1, c2]},
                {'host': 'd2', 'status': 'ok', 'message': '', 'engine': {}, 'summary': {'containers': 1},
                 'containers': [c3]},
                {'host': 'd3', 'status': 'unreachable', 'message': 'ssh: ' + EVIL, 'engine': {}, 'summary': {},
                 'containers': []}],
            'vulnerabilities': {'web-1': {'CRITICAL': 2, 'HIGH': 5, 'MEDIUM': 1, 'LOW': 0, 'UNKNOWN': 0},
                                'db': {'CRITICAL': 1, 'HIGH': 0}}}


def test_fleet_page_pending_updates_per_image_where_it_runs_and_sources_not_read():
    update = {'name': 'zlib1g', 'installed': '1', 'candidate': '1:1.2.13.dfsg-1+deb12u1', 'security': True}
    app = {'id': 'sha256:a', 'tags': ['reg/app:v1'], 'containers': ['web-1', EVIL], 'pending_status': 'ok',
           'pending': [update, dict(update, name='tzdata', security=False)], 'pending_count': 2,
           'pending_security': 1, 'pending_summary': '2 pending (1 security)'}
    db = {'id': 'sha256:d', 'tags': ['reg/db:15'], 'containers': ['db'], 'pending_status': 'unknown',
          'pending_reason': 'no package database read: ' + EVIL, 'pending': [], 'pending_count': None}
    report = fleet_report()
    report['hosts'][0]['images'] = [app]
    report['hosts'][1]['images'] = [db, dict(app, containers=['web-2'])]
    report['package_sources'] = [{'url': 'http://m/', 'suite': './', 'status': 'ok'},
                                 {'url': 'http://gone/', 'suite': 'bookworm-security', 'status': 'failed',
                                  'error': 'cannot read ' + EVIL}]
    assert [(i['id'], i['hosts'], i['containers']) for i in fleet_pending(report)] == [
        ('sha256:a', ['d1', 'd2'], ['web-1', EVIL, 'web-2']), ('sha256:d', ['d2'], ['db'])]
    page = fleet_html(report)
    assert '2 pending (1 security)' in page and 'zlib1g 1:1.2.13.dfsg-1+deb12u1 (security), tzdata' in page
    assert 'package source http://gone/ bookworm-security not read' in page
    assert EVIL not in page
    assert '<h2>Pending updates</h2>' not in fleet_html(fleet_report())  # no package sources given


def test_fleet_page_figures_are_the_totals():
    report = fleet_report()
    found = figures(fleet_html(report))
    for key, value in report['totals'].items():
        if key != 'updates_current':
            assert found[key] == value
    assert found['critical'] == 3 and found['high'] == 5


def test_fleet_images_and_projects():
    images = fleet_images(fleet_report())
    assert [(i['image'], i['containers'], i['hosts'], i['update']) for i in images] == [
        ('reg/app:v1', 2, ['d1'], ['available', 'current']), ('reg/db:15', 1, ['d2'], ['unknown'])]
    assert images[0]['severities']['CRITICAL'] == 2 and images[0]['os'].startswith('Debian')
    page = fleet_html(fleet_report())
    assert '<td>shop</td><td>d1</td><td data-value="2" class="num">2</td><td>web</td>' in page
    assert 'pinned by digest' in page and '1 host not inventoried: d3' in page


def test_fleet_images_link_each_image_id_to_its_sbom_or_say_why_no_packages():
    report = fleet_report()
    for c, iid in zip(report['hosts'][0]['containers'] + report['hosts'][1]['containers'],
                      ('sha256:' + 'a' * 64, 'sha256:' + 'a' * 64, 'sha256:' + 'd' * 64)):
        c['image_id'] = iid
    app = {'id': 'sha256:' + 'a' * 64, 'package_db': 'dpkg', 'packages': [{'name': 'zlib1g'}] * 97}
    report['hosts'][0]['images'] = [app]
    report['hosts'][1]['images'] = [{'id': 'sha256:' + 'd' * 64, 'package_db': None, 'packages': [],
                                     'packages_note': 'no package database ' + EVIL}]
    report['sboms'] = [{'image_id': app['id'], 'file': 'sbom/%s.cdx.json' % ('a' * 12)}]
    images = fleet_images(report)
    assert [i['packages'] for i in images] == [
        [{'id': app['id'], 'sbom': 'sbom/aaaaaaaaaaaa.cdx.json', 'count': 97, 'note': ''}],
        [{'id': 'sha256:' + 'd' * 64, 'sbom': None, 'count': None, 'note': 'no package database ' + EVIL}]]
    page = fleet_html(report)
    assert '<a href="sbom/aaaaaaaaaaaa.cdx.json" title="CycloneDX SBOM of sha256:%s">97 (SBOM)</a>' % ('a' * 64) in page
    assert 'no package database &lt;' in page and EVIL not in page
    assert [i['packages'] for i in fleet_images(fleet_report())] == [[], []]  # packages not read


def build_report():
    built = {'image': 'reg/app:v1', 'status': 'changed', 'patched': True, 'msg': 'built reg/app:v1-patched',
             'reference': 'reg/app:v1-patched', 'repo_digest': 'reg/app@sha256:' + 'c' * 64, 'image_id': 'sha256:' + 'd' * 64,
             'packages': [{'name': 'zlib1g', 'before': '1', 'after': '2'}], 'open': 1, 'layer_size': 2 * 1048576}
    same = dict(built, image='reg/db:1', status='ok', patched=False, packages=[], layer_size=None, msg='')
    bad = {'image': EVIL, 'status': 'failed', 'patched': False, 'msg': 'image: ' + EVIL, 'reference': EVIL,
           'packages': [], 'open': 0, 'layer_size': None}
    return {'run': 'b1', 'check_mode': False,
            'totals': {'hosts': 2, 'hosts_unreachable': 1, 'images': 3, 'built': 1, 'would_build': 0, 'unchanged': 1,
                       'failed': 1, 'packages': 1, 'layer_bytes': 2 * 1048576},
            'hosts': [{'build_host': 'b1', 'status': 'failed', 'images': [built, same, bad], 'failed': [EVIL]},
                      {'build_host': 'b2', 'status': 'unreachable', 'images': [], 'failed': []}]}


def stage_report():
    return {'run': 's1', 'state': 'present', 'check_mode': False,
            'totals': {'hosts': 2, 'hosts_changed': 1, 'hosts_ok': 0, 'hosts_failed': 1, 'hosts_unreachable': 0,
                       'images': 2, 'actions': {'pulled': 1, 'present': 1}, 'fetch_bytes': 4096, 'removed': 0},
            'hosts': [{'host': 'd1', 'status': 'changed', 'msg': '', 'not_copied': [], 'removed': [], 'kept': [],
                       'forgotten': [], 'images': [
                           {'reference': 'reg/app:v2', 'action': 'pulled', 'digest': 'sha256:' + 'e' * 64,
                            'image_id': 'sha256:' + 'f' * 64, 'source': 'registry', 'estimated_bytes': 4096, 'size': 9999},
                           {'reference': 'reg/db:2', 'action': 'present', 'source': 'registry', 'estimated_bytes': None}]},
                      {'host': 'd2', 'status': 'failed', 'msg': 'images[].ref: ' + EVIL, 'images': []}]}


def test_build_page_figures_and_outcomes():
    report = build_report()
    page = build_html(report)
    found = figures(page)
    for key in ('hosts', 'images', 'built', 'unchanged', 'failed', 'packages', 'layer_bytes'):
        assert found[key] == report['totals'][key], key
    assert 'would_build' not in found  # only in check mode
    assert [build_outcome(i) for i in report['hosts'][0]['images']] == ['built', 'unchanged', 'failed']
    assert build_outcome({'status': 'changed', 'patched': False}) == 'would_build'
    assert '2.0 MiB' in page and 'zlib1g 2' in page and 'b2 unreachable' in page
    assert 'cccccccccccc' in page  # the pushed digest, short


def test_build_page_images_left_out_say_why():
    report = build_report()
    left = [{'image': 'reg/db:1', 'status': 'nothing_pending', 'patched': False, 'msg': 'nothing pending', 'packages': []},
            {'image': 'reg/tool:1', 'status': 'skipped', 'patched': False, 'packages': [],
             'msg': 'pending updates unknown: no package database read'}]
    report['hosts'][0]['images'] += left
    report['totals'].update(images=5, nothing_pending=1, skipped=1)
    page = build_html(report)
    assert (figures(page)['nothing_pending'], figures(page)['skipped']) == (1, 1)
    assert [build_outcome(i) for i in left] == ['nothing_pending', 'skipped']
    assert 'nothing pending' in page and 'pending updates unknown: no package database read' in page


def test_stage_page_figures_and_actions():
    report = stage_report()
    page = stage_html(report)
    found = figures(page)
    for key in ('hosts', 'hosts_changed', 'hosts_ok', 'hosts_failed', 'hosts_unreachable', 'images', 'fetch_bytes'):
        assert found[key] == report['totals'][key], key
    assert found['actions.pulled'] == 1 and found['actions.present'] == 1 and 'actions.would_pull' not in found
    assert 'b-pulled' in page and 'd2 failed' in page and '9999 bytes' in page
    assert 'would pull' in stage_html(dict(report, check_mode=True))


@pytest.mark.parametrize('page', [fleet_html(fleet_report()), run_html(run_report()), build_html(build_report()),
                                  stage_html(stage_report())])
def test_everything_from_the_hosts_is_escaped(page):
    assert EVIL not in page
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page
    assert page.count('<script>') == 1  # the page's own script, after the content
    assert 'http://' not in page and 'https://' not in page and 'src=' not in page  # no external asset


def test_missing_parts_do_not_break_a_page():
    assert 'Container inventory' in fleet_html({})
    assert 'Patch run' in run_html({})
    assert 'Build' in build_html({}) and 'Stage (present)' in stage_html({'hosts': [{'images': [{}]}]})


def test_run_page_shows_the_engines_word():
    """The read-back's outcomes on the run page: what the engine shows, both words of a diverged
    container, the way out beside an unresolved one, the hosts whose engine could not be read."""
    shown = {'state': 'running', 'id': 'c' * 64, 'image_id': 'sha256:' + 'd' * 64, 'health': 'unhealthy'}
    kept = {'container': 'web', 'outcome': 'kept_new', 'engine': shown, 'failure': 'unhealthy'}
    diverged = {'container': 'api', 'outcome': 'diverged', 'module_outcome': 'patched', 'engine': {'state': 'missing'},
                'diverged': 'api: the modules said patched; the engine shows no container is named api'}
    stuck = {'container': 'db', 'outcome': 'unresolved', 'engine': {'state': 'exited'},
             'way_out': 'close the entry with patchops.containers.container_rollback abandon: [db]'}
    lost = {'container': 'job', 'outcome': 'unknown', 'module_outcome': 'patched', 'engine': {'state': 'unknown'}}
    report = {'summary': {'hosts_total': 2, 'hosts': {'failed': ['h1', 'h2']}, 'engine_unknown': ['h2'],
                          'containers': {'kept_new': 1, 'diverged': 1, 'unresolved': 1, 'unknown': 1}},
              'hosts': [{'host': 'h1', 'status': 'failed', 'containers': [kept, diverged, stuck]},
                        {'host': 'h2', 'status': 'failed', 'containers': [lost]}]}
    page = run_html(report)
    found = figures(page)
    assert [found['containers.' + o] for o in ('kept_new', 'diverged', 'unresolved', 'unknown', 'patched')] == [
        1, 1, 1, 1, 0]
    assert '>kept new<' in page and '>unhealthy<' in page and 'c' * 12 + '</code>' in page
    assert 'api: the modules said patched; the engine shows no container is named api' in page
    assert 'way out: close the entry with patchops.containers.container_rollback abandon: [db]' in page
    assert 'the modules said patched' in page and '>missing<' in page and '>exited<' in page
    assert re.search(r'id="engine-unknown">[^<]*h2\.</p>', page)


def test_run_page_packages_section_only_with_the_proof_every_value_escaped():
    report = run_report()
    assert 'id="packages"' not in run_html(report)
    report['hosts'][0]['containers'][0]['packages'] = {
        'before': {'status': 'ok', 'count': 3, 'security': 2, 'summary': '3 pending (2 security)', 'reason': None},
        'after': {'status': 'ok', 'count': 0, 'security': 0, 'summary': '0 pending (0 security)', 'reason': None},
        'changed': [{'name': EVIL, 'arch': 'amd64', 'before': '1', 'after': '2'}],
        'changed_summary': '%s 1 → 2' % EVIL}
    page = run_html(report)
    section = page[page.index('<h2>Packages</h2>'):page.index('<h2>Parameters</h2>')]
    assert '3 pending (2 security)' in section and '0 pending (0 security)' in section
    assert EVIL not in page and '&lt;script&gt;' in section
    assert section.count('<tr') == 2  # the head and the one patched container
