# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one engine client of the collection: connection options, connect, error translation, and the
engine actions written once (``tag``, ``start``, ``exec``).

Private: not a public API of the collection.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import traceback

from ansible.module_utils.basic import env_fallback

from ansible_collections.patchops.containers.plugins.module_utils._connection import (
    DEFAULT_HOST, describe_connection_error, transport_problem)
from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError, error_text, orphan_task

try:
    import docker
    from docker.errors import APIError, DockerException, NotFound
    import requests.exceptions
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by the "SDK missing" test
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):  # type: ignore[no-redef]
        pass

    class APIError(DockerException):  # type: ignore[no-redef]
        pass

    class NotFound(APIError):  # type: ignore[no-redef]
        pass


MIN_API_VERSION = '1.30'
# The newest Engine API whose request and inspect shapes the collection knows (Docker 26). With
# api_version auto it speaks min(this, the engine's), raised to the engine's minimum if need be.
MAX_API_VERSION = '1.45'
MIN_SDK_VERSION = '5.0.0'
# Podman serves the Docker-compatible API; it renames containers (which every swap needs) from 3.0.
MIN_PODMAN_VERSION = '3.0'
# Podman's answer about a container whose storage layer it deleted (Engine._storage_lost).
_LAYER_GONE = 'layer not known'

ENGINE_ARGUMENT_SPEC = dict(
    docker_host=dict(type='str', default=DEFAULT_HOST, aliases=['docker_url'],
                     fallback=(env_fallback, ['DOCKER_HOST'])),
    tls=dict(type='bool', default=False, fallback=(env_fallback, ['DOCKER_TLS'])),
    validate_certs=dict(type='bool', default=False, aliases=['tls_verify'],
                        fallback=(env_fallback, ['DOCKER_TLS_VERIFY'])),
    ca_path=dict(type='path', aliases=['ca_cert', 'tls_ca_cert']),
    client_cert=dict(type='path', aliases=['tls_client_cert', 'cert_path']),
    client_key=dict(type='path', aliases=['tls_client_key', 'key_path'], no_log=False),
    timeout=dict(type='int', default=60, fallback=(env_fallback, ['DOCKER_TIMEOUT'])),
    api_version=dict(type='str', default='auto', aliases=['docker_api_version'],
                     fallback=(env_fallback, ['DOCKER_API_VERSION'])),
    tls_insecure_ok=dict(type='bool', default=False),
)


def engine_argument_spec(**extra):
    """The connection options plus a module's own."""
    spec = dict(ENGINE_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def fail_module(module, exc):
    """End a module run on a PatchopsError: its message, the partial result it carries (detail
    ``result``, without its private ``before``), its other details, and ``changed`` false unless the
    partial result says otherwise."""
    details = dict(exc.details)
    result = dict(details.pop('result', None) or {})
    result.pop('before', None)
    result.update(details)
    result.setdefault('changed', False)
    module.fail_json(msg=exc.msg, **result)


def _version_tuple(text):
    parts = []
    for piece in str(text).split('.'):
        digits = ''.join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def negotiate_api_version(requested, engine_api, engine_min):
    """The API version to speak: ``requested`` ('auto' or 'X.Y') against the engine's /version.

    'auto' is the newest both sides know, never below what the engine accepts (Docker 29 refuses
    clients below 1.44). An explicit version outside the engine's range is an operator error:
    returns (version, None) or (None, why).
    """
    engine_api = engine_api or MIN_API_VERSION
    engine_min = engine_min or MIN_API_VERSION
    if str(requested or 'auto').lower() == 'auto':
        version = min(engine_api, MAX_API_VERSION, key=_version_tuple)
        return max(version, engine_min, key=_version_tuple), None
    if _version_tuple(requested) < _version_tuple(MIN_API_VERSION):
        return None, ('api_version %s is below %s, the oldest API patchops.containers speaks: use '
                      'api_version: auto' % (requested, MIN_API_VERSION))
    if _version_tuple(requested) < _version_tuple(engine_min):
        return None, ('api_version %s is below the minimum API %s of this engine: use api_version: auto '
                      '(or at least %s)' % (requested, engine_min, engine_min))
    if _version_tuple(requested) > _version_tuple(engine_api):
        return None, ('api_version %s is newer than API %s, the newest this engine speaks: use '
                      'api_version: auto (or at most %s)' % (requested, engine_api, engine_api))
    return requested, None


def engine_kind(version):
    """('podman' or 'docker', the engine's own version) from its /version answer.

    Podman lists a "Podman Engine" component (its Version is Podman's, not Docker's); Docker lists
    "Engine". The Platform name is checked too: some Podman builds name it there.
    """
    version = version or {}
    for component in version.get('Components') or []:
        if 'podman' in str(component.get('Name') or '').lower():
            return 'podman', component.get('Version') or version.get('Version')
    if 'podman' in str((version.get('Platform') or {}).get('Name') or '').lower():
        return 'podman', version.get('Version')
    return 'docker', version.get('Version')


def podman_engine_id(info):
    """A stable identity for a Podman engine. Podman's /info ID is a new random UUID on every call;
    its store is what persists: its host name and storage root (graphroot) name it."""
    key = '%s\0%s' % (info.get('Name') or '', info.get('DockerRootDir') or '')
    return 'podman-' + hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]


def rename_problem(kind, version, docker_host):
    """Why this engine cannot rename containers (Podman before 3.0), or None."""
    if kind == 'podman' and _version_tuple(version) < _version_tuple(MIN_PODMAN_VERSION):
        return ('Podman %s at %s cannot rename containers, which every swap and rollback needs: patchops.containers '
                'needs Podman %s or newer there (container_inventory still works)'
                % (version, docker_host, MIN_PODMAN_VERSION))
    return None


def sdk_missing_message():
    return ("The Python 'docker' SDK (>= %s) is required on the managed host but cannot be "
            "imported by %s. Install it with: %s -m pip install 'docker>=%s' "
            "(or the distribution package, e.g. apt install python3-docker / dnf install python3-docker)."
            % (MIN_SDK_VERSION.rsplit('.0', 1)[0], sys.executable, sys.executable,
               MIN_SDK_VERSION.rsplit('.0', 1)[0]))


class Engine:
    """A connected, version-checked engine API client."""

    def __init__(self, params):
        if not HAS_DOCKER:
            raise EngineError(sdk_missing_message(), exception=DOCKER_IMPORT_ERROR)
        if _version_tuple(docker.__version__) < _version_tuple(MIN_SDK_VERSION):
            raise EngineError("The Python 'docker' SDK on the managed host is %s; >= %s is required. "
                              "Upgrade it with: %s -m pip install -U 'docker>=%s'"
                              % (docker.__version__, MIN_SDK_VERSION, sys.executable, MIN_SDK_VERSION))
        self.docker_host = params.get('docker_host') or DEFAULT_HOST
        self.timeout = params.get('timeout') or 60
        why = transport_problem(params)[0]
        if why:
            raise EngineError(why)
        tls_config = None
        if params.get('tls') or params.get('validate_certs'):
            cert = None
            if params.get('client_cert') and params.get('client_key'):
                cert = (params['client_cert'], params['client_key'])
            tls_config = docker.tls.TLSConfig(
                client_cert=cert, ca_cert=params.get('ca_path'),
                verify=bool(params.get('validate_certs')))
        requested = params.get('api_version') or 'auto'
        client = dict(base_url=self.docker_host, timeout=self.timeout, tls=tls_config)
        try:
            # Not the SDK's own 'auto': that takes the engine's newest API, whatever it is.
            self.api = docker.APIClient(version=MAX_API_VERSION, **client)
        except DockerException as exc:
            raise EngineError(describe_connection_error(self.docker_host, self.timeout, exc))
        try:
            self.version = self.api.version(api_version=False)  # /version answers any client version
        except Exception as exc:  # connection errors come as several types
            raise EngineError(describe_connection_error(self.docker_host, self.timeout, exc))
        engine_api = self.version.get('ApiVersion', '0')
        if _version_tuple(engine_api) < _version_tuple(MIN_API_VERSION):
            raise EngineError('Docker engine at %s speaks API %s (Docker %s); patchops.containers needs '
                              'API >= %s (Docker 17.06 or newer)'
                              % (self.docker_host, engine_api, self.version.get('Version'), MIN_API_VERSION))
        version, why = negotiate_api_version(requested, engine_api, self.version.get('MinAPIVersion'))
        if why:
            raise EngineError('Docker engine at %s (Docker %s, API %s to %s): %s'
                              % (self.docker_host, self.version.get('Version'),
                                 self.version.get('MinAPIVersion') or MIN_API_VERSION, engine_api, why))
        if version != self.api.api_version:
            self.api.close()
            self.api = docker.APIClient(version=version, **client)
        self.kind, self.kind_version = engine_kind(self.version)
        self._info = None

    @property
    def facts(self):
        """What names this engine in results and reports: kind, its own version, API spoken."""
        return {'kind': self.kind, 'version': self.kind_version, 'api_version': self.api.api_version}

    def require_rename(self):
        """Raise unless the engine renames containers (Podman before 3.0 does not)."""
        why = rename_problem(self.kind, self.kind_version, self.docker_host)
        if why:
            raise EngineError(why)

    @property
    def info(self):
        """/info, its ID the engine's identity (journal, lock and stage manifest are kept under it)."""
        if self._info is None:
            info = self.call('read engine info', self.api.info)
            if self.kind == 'podman':
                info = dict(info, ID=podman_engine_id(info), PodmanInfoID=info.get('ID'))
            self._info = info
        return self._info

    def find_container(self, ref):
        """Inspect of a container by name or ID, or None when the engine has none. A Podman container whose
        storage is gone (``_storage_lost``) reads as dead, as Docker shows a container whose removal was cut off:
        it can never run again, and a removal finishes it."""
        try:
            return self.call('inspect container %s' % ref, self.api.inspect_container, ref)
        except NotFound:
            return None
        except EngineError as exc:
            lost = [c for c in self._storage_lost(exc) if c['Id'].startswith(ref) or c['Name'].lstrip('/') == ref]
            if not lost:
                raise
            return lost[0]

    def list_containers(self, all=True):  # pylint: disable=redefined-builtin
        """The engine's container list (``all``: the stopped ones too). A Podman container whose storage is
        gone fails every list; the error names it and the way out."""
        try:
            return self.call('list containers', self.api.containers, all=all)
        except EngineError as exc:
            lost = self._storage_lost(exc)
            if not lost:
                raise
            names = [c['Name'].lstrip('/') for c in lost]
            raise EngineError('%s. Container %s lost its storage: Podman was killed while it removed the container, '
                              'and its next start deleted the container\'s layer but kept the container, which can '
                              'never run again. No container list works until it is removed: podman rm -f %s, then '
                              'run again' % (exc.msg, ', '.join('%s (%s)' % (n, c['Id'][:12]) for n, c in zip(names, lost)),
                                             ' '.join(names)))

    def remove(self, container_id, what, volumes=False):
        """Remove a container, stopping it first if need be. Podman removing a container whose storage is gone
        reports that storage missing, yet removes the container: it is gone, as asked."""
        try:
            self.call(what, self.api.remove_container, container_id, v=volumes, force=True)
        except EngineError as exc:
            if not (_LAYER_GONE in exc.msg and self.kind == 'podman' and self.find_container(container_id) is None):
                raise

    def _storage_lost(self, exc):
        """The containers (as dead inspects: Id, Name, State, Config.Image) whose storage Podman lost, when ``exc``
        is Podman's "layer not known": killed while it removed a container, Podman deletes the container's
        half-removed layer at its next start and keeps the container; every compat inspect of it, and every
        compat list, then fails. Podman's own list and inspect tell which: those its inspect cannot read."""
        if self.kind != 'podman' or _LAYER_GONE not in exc.msg:
            return []
        lost = []
        for entry in self.call('list containers', self._podman, '/libpod/containers/json', all='true'):
            if self.call('inspect container %s' % entry['Id'], self._podman, '/libpod/containers/{0}/json',
                         entry['Id'], status=True) == 500:
                lost.append({'Id': entry['Id'], 'Name': '/' + ((entry.get('Names') or [''])[0]),
                             'State': {'Status': 'dead', 'Dead': True, 'Running': False, 'Paused': False},
                             'Config': {'Image': entry.get('Image')}, 'StorageLost': True})
        return lost

    def _podman(self, path, *args, **params):
        """GET of Podman's own API: its JSON, or with ``status`` its status code alone."""
        status = params.pop('status', False)
        answer = self.api._get(self.api._url(path, *args), params=params)
        return answer.status_code if status else self.api._result(answer, json=True)

    def find_image(self, ref):
        """Inspect of an image by reference or ID, or None when the engine has none. On Podman, whose compat
        inspect leaves the image's HEALTHCHECK out of Config, with the top-level ``Healthcheck`` of its own
        image inspect (None: the image has none), which the clone reads."""
        try:
            image = self.call('inspect image %s' % ref, self.api.inspect_image, ref)
            if self.kind == 'podman' and 'Healthcheck' not in (image.get('Config') or {}):
                native = self.call('inspect image %s' % ref, self._podman, '/libpod/images/{0}/json', image['Id'])
                image = dict(image, Healthcheck=native.get('Healthcheck'))
            return image
        except NotFound:
            return None

    def tag(self, image_id, ref):
        """Point the tag ``ref`` (an ImageRef; ``latest`` when it has none) at ``image_id``, taking it
        from any image that had it: the one tag of the collection."""
        self.call('tag %s as %s' % (image_id, ref.tagged()), self.api.tag, image_id, ref.name, ref.tag or 'latest',
                  force=True)

    def start(self, container_id, what, stop_timeout=10):
        """The one start of the collection. Podman killed mid-stop leaves the container ``stopping`` for
        good, refusing to start until a stop finishes it: that stop comes first."""
        try:
            self.call(what, self.api.start, container_id)
        except EngineError as exc:
            found = self.find_container(container_id)
            if found is not None and 'task %s: already exists' % found['Id'] in exc.msg:
                raise EngineError(orphan_task(exc.msg, found['Id'])) from exc
            if found is None or (found.get('State') or {}).get('Status') != 'stopping':
                raise
            self.call('%s: finish its interrupted stop' % what, self.api.stop, container_id, timeout=stop_timeout)
            self.call(what, self.api.start, container_id)

    def exec(self, container_id, command, user=None, environment=None, timeout=None, what=None, exit_code=True):
        """Run ``command`` (an argv list) in the container and wait for it: (exit code, output text), or
        (None, why) when it runs past ``timeout`` s. The one exec of the collection (``exec_detached`` and
        ``exec_state`` run one that is polled instead).

        ``what`` names the action in errors, else each API call does. ``exit_code`` false: no exec
        inspect, the exit code is None (the output tells the caller).

        An engine under load can close an exec's stream before a short command's output reaches it (Podman
        often): the output comes back empty. The probe (``_probe._exec_once``, the user's argv) runs a check
        that passed with no output again; the patch container (``PatchContainer.read_output``, its own
        scripts) ends its output with a marker and reads until it arrives."""
        exec_id = self._create_exec(container_id, command, user, environment, what or 'create exec')
        if timeout is None:
            output = self.call(what or 'run exec', self.api.exec_start, exec_id)
        else:
            # The API cannot bound an exec: wait for it aside and give up on it after the timeout.
            done = {}

            def run():
                try:
                    done['output'] = self.call(what or 'run exec', self.api.exec_start, exec_id)
                except Exception as exc:  # re-raised below, in the caller's thread
                    done['error'] = exc
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            worker.join(timeout)
            if worker.is_alive():
                return None, 'timed out after %g s' % timeout
            if 'error' in done:
                raise done['error']
            output = done.get('output')
        if isinstance(output, bytes):
            output = output.decode('utf-8', 'replace')
        output = output or ''
        if not exit_code:
            return None, output
        return self.exec_state(exec_id, what).get('ExitCode'), output

    def exec_detached(self, container_id, command, user=None, environment=None, what=None):
        """Start ``command`` (an argv list) in the container without waiting for it: its exec ID, for
        ``exec_state``. Its output goes nowhere: a script writes it to a file. ``what`` as in ``exec``."""
        exec_id = self._create_exec(container_id, command, user, environment, what or 'create exec')
        self.call(what or 'start exec', self.api.exec_start, exec_id, detach=True)
        return exec_id

    def exec_state(self, exec_id, what=None):
        """The exec's inspect: ``Running``, ``ExitCode`` (once it has ended)."""
        return self.call(what or 'inspect exec', self.api.exec_inspect, exec_id)

    def _create_exec(self, container_id, command, user, environment, what):
        options = {'stdout': True, 'stderr': True}
        if user is not None:
            options['user'] = user
        if environment is not None:
            options['environment'] = environment
        return self.call(what, self.api.exec_create, container_id, command, **options)['Id']

    def call(self, what, fn, *args, **kwargs):
        """Run one API call; engine failures become EngineError naming what was being done."""
        try:
            return fn(*args, **kwargs)
        except NotFound:
            raise
        except APIError as exc:
            raise EngineError('%s: the engine at %s answered: %s' % (what, self.docker_host, error_text(exc)),
                              status_code=getattr(exc, 'status_code', None))
        except (requests.exceptions.RequestException, OSError, DockerException) as exc:
            raise EngineError('%s: %s' % (what, describe_connection_error(self.docker_host, self.timeout, exc)))


def connect(module):
    """Connect for an AnsibleModule or fail it with a clear message."""
    warning = transport_problem(module.params)[1]
    if warning:
        module.warn(warning)
    try:
        return Engine(module.params)
    except EngineError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
