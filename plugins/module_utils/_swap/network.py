# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Network moves of a swap: the new container's extra networks, the service's aliases held back
from a start-first container until it is verified and then moved to it from the old one, and the
announce (gratuitous ARP) of a new endpoint.

Private: not a public API of the collection.
"""

from __future__ import annotations

import socket
import struct
import time

from ansible_collections.patchops.containers.plugins.module_utils._clone import operator_aliases


def connect_endpoints(ctx, name, cid, endpoints):
    """Join the networks beyond the first (the create call takes one), [(network, endpoint)]."""
    for network, endpoint in endpoints:
        ipam = endpoint.get('IPAMConfig') or {}
        ctx.engine.call('connect %s to %s' % (name, network), ctx.api.connect_container_to_network,
                        cid, network, ipv4_address=ipam.get('IPv4Address'), ipv6_address=ipam.get('IPv6Address'),
                        aliases=endpoint.get('Aliases'), links=endpoint.get('Links'),
                        driver_opt=endpoint.get('DriverOpts'))


def hold_aliases(ctx, swap, container, body, extra):
    """Start-first: take the service's aliases out of the new container's endpoints (``body`` and
    ``extra``, before it is created); the swap keeps them (``held_aliases``) and the old container's
    endpoints on those networks (``old_endpoints``, to give back)."""
    endpoints = list(((body.get('NetworkingConfig') or {}).get('EndpointsConfig') or {}).items()) + extra
    swap['held_aliases'] = dict((net, dict(ep)) for net, ep in endpoints if ep.get('Aliases'))
    swap['old_endpoints'] = dict(
        (net, {'IPAMConfig': settings.get('IPAMConfig'),
               'Aliases': operator_aliases(settings, container, ctx.engine.kind),
               'Links': settings.get('Links'), 'DriverOpts': settings.get('DriverOpts')})
        for net, settings in ((container.get('NetworkSettings') or {}).get('Networks') or {}).items()
        if net in swap['held_aliases'])
    for dummy, endpoint in endpoints:
        endpoint.pop('Aliases', None)


def move_aliases(ctx, swap, new_id):
    """Start-first, once the new container is verified: it takes the service's aliases, clients
    are told its address at once, and after ``drain_seconds`` (both serve) the old one leaves
    those networks, so that the engine's DNS no longer names it before it is stopped.

    Measures what clients of the aliases can miss: per network, the new container joining with
    them after the old one began to leave, max(0, joined - leaving); the largest is
    ``breakdown_ms['alias_gap']``. Returns when the old one began to leave (monotonic), None
    when no alias was held."""
    held = swap.get('held_aliases') or {}
    if not held:
        return None
    ctx.journal.record(swap, 'take_aliases')
    joined, leaving = {}, {}
    with ctx.timed(swap, 'aliases'):
        for network, endpoint in held.items():
            reconnect(ctx, swap['temp_name'], new_id, network, endpoint)
            joined[network] = time.monotonic()
        drain = ctx.params.get('drain_seconds') or 0
        if drain > 0:
            time.sleep(drain)
        ctx.journal.record(swap, 'release_old', released=sorted(held))
        for network in held:
            leaving[network] = time.monotonic()
            ctx.engine.call('disconnect old %s from %s' % (swap['container'], network),
                            ctx.api.disconnect_container_from_network, swap['old_id'], network)
    gap = max(max(0.0, joined[n] - leaving[n]) for n in held)
    swap.setdefault('breakdown_ms', {})['alias_gap'] = int(gap * 1000)
    return min(leaving.values())


def reconnect(ctx, name, cid, network, endpoint):
    """(Re)join ``network`` with the endpoint config given, and announce the address (ARP)."""
    found = ctx.inspect(cid) or {}
    if network in ((found.get('NetworkSettings') or {}).get('Networks') or {}):
        ctx.engine.call('disconnect %s from %s' % (name, network), ctx.api.disconnect_container_from_network,
                        cid, network)
    connect_endpoints(ctx, name, cid, [(network, dict(endpoint, Aliases=endpoint.get('Aliases') or None,
                                                      Links=endpoint.get('Links') or None))])
    settings = (((ctx.inspect(cid) or {}).get('NetworkSettings') or {}).get('Networks') or {}).get(network) or {}
    announce(ctx.engine, network, settings.get('IPAddress'), settings.get('MacAddress'))


def announce(engine, network, ip, mac):
    """Send a gratuitous ARP for a container's new endpoint on the network's bridge, when that bridge
    is on this machine: a client that asked for the address in the moment the engine already named
    it in DNS but the endpoint was not up yet would otherwise wait a whole ARP retry (1 s). Best
    effort: nothing happens for other drivers, a remote engine, or without the right to send."""
    if not ip or not mac:
        return False
    try:
        net = engine.call('inspect network %s' % network, engine.api.inspect_network, network)
    except Exception:
        return False
    if net.get('Driver') != 'bridge':
        return False
    bridge = (net.get('Options') or {}).get('com.docker.network.bridge.name') or 'br-' + net['Id'][:12]
    try:
        socket.if_nametoindex(bridge)  # in this network namespace (sysfs may show another one)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            sock.bind((bridge, 0))
            hw = bytes.fromhex(mac.replace(':', ''))
            addr = socket.inet_aton(ip)
            # Ethernet broadcast, ARP reply (op 2) with sender = target = the container's address.
            sock.send(b'\xff' * 6 + hw + b'\x08\x06' + struct.pack('>HHBBH', 1, 0x0800, 6, 4, 2)
                      + hw + addr + b'\xff' * 6 + addr)
        finally:
            sock.close()
    except (OSError, ValueError, AttributeError):
        return False
    return True
