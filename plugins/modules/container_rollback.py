#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_rollback
short_description: Put patched containers back on the image they ran before the patch
version_added: 0.1.0
author:
  - patchops.containers developers (@patchops)
description:
  - For each named container, reads the host's journal for its last successful patch and
    recreates it on the image it ran before, with the same config-kept recreate and verification
    as M(patchops.containers.container_patch).
  - The old image must still be on the host; if it was removed the module fails and names it.
  - A container already on its pre-patch image is left alone (idempotent).
  - Rolling back a container recreates the containers that follow it (its network, IPC or PID
    namespace, or a legacy link to it) after it, as M(patchops.containers.container_patch) does.
  - O(abandon) is the way out of an interrupted swap whose recovery the engine keeps refusing (the
    module result and warnings of every run name the container and the state it is in). First put
    the container right by hand (or fix the cause and simply run again, since every run retries the
    recovery), then abandon the entry. Abandoning closes the journal entry and touches no container.
  - O(recover=true) with no O(containers) runs only the recovery that every run starts with (each
    interrupted swap finished or rolled back) and rolls nothing back.
  - C(playbooks/rollback.yml) and the role P(patchops.containers.rollback#role) reach both with the
    variables C(rollback_abandon) and C(rollback_recover) (an AWX job template needs no module task).
extends_documentation_fragment:
  - patchops.containers.engine
  - patchops.containers.swap
  - patchops.containers.probes
attributes:
  check_mode:
    support: full
    description: Returns the plan and changes nothing.
  diff_mode:
    support: full
    description: Images and image IDs before and after, per container.
  idempotent:
    support: full
    description: A container already on its pre-patch image is reported unchanged.
options:
  containers:
    description:
      - Names of the containers to roll back. V(all) alone rolls back every container the journal
        shows patched on this engine.
      - May be empty when O(abandon) is given or O(recover=true).
    type: list
    elements: str
    default: []
  recover:
    description:
      - V(true) makes a run with no O(containers) valid. Such a run settles the interrupted swaps of the
        journal (finished or rolled back, as every run does first; those the engine refuses stay in
        RV(unresolved)) and rolls nothing back.
      - The module fails, changing nothing, if O(containers) is not empty too.
    type: bool
    default: false
  abandon:
    description:
      - Names of containers whose unfinished journal entry is closed (outcome V(abandoned)) without
        touching any container, before anything else is done.
      - The module fails, changing nothing, if a name has no unfinished entry.
    type: list
    elements: str
    default: []
seealso:
  - module: patchops.containers.container_patch
"""

EXAMPLES = r"""
- name: Roll back web after a failed external test
  patchops.containers.container_rollback:
    containers: [web]

- name: Roll back everything patched on this host
  patchops.containers.container_rollback:
    containers: [all]

- name: Close the journal entry of web after putting it right by hand
  patchops.containers.container_rollback:
    abandon: [web]

- name: Settle the interrupted swaps of this host, roll nothing back
  patchops.containers.container_rollback:
    recover: true
"""

RETURN = r"""
plan:
  description: Containers in the order they are (or would be) recreated, with from and to images.
  returned: always
  type: list
  elements: dict
plan_inspected:
  description:
    - How many containers the plan inspected, as returned by M(patchops.containers.container_patch) (which
      says which ones it inspects).
  returned: when a plan was made
  type: int
  sample: 3
containers:
  description:
    - One result per container, as returned by M(patchops.containers.container_patch); a container
      put back on its pre-patch image has the outcome V(restored), one that follows it V(recreated).
  returned: when not in check mode
  type: list
  elements: dict
recovered:
  description:
    - Interrupted swaps found in the journal, and whether each was V(finished), V(rolled_back) or
      is V(unresolved) (the engine refused; see RV(unresolved)).
  returned: always
  type: list
  elements: dict
unresolved:
  description: As returned by M(patchops.containers.container_patch).
  returned: always
  type: list
  elements: dict
abandoned:
  description: The journal entries closed by O(abandon), each with the state its containers were in.
  returned: when O(abandon) is given
  type: list
  elements: dict
rolled_back:
  description:
    - Whether a swap of this run failed and was undone. For this module that means going back to the
      pre-patch image failed and the patched container (the same one) was given back.
  returned: always
  type: bool
engine:
  description: As returned by M(patchops.containers.container_patch).
  returned: when the engine answered
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.patchops.containers.plugins.module_utils._engine import engine_argument_spec
from ansible_collections.patchops.containers.plugins.module_utils._swap.context import SwapError
from ansible_collections.patchops.containers.plugins.module_utils._swap.module import SWAP_ARGUMENT_SPEC, run_module


def rollback_targets(module, ctx):
    names = module.params['containers']
    if not names and module.params['abandon']:
        return []
    if not names and module.params['recover']:
        return []  # the recovery every run starts with is the whole run
    if names == ['all']:
        names = [n for n in ctx.journal.names() if ctx.journal.last_patched(n)]
    if not names:
        raise SwapError('containers is empty: nothing to roll back', changed=False)
    targets = []
    problems = []
    for name in names:
        swap = ctx.journal.last_patched(name)
        if swap is None:
            problems.append('the journal on %s has no patch of container %r to roll back' % (ctx.where, name))
        elif ctx.image(swap['old_image_id']) is None:
            problems.append('the image %s (%s) that %s ran before its patch was removed from %s: rollback '
                            'impossible (stage that image again first)'
                            % (swap['old_image'], swap['old_image_id'], name, ctx.where))
        else:
            targets.append({'name': name, 'image': swap.get('old_image') or swap['old_image_id'],
                            'image_id': swap['old_image_id'], 'reason': 'rollback'})
    if problems:
        raise SwapError('; '.join(problems), changed=False)
    return targets


def main():
    spec = engine_argument_spec(
        containers=dict(type='list', elements='str', default=[]),
        abandon=dict(type='list', elements='str', default=[]),
        recover=dict(type='bool', default=False),
        **SWAP_ARGUMENT_SPEC
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if module.params['recover'] and module.params['containers']:
        module.fail_json(msg='recover: true rolls nothing back; containers must be empty (got %s)'
                         % ', '.join(module.params['containers']), changed=False)
    module.params['pull'] = 'never'
    run_module(module, lambda ctx: rollback_targets(module, ctx))


if __name__ == '__main__':
    main()
