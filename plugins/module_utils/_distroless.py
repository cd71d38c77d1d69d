# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Distroless Debian images for image_patch: no shell, apt or dpkg, their packages listed one file
each under ``/var/lib/dpkg/status.d/`` (the control fields of the package, ``<name>.md5sums`` beside it
in some images), their files the packages' unpacked.

Private: not a public API of the collection.

The image's patch container is created and never started (``_patchcontainer``): its status.d is read
and the update written into it through the engine's archive API, then it is committed like any other.
The package work runs in a *tooling container* (an apt image the operator names) against the
operator's sources: ``apt`` there sees the image's packages as a dpkg status file of its own, picks the
candidates, downloads the .debs; ``dpkg-deb -x`` unpacks them, ``dpkg-deb -f`` gives their status.d
entries. What an update would remove from the image (a file the new version no longer ships) stays.
"""

from __future__ import annotations

import io
import tarfile
import time

from ansible_collections.patchops.containers.plugins.module_utils._apt import (
    INSTALL_ENV, UPGRADE_ALL, candidates_script, compare_script, missed_versions, parse_candidates,
    parse_compare, shell_list)
from ansible_collections.patchops.containers.plugins.module_utils._imageref import parse_as
from ansible_collections.patchops.containers.plugins.module_utils._packages import DPKG_STATUS_D, INSTALLED, stanzas
from ansible_collections.patchops.containers.plugins.module_utils._patchcontainer import (
    AptRun, PatchContainer, PatchError, tail)

# In the tooling container's own layer, not on its /tmp tmpfs: the archive API reads the unpacked tree.
OUT = '/var/tmp/patchops'
ADMIN = OUT + '/admin'


# -- pure: status.d, the plan, the layer ------------------------------------------------------------

def read_status_dir(files):
    """status.d's files {file name: text} -> {package: {version, architecture, installed_kib, file, md5sums,
    control}}; files without a Package field (and the md5sums) are not entries."""
    out = {}
    for name, text in sorted(files.items()):
        if name.endswith('.md5sums'):
            continue
        fields = (stanzas(text) or [{}])[0]
        if not fields.get('Package') or not fields.get('Version'):
            continue
        size = fields.get('Installed-Size', '')
        out[fields['Package']] = {
            'version': fields['Version'], 'architecture': fields.get('Architecture'),
            'installed_kib': int(size) if size.isdigit() else 0, 'file': name,
            'md5sums': name + '.md5sums' in files, 'control': text}
    return out


def status_text(installed):
    """A dpkg status file of ``installed`` (read_status_dir's), every package marked installed: what apt in the
    tooling container reads as the image's packages."""
    entries = []
    for name in sorted(installed):
        lines = [line for line in installed[name]['control'].strip().splitlines() if not line.startswith('Status:')]
        entries.append('\n'.join([lines[0], 'Status: ' + INSTALLED] + lines[1:]))
    return '\n\n'.join(entries) + '\n'


def upgrades(installed, names, candidates, newer):
    """{package: {before, after}} of ``names`` whose candidate is newer than the installed version.

    ``newer(pairs)`` answers, per (installed, candidate) pair, whether the installed one is at least the
    candidate (dpkg's order: the tooling container's ``dpkg --compare-versions``).
    """
    names = [n for n in names if candidates.get(n) and candidates[n] != installed[n]['version']]
    pairs = [(installed[n]['version'], candidates[n]) for n in names]
    answers = newer(pairs) if pairs else []
    return dict((n, {'before': installed[n]['version'], 'after': candidates[n]})
                for n, at_least in zip(names, answers) if not at_least)


def unpack_script(options, plan):
    """Download the planned versions into OUT/debs and unpack them into OUT/root: files (dpkg-deb -x), the
    status.d entry (dpkg-deb -f) and md5sums of each; print 'unpacked<TAB>name<TAB>version' and
    'conffile<TAB>name<TAB>path' lines."""
    wanted = shell_list('%s=%s' % (name, plan[name]['after']) for name in sorted(plan))
    return ('set -e; rm -rf {o}/debs {o}/root; mkdir -p {o}/debs {o}/root/var/lib/dpkg/status.d; cd {o}/debs; '
            'apt-get -q {opts} download {wanted}; '
            'for d in *.deb; do p=$(dpkg-deb -f "$d" Package); dpkg-deb -x "$d" ../root; '
            'dpkg-deb -f "$d" >"../root/var/lib/dpkg/status.d/$p"; dpkg-deb --ctrl-tarfile "$d" >../control.tar; '
            'if tar -tf ../control.tar | grep -qx ./md5sums; then '
            'tar -xOf ../control.tar ./md5sums >"../root/var/lib/dpkg/status.d/$p.md5sums"; fi; '
            'if tar -tf ../control.tar | grep -qx ./conffiles; then '
            'tar -xOf ../control.tar ./conffiles | while read -r f; do printf "conffile\\t%s\\t%s\\n" "$p" "${{f##* }}"; done; '
            'fi; printf "unpacked\\t%s\\t%s\\n" "$p" "$(dpkg-deb -f "$d" Version)"; done'
            ).format(o=OUT, opts=options, wanted=wanted)


def parse_unpacked(text):
    """unpack_script output -> {package: {version, conffiles}}."""
    out = {}
    for line in (text or '').splitlines():
        parts = line.split('\t')
        if len(parts) != 3 or parts[0] not in ('unpacked', 'conffile'):
            continue
        entry = out.setdefault(parts[1], {'version': None, 'conffiles': []})
        if parts[0] == 'unpacked':
            entry['version'] = parts[2]
        else:
            entry['conffiles'].append(parts[2])
    return out


def layer_tar(data, installed, keep=()):
    """The tar to put at / of the image's container, from the archive of OUT/root (entries ``root/...``).

    Directories are left out (the image's own stay as they are, a symlinked /lib among them; missing ones
    are made), status.d entries take the image's file names and its md5sums only where it keeps them, and
    the paths in ``keep`` (conffiles the image has) are not written.
    """
    out = io.BytesIO()
    status = DPKG_STATUS_D.lstrip('/') + '/'
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode='w') as dst:
        for member in src.getmembers():
            name = member.name.split('/', 1)[1] if '/' in member.name else ''
            if not name or member.isdir() or '/' + name in keep:
                continue
            if name.startswith(status):
                entry = name[len(status):]
                package = entry[:-len('.md5sums')] if entry.endswith('.md5sums') else entry
                known = installed.get(package) or {'file': package, 'md5sums': True}
                if entry != package and not known['md5sums']:
                    continue
                name = status + known['file'] + entry[len(package):]
            member.name = name
            if member.islnk():
                member.linkname = member.linkname.split('/', 1)[1]
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    return out.getvalue()


def _admin_tar(status):
    out = io.BytesIO()
    data = status.encode('utf-8')
    with tarfile.open(fileobj=out, mode='w') as tar:
        for path in ('patchops', 'patchops/admin', 'patchops/admin/updates'):
            info = tarfile.TarInfo(path)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        info = tarfile.TarInfo('patchops/admin/status')
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


# -- the run ---------------------------------------------------------------------------------------

class DistrolessRun(AptRun):
    """AptRun's steps for a distroless image: ``target`` is the image's patch container (created, never
    started), apt runs in the tooling container (``self.box``) started at the first update. ``find_image``
    finds or pulls an image by reference (its inspect)."""

    def __init__(self, target, params, retries, delay, find_image, sleep=time.sleep):
        tool = PatchContainer(target.engine, params.get('tooling_image') or 'the tooling image', target.timings,
                              target.warn, sleep, params.get('step_timeout', 1800))
        super(DistrolessRun, self).__init__(tool, params, retries, delay, sleep)
        self.target = target
        self.tooling = params.get('tooling_image')
        self.network = params.get('network')
        self.find_image = find_image
        self.options += ' ' + shell_list(['-o', 'Dir::State::status=%s/status' % ADMIN])

    def installed(self):
        return read_status_dir(self.target.status_d or {})

    def update(self):
        """Start the tooling container (once), give its apt the image's packages, update its lists."""
        if not self.tooling:
            raise PatchError('%s is a distroless Debian image (no shell, apt or dpkg; its packages listed in %s): '
                             'set tooling_image to an image with apt and dpkg (Debian or Ubuntu) to patch it from a '
                             'tooling container; nothing was built' % (self.image, DPKG_STATUS_D), reason='distroless')
        if self.box.id is None:
            t0 = time.monotonic()
            self.box.start(self.find_image(parse_as(self.tooling, 'tooling_image', PatchError)), self.network)
            if self.box.status_d is not None:
                raise PatchError('tooling_image %s is distroless itself: it needs apt and dpkg' % self.tooling)
            self.box.timings['tooling'] = round(time.monotonic() - t0, 2)
        self.box.put('/var/tmp', _admin_tar(status_text(self.installed())))
        super(DistrolessRun, self).update()

    def plan(self, installed, wanted):
        """({package: {before, after}}, open findings): each selected package whose candidate in the sources
        is newer than its version in status.d."""
        args, open_findings = self.selected(installed, wanted)
        if args is None:
            return {}, open_findings
        named = sorted(installed) if args == UPGRADE_ALL else args[3:]
        pins = dict(item.split('=', 1) for item in named if '=' in item)
        names = [item.split('=', 1)[0] for item in named]
        candidates = parse_candidates(self.box.run_step('read candidate versions', candidates_script(self.options, names))[1])
        candidates.update(pins)
        return upgrades(installed, names, candidates, self._at_least), open_findings

    def _at_least(self, pairs):
        text = self.box.run_step('compare package versions', compare_script(pairs))[1]
        answers = parse_compare(text, len(pairs))
        if answers is None:
            raise PatchError('cannot compare package versions for %s: %s' % (self.image, tail(text)))
        return answers

    def apply(self, plan, before):
        """Fetch and unpack the plan in the tooling container, write it into the image's container; the
        packages of its status.d after that (each planned version checked)."""
        t0 = time.monotonic()
        code, text = self.box.run_step('fetch and unpack the updated packages', unpack_script(self.options, plan),
                                       env=INSTALL_ENV)
        unpacked = parse_unpacked(text)
        missed = sorted(n for n in plan if (unpacked.get(n) or {}).get('version') != plan[n]['after'])
        if code != 0 or missed:
            lacking = ', missing %s' % ', '.join(missed) if missed else ''
            raise PatchError('cannot fetch or unpack the updated packages of %s in the tooling container on %s '
                             '(exit %s%s): %s; nothing was built' % (self.image, self.host, code, lacking, tail(text)))
        keep = set(path for name in plan for path in unpacked[name]['conffiles'] if self.target.exists(path))
        self.target.put('/', layer_tar(self.box.archive(OUT + '/root'), before, keep))
        self.box.timings['install'] = round(time.monotonic() - t0, 2)
        self.target.status_d = self.target.tree(DPKG_STATUS_D)
        after = self.installed()
        missed = missed_versions(plan, after)
        if missed:
            raise PatchError('the update of %s did not write the planned versions of %s into status.d; nothing '
                             'was built' % (self.image, ', '.join(missed)))
        return after

    def remove(self):
        self.box.remove()


__all__ = ['DistrolessRun']
