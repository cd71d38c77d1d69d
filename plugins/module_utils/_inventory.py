# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Container inventory of one engine, with optional update detection (no pull).

Private: not a public API of the collection.
"""

from __future__ import annotations

import datetime
import fnmatch
import os
import re
import tarfile
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.patchops.containers.plugins.module_utils._compose import sync as compose_sync
from ansible_collections.patchops.containers.plugins.module_utils._deps import Index, dependencies, entry_name as _name
from ansible_collections.patchops.containers.plugins.module_utils._engine import EngineError, NotFound
from ansible_collections.patchops.containers.plugins.module_utils._image_packages import ImagePackages, image_os, images_result
from ansible_collections.patchops.containers.plugins.module_utils._imageref import (
    ImageRefError,
    is_image_id,
    normalise_registry,
    parse,
)
from ansible_collections.patchops.containers.plugins.module_utils._journal import DEFAULT_STATE_DIR, Journal, JournalError
from ansible_collections.patchops.containers.plugins.module_utils._registry import (
    REGISTRY_ARGUMENT_SPEC,
    auth_config,
    remote_digest,
    remote_image_id,
)
from ansible_collections.patchops.containers.plugins.module_utils._stop import first_process, predict

STATES = ('created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead')
# What `docker ps` without -a shows.
ACTIVE_STATES = ('running', 'paused', 'restarting')
MAX_WORKERS = 8
# full: every field, one inspect per container; summary: what the list call carries (see from_list).
DETAILS = ('full', 'summary')
# The record fields only an inspect gives: null with detail=summary.
INSPECT_ONLY = ('started_at', 'finished_at', 'restart_count', 'restart_policy', 'dependencies', 'depends_on', 'stop')
_HEALTH_IN_STATUS = re.compile(r'\((healthy|unhealthy|health: starting)\)')
_EXIT_IN_STATUS = re.compile(r'^Exited \((-?\d+)\)')
COMPOSE = 'com.docker.compose.'
_ZERO_TIME = '0001-01-01T00:00:00Z'
_HEX64 = re.compile(r'^[0-9a-f]{64}$')


def argument_spec():
    """The module's own options (the engine options are added by the module)."""
    spec = dict(
        name=dict(type='list', elements='str', default=[]),
        label=dict(type='list', elements='str', default=[]),
        status=dict(type='list', elements='str', default=[], choices=list(STATES)),
        include_stopped=dict(type='bool', default=False),
        check_updates=dict(type='bool', default=False),
        registry_host=dict(type='str'),
        detail=dict(type='str', default='full', choices=list(DETAILS)),
        stop_check=dict(type='bool', default=True),
        stop_timeout=dict(type='int', default=10),
        packages=dict(type='bool', default=False),
        state_dir=dict(type='path', default=DEFAULT_STATE_DIR),
    )
    spec.update(REGISTRY_ARGUMENT_SPEC)
    return spec


# -- pure helpers (unit tested) ----------------------------------------------------------

def _time(value):
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
    project = labels.get(COMPOSE + 'project')
    if not project:
        return None
    files = labels.get(COMPOSE + 'project.config_files')
    number = labels.get(COMPOSE + 'container-number')
    return {
        'project': project,
        'service': labels.get(COMPOSE + 'service'),
        'working_dir': labels.get(COMPOSE + 'project.working_dir'),
        'config_files': [f for f in files.split(',') if f] if files else [],
        'container_number': int(number) if number and number.isdigit() else None,
    }


def check_plan(reference, image):
    """What to ask the registry for one container.

    Returns (ref, None) when the registry must be asked, or (None, reason) when the answer is
    `unknown` without asking.
    """
    if not reference:
        return None, 'the container has no image reference'
    if reference.startswith('sha256:') or is_image_id(reference):
        return None, 'created from an image ID, not a reference'
    try:
        ref = parse(reference)
    except ImageRefError as exc:
        return None, 'invalid reference: %s' % exc
    if ref.pinned:
        return None, 'pinned by digest'
    if not (image or {}).get('RepoDigests'):
        return None, 'the image has no registry digest (built or loaded locally)'
    return ref, None


def repo_digests(image, ref):
    """Digests the image has in ref's repository, and in any repository."""
    mine, every = set(), set()
    for item in (image or {}).get('RepoDigests') or []:
        name, dummy, digest = item.partition('@')
        every.add(digest)
        try:
            other = parse(name)
        except ImageRefError:
            continue
        if (other.registry, other.repository) == (ref.registry, ref.repository):
            mine.add(digest)
    return mine, every


def update_verdict(ref, image, remote, error):
    """(update, update_reason) from the image and the registry's answer for ref."""
    if error:
        return 'unknown', error
    if not remote:
        return 'unknown', 'the registry gave no digest'
    mine, every = repo_digests(image, ref)
    if remote in mine or remote in every:
        return 'current', None
    if mine:
        return 'available', None
    return 'unknown', 'the image has no digest from %s to compare with' % ref.name


def summarise(containers, checked):
    running = [c for c in containers if c['state'] == 'running']
    summary = {
        'containers': len(containers),
        'running': len(running),
        'stopped': len(containers) - len(running),
        'unhealthy': sum(1 for c in running if c['health'] == 'unhealthy'),
        'kill_risk': sum(1 for c in containers if (c.get('stop') or {}).get('kill_risk')),
        'images': len({c['image_id'] for c in containers}),
        'updates_available': 0,
        'updates_current': 0,
        'updates_unknown': 0,
    }
    if checked:
        for container in containers:
            summary['updates_%s' % container['update']] += 1
    return summary


# -- the engine side ---------------------------------------------------------------------

class Inventory:
    """One pass over an engine: list once, then inspect containers, images and os-release
    concurrently (bounded), then ask the registry once per distinct reference."""

    def __init__(self, engine, params, warn=None, check_mode=False):
        self.engine = engine
        self.api = engine.api
        self.params = params
        self.warn = warn or (lambda msg: None)
        self.check_mode = check_mode

    def run(self):
        params = self.params
        listed = self.engine.call('list containers', self.api.containers, all=True)
        index = Index(listed)
        chosen = select(listed, params.get('name') or (), params.get('label') or (),
                        params.get('status') or (), params.get('include_stopped'))
        # The list already names each image: image and os-release reads start at once and run
        # alongside the container inspects (an archive read mounts a stopped container's rootfs).
        by_image = {}
        for entry in sorted(chosen, key=lambda e: e.get('State') != 'running'):
            by_image.setdefault(entry.get('ImageID'), []).append(entry)
        by_image.pop(None, None)
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            info = pool.submit(lambda: self.engine.info)
            image_jobs = {iid: pool.submit(self._inspect_image, iid) for iid in by_image}
            os_jobs = {iid: pool.submit(self._image_os, entries) for iid, entries in by_image.items()}
            summary = params.get('detail') == 'summary'
            if summary:
                inspected = [from_list(e) for e in chosen]
                self._volume_sources(inspected)
            else:
                inspected = [c for c in pool.map(self._inspect_container, [e['Id'] for e in chosen]) if c]
            for iid in {c['Image'] for c in inspected} - set(image_jobs):  # not named by the list
                by_image[iid] = [{'Id': c['Id'], 'State': c['State'].get('Status')} for c in inspected
                                 if c['Image'] == iid]
                image_jobs[iid] = pool.submit(self._inspect_image, iid)
                os_jobs[iid] = pool.submit(self._image_os, by_image[iid])
            images = {iid: job.result() for iid, job in image_jobs.items()}
            containers = [self._record(c, images.get(c['Image']), os_jobs[c['Image']].result(), index, summary)
                          for c in inspected]
            resolved = {}

            def find_image(ref):  # once per reference
                if ref not in resolved:
                    resolved[ref] = self.engine.find_image(ref)
                return resolved[ref]
            for record, inspect in zip(containers, inspected):
                if record['compose'] and not summary:
                    record['compose'].update(compose_sync(inspect, find_image))
            if params.get('stop_check', True) and not summary:
                running = [c for c in inspected if (c.get('State') or {}).get('Running')]
                firsts = dict(zip([c['Id'] for c in running],
                                  pool.map(lambda c: first_process(self.engine, c), running)))
                journal = Journal(params.get('state_dir'), (info.result() or {}).get('ID'))
                for record, inspect in zip(containers, inspected):
                    record['stop'] = predict(inspect, firsts.get(inspect['Id']), params.get('stop_timeout', 10),
                                             last_stop=self._last_stop(journal, record['name']))
            checks = []
            if params.get('check_updates'):
                checks = self._check_updates(pool, containers, images)
            reads = {}
            if params.get('packages'):
                reader = ImagePackages(self.engine, (info.result() or {}).get('ID'), params.get('state_dir'),
                                       self.check_mode, self.warn)
                used = sorted({c['image_id'] for c in containers})
                reads = dict(zip(used, pool.map(lambda iid: reader.get(iid, by_image.get(iid) or []), used)))
            engine_facts = self._engine_facts(info.result())
        containers.sort(key=lambda c: c['name'])
        summary = summarise(containers, params.get('check_updates'))
        image_list, counts = images_result(images, containers, {iid: job.result() for iid, job in os_jobs.items()},
                                           reads if params.get('packages') else None)
        summary.update(counts)
        return {
            'engine': engine_facts,
            'detail': params.get('detail') or 'full',
            'containers': containers,
            'images': image_list,
            'update_checks': checks,
            'summary': summary,
        }

    def _volume_sources(self, inspected):
        """The list call gives a volume mount no source: one volume list call has them all."""
        if not any(m.get('Type') == 'volume' and not m.get('Source') for c in inspected for m in c['Mounts']):
            return
        volumes = self.engine.call('list volumes', self.api.volumes) or {}
        where = dict((v.get('Name'), v.get('Mountpoint')) for v in volumes.get('Volumes') or [])
        for container in inspected:
            for mount in container['Mounts']:
                if mount.get('Type') == 'volume' and not mount.get('Source'):
                    mount['Source'] = where.get(mount.get('Name')) or ''

    def _inspect_container(self, cid):
        try:
            return self.engine.call('inspect container %s' % cid[:12], self.api.inspect_container, cid)
        except NotFound:
            return None  # removed since the list: not part of this inventory

    @staticmethod
    def _last_stop(journal, name):
        """The journal's last swap of ``name`` that stopped it (how it stopped), or None."""
        try:
            swaps = journal.load(name)['swaps']
        except JournalError:
            return None
        return next((s for s in reversed(swaps) if s.get('stopped_by')), None)

    def _inspect_image(self, iid):
        try:
            return self.engine.call('inspect image %s' % iid, self.api.inspect_image, iid)
        except NotFound:
            # Deleted while containers still use it (docker rmi -f).
            self.warn('image %s of some containers no longer exists on the engine' % iid)
            return None

    def _image_os(self, entries):
        """OS of an image, read from one of its containers' files; nothing is run in them.

        ``entries`` are list entries (Id, State), running containers first.
        """
        for container in entries:
            if container.get('State') in ('removing', 'dead'):
                continue
            try:
                return image_os(self.engine, container['Id'])  # None: absent from the image
            except (EngineError, NotFound, tarfile.TarError, OSError):
                continue  # this container cannot be read (being removed...): try another
        return None

    def _record(self, inspect, image, image_os, index, summary=False):
        """One container's record; ``summary``: ``inspect`` is a list entry's view (from_list), and
        what only an inspect has is null."""
        config = inspect.get('Config') or {}
        host = inspect.get('HostConfig') or {}
        state = inspect.get('State') or {}
        labels = config.get('Labels') or {}
        restart = host.get('RestartPolicy') or {}
        running = state.get('Status') == 'running'
        deps = [] if summary else dependencies(inspect, index)
        image = image or {}
        record = {
            'name': inspect['Name'].lstrip('/'),
            'id': inspect['Id'],
            'image': config.get('Image') or '',
            'image_id': inspect['Image'],
            'image_tags': list(image.get('RepoTags') or []),
            'repo_digests': list(image.get('RepoDigests') or []),
            'image_created': image.get('Created'),
            'image_os': image_os,
            'created': inspect.get('Created'),
            'state': state.get('Status'),
            # A stopped container keeps its last health status ("unhealthy" after a stop).
            # Podman reports an empty health status for a container without a HEALTHCHECK.
            'health': ((state.get('Health') or {}).get('Status') or None) if running else None,
            'exit_code': state.get('ExitCode'),
            'started_at': _time(state.get('StartedAt')),
            'finished_at': _time(state.get('FinishedAt')),
            'restart_count': inspect.get('RestartCount', 0),
            'restart_policy': {'name': restart.get('Name') or 'no',
                               'maximum_retry_count': restart.get('MaximumRetryCount') or 0},
            'compose': compose_info(labels),
            'ports': ports(inspect),
            'mounts': mounts(inspect),
            'network_mode': host.get('NetworkMode') or '',
            'networks': networks(inspect),
            'labels': dict(labels),
            'dependencies': deps,
            'depends_on': sorted({d['name'] for d in deps if d['resolved']}),
            'update': None,
            'remote_digest': None,
            'update_reason': None,
        }
        if summary:
            record.update(dict.fromkeys(INSPECT_ONLY))
            for network in record['networks']:
                network['aliases'] = None  # the list call leaves them out
            if record['compose']:  # the sync verdict needs the configured reference: an inspect's
                record['compose'].update(in_sync=None, verdict=None, image_ref=None, file_image=None, warnings=[])
        return record

    def _auth_for(self, ref):
        only = self.params.get('registry_host')
        if only and normalise_registry(only) != ref.registry:
            return None  # the host's stored credentials for other registries
        return auth_config(self.params, ref.registry)

    def _check_updates(self, pool, containers, images):
        plans = []
        wanted = {}
        for record in containers:
            ref, reason = check_plan(record['image'], images.get(record['image_id']))
            plans.append((record, ref, reason))
            if ref is not None:
                wanted.setdefault(ref.tagged(), ref)
        keys = sorted(wanted)
        answers = dict(zip(keys, pool.map(
            lambda key: remote_digest(self.engine, wanted[key], self._auth_for(wanted[key]), self.params), keys)))
        for record, ref, reason in plans:
            if ref is None:
                record['update'], record['update_reason'] = 'unknown', reason
                continue
            remote, error = answers[ref.tagged()]
            record['remote_digest'] = remote
            record['update'], record['update_reason'] = update_verdict(
                ref, images.get(record['image_id']), remote, error)
            if record['update'] == 'available' and self.engine.kind == 'podman' and remote_image_id(
                    self.engine, ref, self._auth_for(ref), self.params) == record['image_id']:
                record['update'] = 'current'  # pushed from this host: the same image under another digest
        return [{'reference': key, 'remote_digest': answers[key][0], 'error': answers[key][1]}
                for key in keys]

    def _engine_facts(self, info):
        version = self.engine.version or {}
        root = info.get('DockerRootDir')
        free = total = None
        # Only meaningful when the engine's disk is this host's disk.
        if root and self.engine.docker_host.startswith('unix://'):
            try:
                st = os.statvfs(root)
                free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
            except OSError:
                pass
        return {
            'name': info.get('Name'),
            'id': info.get('ID'),
            'kind': self.engine.kind,  # docker or podman; version is that engine's own
            'version': self.engine.kind_version or version.get('Version'),
            'api_version': version.get('ApiVersion'),
            'min_api_version': version.get('MinAPIVersion'),
            'os': info.get('OperatingSystem'),
            'os_type': info.get('OSType'),
            'architecture': info.get('Architecture'),
            'kernel_version': info.get('KernelVersion'),
            'storage_driver': info.get('Driver'),
            'docker_root_dir': root,
            'free_bytes': free,
            'total_bytes': total,
            'containers': info.get('Containers'),
            'images': info.get('Images'),
        }
