# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure 8: the packages and pending updates of the lab fleet's images (8a) against a plain
`docker run IMAGE dpkg-query -W` per image, and the inventory with packages against the inventory
without (8b, the cost of the new step as a ratio)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from benchkit.core import ROOT, Measure, log
from benchkit.swaps import play, rotate

# The lab fleet's images: the Debian ones (dpkg) and the busybox ones (no package database).
IMAGES = (('patchops/debian', '12'), ('patchops/debian-app', 'v1'), ('patchops/app', 'v1'), ('patchops/busybox', 'latest'))
MIRROR = 'http://10.213.7.1:8780/'
SOURCES = [{'url': MIRROR, 'suite': './', 'security': False}, {'url': MIRROR, 'suite': 'bookworm-security/'},
           {'url': MIRROR, 'suite': 'bookworm-updates/'}]


def dpkg_run(bench, host, ref):
    """`docker run --rm IMAGE dpkg-query -W`: the plain way to list an image's packages."""
    env = dict(os.environ, DOCKER_HOST='unix://' + bench.socket(host))
    proc = subprocess.run([shutil.which('docker'), 'run', '--rm', '--network', 'none', '--entrypoint', 'dpkg-query',
                           '-u', '0', ref, '-W'], capture_output=True, text=True, env=env, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError('8: docker run %s dpkg-query -W failed: %s' % (ref, proc.stderr[-1000:]))
    return len(proc.stdout.splitlines())


def inventory_plays(bench, state_dir, packages, pending):
    """container_inventory of the bench's containers (packages read into a fresh cache when
    ``state_dir`` is new), then on the controller the sources read and the pending updates."""
    task = {'name': 'inventory', 'register': 'inv', 'patchops.containers.container_inventory': {
        'name': [bench.prefix + '*'], 'include_stopped': True, 'check_updates': False, 'packages': packages,
        'state_dir': state_dir}}
    plays = play([task])
    if pending:
        names = "{{ _inv.images | map(attribute='packages') | flatten | map(attribute='name') | unique }}"
        plays += play([
            {'name': 'indexes', 'ansible.builtin.set_fact': {
                'indexes': "{{ query('patchops.containers.package_indexes', sources, names=names) }}"},
             'vars': {'sources': SOURCES, 'names': names}},
            {'name': 'pending', 'ansible.builtin.set_fact': {
                'report': "{{ {'hosts': [{'host': 'h', 'images': _inv.images}]} | patchops.containers.pending_updates(indexes) }}"}},
        ], hosts='localhost', vars={'_inv': "{{ hostvars[groups['bench'][0]].inv }}"})
    return plays


def pending_direct(images):
    """The sources read (the lookup) and the pending updates (the filter) in this process, no Ansible:
    the controller's part of ours without Ansible's fixed cost."""
    if os.path.join(ROOT, 'build') not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, 'build'))
    from ansible_collections.patchops.containers.plugins.lookup.package_indexes import read_sources
    from ansible_collections.patchops.containers.plugins.plugin_utils._pending import installed_names, report_pending
    indexes = read_sources(SOURCES, installed_names(images))
    return report_pending({'hosts': [{'host': 'h', 'images': images}]}, indexes)


def measure_pending(bench, cfg):
    host = cfg['host']
    reps = cfg['reps']
    api = bench.engine(host)
    refs = []
    for repo, tag in IMAGES:
        bench.pull(host, tag, repo=repo)
        refs.append(bench.image(tag, repo))
    for index, ref in enumerate(refs):
        api.create_container(ref, name='%sp%d' % (bench.prefix, index), command=['true'],
                             labels={'io.patchops.bench': bench.run})
    debian = refs[:2]
    engine = api.version()
    m = Measure('8a', '8a. packages and pending updates of the %d lab fleet images on %s (Docker %s), %d with dpkg'
                % (len(refs), host, engine.get('Version'), len(debian)), 's', ['dpkg_run'])
    m_cost = Measure('8b', '8b. container_inventory with packages against without, same containers', 's',
                     ['plain', 'direct_plain'])
    m.details = {'host': host, 'images': refs, 'sources': SOURCES, 'packages': {}}
    labels = {'dpkg_run': 'docker run IMAGE dpkg-query -W, per Debian image',
              'ours': 'ours: packages read (cold cache) + pending updates, tasks',
              'ours_cached': 'ours: the same, packages from the host cache',
              'direct': 'ours: module process (cold cache) + lookup and filter in-process, no Ansible'}
    args = {'name': [bench.prefix + '*'], 'include_stopped': True, 'check_updates': False}
    for rep in range(reps):
        state_dir = '%s/m8-%d' % (bench.state_dir, rep)
        for method in rotate(['dpkg_run', 'ours', 'plain', 'direct'], rep):
            if method == 'dpkg_run':
                t0 = time.monotonic()
                counts = [dpkg_run(bench, host, ref) for ref in debian]
                m.add(method, time.monotonic() - t0, labels[method])
                m.details['packages']['dpkg_run'] = counts
            elif method == 'direct':
                t0 = time.monotonic()
                seconds, res = bench.module_direct(host, 'container_inventory', dict(
                    args, packages=True, state_dir=state_dir + '-direct'))
                t1 = time.monotonic()
                report = pending_direct(res['images'])
                m.add(method, time.monotonic() - t0, labels[method])
                m.add('pending_only', time.monotonic() - t1, 'ours: of which the 3 sources read + pending updates')
                m_cost.add('direct_packages', seconds, 'container_inventory module process, packages: true (cold)')
                seconds, res = bench.module_direct(host, 'container_inventory', dict(
                    args, packages=False, state_dir=state_dir + '-direct-plain'))
                m_cost.add('direct_plain', seconds, 'container_inventory module process, packages: false')
                m.details['pending'] = dict((i['tags'][0] if i['tags'] else i['id'], i['pending_summary'])
                                            for i in report['hosts'][0]['images'])
            elif method == 'plain':
                run = bench.playbook(inventory_plays(bench, state_dir + '-plain', False, False), [host], label='m8-plain')
                m_cost.add('plain', run.task_time('inventory'), 'container_inventory, packages: false')
            else:
                for key, label in (('ours', 'm8-cold'), ('ours_cached', 'm8-warm')):
                    run = bench.playbook(inventory_plays(bench, state_dir, True, True), [host], label=label)
                    inventory = run.task_time('inventory')
                    m.add(key, inventory + run.task_time('indexes') + run.task_time('pending'), labels[key])
                    if key == 'ours':
                        m_cost.add('packages', inventory, 'container_inventory, packages: true (cold cache)')
                    else:
                        m_cost.add('packages_cached', inventory, 'container_inventory, packages: true (host cache)')
                    images = run.results('inventory')[0][2]['images']
                    m.details['packages'][key] = dict((i['tags'][0] if i['tags'] else i['id'], len(i['packages']))
                                                      for i in images)
            log('8 rep %d %s done' % (rep + 1, method))
    m.notes.append('dpkg_run lists the 2 Debian images only (the others have no dpkg to run); ours also reads the '
                   'busybox images (no package database, reported so) and computes the pending updates against '
                   'the lab mirror\'s 3 flat repositories, each index read once')
    m_cost.notes.append('task: the time of the one container_inventory task; module process: the module run on the '
                        'engine socket without Ansible; cold: a new cache directory each run')
    return [m, m_cost]
