# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure 7: image_patch against `docker build` of the same updates (the lab Debian app image,
updates from the lab mirror): time and the size of the layer each adds."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time

import docker

from benchkit.core import Measure, log
from benchkit.swaps import play, rotate

REPO = 'patchops/debian-app'
TAG = 'v1'


def mirror_updates(bench):
    """{package: version} the lab mirror has newer than the image (written by `lab up`)."""
    with open(bench.env['PATCHOPS_LAB_APT_UPDATES']) as fh:
        return dict(line.strip().split('=', 1) for line in fh if '=' in line)


def docker_host(bench, wanted):
    """A Docker engine for `docker build` (the bench host unless it is Podman): the last Docker 26
    host up, else the last Docker 20.10 host past lab1."""
    def is_docker(host):
        comps = bench.engine(host).version().get('Components') or [{}]
        return not comps[0].get('Name', '').lower().startswith('podman')
    if is_docker(wanted):
        return wanted
    for key in ('PATCHOPS_LAB_DOCKER26_HOSTS', 'PATCHOPS_LAB_DOCKER20_HOSTS'):
        for host in reversed(bench.env.get(key, '').split()):
            if host in bench.hosts and host != 'lab1' and bench.wait_engine(host, 10):
                return host
    raise RuntimeError('7: no Docker engine host up for docker build')


def dockerfile(base_ref, user, packages):
    # The image runs as `user`: root for apt, then the image's user back, as an operator writes it.
    lines = ['FROM %s' % base_ref, 'USER root',
             'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install --only-upgrade -y %s '
             '&& apt-get clean && rm -rf /var/lib/apt/lists/*' % ' '.join(packages)]
    if user and user not in ('root', '0'):
        lines.append('USER %s' % user)
    return '\n'.join(lines) + '\n'


def docker_build(bench, host, text, tag):
    """`docker build` with the classic builder (the CLI when there is one, else the same /build call
    through the SDK); returns the seconds it took."""
    cli = shutil.which('docker')
    t0 = time.monotonic()
    if cli:
        env = dict(os.environ, DOCKER_BUILDKIT='0', DOCKER_HOST='unix://' + bench.socket(host))
        proc = subprocess.run([cli, 'build', '--no-cache', '--force-rm', '-q', '-t', tag, '-'], input=text,
                              capture_output=True, text=True, env=env, timeout=1800, check=False)
        if proc.returncode != 0:
            raise RuntimeError('7: docker build failed: %s' % (proc.stderr or proc.stdout)[-2000:])
    else:
        for line in bench.engine(host).build(fileobj=io.BytesIO(text.encode()), tag=tag, nocache=True, rm=True,
                                             forcerm=True, decode=True):
            if 'error' in line:
                raise RuntimeError('7: docker build failed: %s' % line['error'])
    return time.monotonic() - t0


def dpkg_versions(api, image, names):
    cid = api.create_container(image, command=['dpkg-query', '-W', '-f', '${Package}=${Version}\n'] + list(names),
                               user='0')['Id']
    try:
        api.start(cid)
        api.wait(cid, timeout=120)
        out = api.logs(cid, stdout=True, stderr=False).decode()
    finally:
        api.remove_container(cid, force=True, v=True)
    return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)


def measure_build(bench, cfg):
    host = docker_host(bench, cfg['host'])
    reps = cfg['reps']
    updates = mirror_updates(bench)
    packages = sorted(cfg.get('packages') or updates)
    unknown = [p for p in packages if p not in updates]
    if unknown:
        raise RuntimeError('7: the lab mirror has no update of %s' % ', '.join(unknown))
    api = bench.engine(host)
    bench.pull(host, TAG, repo=REPO)
    base = api.inspect_image(bench.image(TAG, REPO))
    base_ref = base['RepoDigests'][0]
    engine = api.version()
    what = 'all %d updates' % len(packages) if len(packages) == len(updates) else ', '.join(packages)
    m_time = Measure('7a', '7a. image_patch vs docker build: %s of %s on %s (Docker %s)'
                     % (what, bench.image(TAG, REPO), host, engine.get('Version')), 's', ['docker_build'])
    m_size = Measure('7b', '7b. size of the added layer(s), same builds', 'bytes', ['docker_build'])
    text = dockerfile(base_ref, base['Config'].get('User'), packages)
    m_time.details = {'host': host, 'engine': engine.get('Version'), 'api': engine.get('ApiVersion'),
                      'base': base_ref, 'base_size': base['Size'], 'packages': packages, 'dockerfile': text,
                      'added_layers': {}, 'module_timings': []}
    args = {'image': base_ref, 'push': False}
    if cfg.get('packages'):
        args['packages'] = packages
    methods = ['ours', 'docker_build'] + (['direct'] if cfg.get('direct') else [])
    labels = {'ours': 'ours: image_patch task', 'direct': 'ours: image_patch module process, no Ansible',
              'docker_build': 'docker build (classic builder, --no-cache)'}
    for rep in range(reps):
        for method in rotate(methods, rep):
            tag = '%s/patchops/bench-build:%s-%s-%d' % (bench.registry, bench.run, method.replace('_', ''), rep)
            bench.images_made.setdefault(host, []).append(tag)
            if method == 'docker_build':
                seconds = docker_build(bench, host, text, tag)
                m_time.add(method, seconds, labels[method])
            elif method == 'ours':
                run = bench.playbook(play([{'name': 'patch', 'patchops.containers.image_patch':
                                            dict(args, output=tag)}]), [host], label='m7-ours')
                res = run.results('patch')[0][2]
                m_time.add(method, run.task_time('patch'), labels[method])
                m_time.add('ours_wall', run.wall, 'ours: ansible-playbook wall')
                m_time.details['module_timings'].append(res.get('timings'))
            else:
                seconds, res = bench.module_direct(host, 'image_patch', dict(args, output=tag))
                if res.get('failed'):
                    raise RuntimeError('7: image_patch failed: %s' % res.get('msg'))
                m_time.add(method, seconds, labels[method])
                m_time.details['module_timings'].append(res.get('timings'))
            built = api.inspect_image(tag)
            added = len(built['RootFS']['Layers']) - len(base['RootFS']['Layers'])
            if built['RootFS']['Layers'][:len(base['RootFS']['Layers'])] != base['RootFS']['Layers'] or added < 1:
                raise RuntimeError('7: %s did not build over the base layers' % method)
            got = dpkg_versions(api, tag, packages)
            wrong = sorted(p for p in packages if got.get(p) != updates[p])
            if wrong:
                raise RuntimeError('7: %s left %s at %s' % (method, wrong[0], got.get(wrong[0])))
            if built['Config'].get('User') != base['Config'].get('User'):
                raise RuntimeError('7: %s changed the image user' % method)
            key = 'docker_build' if method == 'docker_build' else 'ours'
            if method != 'direct':
                m_size.add(key, built['Size'] - base['Size'], 'image_patch' if key == 'ours' else labels[key])
            m_time.details['added_layers'][key] = added
            log('7 rep %d %s: %.1f s, +%d bytes in %d layer(s)' % (
                rep + 1, method, m_time.methods[method]['samples'][-1], built['Size'] - base['Size'], added))
            try:
                api.remove_image(tag, force=True)
            except docker.errors.APIError:
                pass
    m_time.notes.append('both install exactly these packages from the lab mirror; image_patch runs dpkg with '
                        '--force-unsafe-io and keeps apt lists, caches and logs out of its one layer')
    m_size.notes.append('added bytes = image size - base size, as the engine reports them')
    return [m_time, m_size]
