# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan: every target checked, followers added, the order and the groups, what each swap will
do (strategy, stop, compose). Changes nothing.

Private: not a public API of the collection.
"""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._clone import (
    configured_macs, pinned_identity, podman_addresses, writable_storage)
from ansible_collections.patchops.containers.plugins.module_utils._compose import compose_plan
from ansible_collections.patchops.containers.plugins.module_utils._composefile import ComposeFileError
from ansible_collections.patchops.containers.plugins.module_utils._deps import CycleError, followed, needed_names, order
from ansible_collections.patchops.containers.plugins.module_utils._probe import has_healthcheck
from ansible_collections.patchops.containers.plugins.module_utils._stop import first_process, predict, stop_settings
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import (
    SwapError, container_name, is_temporary)
from ansible_collections.patchops.containers.plugins.module_utils._swap.records import PlanEntry
from ansible_collections.patchops.containers.plugins.module_utils._swap.recovery import unresolved_message
from ansible_collections.patchops.containers.plugins.module_utils._swap.targets import (
    expand_services, follower_candidates, image_name, inspect_all, list_containers, resolve_target)

# Podman's mark of a container created by a systemd unit (podman generate systemd, Quadlet).
SYSTEMD_UNIT_LABEL = 'PODMAN_SYSTEMD_UNIT'


def make_plan(ctx, targets):
    """Validate every target and return the ordered plan ([PlanEntry]); changes nothing.

    Containers that follow a recreated one (its network, IPC or PID namespace, or a legacy
    link to it) are added after it, in one group: the group is stopped followers first,
    recreated provider first, and verified or rolled back as a whole.
    """
    if not targets:
        raise SwapError('containers is empty: name at least one container to patch')
    index = list_containers(ctx)
    ctx.inspected = {}
    ctx.proc_view = None
    problems = []
    expanded = expand_services(ctx, targets, problems)
    found = {t.get('name'): index.resolve(t.get('name')) for t in expanded}
    inspect_all(ctx, [index.by_name[n] for n in found.values() if n])
    items = {}
    for target in expanded:
        container = ctx.inspected.get(index.by_name[found[target.get('name')]]) if found[target.get('name')] else None
        item = _checked_target(ctx, target, container, problems)
        if item:
            items[container_name(container)] = item
    follows = _add_followers(ctx, items, index, problems)
    if problems:
        raise SwapError('; '.join(problems), changed=False)

    edges = {n: needed_names(i['container'], index) for n, i in items.items()}
    try:
        ordered = order(list(items), edges)
    except CycleError as exc:
        raise SwapError(str(exc), changed=False)
    groups = {}
    for name in ordered:  # a group runs where its provider comes in the order
        groups.setdefault(_provider_of(name, follows), []).append(name)
    plan = []
    ctx.shared_tags = {}
    for group, members in groups.items():
        blocker = next((m for m in members if m in ctx.unresolved), None)
        for name in members:
            plan.append(_entry(ctx, name, items[name], group, len(plan) + 1, edges[name], blocker, follows, set(items)))
    if ctx.shared_tags:
        raise SwapError(shared_tag_message(ctx.shared_tags), changed=False)
    return plan


def _checked_target(ctx, target, container, problems):
    """What the plan needs of one target ({container, target, image, strategy, asked, reason,
    stop_timeout}), or None with the reason it cannot be swapped added to ``problems``."""
    if container is None:
        problems.append('container %r not found on %s' % (target.get('name'), ctx.where))
        return None
    name = container_name(container)
    if is_temporary(name):
        problems.append('container %s is a patchops temporary; run again to recover it first' % name)
        return None
    reason = target.get('reason') or 'patch'
    # A rollback names the old image exactly; only a patch follows the stage manifest.
    image, why = resolve_target(ctx, target.get('image'), ctx.params.get('pull'),
                                use_stage=reason == 'patch', image_id=target.get('image_id'))
    if image is None:
        if not (ctx.check_mode and ctx.params.get('pull') == 'missing'):
            problems.append(why)
            return None
        image = {'Id': None, 'RepoDigests': []}
    if (container.get('HostConfig') or {}).get('AutoRemove'):
        problems.append('container %s runs with --rm (AutoRemove): stopping it would delete it, so it '
                        'cannot be swapped safely; recreate it without --rm first' % name)
        return None
    unit = ((container.get('Config') or {}).get('Labels') or {}).get(SYSTEMD_UNIT_LABEL)
    if unit:
        problems.append('container %s is run by the systemd unit %s (label %s): systemd would recreate it '
                        'from its unit and undo the swap; change the image in the unit and restart it, '
                        'or patch containers not managed by systemd' % (name, unit, SYSTEMD_UNIT_LABEL))
        return None
    asked = target.get('strategy') or ctx.params.get('strategy') or 'stop-first'
    strategy = asked
    pinned = pinned_identity(container, ctx.engine.kind)
    if strategy == 'start-first' and pinned and not ctx.params.get('force_start_first'):
        problems.append('container %s cannot be patched start-first: it %s (both would clash); use '
                        'stop-first, or force_start_first' % (name, '; '.join(pinned)))
        return None
    if strategy == 'auto':
        strategy = 'stop-first' if pinned or writable_storage(container) else 'start-first'
    target_name = target.get('image')
    if target.get('image_id'):
        target_name = image_name(ctx, target_name, target['image_id'])
    return {'container': container, 'target': target_name, 'image': image, 'strategy': strategy, 'asked': asked,
            'reason': reason, 'stop_timeout': target.get('stop_timeout')}


def _entry(ctx, name, item, group, position, depends_on, blocker, follows, planned):
    container, image = item['container'], item['image']
    old_image = ctx.image(container['Image']) or {}
    up_to_date = image.get('Id') == container['Image'] and name not in follows
    state = container['State']
    entry = PlanEntry(
        container=name, order=position, reason=item['reason'],
        action='blocked' if blocker else ('none' if up_to_date else 'recreate'), group=group,
        old_id=container['Id'], old_image=(container.get('Config') or {}).get('Image'),
        old_image_id=container['Image'], old_digests=_digests(old_image),
        new_image=item['target'], new_image_id=image.get('Id'), new_digests=_digests(image),
        strategy=item['strategy'], was_running=bool(state.get('Running')), was_paused=bool(state.get('Paused')),
        depends_on=list(depends_on), mac_addresses=configured_macs(container, ctx.engine.kind))
    if ctx.engine.kind == 'podman':
        entry['addresses'] = podman_addresses(container)  # read while it runs, as the MACs
    if blocker:
        entry['blocked_by'] = unresolved_message(ctx, blocker)
    else:
        entry['verifiable'] = _verifiable(ctx, container, image)
    if entry['action'] == 'recreate':
        entry.update(_stop_plan(ctx, container, item.get('stop_timeout')))
        try:
            entry.update(compose_plan(ctx, container, image, planned, item))
        except ComposeFileError as exc:
            raise SwapError('%s: compose_file: %s' % (name, exc.msg), changed=False)
    return entry


def _digests(image):
    return list((image or {}).get('RepoDigests') or [])


def _verifiable(ctx, container, image):
    """Whether the container on ``image`` can be verified: it runs (and is not paused) and a probe
    or a HEALTHCHECK is waited on; its own HEALTHCHECK if it set one, else the image's (as clone()
    keeps it). Without either, verification only sees it stay running."""
    state = container.get('State') or {}
    if not state.get('Running') or state.get('Paused'):
        return False
    if ctx.params.get('probes'):
        return True
    if not ctx.params.get('wait_health', True):
        return False
    own = (container.get('Config') or {}).get('Healthcheck')
    if own == ((ctx.image(container['Image']) or {}).get('Config') or {}).get('Healthcheck'):
        own = None
    return has_healthcheck({'Config': {'Healthcheck': own or (image.get('Config') or {}).get('Healthcheck')}})


def shared_tag_message(shared_tags):
    parts = ['patching %s would move the tag %s to the patched image, and containers not in this run use it: '
             '%s (compose would recreate them on the patched image at its next up)'
             % (', '.join(sorted(found['run'])), ref, ', '.join(found['others']))
             for ref, found in sorted(shared_tags.items())]
    return ('%s; nothing was changed. Either set compose_file: update (the compose file names the patched '
            'image, no tag moves), or patch those containers in the same run, or set move_shared_tag: true '
            'to move the tag all the same' % '; '.join(parts))


def _stop_plan(ctx, container, stop_timeout):
    """The stop timeout a swap will use (the target's, else the container's own, else the
    module's) and what stopping it is expected to do (``stop``)."""
    default = ctx.params.get('stop_timeout', 10)
    timeout = stop_timeout if stop_timeout is not None else stop_settings(container, default)[1]
    swaps = ctx.journal.load(container_name(container))['swaps']
    last = next((s for s in reversed(swaps) if s.get('stopped_by')), None)
    stop = predict(dict(container, Config=dict(container.get('Config') or {}, StopTimeout=timeout)),
                   first_process(ctx.engine, container), timeout, last_stop=last)
    return {'stop_timeout': timeout, 'stop': stop}


def _add_followers(ctx, items, index, problems):
    """Add the followers of every container the plan recreates, transitively; returns
    {follower: provider}. A provider with followers is swapped stop-first."""
    follows = {}
    queue = [n for n, i in items.items() if i['image'].get('Id') != i['container']['Image']]
    while queue:
        provider = queue.pop(0)
        for other in inspect_all(ctx, follower_candidates(ctx, items[provider]['container'], index)):
            name = container_name(other)
            if name in follows or name == provider or is_temporary(name):
                continue
            what = next((w for p, w in followed(other, index) if p == provider), None)
            if what is None:
                continue
            follows[name] = provider
            if _running(other) and not _running(items[provider]['container']):
                # A new provider is left as the old one was (not running): a running follower could
                # not be started on it, nor put back on the old one once that is gone.
                problems.append('container %s runs on the %s of %s, which is not running: recreated, %s could not '
                                'start; start %s or stop %s, then patch' % (name, what, provider, name, provider, name))
            reason = 'follows %s (%s)' % (provider, what)
            if name not in items:
                configured = (other.get('Config') or {}).get('Image')
                same = configured and (ctx.image(configured) or {}).get('Id') == other['Image']
                items[name] = {'container': other, 'target': configured if same else other['Image'],
                               'image': ctx.image(other['Image']), 'asked': 'stop-first', 'reason': reason}
            elif items[name]['image'].get('Id') == other['Image']:
                items[name]['reason'] = reason  # its own image is current: recreated all the same
            items[name]['strategy'] = 'stop-first'
            queue.append(name)
    for provider in sorted(set(follows.values())):
        item = items[provider]
        if item['strategy'] == 'start-first':
            if item['asked'] == 'start-first':
                followers = sorted(f for f, p in follows.items() if p == provider)
                problems.append('container %s cannot be patched start-first: %s follow%s it (they are '
                                'recreated after it, stop-first); use stop-first or auto' % (
                                    provider, ', '.join(followers), 's' if len(followers) == 1 else ''))
            item['strategy'] = 'stop-first'
    return follows


def _running(inspect):
    return bool((inspect.get('State') or {}).get('Running'))


def _provider_of(name, follows):
    while name in follows:
        name = follows[name]
    return name


def plan_diff(plan):
    """--diff: each recreated container's image (and compose file line) before and after."""
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
