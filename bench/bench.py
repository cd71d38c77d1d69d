# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/run: measure patchops.containers against the engine floor and community.docker on the lab.

Prints per measure a table (median/min/max and the ratio to each reference, all measured in the
same run) and writes everything as JSON under bench/results/. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchkit.build import measure_build  # noqa: E402
from benchkit.core import BENCH, LAB, Bench, lab_hosts_up, log, machine  # noqa: E402
from benchkit.listing import delete_manifests, measure_inventory, measure_updates  # noqa: E402
from benchkit.pending import measure_pending  # noqa: E402
from benchkit.swaps import measure_fleet, measure_rollback, measure_rollout, measure_swap  # noqa: E402

# Sized to finish in under 20 minutes on the 2-core lab machine; community.docker loops get fewer
# runs (one docker_container loop over 20 containers takes about 2 minutes).
FULL = {
    '1': {'reps': 4},
    '2': {'containers': 20, 'reps': 2, 'cd_reps': 1, 'direct': False},
    '3': {'containers': 500, 'reps': 3},
    '4': {'refs': 50, 'updated': 25, 'layer_bytes': 1024 * 1024, 'reps': 3, 'cd_reps': 1},
    '5': {'hosts_sizes': [2, 4, 6], 'containers': 20, 'reps': 1},
    '6': {'reps': 2, 'cd_reps': 1, 'cd_timeout': 10},
    '7': {'reps': 3, 'direct': False},
    '8': {'reps': 3},
}
QUICK = {
    '1': {'reps': 1},
    '2': {'containers': 3, 'reps': 1, 'direct': True},
    '3': {'containers': 20, 'reps': 1},
    '4': {'refs': 4, 'updated': 2, 'layer_bytes': 64 * 1024, 'reps': 1},
    '5': {'hosts_sizes': [2], 'containers': 2, 'reps': 1},
    '6': {'reps': 1, 'cd_reps': 1, 'cd_timeout': 5},
    # One package: a small layer, a few seconds per build.
    '7': {'reps': 1, 'packages': ['zlib1g'], 'direct': True},
    '8': {'reps': 1},
}
MEASURES = {'1': measure_swap, '2': measure_rollout, '3': measure_inventory, '4': measure_updates,
            '5': measure_fleet, '6': measure_rollback, '7': measure_build, '8': measure_pending}
ORDER = ['1', '2', '3', '4', '6', '7', '8', '5']


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='bench/run', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='tiny sizes, one run each (what CI runs)')
    parser.add_argument('--measures', default='1,2,3,4,5,6,7,8', help='comma-separated measure numbers')
    parser.add_argument('--reps', type=int, help='runs per method, for every measure')
    parser.add_argument('--fleet-hosts', help='host counts for measure 5, e.g. 2,4,6')
    parser.add_argument('--host', help='lab host for measures 1-4, 6 and 7 (default: the one before the last Docker host when more '
                        'than 3 are up, else lab2)')
    parser.add_argument('--no-lab-up', action='store_true',
                        help='never run tests/lab/lab up; use the hosts that are up (measure 5 shrinks to them)')
    parser.add_argument('--profile', action='store_true',
                        help='one more module run of measures 2, 3 and 4 under cProfile, not counted (profiles in '
                        'bench/results/)')
    parser.add_argument('--keep', action='store_true', help='leave the bench containers in place (debugging)')
    parser.add_argument('--set', action='append', default=[], metavar='M.KEY=VALUE',
                        help='override one size, e.g. --set 3.containers=200 (repeatable)')
    parser.add_argument('--state-dir', metavar='DIR',
                        help='state_dir for our modules (default /tmp/bench-<run id>-state; e.g. a tmpfs path to '
                        'see what the journal\'s fsyncs cost); removed at the end')
    parser.add_argument('--cleanup', metavar='RUN_ID',
                        help='only remove what run RUN_ID left (after --keep or a crash), on every lab host')
    parser.add_argument('--run-id', help='run id (default: random); names are bench-<run id>-*')
    return parser.parse_args(argv)


def ensure_lab(need, allow_up):
    up = lab_hosts_up()
    if len(up) >= need or not allow_up:
        return up
    log('lab: %d hosts up, %d needed: tests/lab/lab up --hosts %d (additive)' % (len(up), need, max(need, 3)))
    subprocess.run([LAB, 'up', '--hosts', str(max(need, 3))], check=True)
    return lab_hosts_up()


def profile_text(path, limit=30):
    out = io.StringIO()
    st = pstats.Stats(path, stream=out)
    st.sort_stats('cumulative').print_stats(limit)
    out.write('\n--- by own time ---\n')
    st.sort_stats('tottime').print_stats(limit)
    return out.getvalue()


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    plan = {k: dict(v) for k, v in (QUICK if args.quick else FULL).items()}
    wanted = [m.strip() for m in args.measures.split(',') if m.strip()]
    for key in wanted:
        if key not in MEASURES:
            sys.exit('bench: unknown measure %r (1-8)' % key)
    if args.reps:
        for cfg in plan.values():
            cfg['reps'] = args.reps
            if 'cd_reps' in cfg:
                cfg['cd_reps'] = args.reps
    for item in args.set:
        target, dummy, value = item.partition('=')
        key, dummy, name = target.partition('.')
        if key not in plan or not name or not value:
            sys.exit('bench: --set wants M.KEY=VALUE, e.g. 3.containers=200')
        plan[key][name] = json.loads(value) if value[0] in '0123456789[-tf' else value
    if args.fleet_hosts:
        plan['5']['hosts_sizes'] = [int(x) for x in args.fleet_hosts.split(',')]
    if args.cleanup:
        bench = Bench(run_id=args.cleanup)
        for host in lab_hosts_up():
            bench.engine(host)
            api = bench.engine(host)
            repo = '%s/patchops/bench-updates' % bench.registry
            for image in api.images(name=repo):
                if any(t.split(':')[-1].startswith(args.cleanup + '-') for t in image.get('RepoTags') or []):
                    bench.images_made.setdefault(host, []).append(image['Id'])
        bench.registry_cleanup.append(lambda: delete_manifests(
            bench, 'patchops/bench-updates', [], ['%s-r%02d' % (args.cleanup, i) for i in range(100)]))
        bench.cleanup()
        shutil.rmtree(bench.work, ignore_errors=True)
        log('removed what run %s left' % args.cleanup)
        return 0
    need = max(plan['5']['hosts_sizes']) if '5' in wanted else 1
    hosts = ensure_lab(max(need, 1), not args.no_lab_up)
    if not hosts:
        sys.exit('bench: the lab is not up (tests/lab/lab up)')
    if '5' in wanted:
        sizes = [n for n in plan['5']['hosts_sizes'] if n <= len(hosts)]
        if sizes != plan['5']['hosts_sizes']:
            log('measure 5: only %d hosts up: host counts %s' % (len(hosts), sizes or [len(hosts)]))
        plan['5']['hosts_sizes'] = sizes or [len(hosts)]
    bench = Bench(run_id=args.run_id, quick=args.quick, keep=args.keep)
    bench.hosts = [h for h in bench.hosts if h in hosts]
    if args.state_dir:
        bench.state_dir = os.path.abspath(args.state_dir)
    # The integration shards stop the engine of the last host of each engine kind in their fault
    # tests (lab3, lab6): the one before the last Docker host when there are more than three, else lab2.
    # Docker hosts only: the measures compare with community.docker and the Docker engine floor.
    podman = set(os.environ.get('PATCHOPS_LAB_PODMAN_HOSTS', '').split()) | set(
        bench.env.get('PATCHOPS_LAB_PODMAN_HOSTS', '').split())
    docker_hosts = [h for h in hosts if h not in podman] or hosts
    host = args.host or (docker_hosts[-2] if len(docker_hosts) > 3 else docker_hosts[min(1, len(docker_hosts) - 1)])
    for key in plan:
        plan[key]['host'] = host
    results_dir = os.path.join(BENCH, 'results')
    stamp = time.strftime('%Y%m%d-%H%M%S')
    out_path = os.path.join(results_dir, '%s-%s%s.json' % (stamp, bench.run, '-quick' if args.quick else ''))
    if args.profile:
        for key in ('2', '3', '4'):
            plan[key]['profile_path'] = os.path.join(results_dir, '%s-%s-m%s.prof' % (stamp, bench.run, key))

    def on_signal(signum, frame):
        raise KeyboardInterrupt('signal %d' % signum)
    signal.signal(signal.SIGTERM, on_signal)

    doc = {'run': bench.run, 'mode': 'quick' if args.quick else 'full', 'started': stamp, 'bench_host': host,
           'state_dir': bench.state_dir,
           'lab_hosts': hosts, 'machine': machine(), 'plan': plan, 'measures': {}, 'errors': {}}
    doc['machine']['docker_engine'] = bench.engine(host).version().get('Version')
    log('run %s (%s): measures %s on %s; names %s*' % (bench.run, doc['mode'], ','.join(wanted), host, bench.prefix))
    tables = []
    started = time.monotonic()
    try:
        for key in [k for k in ORDER if k in wanted]:
            t0 = time.monotonic()
            log('measure %s ...' % key)
            if not bench.wait_engine(host):
                log('measure %s: the engine of %s still does not answer; trying anyway' % (key, host))
            try:
                for m in MEASURES[key](bench, plan[key]):
                    doc['measures'][m.key] = m.to_json()
                    tables.append(m.table())
                    print(tables[-1], flush=True)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one broken measure must not hide the others' figures
                import traceback
                doc['errors'][key] = traceback.format_exc()
                log('measure %s FAILED: %s' % (key, exc))
                sys.stderr.write(doc['errors'][key])
            doc.setdefault('durations_s', {})[key] = round(time.monotonic() - t0, 1)
            _write(out_path, doc)
    finally:
        t0 = time.monotonic()
        bench.cleanup()
        doc['cleanup_s'] = round(time.monotonic() - t0, 1)
        doc['total_s'] = round(time.monotonic() - started, 1)
        for key in ('2', '3', '4'):
            path = plan[key].get('profile_path')
            if path and os.path.exists(path):
                with open(path[:-5] + '.txt', 'w') as fh:
                    fh.write(profile_text(path))
                doc.setdefault('profiles', {})[key] = path[:-5] + '.txt'
        _write(out_path, doc)
        shutil.copyfile(out_path, os.path.join(results_dir, 'latest%s.json' % ('-quick' if args.quick else '')))
        if not args.keep:
            shutil.rmtree(bench.work, ignore_errors=True)
    print('\n==================== summary: run %s (%s), %.0f s ====================' % (
        bench.run, doc['mode'], doc['total_s']))
    for table in tables:
        print(table)
    print('\nresults: %s' % out_path)
    if doc['errors']:
        print('FAILED measures: %s' % ', '.join(sorted(doc['errors'])))
        return 1
    return 0


def _write(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as fh:
        json.dump(doc, fh, indent=1, sort_keys=False)
    os.replace(tmp, path)


if __name__ == '__main__':
    sys.exit(main())
