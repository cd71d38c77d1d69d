# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry credentials and the remote-digest lookup through the engine (no pull).

Private: not a public API of the collection.
"""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._engine import EngineError, NotFound

REGISTRY_ARGUMENT_SPEC = dict(
    registry_username=dict(type='str'),
    registry_password=dict(type='str', no_log=True),
)


def auth_config(params, registry):
    """Credentials for ``registry`` from module options; None lets the SDK use the host's
    docker config (``~/.docker/config.json`` of the connecting user)."""
    user = params.get('registry_username')
    password = params.get('registry_password')
    if user and password:
        return {'username': user, 'password': password, 'serveraddress': registry}
    return None


def classify_registry_error(text):
    """A short reason for an update check or pull failure, from the engine's message."""
    low = (text or '').lower()
    if 'unauthorized' in low or 'authentication required' in low or 'no basic auth' in low \
            or 'denied' in low or 'incorrect username or password' in low:
        return 'auth denied'
    if 'manifest unknown' in low or 'not found' in low or 'name unknown' in low:
        return 'not found'
    if 'x509' in low or 'certificate' in low or 'tls' in low:
        return 'tls error'
    if 'connection refused' in low or 'no such host' in low or 'timeout' in low \
            or 'i/o timeout' in low or 'no route to host' in low or 'eof' in low:
        return 'registry unreachable'
    return 'registry error'


def remote_digest(engine, ref, auth):
    """Ask the engine (``GET /distribution/{name}/json``) for the registry's current digest.

    Returns (digest, None) or (None, reason); the password never appears in a reason.
    """
    try:
        data = engine.api.inspect_distribution(ref.tagged() or ref.text, auth_config=auth)
    except Exception as exc:  # APIError subclasses, and requests errors when the engine goes away
        text = exc.msg if isinstance(exc, EngineError) else _explain(exc)
        reason = classify_registry_error(text)
        if reason == 'registry error' and isinstance(exc, NotFound):
            reason = 'not found'
        return None, '%s: %s' % (reason, text)
    return (data.get('Descriptor') or {}).get('digest'), None


def _explain(exc):
    text = getattr(exc, 'explanation', None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    return text
