# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""apt for image_patch: which images it patches, the command lines it runs in the patch container
and the parsing of what they print. Pure: ``_imagepatch`` runs the commands.

Private: not a public API of the collection.
"""

from __future__ import annotations

import re
import shlex

WORK = '/tmp/patchops'
APT_FAMILY = ('debian', 'ubuntu')
TOOLS = ('/usr/bin/apt-get', '/usr/bin/dpkg')
UNSUPPORTED = {
    'alpine': 'Alpine (apk)', 'wolfi': 'Wolfi (apk)', 'chainguard': 'Chainguard (apk)',
    'rhel': 'Red Hat Enterprise Linux (dnf/yum)', 'centos': 'CentOS (dnf/yum)', 'fedora': 'Fedora (dnf)',
    'rocky': 'Rocky Linux (dnf)', 'almalinux': 'AlmaLinux (dnf)', 'ol': 'Oracle Linux (dnf/yum)',
    'amzn': 'Amazon Linux (dnf/yum)', 'mariner': 'CBL-Mariner (tdnf)', 'azurelinux': 'Azure Linux (tdnf)',
    'photon': 'Photon OS (tdnf)', 'opensuse-leap': 'openSUSE (zypper)', 'sles': 'SUSE (zypper)',
}
DPKG_LIST = "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\t${Installed-Size}\\n'"
INSTALL_ENV = ['DEBIAN_FRONTEND=noninteractive', 'DEBCONF_NONINTERACTIVE_SEEN=true', 'LC_ALL=C']
CLEAN = 'rm -rf %s/lists %s/cache' % (WORK, WORK)
UPGRADE_ALL = ['--with-new-pkgs', 'upgrade']
_INST = re.compile(r'^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+) ')
_UPDATE_ERRORS = ('Err:', 'E:', 'W: Failed', 'W: Some index')
_NETWORK = ('could not connect', 'failed to fetch', 'unable to connect', 'connection refused',
            'connection timed out', 'temporary failure resolving', 'could not resolve', 'no route to host',
            'network is unreachable', 'connection failed', '503', '502', '504')


# -- which images ------------------------------------------------------------------------------

def os_family(release):
    """'apt' for Debian and Ubuntu (and their derivatives), else the os-release ID."""
    ids = [release.get('ID', '').lower()] + release.get('ID_LIKE', '').lower().split()
    if any(i in APT_FAMILY for i in ids):
        return 'apt'
    return ids[0] or 'unknown'


def os_problem(image, release, has_shell, missing_tools):
    """Why ``image`` cannot be patched with apt, as (message, reason); None when it can.

    ``release`` is its parsed os-release (None: it has none), ``missing_tools`` those of TOOLS it lacks.
    """
    if release is None:
        if not has_shell:
            return ('%s has no os-release and no shell: a distroless or scratch image has no package manager '
                    'to patch it with; rebuild it from a patched base' % image, 'distroless')
        return '%s has no /etc/os-release: unknown OS, not supported yet' % image, 'unknown os'
    family = os_family(release)
    name = release.get('PRETTY_NAME') or release.get('ID')
    if family == 'apt':
        if missing_tools or not has_shell:
            return ('%s (%s) has no package manager (%s missing): a distroless image cannot be patched in place; '
                    'rebuild it from a patched base' % (image, name, ', '.join(
                        list(missing_tools) + ([] if has_shell else ['/bin/sh']))), 'distroless')
        return None
    if family in UNSUPPORTED:
        return ('%s is %s (%s): not supported yet; image_patch patches Debian and Ubuntu (apt) images'
                % (image, name, UNSUPPORTED[family]), 'unsupported os')
    if family == 'busybox' or not has_shell:
        return ('%s (%s) has no package manager: nothing to patch it with; rebuild it from a patched base'
                % (image, name), 'no package manager')
    return ('%s is %s (os-release ID %s): unknown OS, not supported yet; image_patch patches Debian and Ubuntu '
            '(apt) images' % (image, name, family), 'unsupported os')


# -- command lines -----------------------------------------------------------------------------

def shell_list(items):
    return ' '.join(shlex.quote(item) for item in items)


def apt_options(fetch_timeout=20, own_sources=False, http_proxy=None):
    """apt's options: lists, caches and logs under WORK (none reach the layer), no retries of its own."""
    opts = ['-o', 'Dir::State::Lists=%s/lists' % WORK, '-o', 'Dir::Cache=%s/cache' % WORK,
            '-o', 'Dir::Log=%s/log' % WORK, '-o', 'Dpkg::Options::=--log=%s/dpkg.log' % WORK,
            '-o', 'APT::Sandbox::User=root', '-o', 'Acquire::Retries=0',
            '-o', 'Acquire::http::Timeout=%d' % fetch_timeout,
            '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold',
            # no fsync per file: the container is thrown away if anything fails before the commit
            '-o', 'Dpkg::Options::=--force-unsafe-io',
            '-o', 'Dpkg::Use-Pty=0', '-o', 'APT::Color=0']
    if own_sources:
        opts += ['-o', 'Dir::Etc::SourceList=%s/sources.list' % WORK, '-o', 'Dir::Etc::SourceParts=%s/parts' % WORK]
    if http_proxy:
        opts += ['-o', 'Acquire::http::Proxy=%s' % http_proxy, '-o', 'Acquire::https::Proxy=%s' % http_proxy]
    return shell_list(opts)


def update_script(options, sources=None):
    """Make WORK's directories, write ``sources`` (the lines of a sources.list) if given, apt-get update."""
    prep = 'mkdir -p %s/lists/partial %s/cache/archives/partial %s/log %s/parts' % ((WORK,) * 4)
    if sources:
        prep += '; printf "%%s\\n" %s >%s/sources.list' % (shell_list(sources), WORK)
    return '%s; apt-get -q %s update' % (prep, options)


def update_failure(code, text):
    """None when apt-get update worked, else (reason, its error lines or output, transient)."""
    errors = [line for line in (text or '').splitlines() if line.startswith(_UPDATE_ERRORS)]
    if code == 0 and not errors:
        return None
    low = (text or '').lower()
    transient = any(word in low for word in _NETWORK)
    return ('package sources unreachable' if transient else 'apt-get update failed',
            '\n'.join(errors) or text, transient)


def apt_get(options, args, simulate=False):
    """apt-get with ``args``: ``-s`` to simulate, else ``-y``."""
    return 'apt-get -q %s %s %s' % (options, '-s' if simulate else '-y', shell_list(args))


def candidates_script(options, names):
    """Print 'name<TAB>candidate version' per package (apt-cache policy)."""
    return '; '.join('printf "%%s\\t%%s\\n" %s "$(apt-cache %s policy %s | awk \'$1 == "Candidate:" {print $2}\')"'
                     % (shlex.quote(n), options, shlex.quote(n)) for n in names)


def compare_script(pairs):
    """Print 1 or 0 per pair (a, b) of Debian versions: a >= b by dpkg's own comparison (no a: 0~)."""
    return '; '.join('if dpkg --compare-versions %s ge %s; then echo 1; else echo 0; fi'
                     % (shlex.quote(a or '0~'), shlex.quote(b)) for a, b in pairs)


# -- what they print ---------------------------------------------------------------------------

def parse_simulation(text):
    """apt-get -s output -> {package: {'before': old or None, 'after': new}}."""
    changes = {}
    for line in (text or '').splitlines():
        match = _INST.match(line)
        if match:
            changes[match.group(1).split(':')[0]] = {'before': match.group(2), 'after': match.group(3)}
    return changes


def parse_dpkg_list(text):
    """DPKG_LIST lines 'name<TAB>version<TAB>status<TAB>installed-size' -> {name: {...}} (installed only)."""
    out = {}
    for line in (text or '').splitlines():
        parts = line.split('\t')
        if len(parts) < 3 or not parts[2].startswith('i'):
            continue
        size = parts[3].strip() if len(parts) > 3 else ''
        out[parts[0]] = {'version': parts[1], 'installed_kib': int(size) if size.isdigit() else 0}
    return out


def parse_candidates(text):
    """candidates_script output -> {name: candidate version or None}."""
    out = {}
    for line in (text or '').splitlines():
        parts = line.split('\t')
        if len(parts) == 2:
            out[parts[0]] = parts[1] if parts[1] not in ('', '(none)') else None
    return out


def parse_compare(text, count):
    """compare_script output -> [bool] per pair; None unless there is one answer per pair."""
    answers = [line.strip() == '1' for line in (text or '').splitlines() if line.strip() in ('0', '1')]
    return answers if len(answers) == count else None


def package_changes(before, after):
    """Per package whose version differs: name, before (None: new), after (None: removed)."""
    rows = []
    for name in sorted(set(before) | set(after)):
        old = (before.get(name) or {}).get('version')
        new = (after.get(name) or {}).get('version')
        if old != new:
            rows.append({'name': name, 'before': old, 'after': new})
    return rows


def missed_versions(plan, after):
    """Names of planned packages whose installed version is not the planned one."""
    return sorted(name for name, change in plan.items() if (after.get(name) or {}).get('version') != change['after'])


# -- what to update ----------------------------------------------------------------------------

def missing_packages(packages, installed):
    """Of ``packages`` (name or name=version), those not installed."""
    return [p for p in packages if p.split('=')[0] not in installed]


def selection(installed, wanted, packages, carry):
    """The apt-get arguments of the update, None when there is nothing to name.

    ``wanted``: {package: findings} of a report (None without one); else ``packages`` (names to
    update), else every upgrade. ``carry``: what an earlier patch updated, kept when naming packages.
    """
    if wanted is not None:
        names = sorted(wanted)
    elif packages:
        names = list(packages)
    else:
        return list(UPGRADE_ALL)
    named = set(name.split('=')[0] for name in names)
    names = names + sorted(name for name in carry if name in installed and name not in named)
    return ['install', '--only-upgrade', '--no-install-recommends'] + names if names else None


def version_pairs(installed, wanted, candidates):
    """The version comparisons that decide each finding: per fixed version, (installed, fixed) then
    (candidate, fixed); and the (name, finding, fixed) of each pair of pairs."""
    pairs, index = [], []
    for name in sorted(wanted):
        for finding in wanted[name]:
            for fixed in finding['fixed']:
                pairs.append((installed[name]['version'], fixed))
                pairs.append((candidates.get(name), fixed))
                index.append((name, finding, fixed))
    return pairs, index


def reachable(index, answers, candidates):
    """({package: findings} whose candidate reaches a fixed version, open findings with their reason).

    A finding already fixed by the installed version is in neither.
    """
    per_finding = {}
    for n, (name, finding, fixed) in enumerate(index):
        already, reached = answers[2 * n], answers[2 * n + 1] and candidates.get(name) is not None
        state = per_finding.setdefault(id(finding), {'finding': finding, 'already': False, 'reached': False})
        state['already'] = state['already'] or already
        state['reached'] = state['reached'] or reached
    reach, open_findings = {}, []
    for state in per_finding.values():
        finding = state['finding']
        if state['already']:
            continue
        if state['reached']:
            reach.setdefault(finding['package'], []).append(finding)
        else:
            open_findings.append(dict(finding, reason='no fixed version in the configured sources (candidate %s)'
                                      % (candidates.get(finding['package']) or 'none')))
    return reach, open_findings
