"""What apt itself says about a lab image: the oracle of the pending-updates tests.

The lab mirror (``tests/lab/lab``) serves three flat repositories (the suite, its -security and its
-updates, one directory each); apt's side is `apt-get -s dist-upgrade` in a throwaway container of
the image against them: with every source at the same priority its candidate is the highest
version, as ours, and unlike `upgrade` it holds nothing back for new dependencies; its
`Inst NAME [OLD] (NEW ...)` lines with an installed version are the pending updates (a line without
[OLD] is a new dependency, not an update of an installed package).
"""

from __future__ import annotations

import re

MIRROR = 'http://10.213.7.1:8780/'
SUITE = 'bookworm'
INST = re.compile(r'^Inst (\S+) \[([^\]]+)\] \((\S+) ([^\[]*)\[')


def mirror_sources(run, bad=False):
    """The lab mirror's three flat repositories as inventory_package_sources; ``run`` in each address
    (a path the mirror normalises away) finds this run's requests in the mirror's log."""
    base = '%sx-%s/../' % (MIRROR, run)
    out = [{'url': base, 'suite': './', 'security': False},
           {'url': base, 'suite': SUITE + '-security/'},
           {'url': base, 'suite': SUITE + '-updates/'}]
    if bad:
        out.append({'url': 'http://10.213.7.1:9/', 'suite': SUITE + '-security', 'components': ['main']})
    return out


def run_in(api, image, script):
    """Output of ``script`` run as root by /bin/sh in a throwaway container of ``image``."""
    cid = api.create_container(image, command=['/bin/sh', '-c', script], user='0', entrypoint=[])['Id']
    try:
        api.start(cid)
        assert api.wait(cid, timeout=180)['StatusCode'] == 0, api.logs(cid).decode()
        return api.logs(cid, stdout=True, stderr=False).decode()
    finally:
        api.remove_container(cid, force=True, v=True)


def apt_pending(api, image):
    """{name: (installed, candidate, security)} by apt-get -s dist-upgrade in a container of ``image``
    against the mirror's flat repositories (security: apt names a -security suite as its origin)."""
    lines = ''.join('deb [trusted=yes] %s %s\n' % (MIRROR, s) for s in ('./', SUITE + '-security/', SUITE + '-updates/'))
    opts = ('-o Dir::Etc::SourceList=/tmp/p/sources.list -o Dir::Etc::SourceParts=/tmp/p/none '
            '-o Dir::State::Lists=/tmp/p/lists -o Dir::Cache=/tmp/p/cache -o APT::Sandbox::User=root')
    out = run_in(api, image, 'mkdir -p /tmp/p/lists/partial /tmp/p/cache/archives/partial /tmp/p/none && '
                             'printf "%s" >/tmp/p/sources.list && apt-get %s -q update >/dev/null && '
                             'apt-get %s -s dist-upgrade' % (lines, opts, opts))
    found = {}
    for line in out.splitlines():
        m = INST.match(line)
        if m:
            found[m.group(1)] = (m.group(2), m.group(3), '-security' in m.group(4))
    return found
