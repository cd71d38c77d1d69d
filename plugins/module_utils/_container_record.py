# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One container of the inventory: which list entries it keeps (``select``), a list entry seen as an
inspect (``from_list``, for detail=summary), and the record's fields read from an inspect (ports,
mounts, networks, compose labels, timestamps). Pure: no engine call.

Private: not a public API of the collection.
"""

from __future__ import annotations

import datetime
import fnmatch
import re

from ansible_collections.patchops.containers.plugins.module_utils._compose import (
    CONFIG_FILES,
    PREFIX,
    PROJECT,
    SERVICE,
    WORKING_DIR,
)
from ansible_collections.patchops.containers.plugins.module_utils._deps import entry_name as _name

# What `docker ps` without -a shows.
ACTIVE_STATES = ('running', 'paused', 'restarting')
_HEALTH_IN_STATUS = re.compile(r'\((healthy|unhealthy|health: starting)\)')
_EXIT_IN_STATUS = re.compile(r'^Exited \((-?\d+)\)')
_HEX64 = re.compile(r'^[0-9a-f]{64}$')


def engine_time(value):
    """Engine timestamps as given; the zero time (never started/finished) becomes None."""
    if not value or value.startswith('0001-01-01'):
        return None
    return value


def _label_matches(labels, wanted):
    key, sep, value = wanted.partition('=')
    if key not in labels:
        return False
    return not sep or labels[key] == value


def select(entries, names=(), labels=(), statuses=(), include_stopped=False):
    """Filter `/containers/json?all=1` entries: name globs (any), labels (all), states (any).

    An explicit status list wins over include_stopped.
    """
    out = []
    for entry in entries:
        state = entry.get('State') or ''
        if statuses:
            if state not in statuses:
                continue
        elif not include_stopped and state not in ACTIVE_STATES:
            continue
        if names and not any(fnmatch.fnmatchcase(_name(entry), pattern) for pattern in names):
            continue
        entry_labels = entry.get('Labels') or {}
        if not all(_label_matches(entry_labels, wanted) for wanted in labels):
            continue
        out.append(entry)
    return out


def _follower(inspect):
    """In another container's network namespace: no networks or ports of its own (Podman shows
    that container's)."""
    return ((inspect.get('HostConfig') or {}).get('NetworkMode') or '').startswith('container:')


def ports(inspect):
    """Published ports: the bound ones of a running container, else the configured bindings."""
    if _follower(inspect):
        return []
    running = (inspect.get('State') or {}).get('Running')
    if running:
        source = (inspect.get('NetworkSettings') or {}).get('Ports') or {}
    else:
        source = (inspect.get('HostConfig') or {}).get('PortBindings') or {}
    out = []
    for key, bindings in source.items():
        port, dummy, proto = key.partition('/')
        for binding in bindings or []:
            host_port = binding.get('HostPort') or ''
            out.append({
                'container_port': int(port),
                'protocol': proto or 'tcp',
                'host_ip': binding.get('HostIp') or '',
                'host_port': int(host_port) if host_port.isdigit() else None,
            })
    out.sort(key=lambda p: (p['container_port'], p['protocol'], p['host_ip'], p['host_port'] or 0))
    return out


def mounts(inspect):
    """Mounts with volumes split into named and anonymous (engine-generated 64-hex name)."""
    out = []
    for mount in inspect.get('Mounts') or []:
        kind = mount.get('Type') or ''
        name = mount.get('Name') or None
        if kind == 'volume':
            kind = 'anonymous' if name and _HEX64.match(name) else 'named'
        out.append({
            'type': kind,
            'name': name,
            'source': mount.get('Source') or '',
            'destination': mount.get('Destination') or '',
            'driver': mount.get('Driver') or None,
            'mode': mount.get('Mode') or '',
            'rw': bool(mount.get('RW')),
            'propagation': mount.get('Propagation') or '',
        })
    out.sort(key=lambda m: m['destination'])
    return out


def networks(inspect):
    """Each network of the container; aliases are the operator's, in either inspect shape (below
    API 1.44 the engine lists the container's short ID among them, from 1.44 only in DNSNames)."""
    own = {inspect.get('Id') or '', (inspect.get('Id') or '')[:12]}
    out = []
    if _follower(inspect):
        return out
    for name, net in sorted(((inspect.get('NetworkSettings') or {}).get('Networks') or {}).items()):
        ipam = net.get('IPAMConfig') or {}
        out.append({
            'name': name,
            'id': net.get('NetworkID') or '',
            'ip_address': net.get('IPAddress') or '',
            'ipv6_address': net.get('GlobalIPv6Address') or '',
            'gateway': net.get('Gateway') or '',
            'mac_address': net.get('MacAddress') or '',
            'aliases': [a for a in net.get('Aliases') or [] if a not in own],
            'static_ipv4': ipam.get('IPv4Address') or '',
            'static_ipv6': ipam.get('IPv6Address') or '',
        })
    return out


def from_list(entry):
    """An inspect-shaped view of a ``GET /containers/json`` entry, for detail=summary: name, image,
    state, health and exit code (from the status text), labels, published ports of a running
    container, mounts, network mode and networks; not what only an inspect has (INSPECT_ONLY)."""
    status = entry.get('Status') or ''
    health = _HEALTH_IN_STATUS.search(status)
    exited = _EXIT_IN_STATUS.match(status)
    running = entry.get('State') == 'running'
    bound = {}
    for port in entry.get('Ports') or []:
        if port.get('PublicPort'):
            bound.setdefault('%s/%s' % (port.get('PrivatePort'), port.get('Type') or 'tcp'), []).append(
                {'HostIp': port.get('IP') or '', 'HostPort': str(port['PublicPort'])})
    created = entry.get('Created')
    return {
        'Id': entry['Id'],
        'Name': '/' + _name(entry),
        'Image': entry.get('ImageID') or '',
        'Created': datetime.datetime.fromtimestamp(created, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        if isinstance(created, int) else created,
        'Config': {'Image': entry.get('Image') or '', 'Labels': entry.get('Labels') or {}},
        'State': {'Status': entry.get('State'), 'Running': running,
                  'Health': {'Status': health.group(1).replace('health: ', '')} if health else None,
                  'ExitCode': int(exited.group(1)) if exited else 0},
        'HostConfig': dict(entry.get('HostConfig') or {}),
        'NetworkSettings': {'Networks': (entry.get('NetworkSettings') or {}).get('Networks') or {}, 'Ports': bound},
        'Mounts': entry.get('Mounts') or [],
    }


def compose_info(labels):
    labels = labels or {}
    project = labels.get(PROJECT)
    if not project:
        return None
    files = labels.get(CONFIG_FILES)
    number = labels.get(PREFIX + 'container-number')
    return {
        'project': project,
        'service': labels.get(SERVICE),
        'working_dir': labels.get(WORKING_DIR),
        'config_files': [f for f in files.split(',') if f] if files else [],
        'container_number': int(number) if number and number.isdigit() else None,
    }
