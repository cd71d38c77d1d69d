"""Check a patch report against the lab's engines: every container record's final_id and
final_image_id are what the engine runs now, and the summary counts match the records. With an
expectations file (host -> container -> image reference), also that each of those containers is in
the report once and runs the image that reference names on its host's engine."""
import json
import sys

import docker

RUN = '/run/patchops-lab'


def engine(host):
    return docker.APIClient(base_url='unix://%s/%s/docker.sock' % (RUN, host), version='auto')


def inspect(api, name):
    try:
        return api.inspect_container(name)
    except docker.errors.NotFound:
        return {'Id': None, 'Image': None}


def check(report, expected=None):
    """The problems found (empty when the report matches the engines) and the outcome counts."""
    counted, problems, seen = {}, [], {}
    for record in report['hosts']:
        api = engine(record['host'])
        for c in record['containers']:
            found = inspect(api, c['container'])
            if found['Id'] is None and not c['final_id']:
                pass  # gone, and the report says so
            elif (found['Id'], found['Image']) != (c['final_id'], c['final_image_id']):
                problems.append('%s %s: report says %s on %s, engine has %s on %s' % (
                    record['host'], c['container'], (c['final_id'] or '-')[:12], (c['final_image_id'] or '-')[:19],
                    (found['Id'] or 'no such container')[:12], (found['Image'] or '-')[:19]))
            counted[c['outcome']] = counted.get(c['outcome'], 0) + 1
            key = (record['host'], c['container'])
            seen[key] = seen.get(key, 0) + 1
    summary = {k: v for k, v in report['summary']['containers'].items() if v}
    if summary != counted:
        problems.append('summary counts %s, records %s' % (summary, counted))
    for host, containers in sorted((expected or {}).items()):
        if host.startswith('_'):
            continue
        api = engine(host)
        for name, ref in sorted(containers.items()):
            if seen.get((host, name)) != 1:
                problems.append('%s %s: in the report %d times, expected once' % (host, name, seen.get((host, name), 0)))
            running, wanted = inspect(api, name)['Image'], api.inspect_image(ref)['Id']
            if running != wanted:
                problems.append('%s %s: engine runs %s, expected %s (%s)' % (
                    host, name, (running or 'nothing')[:19], ref, wanted[:19]))
    return problems, counted


def main(path, expected_path=None):
    with open(path) as fh:
        report = json.load(fh)
    expected = None
    if expected_path:
        with open(expected_path) as fh:
            expected = json.load(fh)
    problems, counted = check(report, expected)
    for line in problems:
        print('report check: ' + line)
    print('report check: %s (%s)' % ('FAILED' if problems else 'the report matches the engines',
                                     ', '.join('%s %d' % kv for kv in sorted(counted.items()))))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:3]))
