# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measures that recreate containers: 1 swap downtime, 2 rollout of N containers on one host,
5 fleet rollout with serial batches, 6 rollback."""

from __future__ import annotations

import json
import os
import subprocess
import time

from benchkit.apps import Spec, floor_swap, run_specs, setup_network, wait_ready
from benchkit.core import (BENCH, PY, Measure, cpu_busy, cpu_ticks, first_ok_after, iso_to_epoch, log, outages,
                           parallel)

FLOOR_WORKER = os.path.join(BENCH, 'benchkit', 'floorworker.py')

V1, V2 = 'v1', 'v2'


def flip(tag):
    return V2 if tag == V1 else V1


def patch_task(bench, containers, strategy='stop-first', name='patch', **extra):
    args = {'containers': containers, 'strategy': strategy, 'state_dir': bench.state_dir}
    args.update(extra)
    return {'name': name, 'patchops.containers.container_patch': args}


def play(tasks, hosts='bench', **extra):
    out = {'name': 'bench', 'hosts': hosts, 'gather_facts': False, 'tasks': tasks}
    out.update(extra)
    return [out]


def rotate(items, rep):
    k = rep % len(items)
    return items[k:] + items[:k]


def journal_swaps(bench, host, name, since):
    doc = bench.journal(host, name) or {'swaps': []}
    out = []
    for swap in doc['swaps']:
        hist = swap.get('history') or []
        if hist and iso_to_epoch(hist[0]['at']) >= since - 1:
            out.append(swap)
    return out


# 'planned' is journaled for every container of a run before the first is touched: phases start
# at the first step of each container's own turn.
PHASES = [('stop_old', 'rename_old', 'stop'),
          ('rename_old', 'create_new', 'rename'), ('create_new', 'created_new', 'create'),
          ('created_new', 'start_new', 'connect'), ('start_new', 'verify', 'start'),
          ('verify', 'verified', 'verify (readiness)'), ('verified', 'remove_old', 'before remove'),
          ('remove_old', 'done', 'remove old')]


def phases(swap):
    """Milliseconds between journaled steps of one swap (each step is written before it is taken)."""
    at = {}
    for item in swap.get('history') or []:
        at.setdefault(item['step'], iso_to_epoch(item['at']))
    out = {}
    for a, b, label in PHASES:
        if a in at and b in at:
            out[label] = round((at[b] - at[a]) * 1000, 1)
    own = [t for step, t in at.items() if step != 'planned']
    if own and 'done' in at:
        out['total'] = round((at['done'] - min(own)) * 1000, 1)
    return out, at


def sum_phases(swaps):
    total = {}
    for swap in swaps:
        ph, dummy = phases(swap)
        for key, value in ph.items():
            total[key] = round(total.get(key, 0) + value, 1)
    return total


class Web:
    """The measured container(s) of measures 1 and 6 on the bench host, and the DNS client."""

    def __init__(self, bench, host):
        self.b = bench
        self.host = host
        self.api = bench.engine(host)
        self.net = setup_network(bench, self.api, bench.prefix + 'net')

    def free_port(self, base):
        used = set()
        for c in self.api.containers(all=True):
            for p in c.get('Ports') or []:
                if p.get('PublicPort'):
                    used.add(p['PublicPort'])
        port = base
        while port in used:
            port += 1
        return port


# -- measure 1 ----------------------------------------------------------------------------------

def measure_swap(bench, cfg):
    host = cfg['host']
    reps = cfg['reps']
    m_stop = Measure('1a', '1a. swap downtime, stop-first, one HTTP container on %s' % host,
                     'ms without an answer, poller every 10 ms', ['floor', 'cd'])
    m_start = Measure('1b', '1b. swap, start-first (alias on a user network, poller resolves it per request)',
                      'failed requests', ['floor'])
    bench.pull(host, V1, V2)
    bench.pull(host, 'latest', repo='patchops/busybox')
    web = Web(bench, host)
    api = web.api
    port = web.free_port(18100 + int(bench.run, 16) % 400)
    stop_spec = Spec(bench, bench.prefix + 'web', bench.image(V1), port=port, network=web.net,
                     alias=bench.prefix + 'web-svc')
    start_spec = Spec(bench, bench.prefix + 'sf', bench.image(V1), network=web.net, alias=bench.prefix + 'sf-svc')
    client = Spec(bench, bench.prefix + 'client', bench.image('latest', 'patchops/busybox'), volume=False,
                  network=web.net, command=['sleep', '3600'])
    run_specs(api, [stop_spec, start_spec])
    client_id = client.run(api)
    client_pid = api.inspect_container(client_id)['State']['Pid']
    inv = [host]
    current = {stop_spec.name: V1, start_spec.name: V1}
    m_stop.details = {'ours_module_downtime_ms': [], 'ours_phases_ms': [], 'floor_phases_ms': [],
                      'port': port}

    def with_poller(make_poller, action):
        poller = make_poller()
        try:
            time.sleep(0.3)
            t0 = time.time()
            info = action() or {}
            time.sleep(1.5)  # stale DNS answers and ARP retries settle within about 1 s
        finally:
            samples = poller.stop()
        windows, failed = outages(samples, start=t0)
        info['outage_ms'] = round(sum(b - a for a, b in windows) * 1000, 1)
        info['failed'] = failed
        info['windows'] = [[round((a - t0) * 1000), round((b - a) * 1000),
                            sum(1 for t, ok, dummy in samples if a < t < b and not ok)] for a, b in windows]
        info['t0'] = t0
        info['samples'] = len(samples)
        # The last answer, not the last sample: on a loaded machine the final request may time out.
        info['last'] = next((value for dummy, ok, value in reversed(samples) if ok), None)
        return info

    def check_version(info, target):
        want = '2' if target == V2 else '1'
        if info['last'] != want:
            raise RuntimeError('after the swap the poller reads %r, expected %r' % (info['last'], want))

    for rep in range(reps):
        for method in rotate(['floor', 'ours', 'cd'], rep):
            target = flip(current[stop_spec.name])
            image = bench.image(target)

            def poll():
                return bench.poller(host=host, port=port)
            if method == 'floor':
                def act():
                    res = floor_swap(api, stop_spec, image)
                    mk = res['marks']
                    m_stop.details['floor_phases_ms'].append(
                        {'stop': round((mk['stopped'] - mk['begin']) * 1000, 1),
                         'rename+create': round((mk['created'] - mk['stopped']) * 1000, 1),
                         'start': round((mk['started'] - mk['created']) * 1000, 1),
                         'readiness': round((mk['ready'] - mk['started']) * 1000, 1),
                         'remove old': round((mk['end'] - mk['ready']) * 1000, 1)})
                info = with_poller(poll, act)
                m_stop.add('floor', info['outage_ms'], 'floor (SDK stop, rename, create, start, ready)')
            elif method == 'ours':
                def act():
                    since = time.time()
                    run = bench.playbook(play([patch_task(bench, [{'name': stop_spec.name, 'image': image}])]),
                                         inv, label='m1-ours')
                    res = run.results('patch')[0][2]
                    m_stop.details['ours_module_downtime_ms'].append(res['containers'][0]['downtime_ms'])
                    for swap in journal_swaps(bench, host, stop_spec.name, since):
                        m_stop.details['ours_phases_ms'].append(phases(swap)[0])
                info = with_poller(poll, act)
                m_stop.add('ours', info['outage_ms'], 'ours (container_patch)')
            else:
                def act():
                    bench.playbook(play([{'name': 'recreate', 'community.docker.docker_container':
                                          stop_spec.cd_args(image)}]), inv, label='m1-cd')
                info = with_poller(poll, act)
                m_stop.add('cd', info['outage_ms'], 'community.docker (docker_container, state healthy)')
            check_version(info, target)
            current[stop_spec.name] = target
            log('1a rep %d %s: %.0f ms without answer (%d failed requests)'
                % (rep + 1, method, info['outage_ms'], info['failed']))
        for method in rotate(['floor', 'ours', 'ours_drain'], rep):
            target = flip(current[start_spec.name])
            image = bench.image(target)

            def poll():
                return bench.poller(pid=client_pid, alias=start_spec.alias)
            marks = {}
            if method == 'floor':
                def act():
                    res = floor_swap(api, start_spec, image, strategy='start-first')
                    marks.update(res['marks'])
                info = with_poller(poll, act)
                m_start.add('floor', info['failed'], 'floor (SDK create, start, ready, stop old)')
            else:
                drain = 1.0 if method == 'ours_drain' else 0.0

                def act():
                    since = time.time()
                    bench.playbook(play([patch_task(bench, [{'name': start_spec.name, 'image': image}],
                                                    strategy='start-first', drain_seconds=drain)]),
                                   inv, label='m1-ours-sf')
                    for swap in journal_swaps(bench, host, start_spec.name, since)[-1:]:
                        marks.update(phases(swap)[1])
                info = with_poller(poll, act)
                m_start.add(method, info['failed'], 'ours (container_patch start-first, drain_seconds %g)' % drain)
            steps = sorted(marks.items(), key=lambda kv: kv[1])
            m_start.details.setdefault('runs', []).append({
                'method': method, 'failed': info['failed'],
                'windows_ms_from_start_len_failed': info['windows'],
                'steps_ms_from_start': {k: round((v - info['t0']) * 1000) for k, v in steps}})
            check_version(info, target)
            current[start_spec.name] = target
            m_start.details.setdefault('requests', []).append(info['samples'])
            m_start.details.setdefault('outage_ms', []).append(info['outage_ms'])
            log('1b rep %d %s: %d failed of %d requests' % (rep + 1, method, info['failed'], info['samples']))
    m_stop.notes.append('poller: one GET /version every 10 ms (50 ms timeout) from inside %s\'s network namespace '
                        'to its published port; downtime = last answer before to first answer after' % host)
    m_start.notes.append('poller in a client container\'s network namespace, resolving the alias through the '
                         'engine\'s DNS before every request')
    for spec in (stop_spec, start_spec, client):
        api.remove_container(spec.name, force=True)
    return [m_stop, m_start]


# -- measure 2 ----------------------------------------------------------------------------------

def rollout_specs(bench, api, count, tag, net):
    return [Spec(bench, '%s%s%02d' % (bench.prefix, tag, i), bench.image(V1), network=net,
                 alias='%s%s%02d-svc' % (bench.prefix, tag, i)) for i in range(count)]


def measure_rollout(bench, cfg):
    host = cfg['host']
    count = cfg['containers']
    reps = cfg['reps']
    m = Measure('2', '2. rollout of %d containers on %s (stop-first, each waited healthy)' % (count, host), 's',
                ['floor', 'cd_task'])
    bench.pull(host, V1, V2)
    api = bench.engine(host)
    net = setup_network(bench, api, bench.prefix + 'net')
    specs = rollout_specs(bench, api, count, 'r', net)
    run_specs(api, specs)
    current = V1
    inv = [host]
    m.details = {'ours_phases_ms_sum': [], 'floor_phases_ms_sum': [], 'ours_module_s': [], 'ansible_overhead_s': []}
    methods = ['floor', 'ours', 'ours_p5', 'cd'] + (['direct'] if cfg.get('direct') else [])
    for rep in range(reps):
        for method in rotate(methods, rep):
            if method == 'cd' and rep >= cfg.get('cd_reps', reps):
                continue
            target = flip(current)
            image = bench.image(target)
            since = time.time()
            ticks = cpu_ticks()
            if method == 'floor':
                started = time.monotonic()
                totals = {}
                for spec in specs:
                    res = floor_swap(api, spec, image)
                    if not res['ok']:
                        raise RuntimeError('floor swap of %s failed: %s' % (spec.name, res['why']))
                    mk = res['marks']
                    for label, a, b in (('stop', 'begin', 'stopped'), ('rename+create', 'stopped', 'created'),
                                        ('start', 'created', 'started'), ('readiness', 'started', 'ready'),
                                        ('remove old', 'ready', 'end')):
                        totals[label] = round(totals.get(label, 0) + (mk[b] - mk[a]) * 1000, 1)
                m.add('floor', time.monotonic() - started, 'floor (SDK, one after another)')
                m.details['floor_phases_ms_sum'].append(totals)
            elif method == 'ours_p5':
                run = bench.playbook(play([patch_task(bench, [{'name': s.name, 'image': image} for s in specs],
                                                      parallel=5)]), inv, label='m2-ours-p5')
                m.add('ours_p5_task', run.task_time('patch'), 'ours: container_patch task, parallel 5')
                m.details.setdefault('ours_p5_downtime_ms', []).append(sorted(
                    r['downtime_ms'] for r in run.results('patch')[0][2]['containers']))
            elif method == 'ours':
                run = bench.playbook(play([patch_task(bench, [{'name': s.name, 'image': image} for s in specs],
                                                      parallel=1)]), inv, label='m2-ours')
                task = run.task_time('patch')
                m.add('ours_task', task, 'ours: container_patch task (parallel 1)')
                m.details.setdefault('ours_downtime_ms', []).append(sorted(
                    r['downtime_ms'] for r in run.results('patch')[0][2]['containers']))
                m.add('ours_wall', run.wall, 'ours: ansible-playbook wall')
                swaps = [s for spec in specs for s in journal_swaps(bench, host, spec.name, since)]
                m.details['ours_phases_ms_sum'].append(sum_phases(swaps))
                starts = [phases(s)[1].get('planned') for s in swaps]
                ends = [phases(s)[1].get('done') for s in swaps]
                if starts and ends and all(starts) and all(ends):
                    module_span = max(ends) - min(starts)
                    m.details['ours_module_s'].append(round(module_span, 3))
                    m.details['ansible_overhead_s'].append(round(task - module_span, 3))
            elif method == 'cd':
                task = {'name': 'loop', 'community.docker.docker_container': '{{ item }}',
                        'loop': [s.cd_args(image) for s in specs], 'loop_control': {'label': '{{ item.name }}'}}
                run = bench.playbook(play([task]), inv, label='m2-cd')
                m.add('cd_task', run.task_time('loop'), 'community.docker: docker_container loop task')
                m.add('cd_wall', run.wall, 'community.docker: ansible-playbook wall')
            else:
                wall, result = bench.module_direct(host, 'container_patch', {
                    'containers': [{'name': s.name, 'image': image} for s in specs], 'state_dir': bench.state_dir})
                if result.get('failed'):
                    raise RuntimeError('container_patch (direct) failed: %s' % result.get('msg'))
                m.add('direct', wall, 'ours: module process, no Ansible')
            m.details.setdefault('cpu_busy', {}).setdefault(method, []).append(cpu_busy(ticks, cpu_ticks()))
            check = {s.name: api.inspect_container(s.name)['Config']['Image'] for s in specs}
            if set(check.values()) != {image}:
                raise RuntimeError('after %s not every container runs %s: %s' % (method, image, check))
            current = target
            log('2 rep %d %s: %.1f s' % (rep + 1, method, m.methods[{'ours': 'ours_task', 'ours_p5': 'ours_p5_task',
                                                                     'cd': 'cd_task'}.get(
                method, method)]['samples'][-1]))
    if cfg.get('profile_path'):  # one more run under cProfile, not counted (cProfile slows it)
        wall, result = bench.module_direct(host, 'container_patch', {
            'containers': [{'name': s.name, 'image': bench.image(flip(current))} for s in specs],
            'state_dir': bench.state_dir}, profile=cfg['profile_path'])
        m.details['profiled_run_s'] = round(wall, 2)
    m.notes.append('ratios use medians; the Ansible rows include SSH and module transfer, "wall" also the '
                   'ansible-playbook start')
    parallel(lambda s: api.remove_container(s.name, force=True), specs)
    return [m]


# -- measure 5 ----------------------------------------------------------------------------------

def ansible_batches(count, serial=(1, '50%', '100%')):
    """Batch sizes Ansible makes for a serial list: percentages of all hosts, floored, at least 1;
    the last value repeats until every host is done."""
    sizes = []
    left = count
    i = 0
    while left > 0:
        item = serial[min(i, len(serial) - 1)]
        if isinstance(item, str) and item.endswith('%'):
            size = max(1, int(count * float(item[:-1]) / 100.0))
        else:
            size = int(item)
        size = min(size, left)
        sizes.append(size)
        left -= size
        i += 1
    return sizes


FLEET_PROBE = {'type': 'http', 'url': 'http://{ip}:8080/health', 'retries': 250, 'interval': 0.02, 'timeout': 1.0}


def fleet_order(hosts):
    """Hosts the integration suite does not use first; lab3, where its fault tests stop the engine, last."""
    suite = [h for h in hosts[:3] if h != 'lab3'] + [h for h in hosts[:3] if h == 'lab3']
    return hosts[3:] + suite


def wait_engines(bench, hosts, timeout=180):
    """Hosts whose engine still does not answer after timeout (another suite may be restarting it)."""
    deadline = time.monotonic() + timeout
    down = list(hosts)
    while down and time.monotonic() < deadline:
        for host in list(down):
            try:
                bench.engine(host).ping()
                down.remove(host)
            except Exception:  # not up yet
                pass
        if down:
            time.sleep(2)
    return down


def measure_fleet(bench, cfg):
    """Containers without HEALTHCHECK (20 per host x 6 hosts of 1 s health checks would saturate a
    2-core machine by themselves); readiness is an HTTP GET of /health, for ours (probe) and the
    floor (same request every 20 ms, from inside the host's network namespace)."""
    sizes = cfg['hosts_sizes']
    count = cfg['containers']
    reps = cfg['reps']
    all_hosts = fleet_order(bench.hosts)[:max(sizes)]
    m = Measure('5', '5. fleet: N hosts x %d containers, serial [1, "50%%", "100%%"]' % count, 's', [])
    specs = {}

    def prepare(host):
        bench.pull(host, V1, V2)
        api = bench.engine(host)
        net = setup_network(bench, api, bench.prefix + 'fnet')
        specs[host] = [Spec(bench, '%sf%02d' % (bench.prefix, i), bench.image(V1), network=net,
                            alias='%sf%02d-svc' % (bench.prefix, i), no_healthcheck=True) for i in range(count)]
        for spec in specs[host]:
            for name in (spec.name, spec.name + '-bench-old', spec.name + '-bench-new',
                         spec.name + '-patchops-old', spec.name + '-patchops-new'):
                try:
                    api.remove_container(name, force=True)
                except Exception:  # absent
                    pass
        run_specs(api, specs[host])
    parallel(prepare, all_hosts, len(all_hosts))
    spec_files = {}
    for host in all_hosts:
        spec_files[host] = os.path.join(bench.work, 'fleet-%s.json' % host)
        with open(spec_files[host], 'w') as fh:
            json.dump([s.to_dict() for s in specs[host]], fh)
    current = {h: V1 for h in all_hosts}
    m.details = {'hosts': all_hosts, 'batches': {}, 'ours_batch_s': {}, 'ours_phases_ms_sum': {}, 'errors': [],
                 'probe': FLEET_PROBE}
    floor_plan = cfg.get('floor_sizes', sizes)

    def run_floor(size, hosts, targets):
        started = time.monotonic()
        done = 0
        for batch in ansible_batches(size):
            group = hosts[done:done + batch]
            done += batch
            procs = [(h, subprocess.Popen(
                ['nsenter', '--net=' + bench.netns(h), PY, FLOOR_WORKER, bench.socket(h), spec_files[h],
                 targets[h]], stdout=subprocess.PIPE, text=True)) for h in group]
            failures = []
            for h, proc in procs:
                out, dummy = proc.communicate(timeout=1200)
                lines = out.strip().splitlines()
                res = json.loads(lines[-1]) if lines else {'ok': False, 'why': 'worker died (rc %s)' % proc.returncode}
                if not res['ok']:
                    failures.append('%s: %s' % (h, res['why']))
            if failures:
                raise RuntimeError('floor: %s' % '; '.join(failures))
        return time.monotonic() - started

    def run_ours(size, hosts, targets, swaps_at_once=1):
        since = time.time()
        task = patch_task(bench, [{'name': s.name, 'image': '{{ bench_targets[inventory_hostname] }}'}
                                  for s in specs[hosts[0]]], settle=0, probes=[FLEET_PROBE], parallel=swaps_at_once)
        run = bench.playbook(play([task], serial=[1, '50%', '100%']), hosts,
                             extravars={'bench_targets': targets}, label='m5-ours-p%d-%d' % (swaps_at_once, size))
        batch_times = []
        starts = sorted(e['t'] for e in run.events if e['event'] == 'task_start')
        for i, t0 in enumerate(starts):
            t1 = starts[i + 1] if i + 1 < len(starts) else float('inf')
            ends = [e['t'] for e in run.events if e['event'] in ('ok', 'failed') and t0 <= e['t'] < t1]
            if ends:
                batch_times.append(round(max(ends) - t0, 2))
        key = str(size) if swaps_at_once == 1 else '%d-parallel%d' % (size, swaps_at_once)
        m.details['ours_batch_s'].setdefault(key, []).append(batch_times)
        swaps = [sw for h in hosts for spec in specs[h] for sw in journal_swaps(bench, h, spec.name, since)]
        m.details['ours_phases_ms_sum'].setdefault(key, []).append(sum_phases(swaps))
        return run

    for size in sizes:
        hosts = all_hosts[:size]
        m.details['batches'][str(size)] = ansible_batches(size)
        floor_key, ours_key = 'floor_%d' % size, 'ours_%d' % size
        p5_key = 'ours_p5_%d' % size
        if size in floor_plan:
            m.refs.append(floor_key)
            m.pair[ours_key] = m.pair['ours_play_%d' % size] = m.pair[p5_key] = floor_key
        methods = (['floor'] if size in floor_plan else []) + ['ours', 'ours_p5']
        for rep in range(reps):
            for method in rotate(methods, rep):
                for attempt in (1, 2):
                    down = wait_engines(bench, hosts)
                    if down:
                        m.details['errors'].append('%d hosts rep %d %s: engines down: %s' % (size, rep + 1, method, down))
                        break
                    targets = {h: bench.image(flip(current[h])) for h in hosts}
                    ticks = cpu_ticks()
                    try:
                        if method == 'floor':
                            seconds = run_floor(size, hosts, targets)
                            m.add(floor_key, seconds, 'floor, %d hosts (SDK, hosts of a batch in parallel)' % size)
                        elif method == 'ours_p5':
                            run = run_ours(size, hosts, targets, swaps_at_once=5)
                            seconds = run.wall
                            m.add(p5_key, run.wall, 'ours, %d hosts, parallel 5 (ansible-playbook wall)' % size)
                        else:
                            run = run_ours(size, hosts, targets)
                            seconds = run.wall
                            m.add(ours_key, run.wall, 'ours, %d hosts, parallel 1 (ansible-playbook wall)' % size)
                            m.add('ours_play_%d' % size, run.play_time(),
                                  'ours, %d hosts, parallel 1 (play, no interpreter start)' % size)
                    except Exception as exc:  # an engine restarted under us: reset the hosts, try once more
                        m.details['errors'].append('%d hosts rep %d %s attempt %d: %s'
                                                   % (size, rep + 1, method, attempt, exc))
                        log('5 %d hosts %s failed (%s); resetting the fleet containers' % (size, method, exc))
                        wait_engines(bench, hosts)
                        parallel(prepare, hosts, len(hosts))
                        for h in hosts:
                            current[h] = V1
                        continue
                    m.details.setdefault('cpu_busy', {}).setdefault('%s_%d' % (method, size), []).append(
                        cpu_busy(ticks, cpu_ticks()))
                    for h in hosts:
                        current[h] = flip(current[h])
                    log('5 %d hosts rep %d %s: %.1f s' % (size, rep + 1, method, seconds))
                    break
    for h in all_hosts:
        try:
            parallel(lambda s: bench.engine(h).remove_container(s.name, force=True), specs[h])
        except Exception as exc:  # the run's cleanup tries again
            log('5: removing the containers of %s failed: %s' % (h, exc))
    if len(sizes) > 1:
        data = m.to_json()['methods']
        a, b = sizes[0], sizes[-1]
        growth = {}
        for kind in ('ours', 'ours_p5', 'floor'):
            lo = (data.get('%s_%d' % (kind, a)) or {}).get('stats')
            hi = (data.get('%s_%d' % (kind, b)) or {}).get('stats')
            if lo and hi:
                growth[kind] = hi['median'] / lo['median']
        m.details['growth_%d_to_%d' % (a, b)] = growth
        m.notes.append('from %d to %d hosts: %s (batches %s -> %s)' % (
            a, b, ', '.join('%s x%.2f' % kv for kv in growth.items()), ansible_batches(a), ansible_batches(b)))
    m.notes.append('hosts in order: %s; no HEALTHCHECK on these containers; readiness = GET /health answering 200 '
                   '(ours: http probe every 20 ms, settle 0; floor: the same request every 20 ms)' % ', '.join(all_hosts))
    if m.details['errors']:
        m.notes.append('%d runs failed and were retried or skipped (see errors in the JSON)' % len(m.details['errors']))
    return [m]


# -- measure 6 ----------------------------------------------------------------------------------

def measure_rollback(bench, cfg):
    host = cfg['host']
    reps = cfg['reps']
    cd_timeout = cfg['cd_timeout']
    bench.pull(host, V1, 'v2-broken', 'v2-crash')
    web = Web(bench, host)
    api = web.api
    port = web.free_port(18500 + int(bench.run, 16) % 400)
    spec = Spec(bench, bench.prefix + 'rb', bench.image(V1), port=port, network=web.net, alias=bench.prefix + 'rb-svc')
    spec.run(api)
    inv = [host]
    out = []
    for bad in ('v2-broken', 'v2-crash'):
        m = Measure('6' + ('a' if bad == 'v2-broken' else 'b'),
                    '6%s. rollback after %s: failed verification -> old container serving again'
                    % ('a' if bad == 'v2-broken' else 'b', bad), 's', ['floor'])
        m.details = {'detect_s': {}, 'outage_s': {}}
        out.append(m)
        for rep in range(reps):
            methods = ['floor', 'ours'] + (['cd'] if rep < cfg.get('cd_reps', reps) else [])
            for method in rotate(methods, rep):
                image = bench.image(bad)
                poller = bench.poller(host=host, port=port)
                try:
                    time.sleep(0.3)
                    t0 = time.time()
                    if method == 'floor':
                        res = floor_swap(api, spec, image)
                        if res['ok']:
                            raise RuntimeError('floor: %s passed verification' % bad)
                        # from just before the start call, as ours journals start_new before it
                        t_start, t_fail = res['marks']['created'], res['marks']['failed']
                    elif method == 'ours':
                        since = time.time()
                        task = patch_task(bench, [{'name': spec.name, 'image': image}])
                        task['ignore_errors'] = True
                        run = bench.playbook(play([task]), inv, label='m6-ours')
                        res = run.results('patch')[0][2]
                        if not res.get('rolled_back'):
                            raise RuntimeError('ours did not roll back: %s' % res.get('msg'))
                        swap = journal_swaps(bench, host, spec.name, since)[-1]
                        dummy, at = phases(swap)
                        t_start, t_fail = at.get('start_new'), at['rollback']
                    else:
                        tasks = [{'block': [{'name': 'update', 'community.docker.docker_container':
                                             spec.cd_args(image, timeout=cd_timeout)}],
                                  'rescue': [{'name': 'rollback', 'community.docker.docker_container':
                                              spec.cd_args(bench.image(V1))}]}]
                        run = bench.playbook(play(tasks), inv, label='m6-cd')
                        failed = run.first('failed', 'update')
                        if failed is None:
                            raise RuntimeError('community.docker: %s did not fail' % bad)
                        t_start = run.first('task_start', 'update')['t']
                        t_fail = failed['t']
                    wait_ready(api, spec.name, 30)
                    time.sleep(1.5)
                finally:
                    samples = poller.stop()
                back = first_ok_after(samples, t_fail, body='1')
                if back is None:
                    raise RuntimeError('%s: v1 not serving again after the rollback' % method)
                windows, dummy = outages(samples, start=t0)
                label = {'floor': 'floor (SDK: remove new, rename back, start old)',
                         'ours': 'ours (container_patch rollback: auto)',
                         'cd': 'community.docker (block/rescue, healthy_wait_timeout %ss)' % cd_timeout}[method]
                m.add(method, back - t_fail, label)
                m.details['detect_s'].setdefault(method, []).append(round(t_fail - t_start, 3) if t_start else None)
                m.details['outage_s'].setdefault(method, []).append(round(sum(b - a for a, b in windows), 3))
                log('6 %s rep %d %s: detect %.2f s, restore %.2f s'
                    % (bad, rep + 1, method, t_fail - (t_start or t_fail), back - t_fail))
                wait_ready(api, spec.name, 30)
        medians = ', '.join('%s %.2f' % (k, sorted(v)[len(v) // 2])
                            for k, v in m.details['detect_s'].items() if v and None not in v)
        m.notes.append('detect (start of the new container -> verification failed; community.docker: from the '
                       'task start), median s: %s' % medians)
    api.remove_container(spec.name, force=True)
    return out
