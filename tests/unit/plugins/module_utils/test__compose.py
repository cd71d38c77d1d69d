"""Compose rules: a service's containers, its reference, the sync verdict, the host's config hash."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.patchops.containers.plugins.module_utils import _compose
from ansible_collections.patchops.containers.plugins.module_utils._composefile import ComposeFileError

V1, V2 = 'sha256:' + '1' * 64, 'sha256:' + '2' * 64
LABELS = {'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web',
          'com.docker.compose.project.config_files': '/srv/shop/compose.yml',
          'com.docker.compose.project.working_dir': '/srv/shop', 'com.docker.compose.version': '1.29.2'}


def container(image_id=V1, ref='shop/web:1', **labels):
    return {'Id': 'c' * 64, 'Image': image_id, 'Config': {'Image': ref, 'Labels': dict(LABELS, **labels)}}


def images(**by_ref):
    return lambda ref: {'Id': by_ref[ref]} if ref in by_ref else None


def files(text):
    return lambda path: text if path == '/srv/shop/compose.yml' else None


def test_service_containers_skip_one_off_runs_and_other_projects():
    def entry(name, project='shop', service='web', oneoff='False'):
        return {'Names': ['/' + name, '/other/alias'], 'Labels': {
            'com.docker.compose.project': project, 'com.docker.compose.service': service,
            'com.docker.compose.oneoff': oneoff}}
    entries = [entry('shop_web_2'), entry('shop_web_1'), entry('shop_web_run_1', oneoff='True'),
               entry('shop_db_1', service='db'), entry('other_web_1', project='other')]
    assert _compose.service_containers(entries, 'shop', 'web') == ['shop_web_1', 'shop_web_2']


def test_service_reference_only_for_tags():
    assert _compose.service_reference(container()) == 'shop/web:1'
    assert _compose.service_reference(container(ref=V1)) is None
    assert _compose.service_reference(container(ref='shop/web@sha256:' + 'a' * 64)) is None


def test_sync_verdicts():
    text = 'services:\n  web:\n    image: shop/web:1\n'
    assert _compose.sync(container(), images(**{'shop/web:1': V1}), files(text))['verdict'] == 'in sync'
    moved = _compose.sync(container(), images(**{'shop/web:1': V2}), files(text))
    assert moved['in_sync'] is False and 'shop/web:1 now means' in moved['verdict']
    edited = _compose.sync(container(), images(**{'shop/web:1': V1}), files(text.replace(':1', ':2')))
    assert 'the compose file now names image shop/web:2' in edited['verdict'] and edited['file_image'] == 'shop/web:2'
    gone = _compose.sync(container(), images(), files(text))
    assert 'is not on the host' in gone['verdict']
    v2_label = _compose.sync(container(**{'com.docker.compose.image': V2}), images(**{'shop/web:1': V1}), files(text))
    assert 'com.docker.compose.image label' in v2_label['verdict']
    unreadable = _compose.sync(container(), images(**{'shop/web:1': V1}), files(None))
    assert unreadable['verdict'] == 'in sync' and unreadable['file_image'] is None


def test_sync_warns_about_what_undoes_a_local_patch():
    text = 'services:\n  web:\n    image: shop/web:1\n    pull_policy: always\n    build: .\n'
    warnings = _compose.sync(container(), images(**{'shop/web:1': V1}), files(text))['warnings']
    assert len(warnings) == 2 and 'pull_policy: always' in warnings[0] and 'build' in warnings[1]


def fake_compose(versions, calls, out='web 0123abcd\n', rc=0):
    """A run() for the compose commands at /usr/bin: ``versions`` {argv[0] name: version}."""
    def run(cmd, **kwargs):
        if cmd[-2:] == ['version', '--short']:
            version = versions.get(cmd[0].rsplit('/', 1)[-1])
            return subprocess.CompletedProcess(cmd, 0 if version else 1, stdout=(version or '') + '\n', stderr='')
        calls.append((cmd, kwargs['env']['DOCKER_HOST'], kwargs['cwd']))
        return subprocess.CompletedProcess(cmd, rc, stdout=out if rc == 0 else '', stderr='' if rc == 0 else out)
    return run


def test_config_hash_runs_the_hosts_compose(monkeypatch, tmp_path):
    compose_file = tmp_path / 'compose.yml'
    compose_file.write_text('services: {}\n')
    c = container(**{'com.docker.compose.project.config_files': str(compose_file),
                     'com.docker.compose.project.working_dir': str(tmp_path)})
    monkeypatch.setattr(_compose.shutil, 'which', lambda name: name if name.startswith('/') else '/usr/bin/' + name)
    monkeypatch.setattr(_compose.os.path, 'realpath', lambda path: path)
    monkeypatch.setattr(_compose, '_VERSIONS', {})
    calls = []
    # docker compose is v2: a container made by v1 gets the hash of v1's docker-compose only
    run = fake_compose({'docker': '2.26.1', 'docker-compose': '1.29.2'}, calls)
    assert _compose.config_hash(c, 'unix:///run/x.sock', run=run) == ('0123abcd', None)
    assert calls == [(['/usr/bin/docker-compose', '-p', 'shop', '-f', str(compose_file), 'config', '--hash=web'],
                      'unix:///run/x.sock', str(tmp_path))]

    digest, why = _compose.config_hash(c, 'unix:///x', run=fake_compose({'docker-compose': '1.29.2'}, [], 'no such service', 1))
    assert digest is None and 'no such service' in why
    assert _compose.config_hash(container(), 'unix:///x', run=run)[1].startswith('its compose file')
    monkeypatch.setattr(_compose, '_VERSIONS', {})
    digest, why = _compose.config_hash(c, 'unix:///x', run=fake_compose({'docker': '2.26.1'}, []))
    assert digest is None and why.startswith('no Compose v1 found on this host')


def test_config_hash_of_compose_v2(monkeypatch, tmp_path):
    compose_file = tmp_path / 'compose.yml'
    compose_file.write_text('services: {}\n')
    c = container(**{'com.docker.compose.project.config_files': str(compose_file),
                     'com.docker.compose.version': '2.26.1', 'com.docker.compose.config-hash': 'oldhash'})
    monkeypatch.setattr(_compose.shutil, 'which', lambda name: name if name.startswith('/') else '/usr/bin/' + name)
    monkeypatch.setattr(_compose.os.path, 'realpath', lambda path: path)
    monkeypatch.setattr(_compose, '_VERSIONS', {})
    calls = []
    run = fake_compose({'docker-compose': '1.29.2', 'docker-compose-v2': 'v2.26.1'}, calls, 'web newhash\n')
    # v2 hashes the image: string, not the image ID: a moved tag leaves the hash as it is
    assert _compose.config_hash(c, 'unix:///x', run=run) == ('oldhash', None) and calls == []
    # another image: string needs v2 itself; v1's hash is never used for a v2 container
    assert _compose.config_hash(c, 'unix:///x', image_changed=True, run=run)[0] is None
    assert _compose.config_hash(c, 'unix:///x', image_changed=True, command='/opt/docker-compose-v2',
                                run=run) == ('newhash', None)
    assert calls[0][0][0] == '/opt/docker-compose-v2'


def test_file_edit_takes_the_last_file_that_sets_the_image(tmp_path):
    base, override = tmp_path / 'compose.yml', tmp_path / 'compose.override.yml'
    base.write_text('services:\n  web:\n    image: shop/web:1\n')
    override.write_text('services:\n  web:\n    environment: [A=1]\n')
    c = container(**{'com.docker.compose.project.config_files': '%s,%s' % (base, override)})
    edit = _compose.file_edit(c, 'shop/web:2')
    assert (edit['path'], edit['line'], edit['from'], edit['to']) == (str(base), 3, 'shop/web:1', 'shop/web:2')
    override.write_text('services:\n  web:\n    image: shop/web:9\n')
    with pytest.raises(ComposeFileError, match='names image shop/web:9 for service web'):
        _compose.file_edit(c, 'shop/web:2')


def test_is_compose_only_for_what_compose_up_manages():
    assert _compose.is_compose(container())
    project_only = {'Config': {'Labels': {'com.docker.compose.project': 'p'}}}
    assert not _compose.is_compose(project_only)  # compose selects by project and service
    assert not _compose.is_compose(container(**{'com.docker.compose.oneoff': 'True'}))  # a `run` container
    assert not _compose.is_compose({'Config': {'Labels': None}})


def test_tag_users_are_the_containers_listed_by_the_reference():
    def entry(name, image):
        return {'Names': ['/' + name, '/other/alias'], 'Image': image}
    entries = [entry('shop_web_1', 'shop/app:1'), entry('shop_db_1', 'shop/app:1'),
               entry('proxy', 'docker.io/shop/app:1'),  # the same reference, written in full
               entry('drifted', V2),  # listed by ID: the tag names another image now
               entry('other', 'shop/app:2'), entry('plain', 'app:1')]
    assert _compose.tag_users(entries, 'shop/app:1') == ['proxy', 'shop_db_1', 'shop_web_1']
    assert _compose.tag_users(entries, 'shop/app:1', {'shop_web_1', 'proxy'}) == ['shop_db_1']
    assert _compose.tag_users(entries, 'shop/app:3') == []
