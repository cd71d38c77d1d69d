# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_swap/module.py: the swap options and their doc fragment agree; bad options stop before the engine."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.patchops.containers.plugins.doc_fragments.probes import ModuleDocFragment as Probes
from ansible_collections.patchops.containers.plugins.doc_fragments.swap import ModuleDocFragment as Swap
from ansible_collections.patchops.containers.plugins.module_utils._swap.module import SWAP_ARGUMENT_SPEC, run_module


class Failed(Exception):
    pass


class Module:
    def __init__(self, **params):
        self.params = dict({'probes': [], 'parallel': 3}, **params)

    def fail_json(self, **result):
        raise Failed(result)


def test_every_swap_option_is_documented_with_its_default():
    docs = dict(yaml.safe_load(Swap.DOCUMENTATION)['options'], **yaml.safe_load(Probes.DOCUMENTATION)['options'])
    missing = [k for k in SWAP_ARGUMENT_SPEC if k not in docs]
    assert missing == []
    wrong = [k for k, spec in SWAP_ARGUMENT_SPEC.items() if 'default' in spec and spec['default'] not in ([], None)
             and docs[k].get('default') != spec['default']]
    assert wrong == []


@pytest.mark.parametrize('params, words', [
    ({'parallel': 0}, 'parallel must be 1 or more'),
    ({'probes': [{'type': 'carrier-pigeon'}]}, 'probes: '),
])
def test_bad_options_fail_before_the_engine(params, words):
    with pytest.raises(Failed) as info:
        run_module(Module(**params), lambda ctx: [])
    assert words in info.value.args[0]['msg'] and info.value.args[0]['changed'] is False
