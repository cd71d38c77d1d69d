# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils._imagepatch import (
    LABEL_BASE_ID,
    LABEL_PACKAGES,
    ImagePatcher,
    PatchError,
    commit_config,
    compare_configs,
    default_output,
    findings_to_fix,
    is_patched_over,
    layer_changes,
    os_family,
    package_changes,
    parse_dpkg_list,
    parse_os_release,
    parse_simulation,
    previous_packages,
)
from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse

SIMULATION = """Reading package lists...
Inst zlib1g [1:1.2.13.dfsg-1] (1:1.2.13.dfsg-1+deb12u1 patchops-lab:./ [amd64])
Inst libnew1 (2.0-1 patchops-lab:./ [amd64])
Conf zlib1g (1:1.2.13.dfsg-1+deb12u1 patchops-lab:./ [amd64])
Inst libc6:amd64 [2.36-9] (2.36-9+deb12u4 Debian-Security:12/oldstable-security [amd64]) []
"""


def test_os_release_and_family():
    release = parse_os_release('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n# c\nVERSION_ID="12"\n')
    assert release == {'PRETTY_NAME': 'Debian GNU/Linux 12 (bookworm)', 'ID': 'debian', 'VERSION_ID': '12'}
    assert os_family(release) == 'apt'
    assert os_family({'ID': 'linuxmint', 'ID_LIKE': 'ubuntu debian'}) == 'apt'
    assert os_family({'ID': 'alpine'}) == 'alpine'
    assert os_family({}) == 'unknown'


def test_simulation_and_dpkg_parsing():
    assert parse_simulation(SIMULATION) == {
        'zlib1g': {'before': '1:1.2.13.dfsg-1', 'after': '1:1.2.13.dfsg-1+deb12u1'},
        'libnew1': {'before': None, 'after': '2.0-1'},
        'libc6': {'before': '2.36-9', 'after': '2.36-9+deb12u4'},
    }
    listed = parse_dpkg_list('zlib1g\t1:1.2.13\tii \t168\nold\t1.0\trc \t5\nbad line\n')
    assert listed == {'zlib1g': {'version': '1:1.2.13', 'installed_kib': 168}}
    rows = package_changes({'a': {'version': '1'}, 'b': {'version': '1'}, 'gone': {'version': '1'}},
                           {'a': {'version': '2'}, 'b': {'version': '1'}, 'new': {'version': '3'}})
    assert rows == [{'name': 'a', 'before': '1', 'after': '2'}, {'name': 'gone', 'before': '1', 'after': None},
                    {'name': 'new', 'before': None, 'after': '3'}]


def test_layers_and_patched_over():
    assert layer_changes(['a', 'b'], ['a', 'b', 'c']) is None
    assert 'not the first layers' in layer_changes(['a', 'b'], ['a', 'x', 'c'])
    assert '2 layers were added' in layer_changes(['a'], ['a', 'b', 'c'])
    base = {'Id': 'sha256:base', 'RootFS': {'Layers': ['a']}}
    patched = {'Id': 'sha256:p', 'RootFS': {'Layers': ['a', 'p']}, 'Config': {'Labels': {LABEL_BASE_ID: 'sha256:base'}}}
    derived = {'Id': 'sha256:d', 'RootFS': {'Layers': ['a', 'p', 'app']},
               'Config': {'Labels': {LABEL_BASE_ID: 'sha256:base'}}}
    assert is_patched_over(patched, base)
    assert not is_patched_over(derived, base)  # built FROM a patched image: labels inherited, not a patch


def test_default_output():
    assert default_output(parse('reg:5000/shop/web:1.4')) == 'reg:5000/shop/web:1.4-patched'
    assert default_output(parse('reg:5000/shop/web:1.4-patched')) == 'reg:5000/shop/web:1.4-patched'
    assert default_output(parse('nginx')) == 'nginx:latest-patched'
    assert default_output(parse('reg:5000/web@sha256:' + 'a' * 64)) is None


def test_commit_config_keeps_everything_and_replaces_old_patch_labels():
    base = {'Cmd': ['/app/run'], 'Entrypoint': None, 'User': 'nobody', 'Env': ['A=1'],
            'Labels': {'team': 'shop', LABEL_PACKAGES: 'old=1'}}
    sent = commit_config(base, {LABEL_BASE_ID: 'sha256:b'})
    assert sent['Labels'] == {'team': 'shop', LABEL_BASE_ID: 'sha256:b'}
    assert sent['Cmd'] == ['/app/run'] and sent['Entrypoint'] is None and sent['User'] == 'nobody'
    assert base['Labels'][LABEL_PACKAGES] == 'old=1'  # the input is not changed
    assert compare_configs(base, dict(base, Labels={'team': 'shop', LABEL_BASE_ID: 'x'})) == []
    assert compare_configs(base, dict(base, User='root', Labels={})) == ['User', 'Labels']


def test_findings_to_fix_and_previous_packages():
    report = {'findings': [
        {'id': 'CVE-1', 'package': 'zlib1g', 'fixed': ['1.2'], 'class': 'os-pkgs'},
        {'id': 'CVE-2', 'package': 'zlib1g', 'fixed': ['1.3'], 'class': 'os-pkgs'},
        {'id': 'CVE-3', 'package': 'tzdata', 'fixed': [], 'class': 'os-pkgs'},
        {'id': 'GHSA-1', 'package': 'requests', 'fixed': ['2.0'], 'class': 'lang-pkgs'},
    ]}
    wanted, no_fix = findings_to_fix(report)
    assert sorted(wanted) == ['zlib1g'] and len(wanted['zlib1g']) == 2
    assert [f['id'] for f in no_fix] == ['CVE-3']
    image = {'Config': {'Labels': {LABEL_PACKAGES: 'zlib1g=1:1.2 libzstd1=1.5 junk'}}}
    assert previous_packages(image) == ['zlib1g', 'libzstd1']
    assert previous_packages({'Config': {}}) == []


class _LossyEngine:
    """An engine whose exec stream loses a short command's output the first ``lose`` times."""

    def __init__(self, content, lose):
        self.content, self.lose, self.reads = content, lose, 0
        self.api = self
        self.info = {'Name': 'build1'}
        self.docker_host = 'unix:///var/run/docker.sock'

    def call(self, what, fn, *args, **kwargs):
        return fn(*args, **kwargs)

    def exec_create(self, container, command, user=None):
        self.command = command[-1]
        return {'Id': 'e%d' % self.reads}

    def exec_start(self, exec_id):
        self.reads += 1
        if self.reads <= self.lose:
            return b''
        return self.content.encode() + b'\n' + self.command.rsplit(' ', 1)[1].encode() + b'\n'


def test_step_output_is_read_again_when_the_engine_loses_it():
    engine = _LossyEngine('zlib1g\t1:1.2.13\tii \t200', lose=2)
    patcher = ImagePatcher(engine, {'image': 'app:v1'}, sleep=lambda s: None)
    patcher.container = 'c1'
    assert patcher._read_output('list', '/tmp/patchops/out.1') == 'zlib1g\t1:1.2.13\tii \t200\n'
    assert engine.reads == 3

    never = _LossyEngine('', lose=100)
    patcher = ImagePatcher(never, {'image': 'app:v1'}, sleep=lambda s: None)
    patcher.container = 'c1'
    try:
        patcher._read_output('list', '/tmp/patchops/out.1')
    except PatchError as exc:
        assert 'did not return its output in 8 reads' in str(exc) and 'app:v1' in str(exc)
    else:
        raise AssertionError('no error after the output was lost every time')
