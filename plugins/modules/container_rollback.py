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
    type: list
    elements: str
    required: true
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
"""

RETURN = r"""
plan:
  description: Containers in the order they are (or would be) recreated, with from and to images.
  returned: always
  type: list
  elements: dict
containers:
  description: One result per container, as returned by M(patchops.containers.container_patch).
  returned: when not in check mode
  type: list
  elements: dict
recovered:
  description: Interrupted swaps found in the journal, and whether each was V(finished) or V(rolled_back).
  returned: always
  type: list
  elements: dict
rolled_back:
  description: Whether going back failed and the current container was kept.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.patchops.containers.plugins.module_utils._engine import engine_argument_spec
from ansible_collections.patchops.containers.plugins.module_utils._swap import (
    SWAP_ARGUMENT_SPEC, SwapError, run_module)


def rollback_targets(module, swapper):
    names = module.params['containers']
    if names == ['all']:
        names = [n for n in swapper.journal.names() if swapper.journal.last_patched(n)]
    if not names:
        raise SwapError('containers is empty: nothing to roll back', changed=False)
    targets = []
    problems = []
    for name in names:
        swap = swapper.journal.last_patched(name)
        if swap is None:
            problems.append('the journal on %s has no patch of container %r to roll back' % (swapper.where, name))
        elif swapper.image(swap['old_image_id']) is None:
            problems.append('the image %s (%s) that %s ran before its patch was removed from %s: rollback '
                            'impossible (stage that image again first)'
                            % (swap['old_image'], swap['old_image_id'], name, swapper.where))
        else:
            # Name the image by its old tag while that tag still means the same image.
            by_tag = swapper.image(swap['old_image']) if swap.get('old_image') else None
            image = swap['old_image'] if by_tag and by_tag['Id'] == swap['old_image_id'] else swap['old_image_id']
            targets.append({'name': name, 'image': image, 'reason': 'rollback'})
    if problems:
        raise SwapError('; '.join(problems), changed=False)
    return targets


def main():
    spec = engine_argument_spec(
        containers=dict(type='list', elements='str', required=True),
        **SWAP_ARGUMENT_SPEC
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    module.params['pull'] = 'never'
    run_module(module, lambda swapper: rollback_targets(module, swapper))


if __name__ == '__main__':
    main()
