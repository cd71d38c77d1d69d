# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine address: what it risks (decided before anything is sent) and why it cannot be reached
(one sentence naming it). No SDK import.

Private: not a public API of the collection.
"""

from __future__ import annotations

import errno
import ipaddress
import socket

DEFAULT_HOST = 'unix:///var/run/docker.sock'


def _tcp_address(docker_host):
    """(scheme, host) of a TCP engine address (tcp://, http://, https://, or none, as the SDK reads them), else None."""
    text = str(docker_host or '')
    scheme, sep, rest = text.partition('://')
    if not sep:
        if text.startswith('/'):
            return None
        scheme, rest = 'tcp', text
    scheme = scheme.lower()
    if scheme not in ('tcp', 'http', 'https'):
        return None
    rest = rest.split('/', 1)[0]
    if rest.startswith('['):  # [IPv6]:port
        return scheme, rest[1:].split(']', 1)[0]
    return scheme, rest.rsplit(':', 1)[0] if rest.count(':') == 1 else rest


def _loopback(host):
    if host.lower() in ('', 'localhost'):  # the SDK reads tcp://:2375 as 127.0.0.1
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_problem(params):
    """(why the engine address is refused or None, a warning or None), decided before anything is sent.

    The engine API is root on its host: plain TCP to anything but this host's loopback hands it to
    whoever is on the network path, and TLS that does not verify the engine's certificate lets them pose
    as the engine. ``tls_insecure_ok`` is the operator accepting both. The SDK speaks TLS on tcp:// when
    asked (``tls``, ``validate_certs``), always on https:// and never on http://; it verifies unless given
    ``tls`` without ``validate_certs``."""
    docker_host = params.get('docker_host') or DEFAULT_HOST
    found = _tcp_address(docker_host)
    if found is None or _loopback(found[1]) or params.get('tls_insecure_ok'):
        return None, None
    scheme = found[0]
    if scheme == 'http' or (scheme == 'tcp' and not (params.get('tls') or params.get('validate_certs'))):
        return ('docker_host %s is plain TCP without TLS to another host: anyone on the network path can drive '
                'that engine, which is root on its host. Use tcp:// with TLS that verifies the engine '
                '(validate_certs: true, ca_path, client_cert, client_key), the engine\'s unix socket, or an SSH '
                'tunnel to a loopback address; or set tls_insecure_ok: true to accept the risk' % docker_host), None
    if params.get('tls') and not params.get('validate_certs'):
        return None, ('docker_host %s: TLS without verifying the engine\'s certificate (validate_certs: false): '
                      'anyone on the network path can pose as the engine. Set validate_certs: true with ca_path '
                      '(or tls_insecure_ok: true to accept the risk)' % docker_host)
    return None, None


def _socket_path(docker_host):
    return docker_host[len('unix://'):] if docker_host.startswith('unix://') else None


def _root_cause(exc):
    """Walk __cause__/__context__/args to the innermost OSError, if any."""
    seen = set()
    todo = [exc]
    while todo:
        cur = todo.pop(0)
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno is not None:
            return cur
        todo.extend([getattr(cur, '__cause__', None), getattr(cur, '__context__', None)])
        todo.extend(a for a in getattr(cur, 'args', ()) if isinstance(a, BaseException))
        reason = getattr(cur, 'reason', None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return None


def describe_connection_error(docker_host, timeout, exc):
    """Turn a failure to reach the engine into one clear sentence naming the address."""
    path = _socket_path(docker_host)
    cause = _root_cause(exc)
    code = cause.errno if cause is not None else None
    text = str(exc)
    if path is not None and (code == errno.ENOENT or 'No such file' in text):
        return ('Docker engine not answering at %s: the socket %s does not exist '
                '(is dockerd running on this host? On a Podman host: is `podman system service` '
                'listening there, e.g. podman.socket enabled, docker_host unix:///run/podman/podman.sock?)'
                % (docker_host, path))
    if code in (errno.EACCES, errno.EPERM) or 'Permission denied' in text:
        return ('Permission denied on the Docker engine socket %s: run the task as root '
                '(become: true) or as a member of the docker group' % (path or docker_host))
    if code == errno.ECONNREFUSED or 'Connection refused' in text:
        return ('Docker engine not answering at %s: connection refused '
                '(dockerd is stopped or restarting)' % docker_host)
    if isinstance(exc, (socket.timeout, TimeoutError)) or 'timed out' in text.lower():
        return 'Docker engine not answering at %s: no answer within %s s' % (docker_host, timeout)
    return 'Docker engine not answering at %s: %s' % (docker_host, text)
