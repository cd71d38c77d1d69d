# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Update detection of the inventory (``_update_check``): what to ask the registry, and the verdict."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils import _update_check as inv
from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse

DIGEST_1 = 'sha256:' + '1' * 64
DIGEST_2 = 'sha256:' + '2' * 64


IMAGE = {'RepoDigests': ['reg:5000/app@' + DIGEST_1, 'other.example/app@' + DIGEST_2]}


@pytest.mark.parametrize('reference, image, reason', [
    ('reg:5000/app@' + DIGEST_1, IMAGE, 'pinned by digest'),
    ('reg:5000/app:1@' + DIGEST_1, IMAGE, 'pinned by digest'),
    ('sha256:' + 'c' * 64, IMAGE, 'created from an image ID, not a reference'),
    ('Bad Ref', IMAGE, 'invalid reference'),
    ('', IMAGE, 'the container has no image reference'),
    ('reg:5000/app:1', {'RepoDigests': []}, 'the image has no registry digest (built or loaded locally)'),
    ('reg:5000/app:1', None, 'the image has no registry digest (built or loaded locally)'),
])
def test_check_plan_unknown_without_asking(reference, image, reason):
    ref, why = inv.check_plan(reference, image)
    assert ref is None and why.startswith(reason)


def test_check_plan_asks_for_tagged_reference():
    ref, why = inv.check_plan('reg:5000/app', IMAGE)
    assert why is None and ref.tagged() == 'reg:5000/app:latest'


def test_update_verdict():
    ref = parse('reg:5000/app:1')
    assert inv.update_verdict(ref, IMAGE, DIGEST_1, None) == ('current', None)
    assert inv.update_verdict(ref, IMAGE, 'sha256:' + '9' * 64, None) == ('available', None)
    assert inv.update_verdict(ref, IMAGE, None, 'auth denied: x') == ('unknown', 'auth denied: x')
    assert inv.update_verdict(ref, IMAGE, None, None) == ('unknown', 'the registry gave no digest')
    # Same content pushed to another repository has the same digest: still current.
    assert inv.update_verdict(parse('third.example/app:1'), IMAGE, DIGEST_2, None) == ('current', None)
    verdict, why = inv.update_verdict(parse('third.example/app:1'), IMAGE, 'sha256:' + '9' * 64, None)
    assert verdict == 'unknown' and 'third.example/app' in why
