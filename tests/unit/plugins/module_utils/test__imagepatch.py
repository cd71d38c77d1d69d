# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
from fake_engine import FakeEngine

from ansible_collections.patchops.containers.plugins.module_utils import _imagepatch, _patchcontainer
from ansible_collections.patchops.containers.plugins.module_utils._imagepatch import (
    LABEL_BASE_ID,
    LABEL_PACKAGES,
    commit_config,
    compare_configs,
    default_output,
    findings_to_fix,
    is_patched_over,
    layer_changes,
    previous_packages,
)
from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse


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


def _attributes_set_outside_init(cls):
    """``self.x = ...`` targets in methods other than __init__ naming an attribute __init__ does not set."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    set_in = {}
    for method in [n for n in tree.body[0].body if isinstance(n, ast.FunctionDef)]:
        for node in ast.walk(method):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name) and leaf.value.id == 'self':
                        set_in.setdefault(method.name, set()).add(leaf.attr)
    init = set_in.pop('__init__', set())
    return sorted(set().union(*set_in.values()) - init) if set_in else []


def test_every_attribute_is_set_in_init():
    for cls in (_imagepatch.ImagePatcher, _patchcontainer.PatchContainer, _patchcontainer.AptRun):
        assert _attributes_set_outside_init(cls) == [], cls.__name__


def test_the_attribute_check_finds_one_set_later():
    class Late:
        def __init__(self):
            self.a = 1

        def later(self):
            self.a, self.b = 2, 3
    assert _attributes_set_outside_init(Late) == ['b']


def test_an_image_neither_local_nor_in_its_registry_fails_clearly():
    engine = FakeEngine(info={'Name': 'build1'})  # no image, and its registry has none
    patcher = _imagepatch.ImagePatcher(engine, {'image': 'reg:5000/shop/web:9', 'retries': 2},
                                       sleep=lambda s: None)
    with pytest.raises(_imagepatch.PatchError) as caught:
        patcher.run()
    assert str(caught.value).startswith('image reg:5000/shop/web:9 not found: not on build1 and not in its registry')
    assert caught.value.details['reason'] == 'not found'
