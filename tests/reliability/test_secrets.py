"""Case 9: the registry password never shows: inventory, stage and patch at -vvv with credentials.

One ansible-playbook run imports the three playbooks, with the credentials passed as extra vars (as
an AWX credential injects them). Then every place output lands is searched for the password: the
stdout and every event of the run, ansible-runner's artifacts of it (the input file ``env/`` we
wrote ourselves excepted), the journals and stage manifests of the run's state directory and all of
/var/lib/patchops, the patch report, the inventory report, and the engine's log.
"""

import json
import os
import shlex
import uuid

import ansible_runner

from labkit import LAB_DIR

from faultkit import Guard, app_container, remove_app

HOST = 'lab2'


def hits(root, secret, skip=()):
    """Files under root whose bytes contain the secret."""
    found = []
    needle = secret.encode()
    for top, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip]
        for name in names:
            path = os.path.join(top, name)
            try:
                with open(path, 'rb') as fh:
                    if needle in fh.read():
                        found.append(path)
            except OSError:  # a socket, or gone meanwhile
                continue
    return found


def test_no_password_anywhere_at_vvv(lab, uid, tmp_path):
    name = 'sec-%s' % uid
    state_dir = str(tmp_path / 'state')
    pdd = str(tmp_path / 'runner')
    secret = lab.registry_password
    api = lab.pull(HOST, 'v1', 'v2')
    v2 = api.inspect_image(lab.image('v2'))['Id']
    play = [{'ansible.builtin.import_playbook': 'patchops.containers.' + p} for p in ('inventory', 'stage', 'patch')]
    os.makedirs(pdd)
    with open(os.path.join(pdd, 'site.yml'), 'w') as fh:
        json.dump(play, fh)
    extravars = {
        'patchops_hosts': HOST, 'inventory_hosts': HOST,
        'patchops_targets': [{'name': name, 'image': lab.image('v2')}], 'patchops_serial': [1],
        # the credentials, for every role that talks to the registry
        'inventory_registry_username': lab.registry_user, 'inventory_registry_password': secret,
        'stage_registry_username': lab.registry_user, 'stage_registry_password': secret,
        'stage_registry_ca_path': lab.ca,
        'inventory_name_patterns': [name], 'inventory_report_dir': str(tmp_path / 'inventory'),
        'report_dir': str(tmp_path / 'reports'), 'pretest_min_free_bytes': 1, 'stage_min_free_bytes': 1,
        'stage_state_dir': state_dir, 'pretest_state_dir': state_dir, 'rollout_state_dir': state_dir,
        'rollback_state_dir': state_dir,
    }
    try:
        app_container(lab, api, name)
        guard = Guard(lab, HOST, [name], uid)
        run = ansible_runner.run(
            private_data_dir=pdd, inventory=lab.inventory, playbook=os.path.join(pdd, 'site.yml'),
            extravars=extravars, envvars=lab.ansible_env(), cmdline=' '.join(shlex.quote(c) for c in ['-vvv']),
            quiet=True, ident=uuid.uuid4().hex)
        events = list(run.events)
        stdout = run.stdout.read()
        assert run.rc == 0, stdout[-3000:]
        assert guard.check({v2})[name]['Image'] == v2  # the flow did what it is for
        stats = next(e['event_data'] for e in events if e['event'] == 'playbook_on_stats')
        artifacts = stats['artifact_data']
        assert artifacts['patchops_patch']['hosts']['patched'] == [HOST]
        assert artifacts['patchops_stage']['failed'] == []
        # Credentials reached the modules (masked in the logged arguments).
        assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in stdout or '********' in stdout
        assert 'ESTABLISH SSH CONNECTION FOR USER: root' in stdout  # -vvv indeed

        assert secret not in stdout
        assert secret not in json.dumps(events)
        assert hits(pdd, secret, skip=(os.path.join(pdd, 'env'),)) == []
        assert hits(state_dir, secret) == []
        assert hits('/var/lib/patchops', secret) == []
        assert hits(str(tmp_path / 'reports'), secret) == []
        assert hits(str(tmp_path / 'inventory'), secret) == []
        with open(os.path.join(LAB_DIR, 'hosts', HOST, 'dockerd.log'), 'rb') as fh:
            assert secret.encode() not in fh.read()
        # The one place it is: the input we wrote (proves the search would have found it).
        assert hits(pdd, secret) == [os.path.join(pdd, 'env', 'extravars')]
    finally:
        remove_app(lab.engine(HOST), name)
