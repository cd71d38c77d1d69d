# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Container inventory of one engine, with optional update detection (no pull).

A container's record fields are read by ``_container_record``; the update verdict is
``_update_check``'s.

Private: not a public API of the collection.
"""

from __future__ import annotations

import os
import tarfile
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.patchops.containers.plugins.module_utils._compose import sync as compose_sync
from ansible_collections.patchops.containers.plugins.module_utils._container_record import (
    compose_info,
    engine_time,
    from_list,
    mounts,
    networks,
    ports,
    select,
)
from ansible_collections.patchops.containers.plugins.module_utils._deps import Index, dependencies
from ansible_collections.patchops.containers.plugins.module_utils._engine import EngineError, NotFound
from ansible_collections.patchops.containers.plugins.module_utils._image_packages import ImagePackages, image_os, images_result
from ansible_collections.patchops.containers.plugins.module_utils._imageref import normalise_registry
from ansible_collections.patchops.containers.plugins.module_utils._journal import DEFAULT_STATE_DIR, Journal, JournalError
from ansible_collections.patchops.containers.plugins.module_utils._registry import (
    REGISTRY_ARGUMENT_SPEC,
    auth_config,
    remote_digest,
    remote_image_id,
)
from ansible_collections.patchops.containers.plugins.module_utils._stop import first_process, predict
from ansible_collections.patchops.containers.plugins.module_utils._update_check import check_plan, update_verdict

STATES = ('created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead')
MAX_WORKERS = 8
# full: every field, one inspect per container; summary: what the list call carries (see from_list).
DETAILS = ('full', 'summary')
# The record fields only an inspect gives: null with detail=summary.
INSPECT_ONLY = ('started_at', 'finished_at', 'restart_count', 'restart_policy', 'dependencies', 'depends_on', 'stop')


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
        listed = self.engine.list_containers()
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
                # The OS each image's os_job read already: not read again with its packages.
                reads = dict(zip(used, pool.map(
                    lambda iid: reader.get(iid, by_image.get(iid) or [], os_jobs[iid].result()), used)))
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
            'started_at': engine_time(state.get('StartedAt')),
            'finished_at': engine_time(state.get('FinishedAt')),
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
