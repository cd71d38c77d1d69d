#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_patch
short_description: Recreate containers on a patched image, config kept, verified, rolled back on failure
version_added: 0.1.0
author:
  - patchops.containers developers (@patchops)
description:
  - Recreates each named container on its target image with everything the operator configured
    kept (all of HostConfig, every network with aliases and static IPs, links, labels, anonymous
    volumes re-attached by name), and the old image's defaults (ENV, labels, Cmd/Entrypoint,
    WorkingDir, User, Healthcheck, ExposedPorts, Volumes) taken out so that the new image's apply.
  - The old container is never deleted before the new one is verified (running, HEALTHCHECK
    healthy, probes passing). On failure the new container is removed and the old one, the same
    container with the same ID, is renamed back and started again.
  - Every step is written to a journal on the host before it is taken; a later run finishes or
    rolls back a swap that a crash interrupted, and says which. A per-engine lock keeps two runs
    from interleaving.
  - Containers are recreated in dependency order (links, C(container:) network, IPC and PID modes,
    C(volumes_from), the C(patchops.depends-on) label, compose's C(depends_on) label).
  - A container that follows a patched one (shares its network, IPC or PID namespace, or has a
    legacy C(--link) to it) cannot outlive the old container, so it is recreated after it on its own
    image (outcome V(recreated)), in one group with it. A group is swapped stop-first. Followers
    are stopped first, then the provider; each member is recreated, started and verified in order;
    the old containers are removed only when every member is verified, and if any member fails the
    whole group is given back (the same containers, provider started before its followers).
  - "Compose: a container created by compose (C(com.docker.compose.*) labels) keeps every label, and the
    local tag of its service's C(image:) reference is moved to the patched image (and back on rollback),
    with C(com.docker.compose.image) set to it, so that C(docker compose up -d) sees the container in
    sync and recreates nothing; the compose file is not edited unless O(compose_file=update).
    RV(containers[].compose_retagged) names the reference that was moved."
  - "A tag that containers not in the run use is not moved: when other containers run what the service's
    reference names (a service sharing its C(image:) with other services, or any container created from
    it), the plan fails, in check mode too, naming them, and nothing changes. Patch them in the same run,
    use O(compose_file=update) (no tag moves), or set O(move_shared_tag=true)."
  - A running container already on its target image is verified as a new one would be (HEALTHCHECK waited
    on, probes run); if that fails, the module fails naming it (outcome V(failed)), and changes nothing.
  - "When a target image fails verification on a container in the run, the containers of the run that
    cannot be verified on it (not running, or no HEALTHCHECK and no probe) are not put on it: they are
    V(held). Such containers wait for the containers of the run that verify their target image."
  - A paused container is patched and left paused. The old one is unpaused only to be stopped (a
    paused process gets no signal), the new one is verified and then paused.
  - An interrupted swap that the engine will not let the next run recover (for example a bind
    mount source that was removed) is reported in RV(unresolved) and in a warning that says which
    container is in which state. Containers that have nothing to do with it are patched, and a
    target it involves fails with that message. Every run retries the recovery; after fixing things
    by hand, close the entry with O(patchops.containers.container_rollback#module:abandon).
extends_documentation_fragment:
  - patchops.containers.engine
  - patchops.containers.swap
  - patchops.containers.probes
attributes:
  check_mode:
    support: full
    description: Returns the plan (containers, from and to images, strategy, order) and changes nothing.
  diff_mode:
    support: full
    description: Images and image IDs before and after, per container.
  idempotent:
    support: full
    description: A container already on its target image is not recreated; a running one is verified again.
options:
  containers:
    description: The containers to patch on this host and their target images.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Container name (or ID).
          - Or leave it out and give O(containers[].compose_project) and O(containers[].service).
        type: str
      compose_project:
        description: With O(containers[].service), patch every container (all replicas) of that compose service.
        type: str
      service:
        description: The compose service (see O(containers[].compose_project)).
        type: str
      image:
        description:
          - Target image, as a tag (V(repo:tag)), a digest (V(repo@sha256:...)) or an image ID.
          - It must already be on the host unless O(pull=missing).
        type: str
        required: true
      strategy:
        description: Overrides O(strategy) for this container.
        type: str
        choices: [stop-first, start-first, auto]
      stop_timeout:
        description:
          - Seconds this container gets to exit on its stop signal before the engine kills it.
          - Without it, the container's own stop timeout (C(docker run --stop-timeout)) applies if it has
            one, else O(stop_timeout).
        type: int
  pull:
    description: V(missing) pulls a target image that is not on the host; V(never) fails instead.
    type: str
    default: never
    choices: [never, missing]
  use_stage_manifest:
    description:
      - Patch a tag or digest target to the exact image M(patchops.containers.image_stage) staged for it
        (recorded in the stage manifest on the host), even if the tag has moved since.
      - V(false) uses whatever the reference means on the host now.
    type: bool
    default: true
  compose_file:
    description:
      - What a patch of a compose container does with its service's compose file.
      - V(keep) leaves the file as it is and moves the local tag of the service's C(image:) reference to
        the patched image.
      - V(update) writes the target reference into the C(image:) line of each patched service, in the file
        of the container's C(com.docker.compose.project.config_files) label (the last one that sets it),
        every other byte of the file kept; no tag moves. A copy of the file as it was is kept beside it
        (C(<file>.patchops-<UTC time>.bak), once per run). A rollback, automatic or by
        M(patchops.containers.container_rollback), writes the reference back. The target must be a tag or
        digest reference that names the target image on the host. A file that names another image than
        the container was created from, an C(image:) set by a variable, through a YAML anchor or in flow
        style, fails the plan before anything changes.
      - Check mode and diff mode show the file, line and C(image:) before and after (RV(plan[].compose_file)).
    type: str
    choices: [keep, update]
    default: keep
  move_shared_tag:
    description:
      - Move the local tag of a compose service's C(image:) reference to the patched image even when
        containers not in the run use it. They then run an image that the tag no longer names, and
        compose recreates them on the patched image at its next C(up), unverified; a warning names them.
      - Without it such a patch fails before anything changes (see the description).
    type: bool
    default: false
  compose_command:
    description:
      - The compose command on the host that computes a compose service's config hash (C(config --hash)),
        as a path or a command line, for example V(/opt/compose/docker-compose) or V(docker compose).
      - Without it the host's C(docker compose), C(docker-compose) and the C(docker-compose) binary in the
        docker CLI plugin directories are tried, and the first of the container's compose major version
        (its C(com.docker.compose.version) label) is used; Compose v1 and v2 hash differently.
      - Compose v1 needs it after every patch (its hash holds the image ID); Compose v2 only when the
        service's C(image:) string changes (O(compose_file=update)).
    type: str
  registry_username:
    description: Registry user for O(pull=missing); else the host's stored docker credentials are used.
    type: str
  registry_password:
    description: Registry password for O(pull=missing).
    type: str
notes:
  - The old image is never removed by this module; see P(patchops.containers.image_stage#module) for retention.
  - For crash tests only, the environment variable E(PATCHOPS_TEST_CRASH_AT) set to a step name makes the module
    exit right after journaling that step; E(PATCHOPS_TEST_PAUSE_AT) makes it stop itself (SIGSTOP) there, once,
    until it is sent SIGCONT.
seealso:
  - module: patchops.containers.container_rollback
  - module: patchops.containers.container_probe
"""

EXAMPLES = r"""
- name: Patch two containers, stop-first, with an HTTP probe
  patchops.containers.container_patch:
    containers:
      - name: web
        image: registry.example.com/shop/web:1.4.2
      - name: worker
        image: registry.example.com/shop/worker@sha256:4f3c...
    probes:
      - type: http
        url: http://127.0.0.1:8080/health
        status: [200]

- name: Patch every replica of the compose service web of project shop
  patchops.containers.container_patch:
    containers:
      - compose_project: shop
        service: web
        image: registry.example.com/shop/web:1.4.2-patched

- name: Patch a compose service and write the new reference into its compose file
  patchops.containers.container_patch:
    containers:
      - compose_project: shop
        service: api
        image: registry.example.com/shop/api:2.0.1
    compose_file: update

- name: Plan only
  patchops.containers.container_patch:
    containers: "{{ patch_targets }}"
  check_mode: true
  register: plan
"""

RETURN = r"""
plan:
  description:
    - Containers in the order they are (or would be) recreated.
    - For each container to recreate, RV(plan[].stop_timeout) and RV(plan[].stop), what stopping it is
      expected to do, read before anything is touched.
  returned: always
  type: list
  elements: dict
  sample: [{container: web, order: 1, action: recreate, strategy: stop-first, old_image: "app:v1", new_image: "app:v2"}]
  contains:
    stop_timeout: {description: Seconds the swap will give the old container to exit., type: int, returned: when recreated}
    stop:
      description:
        - "V(pid1) (its command line, from the engine's process list), V(init) (run under an init such as
          C(--init)), V(stop_signal), V(stop_timeout), V(handles_signal) (whether PID 1 has a handler for
          the stop signal, read from the host's C(/proc); null when the engine is on another machine),
          V(kill_risk), V(kill_reason) and V(expected_stop_s) (seconds the stop is expected to take when
          the process will be killed)."
        - A PID 1 without a handler for the stop signal ignores it (the kernel applies no default action
          to a PID namespace's init), so the engine kills it when the stop timeout runs out.
      type: dict
      returned: when recreated
    verifiable:
      description:
        - Whether the container can be verified on its target - it runs (not paused), and a probe or a
          HEALTHCHECK (its own, else the image's) is waited on. One that cannot waits for the containers of
          the run that verify its target image, and is V(held) if that image failed.
      type: bool
      returned: unless blocked
    compose_file:
      description:
        - With O(compose_file=update), the edit of the compose file, V({path, line, service, from, to}) (the
          C(image:) before and after); for a rollback of such a patch, the edit back.
      type: dict
      returned: when the compose file is edited
plan_inspected:
  description:
    - How many containers the plan inspected. It lists every container of the engine once, then inspects
      the targets and the containers that may follow them. Legacy links and C(container:) network modes
      come from the list. On a local engine, a running follower is found by the host's C(/proc) (it shares
      a namespace of the target). A stopped container is inspected only when it was created after the
      target. When C(/proc) cannot tell (a remote engine, a module not run as root), every
      running container is inspected too.
  returned: when a plan was made
  type: int
  sample: 3
containers:
  description:
    - One result per container, with ids and images before and after, strategy, downtime in ms
      (old stopped to new verified), verification results and whether it was rolled back.
  returned: when not in check mode
  type: list
  elements: dict
  contains:
    container: {description: Name., type: str, returned: always}
    outcome:
      description:
        - V(patched) - on its new image, verified.
        - V(recreated) - follows a patched container, recreated on its own image.
        - V(current) - already on its target image; if it runs, verified as a new container would be
          (RV(containers[].verification)).
        - V(rolled_back) - its swap, or its group's, failed; the same container runs again (unless
          RV(containers[].not_started) says why it could not start).
        - V(failed) - O(rollback=never), or the rollback failed too (RV(containers[].failure) says what state
          it is in); or it was on its target image already and failed verification (not changed).
        - V(kept_new) - its swap failed and the container from before it was gone (removed by someone else, or left
          dead by an engine killed while it removed it), so the new container is kept under its name.
        - V(abandoned) - its swap failed, the container from before it was gone and no container holds its name.
        - V(held) - not changed, because its target image failed verification on another container of this
          run and this one cannot be verified (RV(containers[].reason) says why); so is every member of its group.
        - V(not_attempted) - not started, after a failure (O(on_failure=stop)) or because a container it
          depends on failed.
        - V(blocked) - an unresolved interrupted swap involves it; not touched.
      type: str
      returned: always
    reason:
      description:
        - V(patch), or V(follows NAME (network namespace|IPC namespace|PID namespace|link)).
        - For V(held), why it was held (the image, the container it failed on, why this one cannot be verified).
      type: str
      returned: always
    group:
      description: The provider whose group the container was swapped in (its own name when alone).
      type: str
      returned: always
    failure:
      description: Why the swap failed (for members of a failed group, the member that failed and why).
      type: str
      returned: when the swap failed
    not_started:
      description:
        - Given back but not started, and why. The container whose namespace (network, IPC or PID) it joins
          was removed outside the run, so the engine cannot start it. The swap is closed, not retried.
      type: str
      returned: when a container given back could not start
    old_id: {description: Container ID before., type: str, returned: always}
    new_id: {description: Container ID after (the old ID after a rollback)., type: str, returned: always}
    old_image_id: {description: Image ID before., type: str, returned: always}
    new_image_id: {description: Image ID after., type: str, returned: always}
    old_digests: {description: Repo digests of the old image., type: list, elements: str, returned: always}
    new_digests: {description: Repo digests of the new image., type: list, elements: str, returned: always}
    strategy: {description: Strategy used., type: str, returned: always}
    downtime_ms:
      description:
        - What clients could miss, in ms. Stop-first, from stopping the old container to the new one verified.
        - Start-first, the largest gap between the old container leaving a network and the new one joining it
          with the service's aliases (V(alias_gap) of RV(containers[].breakdown_ms)); without aliases, from the old
          container leaving (disconnect or stop) to the new one taking its name (V(name_gap)).
      type: int
      returned: always
    breakdown_ms:
      description:
        - Milliseconds per phase of the swap, V(stop), V(rename), V(create) (and connecting networks),
          V(start), V(ready) (HEALTHCHECK and probes), V(remove) (the old container), V(aliases) (start-first,
          moving the service's aliases).
        - Start-first also the measured gaps of RV(containers[].downtime_ms), V(alias_gap) (when aliases were held)
          and V(name_gap).
      type: dict
      returned: when recreated
    stopped_by:
      description:
        - V(signal) when the old container exited on its stop signal, V(kill) when it did not within the
          stop timeout and the engine killed it (a warning says why that happens and what fixes it).
      type: str
      returned: when the old container was running
    stop_signal: {description: The stop signal the old container was sent., type: str, returned: when recreated}
    compose_retagged:
      description: The compose service's image reference whose local tag now means the new image (null otherwise).
      type: str
      returned: when recreated
    compose_file_backup:
      description: With O(compose_file=update), the copy of the compose file as it was before this run (null otherwise).
      type: str
      returned: when recreated
    stop_waited_ms: {description: Milliseconds the stop took., type: int, returned: when the old container was running}
    verification: {description: Readiness and probe results., type: list, elements: dict, returned: always}
    rolled_back: {description: Whether the old container was restored., type: bool, returned: always}
recovered:
  description:
    - Interrupted swaps found in the journal, and whether each was V(finished), V(rolled_back) or
      is V(unresolved).
  returned: always
  type: list
  elements: dict
unresolved:
  description:
    - Interrupted swaps that could not be recovered in this run (the engine refused a step), with
      the container, the step, the engine's error and the state of the containers holding its names.
  returned: always
  type: list
  elements: dict
rolled_back:
  description: Whether a failed swap was rolled back (also set on failure).
  returned: always
  type: bool
engine:
  description:
    - The engine the module worked on, V(kind) V(docker) or V(podman) (its Docker-compatible API),
      V(version) that engine's own, V(api_version) the API spoken.
  returned: when the engine answered
  type: dict
  sample: {kind: podman, version: 5.4.2, api_version: "1.41"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.patchops.containers.plugins.module_utils._engine import engine_argument_spec
from ansible_collections.patchops.containers.plugins.module_utils._registry import REGISTRY_ARGUMENT_SPEC
from ansible_collections.patchops.containers.plugins.module_utils._swap.module import (
    STRATEGIES, SWAP_ARGUMENT_SPEC, run_module)


def main():
    spec = engine_argument_spec(
        containers=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str'),
            compose_project=dict(type='str'),
            service=dict(type='str'),
            image=dict(type='str', required=True),
            strategy=dict(type='str', choices=list(STRATEGIES)),
            stop_timeout=dict(type='int'),
        )),
        pull=dict(type='str', default='never', choices=['never', 'missing']),
        use_stage_manifest=dict(type='bool', default=True),
        compose_file=dict(type='str', default='keep', choices=['keep', 'update']),
        compose_command=dict(type='str'),
        move_shared_tag=dict(type='bool', default=False),
        **dict(SWAP_ARGUMENT_SPEC, **REGISTRY_ARGUMENT_SPEC)
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, lambda ctx: module.params['containers'])


if __name__ == '__main__':
    main()
