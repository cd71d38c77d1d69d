# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retention decisions and the journal contract (an image a journal names is kept)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._journal import Journal
from ansible_collections.patchops.containers.plugins.module_utils._manifest import StageError
from ansible_collections.patchops.containers.plugins.module_utils._retention import journal_mentions, plan_prune

REG = '10.213.7.1:5000'
# -- retention -------------------------------------------------------------------------------

R = REG + '/patchops/app'


def img(n, created, tags=(), digests=None):
    image_id = 'sha256:%064x' % n
    return {'Id': image_id, 'Created': created, 'RepoTags': list(tags),
            'RepoDigests': list(digests if digests is not None else ['%s@sha256:%064x' % (R, n + 1000)])}


def ids(records):
    return [r['image_id'] for r in records]


def test_prune_keeps_newest_previous_and_removes_older():
    images = [img(1, '2026-01-01'), img(2, '2026-01-02'), img(3, '2026-01-03'), img(4, '2026-01-04', [R + ':v4'])]
    current = {images[3]['Id']}
    remove, kept = plan_prune([R], images, current, {}, {}, [R + ':v4'], keep=1)
    assert ids(kept) == [images[2]['Id']]
    assert ids(remove) == [images[1]['Id'], images[0]['Id']]
    assert all(r['removes_image'] for r in remove)


def test_prune_never_removes_used_or_journaled_images():
    images = [img(1, '2026-01-01'), img(2, '2026-01-02'), img(3, '2026-01-03'), img(4, '2026-01-04')]
    used = {images[0]['Id']: ['web']}
    journal = {images[1]['Id']: ['/x/journal/web.json']}
    remove, kept = plan_prune([R], images, {images[3]['Id']}, used, journal, [], keep=0)
    assert ids(remove) == [images[2]['Id']]
    reasons = dict((r['image_id'], r['reasons']) for r in kept)
    assert reasons == {images[0]['Id']: ['used by container web'],
                       images[1]['Id']: ['needed for rollback by journal /x/journal/web.json']}


def test_prune_lists_every_reason_of_a_kept_image():
    images = [img(1, '2026-01-01'), img(2, '2026-01-02')]
    remove, kept = plan_prune([R], images, {images[1]['Id']}, {images[0]['Id']: ['db', 'web']}, {}, [], keep=1)
    assert remove == []
    assert kept[0]['reasons'] == ['one of the newest 1 previous images of %s' % R, 'used by container db, web']


def test_prune_keep_zero_removes_every_unprotected_previous_image():
    images = [img(1, '2026-01-01'), img(2, '2026-01-02')]
    remove, kept = plan_prune([R], images, {images[1]['Id']}, {}, {}, [], keep=0)
    assert ids(remove) == [images[0]['Id']] and kept == []


def test_prune_leaves_other_repositories_and_untags_shared_images():
    other = REG + '/patchops/other'
    shared = img(1, '2026-01-01', tags=[R + ':old', other + ':keepme'])
    foreign = img(2, '2026-01-01', tags=[other + ':x'], digests=[])
    dangling = img(3, '2026-01-01', tags=[], digests=[])
    remove, kept = plan_prune([R], [shared, foreign, dangling], set(), {}, {}, [], keep=0)
    assert ids(remove) == [shared['Id']]
    assert remove[0]['references'] == sorted([R + ':old', '%s@sha256:%064x' % (R, 1001)])
    assert remove[0]['removes_image'] is False


def test_prune_protects_an_image_carrying_a_staged_tag():
    moved = img(1, '2026-01-01', tags=[R + ':v2'])
    remove, kept = plan_prune([R], [moved], {'sha256:' + 'f' * 64}, {}, {}, [R + ':v2'], keep=0)
    assert remove == [] and 'staged tag' in kept[0]['reasons'][0]


def test_journal_mentions_full_bare_and_short_ids_in_any_field(tmp_path):
    journal = Journal(str(tmp_path), 'E:1')
    os.makedirs(journal.dir)
    a, b, c, d = ('sha256:' + hashlib.sha256(n).hexdigest() for n in (b'a', b'b', b'c', b'd'))
    docs = {'web': {'format': 1, 'swaps': [{'old_image_id': a}]},
            'api': {'format': 1, 'swaps': [{'history': [{'image': b.split(':')[1]}]}]},
            'db': {'format': 1, 'note': 'was %s' % c.split(':')[1][:12]}}
    for name, doc in docs.items():
        with open(journal.path(name), 'w') as fh:
            json.dump(doc, fh)
    found = journal_mentions(journal, [a, b, c, d])
    assert found == {a: [journal.path('web')], b: [journal.path('api')], c: [journal.path('db')]}
    assert journal_mentions(Journal(str(tmp_path), 'E:none'), [a]) == {}


def test_a_short_id_inside_a_longer_hex_is_not_a_mention(tmp_path):
    journal = Journal(str(tmp_path), 'E:1')
    os.makedirs(journal.dir)
    a = 'sha256:' + 'a' * 64
    with open(journal.path('web'), 'w') as fh:
        json.dump({'format': 1, 'other': 'f' + 'a' * 12 + 'f'}, fh)
    assert journal_mentions(journal, [a]) == {}


@pytest.mark.parametrize('make', ['directory', 'corrupted', 'newer format'])
def test_an_unreadable_journal_stops_the_prune(tmp_path, make):
    journal = Journal(str(tmp_path), 'E:1')
    os.makedirs(journal.dir)
    if make == 'directory':
        os.mkdir(journal.path('web'))
    else:
        with open(journal.path('web'), 'w') as fh:
            fh.write('{"swaps": [' if make == 'corrupted' else '{"format": 99}')
    with pytest.raises(StageError, match='refusing to prune'):
        journal_mentions(journal, ['sha256:' + 'a' * 64])
