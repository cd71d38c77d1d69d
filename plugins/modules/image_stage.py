#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_stage
short_description: Put exact images on a Docker host before a patch window, pinned by digest
version_added: 0.1.0
author:
  - patchops.containers developers (@patchops)
description:
  - Stages images on the Docker host it runs on, from a registry or from a C(docker save) archive,
    verifies what arrived, and records it in the host's stage manifest so that a later rollout
    (M(patchops.containers.container_patch)) uses exactly the staged image ID, even if the tag
    moved in the registry since.
  - "B(By tag): the tag is resolved to a digest in the registry at stage time (through the engine,
    nothing pulled), the image is pulled B(by that digest), and the tag is then set on it locally.
    The manifest records reference, digest, image ID, size and time."
  - "B(By digest): the image is pulled by digest; when it is already present nothing is asked from
    the registry."
  - "B(From an archive) on the host (air-gapped sites): every layer of the archive is checked
    against the image config before anything is loaded, then the archive is loaded. When a load
    fails, images and tags it added are removed and tags it moved are put back."
  - Before any pull or load, checks that the filesystem of the engine's data root has room for
    everything to fetch, or fails naming the host, path, needed and free bytes.
  - Transient registry errors (registry unreachable, HTTP 429/5xx, time-outs) are retried with
    exponential backoff; authentication failures, unknown images and TLS failures fail at once.
  - With O(state=pruned), removes superseded images of the staged repositories, keeping the newest
    O(keep) previous images per repository, and never an image that a container uses or that the
    patch journal names. With O(state=absent), forgets manifest entries.
extends_documentation_fragment:
  - patchops.containers.engine
options:
  images:
    description:
      - The images to stage (O(state=present)), to forget (O(state=absent)), or whose repositories
        to prune (O(state=pruned); default there is every repository of the stage manifest).
      - Each item has O(images[].ref) or O(images[].archive) or both.
    type: list
    elements: dict
    suboptions:
      ref:
        description:
          - Image reference to stage from its registry, by tag (V(registry.example.com/web:1.4-patched)),
            by digest (V(registry.example.com/web@sha256:...)) or both.
          - With O(images[].archive), the tag to record (and set) for the archive's image, in addition
            to the tags saved in the archive. A digest reference is not accepted there.
        type: str
      archive:
        description:
          - Path, on the Docker host, of a C(docker save) archive (plain, gzip, bzip2 or xz) of exactly
            one image. The role M(patchops.containers.stage) copies controller-side archives there first.
        type: path
      expected_digest:
        description:
          - Registry images only. The manifest digest the reference must resolve to; staging fails
            before any pull when the tag points elsewhere (for example, it moved after approval).
        type: str
      expected_id:
        description:
          - The image ID (V(sha256:<64 hex digits>), or 12 or more leading hex digits) the staged
            image must have. An archive holding another image is not loaded; a pulled image that
            does not match is removed again.
        type: str
  state:
    description:
      - V(present) stages O(images) and records them in the stage manifest.
      - V(absent) forgets the manifest entries of O(images[].ref); images are left for V(pruned).
      - V(pruned) applies retention (see O(keep)).
    type: str
    choices: [present, absent, pruned]
    default: present
  state_dir:
    description:
      - Directory of the per-engine state on the Docker host. The stage manifest is
        C(<state_dir>/<engine ID>/stage.json) (characters other than letters, digits, C(_), C(.),
        C(-) in the engine ID replaced by C(-)); the patch journal is in C(<state_dir>/<engine ID>/journal/).
    type: path
    default: /var/lib/patchops
  registry_username:
    description:
      - User name for the registry. Without O(registry_username) and O(registry_password), the
        credentials stored in the Docker configuration of the user the module runs as are used
        (C(docker login)).
    type: str
  registry_password:
    description:
      - Password or token for O(registry_username).
    type: str
  registry_ca_path:
    description:
      - CA certificate to verify the registry's certificate when the module itself reads image
        manifests from the registry API (to estimate the download size).
      - Defaults to C(/etc/docker/certs.d/<registry>/ca.crt) when that file exists, else the system
        trust store. Pulls are made by the engine and use the engine's own trust settings.
    type: path
  registry_validate_certs:
    description:
      - Verify the registry's TLS certificate when reading manifests for the size estimate.
    type: bool
    default: true
  min_free_bytes:
    description:
      - Bytes that must stay free on the filesystem of the engine's data root after staging.
      - Staging needs the estimated size of what is fetched (see O(space_factor)) plus this.
    type: int
    default: 1073741824
  space_factor:
    description:
      - Multiplier applied to the compressed download size of registry images to estimate the disk
        space a pull uses (download plus unpacked layers). Archive sizes are multiplied by 2.
      - Layers shared with other local images of the same repository are not counted.
    type: float
    default: 3.0
  retries:
    description:
      - How many times a transient registry failure is retried, per registry operation.
    type: int
    default: 3
  retry_delay:
    description:
      - Seconds before the first retry; doubled for each further retry (at most 60 s).
    type: float
    default: 2.0
  keep:
    description:
      - O(state=pruned) only. How many previous (not currently staged) images to keep per repository,
        newest first by creation time, in addition to the images kept because a container uses them,
        the journal names them or they carry a staged tag.
    type: int
    default: 1
  lock_timeout:
    description:
      - Seconds to wait for another run holding the stage manifest lock, or (O(state=pruned)) the
        per-engine patch lock.
    type: int
    default: 60
attributes:
  check_mode:
    support: full
    description:
      - Resolves tags, checks free space and reports per image what would be pulled, loaded or tagged
        with the estimated download size; nothing is pulled, loaded, tagged, removed or written.
  diff_mode:
    support: full
    description:
      - With O(state=present) or O(state=absent), the stage manifest entries before and after.
  idempotent:
    support: full
    description:
      - An image already present with the right digest (or image ID for an archive), its tag and
        manifest entry in place, is reported as V(present) and nothing is pulled or written.
      - "By tag, the registry is asked again: if the tag moved since the last run, the new digest is staged."
notes:
  - The module runs on the Docker host (it reads the engine's data root for free space, archives and
    the state directory there).
  - "Manifest contract for readers: C(images) maps a reference (V(name:tag), or V(name@digest) when
    staged by digest only) to C(reference), C(repository), C(tag), C(digest), C(repo_digest),
    C(image_id), C(size), C(source) (V(registry) or V(archive)), C(archive), C(staged_at) and
    C(previous) (images it replaced). Use C(read_manifest) and C(resolve_staged) of the collection's
    private C(_manifest) module utils."
  - "Journal contract for retention: a journal file C(<state_dir>/<engine ID>/journal/<container>.json)
    whose keys or values name an image ID (V(sha256:<hex>), the 64-digit hex, or the 12-digit short ID)
    keeps that image. A journal file that cannot be read, is corrupted or is of a newer format stops
    the prune."
  - Retention takes the per-engine patch lock, so it never runs while a patch run of the same engine
    holds it.
seealso:
  - name: Staging guide
    description: The image_stage module and the stage role, every variable.
    link: https://example.invalid/patchops/containers/tree/main/docs/stage.md
"""

EXAMPLES = r"""
- name: Stage the patched images by tag (resolved to a digest now, pulled by digest)
  patchops.containers.image_stage:
    images:
      - ref: registry.example.com/shop/web:1.4-patched
      - ref: registry.example.com/shop/api:2.0-patched
        expected_digest: sha256:6f1d0e1b4f5c1d4a4d5ee0b3fa9a3c6c8e1bd04c5e3a1bfb1d7e4c6e2a0b9c1d
    registry_username: patcher
    registry_password: "{{ vault_registry_password }}"
    min_free_bytes: "{{ 5 * 1024 * 1024 * 1024 }}"
  register: staged

- name: Air-gapped host, archive already copied there
  patchops.containers.image_stage:
    images:
      - archive: /srv/images/web-1.4-patched.tar
        ref: registry.example.com/shop/web:1.4-patched
        expected_id: sha256:15562129dbec7a1f0b6a6b7b44c4f3b1d0a5d1e2f3c4b5a6978877665544aabb

- name: After a verified rollout, remove superseded images (keep one previous per repository)
  patchops.containers.image_stage:
    state: pruned
    keep: 1

- name: Forget an entry of the stage manifest
  patchops.containers.image_stage:
    state: absent
    images:
      - ref: registry.example.com/shop/api:2.0-patched
"""

RETURN = r"""
images:
  description: O(state=present) only. One record per item of O(images), in order.
  returned: success or failure after some images were staged
  type: list
  elements: dict
  contains:
    reference:
      description: The manifest key of the item (first tag of an archive).
      type: str
      returned: always
      sample: 10.213.7.1:5000/patchops/app:v2
    references:
      description: Every manifest key the item records (an archive with several tags has several).
      type: list
      elements: str
      returned: always
      sample: [10.213.7.1:5000/patchops/app:v2]
    source:
      description: V(registry) or V(archive).
      type: str
      returned: always
      sample: registry
    action:
      description:
        - V(pulled), V(loaded), V(tagged) (already present, tag set), V(present) (nothing done), or in
          check mode V(would_pull), V(would_load), V(would_tag).
      type: str
      returned: always
      sample: pulled
    digest:
      description: Registry manifest digest staged; V(null) for archives.
      type: str
      returned: always
      sample: sha256:e14d0e9f20e8ff370d1f10ad1cf9dba286c5abe8de088cbff0849e16c07b610d
    image_id:
      description: Image ID staged; V(null) in check mode for an image not yet present.
      type: str
      returned: always
      sample: sha256:15562129dbec2c3a6d1e8cb1bb6e6c28e2a86c6d5d1c3a1e9bb1d1a3c5e7f9a1
    size:
      description: Image size in bytes as the engine reports it.
      type: int
      returned: always
      sample: 1984844
    estimated_bytes:
      description: Estimated download (registry, compressed, shared layers not counted) or archive content
        size; V(null) when nothing is fetched or the size is unknown.
      type: int
      returned: always
      sample: 1021436
    archive:
      description: Archive path for V(archive) items.
      type: str
      returned: always
      sample: null
    registry_attempts:
      description: Registry operations made for this item, retries included.
      type: int
      returned: always
      sample: 1
space:
  description: O(state=present) only. The free space check.
  returned: success
  type: dict
  contains:
    path:
      description: The engine's data root (C(DockerRootDir)).
      type: str
      returned: always
      sample: /var/lib/docker
    free_bytes:
      description: Free bytes there; V(null) when nothing is fetched or it could not be read.
      type: int
      returned: always
      sample: 85899345920
    needed_bytes:
      description: Bytes needed (estimate x factor + O(min_free_bytes)); V(null) when nothing is fetched.
      type: int
      returned: always
      sample: 1076497246
    fetch_bytes:
      description: Sum of the estimated sizes to fetch; V(null) when nothing is fetched.
      type: int
      returned: always
      sample: 1021436
manifest:
  description: The stage manifest after the run (in check mode, as it would be).
  returned: success, O(state=present) or O(state=absent)
  type: dict
  sample:
    format: 1
    engine_id: RHJE:Y3SW:AT5C:J3HT:FM5N:IGFI:LGPC:35TD:6HCW:FAFS:4PE5:5QJC
    engine_name: lab1
    updated_at: "2026-11-28T13:00:00Z"
    images:
      "10.213.7.1:5000/patchops/app:v2":
        reference: "10.213.7.1:5000/patchops/app:v2"
        repository: 10.213.7.1:5000/patchops/app
        tag: v2
        digest: sha256:e14d0e9f20e8ff370d1f10ad1cf9dba286c5abe8de088cbff0849e16c07b610d
        repo_digest: 10.213.7.1:5000/patchops/app@sha256:e14d0e9f20e8ff370d1f10ad1cf9dba286c5abe8de088cbff0849e16c07b610d
        image_id: sha256:15562129dbec2c3a6d1e8cb1bb6e6c28e2a86c6d5d1c3a1e9bb1d1a3c5e7f9a1
        size: 1984844
        source: registry
        staged_at: "2026-11-28T13:00:00Z"
        previous: []
manifest_path:
  description: Path of the stage manifest on the host.
  returned: success
  type: str
  sample: /var/lib/patchops/RHJE-Y3SW-AT5C-J3HT-FM5N-IGFI-LGPC-35TD-6HCW-FAFS-4PE5-5QJC/stage.json
engine_id:
  description: ID of the engine staged on.
  returned: success
  type: str
  sample: RHJE:Y3SW:AT5C:J3HT:FM5N:IGFI:LGPC:35TD:6HCW:FAFS:4PE5:5QJC
forgotten:
  description: O(state=absent) only. Manifest keys removed.
  returned: success
  type: list
  elements: str
  sample: [registry.example.com/shop/api:2.0-patched]
removed:
  description:
    - O(state=pruned) only. Images whose references in the repository were removed (in check mode,
      would be). C(removes_image) tells whether the image itself goes (no reference left).
  returned: success
  type: list
  elements: dict
  sample:
    - repository: 10.213.7.1:5000/patchops/app
      image_id: sha256:2554952ae5cb6cfd1b6e0d6c5a3d7f9e1b2c3d4e5f60718293a4b5c6d7e8f901
      references: [10.213.7.1:5000/patchops/app:v1]
      created: "2026-11-28T12:40:00.123456789Z"
      removes_image: true
kept:
  description: O(state=pruned) only. Previous images kept, each with the C(reasons).
  returned: success
  type: list
  elements: dict
  sample:
    - repository: 10.213.7.1:5000/patchops/app
      image_id: sha256:2554952ae5cb6cfd1b6e0d6c5a3d7f9e1b2c3d4e5f60718293a4b5c6d7e8f901
      references: [10.213.7.1:5000/patchops/app@sha256:caacd6125ed4240c5adf663515c91a7440a15f19889b1aa5bc4a2b897095dac7]
      created: "2026-11-28T12:40:00.123456789Z"
      reasons: [used by container web]
repositories:
  description: O(state=pruned) only. Repositories considered.
  returned: success
  type: list
  elements: str
  sample: [10.213.7.1:5000/patchops/app]
keep:
  description: O(state=pruned) only. The O(keep) applied.
  returned: success
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    EngineError,
    connect,
    engine_argument_spec,
    fail_module,
)
from ansible_collections.patchops.containers.plugins.module_utils._journal import DEFAULT_STATE_DIR, JournalError
from ansible_collections.patchops.containers.plugins.module_utils._manifest import StageError
from ansible_collections.patchops.containers.plugins.module_utils._registry import REGISTRY_ARGUMENT_SPEC
from ansible_collections.patchops.containers.plugins.module_utils._retention import Pruner
from ansible_collections.patchops.containers.plugins.module_utils._stage import Stager


def argument_spec():
    spec = engine_argument_spec(
        images=dict(type='list', elements='dict', options=dict(
            ref=dict(type='str'),
            archive=dict(type='path'),
            expected_digest=dict(type='str'),
            expected_id=dict(type='str'),
        )),
        state=dict(type='str', choices=['present', 'absent', 'pruned'], default='present'),
        state_dir=dict(type='path', default=DEFAULT_STATE_DIR),
        registry_ca_path=dict(type='path'),
        registry_validate_certs=dict(type='bool', default=True),
        min_free_bytes=dict(type='int', default=1073741824),
        space_factor=dict(type='float', default=3.0),
        retries=dict(type='int', default=3),
        retry_delay=dict(type='float', default=2.0),
        keep=dict(type='int', default=1),
        lock_timeout=dict(type='int', default=60),
    )
    spec.update(REGISTRY_ARGUMENT_SPEC)
    return spec


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_if=[('state', 'present', ['images']), ('state', 'absent', ['images'])],
        required_together=[('registry_username', 'registry_password')],
    )
    params = module.params
    for number, item in enumerate(params.get('images') or []):
        if not item.get('ref') and not item.get('archive'):
            module.fail_json(msg='images[%d] needs ref or archive' % number)
    if params['retries'] < 0 or params['retry_delay'] < 0 or params['min_free_bytes'] < 0 or params['space_factor'] < 0:
        module.fail_json(msg='retries, retry_delay, min_free_bytes and space_factor must not be negative')

    engine = connect(module)
    try:
        if params['state'] == 'pruned':
            result = Pruner(engine, params, module.check_mode, module.warn).run()
        else:
            stager = Stager(engine, params, module.check_mode, module.warn)
            result = stager.present() if params['state'] == 'present' else stager.absent()
    except (StageError, EngineError, JournalError) as exc:  # JournalError: a lock held too long by another run
        fail_module(module, exc)

    before = result.pop('before', None)
    if module._diff and before is not None:
        result['diff'] = {'before': before.get('images', {}), 'after': result['manifest'].get('images', {}),
                          'before_header': result['manifest_path'], 'after_header': result['manifest_path']}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
