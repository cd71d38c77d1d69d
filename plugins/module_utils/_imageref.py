# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Image references: parse, validate, normalise (the distribution reference grammar).

Private: not a public API of the collection.
"""

from __future__ import annotations

import re

from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError

DEFAULT_REGISTRY = 'docker.io'
DOCKER_HUB_ALIASES = ('index.docker.io', 'registry-1.docker.io')
_COMPONENT = r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
_DOMAIN_PART = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
_DOMAIN = r'(?:%s(?:\.%s)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?' % (_DOMAIN_PART, _DOMAIN_PART)
_TAG = r'[\w][\w.-]{0,127}'
_DIGEST = r'[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'
_REFERENCE = re.compile(r'^(?:(?P<domain>%s)/)?(?P<path>%s(?:/%s)*)(?::(?P<tag>%s))?(?:@(?P<digest>%s))?$'
                        % (_DOMAIN, _COMPONENT, _COMPONENT, _TAG, _DIGEST))
_IMAGE_ID = re.compile(r'^(?:sha256:)?[0-9a-f]{12,64}$')


class ImageRefError(PatchopsError):
    """A reference that does not parse; the message names what is wrong."""


class ImageRef:
    """A parsed reference. ``registry`` is the normalised registry host."""

    __slots__ = ('text', 'registry', 'repository', 'tag', 'digest')

    def __init__(self, text, registry, repository, tag, digest):
        self.text = text
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest

    @property
    def name(self):
        """registry/repository as the engine names it (docker.io kept implicit)."""
        if self.registry == DEFAULT_REGISTRY:
            short = self.repository
            return short[len('library/'):] if short.startswith('library/') else short
        return '%s/%s' % (self.registry, self.repository)

    @property
    def pinned(self):
        return self.digest is not None

    def with_digest(self, digest):
        return '%s@%s' % (self.name, digest)

    def tagged(self):
        """name:tag, the default tag filled in (None for a digest-only reference)."""
        if self.tag is None and self.digest:
            return None
        return '%s:%s' % (self.name, self.tag or 'latest')

    def __repr__(self):
        return 'ImageRef(%r)' % self.text


def local_tags(image):
    """An image inspect's RepoTags as parse() names them: Podman keeps Docker Hub names fully
    qualified (``docker.io/library/busybox:1.36``) where Docker shows ``busybox:1.36``."""
    out = set()
    for text in (image or {}).get('RepoTags') or []:
        try:
            out.add(parse(text).tagged() or text)
        except ImageRefError:
            out.add(text)
    return out


def is_image_id(text):
    return bool(_IMAGE_ID.match(text or '')) and (text.startswith('sha256:') or len(text) in (12, 64))


def id_matches(actual, expected):
    """True if ``expected`` (full ID, bare hex or a 12+ digit prefix) names ``actual``."""
    if not actual or not expected:
        return False
    a = actual.split(':', 1)[-1].lower()
    e = expected.split(':', 1)[-1].lower()
    return len(e) >= 12 and a.startswith(e)


def normalise_registry(text):
    """A registry host as users write it (scheme, trailing path, Docker Hub aliases) as parse() names it."""
    text = (text or '').strip()
    for prefix in ('https://', 'http://'):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.split('/', 1)[0]
    return DEFAULT_REGISTRY if text in DOCKER_HUB_ALIASES else text


def parse(text):
    """Parse a reference like ``reg:5000/a/b:tag@sha256:...``; ImageRefError names what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ImageRefError('image reference %r is empty' % (text,))
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise ImageRefError('image reference %r contains white space' % (text,))
    if len(text) > 255 + 140:
        raise ImageRefError('image reference %r is too long' % (text,))
    match = _REFERENCE.match(text)
    if not match:
        raise ImageRefError('image reference %r is malformed (expected [registry/]name[:tag][@sha256:digest], '
                            'lower-case name components)' % (text,))
    domain, path = match.group('domain'), match.group('path')
    # A first component is a registry only if it looks like a host (dot, port) or is localhost.
    if domain is not None and not ('.' in domain or ':' in domain or domain == 'localhost'):
        if domain != domain.lower():
            raise ImageRefError('image reference %r is malformed: upper-case name component' % (text,))
        path = '%s/%s' % (domain, path)
        domain = None
    registry = normalise_registry(domain) if domain else DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and '/' not in path:
        path = 'library/' + path
    if len(path) > 255:
        raise ImageRefError('image reference %r: repository name longer than 255 characters' % (text,))
    digest = match.group('digest')
    if digest is not None and digest.startswith('sha256:') and len(digest) != 71:
        raise ImageRefError('image reference %r: a sha256 digest has 64 hex digits' % (text,))
    return ImageRef(text, registry, path, match.group('tag'), digest)


def parse_as(text, what, error=ImageRefError):
    """parse() for an input the caller names (an option, a label): a bad reference raises ``error``
    (the caller's failure class) with ``what`` first, so the operator sees which input is wrong."""
    try:
        return parse(text)
    except ImageRefError as exc:
        raise error('%s: %s' % (what, exc.msg))


def same_ref(a, b):
    """Whether two references name the same image name and tag (``web`` is ``web:latest``)."""
    try:
        pa, pb = parse(a), parse(b)
    except ImageRefError:
        return a == b
    return (pa.registry, pa.repository, pa.tag or (None if pa.digest else 'latest'), pa.digest) == \
        (pb.registry, pb.repository, pb.tag or (None if pb.digest else 'latest'), pb.digest)
