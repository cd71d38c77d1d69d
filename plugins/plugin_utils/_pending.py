# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pending updates of the inventory's images against the operator's Debian package sources
(controller side, pure: the lookup package_indexes fetches, the filter pending_updates computes).

A source is one apt source as an operator writes it in sources.list, as data:
``{url, suite, components, security, architectures}``. A ``suite`` ending in ``/`` is a flat
repository (``deb URL ./``: its ``Packages`` index right under ``URL/suite``, no components), any
other suite has ``URL/dists/SUITE/COMPONENT/binary-ARCH/Packages``. Versions compare in dpkg's
order (``debian.debian_support.Version`` of python-debian, a controller requirement).

Private: not a public API of the collection.
"""

from __future__ import annotations

import gzip
import lzma
from typing import List, Optional, TypedDict

try:
    from debian.debian_support import Version
    HAS_DEBIAN = True
except ImportError:  # reported when pending updates are asked for (python-debian on the controller)
    HAS_DEBIAN = False

# Tried in this order for each index; apt's own order of preference.
COMPRESSIONS = ('.xz', '.gz', '')
MISSING_LIBRARY = ('pending updates need the Python package python-debian on the controller '
                   '(pip install python-debian): dpkg version order')


class PendingUpdate(TypedDict):
    name: str
    arch: str
    installed: str
    candidate: str
    suite: str        # the suite of the source the candidate comes from (a security one first)
    url: str          # that source's address
    security: bool    # the candidate version is in a source marked security


class SourceState(TypedDict):
    url: str
    suite: str
    components: List[str]
    security: bool
    indexes: List[str]        # the index addresses read (one per component and architecture)
    status: str               # ok | failed
    error: Optional[str]
    packages: int             # entries read (of the names asked for)


def need_library():
    if not HAS_DEBIAN:
        raise ValueError(MISSING_LIBRARY)


def is_flat(suite):
    return suite.endswith('/')


def normalise_sources(sources, architectures=None):
    """Check and complete the operator's sources: each a dict with ``url`` and ``suite``;
    ``components`` (default [main], none for a flat repository), ``security`` (default: the suite
    ends in -security) and ``architectures`` (default ``architectures``, else amd64)."""
    out = []
    for number, source in enumerate(sources or [], 1):
        if not isinstance(source, dict) or not source.get('url') or not source.get('suite'):
            raise ValueError('package source %d: give url and suite (for example {url: http://deb.debian.org/'
                             'debian-security, suite: bookworm-security}; a flat repository: suite ./), got %r'
                             % (number, source))
        suite = str(source['suite'])
        flat = is_flat(suite)
        components = [] if flat else list(source.get('components') or ['main'])
        if flat and source.get('components'):
            raise ValueError('package source %s %s: a flat repository (suite ending in /) has no components'
                             % (source['url'], suite))
        security = source.get('security')
        out.append({
            'url': str(source['url']).rstrip('/') + '/',
            'suite': suite,
            'components': components,
            'security': bool(suite.rstrip('/').endswith('-security') if security is None else security),
            'architectures': sorted(set(source.get('architectures') or architectures or ['amd64'])),
        })
    return out


def index_urls(source):
    """The addresses of a normalised source's Packages indexes, without the compression suffix:
    one for a flat repository, else one per component and architecture."""
    if is_flat(source['suite']):
        path = source['suite'].lstrip('/')
        return [source['url'] + ('' if path in ('./', '/') else path) + 'Packages']
    return ['%sdists/%s/%s/binary-%s/Packages' % (source['url'], source['suite'], component, arch)
            for component in source['components'] for arch in source['architectures']]


def decompress(data, url):
    """The text of an index fetched from ``url`` (its suffix says the compression)."""
    if url.endswith('.xz'):
        data = lzma.decompress(data)
    elif url.endswith('.gz'):
        data = gzip.decompress(data)
    return data.decode('utf-8', 'replace')


def parse_packages(text, names=None):
    """``{name: [[version, arch], ...]}`` of a Packages index (only ``names`` when given): the
    fields Package, Version and Architecture of each stanza."""
    out = {}
    for stanza in text.split('\n\n'):
        fields = {}
        for line in stanza.splitlines():
            if line[:1] in (' ', '\t') or ':' not in line:
                continue  # continuation lines (descriptions, checksums)
            key, dummy, value = line.partition(':')
            if key in ('Package', 'Version', 'Architecture'):
                fields[key] = value.strip()
        name = fields.get('Package')
        if not name or 'Version' not in fields or (names is not None and name not in names):
            continue
        entry = [fields['Version'], fields.get('Architecture', '')]
        if entry not in out.setdefault(name, []):
            out[name].append(entry)
    return out


def image_architectures(images):
    """The architectures of the images' packages other than ``all`` (dpkg's native ones)."""
    return sorted(set(p.get('arch') for image in images or [] for p in image.get('packages') or []
                      if p.get('arch') and p.get('arch') != 'all'))


def installed_names(images):
    return sorted(set(p['name'] for image in images or [] for p in image.get('packages') or [] if p.get('name')))


def _fits(installed_arch, candidate_arch, native):
    # A package may move between Architecture: all and the native one from one version to the next.
    if installed_arch == 'all':
        return candidate_arch == 'all' or candidate_arch in native
    return candidate_arch in (installed_arch, 'all')


def candidates(package, indexes, native):
    """The highest version of ``package`` in the sources, with the sources that have that version:
    ``(version, [source, ...])``, or ``(None, [])``."""
    best, where = None, []
    for index in indexes:
        for version, arch in (index.get('packages') or {}).get(package['name']) or []:
            if not _fits(package.get('arch') or '', arch, native):
                continue
            version = Version(version)
            if best is None or version > best:
                best, where = version, [index]
            elif version == best and index not in where:
                where.append(index)
    return best, where


def image_pending(image, indexes):
    """The pending updates of one inventory image: every installed package with a newer version in
    the sources (``indexes``: the sources with their ``packages`` read), in package name order."""
    need_library()
    native = set(image_architectures([image]))
    pending = []
    for package in sorted(image.get('packages') or [], key=lambda p: (p.get('name') or '', p.get('arch') or '')):
        best, where = candidates(package, indexes, native)
        if best is None or not best > Version(package['version']):
            continue
        secure = [index for index in where if index.get('security')]
        chosen = (secure or where)[0]
        pending.append(PendingUpdate(name=package['name'], arch=package.get('arch') or '',
                                     installed=package['version'], candidate=str(best), suite=chosen['suite'],
                                     url=chosen['url'], security=bool(secure)))
    return pending


def summary_line(count, security):
    return '%d pending (%d security)' % (count, security)


def unknown_reason(image, failed):
    """Why an image's pending updates cannot be known, or None."""
    if not image.get('package_db'):
        return 'no package database read: %s' % (image.get('packages_note') or 'not a Debian or Ubuntu image')
    if failed:
        return 'package sources not read: %s' % ', '.join('%s%s' % (s['url'], s['suite']) for s in failed)
    return None


def with_pending(images, indexes):
    """The inventory's images, each with ``pending`` (its updates), ``pending_status`` (``ok``, or
    ``unknown`` with ``pending_reason``), ``pending_count``, ``pending_security`` and
    ``pending_summary`` ("N pending (K security)"). ``indexes`` are the sources as the lookup
    package_indexes returns them (a failed source makes every image's pending updates unknown:
    a count from part of the sources would understate them)."""
    failed = [index for index in indexes or [] if index.get('status') != 'ok']
    out = []
    for image in images or []:
        reason = unknown_reason(image, failed)
        pending = [] if reason else image_pending(image, indexes)
        security = len([p for p in pending if p['security']])
        out.append(dict(image, pending=pending, pending_status='unknown' if reason else 'ok', pending_reason=reason,
                        pending_count=None if reason else len(pending), pending_security=None if reason else security,
                        pending_summary='pending unknown' if reason else summary_line(len(pending), security)))
    return out


def _brief(image):
    """An image's pending updates in a few words: status, count, security, summary (and the reason)."""
    if not image:
        return {'status': 'unknown', 'count': None, 'security': None, 'summary': 'pending unknown',
                'reason': 'the image is not in the inventory report'}
    if image.get('pending_status') != 'ok':
        return {'status': 'unknown', 'count': None, 'security': None, 'summary': 'pending unknown',
                'reason': image.get('pending_reason') or 'no pending updates in the inventory report'}
    return {'status': 'ok', 'count': image['pending_count'], 'security': image['pending_security'],
            'summary': image['pending_summary'], 'reason': None}


def changed_packages(before, after):
    """The packages whose version differs between two images' package lists: [{name, arch, before,
    after}] by name (before or after None: the package is only in one of them)."""
    old = dict(((p.get('name'), p.get('arch')), p.get('version')) for p in (before or {}).get('packages') or [])
    new = dict(((p.get('name'), p.get('arch')), p.get('version')) for p in (after or {}).get('packages') or [])
    return [{'name': key[0], 'arch': key[1], 'before': old.get(key), 'after': new.get(key)}
            for key in sorted(set(old) | set(new), key=lambda k: (k[0] or '', k[1] or ''))
            if old.get(key) != new.get(key)]


def proof(before, after, indexes):
    """What a patch did to a container's packages: ``before`` (the inventory report's record of the
    image it ran, with its pending updates), ``after`` (the image it runs now, as read back from the
    engine) with its pending updates computed against the same sources (``indexes``), and the
    packages whose version changed (None when either side's packages are unknown)."""
    now = with_pending([after], indexes)[0] if after else None
    known = bool(before and before.get('package_db') and now and now.get('package_db'))
    changed = changed_packages(before, now) if known else None
    return {'before': _brief(before),
            'after': _brief(now) if now else dict(_brief(None), reason='the image was not read back'),
            'changed': changed,
            'changed_summary': 'unknown' if changed is None else ', '.join(
                '%s %s → %s' % (c['name'], c['before'] or '(none)', c['after'] or '(removed)') for c in changed) or 'none'}


def source_states(indexes):
    """The sources as the report lists them: each without its package entries, with their number."""
    return [SourceState(url=i['url'], suite=i['suite'], components=i.get('components') or [],
                        security=bool(i.get('security')), indexes=i.get('indexes') or [], status=i.get('status') or 'failed',
                        error=i.get('error'), packages=len(i.get('packages') or {}))
            for i in indexes or []]


def report_pending(report, indexes):
    """The fleet report with pending updates: ``hosts[].images`` each with its pending updates,
    ``package_sources`` (the sources' states) and the totals ``images_pending`` (images with at
    least one), ``pending`` and ``pending_security`` (summed over distinct image IDs, an image on
    several hosts counted once) and ``images_pending_unknown``."""
    hosts = [dict(host, images=with_pending(host.get('images') or [], indexes)) for host in report.get('hosts') or []]
    distinct = {}
    for host in hosts:
        for image in host['images']:
            distinct.setdefault(image.get('id'), image)
    known = [i for i in distinct.values() if i['pending_status'] == 'ok']
    totals = dict(report.get('totals') or {},
                  images_pending=len([i for i in known if i['pending_count']]),
                  images_pending_unknown=len(distinct) - len(known),
                  pending=sum(i['pending_count'] for i in known),
                  pending_security=sum(i['pending_security'] for i in known))
    return dict(report, hosts=hosts, totals=totals, package_sources=source_states(indexes))
