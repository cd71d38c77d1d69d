# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - Address of the Docker engine on the managed host, for example V(unix:///var/run/docker.sock)
        or V(tcp://127.0.0.1:2376).
      - If not set, the E(DOCKER_HOST) environment variable is used, then the default socket.
    type: str
    default: unix:///var/run/docker.sock
    aliases: [docker_url]
  tls:
    description:
      - Connect with TLS without verifying the engine's certificate. Prefer O(validate_certs).
      - If not set, E(DOCKER_TLS) is used.
    type: bool
    default: false
  validate_certs:
    description:
      - Connect with TLS and verify the engine's certificate against O(ca_path).
      - If not set, E(DOCKER_TLS_VERIFY) is used.
    type: bool
    default: false
    aliases: [tls_verify]
  ca_path:
    description: CA certificate used to verify the engine's certificate.
    type: path
    aliases: [ca_cert, tls_ca_cert]
  client_cert:
    description: Client certificate for TLS.
    type: path
    aliases: [tls_client_cert, cert_path]
  client_key:
    description: Client key for TLS.
    type: path
    aliases: [tls_client_key, key_path]
  timeout:
    description:
      - Seconds to wait for an answer from the engine API.
      - If not set, E(DOCKER_TIMEOUT) is used.
    type: int
    default: 60
  api_version:
    description:
      - Engine API version to use; V(auto) negotiates with the engine.
      - The engine must speak at least API 1.30 (Docker 17.06).
      - If not set, E(DOCKER_API_VERSION) is used.
    type: str
    default: auto
    aliases: [docker_api_version]
  tls_insecure_ok:
    description:
      - Accept an engine address that lets anyone on the network path control the engine, which is root on
        its host.
      - Without it, a V(tcp://) address to a host other than the loopback (V(127.0.0.0/8), V(::1),
        V(localhost)) without O(tls) or O(validate_certs), and any such V(http://) address, fail before anything
        is sent; O(tls) without O(validate_certs) to such a host is allowed with a warning.
    type: bool
    default: false
requirements:
  - The Python L(docker SDK,https://docker-py.readthedocs.io/) >= 5.0 on the managed host.
notes:
  - Connection options can be set once for all modules of this collection with
    C(module_defaults) and the action group C(group/patchops.containers.docker).
"""
