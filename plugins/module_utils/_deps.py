# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dependencies between containers on one engine, and the order to recreate them in.

Private: not a public API of the collection.
"""

from __future__ import annotations

DEPENDS_LABEL = 'patchops.depends-on'
COMPOSE_PROJECT = 'com.docker.compose.project'
COMPOSE_SERVICE = 'com.docker.compose.service'
COMPOSE_DEPENDS = 'com.docker.compose.depends_on'


class CycleError(ValueError):
    pass


def _name(container):
    return (container.get('Name') or '').lstrip('/')


def dependencies(container, containers):
    """Names of the containers ``container`` needs, each with why: [(name, kind)].

    ``containers`` is every inspected container of the engine (to resolve ids and compose
    services). Kinds: netns, link, label, compose.
    """
    by_id = {c['Id']: _name(c) for c in containers}
    names = set(by_id.values())
    labels = (container.get('Config') or {}).get('Labels') or {}
    host = container.get('HostConfig') or {}
    out = []

    mode = host.get('NetworkMode') or ''
    if mode.startswith('container:'):
        ref = mode.split(':', 1)[1]
        target = by_id.get(ref) or next((n for i, n in by_id.items() if i.startswith(ref)), None) \
            or (ref if ref in names else None)
        out.append((target or ref, 'netns'))
    links = list(host.get('Links') or [])
    for settings in ((container.get('NetworkSettings') or {}).get('Networks') or {}).values():
        links.extend((settings or {}).get('Links') or [])
    for link in links:
        out.append((link.split(':', 1)[0].lstrip('/'), 'link'))
    for dep in (labels.get(DEPENDS_LABEL) or '').split(','):
        if dep.strip():
            out.append((dep.strip(), 'label'))
    project = labels.get(COMPOSE_PROJECT)
    if project and labels.get(COMPOSE_DEPENDS):
        services = {}
        for other in containers:
            olabels = (other.get('Config') or {}).get('Labels') or {}
            if olabels.get(COMPOSE_PROJECT) == project and olabels.get(COMPOSE_SERVICE):
                services.setdefault(olabels[COMPOSE_SERVICE], []).append(_name(other))
        for entry in labels[COMPOSE_DEPENDS].split(','):
            service = entry.split(':', 1)[0].strip()
            for name in services.get(service, []):
                out.append((name, 'compose'))
    seen = set()
    unique = []
    for name, kind in out:
        if name != _name(container) and (name, kind) not in seen:
            seen.add((name, kind))
            unique.append((name, kind))
    return unique


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
