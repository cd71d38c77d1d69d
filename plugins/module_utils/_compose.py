# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compose-managed containers: which containers make a service, whether compose sees a container
in sync with its project, and the local tag that makes it agree after a patch.

Compose recognises its containers by the ``com.docker.compose.*`` labels. It recreates a container
when the ``config-hash`` label differs from the hash of the service's configuration (which holds
the ``image:`` string, not a digest), when the container's image differs from the image the
service's ``image:`` reference resolves to locally (Compose v1 compares image IDs; Compose v2 the
``com.docker.compose.image`` label, the image ID). A patch keeps every label and moves the local tag
named by ``image:`` to the patched image: then both agree without touching the compose file.

Private: not a public API of the collection.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from ansible_collections.patchops.containers.plugins.module_utils._imageref import ImageRefError, is_image_id, parse
from ansible_collections.patchops.containers.plugins.module_utils._stop import read_text

PREFIX = 'com.docker.compose.'
PROJECT = PREFIX + 'project'
SERVICE = PREFIX + 'service'
ONEOFF = PREFIX + 'oneoff'
IMAGE_LABEL = PREFIX + 'image'
CONFIG_FILES = PREFIX + 'project.config_files'
WORKING_DIR = PREFIX + 'project.working_dir'
CONFIG_HASH = PREFIX + 'config-hash'
VERSION = PREFIX + 'version'

try:
    import yaml
    HAS_YAML = True
except ImportError:  # the host may lack PyYAML: the compose file is then not read
    HAS_YAML = False


def labels_of(inspect):
    return (inspect.get('Config') or {}).get('Labels') or {}


def is_compose(inspect):
    return bool(labels_of(inspect).get(PROJECT))


def service_containers(entries, project, service):
    """Names of a service's containers (all replicas, one-off `run` containers left out), from
    ``/containers/json`` entries."""
    out = []
    for entry in entries:
        labels = entry.get('Labels') or {}
        if labels.get(PROJECT) == project and labels.get(SERVICE) == service and labels.get(ONEOFF) != 'True':
            names = [n.lstrip('/') for n in entry.get('Names') or [] if '/' not in n.lstrip('/')]
            out.extend(names[:1])
    return sorted(out)


def service_reference(inspect):
    """The service's ``image:`` reference as compose created the container from it, if it is a
    tag reference that a local tag can carry (not an image ID, not a digest)."""
    ref = (inspect.get('Config') or {}).get('Image') or ''
    if not ref or is_image_id(ref):
        return None
    try:
        parsed = parse(ref)
    except ImageRefError:
        return None
    return None if parsed.digest else ref


def _service_config(inspect, read_file):
    """The service's entry in its compose file(s) (later files win), or None if unreadable."""
    labels = labels_of(inspect)
    files = [f for f in (labels.get(CONFIG_FILES) or '').split(',') if f]
    if not files or not HAS_YAML:
        return None
    merged = None
    for path in files:
        text = read_file(path)
        if text is None:
            return None
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            return None
        entry = ((doc.get('services') if isinstance(doc, dict) else None) or {}).get(labels.get(SERVICE))
        if isinstance(entry, dict):
            merged = dict(merged or {}, **entry)
    return merged


def sync(inspect, find_image, read_file=read_text):
    """What compose would do with this container now: {in_sync, verdict, image_ref, file_image,
    warnings}. ``find_image(ref)`` is the engine's image lookup (inspect or None)."""
    labels = labels_of(inspect)
    ref = (inspect.get('Config') or {}).get('Image') or ''
    out = {'image_ref': ref, 'file_image': None, 'in_sync': None, 'verdict': None, 'warnings': []}
    reasons = []
    service = _service_config(inspect, read_file)
    if service is not None:
        out['file_image'] = service.get('image')
        if service.get('image') and service['image'] != ref:
            reasons.append('the compose file now names image %s, the container was created from %s'
                           % (service['image'], ref))
        if service.get('pull_policy') == 'always':
            out['warnings'].append('service %s has pull_policy: always: its next `up` pulls %s again and undoes '
                                   'a patch that exists only on this host' % (labels.get(SERVICE), ref))
        if service.get('build'):
            out['warnings'].append('service %s has build: its next `up --build` rebuilds the image and undoes '
                                   'the patch' % labels.get(SERVICE))
    resolved = find_image(ref) if ref else None
    if resolved is None:
        reasons.append('%s is not on the host (compose would pull or build it)' % ref)
    elif resolved.get('Id') != inspect.get('Image'):
        reasons.append('%s now means %s, the container runs %s' % (ref, resolved['Id'][:19], inspect['Image'][:19]))
    digest_label = labels.get(IMAGE_LABEL)
    if digest_label and resolved is not None and digest_label != resolved.get('Id'):
        reasons.append('its %s label is %s, %s means %s' % (IMAGE_LABEL, digest_label[:19], ref, resolved['Id'][:19]))
    out['in_sync'] = not reasons
    out['verdict'] = 'in sync' if not reasons else 'compose would recreate: ' + '; '.join(reasons)
    return out


# Where the docker CLI finds its plugins; Compose v2 is the plugin ``docker-compose``, which also
# runs on its own.
PLUGIN_DIRS = ('~/.docker/cli-plugins', '/usr/local/lib/docker/cli-plugins', '/usr/local/libexec/docker/cli-plugins',
               '/usr/lib/docker/cli-plugins', '/usr/libexec/docker/cli-plugins')
_VERSIONS = {}


def compose_major(inspect):
    """The major version of the compose that created the container (``1``, ``2``), or None."""
    version = (labels_of(inspect).get(VERSION) or '').lstrip('v')
    return version.split('.', 1)[0] if version[:1].isdigit() else None


def _version(command, run):
    key = tuple(command)
    if key not in _VERSIONS:
        try:
            done = run(command + ['version', '--short'], check=False, capture_output=True, text=True, timeout=30)
            _VERSIONS[key] = done.stdout.strip().lstrip('v') if done.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            _VERSIONS[key] = None
    return _VERSIONS[key]


def compose_commands(major=None, command=None, run=subprocess.run):
    """The compose commands on this host whose major version is ``major`` (any when None), as
    [(argv, version)]: ``command`` alone when given (a path or a command line), else ``docker
    compose``, ``docker-compose`` and the CLI plugin binaries, in that order."""
    if command:
        candidates = [command.split() if isinstance(command, str) else list(command)]
    else:
        candidates = [['docker', 'compose'], ['docker-compose']] + [
            [os.path.join(os.path.expanduser(d), 'docker-compose')] for d in PLUGIN_DIRS]
    out, seen = [], set()
    for argv in candidates:
        found = shutil.which(argv[0])
        if not found or os.path.realpath(found) + ' '.join(argv[1:]) in seen:
            continue
        seen.add(os.path.realpath(found) + ' '.join(argv[1:]))
        version = _version([found] + argv[1:], run)
        if version and (major is None or version.split('.', 1)[0] == major):
            out.append(([found] + argv[1:], version))
    return out


def config_hash(inspect, docker_host, image_changed=False, command=None, run=subprocess.run):
    """The service's config hash as the host's compose computes it now (``config --hash``), or
    (None, why).

    Compose v1 puts the image ID the ``image:`` reference resolves to into the hash, so after the
    tag moved the new container needs the new hash. Compose v2 hashes the service's configuration
    without image IDs (the ``image:`` string is in it): with that string unchanged
    (``image_changed`` false) its hash stays the container's own. The hash is computed by a compose
    of the container's major version only: the two hash different things."""
    labels = labels_of(inspect)
    project, service = labels.get(PROJECT), labels.get(SERVICE)
    major = compose_major(inspect)
    if major is not None and major != '1' and not image_changed and labels.get(CONFIG_HASH):
        return labels[CONFIG_HASH], None
    files = [f for f in (labels.get(CONFIG_FILES) or '').split(',') if f]
    workdir = labels.get(WORKING_DIR) or None
    if not (project and service and files):
        return None, 'the container has no compose project, service or config files labels'
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        return None, 'its compose file %s is not on this host' % ', '.join(missing)
    commands = compose_commands(major, command, run)
    if not commands:
        return None, ('no Compose%s found on this host (%s)' % (
            ' v' + major if major else '', command or 'docker compose, docker-compose, docker-compose in the CLI plugin directories'))
    args = ['-p', project] + [a for f in files for a in ('-f', f)] + ['config', '--hash=' + service]
    env = dict(os.environ, DOCKER_HOST=docker_host)
    why = None
    for argv, dummy in commands:
        try:
            done = run(argv + args, cwd=workdir if workdir and os.path.isdir(workdir) else None, env=env, check=False,
                       capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            why = '%s: %s' % (' '.join(argv), exc)
            continue
        for line in done.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == service:
                return parts[1], None
        why = '%s config --hash failed: %s' % (' '.join(argv), (done.stderr or done.stdout).strip()[-300:])
    return None, why
