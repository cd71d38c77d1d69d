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

from ansible_collections.patchops.containers.plugins.module_utils._composefile import (
    ComposeFileError, locate_image, replace_image, write_edit)
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError
from ansible_collections.patchops.containers.plugins.module_utils._imageref import (
    ImageRefError, is_image_id, parse, same_ref)
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
    """Whether compose's ``up`` manages the container: it selects a service's containers by project
    and service labels, and leaves one-off ``run`` containers alone."""
    labels = labels_of(inspect)
    return bool(labels.get(PROJECT) and labels.get(SERVICE)) and labels.get(ONEOFF) != 'True'


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


def tag_users(entries, ref, planned=()):
    """Names of the containers, from ``/containers/json`` entries, that run what the tag ``ref``
    names now (the engine lists such a container by the reference it was created from; by image ID
    once the tag means another image), leaving out ``planned``."""
    out = set()
    for entry in entries:
        names = [n.lstrip('/') for n in entry.get('Names') or [] if '/' not in n.lstrip('/')]
        image = entry.get('Image') or ''
        if names and names[0] not in planned and image and not is_image_id(image) and same_ref(image, ref):
            out.add(names[0])
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


def file_edit(inspect, new, read_file=read_text):
    """The planned edit of the service's compose file: {path, line, service, from, to}, ``from``
    the reference the file names now (what the container was created from)."""
    labels = labels_of(inspect)
    service = labels.get(SERVICE)
    files = [os.path.join(labels.get(WORKING_DIR) or '', f) for f in (labels.get(CONFIG_FILES) or '').split(',') if f]
    if not (files and service):
        raise ComposeFileError('the container has no compose config files or service label')
    path, line, value = locate_image(files, service, read_file)
    created = (inspect.get('Config') or {}).get('Image') or ''
    if not same_ref(value, created):
        raise ComposeFileError('compose file %s names image %s for service %s, its container was created from '
                               '%s: not edited (compose recreates it at its next up anyway)'
                               % (path, value, service, created))
    text = read_file(path)
    try:
        replace_image(text, service, value, new)
    except ComposeFileError as exc:
        raise ComposeFileError('compose file %s: %s' % (path, exc.msg))
    return {'path': path, 'line': line, 'service': service, 'from': value, 'to': new}


# -- what a swap does to a compose container ------------------------------------------------------
# ``ctx`` is the swap run's context (_swap.context.SwapContext), ``swap`` its journal record.


def compose_plan(ctx, container, image, planned, item):
    """For a compose container patched to another image: the service's ``image:`` reference,
    whose local tag the swap moves to the new image so that compose agrees (``compose_ref``);
    with compose_file: update, the edit of its compose file instead (``compose_file``). A shared
    tag that a patch would move for containers outside the run goes to ``ctx.shared_tags``."""
    if not is_compose(container) or image.get('Id') == container['Image']:
        return {}
    ref = service_reference(container)
    edit = _compose_file_plan(ctx, container, image, item)
    if edit is False:  # a rollback that cannot write the file back: no tag of the patch moves either
        return {}
    if edit:  # the file will name the image; a rollback's reference that moved since moves back too
        ref = None if (ctx.image(edit['to']) or {}).get('Id') == image.get('Id') else edit['to']
    warnings = sync(container, ctx.image)['warnings']
    others = tag_users(ctx.listed, ref, planned) if ref else []
    if others and item['reason'] == 'patch' and not ctx.params.get('move_shared_tag'):
        found = ctx.shared_tags.setdefault(ref, {'run': set(), 'others': others})
        found['run'].add((container.get('Name') or '').lstrip('/'))
        return {}
    if others:
        warnings.append('moving the tag %s to the patched image also concerns %s (created from the same '
                        'reference): compose recreates them on the patched image at its next up unless they '
                        'are patched too' % (ref, ', '.join(others)))
    for warning in warnings:
        if warning not in ctx.notes:
            ctx.notes.append(warning)
    # What the reference meant before the run, read once here: replicas of one service swap in
    # parallel, and each must give back the tag the service had, not one a sibling just moved.
    out = {'compose_file': edit} if edit else {}
    if ref:
        out.update(compose_ref=ref, compose_ref_was=(ctx.image(ref) or {}).get('Id'))
    return out


def _compose_file_plan(ctx, container, image, item):
    """compose_file: update, the edit of the service's ``image:`` line to the target's reference;
    a rollback undoes the edit of the patch it rolls back (``hash``: the container's hash then).
    False: a rollback that cannot write the file back."""
    name = (container.get('Name') or '').lstrip('/')
    if item['reason'] == 'rollback':
        last = ctx.journal.last_patched(name) or {}
        done = last.get('compose_file')
        try:
            return dict(file_edit(container, done['from']), hash=done.get('hash_was')) if done else None
        except ComposeFileError as exc:  # the container is rolled back all the same
            ctx.notes.append('%s: compose_file: %s: rolled back without writing its image: line back '
                             '(the file before the patch: %s)' % (name, exc.msg, last.get('compose_file_backup')))
            return False
    target = item['target']
    if ctx.params.get('compose_file', 'keep') != 'update' or same_ref(target, service_reference(container) or ''):
        return None
    if is_image_id(target) or (ctx.image(target) or {}).get('Id') != image.get('Id'):
        raise ComposeFileError('update writes the target reference into the compose file, and %s %s' % (
            target, 'is an image ID' if is_image_id(target) else 'does not name the target image on %s (%s)'
            % (ctx.where, (image.get('Id') or '')[:19])))
    return dict(file_edit(container, target), hash_was=labels_of(container).get(CONFIG_HASH))


def retag_service(ctx, swap):
    """Move the local tag of the service's ``image:`` reference to the target image, so that
    compose resolves it to the image the new container runs; returns that reference."""
    ref = swap.get('compose_ref')
    if not ref:
        return None
    current = ctx.image(ref)
    if 'compose_ref_was' not in swap:
        swap['compose_ref_was'] = (current or {}).get('Id')
    swap['retagged'] = True  # journaled before the tag moves: a recovery knows to move it back
    ctx.journal.record(swap, 'retag')
    if (current or {}).get('Id') != swap['target_image_id']:
        ctx.engine.tag(swap['target_image_id'], parse(ref))
    return ref


def untag_service(ctx, swap):
    """On the way back: the service's reference means what it meant before the swap."""
    ref, was = swap.get('compose_ref'), swap.get('compose_ref_was')
    if not ref or not swap.get('retagged'):
        return
    current = (ctx.image(ref) or {}).get('Id')
    if was and current != was:
        ctx.engine.tag(was, parse(ref))
    elif not was and current:
        try:  # the tag did not exist before; a container still using it keeps it
            ctx.engine.call('untag %s' % ref, ctx.api.remove_image, ref, noprune=True)
        except EngineError:
            pass


def write_compose_file(ctx, swap):
    """compose_file: update, the service's ``image:`` line names the new reference (the file as it
    was kept beside it); returns that reference."""
    edit = swap.get('compose_file')
    if not edit:
        return None
    ctx.journal.record(swap, 'compose_file', compose_file_written=True)  # a recovery knows to undo it
    swap['compose_file_backup'] = write_edit(edit, edit['from'], edit['to'])
    return edit['to']


def restore_compose_file(ctx, swap):
    edit = swap.get('compose_file')
    if edit and swap.get('compose_file_written'):
        try:
            write_edit(edit, edit['to'], edit['from'])
        except ComposeFileError as exc:  # the container comes back all the same
            ctx.notes.append('%s: %s: its image: line was not put back (the file as it was: %s)'
                             % (swap['container'], exc.msg, swap.get('compose_file_backup')))


def label_new_container(ctx, swap, container, labels, edited):
    """The labels compose compares, for the new container of a compose service: the image ID
    (Compose v2) and the config hash (as compose would compute it with the new image)."""
    if IMAGE_LABEL in labels:
        labels[IMAGE_LABEL] = swap['target_image_id']
    if edited and swap['compose_file'].get('hash'):  # the file back as it was: the hash compose gave then
        digest, why = swap['compose_file']['hash'], None
    else:
        digest, why = config_hash(container, ctx.engine.docker_host, image_changed=bool(edited),
                                  command=ctx.params.get('compose_command'))
    if digest:
        labels[CONFIG_HASH] = digest
    elif labels.get(CONFIG_HASH):
        ctx.notes.append('%s: the compose config hash could not be computed (%s): compose may recreate it '
                         'at its next up' % (swap['container'], why))
