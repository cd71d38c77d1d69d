# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: package_indexes
short_description: Read the Packages indexes of Debian package sources on the controller
version_added: 0.4.0
author:
  - patchops.containers developers (@patchops)
description:
  - Fetches the C(Packages) index of each source once (C(Packages.xz), else C(Packages.gz), else C(Packages)),
    on the controller, and returns per source the versions and architectures of the packages named in O(names).
  - A source is V({url, suite, components, security, architectures}), as an apt source line; a C(suite) ending
    in C(/) is a flat repository (its index right under C(url/suite)); any other suite reads
    C(url/dists/SUITE/COMPONENT/binary-ARCH/Packages) for each component (default V([main])) and architecture.
  - C(security) marks the updates a source carries as security updates; default true when the suite ends in
    C(-security).
  - A source that cannot be read is returned with C(status=failed) and the error naming the address, not raised,
    so that the inventory report can say which source failed.
  - Used by the inventory role with the filter P(patchops.containers.pending_updates#filter).
options:
  _terms:
    description: The sources, each a dict V({url, suite, components, security, architectures}).
    type: list
    elements: dict
    required: true
  names:
    description: Only these package names are returned (all when not given).
    type: list
    elements: str
  architectures:
    description: Architectures of a source that names none (default V([amd64])).
    type: list
    elements: str
  timeout:
    description: Seconds to wait for each index.
    type: float
    default: 60
  validate_certs:
    description: Check the TLS certificates of HTTPS sources.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Read the security suite's index once
  ansible.builtin.set_fact:
    indexes: >-
      {{ query('patchops.containers.package_indexes',
               {'url': 'http://deb.debian.org/debian-security', 'suite': 'bookworm-security'},
               names=['zlib1g', 'libssl3']) }}
"""

RETURN = r"""
_raw:
  description:
    - Per source V({url, suite, components, security, architectures, indexes, status, error, packages}), with
      C(indexes) the addresses read, C(status) V(ok) or V(failed) and C(packages) a mapping of package name
      to V([[version, architecture], ...]).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import Request, make_context
from ansible.plugins.lookup import LookupBase

from ansible_collections.patchops.containers.plugins.plugin_utils._pending import (
    COMPRESSIONS,
    decompress,
    index_urls,
    normalise_sources,
    parse_packages,
)


def _fetch(request, base):
    """The text of the index at ``base`` in the first compression the source has."""
    errors = []
    for suffix in COMPRESSIONS:
        url = base + suffix
        try:
            response = request.get(url)
            return url, decompress(response.read(), url)
        except Exception as exc:  # any failure of one address: try the next compression, report them all
            errors.append('%s: %s' % (url, to_text(exc)))
    raise ValueError('; '.join(errors))


def read_sources(sources, names=None, architectures=None, timeout=60, validate_certs=True):
    """Each source with its index read: V({..., indexes, status, error, packages})."""
    names = set(names) if names is not None else None
    # One TLS context for every address: making one loads the CA certificates, which costs more than
    # reading a small index from a nearby mirror.
    request = Request(timeout=timeout, validate_certs=validate_certs, follow_redirects='safe',
                      context=make_context(validate_certs=validate_certs))
    out = []
    for source in normalise_sources(sources, architectures):
        state = dict(source, indexes=[], status='ok', error=None, packages={})
        for base in index_urls(source):
            try:
                url, text = _fetch(request, base)
            except ValueError as exc:
                state.update(status='failed', error='cannot read the package index %s: %s' % (base, exc))
                break
            state['indexes'].append(url)
            for name, entries in parse_packages(text, names).items():
                known = state['packages'].setdefault(name, [])
                known.extend(e for e in entries if e not in known)
        out.append(state)
    return out


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        sources = terms[0] if len(terms) == 1 and isinstance(terms[0], list) else terms
        try:
            return read_sources(sources, self.get_option('names'), self.get_option('architectures'),
                                self.get_option('timeout'), self.get_option('validate_certs'))
        except ValueError as exc:
            raise AnsibleLookupError(to_text(exc))
