# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_errors: the error base, its text, and pure modules that load without the Docker SDK."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._errors import EngineError, PatchopsError, error_text


class Explained(Exception):
    explanation = b'conflict: name in use \xe2\x80\x94 web'


def test_error_text_of_each_kind():
    assert error_text(EngineError('stop web: the engine answered: gone', host='lab1')) == 'stop web: the engine answered: gone'
    assert error_text(Explained('ignored')) == 'conflict: name in use \u2014 web'
    assert error_text(ValueError('plain')) == 'plain'


def test_details_are_kept_for_the_result():
    exc = PatchopsError('bad', changed=True, results=[1])
    assert (exc.msg, exc.details) == ('bad', {'changed': True, 'results': [1]})
    assert issubclass(EngineError, PatchopsError)


@pytest.mark.parametrize('name', ['_errors', '_journal', '_scan', '_scan_report', '_window', '_imageref', '_manifest',
                                  '_packages', '_osrelease', '_apt', '_container_record', '_update_check',
                                  '_stage_space', '_stage_record', '_time', '_composefile', '_deps', '_retention',
                                  '_archive', '_stop', '_clone'])
def test_pure_module_imports_without_the_sdk(name):
    """The module loads in a process where ``import docker`` fails."""
    code = ("import sys; sys.modules['docker'] = None; "
            "import ansible_collections.patchops.containers.plugins.module_utils.%s as m; "
            "assert 'docker' not in [k for k, v in sys.modules.items() if v is not None]" % name)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
