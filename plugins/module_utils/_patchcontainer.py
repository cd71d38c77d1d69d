# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The throwaway container of an image_patch run (steps 1 and 2 of ``_imagepatch``): created from
the image with a sleeper, its OS checked, commands run in it as root by exec, removed at the end. A
distroless Debian image's is created only (``_distroless`` writes into it through the archive API).

Private: not a public API of the collection.
"""

from __future__ import annotations

import time
import uuid

from ansible_collections.patchops.containers.plugins.module_utils._apt import (
    CLEAN, DPKG_LIST, INSTALL_ENV, TOOLS, WORK, apt_get, apt_options, candidates_script, compare_script, missed_versions,
    missing_packages, os_family, os_problem, parse_candidates, parse_compare, parse_dpkg_list, parse_simulation,
    reachable, selection, update_failure, update_script, version_pairs)
from ansible_collections.patchops.containers.plugins.module_utils._engine import NotFound
from ansible_collections.patchops.containers.plugins.module_utils._errors import PatchopsError, error_text
from ansible_collections.patchops.containers.plugins.module_utils._container_files import (
    TooLarge,
    exists,
    read_dir,
    read_os_release,
    tar_of,
)
from ansible_collections.patchops.containers.plugins.module_utils._packages import DPKG_STATUS, DPKG_STATUS_D
from ansible_collections.patchops.containers.plugins.module_utils._registry import RegistryFailure, backoff, with_retries

CONTAINER_PREFIX = 'patchops-patch-'
OUTPUT_READS = 8
SLEEPER = 'exec sleep 2147483647'


class PatchError(PatchopsError):
    """An image_patch failure phrased for the operator."""


class PatchContainer:
    """The patch container of one run on one engine; ``image`` (the reference the user gave) names it
    in messages."""

    def __init__(self, engine, image, timings, warn=None, sleep=time.sleep, step_timeout=1800):
        self.engine = engine
        self.api = engine.api
        self.image = image
        self.timings = timings
        self.warn = warn or (lambda msg: None)
        self.sleep = sleep
        self.step_timeout = step_timeout
        self.host = engine.info.get('Name') or engine.docker_host
        self.id = None
        self.subject_id = None  # the image it was created from
        self.os_release = None  # its parsed os-release (None: it has none)
        self.status_d = None  # a distroless Debian image's status.d files {name: text}; None for others
        self.started = False

    def start(self, image, network=None):
        """Create the container from ``image`` (its inspect), check its OS, start it; a distroless Debian
        image's is only created."""
        config = image.get('Config') or {}
        if not config.get('Entrypoint') and not config.get('Cmd'):
            raise PatchError('%s has neither ENTRYPOINT nor CMD: the engine\'s commit would give the patched image '
                             'the patch container\'s command; give the image a CMD first' % self.image)
        self.subject_id = image['Id']
        kwargs = {'command': ['/bin/sh', '-c', SLEEPER]}
        if config.get('Entrypoint'):
            kwargs = {'entrypoint': ['/bin/sh', '-c'], 'command': [SLEEPER]}
        if config.get('User'):
            kwargs['user'] = '0'  # a non-empty User of the image is what the commit keeps
        if config.get('Healthcheck'):
            kwargs['healthcheck'] = {'test': ['NONE']}  # kept from the image by the commit (non-empty)
        host_config = self.api.create_host_config(tmpfs={'/tmp': 'rw,exec,mode=1777'}, network_mode=network or None)
        name = CONTAINER_PREFIX + uuid.uuid4().hex[:12]
        created = self.engine.call('create the patch container from %s' % image['Id'], self.api.create_container,
                                   image['Id'], name=name, host_config=host_config, **kwargs)
        self.id = created['Id']
        self.os_release = read_os_release(self.engine, self.id)
        self.status_d = self._distroless_status()
        if self.status_d is not None:
            return
        self._check_os()
        t0 = time.monotonic()
        self.engine.start(self.id, 'start the patch container')
        self.started = True
        self.timings['start'] = round(time.monotonic() - t0, 2)

    def stop(self):
        """Stop a started container before its commit (a created one is committed as it is)."""
        if self.started:
            self.engine.call('stop the patch container', self.api.kill, self.id)
            self.engine.call('stop the patch container', self.api.wait, self.id, timeout=60)

    def remove(self):
        """Remove the container (if any); a failure is a warning."""
        if not self.id:
            return
        cid, self.id, self.started = self.id, None, False
        try:
            self.engine.remove(cid, 'remove the patch container %s' % cid[:12], volumes=True)
        except NotFound:
            pass
        except Exception as exc:  # the run's own error matters more; say what was left
            self.warn('could not remove the patch container %s on %s: %s' % (cid[:12], self.host, error_text(exc)))

    def archive(self, path):
        """The tar (bytes) of ``path`` in the container through the archive API; None when it has no such path."""
        try:
            return tar_of(self.engine, self.id, path)
        except Exception as exc:
            raise PatchError('cannot read %s from %s: %s' % (path, self.image, error_text(exc)))

    def put(self, path, data):
        """Extract the tar ``data`` at ``path`` of the container (the archive API: no process runs in it)."""
        self.engine.call('write into the patch container at %s' % path, self.api.put_archive, self.id, path, data)

    def tree(self, path):
        """{name: text} of the regular files right under the directory ``path``; None when it has none."""
        try:
            return read_dir(self.engine, self.id, path)
        except NotFound:
            return None
        except TooLarge:
            raise PatchError('%s of %s is larger than image_patch reads' % (path, self.image))

    def exists(self, path):
        """Whether ``path`` exists in the (created) container (a link as it is)."""
        return exists(self.engine, self.id, path)

    def _distroless_status(self):
        """status.d's files of a Debian-family image without a dpkg status file; None for any other."""
        if self.os_release is None or os_family(self.os_release) != 'apt':
            return None
        files = self.tree(DPKG_STATUS_D)
        if files is None or self.exists(DPKG_STATUS):
            return None
        return files

    @property
    def os_summary(self):
        """id, version_id, pretty_name and family of the OS (None each when it has no os-release), and
        whether the image is distroless (patched from a tooling container)."""
        release = self.os_release or {}
        return {'id': release.get('ID'), 'version_id': release.get('VERSION_ID'),
                'pretty_name': release.get('PRETTY_NAME'), 'family': os_family(release) if release else None,
                'distroless': self.status_d is not None}

    def _check_os(self):
        has_shell = self.exists('/bin/sh')
        missing = []
        if self.os_release is not None and os_family(self.os_release) == 'apt':
            missing = [path for path in TOOLS if not self.exists(path)]
        problem = os_problem(self.image, self.os_release, has_shell, missing)
        if problem:
            raise PatchError(problem[0], reason=problem[1])

    def run_step(self, what, script, env=None, timeout=None):
        """Run the step ``script`` as root in the patch container; (exit code, output). Steps run detached
        (``Engine.exec_detached``) and are polled, so no API read waits on them; past ``timeout`` s (else
        step_timeout) the run fails. Their output is written to a file, read by ``read_output``."""
        timeout = timeout or self.step_timeout
        out = '%s/out.%s' % (WORK, uuid.uuid4().hex[:8])
        wrapped = 'mkdir -p %s; (%s) >%s 2>&1' % (WORK, script, out)
        exec_id = self.engine.exec_detached(self.id, ['/bin/sh', '-c', wrapped], user='0', environment=env, what=what)
        deadline = time.monotonic() + timeout
        while True:
            state = self.engine.exec_state(exec_id, what=what)
            if not state.get('Running'):
                break
            if time.monotonic() > deadline:
                raise PatchError('%s in %s on %s took longer than %d s (step_timeout); nothing was built'
                                 % (what, self.image, self.host, timeout))
            self.sleep(0.2)
        return state.get('ExitCode'), self.read_output(what, out)

    def read_output(self, what, path):
        """A step's output file (on the patch container's tmpfs, which the archive endpoint cannot
        read). The patch container's lost-output rule (``Engine.exec`` says why the probe's differs): an
        engine under load can close an exec's stream before a short command's output reaches it (Podman
        often, Docker rarely); the script is ours, so the output ends with a marker, read again until it
        arrives (OUTPUT_READS reads)."""
        marker = 'patchops-end-%s' % uuid.uuid4().hex[:8]
        for attempt in range(OUTPUT_READS):
            text = self.engine.exec(self.id, ['/bin/sh', '-c', 'cat %s && echo %s' % (path, marker)], user='0',
                                    what=what, exit_code=False)[1]
            if text.rstrip().endswith(marker):
                return text.rstrip()[:-len(marker)]
            self.sleep(0.2 * (attempt + 1))
        raise PatchError('%s in %s on %s: the engine did not return its output in %d reads; nothing was built'
                         % (what, self.image, self.host, OUTPUT_READS))


class AptRun:
    """apt in the patch container (step 2): the installed packages, the update of the lists, the plan
    (apt-get -s) and the install. What to update: the report's fixable findings (``wanted``), else
    ``packages``, else every upgrade, plus ``carry`` (what an earlier patch updated)."""

    def __init__(self, box, params, retries, delay, sleep=time.sleep):
        self.box = box
        self.image = params['image']
        self.host = box.host
        self.options = apt_options(params.get('fetch_timeout', 20), bool(params.get('sources')),
                                   params.get('http_proxy'))
        self.sources = params.get('sources')
        self.packages = params.get('packages') or []
        self.with_report = bool(params.get('report'))
        self.retries = retries
        self.delay = delay
        self.sleep = sleep
        self.carry = []  # set by the run once it knows the image
        self.fixed_targets = None  # {package: findings} the update reaches (with a report)

    def installed(self):
        """{package: {version, installed_kib}} of the installed packages."""
        code, text = self.box.run_step('list the installed packages', DPKG_LIST)
        if code != 0:
            raise PatchError('cannot list the packages of %s: %s' % (self.image, tail(text)))
        return parse_dpkg_list(text)

    def update(self):
        """apt-get update, retried like a registry call when the package sources are unreachable."""
        script = update_script(self.options, self.sources)

        def update():
            code, text = self.box.run_step('apt-get update', script)
            failure = update_failure(code, text)
            if failure is None:
                return text
            reason, details, transient = failure
            raise RegistryFailure(reason, tail(details), transient)
        t0 = time.monotonic()
        try:
            with_retries(update, self.retries, self.delay, self.sleep)
        except RegistryFailure as exc:
            raise PatchError('%s for %s on %s (after %d attempts; retries=%d, waited %s): %s; nothing was built'
                             % (exc.reason, self.image, self.host, exc.attempts, self.retries,
                                ', '.join('%gs' % backoff(self.delay, n) for n in range(1, exc.attempts)) or 'nothing',
                                exc.text), reason=exc.reason)
        self.box.timings['update'] = round(time.monotonic() - t0, 2)

    def _selection(self, installed, wanted):
        """The apt-get arguments of the update (see _apt.selection); named packages must be installed."""
        if wanted is None and self.packages:
            missing = missing_packages(self.packages, installed)
            if missing:
                raise PatchError('%s: %s not installed in the image; packages names installed packages to update'
                                 % (self.image, ', '.join(missing)), reason='not installed')
        return selection(installed, wanted, self.packages, self.carry)

    def selected(self, installed, wanted):
        """The apt-get arguments of the update (None: nothing to name) and the report's findings left open."""
        open_findings = []
        if wanted is not None:
            wanted, open_findings = self._reachable(installed, wanted)
        return self._selection(installed, wanted), open_findings

    def plan(self, installed, wanted):
        """Simulate the update: ({package: {before, after}}, open findings)."""
        args, open_findings = self.selected(installed, wanted)
        if args is None:
            return {}, open_findings
        code, text = self.box.run_step('simulate the update', apt_get(self.options, args, simulate=True))
        if code != 0:
            raise PatchError('apt-get cannot plan the update of %s: %s' % (self.image, tail(text)))
        return parse_simulation(text), open_findings

    def _reachable(self, installed, wanted):
        """Report packages whose candidate reaches a fixed version and is newer than the installed one."""
        script = candidates_script(self.options, sorted(wanted))
        candidates = parse_candidates(self.box.run_step('read candidate versions', script)[1])
        pairs, index = version_pairs(installed, wanted, candidates)
        answers = []
        if pairs:
            text = self.box.run_step('compare package versions', compare_script(pairs))[1]
            answers = parse_compare(text, len(pairs))
            if answers is None:
                raise PatchError('cannot compare package versions in %s: %s' % (self.image, tail(text)))
        self.fixed_targets, open_findings = reachable(index, answers, candidates)
        return self.fixed_targets, open_findings

    def fixed(self, wanted, changes):
        """The report's findings the update fixes, with the version each package was updated to."""
        if wanted is None:
            return []
        return [dict(finding, updated_to=changes[name]['after'])
                for name, findings in sorted((self.fixed_targets or {}).items())
                for finding in findings if name in changes]

    def apply(self, plan, before):
        """Install the update; the installed packages after it (each planned version checked)."""
        args = self._selection(before, self.fixed_targets if self.with_report else None)
        t0 = time.monotonic()
        code, text = self.box.run_step('apt-get %s' % args[0], apt_get(self.options, args), env=INSTALL_ENV)
        if code != 0:
            raise PatchError('apt-get failed in %s on %s (exit %s): %s; nothing was built'
                             % (self.image, self.host, code, tail(text)))
        self.box.run_step('clean the package caches', CLEAN)
        self.box.timings['install'] = round(time.monotonic() - t0, 2)
        after = self.installed()
        missed = missed_versions(plan, after)
        if missed:
            raise PatchError('the update of %s did not install the planned versions of %s; nothing was built'
                             % (self.image, ', '.join(missed)))
        return after


def tail(text, limit=800):
    """The end of a command's output, for a message."""
    text = (text or '').strip()
    return text if len(text) <= limit else '...' + text[-limit:]
