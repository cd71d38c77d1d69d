# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Swap steps: plan, recreate a container on another image (config kept), verify, roll back,
and recover swaps a crash interrupted. Every step is journaled before it is taken.

Private: not a public API of the collection.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ansible_collections.patchops.containers.plugins.module_utils._clone import (
    clone, configured_macs, operator_aliases, pinned_identity, podman_addresses, shares_netns, writable_storage)
from ansible_collections.patchops.containers.plugins.module_utils._compose import (
    CONFIG_HASH, IMAGE_LABEL, ComposeFileError, config_hash, file_edit, is_compose, labels_of, same_ref,
    service_containers, service_reference, sync, tag_users, write_edit)
from ansible_collections.patchops.containers.plugins.module_utils._deps import (
    CycleError, Index, entry_name as _entry_name, followed, namespace_members, namespaces_of, needed_names, order)
from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    EngineError, PatchopsError, connect, error_text)
from ansible_collections.patchops.containers.plugins.module_utils._imageref import (
    ImageRefError, is_image_id, parse)
from ansible_collections.patchops.containers.plugins.module_utils._journal import (
    DEFAULT_STATE_DIR, Journal, JournalError, Lock)
from ansible_collections.patchops.containers.plugins.module_utils._probe import (
    VERIFY_ARGUMENT_SPEC, ProbeError, has_healthcheck, validate, verify)
from ansible_collections.patchops.containers.plugins.module_utils._registry import auth_config
from ansible_collections.patchops.containers.plugins.module_utils._manifest import StageError, read_manifest, staged_entry
from ansible_collections.patchops.containers.plugins.module_utils._stop import (
    first_process, kill_advice, predict, stop_settings, stopped_by)

STRATEGIES = ('stop-first', 'start-first', 'auto')

# Options of every module that recreates containers (doc fragment patchops.containers.swap).
SWAP_ARGUMENT_SPEC = dict(
    VERIFY_ARGUMENT_SPEC,
    strategy=dict(type='str', default='stop-first', choices=list(STRATEGIES)),
    force_start_first=dict(type='bool', default=False),
    rollback=dict(type='str', default='auto', choices=['auto', 'never']),
    keep_old=dict(type='bool', default=False),
    stop_timeout=dict(type='int', default=10),
    parallel=dict(type='int', default=3),
    drain_seconds=dict(type='float', default=0.0),
    on_failure=dict(type='str', default='stop', choices=['stop', 'continue']),
    state_dir=dict(type='path', default=DEFAULT_STATE_DIR),
    lock_timeout=dict(type='int', default=300),
)
ASIDE_SUFFIX = '-patchops-old'
NEW_SUFFIX = '-patchops-new'


# Podman's mark of a container created by a systemd unit (podman generate systemd, Quadlet).
SYSTEMD_UNIT_LABEL = 'PODMAN_SYSTEMD_UNIT'


class SwapError(PatchopsError):
    """A failure that stops the run; ``results`` says what happened to each container."""


def _name(container):
    return (container.get('Name') or '').lstrip('/')


def _digests(image):
    return list((image or {}).get('RepoDigests') or [])


class Swapper:
    def __init__(self, engine, journal, params, check_mode=False):
        self.engine = engine
        self.api = engine.api
        self.journal = journal
        self.params = params
        self.check_mode = check_mode
        self.where = '%s (%s)' % (engine.info.get('Name'), engine.docker_host)
        self.names = {}
        self._manifest = None
        self.journal_errors = []  # journal writes that failed while putting containers back
        self.unresolved = {}  # container name -> interrupted swap that recovery could not settle
        self.notes = []  # warnings for the operator (a container killed at stop, ...)
        self.listed = []
        self.inspected = {}  # container ID -> inspect (None: gone), read once per plan
        self._proc_view = None  # see _processes
        self.proc = '/proc'
        self.shared_tags = {}  # tag -> {'run': names moving it, 'others': containers not in the run using it}
        self.failed_images = {}  # image ID -> the container it failed verification on in this run

    # -- lookups ---------------------------------------------------------------
    def inspect(self, ref):
        return self.engine.find_container(ref)

    def image(self, ref):
        return self.engine.find_image(ref)

    def list_containers(self):
        """An Index of every container of the engine, from one list call (kept in ``listed``)."""
        self.listed = self.engine.call('list containers', self.api.containers, all=True)
        self.names = {e['Id']: _entry_name(e) for e in self.listed}
        return Index(self.listed)

    def inspect_all(self, ids):
        """Inspects of the containers ``ids`` (those that still exist), a few at a time: most of a
        call is waiting for the engine. Each container is inspected once per plan."""
        missing = [i for i in dict.fromkeys(ids) if i not in self.inspected]
        with ThreadPoolExecutor(max_workers=8) as pool:
            for cid, found in zip(missing, pool.map(self.inspect, missing)):
                self.inspected[cid] = found
        return [self.inspected[i] for i in ids if self.inspected.get(i)]

    def follower_candidates(self, provider, index):
        """IDs of the containers that may follow ``provider`` (an inspect): everything but what the
        list and this machine's /proc rule out. The list shows legacy links (as the provider's extra
        names, ``/follower/alias``) and Docker's ``container:`` network modes, not IPC or PID modes.
        A running follower of a running provider shares one of its namespaces, and /proc tells which
        processes do. Other followers were created after the provider: a ``container:`` mode names
        the provider's ID, which exists only since then (a mode that names it by name finds the
        recreated container by that name when it starts). When /proc cannot tell (a remote engine,
        no root), every running container is inspected too."""
        members, seen, local = self._processes()
        state = provider.get('State') or {}
        own = namespaces_of(state.get('Pid'), provider['Id'], self.proc) if local and state.get('Running') else None
        sharers = set().union(*(members.get(ns, ()) for ns in own)) if own else set()
        entry = next((e for e in self.listed if e['Id'] == provider['Id']), {})
        linked = {n.lstrip('/').split('/')[0] for n in entry.get('Names') or [] if '/' in n.lstrip('/')}
        since = entry.get('Created') or 0

        def may_follow(e):
            if e['Id'] in sharers or _entry_name(e) in linked:
                return True
            mode = (e.get('HostConfig') or {}).get('NetworkMode') or ''
            if mode.startswith('container:') and index.resolve(mode[len('container:'):]) == _name(provider):
                return True
            if (not own or e['Id'] not in seen) and (e.get('Created') or 0) >= since:
                return True  # a follower /proc cannot show: created after the provider
            return not local and e.get('State') == 'running'
        return [e['Id'] for e in self.listed if e['Id'] != provider['Id'] and may_follow(e)]

    def _processes(self):
        """(namespace -> IDs of the containers with a process in it, the IDs with a process, whether
        this engine's processes are visible here), read from /proc once per plan."""
        if self._proc_view is None:
            members = namespace_members(self.proc) or {}
            seen = set().union(*members.values())
            self._proc_view = members, seen, any(e['Id'] in seen for e in self.listed)
        return self._proc_view

    def expand_services(self, targets, problems):
        """Targets naming a compose service ({compose_project, service, image}) become one target per
        container of that service (every replica)."""
        out = []
        for target in targets:
            if target.get('name') or not (target.get('compose_project') or target.get('service')):
                out.append(target)
                continue
            project, service = target.get('compose_project'), target.get('service')
            names = service_containers(self.listed, project, service) if project and service else []
            if not (project and service):
                problems.append('a target names compose_project %r and service %r: give both (or a container name)'
                                % (project, service))
            elif not names:
                problems.append('compose service %s of project %s has no container on %s' % (service, project, self.where))
            for name in names:
                expanded = dict(target, name=name)
                expanded.pop('compose_project', None)
                expanded.pop('service', None)
                out.append(expanded)
        return out

    def resolve_target(self, text, pull, use_stage=True, image_id=None):
        """The local image for a target reference: ``image_id`` when the caller knows the exact
        image, else the staged one if any (``use_stage``), else what the reference means on the
        host; pulls only with ``pull: missing``."""
        if not isinstance(text, str) or not text:
            raise SwapError('target image %r is empty or not a string' % (text,))
        if image_id:
            image = self.image(image_id)
            return (image, None) if image else (None, 'image %s (%s) is not on %s' % (text, image_id, self.where))
        ref = None
        if not is_image_id(text):
            try:
                ref = parse(text)
            except ImageRefError as exc:
                raise SwapError(str(exc))
        staged = self.staged(ref) if use_stage else None
        if staged is not None:
            # What was staged wins over where the tag points now: the tag may have moved since.
            image = self.image(staged['image_id'])
            if image is None:
                raise SwapError('image %s was staged as %s (%s) but that image is no longer on %s: stage it again'
                                % (text, staged.get('digest'), staged['image_id'], self.where))
            return image, None
        image = self.image(text)
        if image is None and ref is not None and pull == 'missing' and not self.check_mode:
            auth = auth_config(self.params, ref.registry)
            repo = ref.name
            tag = ref.digest or ref.tag or 'latest'
            try:
                self.api.pull(repo, tag=tag, auth_config=auth)
            except Exception as exc:
                raise SwapError('image %s is not on %s and pulling it failed: %s'
                                % (text, self.where, getattr(exc, 'explanation', None) or exc))
            image = self.image(text)
        if image is None:
            hint = ('it would be pulled (pull: missing)' if pull == 'missing' and self.check_mode else
                    'stage it first with patchops.containers.image_stage, or set pull: missing')
            return None, ('image %s is not on %s: %s' % (text, self.where, hint))
        return image, None

    def staged(self, ref):
        """The stage manifest's entry for a reference (``use_stage_manifest``), or None."""
        if ref is None or not self.params.get('use_stage_manifest', True):
            return None
        if self._manifest is None:
            try:
                self._manifest = read_manifest(self.params.get('state_dir'), self.engine.info.get('ID'))
            except StageError as exc:
                raise SwapError(exc.msg)
        entry = staged_entry(self._manifest, ref)
        return entry if entry and entry.get('image_id') else None

    def image_name(self, wanted, image_id):
        """The one naming rule for the image a container is created on: as the operator (or the
        journal) named it while that name still means ``image_id``, else by the staged digest
        (the tag moved since staging), else by ID."""
        candidates = [wanted] if wanted else []
        if wanted and not is_image_id(wanted):
            staged = self.staged(parse(wanted))
            if staged and staged.get('digest'):
                candidates.append(parse(wanted).with_digest(staged['digest']))
        for candidate in candidates:
            current = self.image(candidate)
            if current and current['Id'] == image_id:
                return candidate
        return image_id

    # -- plan ------------------------------------------------------------------
    def plan(self, targets):
        """Validate every target and return the ordered plan; changes nothing.

        Containers that follow a recreated one (its network, IPC or PID namespace, or a legacy
        link to it) are added after it, in one group: the group is stopped followers first,
        recreated provider first, and verified or rolled back as a whole.
        """
        if not targets:
            raise SwapError('containers is empty: name at least one container to patch')
        index = self.list_containers()
        self.inspected = {}
        self._proc_view = None
        items = {}
        problems = []
        expanded = self.expand_services(targets, problems)
        found = {t.get('name'): index.resolve(t.get('name')) for t in expanded}
        self.inspect_all([index.by_name[n] for n in found.values() if n])
        for target in expanded:
            name = target.get('name')
            container = self.inspected.get(index.by_name[found[name]]) if found[name] else None
            if container is None:
                problems.append('container %r not found on %s' % (name, self.where))
                continue
            name = _name(container)
            if _temporary(name):
                problems.append('container %s is a patchops temporary; run again to recover it first' % name)
                continue
            reason = target.get('reason') or 'patch'
            # A rollback names the old image exactly; only a patch follows the stage manifest.
            image, why = self.resolve_target(target.get('image'), self.params.get('pull'),
                                             use_stage=reason == 'patch', image_id=target.get('image_id'))
            if image is None:
                if self.check_mode and self.params.get('pull') == 'missing':
                    image = {'Id': None, 'RepoDigests': []}
                else:
                    problems.append(why)
                    continue
            if (container.get('HostConfig') or {}).get('AutoRemove'):
                problems.append('container %s runs with --rm (AutoRemove): stopping it would delete it, so it '
                                'cannot be swapped safely; recreate it without --rm first' % name)
                continue
            unit = ((container.get('Config') or {}).get('Labels') or {}).get(SYSTEMD_UNIT_LABEL)
            if unit:
                problems.append('container %s is run by the systemd unit %s (label %s): systemd would recreate it '
                                'from its unit and undo the swap; change the image in the unit and restart it, '
                                'or patch containers not managed by systemd' % (name, unit, SYSTEMD_UNIT_LABEL))
                continue
            asked = target.get('strategy') or self.params.get('strategy') or 'stop-first'
            strategy = asked
            pinned = pinned_identity(container, self.engine.kind)
            if strategy == 'start-first' and pinned and not self.params.get('force_start_first'):
                problems.append('container %s cannot be patched start-first: it %s (both would clash); use '
                                'stop-first, or force_start_first' % (name, '; '.join(pinned)))
                continue
            if strategy == 'auto':
                strategy = 'stop-first' if pinned or writable_storage(container) else 'start-first'
            target_name = target.get('image')
            if target.get('image_id'):
                target_name = self.image_name(target_name, target['image_id'])
            items[name] = {'container': container, 'target': target_name, 'image': image,
                           'strategy': strategy, 'asked': asked, 'reason': reason,
                           'stop_timeout': target.get('stop_timeout')}
        follows = self._add_followers(items, index, problems)
        if problems:
            raise SwapError('; '.join(problems), changed=False)

        edges = {n: needed_names(i['container'], index) for n, i in items.items()}
        try:
            ordered = order(list(items), edges)
        except CycleError as exc:
            raise SwapError(str(exc), changed=False)
        groups = {}
        for name in ordered:  # a group runs where its provider comes in the order
            groups.setdefault(_root(name, follows), []).append(name)
        plan = []
        self.shared_tags = {}
        for group, members in groups.items():
            blocker = next((m for m in members if m in self.unresolved), None)
            for name in members:
                item = items[name]
                container, image = item['container'], item['image']
                old_image = self.image(container['Image']) or {}
                up_to_date = image.get('Id') == container['Image'] and name not in follows
                state = container['State']
                entry = {
                    'container': name, 'order': len(plan) + 1, 'reason': item['reason'],
                    'action': 'blocked' if blocker else ('none' if up_to_date else 'recreate'),
                    'group': group,
                    'old_id': container['Id'], 'old_image': (container.get('Config') or {}).get('Image'),
                    'old_image_id': container['Image'], 'old_digests': _digests(old_image),
                    'new_image': item['target'], 'new_image_id': image.get('Id'), 'new_digests': _digests(image),
                    'strategy': item['strategy'], 'was_running': bool(state.get('Running')),
                    'was_paused': bool(state.get('Paused')), 'depends_on': list(edges[name]),
                    # read while it runs: see clone()
                    'mac_addresses': configured_macs(container, self.engine.kind),
                }
                if self.engine.kind == 'podman':
                    entry['addresses'] = podman_addresses(container)  # read while it runs, as the MACs
                if blocker:
                    entry['blocked_by'] = self.unresolved_message(blocker)
                else:
                    entry['verifiable'] = self._verifiable(container, image)
                if entry['action'] == 'recreate':
                    entry.update(self._stop_plan(container, item.get('stop_timeout')))
                    entry.update(self._compose_plan(container, image, set(items), item))
                plan.append(entry)
        if self.shared_tags:
            raise SwapError(self._shared_tag_message(), changed=False)
        return plan

    def _verifiable(self, container, image):
        """Whether the container on ``image`` can be verified: it runs (and is not paused) and a probe
        or a HEALTHCHECK is waited on; its own HEALTHCHECK if it set one, else the image's (as clone()
        keeps it). Without either, verification only sees it stay running."""
        state = container.get('State') or {}
        if not state.get('Running') or state.get('Paused'):
            return False
        if self.params.get('probes'):
            return True
        if not self.params.get('wait_health', True):
            return False
        own = (container.get('Config') or {}).get('Healthcheck')
        if own == ((self.image(container['Image']) or {}).get('Config') or {}).get('Healthcheck'):
            own = None
        return has_healthcheck({'Config': {'Healthcheck': own or (image.get('Config') or {}).get('Healthcheck')}})

    def _shared_tag_message(self):
        parts = ['patching %s would move the tag %s to the patched image, and containers not in this run use it: '
                 '%s (compose would recreate them on the patched image at its next up)'
                 % (', '.join(sorted(found['run'])), ref, ', '.join(found['others']))
                 for ref, found in sorted(self.shared_tags.items())]
        return ('%s; nothing was changed. Either set compose_file: update (the compose file names the patched '
                'image, no tag moves), or patch those containers in the same run, or set move_shared_tag: true '
                'to move the tag all the same' % '; '.join(parts))

    def _stop_plan(self, container, stop_timeout):
        """The stop timeout a swap will use (the target's, else the container's own, else the
        module's) and what stopping it is expected to do (``stop``)."""
        default = self.params.get('stop_timeout', 10)
        timeout = stop_timeout if stop_timeout is not None else stop_settings(container, default)[1]
        swaps = self.journal.load(_name(container))['swaps']
        last = next((s for s in reversed(swaps) if s.get('stopped_by')), None)
        stop = predict(dict(container, Config=dict(container.get('Config') or {}, StopTimeout=timeout)),
                       first_process(self.engine, container), timeout, last_stop=last)
        return {'stop_timeout': timeout, 'stop': stop}

    def _compose_plan(self, container, image, planned, item):
        """For a compose container patched to another image: the service's ``image:`` reference,
        whose local tag the swap moves to the new image so that compose agrees (``compose_ref``);
        with compose_file: update, the edit of its compose file instead (``compose_file``)."""
        if not is_compose(container) or image.get('Id') == container['Image']:
            return {}
        ref = service_reference(container)
        edit = self._compose_file_plan(container, image, item)
        if edit is False:  # a rollback that cannot write the file back: no tag of the patch moves either
            return {}
        if edit:  # the file will name the image; a rollback's reference that moved since moves back too
            ref = None if (self.image(edit['to']) or {}).get('Id') == image.get('Id') else edit['to']
        warnings = sync(container, self.image)['warnings']
        others = tag_users(self.listed, ref, planned) if ref else []
        if others and item['reason'] == 'patch' and not self.params.get('move_shared_tag'):
            found = self.shared_tags.setdefault(ref, {'run': set(), 'others': others})
            found['run'].add(_name(container))
            return {}
        if others:
            warnings.append('moving the tag %s to the patched image also concerns %s (created from the same '
                            'reference): compose recreates them on the patched image at its next up unless they '
                            'are patched too' % (ref, ', '.join(others)))
        for warning in warnings:
            if warning not in self.notes:
                self.notes.append(warning)
        # What the reference meant before the run, read once here: replicas of one service swap in
        # parallel, and each must give back the tag the service had, not one a sibling just moved.
        out = {'compose_file': edit} if edit else {}
        if ref:
            out.update(compose_ref=ref, compose_ref_was=(self.image(ref) or {}).get('Id'))
        return out

    def _compose_file_plan(self, container, image, item):
        """compose_file: update, the edit of the service's ``image:`` line to the target's reference;
        a rollback undoes the edit of the patch it rolls back (``hash``: the container's hash then)."""
        name = _name(container)
        try:
            if item['reason'] == 'rollback':
                last = self.journal.last_patched(name) or {}
                done = last.get('compose_file')
                try:
                    return dict(file_edit(container, done['from']), hash=done.get('hash_was')) if done else None
                except ComposeFileError as exc:  # the container is rolled back all the same
                    self.notes.append('%s: compose_file: %s: rolled back without writing its image: line back '
                                      '(the file before the patch: %s)' % (name, exc.msg, last.get('compose_file_backup')))
                    return False
            target = item['target']
            if self.params.get('compose_file', 'keep') != 'update' or same_ref(target, service_reference(container) or ''):
                return None
            if is_image_id(target) or (self.image(target) or {}).get('Id') != image.get('Id'):
                raise ComposeFileError('update writes the target reference into the compose file, and %s %s' % (
                    target, 'is an image ID' if is_image_id(target) else 'does not name the target image on %s (%s)'
                    % (self.where, (image.get('Id') or '')[:19])))
            return dict(file_edit(container, target), hash_was=labels_of(container).get(CONFIG_HASH))
        except ComposeFileError as exc:
            raise SwapError('%s: compose_file: %s' % (name, exc.msg), changed=False)

    def _add_followers(self, items, index, problems):
        """Add the followers of every container the plan recreates, transitively; returns
        {follower: provider}. A provider with followers is swapped stop-first."""
        follows = {}
        queue = [n for n, i in items.items() if i['image'].get('Id') != i['container']['Image']]
        while queue:
            provider = queue.pop(0)
            for other in self.inspect_all(self.follower_candidates(items[provider]['container'], index)):
                name = _name(other)
                if name in follows or name == provider or _temporary(name):
                    continue
                what = next((w for p, w in followed(other, index) if p == provider), None)
                if what is None:
                    continue
                follows[name] = provider
                reason = 'follows %s (%s)' % (provider, what)
                if name not in items:
                    configured = (other.get('Config') or {}).get('Image')
                    same = configured and (self.image(configured) or {}).get('Id') == other['Image']
                    items[name] = {'container': other, 'target': configured if same else other['Image'],
                                   'image': self.image(other['Image']), 'asked': 'stop-first', 'reason': reason}
                elif items[name]['image'].get('Id') == other['Image']:
                    items[name]['reason'] = reason  # its own image is current: recreated all the same
                items[name]['strategy'] = 'stop-first'
                queue.append(name)
        for provider in sorted(set(follows.values())):
            item = items[provider]
            if item['strategy'] == 'start-first':
                if item['asked'] == 'start-first':
                    problems.append('container %s cannot be patched start-first: %s follow%s it (they are '
                                    'recreated after it, stop-first); use stop-first or auto' % (
                                        provider, ', '.join(sorted(f for f, p in follows.items() if p == provider)),
                                        's' if list(follows.values()).count(provider) == 1 else ''))
                item['strategy'] = 'stop-first'
        return follows

    def diff(self, plan):
        before, after = {}, {}
        for item in plan:
            if item['action'] != 'recreate':
                continue
            before[item['container']] = {'image': item['old_image'], 'image_id': item['old_image_id']}
            after[item['container']] = {'image': item['new_image'], 'image_id': item['new_image_id'],
                                        'strategy': item['strategy']}
            edit = item.get('compose_file')
            if edit:
                for side, value in ((before, edit['from']), (after, edit['to'])):
                    side[item['container']]['compose_file'] = '%s:%d image: %s' % (edit['path'], edit['line'], value)
        return {'before': before, 'after': after}

    # -- execution -------------------------------------------------------------
    def execute(self, plan):
        """Swap the plan's groups, up to ``parallel`` at a time, each after the groups it depends on.

        ``on_failure: stop`` starts nothing new once a group failed (the running ones finish);
        ``continue`` goes on with every group that does not depend on a failed one. A running
        container already on its target is verified as a new one would be (``current`` or failed).
        A container that cannot be verified waits for the containers of the run that verify its
        target image; if that image failed verification, it is ``held``, not put on it.
        """
        # Journal every container of the run before the first is touched: if the engine or the
        # module dies before a container's turn (an engine crash stops every container), the next
        # run still knows how it was and puts it back (running if it ran) before patching it.
        run = uuid.uuid4().hex
        groups = {}
        for item in plan:
            groups.setdefault(item['group'], []).append(item)
        swaps = {}
        for members in groups.values():
            todo = [i['container'] for i in members if i['action'] == 'recreate']
            for item in members:
                if item['action'] == 'recreate':
                    swaps[item['container']] = self._new_swap(item, run, todo)
                    self.journal.record(swaps[item['container']], 'planned')
        results = {}
        for item in plan:
            if item['action'] == 'blocked':
                results[item['container']] = dict(
                    item, changed=False, outcome='blocked', new_id=item['old_id'], rolled_back=False, downtime_ms=0,
                    verification=[])
        group_of = dict((item['container'], item['group']) for item in plan)
        needs = dict((g, {group_of[d] for i in members for d in i['depends_on'] if group_of.get(d, g) != g})
                     for g, members in groups.items())
        waits = _verification_waits(groups)
        pending = [g for g, members in groups.items() if any(i['action'] in ('recreate', 'none') for i in members)]
        ok = set(groups) - set(pending)
        failed, unreached = [], []
        go_on = self.params.get('on_failure', 'stop') == 'continue'
        parallel = max(1, int(self.params.get('parallel') or 1))
        crash = None
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            running = {}

            def free(group):  # the groups that verify its image are done
                return not waits[group] & (set(pending) | set(running.values()))
            while pending or running:
                for group in list(pending):
                    if (failed and not go_on) or crash is not None:
                        break
                    if needs[group] & (set(failed) | set(unreached)):
                        pending.remove(group)
                        unreached.append(group)  # a group it needs failed: never started
                    elif needs[group] <= ok and len(running) < parallel and (
                            free(group) or not running and not any(needs[g] <= ok and free(g) for g in pending)):
                        # (the last: nothing else could start, as when the verifying group needs this one)
                        pending.remove(group)
                        running[pool.submit(self._swap_group_of, groups[group], swaps)] = group
                if not running:
                    break
                finished, dummy = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    group = running.pop(future)
                    try:
                        for result in future.result():
                            results[result['container']] = result
                    except Exception as exc:  # unexpected: let the running swaps finish first
                        crash = crash or exc
                        failed.append(group)
                        continue
                    if any(results[i['container']]['outcome'] not in DONE + ('current',) for i in groups[group]
                           if i['action'] in ('recreate', 'none')):
                        failed.append(group)
                    else:
                        ok.add(group)
        if crash is not None:
            raise crash
        skipped = []
        for group in unreached + pending:
            todo = [i for i in groups[group] if i['action'] in ('recreate', 'none')]
            held = self._held(todo, swaps)
            if held:  # never started since a verification failed: held all the same, with the reason
                failed.append(group)
                for result in held:
                    results[result['container']] = result
                continue
            for item in todo:  # untouched: closed, so no later run "recovers" it
                skipped.append(item['container'])
                if item['action'] == 'recreate':
                    self._note(swaps[item['container']], 'not_attempted', outcome='not_attempted')
                results[item['container']] = dict(
                    item, changed=False, outcome='not_attempted', new_id=item['old_id'], rolled_back=False,
                    downtime_ms=0, verification=[])
        ordered = [results[i['container']] for i in plan if i['container'] in results]
        if failed:
            raise SwapError(self._failure_message(ordered, failed, skipped), results=ordered,
                            rolled_back=any(r['rolled_back'] for r in ordered),
                            changed=any(r.get('changed') for r in ordered), not_attempted=skipped)
        return ordered

    def _swap_group_of(self, members, swaps):
        todo = [i for i in members if i['action'] == 'recreate']
        if not todo:  # on its target already (a container on its target is alone in its group)
            return [self._check_current(i) for i in members if i['action'] == 'none']
        held = self._held(todo, swaps)
        if held:
            return held
        if len(todo) == 1:
            return [self.swap(todo[0], swaps[todo[0]['container']])]
        return self.swap_group(todo, [swaps[i['container']] for i in todo])

    def _check_current(self, item):
        """A container already on its target image: a running one is verified as a new container would
        be (its HEALTHCHECK waited on, the probes run). ``current`` if it passes, else ``failed``."""
        result = dict(item, changed=False, outcome='current', new_id=item['old_id'], rolled_back=False,
                      downtime_ms=0, verification=[])
        if not item['was_running'] or item.get('was_paused'):
            return result  # nothing runs to verify, as a swap of a stopped container verifies nothing
        ok, results = verify(self.engine, item['old_id'], self.params.get('probes') or [],
                             wait_health=self.params.get('wait_health', True),
                             timeout=self.params.get('verify_timeout', 60), settle=self.params.get('settle', 2.0))
        result['verification'] = results
        if not ok:
            self.failed_images.setdefault(item['new_image_id'], item['container'])
            result.update(outcome='failed', failure='it runs its target image %s already but fails verification: %s'
                          % (item['new_image'], results[-1]['output']))
        return result

    def _held(self, todo, swaps):
        """Results ``held`` for a group with a member that cannot be verified whose target image failed
        verification in this run (every member held, nothing touched); [] when the group may go on."""
        why = next(('held: %s failed verification on %s in this run, and %s cannot be verified (%s)' % (
            i['new_image'], self.failed_images[i['new_image_id']], i['container'],
            'it does not run' if not i['was_running'] or i.get('was_paused') else 'no HEALTHCHECK and no probe')
            for i in todo if i['action'] == 'recreate' and not i.get('verifiable')
            and i['new_image_id'] != i['old_image_id'] and i['new_image_id'] in self.failed_images), None)
        if why is None:
            return []
        out = []
        for item in todo:
            if item['container'] in swaps:
                self._note(swaps[item['container']], 'held', outcome='held', held_reason=why)
            out.append(dict(item, changed=False, outcome='held', reason=why, new_id=item['old_id'], rolled_back=False,
                            downtime_ms=0, verification=[]))
        return out

    def _failure_message(self, results, failed_groups, skipped):
        parts = []
        for group in failed_groups:
            mine = [r for r in results if r.get('group') == group]
            held = [r for r in mine if r['outcome'] == 'held']
            if held:
                parts.append('%s: %s' % (', '.join(r['container'] for r in held), held[0]['reason']))
                continue
            checked = next((r for r in mine if r.get('action') == 'none' and r['outcome'] == 'failed'), None)
            if checked:
                parts.append('%s: %s; nothing changed' % (checked['container'], checked['failure']))
                continue
            done = [r for r in mine if r.get('changed')]
            bad = [r for r in done if r['outcome'] not in DONE]
            first = next((r for r in bad if not r.get('with_group')), bad[0] if bad else None)
            if first is None:
                continue
            back = [r for r in done if r['rolled_back']]
            parts.append('patching %s to %s failed (%s); %s' % (
                first['container'], first['new_image'], first.get('failure'),
                'rolled back: %s' % '; '.join(
                    'the same container %s (%s) runs %s again' % (r['container'], r['old_id'][:12], r['old_image'])
                    for r in back)
                if back else ('NOT rolled back (rollback: never)' if self.params.get('rollback') == 'never'
                              else 'NOT rolled back: the rollback failed')))
        return '; '.join(parts) + ('; not attempted: %s' % ', '.join(skipped) if skipped else '')

    def _new_swap(self, item, run, group):
        swap = {'run': run, 'container': item['container'], 'old_id': item['old_id'],
                'old_image': item['old_image'], 'old_image_id': item['old_image_id'],
                'target_image': item['new_image'], 'target_image_id': item['new_image_id'],
                'strategy': item['strategy'], 'was_running': item['was_running'],
                'was_paused': item.get('was_paused', False), 'reason': item['reason'],
                'mac_addresses': item.get('mac_addresses'), 'addresses': item.get('addresses'),
                'stop_timeout': item.get('stop_timeout', self.params.get('stop_timeout', 10)),
                'stop_signal': (item.get('stop') or {}).get('stop_signal') or 'SIGTERM', 'breakdown_ms': {},
                'compose_ref': item.get('compose_ref'),
                'aside_name': item['container'] + ASIDE_SUFFIX, 'temp_name': item['container'] + NEW_SUFFIX,
                'verified': False, 'outcome': None}
        if 'compose_ref_was' in item:
            swap['compose_ref_was'] = item['compose_ref_was']
        if item.get('compose_file'):
            swap['compose_file'] = item['compose_file']
        if len(group) > 1:  # swapped, verified and rolled back together (see plan)
            swap.update(group=list(group), group_id='%s:%s' % (run, group[0]))
        return swap

    def swap(self, item, swap=None):
        """Recreate one container; ``swap`` is its record already journaled as planned."""
        record = self.journal.record
        if swap is None:
            swap = self._new_swap(item, uuid.uuid4().hex, [item['container']])
            record(swap, 'planned')
        name = swap['container']
        started = time.monotonic()
        stopped_at = None
        results = []
        try:
            if swap['strategy'] == 'stop-first':
                stopped_at = self._stop_old(swap)
                self._rename_aside(swap)
                new_id = self._create(swap, name)
            else:
                new_id = self._create(swap, swap['temp_name'], hold_aliases=True)
            results = self._start_and_verify(swap, new_id, name)
            record(swap, 'verified', verified=True)
            if swap['strategy'] == 'start-first':
                self._move_aliases(swap, new_id)
                stopped_at = self._stop_old(swap)
                self._rename_aside(swap)
                record(swap, 'rename_new')
                with self._timed(swap, 'rename'):
                    self.engine.call('rename %s' % name, self.api.rename, new_id, name)
            self._pause(swap, new_id)
            self._finish_old(swap)
            downtime = 0 if swap['strategy'] == 'start-first' or stopped_at is None else \
                int((time.monotonic() - stopped_at) * 1000)
            record(swap, 'done', outcome=_outcome(item['reason']), downtime_ms=downtime)
            return self._result(item, swap, results, downtime, started)
        except Exception as exc:  # whatever broke the swap, the old container comes back
            failure = error_text(exc)
            if isinstance(exc, _VerifyFailed):
                self.failed_images.setdefault(swap['target_image_id'], name)
            return self._undo([item], [swap], {name: getattr(exc, 'results', results)}, failure, started)[0]

    def swap_group(self, items, swaps):
        """Recreate a provider and its followers as one: followers stopped first, then each
        recreated in order (a provider runs before its followers are created and started), the
        old containers removed only once every member is verified."""
        record = self.journal.record
        started = time.monotonic()
        stopped_at, downtime, results = {}, {}, {}
        current = swaps[0]['container']
        try:
            for swap in reversed(swaps):
                current = swap['container']
                stopped_at[current] = self._stop_old(swap)
            for swap in swaps:
                current = swap['container']
                self._rename_aside(swap)
                new_id = self._create(swap, current)
                results[current] = self._start_and_verify(swap, new_id, current)
                if stopped_at.get(current) is not None:
                    downtime[current] = int((time.monotonic() - stopped_at[current]) * 1000)
            for swap in swaps:  # the group's commit point: all verified before any old one goes
                record(swap, 'verified', verified=True)
            for swap in swaps:
                self._pause(swap, swap['new_id'])
            for swap in reversed(swaps):
                self._finish_old(swap)
            out = []
            for item, swap in zip(items, swaps):
                record(swap, 'done', outcome=_outcome(item['reason']), downtime_ms=downtime.get(swap['container'], 0))
                out.append(self._result(item, swap, results.get(swap['container'], []),
                                        downtime.get(swap['container'], 0), started))
            return out
        except Exception as exc:
            failure = error_text(exc)
            if isinstance(exc, _VerifyFailed):
                results[current] = exc.results
                failing = next(s for s in swaps if s['container'] == current)
                self.failed_images.setdefault(failing['target_image_id'], current)
            return self._undo(items, swaps, results, '%s: %s' % (current, failure), started, failed=current)

    def _undo(self, items, swaps, results, failure, started, failed=None):
        """After a failed swap (or group): give back the old containers, unless rollback: never."""
        failed = failed or swaps[0]['container']
        out = []
        if self.params.get('rollback', 'auto') == 'never':
            for swap in swaps:
                self._note(swap, 'failed', outcome='failed', failure=failure)
        else:
            try:
                self.give_back(swaps, failure)
            except Exception as exc:  # the next run retries it; say what state things are in
                error = error_text(exc)
                for swap in swaps:
                    self._note(swap, 'rollback_failed', rollback_error=error)
                failure = '%s; and the rollback failed: %s (state: %s; the next run retries it)' % (
                    failure, error, '; '.join(self.describe(s) for s in swaps))
        for item, swap in zip(items, swaps):
            result = self._result(item, swap, results.get(swap['container'], []), None, started)
            result.update(failure=failure, outcome=swap.get('outcome') or 'failed')
            if swap['container'] != failed:
                result['with_group'] = failed
            if swap.get('outcome') == 'rolled_back':
                result.update(rolled_back=True, changed=True, new_id=swap['old_id'],
                              rollback_verification=swap.get('rollback_verification'))
            out.append(result)
        return out

    @contextlib.contextmanager
    def _timed(self, swap, phase):
        """Add the milliseconds of a swap phase to its breakdown (journaled with the next step)."""
        began = time.monotonic()
        try:
            yield
        finally:
            spent = int((time.monotonic() - began) * 1000)
            swap.setdefault('breakdown_ms', {})[phase] = swap['breakdown_ms'].get(phase, 0) + spent

    def _stop_old(self, swap):
        """Stop the old container if it runs; returns when it was stopped (None if it was not).
        Says whether it exited on its stop signal or was killed when the timeout ran out."""
        if not swap['was_running']:
            return None
        self.journal.record(swap, 'stop_old')
        stopped_at = time.monotonic()
        old = self.inspect(swap['old_id']) or {}
        timeout = swap.get('stop_timeout', self.params.get('stop_timeout', 10))
        with self._timed(swap, 'stop'):
            if (old.get('State') or {}).get('Paused'):
                # A paused container gets no signal: stopping it would wait the whole stop timeout.
                self.engine.call('unpause %s' % swap['container'], self.api.unpause, swap['old_id'])
            began = time.monotonic()
            self.engine.call('stop %s' % swap['container'], self.api.stop, swap['old_id'], timeout=timeout)
            waited = time.monotonic() - began
        swap.update(stopped_by=stopped_by(self.inspect(swap['old_id']), waited, timeout),
                    stop_waited_ms=int(waited * 1000))
        if swap['stopped_by'] == 'kill':
            config = old.get('Config') or {}
            command = ' '.join((config.get('Entrypoint') or []) + (config.get('Cmd') or []))
            self.notes.append(kill_advice(swap['container'], swap.get('stop_signal') or 'SIGTERM', waited, command))
        return stopped_at

    def _rename_aside(self, swap):
        self.journal.record(swap, 'rename_old')
        with self._timed(swap, 'rename'):
            self.engine.call('rename %s' % swap['container'], self.api.rename, swap['old_id'], swap['aside_name'])

    def _start_and_verify(self, swap, new_id, name):
        """Start the new container if the old one ran, and verify it; raises on failure."""
        if not swap['was_running']:
            return []
        self.journal.record(swap, 'start_new')
        with self._timed(swap, 'start'):
            self.engine.call('start %s' % name, self.api.start, new_id)
        self.journal.record(swap, 'verify')
        with self._timed(swap, 'ready'):
            ok, results = verify(self.engine, new_id, self.params.get('probes') or [],
                                 wait_health=self.params.get('wait_health', True),
                                 timeout=self.params.get('verify_timeout', 60),
                                 settle=self.params.get('settle', 2.0))
        if not ok:
            raise _VerifyFailed(results[-1]['output'], results)
        return results

    def _retag_service(self, swap):
        """Compose: move the local tag of the service's ``image:`` reference to the target image, so
        that compose resolves it to the image the new container runs; returns that reference."""
        ref = swap.get('compose_ref')
        if not ref:
            return None
        current = self.image(ref)
        if 'compose_ref_was' not in swap:
            swap['compose_ref_was'] = (current or {}).get('Id')
        swap['retagged'] = True  # journaled before the tag moves: a recovery knows to move it back
        self.journal.record(swap, 'retag')
        if (current or {}).get('Id') != swap['target_image_id']:
            self._tag(ref, swap['target_image_id'])
        return ref

    def _write_compose_file(self, swap):
        """compose_file: update, the service's ``image:`` line names the new reference (the file as it
        was kept beside it); returns that reference."""
        edit = swap.get('compose_file')
        if not edit:
            return None
        self.journal.record(swap, 'compose_file', compose_file_written=True)  # a recovery knows to undo it
        swap['compose_file_backup'] = write_edit(edit, edit['from'], edit['to'])
        return edit['to']

    def _restore_compose_file(self, swap):
        edit = swap.get('compose_file')
        if edit and swap.get('compose_file_written'):
            try:
                write_edit(edit, edit['to'], edit['from'])
            except ComposeFileError as exc:  # the container comes back all the same
                self.notes.append('%s: %s: its image: line was not put back (the file as it was: %s)'
                                  % (swap['container'], exc.msg, swap.get('compose_file_backup')))

    def _tag(self, ref, image_id):
        parsed = parse(ref)
        self.engine.call('tag %s' % ref, self.api.tag, image_id, parsed.name, parsed.tag or 'latest', force=True)

    def _untag_service(self, swap):
        """Compose, on the way back: the service's reference means what it meant before the swap."""
        ref, was = swap.get('compose_ref'), swap.get('compose_ref_was')
        if not ref or not swap.get('retagged'):
            return
        current = (self.image(ref) or {}).get('Id')
        if was and current != was:
            self._tag(ref, was)
        elif not was and current:
            try:  # the tag did not exist before; a container still using it keeps it
                self.engine.call('untag %s' % ref, self.api.remove_image, ref, noprune=True)
            except EngineError:
                pass

    def _move_aliases(self, swap, new_id):
        """Start-first, once the new container is verified: it takes the service's aliases, clients
        are told its address at once, and after ``drain_seconds`` (both serve) the old one leaves
        those networks, so that the engine's DNS no longer names it before it is stopped."""
        held = swap.get('held_aliases') or {}
        if not held:
            return
        self.journal.record(swap, 'take_aliases')
        with self._timed(swap, 'aliases'):
            for network, endpoint in held.items():
                self._reconnect(swap['temp_name'], new_id, network, endpoint)
            drain = self.params.get('drain_seconds') or 0
            if drain > 0:
                time.sleep(drain)
            self.journal.record(swap, 'release_old', released=sorted(held))
            for network in held:
                self.engine.call('disconnect old %s from %s' % (swap['container'], network),
                                 self.api.disconnect_container_from_network, swap['old_id'], network)

    def _reconnect(self, name, cid, network, endpoint):
        """(Re)join ``network`` with the endpoint config given, and announce the address (ARP)."""
        found = self.inspect(cid) or {}
        if network in ((found.get('NetworkSettings') or {}).get('Networks') or {}):
            self.engine.call('disconnect %s from %s' % (name, network), self.api.disconnect_container_from_network,
                             cid, network)
        ipam = endpoint.get('IPAMConfig') or {}
        self.engine.call('connect %s to %s' % (name, network), self.api.connect_container_to_network, cid, network,
                         ipv4_address=ipam.get('IPv4Address'), ipv6_address=ipam.get('IPv6Address'),
                         aliases=endpoint.get('Aliases') or None, links=endpoint.get('Links') or None,
                         driver_opt=endpoint.get('DriverOpts'))
        settings = (((self.inspect(cid) or {}).get('NetworkSettings') or {}).get('Networks') or {}).get(network) or {}
        announce(self.engine, network, settings.get('IPAddress'), settings.get('MacAddress'))

    def _pause(self, swap, cid):
        """Leave the container paused if the operator had paused the old one."""
        if swap.get('was_paused') and not ((self.inspect(cid) or {}).get('State') or {}).get('Paused'):
            self.engine.call('pause %s' % swap['container'], self.api.pause, cid)

    def _name_of(self, ref):
        """The planned name of container ``ref`` (a name, an ID or ID prefix, or a name a rename
        left behind): what a follower must name once that container is recreated."""
        if ref in self.names.values():
            return ref
        for cid, name in self.names.items():
            if cid == ref or (len(ref) >= 12 and cid.startswith(ref)):
                return name
        found = self.inspect(ref)
        if found:
            return self.names.get(found['Id'], _name(found))
        for suffix in (ASIDE_SUFFIX, NEW_SUFFIX):
            if ref.endswith(suffix):
                return ref[:-len(suffix)]
        return ref

    def _create(self, swap, name, hold_aliases=False):
        """Create the new container. ``hold_aliases`` (start-first): it joins its networks without the
        service's aliases, so that no client reaches it before it is verified (see _move_aliases)."""
        container = self.inspect(swap['old_id'])
        old_image = self.image(swap['old_image_id']) or {}
        edited = self._write_compose_file(swap)
        ref = self._retag_service(swap) or edited or self.image_name(swap['target_image'], swap['target_image_id'])
        macs, addresses = swap.get('mac_addresses'), swap.get('addresses')
        if hold_aliases and self.engine.kind == 'podman':
            macs = addresses = {}  # start-first: the old container still holds them (see pinned_identity)
        body, extra = clone(container, old_image, ref, resolve_container=self._name_of,
                            api_version=self.api.api_version, macs=macs, engine_kind=self.engine.kind,
                            addresses=addresses)
        if swap.get('compose_ref') or edited:
            labels = body.setdefault('Labels', {})
            if IMAGE_LABEL in labels:
                labels[IMAGE_LABEL] = swap['target_image_id']  # what Compose v2 compares
            if edited and swap['compose_file'].get('hash'):  # the file back as it was: the hash compose gave then
                digest, why = swap['compose_file']['hash'], None
            else:
                digest, why = config_hash(container, self.engine.docker_host, image_changed=bool(edited),
                                          command=self.params.get('compose_command'))
            if digest:
                labels[CONFIG_HASH] = digest
            elif labels.get(CONFIG_HASH):
                self.notes.append('%s: the compose config hash could not be computed (%s): compose may recreate it '
                                  'at its next up' % (swap['container'], why))
        if hold_aliases:
            endpoints = list(((body.get('NetworkingConfig') or {}).get('EndpointsConfig') or {}).items()) + extra
            swap['held_aliases'] = dict((net, dict(ep)) for net, ep in endpoints if ep.get('Aliases'))
            swap['old_endpoints'] = dict(
                (net, {'IPAMConfig': settings.get('IPAMConfig'),
                       'Aliases': operator_aliases(settings, container, self.engine.kind),
                       'Links': settings.get('Links'), 'DriverOpts': settings.get('DriverOpts')})
                for net, settings in ((container.get('NetworkSettings') or {}).get('Networks') or {}).items()
                if net in swap['held_aliases'])
            for dummy, endpoint in endpoints:
                endpoint.pop('Aliases', None)
        self.journal.record(swap, 'create_new')
        with self._timed(swap, 'create'):
            created = self.engine.call('create %s' % name, self.api.create_container_from_config, body, name=name)
        new_id = created['Id']
        self.journal.record(swap, 'created_new', new_id=new_id)
        with self._timed(swap, 'create'):
            for network, endpoint in extra:
                self.engine.call('connect %s to %s' % (name, network), self.api.connect_container_to_network,
                                 new_id, network, ipv4_address=(endpoint.get('IPAMConfig') or {}).get('IPv4Address'),
                                 ipv6_address=(endpoint.get('IPAMConfig') or {}).get('IPv6Address'),
                                 aliases=endpoint.get('Aliases'), links=endpoint.get('Links'),
                                 driver_opt=endpoint.get('DriverOpts'))
        return new_id

    def _finish_old(self, swap, record=None):
        if self.params.get('keep_old'):
            return
        (record or self.journal.record)(swap, 'remove_old')
        if self.inspect(swap['old_id']) is not None:
            # v=False: anonymous volumes now belong to the new container.
            with self._timed(swap, 'remove'):
                self.engine.call('remove old %s' % swap['container'], self.api.remove_container,
                                 swap['old_id'], v=False, force=True)

    def _result(self, item, swap, results, downtime, started):
        new = self.inspect(swap.get('new_id') or '') if swap.get('new_id') else None
        return dict(item, changed=True, outcome=swap.get('outcome'), new_id=(new or {}).get('Id'),
                    rolled_back=False, downtime_ms=downtime, verification=results,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    breakdown_ms=dict(swap.get('breakdown_ms') or {}), stopped_by=swap.get('stopped_by'),
                    compose_retagged=swap.get('compose_ref') if swap.get('retagged') else None,
                    compose_file_backup=swap.get('compose_file_backup'),
                    stop_signal=swap.get('stop_signal'), stop_waited_ms=swap.get('stop_waited_ms'))

    # -- rollback and recovery ---------------------------------------------------
    def _note(self, swap, step, **fields):
        """Journal a step of putting things back (rollback, finishing an interrupted swap).

        A journal that cannot be written (its filesystem full) must not stop the containers from
        being put back: the step is taken anyway, the error kept for the result, and the next run
        settles the record (every step of a recovery can be taken again).
        """
        try:
            self.journal.record(swap, step, **fields)
        except JournalError as exc:
            if str(exc) not in self.journal_errors:
                self.journal_errors.append(str(exc))

    def give_back(self, swaps, reason):
        """Roll back: give back the old containers (same IDs) of a swap or a group, whatever step it
        reached. New containers are removed and old names restored last member first, then the old
        ones started in order (a provider before the containers that follow it). Not a restore:
        container_rollback recreates a container on its pre-patch image (outcome ``restored``)."""
        for swap in swaps:
            self._note(swap, 'rollback', failure=reason, rolling_back=True)
        back = [swap for swap in reversed(swaps) if self._put_back(swap)]
        for swap in reversed(back):
            self._restart_old(swap)
            self._note(swap, 'rolled_back', outcome='rolled_back')

    def _put_back(self, swap):
        """The old container under its name again (not started); False if it no longer exists."""
        name = swap['container']
        old = self.inspect(swap['old_id'])
        if old is None:
            # Someone removed the old container: keep whatever holds the name rather than nothing.
            holder = self.inspect(name) or self.inspect(swap['temp_name'])
            if holder is not None:
                if _name(holder) != name:
                    self.engine.call('rename %s' % name, self.api.rename, holder['Id'], name)
                if swap.get('was_running') and not holder['State'].get('Running'):
                    self.engine.call('start %s' % name, self.api.start, holder['Id'])
            self._note(swap, 'old_missing', outcome='kept_new' if holder else 'abandoned')
            return False
        for holder in (name, swap['temp_name']):
            found = self.inspect(holder)
            if found and found['Id'] != swap['old_id']:
                self.engine.call('remove new %s' % name, self.api.remove_container, found['Id'], v=False, force=True)
        if _name(old) != name:
            self.engine.call('rename back %s' % name, self.api.rename, swap['old_id'], name)
        self._untag_service(swap)
        self._restore_compose_file(swap)
        joined = (old.get('NetworkSettings') or {}).get('Networks') or {}
        for network in swap.get('released') or []:  # start-first had taken it off the service's networks
            if network not in joined:
                self._reconnect(name, swap['old_id'], network, (swap.get('old_endpoints') or {}).get(network) or {})
        return True

    def _restart_old(self, swap):
        if not swap.get('was_running'):
            return
        old = self.inspect(swap['old_id'])
        if not old['State'].get('Running'):
            self.engine.call('restart old %s' % swap['container'], self.api.start, swap['old_id'])
        dummy, results = verify(self.engine, swap['old_id'], [], wait_health=True,
                                timeout=self.params.get('verify_timeout', 60), settle=1.0)
        swap['rollback_verification'] = results
        self._pause(swap, swap['old_id'])
        self._rejoin_netns(swap['old_id'])

    def _rejoin_netns(self, provider_id):
        """Restart running containers that joined the provider's network namespace: restarting the
        provider gave it a new namespace, and they would be left in the dead one."""
        for cid in [c['Id'] for c in self.engine.call('list containers', self.api.containers)]:
            other = self.inspect(cid)
            if other and shares_netns(other) in (provider_id, provider_id[:12]):
                self.engine.call('restart %s' % _name(other), self.api.restart, cid,
                                 timeout=self.params.get('stop_timeout', 10))

    def recover(self):
        """Finish or roll back every swap (or group) the journal shows interrupted; says which.

        A recovery the engine refuses is retried by every later run; until it succeeds (or the
        operator abandons the entry) its containers are left out of plans, the others are patched.
        """
        done = []
        groups = {}
        for name, swap in self.journal.pending():
            groups.setdefault(swap.get('group_id') or name, []).append(swap)
        for swaps in groups.values():
            members = swaps[0].get('group') or [swaps[0]['container']]
            swaps.sort(key=lambda s: members.index(s['container']) if s['container'] in members else len(members))
            if self.check_mode:
                done.extend({'container': s['container'], 'action': 'would recover', 'step': s.get('step')}
                            for s in swaps)
                continue
            steps = dict((s['container'], s.get('step')) for s in swaps)
            finish = all(s.get('verified') and not s.get('rolling_back') and s.get('step') != 'rollback'
                         for s in swaps)
            try:
                if finish:
                    for swap in swaps:
                        self._finish_interrupted(swap)
                else:
                    self.give_back(swaps, 'interrupted at step %s' % ', '.join(
                        '%s: %s' % kv for kv in steps.items()) if len(steps) > 1 else
                        'interrupted at step %s' % list(steps.values())[0])
            except Exception as exc:
                error = error_text(exc)
                for swap in swaps:
                    entry = {'container': swap['container'], 'action': 'unresolved', 'step': steps[swap['container']],
                             'run': swap.get('run'), 'error': error, 'state': self.describe(swap)}
                    self._note(swap, 'recovery_failed', recovery_error=error)
                    self.unresolved[swap['container']] = entry
                    done.append(entry)
                continue
            for swap in swaps:
                done.append({'container': swap['container'], 'step': steps[swap['container']],
                             'action': 'finished' if finish else 'rolled_back'})
        return done

    def _finish_interrupted(self, swap):
        name = swap['container']
        new = self.inspect(swap.get('new_id') or swap['temp_name'])
        if new is None:  # nothing to finish with: the old one is what must run
            self.give_back([swap], 'new container missing after interruption')
            return
        holder = self.inspect(name)
        if holder and holder['Id'] == swap['old_id']:
            if holder['State'].get('Running'):
                self.engine.call('stop %s' % name, self.api.stop, swap['old_id'],
                                 timeout=self.params.get('stop_timeout', 10))
            self.engine.call('rename %s' % name, self.api.rename, swap['old_id'], swap['aside_name'])
        if _name(new) != name:
            self.engine.call('rename %s' % name, self.api.rename, new['Id'], name)
        if swap.get('was_running') and not self.inspect(new['Id'])['State'].get('Running'):
            self.engine.call('start %s' % name, self.api.start, new['Id'])
        joined = (self.inspect(new['Id']).get('NetworkSettings') or {}).get('Networks') or {}
        for network, endpoint in (swap.get('held_aliases') or {}).items():  # interrupted before it took them
            if not set(endpoint.get('Aliases') or []) <= set((joined.get(network) or {}).get('Aliases') or []):
                self._reconnect(name, new['Id'], network, endpoint)
        self._pause(swap, new['Id'])
        self._finish_old(swap, self._note)
        self._note(swap, 'done', outcome=_outcome(swap.get('reason') or 'patch'))

    def describe(self, swap):
        """Which container holds each of a swap's names now, on which image, in which state."""
        parts = []
        seen = set()
        for name in (swap['container'], swap['aside_name'], swap['temp_name']):
            found = self.inspect(name)
            if found is None:
                continue
            seen.add(found['Id'])
            which = ('the container from before the patch' if found['Id'] == swap['old_id'] else
                     'the new container' if found['Id'] == swap.get('new_id') else 'another container')
            state = found.get('State') or {}
            parts.append('%s is %s (%s), image %s, %s' % (
                name, found['Id'][:12], which, (found.get('Config') or {}).get('Image'),
                'paused' if state.get('Paused') else state.get('Status') or 'unknown'))
        if swap['old_id'] not in seen and self.inspect(swap['old_id']) is None:
            parts.append('the container from before the patch (%s) no longer exists' % swap['old_id'][:12])
        return '; '.join(parts) or 'no container holds the name %s' % swap['container']

    def unresolved_message(self, name):
        entry = self.unresolved[name]
        return ('the interrupted swap of %s on %s (step %s) could not be recovered: %s. State: %s. Fix the cause '
                'and run again (every run retries the recovery first), or put %s right by hand and close the '
                'entry with patchops.containers.container_rollback abandon: [%s]'
                % (name, self.where, entry['step'], entry['error'], entry['state'], name, name))

    def abandon(self, names):
        """Close the unfinished journal entries of ``names`` without touching any container:
        the way out of a recovery the engine keeps refusing, once the operator put things right."""
        if not names:
            return []
        pending = dict(self.journal.pending())
        missing = [n for n in names if n not in pending]
        if missing:
            raise SwapError('the journal on %s has no unfinished swap of %s to abandon (unfinished: %s)' % (
                self.where, ', '.join(missing), ', '.join(sorted(pending)) or 'none'), changed=False)
        out = []
        for name in names:
            swap = pending[name]
            state, step = self.describe(swap), swap.get('step')
            if not self.check_mode:
                self.journal.record(swap, 'abandoned', outcome='abandoned', abandoned_state=state)
            out.append({'container': name, 'step': step, 'state': state,
                        'action': 'would abandon' if self.check_mode else 'abandoned'})
        return out


def announce(engine, network, ip, mac):
    """Send a gratuitous ARP for a container's new endpoint on the network's bridge, when that bridge
    is on this machine: a client that asked for the address in the moment the engine already named
    it in DNS but the endpoint was not up yet would otherwise wait a whole ARP retry (1 s). Best
    effort: nothing happens for other drivers, a remote engine, or without the right to send."""
    if not ip or not mac:
        return False
    try:
        net = engine.call('inspect network %s' % network, engine.api.inspect_network, network)
    except Exception:
        return False
    if net.get('Driver') != 'bridge':
        return False
    bridge = (net.get('Options') or {}).get('com.docker.network.bridge.name') or 'br-' + net['Id'][:12]
    try:
        socket.if_nametoindex(bridge)  # in this network namespace (sysfs may show another one)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            sock.bind((bridge, 0))
            hw = bytes.fromhex(mac.replace(':', ''))
            addr = socket.inet_aton(ip)
            # Ethernet broadcast, ARP reply (op 2) with sender = target = the container's address.
            sock.send(b'\xff' * 6 + hw + b'\x08\x06' + struct.pack('>HHBBH', 1, 0x0800, 6, 4, 2)
                      + hw + addr + b'\xff' * 6 + addr)
        finally:
            sock.close()
    except (OSError, ValueError, AttributeError):
        return False
    return True


DONE = ('patched', 'restored', 'recreated')


def _outcome(reason):
    """What a verified swap did: patched (a target), restored (a rollback), recreated (a follower)."""
    if reason == 'rollback':
        return 'restored'
    if reason.startswith('follows'):
        return 'recreated'
    return 'patched'


def _verification_waits(groups):
    """{group: the other groups it waits for}: a group with a member that cannot be verified and changes
    image waits for the groups that verify that image (a member that can be verified on it)."""
    verifiers = {}
    for group, members in groups.items():
        for item in members:
            if item['action'] in ('recreate', 'none') and item.get('verifiable'):
                verifiers.setdefault(item['new_image_id'], set()).add(group)
    waits = {}
    for group, members in groups.items():
        waits[group] = set()
        for item in members:
            if item['action'] == 'recreate' and not item.get('verifiable') and item['new_image_id'] != item['old_image_id']:
                waits[group] |= verifiers.get(item['new_image_id'], set()) - {group}
    return waits


def _temporary(name):
    return name.endswith(ASIDE_SUFFIX) or name.endswith(NEW_SUFFIX)


def _root(name, follows):
    while name in follows:
        name = follows[name]
    return name


class _VerifyFailed(Exception):
    def __init__(self, msg, results):
        super().__init__(msg)
        self.msg = msg
        self.results = results


def run_module(module, targets):
    """The body of a module that recreates containers: lock, abandon (container_rollback), recover,
    plan, check/diff, execute.

    ``targets(swapper)`` returns the containers to recreate as [{name, image, image_id?, strategy?,
    reason?}]; it may return [] when the run only abandons journal entries.
    """
    try:
        for index, probe in enumerate(module.params['probes']):
            validate(probe, index)
    except ProbeError as exc:
        module.fail_json(msg='probes: %s' % exc, changed=False)
    if module.params['parallel'] < 1:
        module.fail_json(msg='parallel must be 1 or more (1 swaps one container after the other); got %d'
                         % module.params['parallel'], changed=False)
    engine = connect(module)
    try:
        engine.require_rename()
    except EngineError as exc:
        module.fail_json(msg=exc.msg, changed=False, engine=engine.facts)
    engine_id = engine.info.get('ID')
    journal = Journal(module.params['state_dir'], engine_id)
    swapper = Swapper(engine, journal, module.params, check_mode=module.check_mode)
    result = dict(changed=False, rolled_back=False, recovered=[], plan=[], unresolved=[], engine=engine.facts)
    try:
        with Lock.engine(module.params['state_dir'], engine_id, module.params['lock_timeout']):
            journal.validate_all()
            abandon = module.params.get('abandon') or []
            if abandon:
                result['abandoned'] = swapper.abandon(abandon)
                result['changed'] = not module.check_mode
            result['recovered'] = swapper.recover()
            result['unresolved'] = list(swapper.unresolved.values())
            settled = [r for r in result['recovered'] if r['action'] in ('finished', 'rolled_back')]
            result['changed'] = result['changed'] or (bool(settled) and not module.check_mode)
            wanted = targets(swapper)
            if wanted or not (abandon or module.params.get('recover')):
                plan = swapper.plan(wanted)
                result['plan'] = plan
                result['plan_inspected'] = len(swapper.inspected)
                if module._diff:
                    result['diff'] = swapper.diff(plan)
                pending = any(p['action'] == 'recreate' for p in plan)
                if not module.check_mode:
                    result['containers'] = swapper.execute(plan)
                result['changed'] = result['changed'] or pending
                blocked = [p for p in plan if p['action'] == 'blocked']
                if blocked:
                    raise SwapError('not patched: %s' % '; '.join(
                        '%s (%s)' % (p['container'], p['blocked_by']) for p in blocked),
                        results=result.get('containers', []), changed=result['changed'])
    except SwapError as exc:
        details = dict(exc.details)
        result['changed'] = bool(details.pop('changed', False)) or result['changed']
        result['containers'] = details.pop('results', [])
        result.update(details)
        _warnings(module, swapper)
        module.fail_json(msg=exc.msg, **result)
    except (JournalError, EngineError) as exc:
        if result['plan'] and not module.check_mode:
            result.setdefault('containers', [])  # the run stopped: planned containers with no result were not attempted
        _warnings(module, swapper)
        module.fail_json(msg=getattr(exc, 'msg', None) or str(exc), **result)
    _warnings(module, swapper)
    module.exit_json(**result)


def _warnings(module, swapper):
    for text in swapper.journal_errors:
        module.warn('%s; the containers were put back all the same; run again once the journal can be '
                    'written, so that it records the outcome' % text)
    for name in swapper.unresolved:
        module.warn(swapper.unresolved_message(name))
    for text in swapper.notes:
        module.warn(text)
