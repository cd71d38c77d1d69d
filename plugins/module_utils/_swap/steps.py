# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The steps of one swap: stop the old container, set it aside, create the new one, start and
verify it. Each step is journaled before it is taken; the old container goes last
(``SwapContext.remove_old``), the order of the steps is the schedule's.

Private: not a public API of the collection.
"""

from __future__ import annotations

import time

from ansible_collections.patchops.containers.plugins.module_utils._clone import clone
from ansible_collections.patchops.containers.plugins.module_utils._compose import (
    label_new_container, retag_service, write_compose_file)
from ansible_collections.patchops.containers.plugins.module_utils._stop import kill_advice, stopped_by
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import (
    ASIDE_SUFFIX, NEW_SUFFIX, VerificationFailed, container_name)
from ansible_collections.patchops.containers.plugins.module_utils._swap.network import connect_endpoints, hold_aliases
from ansible_collections.patchops.containers.plugins.module_utils._swap.targets import image_name


def stop_old(ctx, swap):
    """Stop the old container if it runs; returns when it was stopped (None if it was not).
    Says whether it exited on its stop signal or was killed when the timeout ran out."""
    if not swap['was_running']:
        return None
    ctx.journal.record(swap, 'stop_old')
    stopped_at = time.monotonic()
    old = ctx.inspect(swap['old_id']) or {}
    timeout = swap.get('stop_timeout', ctx.params.get('stop_timeout', 10))
    with ctx.timed(swap, 'stop'):
        if (old.get('State') or {}).get('Paused'):
            # A paused container gets no signal: stopping it would wait the whole stop timeout.
            ctx.engine.call('unpause %s' % swap['container'], ctx.api.unpause, swap['old_id'])
        began = time.monotonic()
        ctx.engine.call('stop %s' % swap['container'], ctx.api.stop, swap['old_id'], timeout=timeout)
        waited = time.monotonic() - began
    swap.update(stopped_by=stopped_by(ctx.inspect(swap['old_id']), waited, timeout),
                stop_waited_ms=int(waited * 1000))
    if swap['stopped_by'] == 'kill':
        config = old.get('Config') or {}
        command = ' '.join((config.get('Entrypoint') or []) + (config.get('Cmd') or []))
        ctx.notes.append(kill_advice(swap['container'], swap.get('stop_signal') or 'SIGTERM', waited, command))
    return stopped_at


def rename_aside(ctx, swap):
    ctx.journal.record(swap, 'rename_old')
    with ctx.timed(swap, 'rename'):
        ctx.engine.call('rename %s' % swap['container'], ctx.api.rename, swap['old_id'], swap['aside_name'])


def take_name(ctx, swap, new_id):
    """Start-first: the verified new container takes the service's name."""
    ctx.journal.record(swap, 'rename_new')
    with ctx.timed(swap, 'rename'):
        ctx.engine.call('rename %s' % swap['container'], ctx.api.rename, new_id, swap['container'])


def start_and_verify(ctx, swap, new_id, name):
    """Start the new container if the old one ran, and verify it; raises on failure."""
    if not swap['was_running']:
        return []
    ctx.journal.record(swap, 'start_new')
    with ctx.timed(swap, 'start'):
        ctx.engine.start(new_id, 'start %s' % name, ctx.params.get('stop_timeout', 10))
    ctx.journal.record(swap, 'verify')
    with ctx.timed(swap, 'ready'):
        ok, results = ctx.verify_container(new_id)
    if not ok:
        raise VerificationFailed(results[-1]['output'], results)
    return results


def planned_name(ctx, ref):
    """The planned name of container ``ref`` (a name, an ID or ID prefix, or a name a rename
    left behind): what a follower must name once that container is recreated."""
    if ref in ctx.names.values():
        return ref
    for cid, name in ctx.names.items():
        if cid == ref or (len(ref) >= 12 and cid.startswith(ref)):
            return name
    found = ctx.inspect(ref)
    if found:
        return ctx.names.get(found['Id'], container_name(found))
    for suffix in (ASIDE_SUFFIX, NEW_SUFFIX):
        if ref.endswith(suffix):
            return ref[:-len(suffix)]
    return ref


def create_new(ctx, swap, name, holding_aliases=False):
    """Create the new container. ``holding_aliases`` (start-first): it joins its networks without the
    service's aliases, so that no client reaches it before it is verified (see network.move_aliases)."""
    container = ctx.inspect(swap['old_id'])
    old_image = ctx.image(swap['old_image_id']) or {}
    edited = write_compose_file(ctx, swap)
    ref = retag_service(ctx, swap) or edited or image_name(ctx, swap['target_image'], swap['target_image_id'])
    macs, addresses = swap.get('mac_addresses'), swap.get('addresses')
    if holding_aliases and ctx.engine.kind == 'podman':
        macs = addresses = {}  # start-first: the old container still holds them (see pinned_identity)
    body, extra = clone(container, old_image, ref, resolve_container=lambda r: planned_name(ctx, r),
                        api_version=ctx.api.api_version, macs=macs, engine_kind=ctx.engine.kind,
                        addresses=addresses)
    if swap.get('compose_ref') or edited:
        label_new_container(ctx, swap, container, body.setdefault('Labels', {}), edited)
    if holding_aliases:
        hold_aliases(ctx, swap, container, body, extra)
    ctx.journal.record(swap, 'create_new')
    with ctx.timed(swap, 'create'):
        created = ctx.engine.call('create %s' % name, ctx.api.create_container_from_config, body, name=name)
    new_id = created['Id']
    ctx.journal.record(swap, 'created_new', new_id=new_id)
    with ctx.timed(swap, 'create'):
        connect_endpoints(ctx, name, new_id, extra)
    return new_id
