"""Helpers for swap tests: rich containers, normalised inspect, data checks, image archives."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import tarfile


def remove(api, *names):
    for name in names:
        for candidate in (name, name + '-patchops-old', name + '-patchops-new'):
            try:
                # Podman's forced remove first stops with the stop timeout (10 s for a PID 1 that
                # ignores SIGTERM, as `sleep` does); a kill first makes it immediate on every engine.
                api.kill(candidate)
            except Exception:  # absent or not running is fine
                pass
            try:
                api.remove_container(candidate, force=True, v=True)
            except Exception:  # absent is fine
                pass


def normalise(inspect):
    """What the operator configured, in a form that survives a recreate."""
    config = dict(inspect['Config'])
    host = dict(inspect['HostConfig'])
    cid = inspect['Id']
    for key in ('Image', 'Hostname', 'Env', 'Labels'):
        config.pop(key, None)
    for key in ('Binds',):  # anonymous volumes become named binds; compared through Mounts
        host.pop(key, None)
    mounts = sorted((m['Type'], m.get('Name') or m.get('Source'), m['Destination'], m['RW'])
                    for m in inspect['Mounts'])
    networks = {}
    for name, settings in inspect['NetworkSettings']['Networks'].items():
        networks[name] = {
            'aliases': sorted(a for a in settings.get('Aliases') or [] if a not in (cid, cid[:12])),
            'ipam': settings.get('IPAMConfig'),
            'links': settings.get('Links'),
        }
    return {'config': config, 'host': host, 'mounts': mounts, 'networks': networks}


def env_of(inspect):
    return dict(item.split('=', 1) for item in inspect['Config']['Env'] or [])


def free_subnet():
    return '172.30.%d.0/24' % random.randint(1, 250)


def exec_out(api, container, command, user='root', tries=5):
    """(output, exit code) of a shell command in the container. An engine under load can close an
    exec's stream before a short command's output reaches it (Podman often, Docker rarely): a
    command that succeeded with no output is run again (the tests' commands are safe to repeat)."""
    for attempt in range(tries):
        exec_id = api.exec_create(container, ['/bin/sh', '-c', command], user=user)
        out = api.exec_start(exec_id['Id']).decode()
        rc = api.exec_inspect(exec_id['Id'])['ExitCode']
        if out or rc != 0:
            break
    return out, rc


def write_image_archive(path, tag, layer):
    """A docker-save archive of one image whose single layer is ``layer`` (bytes); returns its ID.

    The digests in it match, so only the engine can tell whether the layer is a usable tar stream.
    """
    config = json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {},
                         'rootfs': {'type': 'layers', 'diff_ids': ['sha256:' + hashlib.sha256(layer).hexdigest()]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + '.json'
    manifest = json.dumps([{'Config': config_name, 'RepoTags': [tag], 'Layers': ['l0/layer.tar']}]).encode()
    with tarfile.open(path, 'w') as tar:
        for name, data in ((config_name, config), ('manifest.json', manifest), ('l0/layer.tar', layer)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return 'sha256:' + hashlib.sha256(config).hexdigest()


PATCH_PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'playbooks', 'patch.yml')


def roll_onto(lab, host, repo, output, name, probes):
    """A container ``name`` of the lab image ``repo``:v1 on ``host`` (with an env of its own, MINE=kept) moved
    onto the image ``output`` (pulled there first) by container_patch with ``probes``: (the host's raw client,
    the module's result, the old container's ID). The caller removes ``name``."""
    api = lab.pull(host, 'v1', repo=repo)
    api.pull(output.rsplit(':', 1)[0], tag=output.rsplit(':', 1)[1], auth_config=lab.auth)
    cid = api.create_container('%s/%s:v1' % (lab.registry, repo), name=name, environment={'MINE': 'kept'})['Id']
    api.start(cid)
    out = lab.module(host, 'container_patch', {'containers': [{'name': name, 'image': output}], 'probes': probes})
    return api, out[host], cid


def patch_report(lab, extravars):
    """playbooks/patch.yml with ``extravars``: (runner, the patchops_patch artifact, report.json, {page: text}
    of report.md and report.html)."""
    runner, dummy = lab.playbook(PATCH_PLAYBOOK, extravars=extravars)
    stats = next(e['event_data'] for e in runner.collected_events if e['event'] == 'playbook_on_stats')
    artifact = stats.get('artifact_data', {}).get('patchops_patch')
    assert artifact, runner.collected_stdout[-3000:]
    root = os.path.dirname(artifact['report'])
    with open(artifact['report']) as fh:
        report = json.load(fh)
    pages = {}
    for page in ('report.md', 'report.html'):
        with open(os.path.join(root, page)) as fh:
            pages[page] = fh.read()
    return runner, artifact, report, pages
