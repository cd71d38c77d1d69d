# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The body of the modules that recreate containers (container_patch, container_rollback): their
shared options, and lock, abandon, recover, plan, check/diff, execute.

Private: not a public API of the collection.
"""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._engine import connect
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError
from ansible_collections.patchops.containers.plugins.module_utils._journal import (
    DEFAULT_STATE_DIR, Journal, JournalError, Lock)
from ansible_collections.patchops.containers.plugins.module_utils._probe import VERIFY_ARGUMENT_SPEC, ProbeError, validate
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapContext, SwapError
from ansible_collections.patchops.containers.plugins.module_utils._swap.plan import make_plan, plan_diff
from ansible_collections.patchops.containers.plugins.module_utils._swap.recovery import (
    abandon, recover, unresolved_message)
from ansible_collections.patchops.containers.plugins.module_utils._swap.schedule import execute

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


def run_module(module, targets):
    """The body of a module that recreates containers: lock, abandon (container_rollback), recover,
    plan, check/diff, execute.

    ``targets(ctx)`` (ctx: the run's SwapContext) returns the containers to recreate as [{name, image,
    image_id?, strategy?, reason?}]; it may return [] when the run only abandons journal entries.
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
    ctx = SwapContext(engine, journal, module.params, check_mode=module.check_mode)
    result = dict(changed=False, rolled_back=False, recovered=[], plan=[], unresolved=[], engine=engine.facts)
    try:
        with Lock.engine(module.params['state_dir'], engine_id, module.params['lock_timeout']):
            if not module.check_mode:
                journal.sweep_temporaries()
            journal.validate_all()
            names = module.params.get('abandon') or []
            if names:
                result['abandoned'] = abandon(ctx, names)
                result['changed'] = not module.check_mode
            result['recovered'] = recover(ctx)
            result['unresolved'] = list(ctx.unresolved.values())
            settled = [r for r in result['recovered'] if r['action'] in ('finished', 'rolled_back')]
            result['changed'] = result['changed'] or (bool(settled) and not module.check_mode)
            wanted = targets(ctx)
            if wanted or not (names or module.params.get('recover')):
                plan = make_plan(ctx, wanted)
                result['plan'] = plan
                result['plan_inspected'] = len(ctx.inspected)
                if module._diff:
                    result['diff'] = plan_diff(plan)
                pending = any(p['action'] == 'recreate' for p in plan)
                if not module.check_mode:
                    result['containers'] = execute(ctx, plan)
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
        _warn(module, ctx)
        module.fail_json(msg=exc.msg, **result)
    except (JournalError, EngineError) as exc:
        if result['plan'] and not module.check_mode:
            result.setdefault('containers', [])  # the run stopped: planned containers with no result were not attempted
        _warn(module, ctx)
        module.fail_json(msg=getattr(exc, 'msg', None) or str(exc), **result)
    _warn(module, ctx)
    module.exit_json(**result)


def _warn(module, ctx):
    for text in ctx.journal_errors:
        module.warn('%s; the containers were put back all the same; run again once the journal can be '
                    'written, so that it records the outcome' % text)
    for name in ctx.unresolved:
        module.warn(unresolved_message(ctx, name))
    for text in ctx.notes:
        module.warn(text)
