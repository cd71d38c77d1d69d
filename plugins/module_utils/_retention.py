# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retention (``image_stage state=pruned``): remove superseded images, keeping the newest N
previous ones and every image a container uses, the swap journal names or a staged tag carries.

Private: not a public API of the collection.
"""

from __future__ import annotations

import re

from ansible_collections.patchops.containers.plugins.module_utils._engine import NotFound
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError, error_text
from ansible_collections.patchops.containers.plugins.module_utils._imageref import ImageRefError, parse, parse_as
from ansible_collections.patchops.containers.plugins.module_utils._journal import (
    DEFAULT_STATE_DIR,
    Journal,
    JournalError,
    Lock,
)
from ansible_collections.patchops.containers.plugins.module_utils._manifest import StageError, read_manifest


def _refs_of(image):
    return [r for r in (image.get('RepoTags') or []) + (image.get('RepoDigests') or [])
            if r and not r.startswith('<none>')]


def ref_repository(text):
    """Repository name (engine style) of a RepoTags / RepoDigests entry, or None."""
    try:
        return parse(text).name
    except ImageRefError:
        return None


def _strings(value):
    """Every string in a loaded JSON document, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def names_image(text, hexid):
    """Does ``text`` name the image of 64-digit ``hexid``: in full (``sha256:`` or bare), or by
    its 12-digit short ID standing alone?"""
    low = text.lower()
    return hexid in low or bool(re.search(r'(?<![0-9a-f])%s(?![0-9a-f])' % re.escape(hexid[:12]), low))


def journal_mentions(journal, image_ids):
    """{image_id: [journal files]} for the image IDs that any value of a swap journal names.

    The contract with the journal writers: a journal file that names an image ID anywhere
    (``sha256:<hex>``, the bare 64-digit hex or the 12-digit short ID) keeps that image. A file
    that cannot be read raises StageError: pruning must not guess.
    """
    found = {}
    wanted = dict((i, i.split(':', 1)[-1].lower()) for i in image_ids)
    for name in journal.names():
        path = journal.path(name)
        try:
            texts = list(_strings(journal.load(name)))
        except JournalError as exc:
            raise StageError('%s; refusing to prune, an image it names may be needed for a rollback' % exc.msg)
        except OSError as exc:
            raise StageError('cannot read journal file %s (%s); refusing to prune, an image it names '
                             'may be needed for a rollback' % (path, exc.strerror or exc))
        for image_id, hexid in wanted.items():
            if any(names_image(text, hexid) for text in texts):
                found.setdefault(image_id, []).append(path)
    return found


def plan_prune(repositories, images, current, used_by, journal, protected_tags, keep):
    """Decide what retention removes. Pure.

    images: [{'Id', 'RepoTags', 'RepoDigests', 'Created'}] (Created sortable, newest largest);
    current: staged image IDs; used_by: {image_id: [container names]}; journal: {image_id: [files]};
    protected_tags: manifest keys (a local tag equal to one is never removed).

    Per repository, the images with a reference in it that are not currently staged are sorted
    newest first: the first ``keep`` are kept; of the rest, those a container uses, the journal
    names, or that carry a staged tag are kept; the others are removed (their references in this
    repository are removed; the image goes when no reference is left).
    Returns (remove, kept): lists of dicts with repository, image_id, references, reasons.
    """
    remove, kept = [], []
    for repo in sorted(set(repositories)):
        candidates = []
        for image in images:
            refs = [r for r in _refs_of(image) if ref_repository(r) == repo]
            if refs and image['Id'] not in current:
                candidates.append((image, refs))
        candidates.sort(key=lambda c: (c[0].get('Created') or '', c[0]['Id']), reverse=True)
        for position, (image, refs) in enumerate(candidates):
            reasons = []
            if position < keep:
                reasons.append('one of the newest %d previous images of %s' % (keep, repo))
            if used_by.get(image['Id']):
                reasons.append('used by container %s' % ', '.join(sorted(used_by[image['Id']])))
            if journal.get(image['Id']):
                reasons.append('needed for rollback by journal %s' % ', '.join(journal[image['Id']]))
            staged_tags = sorted(set(image.get('RepoTags') or []) & set(protected_tags))
            if staged_tags:
                reasons.append('carries the staged tag %s (moved locally since staging)' % ', '.join(staged_tags))
            all_refs = _refs_of(image)
            record = {'repository': repo, 'image_id': image['Id'], 'references': sorted(refs),
                      'created': image.get('Created')}
            if reasons:
                record['reasons'] = reasons
                kept.append(record)
            else:
                record['removes_image'] = len(all_refs) == len(refs)
                remove.append(record)
    return remove, kept


class Pruner:
    """``state: pruned``: remove superseded images, keeping N previous and anything still needed."""

    def __init__(self, engine, params, check_mode=False, warn=None):
        self.engine = engine
        self.api = engine.api
        self.params = params
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.engine_id = engine.info.get('ID')
        self.host = engine.info.get('Name') or engine.docker_host
        self.state_dir = params.get('state_dir') or DEFAULT_STATE_DIR

    def run(self):
        keep = self.params.get('keep')
        keep = 1 if keep is None else keep
        if keep < 0:
            raise StageError('keep must be 0 or more')
        with Lock.engine(self.state_dir, self.engine_id, self.params.get('lock_timeout') or 60):
            return self._run(keep)

    def _run(self, keep):
        manifest = read_manifest(self.state_dir, self.engine_id)
        entries = manifest['images']
        repositories = set()
        for item in self.params.get('images') or []:
            if not item.get('ref'):
                raise StageError('state=pruned takes images[].ref to limit the repositories pruned')
            repositories.add(parse_as(item['ref'], 'images[].ref', StageError).name)
        if not self.params.get('images'):
            repositories = set(e.get('repository') for e in entries.values() if e.get('repository'))
        current = set(e.get('image_id') for e in entries.values() if e.get('image_id'))
        summaries = self.engine.call('list images', self.api.images)
        images = []
        for summary in summaries:
            refs = _refs_of(summary)
            if not any(ref_repository(r) in repositories for r in refs):
                continue
            created = summary.get('Created')
            try:
                created = self.engine.call('inspect image', self.api.inspect_image, summary['Id']).get('Created')
            except (EngineError, NotFound):
                pass
            images.append({'Id': summary['Id'], 'RepoTags': summary.get('RepoTags') or [],
                           'RepoDigests': summary.get('RepoDigests') or [], 'Created': str(created)})
        used_by = {}
        for container in self.engine.list_containers():
            names = [n.lstrip('/') for n in container.get('Names') or []] or [container['Id'][:12]]
            used_by.setdefault(container.get('ImageID'), []).extend(names)
        journal = journal_mentions(Journal(self.state_dir, self.engine_id), [i['Id'] for i in images])
        remove, kept = plan_prune(repositories, images, current, used_by, journal, list(entries), keep)
        result = {'changed': bool(remove), 'keep': keep, 'repositories': sorted(repositories), 'kept': kept,
                  'removed': [], 'engine_id': self.engine_id}
        if self.check_mode:
            result['removed'] = remove
            return result
        done = []
        for record in remove:
            refused = None
            for name in sorted(record['references'], key=lambda r: ('@' in r, r)):
                try:
                    self.api.remove_image(name, force=False, noprune=False)
                except NotFound:
                    continue
                except Exception as exc:  # 409 conflict: a container or a child image appeared
                    refused = error_text(exc)
                    break
            if refused:
                record['reasons'] = ['the engine refused: %s' % refused]
                kept.append(record)
            else:
                done.append(record)
        result['removed'] = done
        result['changed'] = bool(done)
        return result
