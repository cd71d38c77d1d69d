"""Check a patch report against the lab's engines: every container record's final_id and
final_image_id are what the engine runs now, and the summary counts match the records."""
import json
import sys

import docker

RUN = '/run/patchops-lab'


def main(path):
    with open(path) as fh:
        report = json.load(fh)
    counted, problems = {}, []
    for record in report['hosts']:
        api = docker.APIClient(base_url='unix://%s/%s/docker.sock' % (RUN, record['host']), version='auto')
        for c in record['containers']:
            found = api.inspect_container(c['container'])
            if (found['Id'], found['Image']) != (c['final_id'], c['final_image_id']):
                problems.append('%s %s: report says %s on %s, engine has %s on %s' % (
                    record['host'], c['container'], c['final_id'][:12], c['final_image_id'][:19],
                    found['Id'][:12], found['Image'][:19]))
            counted[c['outcome']] = counted.get(c['outcome'], 0) + 1
    summary = {k: v for k, v in report['summary']['containers'].items() if v}
    if summary != counted:
        problems.append('summary counts %s, records %s' % (summary, counted))
    for line in problems:
        print('report check: ' + line)
    print('report check: %s (%s)' % ('FAILED' if problems else 'the report matches the engines',
                                     ', '.join('%s %d' % kv for kv in sorted(counted.items()))))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
