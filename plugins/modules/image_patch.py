#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_patch
short_description: Make the patched image of an image whose OS packages have updates, as one layer, without BuildKit
version_added: 0.1.0
author:
  - patchops.containers developers (@patchops)
description:
  - Builds, on the Docker host it runs on (a build host), the patched image of O(image), the
    original image's layers unchanged plus exactly B(one) layer holding the updated OS packages,
    and the original image's config (command, entrypoint, environment, user, working directory,
    ports, volumes, healthcheck, stop signal, labels) with labels added that name the base
    (C(org.opencontainers.image.base.name), C(org.opencontainers.image.base.digest),
    C(io.patchops.patch.base-id)) and the patch (C(io.patchops.patch.packages), C(.created), C(.tool)).
  - The OS is read from the image's C(/etc/os-release). Debian and Ubuntu (apt) images are patched.
    Other families (Alpine, the RPM family) fail with a clear "not supported yet" error; an image
    without a package manager (scratch, busybox) fails with an error that says so.
  - "A B(distroless) Debian or Ubuntu image (no C(/var/lib/dpkg/status); one file per package under
    C(/var/lib/dpkg/status.d/), no shell, apt or dpkg) is patched through the engine's API alone: in a
    container of O(tooling_image), apt reads the image's status.d as its package database, picks the
    newer versions in the sources and downloads them, C(dpkg-deb -x) unpacks them and C(dpkg-deb -f) gives
    their status.d entries (and their md5sums where the image keeps them); the files are written into a
    container of the image that is created and never started, which is committed as the one patch layer.
    Nothing of the tooling image reaches the result. Conffiles the image already has are kept, files an
    update no longer ships are not removed, and new dependencies of an update are not added."
  - "The package manager runs in a throwaway container of the image (by image ID), as root, through
    the engine's exec; its package lists, caches and logs live on a tmpfs at C(/tmp), so the layer holds
    only what the updated packages change (their files and the package database). The container is then
    committed with the original config sent in full: the engine's commit fills the request's empty fields
    (User, Cmd, Entrypoint, WorkingDir, StopSignal, Healthcheck) from the container and adds its missing Env
    and Labels, so the container is made with the image's own values there. The result is checked (one
    layer more, config unchanged but the labels) and the throwaway container is always removed."
  - What to update, O(packages) and O(report) both unset, every package with a newer version in
    the package sources; with O(packages), only those; with O(report), the OS packages of a Trivy or
    Grype report that have a fixed version, each updated to at least its fixed version (findings whose
    fix is not in the sources stay open and are returned as such).
  - Patching an already patched image (its labels name its base) builds again from that base, so the
    result still has one patch layer.
  - The output is O(output), by default the image's tag with C(-patched) added (a tag already ending
    in C(-patched) is kept), tagged on the build host and, with O(push=true), pushed.
extends_documentation_fragment:
  - patchops.containers.engine
options:
  image:
    description:
      - The image to patch, by tag or digest (V(registry.example.com/shop/web:1.4),
        V(registry.example.com/shop/web@sha256:...)) or by a local name. Pulled when the build host does
        not have it.
    type: str
    required: true
  output:
    description:
      - Tag reference of the patched image. Default V(<name>:<tag>-patched). Required for an image given by
        digest only.
    type: str
  packages:
    description:
      - Update only these installed packages (to the newest version in the sources). Mutually exclusive
        with O(report).
    type: list
    elements: str
  report:
    description:
      - Path, on the build host, of a Trivy (SchemaVersion 2) or Grype JSON report of O(image). Its OS package
        findings with a fixed version select the packages to update. A report of another image (its image
        ID, or an installed version it names, differs) is refused.
    type: path
  sources:
    description:
      - apt sources lines to use instead of the image's own (for build hosts that reach an internal
        mirror), for example V(deb http://mirror.example.com/debian-security bookworm-security main).
        They are used for the run only and are not written into the image.
    type: list
    elements: str
  http_proxy:
    description:
      - HTTP(S) proxy for the package manager, for example V(http://proxy.example.com:3128).
    type: str
  network:
    description:
      - Network mode of the throwaway container (V(bridge), V(host), a network name). Default the engine's default.
    type: str
  tooling_image:
    description:
      - Image with apt, dpkg and a shell (Debian or Ubuntu, for example V(registry.example.com/base/debian:12)) whose
        container fetches and unpacks the updates of a B(distroless) O(image); pulled like O(image) when missing.
        Its sources, or O(sources), must serve the distroless image's release and architecture.
      - Required for distroless images only; other images are patched in a container of their own.
    type: str
  push:
    description:
      - Push the patched image to its registry. Credentials are checked before anything is built.
    type: bool
    default: false
  registry_username:
    description:
      - Registry user for pulls and the push; without it the Docker client config of the user the module runs as.
    type: str
  registry_password:
    description:
      - Password or token for O(registry_username).
    type: str
  retries:
    description:
      - Retries of a transient failure (package sources unreachable, registry unreachable or 5xx), with backoff.
    type: int
    default: 3
  retry_delay:
    description:
      - Seconds before the first retry, doubled each time (at most 60 s).
    type: float
    default: 2.0
  fetch_timeout:
    description:
      - Seconds the package manager waits for a package source to answer.
    type: int
    default: 20
  step_timeout:
    description:
      - Seconds one package manager step (update, simulation, install) may take.
    type: int
    default: 1800
attributes:
  check_mode:
    support: full
    description:
      - The update is simulated in the throwaway container (C(apt-get -s)), or, for a distroless image, the
        candidate versions are read in the tooling container; the packages that would change are
        returned in RV(would_update). Nothing is built, tagged or pushed; the container is removed.
  diff_mode:
    support: full
    description:
      - The package versions before and after.
  idempotent:
    support: full
    description:
      - When O(output) already is a patch of the same base (by image ID) and nothing is left to update in it,
        nothing is built (C(changed=false)); with O(push=true) it is pushed only if the registry lacks it.
notes:
  - The module runs on the build host; use C(delegate_to) or the role M(patchops.containers.build).
  - Files that updated packages install under a C(VOLUME) path of the image are not committed by the
    engine; no Debian package ships files under usual volume paths, but image_patch cannot patch those.
  - An image with neither ENTRYPOINT nor CMD is refused (the commit would give it the throwaway container's).
  - Stage the patched image by digest on the Docker hosts (M(patchops.containers.image_stage)); its image ID
    is the same on every host only when pulled from the registry.
seealso:
  - module: patchops.containers.image_stage
  - module: patchops.containers.scan_gate
"""

EXAMPLES = r"""
- name: Patch every OS package that has an update, push the result
  patchops.containers.image_patch:
    image: registry.example.com/shop/web:1.4
    push: true
    registry_username: ci
    registry_password: "{{ vault_registry_password }}"
  register: patched
  delegate_to: build1

- name: Only what the scanner found fixable, through the site's mirror
  patchops.containers.image_patch:
    image: registry.example.com/shop/api:2.0
    output: registry.example.com/shop/api:2.0-sec1
    report: /srv/reports/api-2.0.trivy.json
    sources:
      - deb http://mirror.example.com/debian bookworm main
      - deb http://mirror.example.com/debian-security bookworm-security main

- name: A distroless Debian image, its updates fetched and unpacked in a Debian tooling container
  patchops.containers.image_patch:
    image: registry.example.com/shop/gateway:3.1
    tooling_image: registry.example.com/base/debian:12
    push: true
    registry_username: ci
    registry_password: "{{ vault_registry_password }}"

- name: What would change (nothing built)
  patchops.containers.image_patch:
    image: registry.example.com/shop/web:1.4
  check_mode: true
  register: plan
"""

RETURN = r"""
image:
  description: The patched image's reference (the original reference when nothing had to be updated).
  returned: success
  type: str
  sample: registry.example.com/shop/web:1.4-patched
image_id:
  description: ID of the patched image on the build host.
  returned: success, not in check mode
  type: str
digest:
  description: Registry digest of the pushed image.
  returned: with push
  type: str
repo_digest:
  description: C(name@digest) of the pushed image, for staging by digest.
  returned: with push
  type: str
patched:
  description: Whether RV(image) is a patched image (built now or before).
  returned: success
  type: bool
packages:
  description:
    - Per updated or newly installed package, C(name), C(before) (null when new) and C(after).
  returned: success
  type: list
  elements: dict
would_update:
  description:
    - Check mode, the packages that would change, C(name), C(before), C(after).
  returned: check mode
  type: list
  elements: dict
fixed:
  description:
    - With O(report), the findings the update fixes (the report's finding plus C(updated_to)).
  returned: success
  type: list
  elements: dict
open:
  description:
    - With O(report), the findings that stay open, with C(reason) (no fix published, or the fix not in the sources).
  returned: success
  type: list
  elements: dict
base:
  description:
    - The image built on, C(name), C(id), C(digest) (registry digest when known) and C(layers).
    - For a patched O(image), its recorded base.
  returned: success
  type: dict
source:
  description: The O(image) given, C(reference), C(id), C(patched_image).
  returned: success
  type: dict
os:
  description:
    - From the image's os-release, C(id), C(version_id), C(pretty_name), C(family); C(distroless) true when the
      image was read as distroless (packages in C(/var/lib/dpkg/status.d/)) and patched from O(tooling_image).
  returned: success
  type: dict
layers:
  description: Number of layers of the patched image (the base's plus one).
  returned: when built or reused
  type: int
layer_size:
  description: Bytes of the patch layer (uncompressed).
  returned: when built
  type: int
updated_installed_size:
  description: Installed size of the updated packages (dpkg's Installed-Size), in bytes, to set against RV(layer_size).
  returned: when built
  type: int
replaced:
  description: ID of the image O(output) named before, when the build moved the tag.
  returned: when built
  type: str
timings:
  description: Seconds per step (pull, start, tooling, update, install, commit, push, total).
  returned: always
  type: dict
msg:
  description: What was done.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    EngineError,
    connect,
    engine_argument_spec,
    fail_module,
)
from ansible_collections.patchops.containers.plugins.module_utils._imagepatch import ImagePatcher, PatchError
from ansible_collections.patchops.containers.plugins.module_utils._registry import REGISTRY_ARGUMENT_SPEC


def argument_spec():
    spec = engine_argument_spec(
        image=dict(type='str', required=True),
        output=dict(type='str'),
        packages=dict(type='list', elements='str'),
        report=dict(type='path'),
        sources=dict(type='list', elements='str'),
        http_proxy=dict(type='str'),
        network=dict(type='str'),
        tooling_image=dict(type='str'),
        push=dict(type='bool', default=False),
        retries=dict(type='int', default=3),
        retry_delay=dict(type='float', default=2.0),
        fetch_timeout=dict(type='int', default=20),
        step_timeout=dict(type='int', default=1800),
    )
    spec.update(REGISTRY_ARGUMENT_SPEC)
    return spec


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[('packages', 'report')],
        required_together=[('registry_username', 'registry_password')],
    )
    params = module.params
    if params['retries'] < 0 or params['retry_delay'] < 0 or params['fetch_timeout'] < 1 or params['step_timeout'] < 1:
        module.fail_json(msg='retries and retry_delay must not be negative, fetch_timeout and step_timeout positive')
    engine = connect(module)
    try:
        result = ImagePatcher(engine, params, module.check_mode, module.warn).run()
    except (PatchError, EngineError) as exc:
        fail_module(module, exc)
    if module._diff:
        rows = result.get('packages') or result.get('would_update') or []
        result['diff'] = {
            'before': ''.join('%s %s\n' % (row['name'], row['before'] or '(not installed)') for row in rows),
            'after': ''.join('%s %s\n' % (row['name'], row['after'] or '(removed)') for row in rows),
            'before_header': result.get('base', {}).get('name') or params['image'],
            'after_header': result.get('image') or '',
        }
    module.exit_json(**result)


if __name__ == '__main__':
    main()
