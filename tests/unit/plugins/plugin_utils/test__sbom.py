# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SBOM per image: package URLs, the CycloneDX document (checked against its JSON schema), the
fleet's list of SBOMs (the filter is controller code: imported inside its tests)."""

from __future__ import annotations

import json

import pytest
from controller_code import controller
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from ansible_collections.patchops.containers.plugins.plugin_utils import _sbom as sbom_lib

DEBIAN = {'id': 'debian', 'version_id': '12', 'version_codename': 'bookworm', 'name': 'Debian GNU/Linux',
          'pretty_name': 'Debian GNU/Linux 12 (bookworm)'}
UBUNTU = {'id': 'ubuntu', 'version_id': '22.04', 'version_codename': 'jammy'}
ZLIB = {'name': 'zlib1g', 'version': '1:1.2.13.dfsg-1', 'source': 'zlib', 'source_version': '1:1.2.13.dfsg-1',
        'arch': 'amd64'}
LIBSTDCXX = {'name': 'libstdc++6', 'version': '12.2.0-14+deb12u1', 'source': 'gcc-12',
             'source_version': '12.2.0-14+deb12u1', 'arch': 'amd64'}
BASH = {'name': 'bash', 'version': '5.2.15-2+b2', 'source': 'bash', 'source_version': '5.2.15-2', 'arch': 'amd64'}
TZDATA = {'name': 'tzdata', 'version': '2024a-0+deb12u1', 'source': 'tzdata', 'source_version': '2024a-0+deb12u1',
          'arch': 'all'}
IMAGE = {'id': 'sha256:' + 'ab' * 32, 'tags': ['10.213.7.1:5000/patchops/debian:12'],
         'repo_digests': ['10.213.7.1:5000/patchops/debian@sha256:' + 'cd' * 32], 'containers': ['web'],
         'os': DEBIAN, 'package_db': 'dpkg', 'packages': [BASH, LIBSTDCXX, TZDATA, ZLIB]}


@pytest.mark.parametrize('package, os_info, expected', [
    (ZLIB, DEBIAN, 'pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib'),
    (TZDATA, DEBIAN, 'pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12'),
    (LIBSTDCXX, UBUNTU, 'pkg:deb/ubuntu/libstdc%2B%2B6@12.2.0-14%2Bdeb12u1?arch=amd64&distro=ubuntu-22.04'
                        '&upstream=gcc-12'),
    # a binary-only rebuild (+b2): the source's own version
    (BASH, DEBIAN, 'pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2'),
    (TZDATA, {'id': 'debian', 'version_codename': 'trixie'}, 'pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1'
                                                             '?arch=all&distro=debian-trixie'),
    (TZDATA, None, 'pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all'),
])
def test_purl(package, os_info, expected):
    assert sbom_lib.purl(package, os_info) == expected


def test_purl_reads_back_with_the_reference_library():
    parsed = PackageURL.from_string(sbom_lib.purl(ZLIB, DEBIAN))
    assert (parsed.type, parsed.namespace, parsed.name, parsed.version) == ('deb', 'debian', 'zlib1g', '1:1.2.13.dfsg-1')
    assert parsed.qualifiers == {'arch': 'amd64', 'distro': 'debian-12', 'upstream': 'zlib'}
    parsed = PackageURL.from_string(sbom_lib.purl(LIBSTDCXX, UBUNTU))
    assert (parsed.name, parsed.version) == ('libstdc++6', '12.2.0-14+deb12u1')


def test_sbom_is_valid_cyclonedx_1_5_with_every_package():
    doc = sbom_lib.sbom(IMAGE, '2026-12-07T01:00:00Z')
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(doc))
    assert error is None, str(error)[:2000]
    libraries = [c for c in doc['components'] if c['type'] == 'library']
    assert [(c['name'], c['version']) for c in libraries] == [(p['name'], p['version']) for p in IMAGE['packages']]
    assert [c for c in doc['components'] if c['type'] == 'operating-system'] == [
        {'type': 'operating-system', 'bom-ref': 'os:debian-12', 'name': 'debian', 'version': '12',
         'description': 'Debian GNU/Linux 12 (bookworm)'}]
    image = doc['metadata']['component']
    assert (image['type'], image['name'], image['version']) == ('container', '10.213.7.1:5000/patchops/debian',
                                                                IMAGE['id'])
    assert image['hashes'] == [{'alg': 'SHA-256', 'content': 'ab' * 32}]
    assert doc['serialNumber'].startswith('urn:uuid:') and doc['specVersion'] == '1.5'
    assert doc['metadata']['timestamp'] == '2026-12-07T01:00:00Z'


def test_serial_number_follows_the_content():
    one = sbom_lib.sbom(IMAGE)['serialNumber']
    assert sbom_lib.sbom(dict(IMAGE))['serialNumber'] == one
    assert sbom_lib.sbom(dict(IMAGE, packages=[ZLIB]))['serialNumber'] != one
    assert 'timestamp' not in sbom_lib.sbom(IMAGE)['metadata']


def test_an_image_without_tags_os_or_packages_is_still_a_valid_sbom():
    doc = sbom_lib.sbom({'id': 'sha256:' + '12' * 32, 'package_db': 'dpkg-status.d', 'packages': []})
    assert doc['metadata']['component']['name'] == '12' * 6 and doc['components'] == []
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(doc)) is None


def test_fleet_sboms_one_per_image_id_only_for_images_whose_packages_were_read():
    busybox = {'id': 'sha256:' + 'ee' * 32, 'tags': ['b:1'], 'containers': ['side'], 'package_db': None,
               'packages_note': 'no package database', 'packages': []}
    hosts = [{'host': 'lab1', 'images': [IMAGE, busybox]},
             {'host': 'lab2', 'images': [dict(IMAGE, tags=['other:12'], containers=['a', 'b'])]},
             {'host': 'lab3', 'status': 'failed'}]
    items = sbom_lib.fleet_sboms(hosts, '2026-12-07T01:00:00Z')
    assert len(items) == 1
    item = items[0]
    assert item['file'] == 'sbom/%s.cdx.json' % ('ab' * 6)
    assert (item['hosts'], item['containers'], item['packages'], item['package_db']) == (['lab1', 'lab2'], 3, 4, 'dpkg')
    assert item['tags'] == ['10.213.7.1:5000/patchops/debian:12', 'other:12']
    assert [p['value'] for p in item['bom']['metadata']['component']['properties']
            if p['name'] == 'patchops:image:tag'] == item['tags']
    fleet_filter = controller('filter.inventory')  # imports ansible.errors: inside the test
    listing = fleet_filter.fleet_sboms(hosts, with_bom=False)
    assert 'bom' not in listing[0] and listing[0]['file'] == item['file']
    assert fleet_filter.FilterModule().filters()['fleet_sboms'] is fleet_filter.fleet_sboms


def test_the_filter_refuses_what_is_not_a_list_of_hosts():
    with pytest.raises(controller('plugin_utils._filter_args').AnsibleFilterError, match='fleet_sboms: expected'):
        controller('filter.inventory').fleet_sboms({'hosts': []})
