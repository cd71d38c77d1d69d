# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the plan reads: the containers of the engine, the images targets name (staged or local),
and which containers may follow a provider. Reads only (a pull with ``pull: missing`` aside).

Private: not a public API of the collection.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.patchops.containers.plugins.module_utils._compose import service_containers
from ansible_collections.patchops.containers.plugins.module_utils._deps import (
    Index, entry_name, joined, namespace_members, namespaces_of)
from ansible_collections.patchops.containers.plugins.module_utils._imageref import ImageRefError, is_image_id, parse
from ansible_collections.patchops.containers.plugins.module_utils._manifest import StageError, read_manifest, staged_entry
from ansible_collections.patchops.containers.plugins.module_utils._registry import RegistryFailure, auth_config, pull
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapError, container_name


def list_containers(ctx):
    """An Index of every container of the engine, from one list call (kept in ``ctx.listed``)."""
    ctx.listed = ctx.engine.list_containers()
    ctx.names = {e['Id']: entry_name(e) for e in ctx.listed}
    return Index(ctx.listed)


def inspect_all(ctx, ids):
    """Inspects of the containers ``ids`` (those that still exist), a few at a time: most of a
    call is waiting for the engine. Each container is inspected once per plan."""
    missing = [i for i in dict.fromkeys(ids) if i not in ctx.inspected]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for cid, found in zip(missing, pool.map(ctx.inspect, missing)):
            ctx.inspected[cid] = found
    return [ctx.inspected[i] for i in ids if ctx.inspected.get(i)]


def follower_candidates(ctx, provider, index):
    """IDs of the containers that may follow ``provider`` (an inspect): everything but what the
    list and this machine's /proc rule out. The list shows legacy links (as the provider's extra
    names, ``/follower/alias``) and Docker's ``container:`` network modes, not IPC or PID modes.
    A running follower of a running provider shares one of its namespaces, and /proc tells which
    processes do. Other followers were created after the provider: a ``container:`` mode names
    the provider's ID, which exists only since then (a mode that names it by name finds the
    recreated container by that name when it starts). When /proc cannot tell (a remote engine,
    no root), every running container is inspected too."""
    members, seen, local = _processes(ctx)
    state = provider.get('State') or {}
    own = namespaces_of(state.get('Pid'), provider['Id'], ctx.proc) if local and state.get('Running') else None
    sharers = set().union(*(members.get(ns, ()) for ns in own)) if own else set()
    entry = next((e for e in ctx.listed if e['Id'] == provider['Id']), {})
    linked = {n.lstrip('/').split('/')[0] for n in entry.get('Names') or [] if '/' in n.lstrip('/')}
    since = entry.get('Created') or 0

    def may_follow(e):
        if e['Id'] in sharers or entry_name(e) in linked:
            return True
        ref = joined((e.get('HostConfig') or {}).get('NetworkMode'))
        if ref and index.resolve(ref) == container_name(provider):
            return True
        if (not own or e['Id'] not in seen) and (e.get('Created') or 0) >= since:
            return True  # a follower /proc cannot show: created after the provider
        return not local and e.get('State') == 'running'
    return [e['Id'] for e in ctx.listed if e['Id'] != provider['Id'] and may_follow(e)]


def _processes(ctx):
    """(namespace -> IDs of the containers with a process in it, the IDs with a process, whether
    this engine's processes are visible here), read from /proc once per plan."""
    if ctx.proc_view is None:
        members = namespace_members(ctx.proc) or {}
        seen = set().union(*members.values())
        ctx.proc_view = members, seen, any(e['Id'] in seen for e in ctx.listed)
    return ctx.proc_view


def expand_services(ctx, targets, problems):
    """Targets naming a compose service ({compose_project, service, image}) become one target per
    container of that service (every replica)."""
    out = []
    for target in targets:
        if target.get('name') or not (target.get('compose_project') or target.get('service')):
            out.append(target)
            continue
        project, service = target.get('compose_project'), target.get('service')
        names = service_containers(ctx.listed, project, service) if project and service else []
        if not (project and service):
            problems.append('a target names compose_project %r and service %r: give both (or a container name)'
                            % (project, service))
        elif not names:
            problems.append('compose service %s of project %s has no container on %s' % (service, project, ctx.where))
        for name in names:
            expanded = dict(target, name=name)
            expanded.pop('compose_project', None)
            expanded.pop('service', None)
            out.append(expanded)
    return out


def resolve_target(ctx, text, pull_policy, use_stage=True, image_id=None):
    """The local image for a target reference: ``image_id`` when the caller knows the exact
    image, else the staged one if any (``use_stage``), else what the reference means on the
    host; pulls only with ``pull: missing`` (``pull_policy``). Returns (image, why not)."""
    if not isinstance(text, str) or not text:
        raise SwapError('target image %r is empty or not a string' % (text,))
    if image_id:
        image = ctx.image(image_id)
        return (image, None) if image else (None, 'image %s (%s) is not on %s' % (text, image_id, ctx.where))
    ref = None
    if not is_image_id(text):
        try:
            ref = parse(text)
        except ImageRefError as exc:
            raise SwapError(str(exc))
    staged = staged_image(ctx, ref) if use_stage else None
    if staged is not None:
        # What was staged wins over where the tag points now: the tag may have moved since.
        image = ctx.image(staged['image_id'])
        if image is None:
            raise SwapError('image %s was staged as %s (%s) but that image is no longer on %s: stage it again'
                            % (text, staged.get('digest'), staged['image_id'], ctx.where))
        return image, None
    image = ctx.image(text)
    if image is None and ref is not None and pull_policy == 'missing' and not ctx.check_mode:
        try:
            pull(ctx.engine, ref, ref.digest or ref.tag or 'latest', auth_config(ctx.params, ref.registry))
        except RegistryFailure as exc:
            raise SwapError('image %s is not on %s and pulling it failed: %s' % (text, ctx.where, exc.msg))
        image = ctx.image(text)
    if image is None:
        hint = ('it would be pulled (pull: missing)' if pull_policy == 'missing' and ctx.check_mode else
                'stage it first with patchops.containers.image_stage, or set pull: missing')
        return None, ('image %s is not on %s: %s' % (text, ctx.where, hint))
    return image, None


def staged_image(ctx, ref):
    """The stage manifest's entry for a reference (``use_stage_manifest``), or None."""
    if ref is None or not ctx.params.get('use_stage_manifest', True):
        return None
    if ctx.manifest is None:
        try:
            ctx.manifest = read_manifest(ctx.params.get('state_dir'), ctx.engine.info.get('ID'))
        except StageError as exc:
            raise SwapError(exc.msg)
    entry = staged_entry(ctx.manifest, ref)
    return entry if entry and entry.get('image_id') else None


def image_name(ctx, wanted, image_id):
    """The one naming rule for the image a container is created on: as the operator (or the
    journal) named it while that name still means ``image_id``, else by the staged digest
    (the tag moved since staging), else by ID."""
    candidates = [wanted] if wanted else []
    if wanted and not is_image_id(wanted):
        staged = staged_image(ctx, parse(wanted))
        if staged and staged.get('digest'):
            candidates.append(parse(wanted).with_digest(staged['digest']))
    for candidate in candidates:
        current = ctx.image(candidate)
        if current and current['Id'] == image_id:
            return candidate
    return image_id
