# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One description of a bench container, turned into an SDK create (setup and the floor), a
community.docker docker_container task and a container_patch task; and the floor swaps."""

from __future__ import annotations

import http.client
import time

import docker

from benchkit.core import parallel


class Spec:
    """An app container as an operator configured it: image, optional published port, named
    volume on /data, one user network with an alias, a label."""

    def __init__(self, bench, name, image, port=None, volume=True, network=None, alias=None, command=None,
                 no_healthcheck=False):
        self.name = name
        self.image = image
        self.port = port
        self.volume = (name + '-data') if volume else None
        self.network = network
        self.alias = alias
        self.command = command
        self.no_healthcheck = no_healthcheck
        self.labels = {'io.patchops.bench': bench.run if bench else ''}

    def to_dict(self):
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data):
        spec = cls(None, data['name'], data['image'])
        spec.__dict__.update(data)
        return spec

    # -- SDK ------------------------------------------------------------------------------------
    def create(self, api, image=None, name=None):
        mounts = [docker.types.Mount('/data', self.volume, type='volume')] if self.volume else []
        host_config = api.create_host_config(
            port_bindings={8080: self.port} if self.port else None, mounts=mounts,
            network_mode=self.network or 'default')
        networking = None
        if self.network:
            networking = api.create_networking_config({
                self.network: api.create_endpoint_config(aliases=[self.alias] if self.alias else None)})
        return api.create_container(image or self.image, name=name or self.name, command=self.command,
                                    host_config=host_config, networking_config=networking, labels=self.labels,
                                    ports=[8080] if self.port else None,
                                    healthcheck={'test': ['NONE']} if self.no_healthcheck else None)['Id']

    def run(self, api, image=None, wait=True):
        cid = self.create(api, image)
        api.start(cid)
        if wait:
            # Set-up only: on a loaded machine one health check can time out (2 s) before the
            # container turns healthy; the measured swaps keep the strict rule.
            ok, why = wait_ready(api, cid, 120, strict=False)
            if not ok:
                raise RuntimeError('%s did not get ready: %s' % (self.name, why))
        return cid

    # -- community.docker ------------------------------------------------------------------------
    def cd_args(self, image, timeout=120):
        args = {'name': self.name, 'image': image, 'state': 'healthy', 'healthy_wait_timeout': timeout,
                'labels': self.labels, 'stop_timeout': 10}
        if self.command:
            args['command'] = self.command
        if self.no_healthcheck:
            args['healthcheck'] = {'test': ['NONE']}
        if self.port:
            args['published_ports'] = ['%d:8080' % self.port]
        if self.volume:
            args['mounts'] = [{'type': 'volume', 'source': self.volume, 'target': '/data'}]
        if self.network:
            net = {'name': self.network}
            if self.alias:
                net['aliases'] = [self.alias]
            args['networks'] = [net]
            args['networks_cli_compatible'] = True
        return args


def wait_ready(api, cid, timeout, poll=0.02, strict=True):
    """The readiness ours waits for: running and HEALTHCHECK healthy; fails on exit or unhealthy
    (strict=False: waits through unhealthy until the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        state = api.inspect_container(cid)['State']
        if not state.get('Running') or state.get('Restarting'):
            return False, 'container is %s (exit code %s)' % (state.get('Status'), state.get('ExitCode'))
        health = (state.get('Health') or {}).get('Status')
        if health == 'healthy' or health is None:
            return True, health or 'running'
        if health == 'unhealthy' and strict:
            return False, 'unhealthy'
        if time.monotonic() > deadline:
            return False, 'not healthy after %s s' % timeout
        time.sleep(poll)


def wait_http(api, cid, timeout, poll=0.02, path='/health', port=8080):
    """Readiness by HTTP: GET http://<container ip>:8080/health answers 200 (the caller must be in
    the engine's network namespace); fails on exit."""
    deadline = time.monotonic() + timeout
    info = api.inspect_container(cid)
    nets = (info.get('NetworkSettings') or {}).get('Networks') or {}
    ip = next((n['IPAddress'] for n in nets.values() if n.get('IPAddress')), None)
    while True:
        try:
            conn = http.client.HTTPConnection(ip, port, timeout=1)
            conn.request('GET', path)
            if conn.getresponse().status == 200:
                conn.close()
                return True, 'http 200'
            conn.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            return False, 'no HTTP 200 from %s after %s s' % (ip, timeout)
        if not api.inspect_container(cid)['State'].get('Running'):
            return False, 'container exited'
        time.sleep(poll)


def floor_swap(api, spec, image, strategy='stop-first', stop_timeout=10, timeout=60, rollback=True,
               ready=wait_ready):
    """The engine work of one swap with nothing else: stop, rename aside, create, start, wait for
    the same readiness, remove the old one; on failure remove the new one and give the old one
    back. Returns step timestamps (epoch seconds) and the outcome."""
    marks = {'begin': time.time()}
    old = api.inspect_container(spec.name)
    old_id = old['Id']
    aside = spec.name + '-bench-old'
    if strategy == 'stop-first':
        api.stop(old_id, timeout=stop_timeout)
        marks['stopped'] = time.time()
        api.rename(old_id, aside)
        new_id = spec.create(api, image)
    else:
        new_id = spec.create(api, image, name=spec.name + '-bench-new')
    marks['created'] = time.time()
    api.start(new_id)
    marks['started'] = time.time()
    ok, why = ready(api, new_id, timeout)
    marks['ready' if ok else 'failed'] = time.time()
    if not ok:
        if rollback:
            api.remove_container(new_id, force=True)
            if strategy == 'stop-first':
                api.rename(old_id, spec.name)
                api.start(old_id)
            marks['restarted_old'] = time.time()
        return {'ok': False, 'why': why, 'marks': marks}
    if strategy == 'start-first':
        api.stop(old_id, timeout=stop_timeout)
        marks['stopped'] = time.time()
        api.remove_container(old_id, force=True)
        api.rename(new_id, spec.name)
    else:
        api.remove_container(old_id, force=True)
    marks['end'] = time.time()
    return {'ok': True, 'marks': marks}


def setup_network(bench, api, name):
    if not any(net['Name'] == name for net in api.networks(names=[name])):
        api.create_network(name, driver='bridge', labels={'io.patchops.bench': bench.run}, check_duplicate=True)
    return name


def run_specs(api, specs, image=None, workers=4):
    """Create, start and wait for many containers (setup only)."""
    parallel(lambda spec: spec.run(api, image), specs, workers)


def current_images(api, names):
    out = {}
    for name in names:
        out[name] = api.inspect_container(name)['Config']['Image']
    return out
