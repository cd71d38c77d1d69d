# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pending updates against Debian package sources: indexes, dpkg version order, security marking."""

from __future__ import annotations

import gzip
import lzma

import pytest

from ansible_collections.patchops.containers.plugins.plugin_utils._pending import (
    decompress,
    image_pending,
    index_urls,
    normalise_sources,
    parse_packages,
    proof,
    report_pending,
    with_pending,
)

PACKAGES = """Package: zlib1g
Source: zlib
Version: 1:1.2.13.dfsg-1+deb12u1
Architecture: amd64
Description: compression library
 a continuation line: Version: 9
 .

Package: zlib1g
Version: 1:1.2.13.dfsg-1+deb12u1
Architecture: arm64

Package: tzdata
Version: 2026f-0+deb12u1
Architecture: all

Package: other
Version: 1.0
Architecture: amd64
"""


def source(suite, security=None, **more):
    return dict({'url': 'http://m/', 'suite': suite, 'security': security}, **more)


def index(suite, packages, security=False, status='ok'):
    return {'url': 'http://m/', 'suite': suite, 'components': [], 'security': security,
            'indexes': ['http://m/%sPackages' % suite], 'status': status, 'error': None, 'packages': packages}


def pkg(name, version, arch='amd64'):
    return {'name': name, 'version': version, 'source': name, 'source_version': version, 'arch': arch}


def image(packages, image_id='sha256:a', db='dpkg'):
    return {'id': image_id, 'tags': ['r/x:1'], 'containers': ['web'], 'os': {'id': 'debian'},
            'package_db': db, 'packages': packages}


def test_parse_packages_reads_name_version_arch_of_each_stanza_and_skips_continuations():
    assert parse_packages(PACKAGES) == {
        'zlib1g': [['1:1.2.13.dfsg-1+deb12u1', 'amd64'], ['1:1.2.13.dfsg-1+deb12u1', 'arm64']],
        'tzdata': [['2026f-0+deb12u1', 'all']],
        'other': [['1.0', 'amd64']],
    }
    assert parse_packages(PACKAGES, {'tzdata'}) == {'tzdata': [['2026f-0+deb12u1', 'all']]}


@pytest.mark.parametrize('suffix,pack', [('.xz', lzma.compress), ('.gz', gzip.compress), ('', lambda b: b)])
def test_decompress_by_suffix(suffix, pack):
    assert decompress(pack(PACKAGES.encode()), 'http://m/Packages' + suffix) == PACKAGES


def test_sources_flat_and_regular_with_their_index_addresses():
    flat, sec, upd = normalise_sources([
        {'url': 'http://10.213.7.1:8780', 'suite': './'},
        {'url': 'http://deb/debian-security/', 'suite': 'bookworm-security'},
        {'url': 'http://deb/debian', 'suite': 'bookworm-updates', 'components': ['main', 'contrib'],
         'architectures': ['arm64', 'amd64']},
    ], ['amd64'])
    assert (flat['components'], flat['security'], sec['security'], upd['security']) == ([], False, True, False)
    assert index_urls(flat) == ['http://10.213.7.1:8780/Packages']
    assert index_urls(dict(flat, suite='security/')) == ['http://10.213.7.1:8780/security/Packages']
    assert index_urls(sec) == ['http://deb/debian-security/dists/bookworm-security/main/binary-amd64/Packages']
    assert index_urls(upd) == ['http://deb/debian/dists/bookworm-updates/%s/binary-%s/Packages' % (c, a)
                               for c in ('main', 'contrib') for a in ('amd64', 'arm64')]
    assert normalise_sources([source('security/', security=True)])[0]['security'] is True
    assert normalise_sources([source('bookworm-security', security=False)])[0]['security'] is False


@pytest.mark.parametrize('bad', [{'url': 'http://m/'}, {'suite': './'}, 'http://m/ ./',
                                 {'url': 'http://m/', 'suite': './', 'components': ['main']}])
def test_a_source_without_url_or_suite_or_a_flat_one_with_components_is_refused(bad):
    with pytest.raises(ValueError, match='package source'):
        normalise_sources([bad])


def test_dpkg_order_epochs_tilde_and_revisions():
    img = image([pkg('a', '1:1.0-1'), pkg('b', '2.0~rc1-1'), pkg('c', '1.0-1'), pkg('d', '1.0-1+deb12u2')])
    packages = {'a': [['9.0-1', 'amd64']],            # no epoch: older than 1:1.0
                'b': [['2.0-1', 'amd64']],            # ~rc sorts before the release
                'c': [['1.0-1~bpo1', 'amd64']],       # ~ before the revision's end: older
                'd': [['1.0-1+deb12u10', 'amd64']]}   # u10 after u2 (not a string comparison)
    assert [(p['name'], p['candidate']) for p in image_pending(img, [index('./', packages)])] == [
        ('b', '2.0-1'), ('d', '1.0-1+deb12u10')]


def test_the_candidate_is_the_highest_across_sources_security_when_a_security_source_has_it():
    img = image([pkg('zlib1g', '1:1.2.13.dfsg-1'), pkg('tzdata', '2026b-0+deb12u1', 'all'),
                 pkg('perl', '5.36.0-7+deb12u1'), pkg('same', '1.0')])
    sources = [
        index('updates/', {'zlib1g': [['1:1.2.13.dfsg-1+deb12u1', 'amd64']], 'tzdata': [['2026f-0+deb12u1', 'all']],
                           'perl': [['5.36.0-7+deb12u9', 'amd64']]}),
        index('security/', {'zlib1g': [['1:1.2.13.dfsg-1+deb12u1', 'amd64']], 'perl': [['5.36.0-7+deb12u4', 'amd64']],
                            'same': [['1.0', 'amd64']]}, security=True),
    ]
    assert image_pending(img, sources) == [
        {'name': 'perl', 'arch': 'amd64', 'installed': '5.36.0-7+deb12u1', 'candidate': '5.36.0-7+deb12u9',
         'suite': 'updates/', 'url': 'http://m/', 'security': False},
        {'name': 'tzdata', 'arch': 'all', 'installed': '2026b-0+deb12u1', 'candidate': '2026f-0+deb12u1',
         'suite': 'updates/', 'url': 'http://m/', 'security': False},
        {'name': 'zlib1g', 'arch': 'amd64', 'installed': '1:1.2.13.dfsg-1', 'candidate': '1:1.2.13.dfsg-1+deb12u1',
         'suite': 'security/', 'url': 'http://m/', 'security': True},
    ]


def test_architecture_aware_the_packages_own_arch_or_all():
    img = image([pkg('libc6', '2.36-9', 'amd64'), pkg('data', '1.0', 'all'), pkg('gone', '1.0', 'amd64')])
    packages = {'libc6': [['2.36-9+deb12u9', 'arm64'], ['2.36-9+deb12u1', 'amd64']],
                'data': [['2.0', 'amd64'], ['3.0', 'arm64']],     # all -> the native arch is a candidate
                'gone': [['2.0', 'i386']]}
    assert [(p['name'], p['candidate']) for p in image_pending(img, [index('./', packages)])] == [
        ('data', '2.0'), ('libc6', '2.36-9+deb12u1')]


def test_counts_per_image_and_unknown_never_zero():
    packages = {'zlib1g': [['2', 'amd64']], 'perl': [['2', 'amd64']]}
    ok, patched, busybox = with_pending([
        image([pkg('zlib1g', '1'), pkg('perl', '1')], 'sha256:a'),
        image([pkg('zlib1g', '2'), pkg('perl', '2')], 'sha256:b'),
        image([], 'sha256:c', db=None)], [index('security/', packages, security=True)])
    assert (ok['pending_status'], ok['pending_count'], ok['pending_security'], ok['pending_summary']) == (
        'ok', 2, 2, '2 pending (2 security)')
    assert (patched['pending_status'], patched['pending_summary'], patched['pending']) == ('ok', '0 pending (0 security)', [])
    assert (busybox['pending_status'], busybox['pending_count']) == ('unknown', None)
    assert busybox['pending_reason'] == 'no package database read: not a Debian or Ubuntu image'
    noted = with_pending([dict(image([], db=None), packages_note='Alpine (apk): not read')], [])[0]
    assert noted['pending_reason'] == 'no package database read: Alpine (apk): not read'
    failed = with_pending([image([pkg('zlib1g', '1')])], [index('./', packages), index('security/', {}, status='failed')])
    assert (failed[0]['pending_status'], failed[0]['pending_count']) == ('unknown', None)
    assert failed[0]['pending_reason'] == 'package sources not read: http://m/security/'


def test_report_totals_count_each_image_id_once_and_list_the_sources():
    shared = image([pkg('zlib1g', '1'), pkg('perl', '1')], 'sha256:a')
    report = {'totals': {'hosts': 2}, 'hosts': [
        {'host': 'lab1', 'images': [shared, image([pkg('zlib1g', '2')], 'sha256:b')]},
        {'host': 'lab2', 'images': [shared, image([], 'sha256:c', db=None)]},
        {'host': 'lab3', 'status': 'unreachable'}]}
    packages = {'zlib1g': [['2', 'amd64']], 'perl': [['2', 'amd64']]}
    out = report_pending(report, [index('./', packages), index('security/', {'zlib1g': [['2', 'amd64']]}, security=True)])
    assert out['totals'] == {'hosts': 2, 'images_pending': 1, 'images_pending_unknown': 1, 'pending': 2,
                             'pending_security': 1}
    assert [s['suite'] for s in out['package_sources']] == ['./', 'security/']
    assert out['package_sources'][0]['packages'] == 2 and 'packages' not in out['hosts'][2]
    assert out['hosts'][2]['images'] == []
    assert out['hosts'][0]['images'][0]['pending_summary'] == '2 pending (1 security)'


def test_proof_pending_before_from_the_report_after_from_the_image_now_and_what_changed():
    sources = [index('security/', {'zlib1g': [['1:1.2.13.dfsg-1+deb12u1', 'amd64']],
                                   'perl': [['5.36.0-7+deb12u4', 'amd64']]}, security=True)]
    old = with_pending([image([pkg('zlib1g', '1:1.2.13.dfsg-1'), pkg('perl', '5.36.0-7'), pkg('gone', '1')])],
                       sources)[0]
    new = image([pkg('zlib1g', '1:1.2.13.dfsg-1+deb12u1'), pkg('perl', '5.36.0-7+deb12u4'), pkg('added', '2')],
                'sha256:b')
    out = proof(old, new, sources)
    assert out['before'] == {'status': 'ok', 'count': 2, 'security': 2, 'summary': '2 pending (2 security)',
                             'reason': None}
    assert out['after'] == {'status': 'ok', 'count': 0, 'security': 0, 'summary': '0 pending (0 security)',
                            'reason': None}
    assert out['changed'] == [
        {'name': 'added', 'arch': 'amd64', 'before': None, 'after': '2'},
        {'name': 'gone', 'arch': 'amd64', 'before': '1', 'after': None},
        {'name': 'perl', 'arch': 'amd64', 'before': '5.36.0-7', 'after': '5.36.0-7+deb12u4'},
        {'name': 'zlib1g', 'arch': 'amd64', 'before': '1:1.2.13.dfsg-1', 'after': '1:1.2.13.dfsg-1+deb12u1'}]
    assert out['changed_summary'] == ('added (none) → 2, gone 1 → (removed), perl 5.36.0-7 → 5.36.0-7+deb12u4, '
                                      'zlib1g 1:1.2.13.dfsg-1 → 1:1.2.13.dfsg-1+deb12u1')
    # An update still pending after the patch is counted, not hidden.
    half = image([pkg('zlib1g', '1:1.2.13.dfsg-1+deb12u1'), pkg('perl', '5.36.0-7')], 'sha256:c')
    assert proof(old, half, sources)['after']['count'] == 1


def test_proof_unknown_sides_say_why_and_list_no_change():
    sources = [index('./', {'a': [['2', 'amd64']]})]
    new = image([pkg('a', '2')], 'sha256:b')
    out = proof(None, new, sources)
    assert out['before']['status'] == 'unknown' and 'not in the inventory report' in out['before']['reason']
    assert out['after']['count'] == 0 and out['changed'] is None and out['changed_summary'] == 'unknown'
    unread = with_pending([image([], db=None)], sources)[0]
    assert proof(unread, new, sources)['before']['reason'].startswith('no package database read')
    assert proof(with_pending([image([pkg('a', '1')])], sources)[0], None, sources)['after'] == {
        'status': 'unknown', 'count': None, 'security': None, 'summary': 'pending unknown',
        'reason': 'the image was not read back'}
    # A source that could not be read now: after is unknown, never 0.
    failed = [dict(sources[0], status='failed', error='timed out')]
    assert proof(None, new, failed)['after']['status'] == 'unknown'
