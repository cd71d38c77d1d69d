# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP poller for bench/: one GET every --interval seconds, run inside a lab host's network
namespace (nsenter --net=...) or a container's (nsenter -t PID -n). Standard library only.

Target either a fixed address (--host/--port: a published port) or a Docker network alias
(--alias: resolved before every request through the engine's embedded DNS, --dns, default
127.0.0.11: Docker's; a Podman network's is its gateway, as a client container would; the first
address answered is used).

Protocol: prints READY once the first request has been tried, then polls until a line arrives on
stdin or --max-seconds pass (the loop is bounded), then prints one JSON line:
{"samples": [[wall_time, ok, detail], ...]} where detail is the body's first line or the error.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import struct
import sys
import time


def dns_a(name, server=('127.0.0.11', 53), timeout=0.2):
    """A records of ``name`` from a DNS server (one UDP query, no retries)."""
    qid = random.randint(0, 0xFFFF)
    query = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip('.').split('.'):
        query += bytes([len(label)]) + label.encode('ascii')
    query += b'\x00' + struct.pack('>HH', 1, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.sendto(query, server)
        data = sock.recv(2048)
    finally:
        sock.close()
    rid, flags, qd, an, dummy_ns, dummy_ar = struct.unpack('>HHHHHH', data[:12])
    if rid != qid or flags & 0x000F:
        return []
    pos = 12
    for dummy in range(qd):
        pos = _skip_name(data, pos) + 4
    found = []
    for dummy in range(an):
        pos = _skip_name(data, pos)
        rtype, dummy_cls, dummy_ttl, length = struct.unpack('>HHIH', data[pos:pos + 10])
        pos += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += length
    return found


def _skip_name(data, pos):
    while True:
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += length + 1


def get(host, port, path, timeout):
    """(ok, detail): one HTTP/1.0 GET on a new connection; ok means status 200."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(('GET %s HTTP/1.0\r\nHost: bench\r\n\r\n' % path).encode('ascii'))
        chunks = []
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    data = b''.join(chunks)
    head, dummy, body = data.partition(b'\r\n\r\n')
    status = head.split(b'\r\n', 1)[0].split(b' ')
    code = status[1].decode('ascii', 'replace') if len(status) > 1 else '?'
    if code != '200':
        return False, 'status %s' % code
    return True, body.decode('utf-8', 'replace').strip().split('\n', 1)[0][:40]


def once(args):
    try:
        host = args.host
        if args.alias:
            addrs = dns_a(args.alias, (args.dns, 53))
            if not addrs:
                return False, 'no address for %s' % args.alias
            host = addrs[0]
        return get(host, args.port, args.path, args.timeout)
    except Exception as exc:  # every failure is a sample, never a crash
        return False, '%s: %s%s' % (type(exc).__name__, str(exc)[:60], (' (%s)' % host) if args.alias else '')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--alias')
    parser.add_argument('--dns', default='127.0.0.11')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--path', default='/version')
    parser.add_argument('--interval', type=float, default=0.01)
    parser.add_argument('--timeout', type=float, default=0.5)
    parser.add_argument('--max-seconds', type=float, default=300.0)
    args = parser.parse_args()

    samples = []
    deadline = time.monotonic() + args.max_seconds
    ready = False
    nxt = time.monotonic()
    while time.monotonic() < deadline:
        now = time.time()
        ok, detail = once(args)
        samples.append([round(now, 4), 1 if ok else 0, detail])
        if not ready:
            sys.stdout.write('READY\n')
            sys.stdout.flush()
            ready = True
        nxt += args.interval
        wait = nxt - time.monotonic()
        if wait < 0:  # a slow request: poll again at once, do not try to catch up
            nxt = time.monotonic()
            wait = 0
        readable, dummy_w, dummy_x = select.select([sys.stdin], [], [], wait)
        if readable:
            break
    sys.stdout.write(json.dumps({'samples': samples}) + '\n')
    sys.stdout.flush()
    os._exit(0)


if __name__ == '__main__':
    main()
