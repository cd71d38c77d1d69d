# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Putting things back: the give-back after a failed swap, the recovery of swaps a crash
interrupted (finished or given back, from the journal), and abandoning an entry recovery cannot
settle. Every step can be taken again: a later run repeats what an interrupted one left.

Private: not a public API of the collection.
"""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._clone import shares_netns
from ansible_collections.patchops.containers.plugins.module_utils._compose import restore_compose_file, untag_service
from ansible_collections.patchops.containers.plugins.module_utils._deps import FOLLOWED, joined, link_targets
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError, error_text
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import (
    SwapError, container_name, outcome_of)
from ansible_collections.patchops.containers.plugins.module_utils._swap.network import reconnect
from ansible_collections.patchops.containers.plugins.module_utils._swap.records import swap_result


def undo(ctx, items, swaps, results, failure, started, failed=None):
    """After a failed swap (or group): give back the old containers, unless rollback: never.
    Returns the members' results."""
    failed = failed or swaps[0]['container']
    out = []
    if ctx.params.get('rollback', 'auto') == 'never':
        for swap in swaps:
            ctx.record_despite_journal_errors(swap, 'failed', outcome='failed', failure=failure)
    else:
        try:
            give_back(ctx, swaps, failure)
        except Exception as exc:  # the next run retries it; say what state things are in
            error = error_text(exc)
            for swap in swaps:
                ctx.record_despite_journal_errors(swap, 'rollback_failed', rollback_error=error)
            failure = '%s; and the rollback failed: %s (state: %s; the next run retries it)' % (
                failure, error, '; '.join(describe(ctx, s) for s in swaps))
    failure += ''.join('; %s: %s' % (s['container'], s['not_started']) for s in swaps if s.get('not_started'))
    for item, swap in zip(items, swaps):
        result = swap_result(ctx, item, swap, results.get(swap['container'], []), None, started)
        result.update(failure=failure, outcome=swap.get('outcome') or 'failed')
        if swap['container'] != failed:
            result['with_group'] = failed
        if swap.get('outcome') == 'rolled_back':
            result.update(rolled_back=True, changed=True, new_id=swap['old_id'],
                          rollback_verification=swap.get('rollback_verification'))
            if swap.get('not_started'):
                result['not_started'] = swap['not_started']
        out.append(result)
    return out


def give_back(ctx, swaps, reason):
    """Roll back: give back the old containers (same IDs) of a swap or a group, whatever step it
    reached. New containers are removed and old names restored last member first, then the old
    ones started in order (a provider before the containers that follow it). Not a restore:
    container_rollback recreates a container on its pre-patch image (outcome ``restored``)."""
    for swap in swaps:
        ctx.record_despite_journal_errors(swap, 'rollback', failure=reason, rolling_back=True)
    back = [swap for swap in reversed(swaps) if _put_back(ctx, swap)]
    for swap in reversed(back):
        _restart_old(ctx, swap)
        ctx.record_despite_journal_errors(swap, 'rolled_back', outcome='rolled_back')


def _put_back(ctx, swap):
    """The old container under its name again (not started); False if it no longer exists."""
    name = swap['container']
    old = ctx.inspect(swap['old_id'])
    if old is not None and ((old.get('State') or {}).get('Dead') or (old.get('State') or {}).get('Status') == 'dead'):
        # Killed while it removed the old container, the engine leaves it dead ("marked for removal"): it can never
        # start again. Finish that removal, and keep the new container as if someone had removed the old one.
        ctx.engine.remove(swap['old_id'], 'remove old %s (dead)' % name)
        swap['old_dead'] = True
        old = None
    if old is None:
        # Someone removed the old container: keep whatever holds the name rather than nothing.
        holder = ctx.inspect(name) or ctx.inspect(swap['temp_name'])
        if holder is not None:
            if container_name(holder) != name:
                ctx.engine.call('rename %s' % name, ctx.api.rename, holder['Id'], name)
            if swap.get('was_running') and not holder['State'].get('Running'):
                ctx.engine.start(holder['Id'], 'start %s' % name, ctx.params.get('stop_timeout', 10))
        ctx.record_despite_journal_errors(swap, 'old_missing', outcome='kept_new' if holder else 'abandoned')
        return False
    for holder in (name, swap['temp_name']):
        found = ctx.inspect(holder)
        if found and found['Id'] != swap['old_id']:
            ctx.engine.remove(found['Id'], 'remove new %s' % name)
    if container_name(old) != name:
        ctx.engine.call('rename back %s' % name, ctx.api.rename, swap['old_id'], name)
    untag_service(ctx, swap)
    restore_compose_file(ctx, swap)
    joined = (old.get('NetworkSettings') or {}).get('Networks') or {}
    for network in swap.get('released') or []:  # start-first had taken it off the service's networks
        if network not in joined:
            reconnect(ctx, name, swap['old_id'], network, (swap.get('old_endpoints') or {}).get(network) or {})
    return True


def _restart_old(ctx, swap):
    if not swap.get('was_running'):
        return
    old = ctx.inspect(swap['old_id'])
    if not old['State'].get('Running'):
        providers = _providers(ctx, old)
        gone = next(((what, ref[:12]) for what, ref, found in providers if found is None), None)
        if gone:  # no start can succeed again: close the swap with the container back, stopped, and say why
            swap['not_started'] = (
                'given back but not started: the container whose %s it joins (%s) was removed outside this run, '
                'and the engine cannot start it without that namespace; recreate it with a provider that exists'
                % gone)
            return
        unlinked = [name for name in link_targets(old) if ctx.inspect(name) is None]
        if unlinked:  # the engine refuses the start ("Cannot link to a non running container") until one exists
            swap['not_started'] = (
                'given back but not started: the container it links to (%s) was removed outside this run, and the '
                'engine cannot start it without that link; recreate it with links to containers that exist'
                % ', '.join(unlinked))
            return
        looping = next(((what, found) for what, ref, found in providers if (found.get('State') or {}).get('Restarting')),
                       None)
        if looping:
            raise _restart_loop(swap, *looping)
        try:
            ctx.engine.start(swap['old_id'], 'restart old %s' % swap['container'], ctx.params.get('stop_timeout', 10))
        except EngineError as exc:
            if 'Cannot link to a non running container' not in str(exc):
                raise
            # dockerd resolves legacy links by name only when a container is created and when it starts up.
            raise SwapError(
                '%s: the engine restarted in the middle of the swap, and its table of legacy links still points '
                'the links of %s at the containers that held those names then, removed since; restart the engine '
                '(systemctl restart docker: it reads the links again by name), then run again' % (
                    error_text(exc), swap['container'])) from exc
    dummy, results = ctx.verify(ctx.engine, swap['old_id'], [], wait_health=True,
                                timeout=ctx.params.get('verify_timeout', 60), settle=1.0)
    swap['rollback_verification'] = results
    ctx.pause_if_it_was(swap, swap['old_id'])
    _rejoin_netns(ctx, swap['old_id'])


def _providers(ctx, container):
    """[(which namespace, provider reference, its inspect or None when it no longer exists)] of the
    namespaces the container joins (``container:<ID>``: the engine keeps the provider's ID, so a container
    created under its name since does not give it back)."""
    host = container.get('HostConfig') or {}
    refs = [(what, joined(host.get(key))) for key, what in FOLLOWED]
    return [(what, ref, ctx.inspect(ref)) for what, ref in refs if ref]


def _restart_loop(swap, what, provider):
    """The give-back of a follower whose provider the engine keeps restarting (its restart policy starts
    it, it stops again): the follower cannot join it. Seen after the engine was killed together with its
    containerd: then the loop is the engine's, and an engine restart ends it."""
    state = provider.get('State') or {}
    return SwapError(
        '%s cannot start: %s, whose %s it joins, keeps restarting (restarted %s times, last exit code %s): the '
        'engine starts it by its restart policy and it stops each time. If the engine was killed just before, '
        'with its containerd, that loop is the engine\'s: restart the engine (systemctl restart docker), then run '
        'again. Otherwise find why %s exits (its logs), then run again' % (
            swap['container'], container_name(provider), what, provider.get('RestartCount', 0),
            state.get('ExitCode'), container_name(provider)))


def _rejoin_netns(ctx, provider_id):
    """Restart running containers that joined the provider's network namespace: restarting the
    provider gave it a new namespace, and they would be left in the dead one."""
    for cid in [c['Id'] for c in ctx.engine.list_containers(all=False)]:
        other = ctx.inspect(cid)
        if other and shares_netns(other) in (provider_id, provider_id[:12]):
            ctx.engine.call('restart %s' % container_name(other), ctx.api.restart, cid,
                            timeout=ctx.params.get('stop_timeout', 10))


def recover(ctx):
    """Finish or roll back every swap (or group) the journal shows interrupted; says which.

    A recovery the engine refuses is retried by every later run; until it succeeds (or the
    operator abandons the entry) its containers are left out of plans, the others are patched.
    """
    done = []
    groups = {}
    for name, swap in ctx.journal.pending():
        groups.setdefault(swap.get('group_id') or name, []).append(swap)
    for swaps in groups.values():
        members = swaps[0].get('group') or [swaps[0]['container']]
        swaps.sort(key=lambda s: members.index(s['container']) if s['container'] in members else len(members))
        if ctx.check_mode:
            done.extend({'container': s['container'], 'action': 'would recover', 'step': s.get('step')}
                        for s in swaps)
            continue
        steps = dict((s['container'], s.get('step')) for s in swaps)
        finish = all(s.get('verified') and not s.get('rolling_back') and s.get('step') != 'rollback'
                     for s in swaps)
        try:
            if finish:
                finished = [swap for swap in swaps if _finish_interrupted(ctx, swap)]
                # Followers' old containers first: Podman refuses to remove a provider that has any.
                for swap in reversed(finished):
                    ctx.remove_old(swap, ctx.record_despite_journal_errors)
                for swap in finished:
                    ctx.record_despite_journal_errors(swap, 'done', outcome=outcome_of(swap.get('reason') or 'patch'))
            else:
                give_back(ctx, swaps, 'interrupted at step %s' % ', '.join(
                    '%s: %s' % kv for kv in steps.items()) if len(steps) > 1 else
                    'interrupted at step %s' % list(steps.values())[0])
        except Exception as exc:
            error = error_text(exc)
            for swap in swaps:
                if swap.get('outcome'):  # settled before the failure (a provider given back before its follower)
                    done.append({'container': swap['container'], 'step': steps[swap['container']],
                                 'action': 'finished' if swap.get('step') == 'done' else 'rolled_back'})
                    continue
                entry = {'container': swap['container'], 'action': 'unresolved', 'step': steps[swap['container']],
                         'run': swap.get('run'), 'error': error, 'state': describe(ctx, swap)}
                ctx.record_despite_journal_errors(swap, 'recovery_failed', recovery_error=error)
                ctx.unresolved[swap['container']] = entry
                done.append(entry)
            continue
        for swap in swaps:
            done.append({'container': swap['container'], 'step': steps[swap['container']],
                         'action': 'finished' if finish else 'rolled_back'})
    return done


def _finish_interrupted(ctx, swap):
    """The new container under the name, in the old one's state; False if it was missing and the old
    one was given back instead. The old one is removed by the caller."""
    name = swap['container']
    new = ctx.inspect(swap.get('new_id') or swap['temp_name'])
    if new is None:  # nothing to finish with: the old one is what must run
        give_back(ctx, [swap], 'new container missing after interruption')
        return False
    holder = ctx.inspect(name)
    if holder and holder['Id'] == swap['old_id']:
        if holder['State'].get('Running'):
            ctx.engine.call('stop %s' % name, ctx.api.stop, swap['old_id'],
                            timeout=ctx.params.get('stop_timeout', 10))
        ctx.engine.call('rename %s' % name, ctx.api.rename, swap['old_id'], swap['aside_name'])
    if container_name(new) != name:
        ctx.engine.call('rename %s' % name, ctx.api.rename, new['Id'], name)
    if swap.get('was_running') and not ctx.inspect(new['Id'])['State'].get('Running'):
        ctx.engine.start(new['Id'], 'start %s' % name, ctx.params.get('stop_timeout', 10))
    joined = (ctx.inspect(new['Id']).get('NetworkSettings') or {}).get('Networks') or {}
    for network, endpoint in (swap.get('held_aliases') or {}).items():  # interrupted before it took them
        if not set(endpoint.get('Aliases') or []) <= set((joined.get(network) or {}).get('Aliases') or []):
            reconnect(ctx, name, new['Id'], network, endpoint)
    ctx.pause_if_it_was(swap, new['Id'])
    return True


def describe(ctx, swap):
    """Which container holds each of a swap's names now, on which image, in which state."""
    parts = []
    seen = set()
    for name in (swap['container'], swap['aside_name'], swap['temp_name']):
        found = ctx.inspect(name)
        if found is None:
            continue
        seen.add(found['Id'])
        which = ('the container from before the patch' if found['Id'] == swap['old_id'] else
                 'the new container' if found['Id'] == swap.get('new_id') else 'another container')
        state = found.get('State') or {}
        parts.append('%s is %s (%s), image %s, %s' % (
            name, found['Id'][:12], which, (found.get('Config') or {}).get('Image'),
            'paused' if state.get('Paused') else state.get('Status') or 'unknown'))
    if swap['old_id'] not in seen and ctx.inspect(swap['old_id']) is None:
        parts.append('the container from before the patch (%s) no longer exists' % swap['old_id'][:12])
    return '; '.join(parts) or 'no container holds the name %s' % swap['container']


def unresolved_message(ctx, name):
    entry = ctx.unresolved[name]
    return ('the interrupted swap of %s on %s (step %s) could not be recovered: %s. State: %s. Fix the cause '
            'and run again (every run retries the recovery first), or put %s right by hand and close the '
            'entry with patchops.containers.container_rollback abandon: [%s]'
            % (name, ctx.where, entry['step'], entry['error'], entry['state'], name, name))


def abandon(ctx, names):
    """Close the unfinished journal entries of ``names`` without touching any container:
    the way out of a recovery the engine keeps refusing, once the operator put things right."""
    if not names:
        return []
    pending = dict(ctx.journal.pending())
    missing = [n for n in names if n not in pending]
    if missing:
        raise SwapError('the journal on %s has no unfinished swap of %s to abandon (unfinished: %s)' % (
            ctx.where, ', '.join(missing), ', '.join(sorted(pending)) or 'none'), changed=False)
    out = []
    for name in names:
        swap = pending[name]
        state, step = describe(ctx, swap), swap.get('step')
        if not ctx.check_mode:
            ctx.journal.record(swap, 'abandoned', outcome='abandoned', abandoned_state=state)
        out.append({'container': name, 'step': step, 'state': state,
                    'action': 'would abandon' if ctx.check_mode else 'abandoned'})
    return out
