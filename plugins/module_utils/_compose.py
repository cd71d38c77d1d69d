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
import re
import shutil
import stat
import subprocess
import threading

from ansible_collections.patchops.containers.plugins.module_utils._engine import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._imageref import ImageRefError, is_image_id, parse
from ansible_collections.patchops.containers.plugins.module_utils._journal import write_text_atomic
from ansible_collections.patchops.containers.plugins.module_utils._stop import read_text
from ansible_collections.patchops.containers.plugins.module_utils._time import utc_now

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


# -- compose_file: update ------------------------------------------------------
class ComposeFileError(PatchopsError):
    """The service's ``image:`` line cannot be found or changed safely; the message names the file."""


def same_ref(a, b):
    """Whether two references name the same image name and tag (``web`` is ``web:latest``)."""
    try:
        pa, pb = parse(a), parse(b)
    except ImageRefError:
        return a == b
    return (pa.registry, pa.repository, pa.tag or (None if pa.digest else 'latest'), pa.digest) == \
        (pb.registry, pb.repository, pb.tag or (None if pb.digest else 'latest'), pb.digest)


def _content(line):
    """(indent, text) of a YAML line with content, or None for a blank or comment line."""
    text = line.rstrip('\r\n')
    stripped = text.lstrip(' ')
    if not stripped.strip() or stripped.startswith('#'):
        return None
    return len(text) - len(stripped), stripped


def _key(text):
    """(key, rest) of a block mapping line ``key: rest`` (the key may be quoted), else None."""
    match = re.match(r'''^(?:"([^"]+)"|'([^']+)'|([^\s'"#:][^#:]*?))[ \t]*:(?:[ \t]+|$)(.*)$''', text)
    if not match:
        return None
    return next(g for g in match.groups()[:3] if g is not None), match.group(4)


def _block(lines, start, indent):
    """Line numbers of the block after ``start`` whose content is indented more than ``indent``,
    and the indent of its first content line."""
    out, child = [], None
    for number in range(start + 1, len(lines)):
        content = _content(lines[number])
        if content is None:
            out.append(number)
            continue
        if content[0] <= indent:
            break
        child = content[0] if child is None else child
        out.append(number)
    return out, child


def _bare(rest):
    return not rest.strip() or rest.strip().startswith('#')


def find_image_line(text, service):
    """Where ``text`` (a compose file) sets the service's ``image:``: (line number, prefix, value,
    quote, suffix), or None if the service has no ``image:`` line in it. ComposeFileError when the
    file is laid out so that editing one line could change more than that service's image."""
    lines = text.splitlines(True)
    top = [n for n, line in enumerate(lines) if (_content(line) or (1,))[0] == 0
           and (_key(_content(line)[1]) or ('',))[0] == 'services']
    if not top:
        return None
    if not _bare(_key(_content(lines[top[0]])[1])[1]):
        raise ComposeFileError('its services: are not a block mapping (flow style or an alias)')
    body, indent = _block(lines, top[0], 0)
    entry = None
    for number in body:
        content = _content(lines[number])
        if content and content[0] == indent and (_key(content[1]) or ('',))[0] == service:
            entry = number
    if entry is None:
        return None
    rest = _key(_content(lines[entry])[1])[1]
    if not _bare(rest):
        raise ComposeFileError('service %s is not a block mapping there (%s)' % (service, rest.strip()))
    body, indent = _block(lines, entry, indent)
    found = None
    for number in body:
        content = _content(lines[number])
        if not content or content[0] != indent:
            continue
        key = _key(content[1])
        if key and key[0] == '<<':
            raise ComposeFileError('service %s merges a YAML anchor (<<:); its image may come from there' % service)
        if key and key[0] == 'image':
            found = number
    if found is None:
        return None
    line = lines[found].rstrip('\r\n')
    head = line[:len(line) - len(_key(_content(line)[1])[1])]
    rest = _key(_content(line)[1])[1]
    match = re.match(r'''^(?:"([^"\\]*)"|'([^']*)'|([^\s'"#&*!|>][^\s#]*))([ \t]*(?:#.*)?)$''', rest)
    if not match:
        raise ComposeFileError('the image: of service %s is not a single plain or quoted value (%s)'
                               % (service, rest.strip()))
    quote = '"' if match.group(1) is not None else ("'" if match.group(2) is not None else '')
    value = next(g for g in match.groups()[:3] if g is not None)
    if '$' in value:
        raise ComposeFileError('the image: of service %s is set by a variable (%s): change the variable '
                               'instead' % (service, value))
    return found, head, value, quote, match.group(4)


def locate_image(inspect, read_file=read_text):
    """The compose file that sets the service's ``image:`` (the last of its config files that
    does, as compose merges them) and (path, line number, value). ComposeFileError if none does."""
    labels = labels_of(inspect)
    service = labels.get(SERVICE)
    workdir = labels.get(WORKING_DIR) or ''
    files = [os.path.join(workdir, f) for f in (labels.get(CONFIG_FILES) or '').split(',') if f]
    if not (files and service):
        raise ComposeFileError('the container has no compose config files or service label')
    found = None
    for path in files:
        text = read_file(path)
        if text is None:
            raise ComposeFileError('compose file %s cannot be read on this host' % path)
        try:
            spot = find_image_line(text, service)
        except ComposeFileError as exc:
            raise ComposeFileError('compose file %s: %s' % (path, exc.msg))
        if spot:
            found = (path, spot[0] + 1, spot[2])
    if found is None:
        raise ComposeFileError('no image: line for service %s in %s' % (service, ', '.join(files)))
    return found


def replace_image(text, service, was, new):
    """``text`` with the service's ``image:`` value ``was`` replaced by ``new``, every other byte
    kept. ComposeFileError if the line is not there, names another image, or (with PyYAML) the
    file would then mean more than that change."""
    spot = find_image_line(text, service)
    if spot is None:
        raise ComposeFileError('no image: line for service %s' % service)
    number, head, value, quote, tail = spot
    if not same_ref(value, was):
        raise ComposeFileError('service %s names image %s there, not %s (changed since)' % (service, value, was))
    lines = text.splitlines(True)
    ending = lines[number][len(lines[number].rstrip('\r\n')):]
    lines[number] = head + quote + new + quote + tail + ending
    out = ''.join(lines)
    if HAS_YAML:
        try:
            before, after = yaml.safe_load(text), yaml.safe_load(out)
            before['services'][service]['image'] = new
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            raise ComposeFileError('cannot read it as YAML: %s' % exc)
        if before != after:
            raise ComposeFileError('changing line %d would change more than the image of service %s'
                                   % (number + 1, service))
    return out


def file_edit(inspect, new, read_file=read_text):
    """The planned edit of the service's compose file: {path, line, service, from, to}, ``from``
    the reference the file names now (what the container was created from)."""
    path, line, value = locate_image(inspect, read_file)
    service = labels_of(inspect).get(SERVICE)
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


_FILES_LOCK = threading.Lock()
_BACKUPS = {}


def write_edit(edit, was, new):
    """Apply one edit (the service's ``image:`` from ``was`` to ``new``) to its file, keeping a
    copy of the file as it was first beside it (``<file>.patchops-<stamp>.bak``, once per run);
    returns the backup's path. Replicas of one service share the line: one that finds ``new``
    there already leaves the file as it is."""
    path = edit['path']
    with _FILES_LOCK:
        try:
            with open(path, encoding='utf-8', newline='') as fh:
                text = fh.read()
            spot = find_image_line(text, edit['service'])
            if spot and same_ref(spot[2], new):
                return _BACKUPS.get(path)
            out = replace_image(text, edit['service'], was, new)
            status = os.stat(path)
            if path not in _BACKUPS:
                backup = '%s.patchops-%s.bak' % (path, utc_now().strftime('%Y%m%dT%H%M%SZ'))
                shutil.copy2(path, backup)
                _BACKUPS[path] = backup
            write_text_atomic(path, out, stat.S_IMODE(status.st_mode))
            if hasattr(os, 'chown') and os.geteuid() == 0:
                os.chown(path, status.st_uid, status.st_gid)
        except ComposeFileError as exc:
            raise ComposeFileError('compose file %s: %s' % (path, exc.msg))
        except (OSError, ValueError) as exc:
            raise ComposeFileError('compose file %s cannot be changed: %s' % (path, getattr(exc, 'strerror', None) or exc))
        return _BACKUPS[path]
