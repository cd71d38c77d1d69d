# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measures that read: 3 inventory of many containers, 4 update check of many references."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from benchkit.core import Measure, log, parallel
from benchkit.swaps import patch_task, play, rotate


# -- measure 3 ----------------------------------------------------------------------------------

def measure_inventory(bench, cfg):
    host = cfg['host']
    count = cfg['containers']
    reps = cfg['reps']
    m = Measure('3', '3. inventory of %d containers on %s (half running)' % (count, host), 's',
                ['floor_sdk', 'floor_list', 'cd_task'])
    bench.pull(host, 'latest', repo='patchops/busybox')
    api = bench.engine(host)
    image = bench.image('latest', 'patchops/busybox')
    names = ['%si%03d' % (bench.prefix, i) for i in range(count)]
    started = time.monotonic()

    def make(args):
        index, name = args
        cid = api.create_container(image, name=name, command=['sleep', '3600'],
                                   labels={'io.patchops.bench': bench.run})['Id']
        if index % 2 == 0:
            api.start(cid)
    parallel(make, list(enumerate(names)), 4)
    # The plan's subjects, each patched to another image with one follower in its PID namespace: the
    # oldest container (every stopped one was created after it, so is inspected) and a new one.
    bench.pull(host, 'v2')
    oldest, newest = names[0], bench.prefix + 'inewest'
    names.append(newest)
    api.start(api.create_container(image, name=newest, command=['sleep', '3600'],
                                   labels={'io.patchops.bench': bench.run})['Id'])
    subjects = {}
    for subject in (oldest, newest):
        follower = subject + 'f'
        api.start(api.create_container(image, name=follower, command=['sleep', '3600'],
                                       labels={'io.patchops.bench': bench.run},
                                       host_config=api.create_host_config(pid_mode='container:' + subject))['Id'])
        subjects[subject] = follower
    names.extend(subjects.values())
    log('3 setup: %d containers created, %d started in %.1f s' % (count, (count + 1) // 2,
                                                                  time.monotonic() - started))
    total = len(api.containers(all=True))
    m.details = {'containers_on_host': total, 'ours_result_bytes': None, 'cd_result_bytes': None}
    inv = [host]
    sock = bench.socket(host)
    for rep in range(reps):
        for method in rotate(['floor_sdk', 'floor_cli', 'floor_list', 'ours', 'direct', 'summary', 'summary_direct',
                              'cd', 'plan', 'plan_direct', 'plan_oldest'], rep):
            if method in ('plan', 'plan_direct', 'plan_oldest'):
                subject = oldest if method == 'plan_oldest' else newest
                args = dict(containers=[{'name': subject, 'image': bench.image('v2')}], state_dir=bench.state_dir)
                if method == 'plan':
                    run = bench.playbook(play([dict(patch_task(bench, args['containers']), check_mode=True)]), inv,
                                         label='m3-plan')
                    res = run.results('patch')[0][2]
                    m.add('plan_task', run.task_time('patch'), 'ours: container_patch plan (check mode), task')
                else:
                    wall, res = bench.module_direct(host, 'container_patch', dict(args, _ansible_check_mode=True))
                    m.add(method, wall, 'ours: container_patch plan (check mode), module process%s' % (
                        ', of the oldest container' if method == 'plan_oldest' else ''))
                planned = [(c['container'], c['action']) for c in res.get('plan') or []]
                if planned != [(subject, 'recreate'), (subjects[subject], 'recreate')]:
                    raise RuntimeError('3: the plan of %s is %s: %s' % (subject, planned, res.get('msg')))
                n = count
            elif method == 'floor_list':
                t0 = time.monotonic()
                n = len(api.containers(all=True))
                m.add('floor_list', time.monotonic() - t0, 'floor (SDK: the list call only)')
            elif method == 'summary':
                run = bench.playbook(play([{'name': 'inventory', 'patchops.containers.container_inventory':
                                            {'include_stopped': True, 'detail': 'summary'}}]), inv,
                                     label='m3-summary')
                res = run.results('inventory')[0][2]
                m.add('summary_task', run.task_time('inventory'), 'ours, detail: summary: task')
                m.details['summary_result_bytes'] = len(json.dumps(res))
                n = len(res['containers'])
            elif method == 'summary_direct':
                wall, res = bench.module_direct(host, 'container_inventory', {'include_stopped': True,
                                                                              'detail': 'summary'})
                m.add('summary_direct', wall, 'ours, detail: summary: module process')
                n = len(res['containers'])
            elif method == 'floor_sdk':
                t0 = time.monotonic()
                ids = [c['Id'] for c in api.containers(all=True)]
                found = [api.inspect_container(i) for i in ids]
                m.add('floor_sdk', time.monotonic() - t0, 'floor (SDK: list, inspect each)')
                n = len(found)
            elif method == 'floor_cli':
                t0 = time.monotonic()
                out = subprocess.run('docker -H unix://%s ps -aq | xargs -r docker -H unix://%s inspect' % (sock, sock),
                                     shell=True, capture_output=True, text=True, check=True).stdout
                m.add('floor_cli', time.monotonic() - t0, 'floor (docker ps -aq | xargs docker inspect)')
                n = len(json.loads(out))
            elif method == 'ours':
                run = bench.playbook(play([{'name': 'inventory', 'patchops.containers.container_inventory':
                                            {'include_stopped': True}}]), inv, label='m3-ours')
                res = run.results('inventory')[0][2]
                m.add('ours_task', run.task_time('inventory'), 'ours: container_inventory task')
                m.add('ours_wall', run.wall, 'ours: ansible-playbook wall')
                m.details['ours_result_bytes'] = len(json.dumps(res))
                n = len(res['containers'])
            elif method == 'direct':
                wall, res = bench.module_direct(host, 'container_inventory', {'include_stopped': True})
                m.add('direct', wall, 'ours: module process, no Ansible')
                n = len(res['containers'])
            else:
                run = bench.playbook(play([{'name': 'hostinfo', 'community.docker.docker_host_info': {
                    'containers': True, 'containers_all': True, 'verbose_output': True}}]), inv, label='m3-cd')
                res = run.results('hostinfo')[0][2]
                m.add('cd_task', run.task_time('hostinfo'), 'community.docker: docker_host_info task')
                m.add('cd_wall', run.wall, 'community.docker: ansible-playbook wall')
                m.details['cd_result_bytes'] = len(json.dumps(res))
                n = len(res['containers'])
            if n < count:
                raise RuntimeError('3: %s saw %d containers, expected at least %d' % (method, n, count))
            log('3 rep %d %s: %d containers' % (rep + 1, method, n))
    if cfg.get('profile_path'):  # one more run under cProfile, not counted
        wall, res = bench.module_direct(host, 'container_inventory', {'include_stopped': True},
                                        profile=cfg['profile_path'])
        m.details['profiled_run_s'] = round(wall, 2)
    m.notes.append('the plan: one target and its follower; the list, then an inspect of the target and of the '
                   'containers that may follow it (running: by /proc namespaces; stopped: created after it)')
    m.notes.append('ours (detail: full) and the first two floors inspect every container; detail: summary, the '
                   'list floor and docker_host_info (verbose) only list them (GET /containers/json)')
    started = time.monotonic()
    parallel(lambda name: api.remove_container(name, force=True), names, 4)
    log('3 cleanup: removed in %.1f s' % (time.monotonic() - started))
    return [m]


# -- measure 4 ----------------------------------------------------------------------------------

def _layer_tar(name, size, seed):
    """A one-file image root, the same bytes for the same seed (so registry blobs are reused by
    later runs rather than piling up)."""
    data = random.Random(seed).randbytes(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _push(api, repo, tag, auth):
    for line in api.push(repo, tag=tag, auth_config=auth, stream=True, decode=True):
        if 'error' in line:
            raise RuntimeError('push %s:%s failed: %s' % (repo, tag, line['error']))


def _pull_bytes(api, repo, tag, auth):
    """Pull and return the compressed layer bytes the engine downloaded (from its progress)."""
    sizes = {}
    for line in api.pull(repo, tag=tag, auth_config=auth, stream=True, decode=True):
        if 'error' in line:
            raise RuntimeError('pull %s:%s failed: %s' % (repo, tag, line['error']))
        if line.get('status') == 'Downloading' and line.get('id'):
            sizes[line['id']] = (line.get('progressDetail') or {}).get('total') or 0
    return sum(sizes.values())


def _rx_bytes(host):
    out = subprocess.run(['ip', '-n', 'polab-%s' % host, '-s', '-j', 'link', 'show', 'eth0'], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)[0]['stats64']['rx']['bytes']


def measure_updates(bench, cfg):
    host = cfg['host']
    count = cfg['refs']
    updated = cfg['updated']
    size = cfg['layer_bytes']
    reps = cfg['reps']
    m = Measure('4', '4. update check of %d references on %s (%d updated, %d KiB new layer each)'
                % (count, host, updated, size // 1024), 's', ['floor_remote', 'pull_sdk', 'cd_task'])
    api = bench.engine(host)
    repo = '%s/patchops/bench-updates' % bench.registry
    tags = ['%s-r%02d' % (bench.run, i) for i in range(count)]
    auth = dict(bench.auth, serveraddress=bench.registry)
    truth = set(tags[:updated])
    old_ids, digests = {}, set()

    started = time.monotonic()
    bench.images_made.setdefault(host, [])
    if not bench.wait_registry():
        raise RuntimeError('4: the registry %s does not answer' % bench.registry)

    def make(i):
        tag = tags[i]
        api.import_image_from_data(_layer_tar('old', 256, 'bench-old-%d' % i), repository=repo, tag=tag,
                                   changes=['CMD ["/old"]'])
        _push(api, repo, tag, auth)
        image = api.inspect_image('%s:%s' % (repo, tag))
        old_ids[tag] = image['Id']
        bench.images_made[host].append(image['Id'])
        digests.update(d.split('@', 1)[1] for d in image['RepoDigests'] if d.startswith(repo + '@'))
        if tag in truth:
            api.import_image_from_data(_layer_tar('new', size, 'bench-new-%d-%d' % (i, size)), repository=repo,
                                       tag=tag, changes=['CMD ["/new"]'])
            _push(api, repo, tag, auth)
            new = api.inspect_image('%s:%s' % (repo, tag))
            bench.images_made[host].append(new['Id'])
            digests.update(d.split('@', 1)[1] for d in new['RepoDigests'] if d.startswith(repo + '@'))
            api.tag(old_ids[tag], repo, tag, force=True)
            api.remove_image(new['Id'], force=True)
        bench.images_made[host].append('%s:%s' % (repo, tag))
        api.create_container('%s:%s' % (repo, tag), name='%su%02d' % (bench.prefix, i),
                             labels={'io.patchops.bench': bench.run})
    bench.registry_cleanup.append(lambda: delete_manifests(bench, 'patchops/bench-updates', digests, tags))
    parallel(make, list(range(count)), 4)
    log('4 setup: %d references (%d updated) in %.1f s' % (count, updated, time.monotonic() - started))

    def restore():
        for tag in tags:
            current = api.inspect_image('%s:%s' % (repo, tag))['Id']
            if current != old_ids[tag]:
                api.tag(old_ids[tag], repo, tag, force=True)
                api.remove_image(current, force=True)

    docker_config = os.path.join(bench.state_dir, 'docker-config')
    os.makedirs(docker_config, exist_ok=True)
    with open(os.path.join(docker_config, 'config.json'), 'w') as fh:
        token = base64.b64encode(('%s:%s' % (bench.registry_user, bench.registry_password)).encode()).decode()
        json.dump({'auths': {bench.registry: {'auth': token}}}, fh)
    os.chmod(os.path.join(docker_config, 'config.json'), 0o600)

    m.details = {'layer_bytes': {}, 'rx_bytes': {}, 'manifest_bytes': {}}
    inv = [host]
    for rep in range(reps):
        for method in rotate(['floor_remote', 'ours', 'direct', 'pull_sdk', 'cd'], rep):
            if method == 'cd' and rep >= cfg.get('cd_reps', reps):
                continue
            rx0 = _rx_bytes(host)
            layer_bytes = 0
            if method == 'floor_remote':
                t0 = time.monotonic()

                def ask(tag):
                    return tag, api.inspect_distribution('%s:%s' % (repo, tag), auth_config=auth)['Descriptor']
                with ThreadPoolExecutor(max_workers=8) as pool:
                    answers = dict(pool.map(ask, tags))
                found = set()
                for tag in tags:
                    local = api.inspect_image(old_ids[tag]).get('RepoDigests') or []
                    if repo + '@' + answers[tag]['digest'] not in local:
                        found.add(tag)
                m.add('floor_remote', time.monotonic() - t0, 'floor: remote digest (SDK distribution, 8 at a time)')
                m.details['manifest_bytes'].setdefault(method, []).append(sum(a['size'] for a in answers.values()))
            elif method in ('ours', 'direct'):
                args = {'name': [bench.prefix + 'u*'], 'include_stopped': True, 'check_updates': True,
                        'registry_username': bench.registry_user, 'registry_password': bench.registry_password}
                if method == 'ours':
                    run = bench.playbook(play([{'name': 'check', 'patchops.containers.container_inventory': args}]),
                                         inv, label='m4-ours')
                    res = run.results('check')[0][2]
                    m.add('ours_task', run.task_time('check'), 'ours: container_inventory check_updates task')
                    m.add('ours_wall', run.wall, 'ours: ansible-playbook wall')
                else:
                    wall, res = bench.module_direct(host, 'container_inventory', args)
                    m.add('direct', wall, 'ours: module process, no Ansible')
                found = {c['image'].rsplit(':', 1)[1] for c in res['containers'] if c['update'] == 'available'}
                unknown = [c for c in res['containers'] if c['update'] == 'unknown']
                if unknown:
                    raise RuntimeError('4: %d references unknown: %s' % (len(unknown), unknown[0]['update_reason']))
            elif method == 'pull_sdk':
                t0 = time.monotonic()
                found = set()
                for tag in tags:
                    layer_bytes += _pull_bytes(api, repo, tag, auth)
                    if api.inspect_image('%s:%s' % (repo, tag))['Id'] != old_ids[tag]:
                        found.add(tag)
                m.add('pull_sdk', time.monotonic() - t0, 'pull and compare (SDK, one after another)')
            else:
                pull = {'name': repo, 'tag': '{{ item }}', 'pull': 'always'}
                task = {'name': 'pull', 'community.docker.docker_image_pull': pull, 'loop': tags,
                        'environment': {'DOCKER_CONFIG': docker_config}}
                run = bench.playbook(play([task]), inv, label='m4-cd')
                m.add('cd_task', run.task_time('pull'), 'community.docker: docker_image_pull loop task')
                m.add('cd_wall', run.wall, 'community.docker: ansible-playbook wall')
                found = {e['res']['item'] for e in run.events if e['event'] == 'item_ok' and e['res'].get('changed')}
            rx = _rx_bytes(host) - rx0
            m.details['rx_bytes'].setdefault(method, []).append(rx)
            if method == 'pull_sdk':
                m.details['layer_bytes'].setdefault(method, []).append(layer_bytes)
            if method in ('pull_sdk', 'cd'):
                restore()
            if found != truth:
                raise RuntimeError('4: %s found %d updates, expected %d (%s)'
                                   % (method, len(found), len(truth), sorted(found ^ truth)[:5]))
            log('4 rep %d %s: %d updates found, %d bytes received' % (rep + 1, method, len(found), rx))
    if cfg.get('profile_path'):  # one more run under cProfile, not counted
        wall, res = bench.module_direct(host, 'container_inventory', {
            'name': [bench.prefix + 'u*'], 'include_stopped': True, 'check_updates': True,
            'registry_username': bench.registry_user, 'registry_password': bench.registry_password},
            profile=cfg['profile_path'])
        m.details['profiled_run_s'] = round(wall, 2)
    m.notes.append('ours asks the registry for the manifest digest only; the pulls download every updated '
                   'layer (see bytes in the JSON)')
    parallel(lambda i: api.remove_container('%su%02d' % (bench.prefix, i), force=True), list(range(count)), 4)
    return [m]


def delete_manifests(bench, name, digests, tags=()):
    """Delete this run's manifests (by digest, and whatever its tags point to now). The layer blobs
    stay until the registry's garbage collection; they are the same bytes run after run."""
    session = requests.Session()
    session.auth = (bench.registry_user, bench.registry_password)
    accept = 'application/vnd.docker.distribution.manifest.v2+json'
    digests = set(digests)
    for tag in tags:
        resp = session.head('https://%s/v2/%s/manifests/%s' % (bench.registry, name, tag), timeout=30,
                            verify=bench.ca, headers={'Accept': accept})
        if resp.status_code == 200 and resp.headers.get('Docker-Content-Digest'):
            digests.add(resp.headers['Docker-Content-Digest'])
    for digest in sorted(digests):
        url = 'https://%s/v2/%s/manifests/%s' % (bench.registry, name, digest)
        resp = session.delete(url, timeout=30, verify=bench.ca)
        if resp.status_code not in (202, 404):
            log('registry: deleting %s gave %s' % (digest, resp.status_code))
