# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One fake engine for the unit tests.

``FakeEngine`` is the collection's real ``Engine`` (its ``call``, ``find_image``, ``find_container``
and ``info``, so errors are translated as in production) over ``FakeAPI``, an in-memory stand-in
for the Docker SDK's low-level ``APIClient``: images, containers, and a ``FakeRegistry`` that
answers the engine's distribution endpoint and pulls, and the registry v2 API calls the collection
makes itself (``image_blobs``, ``digest``).

Containers have a lifecycle as the engine gives them: create (``create_container``,
``create_container_from_config``: ``engine.created`` lists their names), rename, start, stop,
restart, pause, unpause, remove (a running one only with force), network connect and disconnect;
``containers()`` lists a legacy link's alias as the provider's ``/follower/alias`` name, as Docker
does. ``engine.container(ref)`` finds one by name, ID or unique ID prefix. ``get_archive`` and
``diff`` answer from ``image['Files']`` and ``container['Changes']``.

Failures are injected per API method in ``api.fail[method]``: an exception (raised on every call),
a list (one entry per call, ``None`` to let that call through) or a function of the call's
positional arguments (its options, e.g. a stop's timeout, are not passed) returning an exception or
``None``. ``Crash`` ends the process there: a BaseException, nothing after it runs, not even
``except Exception``. ``api.calls`` records ``(method, args, kwargs)``; ``api.called(method)`` the
calls of one method. Pull and load streams carry errors as the engine sends them:
``api.stream_errors[method]`` is a list, one entry (an error text, or ``None``) per call.

Execs run no process: each is answered by ``api.exec_answers``, a function of the command (its argv)
returning ``(exit code, output)``, or a list of such pairs (one per exec run); ``(0, b'')`` when
it has none. A detached exec stays running for ``api.exec_polls_running`` exec inspects.

``make_archive`` writes a ``docker save`` archive that ``_archive.inspect_archive`` accepts and
``FakeAPI.load_image`` loads.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import posixpath
import tarfile

from docker.errors import APIError, NotFound

from ansible_collections.patchops.containers.plugins.module_utils._engine import Engine
from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse

ENGINE_ID = 'ABCD:EFGH:IJKL:MNOP:QRST:UVWX:YZ23:4567:ABCD:EFGH:IJKL:MNOP'


def sha(text):
    """``sha256:<hex>`` of a text or bytes: stable fake image IDs and digests."""
    data = text if isinstance(text, bytes) else text.encode()
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def hexid(text):
    """The bare hex of ``sha(text)``: the ID of the container ``add_container`` names ``text``."""
    return sha(text).split(':', 1)[1]


class Crash(BaseException):
    """The module process ends here (killed, SSH lost): nothing after it runs, not even ``except
    Exception``. Raise it from ``api.fail[method]`` to interrupt a run at a known engine call."""


def _repo(text):
    """``name`` of ``name:tag`` or ``name@digest`` (a registry port is not a tag)."""
    if '@' in text:
        return text.split('@', 1)[0]
    head, sep, tail = text.rpartition(':')
    return head if sep and '/' not in tail else text


# -- docker save archives --------------------------------------------------------------------------

def tar_layer(files):
    """An uncompressed layer tar of ``{path: bytes}``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_archive(path, layers=None, tags=('example.test/app:v1',), images=1, gz_layers=False, corrupt=None,
                 label=''):
    """Write a ``docker save`` archive at ``path``; returns its image ID. ``corrupt``: ``flip`` (a
    layer byte) or ``truncate`` (half the file); ``label`` makes a distinct image."""
    layers = layers or [tar_layer({'bin/a': b'a' * 5000}), tar_layer({'etc/b': b'b' * 3000})]
    diff_ids = ['sha256:' + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {'Labels': {'l': label}} if label else {},
                         'rootfs': {'type': 'layers', 'diff_ids': diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + '.json'
    stored = [gzip.compress(layer) if gz_layers else layer for layer in layers]
    if corrupt == 'flip':
        stored[0] = stored[0][:700] + bytes([stored[0][700] ^ 0xFF]) + stored[0][701:]
    names = ['l%d/layer.tar' % n for n in range(len(layers))]
    index = [{'Config': config_name, 'RepoTags': list(tags), 'Layers': names}] * images
    with tarfile.open(path, 'w') as tar:
        for name, data in [(config_name, config), ('manifest.json', json.dumps(index).encode())] + list(zip(names, stored)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    if corrupt == 'truncate':
        with open(path, 'r+b') as fh:
            fh.truncate(os.path.getsize(path) // 2)
    return sha(config)


# -- the registry ------------------------------------------------------------------------------------

class FakeRegistry:
    """Repositories of one or more registries: ``name:tag`` -> manifest digest, and per digest the
    image it pulls (its ID, size and blobs). Also what ``RegistryAPI`` is asked (``image_blobs``,
    ``digest``); ``api_error`` makes those raise (the size estimate then is unknown)."""

    def __init__(self):
        self.tags = {}
        self.manifests = {}
        self.api_error = None
        self.api_calls = []

    def push(self, ref, image_id=None, size=1000, blobs=None):
        """Put an image under ``ref`` (``name:tag``); returns its manifest digest. ``blobs``:
        {blob digest: compressed size} (default: a config and one layer of ``size``)."""
        image_id = image_id or sha('image of ' + ref)
        digest = sha('manifest of %s %s' % (image_id, sorted((blobs or {}).items())))
        if blobs is None:
            blobs = {image_id: 100, sha('layer of ' + image_id): size}
        self.manifests[digest] = {'image_id': image_id, 'size': size, 'blobs': dict(blobs), 'name': _repo(ref)}
        self.tags[ref] = digest
        return digest

    def resolve(self, ref):
        """The digest of ``ref`` (``name:tag`` or ``name@digest``), or None."""
        if '@' in ref:
            digest = ref.split('@', 1)[1]
            return digest if digest in self.manifests else None
        return self.tags.get(ref)

    # RegistryAPI's interface, as _stage uses it (RegistryAPI.for_params returns this object)
    def image_blobs(self, repository, reference, os_type=None, arch=None):
        self.api_calls.append(('image_blobs', repository, reference))
        if self.api_error is not None:
            raise self.api_error
        manifest = self.manifests.get(reference)
        if manifest is None:
            raise KeyError(reference)
        return dict(manifest['blobs'])

    def digest(self, repository, reference):
        self.api_calls.append(('digest', repository, reference))
        if self.api_error is not None:
            raise self.api_error
        for ref, digest in self.tags.items():
            if ref.endswith('/%s:%s' % (repository, reference)):
                return digest
        raise KeyError(reference)


# -- the SDK's low-level client -----------------------------------------------------------------------

class FakeAPI:
    """The ``docker.APIClient`` methods the collection calls, over ``FakeEngine``'s state."""

    api_version = '1.41'  # the negotiated API version (clone() shapes a create by it)

    def __init__(self, engine, api_version=None):
        """``api_version``: the version the client was made for (``docker.APIClient(version=...)``)."""
        self.engine = engine
        if api_version:
            self.api_version = api_version
        self.calls = []
        self.fail = {}
        self.stream_errors = {}
        self.execs = {}
        self.exec_answers = None
        self.exec_polls_running = 0

    def _call(self, method, *args, **kwargs):
        self.calls.append((method, args, kwargs))
        check = self.fail.get(method)
        if isinstance(check, list):
            exc = check.pop(0) if check else None
        elif callable(check) and not isinstance(check, BaseException):
            exc = check(*args)
        else:
            exc = check
        if exc is not None:
            raise exc

    def _stream_error(self, method):
        errors = self.stream_errors.get(method)
        return errors.pop(0) if errors else None

    def called(self, method):
        """The calls of ``method``: [(args, kwargs)]."""
        return [(a, k) for m, a, k in self.calls if m == method]

    # -- engine --------------------------------------------------------------------------------
    def version(self, api_version=True):
        self._call('version')
        return dict(self.engine.version)

    def close(self):
        pass

    def info(self):
        self._call('info')
        return dict(self.engine.engine_info)

    # -- images --------------------------------------------------------------------------------
    def inspect_image(self, image):
        self._call('inspect_image', image)
        found = self.engine.image(image)
        if found is None:
            raise NotFound('No such image: %s' % image)
        return copy.deepcopy(found)

    def images(self, name=None, quiet=False, all=False, filters=None):
        self._call('images', name=name, all=all)
        out = []
        for image in self.engine.images.values():
            refs = image['RepoTags'] + image['RepoDigests']
            if name is None or any(_repo(r) == name for r in refs):
                out.append({'Id': image['Id'], 'RepoTags': list(image['RepoTags']) or None,
                            'RepoDigests': list(image['RepoDigests']), 'Created': image['Created'],
                            'Size': image['Size']})
        return out

    def tag(self, image, repository, tag=None, force=False):
        self._call('tag', image, repository, tag=tag, force=force)
        found = self.engine.image(image)
        if found is None:
            raise NotFound('No such image: %s' % image)
        self.engine.set_tag(found['Id'], '%s:%s' % (repository, tag or 'latest'))
        return True

    def remove_image(self, image, force=False, noprune=False):
        """As the engine does: a tag or ``name@digest`` is untagged (the image goes with its last
        tag); an ID removes the image unless a container uses it or, without force, tags of
        several repositories name it."""
        self._call('remove_image', image, force=force, noprune=noprune)
        found = self.engine.image(image)
        if found is None:
            raise NotFound('No such image: %s' % image)
        image_id = found['Id']
        in_use = any(c['Image'] == image_id for c in self.engine.containers.values()) and not force
        if image in found['RepoTags']:
            found['RepoTags'].remove(image)
            if found['RepoTags']:
                return [{'Untagged': image}]
        elif image in found['RepoDigests']:
            found['RepoDigests'].remove(image)
            if found['RepoTags'] or found['RepoDigests']:
                return [{'Untagged': image}]
        elif in_use:
            raise APIError('conflict: unable to remove %s: image is being used by a container' % image)
        elif len(set(_repo(t) for t in found['RepoTags'])) > 1 and not force:
            raise APIError('conflict: unable to delete %s (must be forced) - image is referenced in multiple '
                           'repositories' % image[:19])
        if in_use:  # its last reference is gone, the image stays for the container
            return [{'Untagged': image}]
        del self.engine.images[image_id]
        return [{'Deleted': image_id}]

    def pull(self, repository, tag=None, stream=False, auth_config=None, decode=False, platform=None):
        """Pull ``repository:tag`` or ``repository@digest`` from the registry; a stream error
        (``stream_errors['pull']``) comes as the engine sends it, in the stream."""
        self._call('pull', repository, tag=tag, auth_config=auth_config)
        ref = '%s%s%s' % (repository, '@' if (tag or '').startswith('sha256:') else ':', tag or 'latest')
        error = self._stream_error('pull')

        def lines():
            yield {'status': 'Pulling from %s' % repository}
            if error is not None:
                yield {'errorDetail': {'message': error}, 'error': error}
                return
            digest = self.engine.registry.resolve(ref)
            if digest is None:
                yield {'errorDetail': {'message': 'manifest unknown'}, 'error': '%s: manifest unknown' % ref}
                return
            manifest = self.engine.registry.manifests[digest]
            self.engine.add_image(digests=['%s@%s' % (repository, digest)], image_id=manifest['image_id'],
                                  size=manifest['size'])
            if '@' not in ref:
                self.engine.set_tag(manifest['image_id'], ref)
            yield {'status': 'Digest: %s' % digest}
        return lines() if stream else list(lines())

    def load_image(self, data, quiet=None):
        """Load a ``docker save`` archive (a file object). ``stream_errors['load_image']``: the load
        fails after the image and its tags were added (what a failed load may leave)."""
        self._call('load_image')
        with tarfile.open(fileobj=data, mode='r:*') as tar:
            index = json.loads(tar.extractfile('manifest.json').read())
            config = tar.extractfile(index[0]['Config']).read()
        image_id = sha(config)
        self.engine.add_image(index[0].get('RepoTags') or [], image_id=image_id, size=len(config))
        error = self._stream_error('load_image')
        if error is not None:
            return [{'stream': 'Loading layer'}, {'errorDetail': {'message': error}, 'error': error}]
        return [{'stream': 'Loaded image ID: %s\n' % image_id}]

    def inspect_distribution(self, image, auth_config=None):
        self._call('inspect_distribution', image, auth_config=auth_config)
        digest = self.engine.registry.resolve(image)
        if digest is None:
            raise NotFound('manifest unknown: %s' % image)
        return {'Descriptor': {'mediaType': 'application/vnd.docker.distribution.manifest.v2+json',
                               'digest': digest, 'size': 1234}, 'Platforms': []}

    # -- containers ----------------------------------------------------------------------------
    def inspect_container(self, container):
        self._call('inspect_container', container)
        found = self.engine.container(container)
        if found is None:
            raise NotFound('No such container: %s' % container)
        self._storage(found['Id'])
        return copy.deepcopy(found)

    def _storage(self, cid):
        """Podman's answer about a container whose storage layer it deleted (FakeEngine.lose_storage)."""
        if cid in self.engine.lost:
            raise APIError('reading information about layer "%s": layer not known' % sha('layer ' + cid))

    # -- Podman's own API, as far as Engine._podman reads it --
    def _url(self, path, *args):
        return path.format(*args)

    def _get(self, url, params=None):
        self.calls.append(('_get', (url,), dict(params or {})))
        answer = type('Answer', (), {})()
        answer.status_code, answer.body = 200, None
        if url == '/libpod/containers/json':
            answer.body = [{'Id': c['Id'], 'Names': [c['Name'].lstrip('/')], 'Image': c['Config']['Image'],
                            'State': c['State']['Status']} for c in self.engine.containers.values()]
        elif url.startswith('/libpod/images/'):
            image = self.engine.images.get(url.split('/')[3]) or {}
            answer.body = {'Healthcheck': (image.get('Config') or {}).get('Healthcheck')}
        elif url.startswith('/libpod/containers/'):
            answer.status_code = 500 if url.split('/')[3] in self.engine.lost else 200
        return answer

    def _result(self, answer, json=False):
        return answer.body

    def containers(self, all=False, filters=None):
        """As Docker lists them: a legacy link shows as the provider's name ``/follower/alias``."""
        self._call('containers', all=all)
        for cid in self.engine.lost:
            self._storage(cid)
        links = {}
        for c in self.engine.containers.values():
            for link in (c.get('HostConfig') or {}).get('Links') or []:
                provider, _sep, alias = link.partition(':')
                found = self.engine.container(provider)
                if found is not None:
                    links.setdefault(found['Id'], []).append(alias)
        return [{'Id': c['Id'], 'Names': [c['Name']] + links.get(c['Id'], []), 'Image': c['Config']['Image'],
                 'ImageID': c['Image'], 'State': c['State']['Status'], 'Labels': dict(c['Config'].get('Labels') or {}),
                 'HostConfig': {'NetworkMode': (c.get('HostConfig') or {}).get('NetworkMode', 'default')},
                 'Created': c.get('created_at', 1700000000)}
                for c in self.engine.containers.values() if all or c['State']['Running']]

    def _state(self, container, **state):
        found = self.engine.container(container)
        if found is None:
            raise NotFound('No such container: %s' % container)
        found['State'].update(state)
        return found

    def create_host_config(self, **kwargs):
        return dict(kwargs)

    def create_container(self, image, name=None, **kwargs):
        """The SDK's create from keyword options (``host_config``: as ``create_host_config`` made it)."""
        self._call('create_container', image, name=name, **kwargs)
        host = kwargs.get('host_config') or {}
        return self._create({'Image': image, 'Cmd': kwargs.get('command'), 'Labels': dict(kwargs.get('labels') or {}),
                             'HostConfig': {'NetworkMode': host.get('network_mode', 'default')}}, name)

    def create_container_from_config(self, config, name=None, platform=None):
        self._call('create_container_from_config', config, name=name)
        return self._create(config, name)

    def _create(self, config, name):
        """A created container of ``config`` (a create's body: ``HostConfig``, ``NetworkingConfig``)."""
        body = copy.deepcopy(config)
        image = self.engine.image(body['Image'])
        if image is None:
            raise NotFound('No such image: %s' % body['Image'])
        if name and self.engine.container(name) is not None:
            raise APIError('Conflict. The container name "/%s" is already in use' % name)
        self.engine.serial += 1
        cid = hexid('%s-%d' % (name, self.engine.serial))
        host = body.pop('HostConfig', None) or {'NetworkMode': 'default'}
        endpoints = (body.pop('NetworkingConfig', None) or {}).get('EndpointsConfig') or {}
        networks = {net: dict(ep, Aliases=(ep.get('Aliases') or []) + [cid[:12]], IPAddress='', MacAddress='')
                    for net, ep in endpoints.items()}
        self.engine.containers[cid] = {
            'Id': cid, 'Name': '/' + (name or cid[:12]), 'Image': image['Id'], 'Config': body, 'HostConfig': host,
            'created_at': 1700000000 + self.engine.serial,
            'State': {'Status': 'created', 'Running': False, 'Paused': False, 'ExitCode': 0},
            'Mounts': [], 'NetworkSettings': {'Networks': networks}}
        self.engine.created.append(name)
        return {'Id': cid, 'Warnings': []}

    def rename(self, container, name):
        self._call('rename', container, name)
        found = self._state(container)
        if any(c['Name'] == '/' + name and c['Id'] != found['Id'] for c in self.engine.containers.values()):
            raise APIError('Conflict. The container name "/%s" is already in use' % name)
        found['Name'] = '/' + name

    def start(self, container):
        self._call('start', container)
        host = self._state(container)['HostConfig']
        for key in ('NetworkMode', 'IpcMode', 'PidMode'):
            mode = host.get(key) or ''
            if mode.startswith('container:') and self.engine.container(mode.split(':', 1)[1]) is None:
                raise APIError('failed to join namespace: No such container: %s' % mode.split(':', 1)[1])
        for link in host.get('Links') or []:
            target = self.engine.container(link.split(':', 1)[0].lstrip('/'))
            if target is None or not target['State'].get('Running'):
                raise APIError('Cannot link to a non running container: %s AS %s' % tuple(link.split(':', 1)))
        if self._state(container)['State'].get('Dead'):  # the engine died while it removed it
            raise APIError('container is marked for removal and cannot be started')
        if self._state(container)['State'].get('Status') == 'stopping':  # Podman, its stop cut off
            raise APIError('container %s must be in Created or Stopped state to be started: container state '
                           'improper' % container)
        self._state(container, Status='running', Running=True, Paused=False, ExitCode=0)

    def stop(self, container, timeout=None):
        self._call('stop', container, timeout=timeout)
        self._state(container, Status='exited', Running=False, Paused=False, ExitCode=0)

    def restart(self, container, timeout=None):
        self._call('restart', container, timeout=timeout)
        self._state(container, Status='running', Running=True, Paused=False)

    def pause(self, container):
        self._call('pause', container)
        self._state(container, Status='paused', Paused=True)

    def unpause(self, container):
        self._call('unpause', container)
        self._state(container, Status='running', Paused=False)

    def remove_container(self, container, v=False, force=False):
        self._call('remove_container', container, v=v, force=force)
        found = self._state(container)
        if found['Id'] in self.engine.lost:  # Podman removes it, yet says what it could not clean up
            del self.engine.containers[found['Id']]
            self.engine.lost.discard(found['Id'])
            raise APIError('cleaning up container %s: unmounting container %s root filesystem: layer not known'
                           % (found['Id'], found['Id']))
        if found['State']['Running'] and not force:
            raise APIError('conflict: you cannot remove a running container %s. Stop the container before '
                           'attempting removal or force remove' % found['Id'])
        joined = [c['Id'] for c in self.engine.containers.values()
                  if c['HostConfig'].get('NetworkMode') in ('container:' + found['Id'], 'container:' + found['Id'][:12])]
        if self.engine.kind == 'podman' and joined:  # Docker removes it and leaves them on a dead namespace
            raise APIError('container %s has dependent containers which must be removed before it: %s: container '
                           'already exists' % (found['Id'], ', '.join(joined)))
        del self.engine.containers[found['Id']]

    def top(self, container, ps_args=None):
        """The container's ``Top`` ({Titles, Processes}); no process unless a test sets it."""
        self._call('top', container)
        return copy.deepcopy(self._state(container).get('Top') or {'Titles': ['UID', 'PID', 'PPID', 'CMD'],
                                                                   'Processes': []})

    def diff(self, container):
        """The container's ``Changes`` (none unless a test sets them)."""
        self._call('diff', container)
        return list(self._state(container).get('Changes') or [])

    def get_archive(self, container, path, chunk_size=None, encode_stream=False):
        """A tar of ``path`` from the container's image files, ``image['Files']``: {path: text |
        ('link', target) | {name: text} (a directory)}; ``(chunks, stat)`` as the SDK gives them."""
        self._call('get_archive', container, path)
        files = self.engine.images[self._state(container)['Image']].get('Files') or {}
        if path not in files:
            raise NotFound('Could not find the file %s in container %s' % (path, container))
        value, name, stat = files[path], posixpath.basename(path), {'name': posixpath.basename(path), 'size': 0}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode='w') as tar:
            if isinstance(value, tuple):
                member = tarfile.TarInfo(name)
                member.type, member.linkname = tarfile.SYMTYPE, value[1]
                tar.addfile(member)
            elif isinstance(value, dict):
                top = tarfile.TarInfo(name)
                top.type = tarfile.DIRTYPE
                tar.addfile(top)
                stat['size'] = 4096
                for entry, text in sorted(value.items()):
                    member = tarfile.TarInfo('%s/%s' % (name, entry))
                    member.size = len(text.encode())
                    tar.addfile(member, io.BytesIO(text.encode()))
            else:
                member = tarfile.TarInfo(name)
                member.size = stat['size'] = len(value.encode())
                tar.addfile(member, io.BytesIO(value.encode()))
        data = buf.getvalue()
        return (chunk for chunk in (data[:100], data[100:])), stat  # a generator, as the SDK gives

    # -- execs ---------------------------------------------------------------------------------
    def exec_create(self, container, cmd, stdout=True, stderr=True, stdin=False, tty=False, privileged=False,
                    user='', environment=None, workdir=None, detach_keys=None):
        self._call('exec_create', container, cmd, stdout=stdout, stderr=stderr, user=user, environment=environment)
        found = self._state(container)
        if not found['State']['Running']:
            raise APIError('Container %s is not running' % found['Id'])
        exec_id = 'exec%d' % (len(self.execs) + 1)
        self.execs[exec_id] = {'ID': exec_id, 'ContainerID': found['Id'], 'cmd': list(cmd), 'user': user,
                               'environment': environment, 'polls': 0, 'ExitCode': None}
        return {'Id': exec_id}

    def _exec(self, exec_id):
        found = self.execs.get(exec_id)
        if found is None:
            raise NotFound('No such exec instance: %s' % exec_id)
        return found

    def exec_start(self, exec_id, detach=False, tty=False, stream=False, socket=False, demux=False):
        """The exec's output (bytes), after its answer; nothing when detached."""
        self._call('exec_start', exec_id, detach=detach)
        run = self._exec(exec_id)
        answers = self.exec_answers
        if callable(answers):
            code, output = answers(list(run['cmd']))
        elif answers:
            code, output = answers.pop(0)
        else:
            code, output = 0, b''
        run['ExitCode'] = code
        if detach:
            run['polls'] = self.exec_polls_running
            return b''
        return output.encode() if isinstance(output, str) else output

    def exec_inspect(self, exec_id):
        self._call('exec_inspect', exec_id)
        run = self._exec(exec_id)
        running = run['polls'] > 0
        if running:
            run['polls'] -= 1
        return {'ID': exec_id, 'ContainerID': run['ContainerID'], 'Running': running,
                'ExitCode': None if running else run['ExitCode']}

    # -- networks ------------------------------------------------------------------------------
    def connect_container_to_network(self, container, net_id, ipv4_address=None, ipv6_address=None, aliases=None,
                                     links=None, driver_opt=None, **kwargs):
        self._call('connect_container_to_network', container, net_id, aliases=aliases)
        networks = self._state(container).setdefault('NetworkSettings', {}).setdefault('Networks', {})
        networks[net_id] = {'Aliases': list(aliases or []), 'Links': links, 'IPAddress': ipv4_address or '',
                            'MacAddress': ''}

    def disconnect_container_from_network(self, container, net_id, force=False):
        self._call('disconnect_container_from_network', container, net_id)
        self._state(container).setdefault('NetworkSettings', {}).setdefault('Networks', {}).pop(net_id, None)

    def inspect_network(self, net_id, verbose=None, scope=None):
        self._call('inspect_network', net_id)
        raise NotFound('network %s not found' % net_id)


# -- the engine ----------------------------------------------------------------------------------------

class FakeEngine(Engine):
    """The real ``Engine`` without a connection, over ``FakeAPI``. ``kind``: ``docker`` or ``podman``."""

    def __init__(self, kind='docker', info=None, registry=None, docker_host='unix:///var/run/docker.sock'):
        # Engine.__init__ connects; what it would set is set here.
        self.docker_host = docker_host
        self.timeout = 60
        self.kind = kind
        self.kind_version = '5.4.2' if kind == 'podman' else '26.1.5'
        self.version = {'ApiVersion': '1.41' if kind == 'podman' else '1.45', 'Version': self.kind_version}
        self.engine_info = dict({'ID': ENGINE_ID, 'Name': 'lab1', 'DockerRootDir': '/var/lib/docker',
                                 'OSType': 'linux', 'Architecture': 'x86_64'}, **(info or {}))
        self.images = {}
        self.containers = {}
        self.created = []  # names of the containers created through the API, in order
        self.registry = registry if registry is not None else FakeRegistry()
        self.api = FakeAPI(self)
        self._info = None
        self.serial = 0  # counts additions: the clock of Created times (and of created containers' IDs)
        self.lost = set()  # Podman containers whose storage layer is gone (lose_storage)

    def lose_storage(self, cid):
        """Leave the container as Podman killed while it removed the container leaves it after its next start:
        its layer deleted, the container kept; compat inspects and lists fail with "layer not known"."""
        self.lost.add(self.container(cid)['Id'])

    # -- images --------------------------------------------------------------------------------
    def add_image(self, tags=(), image_id=None, digests=(), size=1000, config=None):
        """Add (or add references to) an image; a tag moves from the image that had it. ``config``:
        its ``Config`` (``Env``, ``Cmd``, ``Labels``...; default no labels)."""
        image_id = image_id or sha('image ' + ' '.join(tags))
        self.serial += 1
        image = self.images.setdefault(image_id, {'Id': image_id, 'RepoTags': [], 'RepoDigests': [],
                                                  'Size': size, 'Created': 1700000000 + self.serial,
                                                  'Config': copy.deepcopy(config) if config else {'Labels': {}}})
        for tag in tags:
            self.set_tag(image_id, tag)
        for digest in digests:
            if digest not in image['RepoDigests']:
                image['RepoDigests'].append(digest)
        return image_id

    def set_tag(self, image_id, tag):
        for other in self.images.values():
            if tag in other['RepoTags'] and other['Id'] != image_id:
                other['RepoTags'].remove(tag)
        if tag not in self.images[image_id]['RepoTags']:
            self.images[image_id]['RepoTags'].append(tag)

    def image(self, ref):
        """The stored image (not a copy) for an ID, a 12+ digit ID prefix, ``name:tag`` or
        ``name@digest``; None when the engine has none."""
        if ref in self.images:
            return self.images[ref]
        bare = ref.split(':', 1)[1] if ref.startswith('sha256:') else ref
        if len(bare) >= 12 and all(ch in '0123456789abcdef' for ch in bare):
            hits = [i for i in self.images.values() if i['Id'].split(':', 1)[1].startswith(bare)]
            if len(hits) == 1:
                return hits[0]
        try:
            wanted = parse(ref)
        except Exception:
            return None
        for image in self.images.values():
            if wanted.digest and any(parse(d).with_digest(parse(d).digest) == wanted.with_digest(wanted.digest)
                                     for d in image['RepoDigests']):
                return image
            if not wanted.digest and wanted.tagged() in [parse(t).tagged() for t in image['RepoTags']]:
                return image
        return None

    def tags_of(self, ref):
        image = self.image(ref)
        return sorted(image['RepoTags']) if image else None

    # -- containers ----------------------------------------------------------------------------
    def add_container(self, name, image, running=True, labels=None, network='default', host=None):
        """A container ``name`` of ``image`` (a reference the engine has), as ``docker run`` leaves it:
        its ID is ``hexid(name)``, its ``Env`` and ``Cmd`` the image's, created after what was added
        before it (``created_at``: the list's ``Created``). ``network``: its ``NetworkMode``
        (``default``: the bridge network; a network name: that network, the name and short ID its
        aliases; ``container:<ref>``, ``host``, ``none``: no network of its own). ``host``:
        ``HostConfig`` entries over the defaults. Returns its ID."""
        found = self.image(image)
        if found is None:
            raise ValueError('no image %s on the fake engine' % image)
        cid = hexid(name)
        number = len(self.containers) + 2
        self.serial += 1
        host_config = {'Binds': None, 'NetworkMode': network, 'IpcMode': 'private', 'PidMode': '', 'PortBindings': {},
                       'RestartPolicy': {'Name': 'no', 'MaximumRetryCount': 0}, 'AutoRemove': False, 'Links': None,
                       'VolumesFrom': None, 'ContainerIDFile': ''}
        host_config.update(host or {})
        mode = host_config['NetworkMode']
        networks = {} if mode.startswith('container:') or mode in ('host', 'none') else {
            'bridge' if mode == 'default' else mode: {
                'IPAMConfig': None, 'Links': None, 'Aliases': None if mode == 'default' else [name, cid[:12]],
                'IPAddress': '172.28.0.%d' % number, 'MacAddress': '02:42:ac:1c:00:%02x' % number, 'DriverOpts': None}}
        image_config = found.get('Config') or {}
        self.containers[cid] = {
            'Id': cid, 'Name': '/' + name, 'Image': found['Id'], 'created_at': 1700000000 + self.serial,
            'Config': {'Hostname': cid[:12], 'Env': list(image_config.get('Env') or []), 'Cmd': image_config.get('Cmd'),
                       'Image': image, 'Labels': dict(labels or {})},
            'HostConfig': host_config,
            'State': {'Status': 'running' if running else 'exited', 'Running': running, 'Paused': False,
                      'ExitCode': 0},
            'Mounts': [], 'NetworkSettings': {'Networks': networks}}
        return cid

    def container(self, ref):
        """The stored container (not a copy) for a name, an ID or a unique ID prefix (4+ digits);
        None when the engine has none."""
        ref = (ref or '').lstrip('/')
        if ref in self.containers:
            return self.containers[ref]
        for container in self.containers.values():
            if container['Name'] == '/' + ref:
                return container
        hits = [c for cid, c in self.containers.items() if len(ref) >= 4 and cid.startswith(ref)]
        return hits[0] if len(hits) == 1 else None

    def names(self):
        """The containers' names, sorted."""
        return sorted(c['Name'].lstrip('/') for c in self.containers.values())
