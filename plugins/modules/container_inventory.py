#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_inventory
short_description: List the containers of a Docker host, their images, and which images have updates
version_added: 0.1.0
author:
  - patchops.containers developers (@patchops)
description:
  - Returns every container of the Docker engine in one call, with its configured image reference, the
    image it runs (ID, repository digests, creation date, operating system), state, health, restart
    count and policy, Compose project and service, published ports, mounts, networks, labels and the
    containers it depends on. Also returns facts about the engine.
  - With O(check_updates=true), asks the registry for the current digest of each image reference
    B(without pulling anything) and tells, per container, whether an update is V(available), the image
    is V(current), or the answer is V(unknown) and why.
  - The operating system of an image is read from the C(/etc/os-release) file (or C(/usr/lib/os-release))
    of one of its containers through the engine's archive endpoint, symbolic links followed. Nothing is
    run inside any container, and stopped containers are read as well.
  - With O(packages=true), also lists the installed packages of each image (RV(images)), read from its
    dpkg database without running anything, once per image ID (cached on the host).
  - The module never changes any container or image on the host.
extends_documentation_fragment:
  - patchops.containers.engine
options:
  name:
    description:
      - Only containers whose name matches one of these shell-style patterns, for example V(web-*).
      - Matched case-sensitively against the whole name (without the leading slash).
      - By default, every container.
    type: list
    elements: str
    default: []
  label:
    description:
      - Only containers that have all these labels. Each item is V(key) (the label is present) or
        V(key=value).
    type: list
    elements: str
    default: []
  status:
    description:
      - Only containers in one of these states.
      - When set, O(include_stopped) is not used.
    type: list
    elements: str
    choices: [created, running, paused, restarting, removing, exited, dead]
    default: []
  include_stopped:
    description:
      - Also list containers that are not running, paused or restarting (created, exited, dead), like
        C(docker ps --all).
    type: bool
    default: false
  check_updates:
    description:
      - Ask the registry, through the engine's distribution endpoint, for the digest that each image
        reference has now, and compare it with the digests of the image the container runs.
      - Podman has no distribution endpoint; on a Podman engine the module asks the registry's API
        itself, from the managed host (the registry's CA from C(/etc/docker/certs.d) or
        C(/etc/containers/certs.d), credentials from the options, else the Docker client configuration
        or Podman's C(auth.json)).
      - Nothing is pulled. Each distinct reference is asked once, at most 8 at a time.
      - A registry that refuses the credentials, does not know the image, or cannot be reached makes
        RV(containers[].update=unknown) with the reason; it does not fail the module.
    type: bool
    default: false
  registry_username:
    description:
      - User name for the registry, used with O(registry_password) for the update check.
      - When not set, the engine uses the credentials stored in the Docker client configuration
        (C(~/.docker/config.json) or E(DOCKER_CONFIG)) of the user running the module.
    type: str
  registry_password:
    description:
      - Password or token for O(registry_username).
    type: str
  registry_host:
    description:
      - The registry that O(registry_username) and O(registry_password) are for, for example
        V(registry.example.com:5000).
      - Images from other registries are checked with the stored credentials only, so the password is
        never sent to them.
      - When not set, the credentials are used for every registry.
    type: str
  detail:
    description:
      - V(full) inspects every listed container and returns every field.
      - V(summary) makes no inspect at all, only the engine's one list call (and one image inspect and
        C(os-release) read per image), for a quick look at a host with many containers. The fields only an
        inspect has are V(null) (RV(containers[].started_at), RV(containers[].finished_at),
        RV(containers[].restart_count), RV(containers[].restart_policy), RV(containers[].dependencies),
        RV(containers[].depends_on), RV(containers[].stop)), and so are each network's aliases (the list
        leaves them out) and the compose sync verdict; O(stop_check) is not used.
        RV(containers[].health) and RV(containers[].exit_code) come from the engine's status text,
        RV(containers[].created) is to the second, RV(containers[].ports) are those of running containers, and
        RV(containers[].image) is the image ID when the reference the container was created from now names
        another image (as C(docker ps) shows it). On Podman the list has no health and no network mode
        (RV(containers[].health) is V(null), RV(containers[].network_mode) empty), and shows a container in
        another's network namespace with that container's ports and networks.
      - The inventory role always takes V(full), since its reports list restart policies, dependencies and kill risks.
    type: str
    choices: [full, summary]
    default: full
  stop_check:
    description:
      - Predict for each container what stopping it will do (RV(containers[].stop)), from PID 1 and its
        signal handlers in C(/proc) when the engine runs on this host, else from PID 1 in the engine's
        process list.
    type: bool
    default: true
  stop_timeout:
    description: The stop timeout a patch run will use for containers that do not set their own.
    type: int
    default: 10
  packages:
    description:
      - Read the installed packages of each image the listed containers use (RV(images[].packages)) from the
        dpkg database C(/var/lib/dpkg/status), or from one file per package under C(/var/lib/dpkg/status.d/)
        (distroless images), and the image's C(os-release), through the engine's archive endpoint.
      - Read from an existing container of the image whose changes (C(docker diff)) do not touch that
        database, else from a container created from the image for the read (named
        C(patchops-pkgread-<image>-<random>), labelled C(patchops.pkgread), network V(none)), never started and
        removed before the module returns, also on error.
      - Each image is read once; the result is cached on the host by image ID under
        O(state_dir)C(/<engine>/packages/), so a second run reads nothing (C(packages_cached) in RV(summary)).
      - Alpine (C(/lib/apk/db/installed)) and RPM (C(/var/lib/rpm)) databases are named in
        RV(images[].packages_note), not read.
    type: bool
    default: false
  state_dir:
    description:
      - Directory of the patch journal (how each container stopped at its last swap) and of the packages
        cache (O(packages)).
    type: path
    default: /var/lib/patchops
attributes:
  check_mode:
    support: full
    description:
      - Can run in check_mode and returns the same data. With O(packages=true) an image that no existing
        container can give is read through a created container, removed in the same run (the engine ends as it
        began); the packages cache is read but not written.
  diff_mode:
    support: none
    description: Nothing is changed, there is no diff.
  idempotent:
    support: full
    description:
      - Never changes a container or image; always returns RV(ignore:changed=false). The packages cache it writes
        under O(state_dir) is its own memory, not a change of the host.
  action_group:
    support: full
    description: Use C(group/patchops.containers.docker) in C(module_defaults) to set the engine options.
    membership:
      - patchops.containers.docker
notes:
  - The update check compares the digest of the reference in the registry with the C(RepoDigests) that
    the engine recorded for the container's image in the same repository. For a multi-architecture
    image both are the digest of the manifest list, so the comparison holds.
  - A container whose reference is pinned by digest (V(name@sha256:...)), that was created from an image
    ID, or whose image has no repository digest (built or loaded locally) gets V(unknown) without asking
    the registry.
  - RV(engine.free_bytes) is only measured when O(docker_host) is a local socket, since the engine's data
    directory must be on the host where the module runs.
  - The role C(patchops.containers.inventory) and the playbook C(patchops.containers.inventory) run this
    module on a fleet and write a JSON, CSV and Markdown report.
seealso:
  - name: Docker Engine API, distribution inspect
    description: The endpoint used to read a reference's digest without pulling.
    link: https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Distribution
"""

EXAMPLES = r"""
- name: Every container of the host, running or not
  patchops.containers.container_inventory:
    include_stopped: true
  register: inv

- name: Web containers that have an update
  patchops.containers.container_inventory:
    name: ['web-*']
    label: [com.example.tier=front]
    check_updates: true
    registry_username: "{{ registry_user }}"
    registry_password: "{{ registry_password }}"
    registry_host: registry.example.com:5000
  register: web

- name: Show what can be patched
  ansible.builtin.debug:
    msg: "{{ web.containers | selectattr('update', 'eq', 'available') | map(attribute='name') | list }}"

- name: A quick look at a host with thousands of containers (the list call only, no inspect)
  patchops.containers.container_inventory:
    include_stopped: true
    detail: summary

- name: The packages of every image (read once per image ID, then from the host's cache)
  patchops.containers.container_inventory:
    include_stopped: true
    packages: true
  register: inv_packages

- name: How many packages each image has
  ansible.builtin.debug:
    msg: "{{ item.tags | first | default(item.id) }}: {{ item.packages | length }} ({{ item.package_db or item.packages_note }})"
  loop: "{{ inv_packages.images }}"
  loop_control:
    label: "{{ item.id }}"

- name: Only stopped and crashed containers, over TLS
  patchops.containers.container_inventory:
    status: [exited, dead]
    docker_host: tcp://docker1.example.com:2376
    validate_certs: true
    ca_path: /etc/pki/docker/ca.pem
"""

RETURN = r"""
containers:
  description: The containers that match the filters, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Container name, without the leading slash.
      type: str
      returned: always
      sample: web-1
    id:
      description: Full container ID.
      type: str
      returned: always
      sample: 95c851a04e813c723c1fa684cc7524d0380a91d8a9e79c4e208e05e3527011a8
    image:
      description: The image reference the container was created with (C(Config.Image)).
      type: str
      returned: always
      sample: registry.example.com:5000/shop/web:1.4
    image_id:
      description: ID of the image the container runs.
      type: str
      returned: always
      sample: sha256:2554952ae5cb77251eb0f720ede591a872c9482e2706dc76038f8be6a5fc6742
    image_tags:
      description: Tags of that image on the host now (C(RepoTags)).
      type: list
      elements: str
      returned: always
      sample: [registry.example.com:5000/shop/web:1.4]
    repo_digests:
      description: Repository digests of that image (C(RepoDigests)); empty for an image built or loaded locally.
      type: list
      elements: str
      returned: always
      sample: [registry.example.com:5000/shop/web@sha256:caacd6125ed4240c5adf663515c91a7440a15f19889b1aa5bc4a2b897095dac7]
    image_created:
      description: When the image was built. V(null) if the image is gone from the host.
      type: str
      returned: always
      sample: "2026-11-28T12:44:40.123456789Z"
    image_os:
      description:
        - Operating system of the image from its C(os-release) file, V(null) when the image has none.
        - Keys C(id), C(version_id), C(name), C(pretty_name) and C(version_codename); a key the file does
          not set is V(null).
      type: dict
      returned: always
      sample: {id: debian, version_id: "12", name: Debian GNU/Linux, pretty_name: Debian GNU/Linux 12 (bookworm),
               version_codename: bookworm}
    created:
      description: When the container was created.
      type: str
      returned: always
      sample: "2026-11-28T12:52:55.012345678Z"
    state:
      description: Engine state, one of V(created), V(running), V(paused), V(restarting), V(removing), V(exited), V(dead).
      type: str
      returned: always
      sample: running
    health:
      description:
        - Health status of a running container with a health check, V(starting), V(healthy) or V(unhealthy).
        - V(null) for a container without a health check or not running (the engine keeps V(unhealthy) on a
          stopped container; that is not reported).
      type: str
      returned: always
      sample: healthy
    exit_code:
      description: Exit code of the last run (V(0) if it never ran).
      type: int
      returned: always
      sample: 0
    started_at:
      description: When the container last started; V(null) if it never ran.
      type: str
      returned: always
      sample: "2026-11-28T12:52:55.100058049Z"
    finished_at:
      description: When the container last stopped; V(null) if it never stopped.
      type: str
      returned: always
      sample: null
    restart_count:
      description: Number of restarts by the engine's restart policy.
      type: int
      returned: always
      sample: 0
    restart_policy:
      description: Restart policy, C(name) (V(no), V(always), V(unless-stopped), V(on-failure)) and C(maximum_retry_count).
      type: dict
      returned: always
      sample: {name: on-failure, maximum_retry_count: 3}
    compose:
      description:
        - Docker Compose labels of the container, V(null) when it does not belong to a Compose project.
        - Keys C(project), C(service), C(working_dir), C(config_files) (list) and C(container_number).
        - C(image_ref) is the service's C(image:) reference the container was created from, C(file_image)
          the one its compose file names now (V(null) when the file cannot be read on the host),
          C(in_sync) whether compose would leave the container as it is, C(verdict) V(in sync) or
          V(compose would recreate) with the reasons (the reference now means another image, the compose
          file names another image, the C(com.docker.compose.image) label differs), and C(warnings)
          (a C(pull_policy) of V(always), or a C(build) section, would undo a patch made only on this host).
      type: dict
      returned: always
      sample: {project: shop, service: web, working_dir: /srv/shop, config_files: [/srv/shop/compose.yaml],
               container_number: 1, image_ref: "registry.example.com/shop/web:1.4", in_sync: true,
               verdict: in sync, file_image: "registry.example.com/shop/web:1.4", warnings: []}
    ports:
      description:
        - Published ports. For a running container, the bindings in effect; otherwise the configured ones,
          where C(host_port) is V(null) when the engine chooses the port at start.
        - Each item has C(container_port), C(protocol), C(host_ip) and C(host_port).
      type: list
      elements: dict
      returned: always
      sample: [{container_port: 8080, protocol: tcp, host_ip: 127.0.0.1, host_port: 32768}]
    mounts:
      description:
        - Mounts sorted by destination. C(type) is V(bind), V(named) (a named volume), V(anonymous) (a
          volume with an engine-generated name), V(tmpfs) or another engine mount type.
        - Each item also has C(name) (volume name or V(null)), C(source), C(destination), C(driver), C(mode),
          C(rw) and C(propagation).
      type: list
      elements: dict
      returned: always
      sample:
        - {type: anonymous, name: c2d18fefe3b51ed511c95f335d312378a46162a44cd55986fb2a1b0408d84046,
           source: /var/lib/docker/volumes/c2d1.../_data, destination: /data, driver: local, mode: "",
           rw: true, propagation: ""}
    network_mode:
      description: Network mode (C(HostConfig.NetworkMode)), for example V(bridge), V(host) or V(container:ID).
      type: str
      returned: always
      sample: default
    networks:
      description:
        - Networks the container is attached to, sorted by name, each with C(name), C(id), C(ip_address),
          C(ipv6_address), C(gateway), C(mac_address), C(aliases), C(static_ipv4) and C(static_ipv6).
        - Empty for a container that shares another container's network namespace.
      type: list
      elements: dict
      returned: always
      sample: [{name: bridge, id: 9717038b00eb..., ip_address: 172.17.0.2, ipv6_address: "", gateway: 172.17.0.1,
                mac_address: "02:42:ac:11:00:02", aliases: [], static_ipv4: "", static_ipv6: ""}]
    labels:
      description: Labels of the container.
      type: dict
      returned: always
      sample: {com.docker.compose.project: shop}
    dependencies:
      description:
        - The containers this one needs. C(kind) is V(link) (legacy or network-scoped link), V(netns),
          V(pid) or V(ipc) (shares that container's namespace), V(volumes_from), V(label) (the
          C(patchops.depends-on) label, names separated by commas) or V(compose) (the
          C(com.docker.compose.depends_on) label, resolved to the containers of that service in the same
          project).
        - C(name) is the container name, C(resolved) tells whether such a container exists on the host
          (if not, C(name) is the reference as written, or V(null) for a Compose service without containers).
        - Links also have C(alias); Compose dependencies also have C(service) and C(condition).
      type: list
      elements: dict
      returned: always
      sample:
        - {kind: netns, name: vpn, resolved: true}
        - {kind: compose, name: shop-db-1, resolved: true, service: db, condition: service_healthy}
    stop:
      description:
        - What stopping the container (as a swap does) is expected to do. V(pid1) is PID 1's command line
          (null when not running), V(init) whether it runs under an init (C(--init), tini, dumb-init, ...),
          V(stop_signal) and V(stop_timeout) (the container's own, else O(stop_timeout)).
        - V(handles_signal) is whether PID 1 has a handler for the stop signal (its C(SigCgt) in C(/proc),
          checked to be this container's process; null when that cannot be read, for example for an
          engine on another machine). A PID 1 without one ignores the signal, since the kernel applies no
          default action to a PID namespace's init, and the engine kills it when the timeout runs out.
        - V(kill_risk) and V(kill_reason) flag a container likely to be killed on stop (PID 1 without a
          handler; a shell or busybox as PID 1 without an init when the handlers cannot be read; or killed
          at its last swap, from the journal). V(expected_stop_s) is the downtime that costs per swap.
      type: dict
      returned: when O(stop_check=true)
      sample: {pid1: "sleep 3600", init: false, stop_signal: SIGTERM, stop_timeout: 10, handles_signal: false,
               kill_risk: true, kill_reason: "PID 1 (sleep 3600) has no handler for SIGTERM ...", expected_stop_s: 10}
    depends_on:
      description: Names of the existing containers in RV(containers[].dependencies), sorted, without duplicates.
      type: list
      elements: str
      returned: always
      sample: [shop-db-1, vpn]
    update:
      description:
        - With O(check_updates=true), V(available) (the registry has another digest for the reference),
          V(current), or V(unknown) (see RV(containers[].update_reason)). Otherwise V(null).
      type: str
      returned: always
      sample: available
    remote_digest:
      description: Digest of the reference in the registry now, when it was asked and answered; else V(null).
      type: str
      returned: always
      sample: sha256:4f1c7b52e1f03c7dd9bd7f1c4d0cbe0d52a1fe9e32a9f4c2c51b5e3a4d1e2f30
    update_reason:
      description:
        - "Why the update is V(unknown), for example V(pinned by digest) or V(auth denied: ...); else V(null)."
        - Registry failures start with V(auth denied), V(not found), V(registry unreachable), V(tls error) or
          V(registry error).
      type: str
      returned: always
      sample: "auth denied: unauthorized: authentication required"
images:
  description:
    - One entry per image ID that the listed containers use, sorted by ID.
    - Without O(packages=true), RV(images[].package_db) is V(null) and RV(images[].packages) empty.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The image ID.
      type: str
      returned: always
      sample: sha256:2554952ae5cb77251eb0f720ede591a872c9482e2706dc76038f8be6a5fc6742
    tags:
      description: Tags of the image on the host now (C(RepoTags)).
      type: list
      elements: str
      returned: always
      sample: [registry.example.com:5000/shop/web:1.4]
    repo_digests:
      description: Repository digests of the image (C(RepoDigests)).
      type: list
      elements: str
      returned: always
      sample: [registry.example.com:5000/shop/web@sha256:caacd6125ed4240c5adf663515c91a7440a15f19889b1aa5bc4a2b897095dac7]
    created:
      description: When the image was built; V(null) if the image is gone from the host.
      type: str
      returned: always
      sample: "2026-11-28T12:44:40.123456789Z"
    containers:
      description: Names of the listed containers that use the image, sorted.
      type: list
      elements: str
      returned: always
      sample: [shop-web-1, shop-web-2]
    os:
      description:
        - The image's operating system from its C(os-release), as RV(containers[].image_os); V(null) when it has none.
      type: dict
      returned: always
      sample: {id: debian, version_id: "12", name: Debian GNU/Linux, pretty_name: Debian GNU/Linux 12 (bookworm),
               version_codename: bookworm}
    package_db:
      description:
        - V(dpkg) (the C(/var/lib/dpkg/status) file), V(dpkg-status.d) (one file per package under
          C(/var/lib/dpkg/status.d/), as distroless images have), or V(null) when no package database was read
          (RV(images[].packages_note) tells why).
      type: str
      returned: always
      sample: dpkg
    packages_note:
      description:
        - Why RV(images[].package_db) is V(null), for example
          V(no package database (/var/lib/dpkg/status or /var/lib/dpkg/status.d)), an Alpine or RPM database named
          as not read, that the option O(packages) is off, or the engine's error; else V(null).
      type: str
      returned: always
      sample: null
    packages_source:
      description:
        - Where the packages came from in this run, V(cache) (read by an earlier run), V(container) (an existing
          container of the image), V(created container) (created for the read and removed); V(null) when not read.
      type: str
      returned: always
      sample: cache
    packages:
      description:
        - The installed packages (dpkg status C(install ok installed)), sorted by name and architecture, each with
          C(name), C(version), C(source) and C(source_version) (the source package; the package's own name and
          version when the database names none) and C(arch).
      type: list
      elements: dict
      returned: always
      sample:
        - {name: libssl3, version: 3.0.11-1~deb12u2, source: openssl, source_version: 3.0.11-1~deb12u2, arch: amd64}
        - {name: zlib1g, version: "1:1.2.13.dfsg-1", source: zlib, source_version: "1:1.2.13.dfsg-1", arch: amd64}
detail:
  description: The O(detail) of this result.
  returned: success
  type: str
  sample: full
engine:
  description: Facts about the Docker engine.
  returned: success
  type: dict
  contains:
    name:
      description: Host name as the engine reports it.
      type: str
      sample: docker1
    id:
      description:
        - Engine ID. For Podman, whose own ID changes on every call, V(podman-) and a hash of its host
          name and storage root.
      type: str
      sample: RHJE:Y3SW:AT5C:J3HT:FM5N:IGFI:LGPC:35TD:6HCW:FAFS:4PE5:5QJC
    kind:
      description: The engine, V(docker) or V(podman) (its Docker-compatible API).
      type: str
      sample: docker
    version:
      description: The engine's version (Docker's, or Podman's own).
      type: str
      sample: 20.10.24+dfsg1
    api_version:
      description: Highest API version the engine speaks.
      type: str
      sample: "1.41"
    min_api_version:
      description: Lowest API version the engine speaks.
      type: str
      sample: "1.12"
    os:
      description: Operating system of the host.
      type: str
      sample: Debian GNU/Linux 12 (bookworm)
    os_type:
      description: V(linux) or V(windows).
      type: str
      sample: linux
    architecture:
      description: Machine architecture.
      type: str
      sample: x86_64
    kernel_version:
      description: Kernel version.
      type: str
      sample: 6.1.0-18-amd64
    storage_driver:
      description: Storage driver.
      type: str
      sample: overlay2
    docker_root_dir:
      description: Where the engine keeps images and containers.
      type: str
      sample: /var/lib/docker
    free_bytes:
      description: Bytes available to the engine in RV(engine.docker_root_dir); V(null) for a remote engine.
      type: int
      sample: 52613349376
    total_bytes:
      description: Size of the file system of RV(engine.docker_root_dir); V(null) for a remote engine.
      type: int
      sample: 105088212992
    containers:
      description: Number of containers on the engine, whatever the filters.
      type: int
      sample: 12
    images:
      description: Number of images on the engine.
      type: int
      sample: 7
update_checks:
  description:
    - One item per distinct reference asked for, sorted, with C(reference), C(remote_digest) and C(error)
      (V(null) on success). Empty unless O(check_updates=true).
  returned: success
  type: list
  elements: dict
  sample:
    - reference: registry.example.com:5000/shop/web:1.4
      remote_digest: sha256:4f1c7b52e1f03c7dd9bd7f1c4d0cbe0d52a1fe9e32a9f4c2c51b5e3a4d1e2f30
      error: null
summary:
  description:
    - Counts over RV(containers). C(unhealthy) counts running containers whose health is V(unhealthy);
      C(stopped) is every container not running; the C(updates_*) counts are 0 unless O(check_updates=true);
      C(kill_risk) counts containers likely to be killed on stop (RV(containers[].stop)).
    - With O(packages=true), C(packages_read) counts the images whose packages were read in this run,
      C(packages_cached) those taken from the host's cache, C(packages_failed) those that could not be read
      (RV(images[].packages_note)); all 0 otherwise.
  returned: success
  type: dict
  sample: {containers: 12, running: 10, stopped: 2, unhealthy: 1, kill_risk: 1, images: 4,
           updates_available: 3, updates_current: 8, updates_unknown: 1,
           packages_read: 1, packages_cached: 3, packages_failed: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    EngineError,
    connect,
    engine_argument_spec,
)
from ansible_collections.patchops.containers.plugins.module_utils._inventory import Inventory, argument_spec


def main():
    module = AnsibleModule(
        argument_spec=engine_argument_spec(**argument_spec()),
        required_together=[('registry_username', 'registry_password')],
        supports_check_mode=True,
    )
    engine = connect(module)
    try:
        result = Inventory(engine, module.params, warn=module.warn, check_mode=module.check_mode).run()
    except EngineError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
