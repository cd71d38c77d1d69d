# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""compose_file: update, the edit of a service's ``image:`` line in its compose file: found, changed
with every other byte kept (checked with PyYAML when the host has it), a backup kept beside it.

Private: not a public API of the collection.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import threading

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._imageref import same_ref
from ansible_collections.patchops.containers.plugins.module_utils._journal import write_text_atomic
from ansible_collections.patchops.containers.plugins.module_utils._time import utc_now

try:
    import yaml
    HAS_YAML = True
except ImportError:  # the host may lack PyYAML: the file is then changed without the YAML check
    HAS_YAML = False


class ComposeFileError(PatchopsError):
    """The service's ``image:`` line cannot be found or changed safely; the message names the file."""


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


def locate_image(files, service, read_file):
    """The compose file of ``files`` that sets the service's ``image:`` (the last that does, as
    compose merges them) and (path, line number, value). ComposeFileError if none does."""
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
