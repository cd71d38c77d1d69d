# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Image references: parse, Docker Hub names, registry hosts as users write them."""

from __future__ import annotations

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError
from ansible_collections.patchops.containers.plugins.module_utils._imageref import (
    ImageRefError,
    id_matches,
    same_ref,
    local_tags,
    normalise_registry,
    parse,
    parse_as,
)


@pytest.mark.parametrize('text, expected', [
    ('https://registry.example.com:5000/', 'registry.example.com:5000'),
    ('index.docker.io', 'docker.io'),
    ('registry-1.docker.io', 'docker.io'),
    ('docker.io', 'docker.io'),
    ('10.213.7.1:5000', '10.213.7.1:5000'),
])
def test_normalise_registry(text, expected):
    assert normalise_registry(text) == expected


@pytest.mark.parametrize('text', ['nginx', 'library/nginx:latest', 'docker.io/library/nginx',
                                  'index.docker.io/nginx', 'registry-1.docker.io/library/nginx:latest'])
def test_docker_hub_names_are_one_name(text):
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.name, ref.tagged()) == (
        'docker.io', 'library/nginx', 'nginx', 'nginx:latest')


def test_a_private_registry_keeps_its_host():
    ref = parse('10.213.7.1:5000/patchops/app:v2')
    assert (ref.registry, ref.repository, ref.name) == ('10.213.7.1:5000', 'patchops/app', '10.213.7.1:5000/patchops/app')


@pytest.mark.parametrize('text, words', [
    ('', 'empty'),
    ('a b', 'white space'),
    ('Upper/x', 'malformed'),
    ('x@sha256:abc' + '0' * 40, '64 hex digits'),
])
def test_bad_references_are_patchops_errors_naming_the_problem(text, words):
    with pytest.raises(ImageRefError, match=words) as info:
        parse(text)
    assert isinstance(info.value, PatchopsError) and words in info.value.msg


def test_parse_as_names_the_input_and_raises_the_callers_class():
    class Mine(PatchopsError):
        pass
    assert parse_as('reg.example:5000/a/b:1', 'output', Mine).tag == '1'
    with pytest.raises(Mine) as info:
        parse_as('Bad Ref', 'images[].ref', Mine)
    assert info.value.msg.startswith("images[].ref: image reference 'Bad Ref'")
    with pytest.raises(ImageRefError):
        parse_as('', 'image')


def test_local_tags_as_docker_names_them():
    # Podman keeps Docker Hub names fully qualified; Docker shows them short.
    podman = {'RepoTags': ['docker.io/library/busybox:1.36', 'docker.io/acme/app:v1', '10.213.7.1:5000/patchops/app:v1']}
    docker = {'RepoTags': ['busybox:1.36', 'acme/app:v1', '10.213.7.1:5000/patchops/app:v1']}
    assert local_tags(podman) == local_tags(docker) == {'busybox:1.36', 'acme/app:v1', '10.213.7.1:5000/patchops/app:v1'}
    assert local_tags({'RepoTags': None}) == set()


def test_same_ref_reads_defaults():
    assert same_ref('web', 'docker.io/library/web:latest') and not same_ref('web:1', 'web:2')
    assert same_ref('not a ref!', 'not a ref!') and not same_ref('web@sha256:' + 'a' * 64, 'web')


ID1 = 'sha256:' + 'a' * 64
ID2 = 'sha256:' + 'b' * 64


def test_id_matches():
    assert id_matches(ID1, ID1) and id_matches(ID1, 'a' * 64) and id_matches(ID1, 'a' * 12)
    assert not id_matches(ID1, 'a' * 11) and not id_matches(ID1, ID2) and not id_matches(ID1, None)
