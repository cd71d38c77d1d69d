# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.module_utils import _container_files, _image_packages
from ansible_collections.patchops.containers.plugins.module_utils._osrelease import os_identity, parse_os_release

DEBIAN = ('# comment\nNAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n'
          "PRETTY_NAME='Debian GNU/Linux 12 (bookworm)'\nVERSION_CODENAME=bookworm\n\nbroken line\n")


def test_parse_keeps_every_key_unquoted():
    assert parse_os_release(DEBIAN) == {
        'NAME': 'Debian GNU/Linux', 'ID': 'debian', 'VERSION_ID': '12',
        'PRETTY_NAME': 'Debian GNU/Linux 12 (bookworm)', 'VERSION_CODENAME': 'bookworm'}
    assert parse_os_release('ID_LIKE="ubuntu debian"\nEMPTY=\n') == {'ID_LIKE': 'ubuntu debian', 'EMPTY': ''}


def test_parse_of_nothing_and_of_bad_quotes():
    assert parse_os_release('') == {}
    assert parse_os_release(None) == {}
    assert parse_os_release('# only a comment\n') == {}
    assert parse_os_release('ID="unterminated\n') == {'ID': 'unterminated'}


def test_identity():
    assert os_identity(parse_os_release(DEBIAN)) == {
        'id': 'debian', 'version_id': '12', 'name': 'Debian GNU/Linux',
        'pretty_name': 'Debian GNU/Linux 12 (bookworm)', 'version_codename': 'bookworm'}
    assert os_identity({}) is None
    assert os_identity({'ID': 'alpine'}) == {'id': 'alpine', 'version_id': None, 'name': None, 'pretty_name': None,
                                             'version_codename': None}


def test_the_inventory_uses_this_parser():
    # The inventory's image OS and image_patch read os-release through _container_files.
    assert _container_files.parse_os_release is parse_os_release
    assert _image_packages.os_identity is os_identity
