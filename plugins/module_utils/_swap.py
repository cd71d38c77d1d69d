# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Swap steps: plan, recreate a container on another image (config kept), verify, roll back,
and recover swaps a crash interrupted. Every step is journaled before it is taken.

Private: not a public API of the collection.
"""

from __future__ import annotations

import time
import uuid

from ansible_collections.patchops.containers.plugins.module_utils._clone import (
    clone, pinned_identity, shares_netns, writable_storage)
from ansible_collections.patchops.containers.plugins.module_utils._deps import CycleError, Index, needed_names, order
from ansible_collections.patchops.containers.plugins.module_utils._engine import EngineError, PatchopsError, connect
from ansible_collections.patchops.containers.plugins.module_utils._imageref import (
    ImageRefError, is_image_id, parse)
from ansible_collections.patchops.containers.plugins.module_utils._journal import (
    DEFAULT_STATE_DIR, Journal, JournalError, Lock)
from ansible_collections.patchops.containers.plugins.module_utils._probe import (
    VERIFY_ARGUMENT_SPEC, ProbeError, validate, verify)
from ansible_collections.patchops.containers.plugins.module_utils._registry import auth_config
from ansible_collections.patchops.containers.plugins.module_utils._stage import StageError, read_manifest, staged_entry

STRATEGIES = ('stop-first', 'start-first', 'auto')

# Options of every module that recreates containers (doc fragment patchops.containers.swap).
SWAP_ARGUMENT_SPEC = dict(
    VERIFY_ARGUMENT_SPEC,
    strategy=dict(type='str', default='stop-first', choices=list(STRATEGIES)),
    force_start_first=dict(type='bool', default=False),
    rollback=dict(type='str', default='auto', choices=['auto', 'never']),
    keep_old=dict(type='bool', default=False),
    stop_timeout=dict(type='int', default=10),
    state_dir=dict(type='path', default=DEFAULT_STATE_DIR),
    lock_timeout=dict(type='int', default=300),
)
ASIDE_SUFFIX = '-patchops-old'
NEW_SUFFIX = '-patchops-new'


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

    # -- lookups ---------------------------------------------------------------
    def inspect(self, ref):
        return self.engine.find_container(ref)

    def image(self, ref):
        return self.engine.find_image(ref)

    def all_containers(self):
        """(inspect of every container, an Index of them for dependency lookups)."""
        listed = self.engine.call('list containers', self.api.containers, all=True)
        return [c for c in (self.inspect(e['Id']) for e in listed) if c], Index(listed)

    def resolve_target(self, text, pull, use_stage=True):
        """The local image for a target reference: the staged one if any (``use_stage``), else what
        the reference means on the host; pulls only with ``pull: missing``."""
        if not isinstance(text, str) or not text:
            raise SwapError('target image %r is empty or not a string' % (text,))
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

    # -- plan ------------------------------------------------------------------
    def plan(self, targets):
        """Validate every target and return the ordered plan; changes nothing."""
        if not targets:
            raise SwapError('containers is empty: name at least one container to patch')
        everything, index = self.all_containers()
        self.names = {c['Id']: _name(c) for c in everything}
        by_name = {_name(c): c for c in everything}
        by_id = {c['Id']: c for c in everything}
        items = {}
        problems = []
        for target in targets:
            name = target.get('name')
            container = by_name.get(name) or (by_id.get(name) if name else None)
            if container is None:
                problems.append('container %r not found on %s' % (name, self.where))
                continue
            name = _name(container)
            if name.endswith(ASIDE_SUFFIX) or name.endswith(NEW_SUFFIX):
                problems.append('container %s is a patchops temporary; run again to recover it first' % name)
                continue
            # A rollback names the old image exactly; only a patch follows the stage manifest.
            image, why = self.resolve_target(target.get('image'), self.params.get('pull'),
                                             use_stage=(target.get('reason') or 'patch') == 'patch')
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
            strategy = target.get('strategy') or self.params.get('strategy') or 'stop-first'
            pinned = pinned_identity(container)
            if strategy == 'start-first' and pinned and not self.params.get('force_start_first'):
                problems.append('container %s cannot be patched start-first: it %s (both would clash); use '
                                'stop-first, or force_start_first' % (name, '; '.join(pinned)))
                continue
            if strategy == 'auto':
                strategy = 'stop-first' if pinned or writable_storage(container) else 'start-first'
            items[name] = {'container': container, 'target': target.get('image'), 'image': image,
                           'strategy': strategy, 'reason': target.get('reason') or 'patch'}
        if problems:
            raise SwapError('; '.join(problems), changed=False)

        # Containers in another's network namespace must follow it: their netns dies with it.
        for name in list(items):
            if items[name]['image'].get('Id') == items[name]['container']['Image']:
                continue  # not recreated: its namespace stays
            cid = items[name]['container']['Id']
            for other in everything:
                joined = shares_netns(other)
                if joined and (joined == cid or joined == name or cid.startswith(joined)) \
                        and _name(other) not in items:
                    image = self.image(other['Image'])
                    configured = (other.get('Config') or {}).get('Image')
                    same = configured and (self.image(configured) or {}).get('Id') == other['Image']
                    items[_name(other)] = {'container': other, 'target': configured if same else other['Image'],
                                           'image': image,
                                           'strategy': 'stop-first', 'reason': 'follows %s (network namespace)' % name}
        edges = {n: needed_names(i['container'], index) for n, i in items.items()}
        try:
            ordered = order(list(items), edges)
        except CycleError as exc:
            raise SwapError(str(exc), changed=False)
        plan = []
        for position, name in enumerate(ordered):
            item = items[name]
            container, image = item['container'], item['image']
            old_image = self.image(container['Image']) or {}
            up_to_date = image.get('Id') == container['Image'] and item['reason'] in ('patch', 'rollback')
            plan.append({
                'container': name, 'order': position + 1, 'reason': item['reason'],
                'action': 'none' if up_to_date else 'recreate',
                'old_id': container['Id'], 'old_image': (container.get('Config') or {}).get('Image'),
                'old_image_id': container['Image'], 'old_digests': _digests(old_image),
                'new_image': item['target'], 'new_image_id': image.get('Id'), 'new_digests': _digests(image),
                'strategy': item['strategy'], 'was_running': bool(container['State'].get('Running')),
                'depends_on': list(edges[name]),
            })
        return plan

    def diff(self, plan):
        before, after = {}, {}
        for item in plan:
            if item['action'] == 'none':
                continue
            before[item['container']] = {'image': item['old_image'], 'image_id': item['old_image_id']}
            after[item['container']] = {'image': item['new_image'], 'image_id': item['new_image_id'],
                                        'strategy': item['strategy']}
        return {'before': before, 'after': after}

    # -- execution -------------------------------------------------------------
    def execute(self, plan):
        # Journal every container of the run before the first is touched: if the engine or the
        # module dies before a container's turn (an engine crash stops every container), the next
        # run still knows how it was and puts it back (running if it ran) before patching it.
        run = uuid.uuid4().hex
        swaps = {}
        for item in plan:
            if item['action'] != 'none':
                swaps[item['container']] = self._new_swap(item, run)
                self.journal.record(swaps[item['container']], 'planned')
        results = []
        for item in plan:
            if item['action'] == 'none':
                results.append(dict(item, changed=False, outcome='current', new_id=item['old_id'],
                                    rolled_back=False, downtime_ms=0, verification=[]))
                continue
            result = self.swap(item, swaps[item['container']])
            results.append(result)
            if result['outcome'] not in ('patched', 'restored'):
                skipped = [p['container'] for p in plan[len(results):]]
                for name in skipped:
                    if name in swaps:  # untouched: closed, so no later run "recovers" it
                        self._note(swaps[name], 'not_attempted', outcome='not_attempted')
                raise SwapError(
                    'patching %s to %s failed (%s); %s%s' % (
                        item['container'], item['new_image'], result['failure'],
                        'rolled back: the same container (%s) runs %s again' % (item['old_id'][:12], item['old_image'])
                        if result['rolled_back'] else 'NOT rolled back (rollback: never)',
                        '; not attempted: %s' % ', '.join(skipped) if skipped else ''),
                    results=results, rolled_back=result['rolled_back'], changed=True, not_attempted=skipped)
        return results

    def _new_swap(self, item, run):
        return {'run': run, 'container': item['container'], 'old_id': item['old_id'],
                'old_image': item['old_image'], 'old_image_id': item['old_image_id'],
                'target_image': item['new_image'], 'target_image_id': item['new_image_id'],
                'strategy': item['strategy'], 'was_running': item['was_running'],
                'aside_name': item['container'] + ASIDE_SUFFIX, 'temp_name': item['container'] + NEW_SUFFIX,
                'verified': False, 'outcome': None}

    def swap(self, item, swap=None):
        """Recreate one container; ``swap`` is its record already journaled as planned."""
        record = self.journal.record
        if swap is None:
            swap = self._new_swap(item, uuid.uuid4().hex)
            record(swap, 'planned')
        name = swap['container']
        started = time.monotonic()
        stopped_at = None
        results = []
        failure = None
        try:
            container = self.inspect(swap['old_id'])
            old_image = self.image(swap['old_image_id']) or {}
            resolve = self._name_of
            if swap['strategy'] == 'stop-first':
                stopped_at = self._set_old_aside(swap)
                new_id = self._create(swap, container, old_image, name, resolve)
            else:
                new_id = self._create(swap, container, old_image, swap['temp_name'], resolve)
            if swap['was_running']:
                record(swap, 'start_new')
                self.engine.call('start %s' % name, self.api.start, new_id)
                record(swap, 'verify')
                ok, results = verify(self.engine, new_id, self.params.get('probes') or [],
                                     wait_health=self.params.get('wait_health', True),
                                     timeout=self.params.get('verify_timeout', 60),
                                     settle=self.params.get('settle', 2.0))
                if not ok:
                    failure = results[-1]['output']
                    raise _VerifyFailed(failure)
            record(swap, 'verified', verified=True)
            if swap['strategy'] == 'start-first':
                stopped_at = self._set_old_aside(swap)
                record(swap, 'rename_new')
                self.engine.call('rename %s' % name, self.api.rename, new_id, name)
            self._finish_old(swap)
            downtime = 0 if swap['strategy'] == 'start-first' or stopped_at is None else \
                int((time.monotonic() - stopped_at) * 1000)
            record(swap, 'done', outcome='restored' if item['reason'] == 'rollback' else 'patched',
                   downtime_ms=downtime)
            return self._result(item, swap, results, downtime, started)
        except Exception as exc:  # whatever broke the swap, the old container comes back
            failure = failure or getattr(exc, 'msg', None) or getattr(exc, 'explanation', None) or str(exc)
            if self.params.get('rollback', 'auto') == 'never':
                self._note(swap, 'failed', outcome='failed', failure=failure)
                result = self._result(item, swap, results, None, started)
                result.update(failure=failure, outcome='failed')
                return result
            self.rollback(swap, failure)
            result = self._result(item, swap, results, None, started)
            result.update(failure=failure, outcome='rolled_back', rolled_back=True, changed=True,
                          new_id=swap['old_id'], rollback_verification=swap.get('rollback_verification'))
            return result

    def _set_old_aside(self, swap):
        """Stop the old container (if it runs) and rename it aside; returns when it was stopped."""
        stopped_at = None
        if swap['was_running']:
            self.journal.record(swap, 'stop_old')
            stopped_at = time.monotonic()
            self.engine.call('stop %s' % swap['container'], self.api.stop, swap['old_id'],
                             timeout=self.params.get('stop_timeout', 10))
        self.journal.record(swap, 'rename_old')
        self.engine.call('rename %s' % swap['container'], self.api.rename, swap['old_id'], swap['aside_name'])
        return stopped_at

    def _name_of(self, ref):
        """Name of a container id as planned: the container may since have been replaced."""
        for cid, name in self.names.items():
            if cid == ref or cid.startswith(ref):
                return name
        found = self.inspect(ref)
        return _name(found) if found else ref

    def _create(self, swap, container, old_image, name, resolve):
        self.journal.record(swap, 'create_new')
        body, extra = clone(container, old_image, self._create_ref(swap), resolve_container=resolve)
        created = self.engine.call('create %s' % name, self.api.create_container_from_config, body, name=name)
        new_id = created['Id']
        self.journal.record(swap, 'created_new', new_id=new_id)
        for network, endpoint in extra:
            self.engine.call('connect %s to %s' % (name, network), self.api.connect_container_to_network,
                             new_id, network, ipv4_address=(endpoint.get('IPAMConfig') or {}).get('IPv4Address'),
                             ipv6_address=(endpoint.get('IPAMConfig') or {}).get('IPv6Address'),
                             aliases=endpoint.get('Aliases'), links=endpoint.get('Links'),
                             driver_opt=endpoint.get('DriverOpts'))
        return new_id

    def _create_ref(self, swap):
        """Name the image as the operator did while that name still means the planned image, else
        by the staged digest (the tag moved), else by ID."""
        wanted = swap['target_image']
        candidates = [wanted]
        if not is_image_id(wanted):
            staged = self.staged(parse(wanted))
            if staged and staged.get('digest'):
                candidates.append(parse(wanted).with_digest(staged['digest']))
        for candidate in candidates:
            current = self.image(candidate)
            if current and current['Id'] == swap['target_image_id']:
                return candidate
        return swap['target_image_id']

    def _finish_old(self, swap, record=None):
        if self.params.get('keep_old'):
            return
        (record or self.journal.record)(swap, 'remove_old')
        if self.inspect(swap['old_id']) is not None:
            # v=False: anonymous volumes now belong to the new container.
            self.engine.call('remove old %s' % swap['container'], self.api.remove_container,
                             swap['old_id'], v=False, force=True)

    def _result(self, item, swap, results, downtime, started):
        new = self.inspect(swap.get('new_id') or '') if swap.get('new_id') else None
        return dict(item, changed=True, outcome=swap.get('outcome'), new_id=(new or {}).get('Id'),
                    rolled_back=False, downtime_ms=downtime, verification=results,
                    duration_ms=int((time.monotonic() - started) * 1000))

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

    def rollback(self, swap, reason):
        """Give back the old container (same ID), whatever step the swap reached."""
        self._note(swap, 'rollback', failure=reason)
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
            return
        for holder in (name, swap['temp_name']):
            found = self.inspect(holder)
            if found and found['Id'] != swap['old_id']:
                self.engine.call('remove new %s' % name, self.api.remove_container, found['Id'], v=False, force=True)
        if _name(old) != name:
            self.engine.call('rename back %s' % name, self.api.rename, swap['old_id'], name)
        if swap.get('was_running'):
            if not old['State'].get('Running'):
                self.engine.call('restart old %s' % name, self.api.start, swap['old_id'])
            dummy, results = verify(self.engine, swap['old_id'], [], wait_health=True,
                                    timeout=self.params.get('verify_timeout', 60), settle=1.0)
            swap['rollback_verification'] = results
            self._rejoin_netns(swap['old_id'])
        self._note(swap, 'rolled_back', outcome='rolled_back')

    def _rejoin_netns(self, provider_id):
        """Restart running containers that joined the provider's network namespace: restarting the
        provider gave it a new namespace, and they would be left in the dead one."""
        for cid in [c['Id'] for c in self.engine.call('list containers', self.api.containers)]:
            other = self.inspect(cid)
            if other and shares_netns(other) in (provider_id, provider_id[:12]):
                self.engine.call('restart %s' % _name(other), self.api.restart, cid,
                                 timeout=self.params.get('stop_timeout', 10))

    def recover(self):
        """Finish or roll back every swap the journal shows interrupted; says which."""
        done = []
        for name, swap in self.journal.pending():
            step = swap.get('step')
            if self.check_mode:
                done.append({'container': name, 'action': 'would recover', 'step': step})
            elif swap.get('verified') and step != 'rollback':
                self._finish_interrupted(swap)
                done.append({'container': name, 'action': 'finished', 'step': step})
            else:
                self.rollback(swap, 'interrupted at step %s' % step)
                done.append({'container': name, 'action': 'rolled_back', 'step': step})
        return done

    def _finish_interrupted(self, swap):
        name = swap['container']
        new = self.inspect(swap.get('new_id') or swap['temp_name'])
        if new is None:  # nothing to finish with: the old one is what must run
            self.rollback(swap, 'new container missing after interruption')
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
        self._finish_old(swap, self._note)
        self._note(swap, 'done', outcome='patched')


class _VerifyFailed(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


def run_module(module, targets):
    """The body of a module that recreates containers: lock, recover, plan, check/diff, execute.

    ``targets(swapper)`` returns the containers to recreate as [{name, image, strategy?, reason?}].
    """
    try:
        for index, probe in enumerate(module.params['probes']):
            validate(probe, index)
    except ProbeError as exc:
        module.fail_json(msg='probes: %s' % exc, changed=False)
    engine = connect(module)
    engine_id = engine.info.get('ID')
    journal = Journal(module.params['state_dir'], engine_id)
    swapper = Swapper(engine, journal, module.params, check_mode=module.check_mode)
    result = dict(changed=False, rolled_back=False, recovered=[], plan=[])
    try:
        with Lock.engine(module.params['state_dir'], engine_id, module.params['lock_timeout']):
            journal.validate_all()
            result['recovered'] = swapper.recover()
            result['changed'] = bool(result['recovered']) and not module.check_mode
            plan = swapper.plan(targets(swapper))
            result['plan'] = plan
            if module._diff:
                result['diff'] = swapper.diff(plan)
            pending = any(p['action'] != 'none' for p in plan)
            if not module.check_mode:
                result['containers'] = swapper.execute(plan)
            result['changed'] = result['changed'] or pending
    except SwapError as exc:
        details = dict(exc.details)
        result['changed'] = bool(details.pop('changed', False)) or result['changed']
        result['containers'] = details.pop('results', [])
        result.update(details)
        _journal_warnings(module, swapper)
        module.fail_json(msg=exc.msg, **result)
    except (JournalError, EngineError) as exc:
        _journal_warnings(module, swapper)
        module.fail_json(msg=getattr(exc, 'msg', None) or str(exc), **result)
    _journal_warnings(module, swapper)
    module.exit_json(**result)


def _journal_warnings(module, swapper):
    for text in swapper.journal_errors:
        module.warn('%s; the containers were put back all the same; run again once the journal can be '
                    'written, so that it records the outcome' % text)
