# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dependencies between containers on one engine (links, `container:` namespaces, volumes_from,
the patchops.depends-on label, compose's depends_on), and the order to recreate them in.

Private: not a public API of the collection.
"""

from __future__ import annotations

import os
import re

from ansible_collections.patchops.containers.plugins.module_utils._stop import container_process, read_text

DEPENDS_LABEL = 'patchops.depends-on'
COMPOSE_PROJECT = 'com.docker.compose.project'
COMPOSE_SERVICE = 'com.docker.compose.service'
COMPOSE_DEPENDS = 'com.docker.compose.depends_on'


# What a container cannot outlive: the provider's namespaces (``container:<id>`` names the old
# container's ID) and legacy links (they follow the provider through renames, and a container
# linked to a removed one can no longer start). Such followers are recreated after their provider.
FOLLOWED = (('NetworkMode', 'network namespace'), ('IpcMode', 'IPC namespace'), ('PidMode', 'PID namespace'))


NAMESPACES = ('net', 'ipc', 'pid')
_CONTAINER_ID = re.compile(r'[0-9a-f]{64}')


class CycleError(ValueError):
    pass


def entry_name(entry):
    """Primary name of a `/containers/json` entry: the one without a slash (others are links)."""
    names = entry.get('Names') or []
    for name in names:
        if '/' not in name.lstrip('/'):
            return name.lstrip('/')
    return names[0].lstrip('/') if names else entry['Id'][:12]


def parse_compose_depends_on(text):
    """`svc:condition:restart,...` (compose >= 2.20; older ones write `svc:condition`)."""
    out = []
    for item in (text or '').split(','):
        item = item.strip()
        if not item:
            continue
        parts = item.split(':')
        out.append((parts[0], parts[1] if len(parts) > 1 and parts[1] else None))
    return out


class Index:
    """Every container of the engine (unfiltered), to resolve dependency references."""

    def __init__(self, entries):
        self.by_id = {}
        self.by_name = {}
        self.services = {}
        for entry in entries:
            name = entry_name(entry)
            self.by_id[entry['Id']] = name
            self.by_name[name] = entry['Id']
            labels = entry.get('Labels') or {}
            project, service = labels.get(COMPOSE_PROJECT), labels.get(COMPOSE_SERVICE)
            if project and service:
                self.services.setdefault((project, service), []).append(name)
        for names in self.services.values():
            names.sort()

    def resolve(self, ref):
        """Container name for a name, a full ID or a unique ID prefix; None if unknown."""
        ref = (ref or '').lstrip('/')
        if ref in self.by_name:
            return ref
        if ref in self.by_id:
            return self.by_id[ref]
        if len(ref) >= 4:
            hits = [cid for cid in self.by_id if cid.startswith(ref)]
            if len(hits) == 1:
                return self.by_id[hits[0]]
        return None


def dependencies(inspect, index):
    """Containers this one needs, from links, `container:` namespaces, volumes_from and labels."""
    host = inspect.get('HostConfig') or {}
    labels = (inspect.get('Config') or {}).get('Labels') or {}
    deps = []

    def add(kind, ref, **extra):
        name = index.resolve(ref)
        dep = {'kind': kind, 'name': name or ref, 'resolved': name is not None}
        dep.update(extra)
        deps.append(dep)

    # Legacy links live in HostConfig ("/db:/web/alias"); links on user-defined networks in
    # their endpoint ("db:alias").
    links = list(host.get('Links') or [])
    for endpoint in ((inspect.get('NetworkSettings') or {}).get('Networks') or {}).values():
        links.extend((endpoint or {}).get('Links') or [])
    for link in links:
        alias = link.partition(':')[2]
        add('link', _link_target(link), alias=alias.rsplit('/', 1)[-1] or None)
    for key, kind in (('NetworkMode', 'netns'), ('PidMode', 'pid'), ('IpcMode', 'ipc')):
        ref = joined(host.get(key))
        if ref:
            add(kind, ref)
    for item in host.get('VolumesFrom') or []:
        add('volumes_from', item.split(':', 1)[0])
    for ref in (labels.get(DEPENDS_LABEL) or '').split(','):
        if ref.strip():
            add('label', ref.strip())
    project = labels.get(COMPOSE_PROJECT)
    for service, condition in parse_compose_depends_on(labels.get(COMPOSE_DEPENDS)):
        found = index.services.get((project, service)) or []
        for name in found:
            deps.append({'kind': 'compose', 'name': name, 'resolved': True,
                         'service': service, 'condition': condition})
        if not found:
            deps.append({'kind': 'compose', 'name': None, 'resolved': False,
                         'service': service, 'condition': condition})
    return deps


def _link_target(link):
    """'/db:/web/alias' (legacy) or 'db:alias' (endpoint) -> 'db'."""
    return link.partition(':')[0].lstrip('/')


def joined(mode):
    """The container a ``container:<ref>`` namespace mode joins (its ref), else None."""
    mode = mode or ''
    return mode[len('container:'):] if mode.startswith('container:') else None


def link_targets(inspect):
    """The containers a container's legacy links point at, as the links name them."""
    return [_link_target(link) for link in (inspect.get('HostConfig') or {}).get('Links') or []]


def followed(inspect, index):
    """[(provider name, what)] for the containers ``inspect`` follows (see FOLLOWED)."""
    host = inspect.get('HostConfig') or {}
    refs = [(joined(host.get(key)), what) for key, what in FOLLOWED]
    refs += [(ref, 'link') for ref in link_targets(inspect)]
    out = []
    for ref, what in refs:
        name = index.resolve(ref) if ref else None
        if name and (name, what) not in out:
            out.append((name, what))
    return out


def namespaces_of(pid, container_id, proc='/proc'):
    """The network, IPC and PID namespaces (``net:[inode]``...) of host process ``pid``, the PID 1
    of running container ``container_id``, read from this machine's /proc; None when that process
    is not that container's here (an engine on another machine or in another PID namespace)."""
    if not container_process(pid, container_id, proc=proc):
        return None
    try:
        return [os.readlink(os.path.join(proc, str(pid), 'ns', ns)) for ns in NAMESPACES]
    except OSError:
        return None


def namespace_members(proc='/proc'):
    """{namespace: IDs of the containers with a process in it}, over every process of this machine
    (a process's cgroup names its container); None when other processes' namespaces are not
    readable here (not root). Containers that are not running have no process, so are in none."""
    members = {}
    try:
        entries = os.listdir(proc)
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        ids = set(_CONTAINER_ID.findall(read_text(os.path.join(proc, entry, 'cgroup')) or ''))
        if not ids:
            continue
        for ns in NAMESPACES:
            try:
                link = os.readlink(os.path.join(proc, entry, 'ns', ns))
            except PermissionError:
                return None
            except OSError:  # the process ended meanwhile
                break
            members.setdefault(link, set()).update(ids)
    return members


def needed_names(inspect, index):
    """Names of the containers ``inspect`` needs (resolved ones only), for ordering."""
    return list(dict.fromkeys(d['name'] for d in dependencies(inspect, index) if d['resolved']))


def order(names, edges):
    """Topological order of ``names`` (providers first). ``edges``: {name: [needed names]}.

    Needed names outside ``names`` are ignored. Ties keep the given order, so the result is stable.
    """
    wanted = list(dict.fromkeys(names))
    inside = set(wanted)
    state = {}
    result = []

    def visit(name, path):
        if state.get(name) == 'done':
            return
        if state.get(name) == 'active':
            raise CycleError('dependency cycle between containers: %s' % ' -> '.join(path + [name]))
        state[name] = 'active'
        for dep in edges.get(name, []):
            if dep in inside:
                visit(dep, path + [name])
        state[name] = 'done'
        result.append(name)

    for name in wanted:
        visit(name, [])
    return result
