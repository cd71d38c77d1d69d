# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CycloneDX 1.5 SBOMs of the inventory's images (controller side, pure; the filter fleet_sboms).

One SBOM per image ID of the fleet (an image on several hosts is one file), from the image entries
container_inventory returns with ``packages: true``: each installed package a component with its
package URL (``pkg:deb/<os id>/<name>@<version>?arch=<arch>&distro=<os id>-<version id>``, plus
``upstream=<source>`` when the source package has another name, as scanners match on it), the
image's OS a component of type ``operating-system``, the image ``metadata.component``. The serial
number is derived from the image ID and its packages, so the same image gives the same SBOM.

Private: not a public API of the collection.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from urllib.parse import quote

SPEC_VERSION = '1.5'
SCHEMA = 'http://cyclonedx.org/schema/bom-1.5.schema.json'
SBOM_DIR = 'sbom'
_NAMESPACE = uuid.UUID('2f6c8f0e-2d0b-5a57-9a3c-7061746368ff')  # patchops SBOM serial numbers
TOOL = {'type': 'application', 'group': 'patchops', 'name': 'patchops.containers'}


def _enc(text):
    """Percent-encoding of a purl segment or qualifier value (``:`` of an epoch is ``%3A``, ``+`` ``%2B``)."""
    return quote(str(text), safe='.-_~')


def distro(os_info):
    """The purl ``distro`` qualifier, ``debian-12`` or ``ubuntu-22.04`` (the codename when there is
    no version ID, as for Debian testing); None when the OS is unknown."""
    os_info = os_info or {}
    release = os_info.get('version_id') or os_info.get('version_codename')
    if not os_info.get('id') or not release:
        return None
    return '%s-%s' % (os_info['id'], release)


def purl(package, os_info):
    """The package URL of one dpkg package record of an image with OS ``os_info``."""
    namespace = (os_info or {}).get('id') or 'debian'
    qualifiers = []
    if package.get('arch'):
        qualifiers.append(('arch', package['arch']))
    if distro(os_info):
        qualifiers.append(('distro', distro(os_info)))
    source = package.get('source') or package['name']
    if source != package['name'] or (package.get('source_version') or package['version']) != package['version']:
        upstream = source
        if package.get('source_version') and package['source_version'] != package['version']:
            upstream = '%s@%s' % (source, package['source_version'])
        qualifiers.append(('upstream', upstream))
    text = 'pkg:deb/%s/%s@%s' % (_enc(namespace), _enc(package['name']), _enc(package['version']))
    if qualifiers:
        text += '?' + '&'.join('%s=%s' % (key, _enc(value)) for key, value in sorted(qualifiers))
    return text


def short_id(image_id):
    """The first 12 hex digits of an image ID (its SBOM's file name)."""
    return (image_id or '').split(':')[-1][:12]


def sbom_file(image_id):
    """The SBOM's path relative to the report directory."""
    return '%s/%s.cdx.json' % (SBOM_DIR, short_id(image_id))


def serial_number(image):
    digest = hashlib.sha256(json.dumps([image.get('id'), image.get('packages') or []], sort_keys=True)
                            .encode('utf-8')).hexdigest()
    return 'urn:uuid:%s' % uuid.uuid5(_NAMESPACE, digest)


def image_component(image):
    """metadata.component: the image, named by its first tag's repository (else its short ID)."""
    tags = image.get('tags') or []
    name = tags[0].rsplit(':', 1)[0] if tags and '/' not in tags[0].rsplit(':', 1)[-1] else short_id(image.get('id'))
    component = {'type': 'container', 'bom-ref': image.get('id'), 'name': name, 'version': image.get('id')}
    hex_id = (image.get('id') or '').split(':')[-1]
    if len(hex_id) == 64:
        component['hashes'] = [{'alg': 'SHA-256', 'content': hex_id}]
    properties = [{'name': 'patchops:image:tag', 'value': t} for t in tags]
    properties += [{'name': 'patchops:image:repo_digest', 'value': d} for d in image.get('repo_digests') or []]
    if properties:
        component['properties'] = properties
    return component


def sbom(image, timestamp=None):
    """The CycloneDX 1.5 JSON document (a dict) of one image entry of container_inventory."""
    os_info = image.get('os') or {}
    components = []
    if os_info.get('id'):
        os_component = {'type': 'operating-system', 'bom-ref': 'os:%s' % (distro(os_info) or os_info['id']),
                        'name': os_info['id']}
        if os_info.get('version_id'):
            os_component['version'] = os_info['version_id']
        if os_info.get('pretty_name'):
            os_component['description'] = os_info['pretty_name']
        components.append(os_component)
    seen = set()
    for package in image.get('packages') or []:
        ref = purl(package, os_info)
        bom_ref = ref
        while bom_ref in seen:  # never two of one name, version and arch in a dpkg database; stay valid anyway
            bom_ref += '#'
        seen.add(bom_ref)
        component = {'type': 'library', 'bom-ref': bom_ref, 'name': package['name'], 'version': package['version'],
                     'purl': ref,
                     'properties': [{'name': 'patchops:package:arch', 'value': package.get('arch') or ''},
                                    {'name': 'patchops:package:source', 'value': package.get('source') or ''},
                                    {'name': 'patchops:package:source_version',
                                     'value': package.get('source_version') or ''}]}
        components.append(component)
    metadata = {'tools': {'components': [TOOL]}, 'component': image_component(image),
                'properties': [{'name': 'patchops:package_db', 'value': image.get('package_db') or ''}]}
    if timestamp:
        metadata['timestamp'] = timestamp
    return {'$schema': SCHEMA, 'bomFormat': 'CycloneDX', 'specVersion': SPEC_VERSION,
            'serialNumber': serial_number(image), 'version': 1, 'metadata': metadata, 'components': components}


def fleet_sboms(hosts, timestamp=None, with_bom=True):
    """One item per image ID of the fleet report's hosts (``hosts[].images``) whose packages were read:
    {image_id, tags, hosts, containers, package_db, packages (count), file, bom (with_bom)}, sorted by file.
    The first host's read of an image is the one used (an image ID names one content)."""
    found = {}
    for host in hosts or []:
        for image in host.get('images') or []:
            if not image.get('package_db') or not image.get('id'):
                continue
            item = found.get(image['id'])
            if item is None:
                item = found[image['id']] = {
                    'image_id': image['id'], 'tags': [], 'hosts': [], 'containers': 0,
                    'package_db': image['package_db'], 'packages': len(image.get('packages') or []),
                    'file': sbom_file(image['id']), '_image': image}
            item['hosts'].append(host.get('host'))
            item['containers'] += len(image.get('containers') or [])
            item['tags'].extend(t for t in image.get('tags') or [] if t not in item['tags'])
    out = []
    for item in sorted(found.values(), key=lambda i: i['file']):
        image = item.pop('_image')
        if with_bom:
            item['bom'] = sbom(dict(image, tags=item['tags']), timestamp)
        out.append(item)
    return out
