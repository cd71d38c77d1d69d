#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_probe
short_description: Test containers before or after a patch (HEALTHCHECK, HTTP, TCP, exec, logs)
version_added: 0.1.0
author:
  - patchops.containers developers (@patchops)
description:
  - Runs checks against containers on the host with the same runner that
    M(patchops.containers.container_patch) uses to verify a swap.
  - Read-only; reports every probe's result with its output, and fails when one fails unless
    O(fail_on_error=false).
extends_documentation_fragment:
  - patchops.containers.engine
  - patchops.containers.probes
attributes:
  check_mode:
    support: full
    description: Probes only read, so they run in check mode too.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: Read-only, always reports changed=false.
options:
  containers:
    description: Names (or IDs) of the containers to test; each gets every probe.
    type: list
    elements: str
    required: true
  fail_on_error:
    description: Fail the task when a probe fails; V(false) only reports.
    type: bool
    default: true
seealso:
  - module: patchops.containers.container_patch
"""

EXAMPLES = r"""
- name: Baseline before the window
  patchops.containers.container_probe:
    containers: [web]
    probes:
      - type: http
        url: http://127.0.0.1:8080/health
        body_regex: ok
      - type: log
        pattern: "(?i)panic|fatal"
  register: baseline

- name: From inside the container's network namespace
  patchops.containers.container_probe:
    containers: [api]
    wait_health: false
    probes:
      - type: tcp
        port: 5432
        host: db
        source: container
"""

RETURN = r"""
results:
  description: Per container, whether all checks passed and each check's result.
  returned: always
  type: list
  elements: dict
  contains:
    container: {description: Name., type: str, returned: always}
    ok: {description: Whether every check passed., type: bool, returned: always}
    health:
      description: Health status at the end, V(healthy), V(unhealthy), V(starting), V(none) (no HEALTHCHECK) or the state if not running.
      type: str
      returned: always
    probes:
      description: One result per check (readiness first when O(wait_health)), with name, type, ok, attempts, output, duration_ms.
      type: list
      elements: dict
      returned: always
failed_containers:
  description: Names of the containers with a failed check.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    NotFound, connect, engine_argument_spec)
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError
from ansible_collections.patchops.containers.plugins.module_utils._probe import (
    VERIFY_ARGUMENT_SPEC, ProbeError, health_status, validate, verify)


def main():
    spec = engine_argument_spec(
        containers=dict(type='list', elements='str', required=True),
        fail_on_error=dict(type='bool', default=True),
        **VERIFY_ARGUMENT_SPEC
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    if not params['containers']:
        module.fail_json(msg='containers is empty: name at least one container to test', changed=False)
    try:
        for index, probe in enumerate(params['probes']):
            validate(probe, index)
    except ProbeError as exc:
        module.fail_json(msg='probes: %s' % exc, changed=False)
    engine = connect(module)
    results = []
    try:
        for name in params['containers']:
            try:
                engine.call('inspect container %s' % name, engine.api.inspect_container, name)
            except NotFound:
                module.fail_json(msg='container %r not found on %s' % (name, engine.docker_host), changed=False)
        for name in params['containers']:
            ok, checks = verify(engine, name, params['probes'], wait_health=params['wait_health'],
                                timeout=params['verify_timeout'], settle=params['settle'])
            state = engine.call('inspect container %s' % name, engine.api.inspect_container, name)
            results.append({'container': name, 'ok': ok, 'health': health_status(state), 'probes': checks})
    except EngineError as exc:
        module.fail_json(msg=exc.msg, changed=False, results=results)
    failed = [r['container'] for r in results if not r['ok']]
    if failed and params['fail_on_error']:
        first = next(r for r in results if not r['ok'])
        module.fail_json(msg='probe failed on %s: %s' % (first['container'], first['probes'][-1]['output']),
                         changed=False, results=results, failed_containers=failed)
    module.exit_json(changed=False, results=results, failed_containers=failed)


if __name__ == '__main__':
    main()
