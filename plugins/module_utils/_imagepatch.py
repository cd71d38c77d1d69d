# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Patched images without BuildKit: OS package updates as one layer on the original image.

Private: not a public API of the collection.

The method, with the Engine API only:

1. a throwaway container of the base image, by image ID, its own command replaced by a sleeper,
   ``/tmp`` a tmpfs, no healthcheck, no name of ours in its config;
2. the package manager runs in it as root through ``exec``, with its lists, caches and logs
   under ``/tmp`` (so none of them reach the layer);
3. the container is stopped and committed with the base image's config sent in full plus the
   patch labels. The engine's commit fills the request's *empty* fields (User, Cmd, Entrypoint,
   WorkingDir, StopSignal, Healthcheck) from the container's config and adds its missing Env and
   Labels keys: the container is made so that every one of those equals the base image's, so
   nothing of it reaches the image;
4. the result is checked: the base's layers unchanged plus exactly one.

Re-patching a patched image starts again from the base its labels record.
"""

from __future__ import annotations

import datetime
import io
import re
import shlex
import tarfile
import time
import uuid

from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    EngineError, NotFound, PatchopsError, error_text)
from ansible_collections.patchops.containers.plugins.module_utils._imageref import ImageRefError, parse, parse_as
from ansible_collections.patchops.containers.plugins.module_utils._registry import (
    RegistryFailure, auth_config, backoff, registry_failure, remote_digest, with_retries)
from ansible_collections.patchops.containers.plugins.module_utils._scan import ScanError, load_report
from ansible_collections.patchops.containers.plugins.module_utils._stage import human_bytes

LABEL_BASE_NAME = 'org.opencontainers.image.base.name'
LABEL_BASE_DIGEST = 'org.opencontainers.image.base.digest'
LABEL_BASE_ID = 'io.patchops.patch.base-id'
LABEL_PACKAGES = 'io.patchops.patch.packages'
LABEL_CREATED = 'io.patchops.patch.created'
LABEL_TOOL = 'io.patchops.patch.tool'
TOOL = 'patchops.containers.image_patch'
PATCH_LABELS = (LABEL_BASE_NAME, LABEL_BASE_DIGEST, LABEL_BASE_ID, LABEL_PACKAGES, LABEL_CREATED, LABEL_TOOL)

CONTAINER_PREFIX = 'patchops-patch-'
WORK = '/tmp/patchops'
OUTPUT_READS = 8
SLEEPER = 'exec sleep 2147483647'
APT_FAMILY = ('debian', 'ubuntu')
UNSUPPORTED = {
    'alpine': 'Alpine (apk)', 'wolfi': 'Wolfi (apk)', 'chainguard': 'Chainguard (apk)',
    'rhel': 'Red Hat Enterprise Linux (dnf/yum)', 'centos': 'CentOS (dnf/yum)', 'fedora': 'Fedora (dnf)',
    'rocky': 'Rocky Linux (dnf)', 'almalinux': 'AlmaLinux (dnf)', 'ol': 'Oracle Linux (dnf/yum)',
    'amzn': 'Amazon Linux (dnf/yum)', 'mariner': 'CBL-Mariner (tdnf)', 'azurelinux': 'Azure Linux (tdnf)',
    'photon': 'Photon OS (tdnf)', 'opensuse-leap': 'openSUSE (zypper)', 'sles': 'SUSE (zypper)',
}
_INST = re.compile(r'^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+) ')
_APT_NETWORK = ('could not connect', 'failed to fetch', 'unable to connect', 'connection refused',
                'connection timed out', 'temporary failure resolving', 'could not resolve', 'no route to host',
                'network is unreachable', 'connection failed', '503', '502', '504')


class PatchError(PatchopsError):
    """An image_patch failure phrased for the operator."""


# -- pure helpers ---------------------------------------------------------------------------

def parse_os_release(text):
    """os-release KEY=value lines (quoted or not) -> dict."""
    out = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        key, value = line.split('=', 1)
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value.strip('"\'')]
        out[key.strip()] = parts[0] if parts else ''
    return out


def os_family(release):
    """'apt' for Debian and Ubuntu (and their derivatives), else the os-release ID."""
    ids = [release.get('ID', '').lower()] + release.get('ID_LIKE', '').lower().split()
    if any(i in APT_FAMILY for i in ids):
        return 'apt'
    return ids[0] or 'unknown'


def parse_simulation(text):
    """apt-get -s output -> {package: {'before': old or None, 'after': new}}."""
    changes = {}
    for line in (text or '').splitlines():
        match = _INST.match(line)
        if match:
            changes[match.group(1).split(':')[0]] = {'before': match.group(2), 'after': match.group(3)}
    return changes


def parse_dpkg_list(text):
    """dpkg-query lines 'name<TAB>version<TAB>status<TAB>installed-size' -> {name: {...}} (installed only)."""
    out = {}
    for line in (text or '').splitlines():
        parts = line.split('\t')
        if len(parts) < 3 or not parts[2].startswith('i'):
            continue
        size = parts[3].strip() if len(parts) > 3 else ''
        out[parts[0]] = {'version': parts[1], 'installed_kib': int(size) if size.isdigit() else 0}
    return out


def package_changes(before, after):
    """Per package whose version differs: name, before (None: new), after (None: removed)."""
    names = sorted(set(before) | set(after))
    rows = []
    for name in names:
        old = (before.get(name) or {}).get('version')
        new = (after.get(name) or {}).get('version')
        if old != new:
            rows.append({'name': name, 'before': old, 'after': new})
    return rows


def layer_changes(base_layers, new_layers):
    """None when ``new_layers`` is the base's layers plus exactly one, else what is wrong."""
    if list(new_layers[:len(base_layers)]) != list(base_layers):
        return "the base image's layers are not the first layers of the result"
    if len(new_layers) != len(base_layers) + 1:
        return '%d layers were added, not exactly one' % (len(new_layers) - len(base_layers))
    return None


def is_patched_over(image, base):
    """Is ``image`` a patch of ``base``: its base label names it and it has exactly one layer more."""
    labels = (image.get('Config') or {}).get('Labels') or {}
    if labels.get(LABEL_BASE_ID) != base.get('Id'):
        return False
    return layer_changes(_layers(base), _layers(image)) is None


def previous_packages(image):
    """Names of the packages an earlier patch of ``image`` updated (its packages label)."""
    labels = (image.get('Config') or {}).get('Labels') or {}
    return [item.split('=', 1)[0] for item in (labels.get(LABEL_PACKAGES) or '').split() if '=' in item]


def _layers(image):
    return list((image.get('RootFS') or {}).get('Layers') or [])


def default_output(ref):
    """<name>:<tag>-patched (a tag already ending in -patched is kept)."""
    if ref.tag is None and ref.digest:
        return None
    tag = ref.tag or 'latest'
    tag = tag if tag.endswith('-patched') else tag + '-patched'
    return '%s:%s' % (ref.name, tag[:128])


def findings_to_fix(report):
    """OS package findings of a parsed report: {package: [findings]} of those with a fixed version, and
    the findings without one (they stay open)."""
    wanted, no_fix = {}, []
    for finding in report['findings']:
        if finding.get('class') != 'os-pkgs':
            continue
        if finding.get('fixed'):
            wanted.setdefault(finding['package'], []).append(finding)
        else:
            no_fix.append(finding)
    return wanted, no_fix


def commit_config(base_config, labels):
    """The config sent to the commit: the base image's, in full, with the patch labels added."""
    config = dict(base_config or {})
    merged = dict(config.get('Labels') or {})
    for key in PATCH_LABELS:
        merged.pop(key, None)
    merged.update(labels)
    config['Labels'] = merged
    return config


def compare_configs(base_config, new_config):
    """Config keys (of the documented set) whose values differ; labels compared without the patch labels."""
    keys = ('Cmd', 'Entrypoint', 'Env', 'User', 'WorkingDir', 'ExposedPorts', 'Volumes', 'Healthcheck',
            'StopSignal', 'Shell', 'OnBuild')
    differ = [key for key in keys if (base_config or {}).get(key) != (new_config or {}).get(key)]

    def plain(config):
        return dict((k, v) for k, v in ((config or {}).get('Labels') or {}).items() if k not in PATCH_LABELS)
    if plain(base_config) != plain(new_config):
        differ.append('Labels')
    return differ


def _shell_list(items):
    return ' '.join(shlex.quote(item) for item in items)


# -- the patcher ----------------------------------------------------------------------------

class ImagePatcher:
    """One image_patch run on one engine."""

    def __init__(self, engine, params, check_mode=False, warn=None, sleep=time.sleep):
        self.engine = engine
        self.api = engine.api
        self.params = params
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.sleep = sleep
        self.host = engine.info.get('Name') or engine.docker_host
        self.retries = params.get('retries', 3)
        self.delay = params.get('retry_delay', 2.0)
        self.container = None
        self.carry = []
        self.timings = {}

    # ---- entry point

    def run(self):
        t0 = time.time()
        try:
            return self._run(t0)
        finally:
            self._remove_container()

    def _run(self, t0):
        ref = parse_as(self.params['image'], 'image', PatchError)
        image = self._source_image(ref)
        base, base_name = self._base_of(image, ref)
        # Re-patching with a selection keeps what the earlier patch updated (it is rebuilt from the base).
        self.carry = [] if image['Id'] == base['Id'] else previous_packages(image)
        output_text = self.params.get('output') or default_output(ref)
        if not output_text:
            raise PatchError('image %s is given by digest only: set output to the reference of the patched '
                             'image' % ref.text)
        output = parse_as(output_text, 'output', PatchError)
        if output.digest:
            raise PatchError('output %s must be a tag reference (name:tag), not a digest' % output_text)
        output_tag = output.tagged()
        if self.params.get('push'):
            self._check_push_auth(output)
        report, wanted, no_fix = self._report(image, base)
        unfixed = [dict(finding, reason='no fix published') for finding in no_fix]

        existing = self.engine.find_image(output_tag)
        reuse = existing is not None and is_patched_over(existing, base)
        subject = existing if reuse else base
        self._start(subject)
        before = self._installed()
        self._validate_report(report, before, image)
        self._apt_update()
        plan, open_findings = self._plan(before, wanted)
        result = {
            'image': output_tag, 'base': {'name': base_name, 'id': base['Id'], 'digest': _repo_digest(base, base_name),
                                          'layers': len(_layers(base))},
            'source': {'reference': ref.text, 'id': image['Id'], 'patched_image': image['Id'] != base['Id']},
            'os': self.os_release_summary, 'packages': [], 'would_update': [], 'open': unfixed + open_findings,
            'fixed': [], 'report': report and {'source': report['source'], 'scanner': report['scanner']},
        }
        if reuse and not plan:
            result.update(self._unchanged(existing, output, output_tag))
            return self._finish(result, t0)
        if reuse:
            # The existing patch is behind: build again from the base, with every update the base lacks.
            self._remove_container()
            self._start(base)
            before = self._installed()
            self._apt_update()
            plan, open_findings = self._plan(before, wanted)
            result['open'] = unfixed + open_findings
        rows = [{'name': name, 'before': change['before'], 'after': change['after']}
                for name, change in sorted(plan.items())]
        if not plan:
            self._remove_container()
            result.update({'changed': False, 'patched': False, 'image': ref.text, 'image_id': image['Id'],
                           'msg': 'nothing to update in %s: no package has a newer version in the configured '
                                  'sources' % ref.text})
            return self._finish(result, t0)
        if self.check_mode:
            result.update({'changed': True, 'patched': False, 'would_update': rows,
                           'msg': 'would update %d packages of %s into %s' % (len(rows), ref.text, output_tag)})
            result['fixed'] = self._fixed(wanted, plan)
            return self._finish(result, t0)
        after = self._apply(plan, before)
        changes = package_changes(before, after)
        new_image = self._commit(base, base_name, changes, output_tag)
        result.update(self._describe(base, new_image, changes, after))
        result['fixed'] = self._fixed(wanted, dict((row['name'], row) for row in changes if row['after']))
        result.update({'changed': True, 'patched': True, 'replaced': existing['Id'] if existing and
                       existing['Id'] != new_image['Id'] else None})
        if self.params.get('push'):
            result.update(self._push(output))
        result['msg'] = 'built %s (%d packages updated, patch layer %s)%s' % (
            output_tag, len(changes), human_bytes(result['layer_size']),
            ', pushed %s' % result['digest'] if result.get('digest') else '')
        return self._finish(result, t0)

    def _finish(self, result, t0):
        self.timings['total'] = round(time.time() - t0, 2)
        result['timings'] = self.timings
        return result

    # ---- inputs

    def _auth(self, ref):
        return auth_config(self.params, ref.registry)

    def _source_image(self, ref):
        image = self.engine.find_image(ref.text)
        if image is not None:
            return image
        if ref.tag is None and ref.digest is None:
            raise PatchError('image %s not found on %s' % (ref.text, self.host))
        self._pull(ref.name, ref.digest or ref.tag, ref, 'image %s' % ref.text)
        image = self.engine.find_image(ref.text)
        if image is None:
            raise PatchError('pulled %s but the engine on %s does not list it' % (ref.text, self.host))
        return image

    def _pull(self, name, tag, ref, what):
        def pull():
            try:
                for line in self.api.pull(name, tag=tag, stream=True, decode=True, auth_config=self._auth(ref)):
                    if isinstance(line, dict) and line.get('error'):
                        raise registry_failure(line.get('error'))
            except RegistryFailure:
                raise
            except Exception as exc:  # APIError, and requests errors when the engine goes away
                raise registry_failure(error_text(exc), not_found=isinstance(exc, NotFound))
        t0 = time.time()
        try:
            with_retries(pull, self.retries, self.delay, self.sleep)
        except RegistryFailure as exc:
            if exc.reason == 'not found':
                raise PatchError('%s not found: not on %s and not in its registry (%s)' % (what, self.host, exc.text),
                                 reason=exc.reason)
            raise PatchError('cannot pull %s on %s: %s (after %d attempts): %s'
                             % (what, self.host, exc.reason, exc.attempts, exc.text), reason=exc.reason)
        self.timings['pull'] = round(time.time() - t0, 2)

    def _base_of(self, image, ref):
        """The image to build on: the recorded base of a patched image, else the image itself."""
        labels = (image.get('Config') or {}).get('Labels') or {}
        base_id = labels.get(LABEL_BASE_ID)
        if not base_id:
            return image, ref.text
        base_name = labels.get(LABEL_BASE_NAME) or ''
        base = self.engine.find_image(base_id)
        if base is None and base_name and labels.get(LABEL_BASE_DIGEST):
            base_ref = parse_as(base_name, 'the recorded base %s' % LABEL_BASE_NAME, PatchError)
            self._pull(base_ref.name, labels[LABEL_BASE_DIGEST], base_ref,
                       'the recorded base %s@%s' % (base_ref.name, labels[LABEL_BASE_DIGEST]))
            base = self.engine.find_image(base_id)
        if base is None:
            raise PatchError('%s is a patched image of %s (%s), which is neither on %s nor pullable by its '
                             'recorded digest: pull the base first or patch the base reference instead'
                             % (ref.text, base_name or 'an unnamed base', base_id, self.host))
        if not is_patched_over(image, base):
            # Built FROM a patched image (labels inherited), not a patch itself: patch it as it is.
            return image, ref.text
        return base, base_name or base_id

    def _check_push_auth(self, output):
        digest, reason = remote_digest(self.engine, output, self._auth(output), self.params)
        if reason and reason.startswith('auth denied'):
            raise PatchError('registry %s denied access to %s (%s): check registry_username/registry_password; '
                             'nothing was built or pushed' % (output.registry, output.name, reason),
                             reason='auth denied')
        self._remote_before = digest

    def _report(self, image, base):
        path = self.params.get('report')
        if not path:
            return None, None, []
        try:
            report = load_report(path)
        except ScanError as exc:
            raise PatchError(exc.msg)
        rid = report.get('image_id') or ''
        if rid and rid not in (image['Id'], base['Id']):
            raise PatchError('report %s is for image %s, not %s (%s): scan this image and pass its report'
                             % (path, rid, self.params['image'], image['Id']), reason='report mismatch')
        wanted, no_fix = findings_to_fix(report)
        return report, wanted, no_fix

    def _validate_report(self, report, installed, image):
        """Every OS package the report names is installed, at the version it names when the report's image
        is the one the packages were listed from."""
        if not report:
            return
        exact = image['Id'] == self.subject_id
        for finding in report['findings']:
            if finding.get('class') != 'os-pkgs':
                continue
            have = installed.get(finding['package'])
            if have is None or exact and finding.get('installed') and have['version'] != finding['installed']:
                raise PatchError('report %s does not match %s: it names %s %s, the image has %s'
                                 % (report['source'], self.params['image'], finding['package'],
                                    finding.get('installed') or '', have['version'] if have else 'no such package'),
                                 reason='report mismatch')

    # ---- the throwaway container

    def _start(self, image):
        config = image.get('Config') or {}
        if not config.get('Entrypoint') and not config.get('Cmd'):
            raise PatchError('%s has neither ENTRYPOINT nor CMD: the engine\'s commit would give the patched image '
                             'the patch container\'s command; give the image a CMD first' % self.params['image'])
        self.subject_id = image['Id']
        kwargs = {'command': ['/bin/sh', '-c', SLEEPER]}
        if config.get('Entrypoint'):
            kwargs = {'entrypoint': ['/bin/sh', '-c'], 'command': [SLEEPER]}
        if config.get('User'):
            kwargs['user'] = '0'  # a non-empty User of the image is what the commit keeps
        if config.get('Healthcheck'):
            kwargs['healthcheck'] = {'test': ['NONE']}  # kept from the image by the commit (non-empty)
        network = self.params.get('network') or None
        host_config = self.api.create_host_config(tmpfs={'/tmp': 'rw,exec,mode=1777'}, network_mode=network)
        name = CONTAINER_PREFIX + uuid.uuid4().hex[:12]
        created = self.engine.call('create the patch container from %s' % image['Id'], self.api.create_container,
                                   image['Id'], name=name, host_config=host_config, **kwargs)
        self.container = created['Id']
        self.os_release = self._read_os_release()
        self._check_os()
        t0 = time.time()
        self.engine.call('start the patch container', self.api.start, self.container)
        self.timings['start'] = round(time.time() - t0, 2)

    def _remove_container(self):
        if not self.container:
            return
        cid, self.container = self.container, None
        try:
            self.api.remove_container(cid, v=True, force=True)
        except NotFound:
            pass
        except Exception as exc:  # the run's own error matters more; say what was left
            self.warn('could not remove the patch container %s on %s: %s' % (cid[:12], self.host, error_text(exc)))

    def _file(self, path):
        """(kind, content) of a file of the (created) container: kind 'file', 'link' or None."""
        try:
            stream, stat = self.api.get_archive(self.container, path)
        except NotFound:
            return None, None
        except Exception as exc:
            raise PatchError('cannot read %s from %s: %s' % (path, self.params['image'], error_text(exc)))
        data = b''.join(stream)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.issym() or member.islnk():
                    return 'link', member.linkname
                if member.isfile():
                    return 'file', tar.extractfile(member).read().decode('utf-8', 'replace')
        return None, None

    def _read_os_release(self):
        for path in ('/etc/os-release', '/usr/lib/os-release'):
            kind, content = self._file(path)
            if kind == 'file':
                return parse_os_release(content)
        return None

    @property
    def os_release_summary(self):
        release = self.os_release or {}
        return {'id': release.get('ID'), 'version_id': release.get('VERSION_ID'),
                'pretty_name': release.get('PRETTY_NAME'), 'family': os_family(release) if release else None}

    def _check_os(self):
        image = self.params['image']
        release = self.os_release
        has_shell = self._file('/bin/sh')[0] is not None
        if release is None:
            if not has_shell:
                raise PatchError('%s has no os-release and no shell: a distroless or scratch image has no package '
                                 'manager to patch it with; rebuild it from a patched base' % image,
                                 reason='distroless')
            raise PatchError('%s has no /etc/os-release: unknown OS, not supported yet' % image, reason='unknown os')
        family = os_family(release)
        name = release.get('PRETTY_NAME') or release.get('ID')
        if family == 'apt':
            tools = [p for p in ('/usr/bin/apt-get', '/usr/bin/dpkg') if self._file(p)[0] is None]
            if tools or not has_shell:
                raise PatchError('%s (%s) has no package manager (%s missing): a distroless image cannot be patched '
                                 'in place; rebuild it from a patched base' % (
                                     image, name, ', '.join(tools + ([] if has_shell else ['/bin/sh']))),
                                 reason='distroless')
            self.family = family
            return
        if family in UNSUPPORTED:
            raise PatchError('%s is %s (%s): not supported yet; image_patch patches Debian and Ubuntu (apt) images'
                             % (image, name, UNSUPPORTED[family]), reason='unsupported os')
        if family == 'busybox' or not has_shell:
            raise PatchError('%s (%s) has no package manager: nothing to patch it with; rebuild it from a '
                             'patched base' % (image, name), reason='no package manager')
        raise PatchError('%s is %s (os-release ID %s): unknown OS, not supported yet; image_patch patches Debian '
                         'and Ubuntu (apt) images' % (image, name, family), reason='unsupported os')

    # ---- exec

    def _exec(self, what, script, env=None, timeout=None):
        """Run ``script`` as root in the patch container; (exit code, output). Long steps run detached
        and are polled, so no API read waits on them."""
        timeout = timeout or self.params.get('step_timeout', 1800)
        out = '%s/out.%s' % (WORK, uuid.uuid4().hex[:8])
        wrapped = 'mkdir -p %s; (%s) >%s 2>&1' % (WORK, script, out)
        created = self.engine.call(what, self.api.exec_create, self.container, ['/bin/sh', '-c', wrapped],
                                   user='0', environment=env)
        self.engine.call(what, self.api.exec_start, created['Id'], detach=True)
        deadline = time.time() + timeout
        while True:
            state = self.engine.call(what, self.api.exec_inspect, created['Id'])
            if not state.get('Running'):
                break
            if time.time() > deadline:
                raise PatchError('%s in %s on %s took longer than %d s (step_timeout); nothing was built'
                                 % (what, self.params['image'], self.host, timeout))
            self.sleep(0.2)
        return state.get('ExitCode'), self._read_output(what, out)

    def _read_output(self, what, path):
        """A step's output file (on the patch container's tmpfs, which the archive endpoint cannot
        read). An engine under load can close an exec's stream before a short command's output
        reaches it (Podman often, Docker rarely), so the output ends with a marker, read again
        until it arrives."""
        marker = 'patchops-end-%s' % uuid.uuid4().hex[:8]
        for attempt in range(OUTPUT_READS):
            reader = self.engine.call(what, self.api.exec_create, self.container,
                                      ['/bin/sh', '-c', 'cat %s && echo %s' % (path, marker)], user='0')
            text = self.engine.call(what, self.api.exec_start, reader['Id'])
            if isinstance(text, bytes):
                text = text.decode('utf-8', 'replace')
            if text.rstrip().endswith(marker):
                return text.rstrip()[:-len(marker)]
            self.sleep(0.2 * (attempt + 1))
        raise PatchError('%s in %s on %s: the engine did not return its output in %d reads; nothing was built'
                         % (what, self.params['image'], self.host, OUTPUT_READS))

    def _apt(self):
        opts = ['-o', 'Dir::State::Lists=%s/lists' % WORK, '-o', 'Dir::Cache=%s/cache' % WORK,
                '-o', 'Dir::Log=%s/log' % WORK, '-o', 'Dpkg::Options::=--log=%s/dpkg.log' % WORK,
                '-o', 'APT::Sandbox::User=root', '-o', 'Acquire::Retries=0',
                '-o', 'Acquire::http::Timeout=%d' % self.params.get('fetch_timeout', 20),
                '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold',
                # no fsync per file: the container is thrown away if anything fails before the commit
                '-o', 'Dpkg::Options::=--force-unsafe-io',
                '-o', 'Dpkg::Use-Pty=0', '-o', 'APT::Color=0']
        if self.params.get('sources'):
            opts += ['-o', 'Dir::Etc::SourceList=%s/sources.list' % WORK, '-o', 'Dir::Etc::SourceParts=%s/parts' % WORK]
        if self.params.get('http_proxy'):
            opts += ['-o', 'Acquire::http::Proxy=%s' % self.params['http_proxy'],
                     '-o', 'Acquire::https::Proxy=%s' % self.params['http_proxy']]
        return 'apt-get -q ' + _shell_list(opts)

    def _installed(self):
        code, text = self._exec('list the installed packages',
                                "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\t${Installed-Size}\\n'")
        if code != 0:
            raise PatchError('cannot list the packages of %s: %s' % (self.params['image'], _tail(text)))
        return parse_dpkg_list(text)

    def _apt_update(self):
        prep = 'mkdir -p %s/lists/partial %s/cache/archives/partial %s/log %s/parts' % ((WORK,) * 4)
        if self.params.get('sources'):
            prep += '; printf "%%s\\n" %s >%s/sources.list' % (_shell_list(self.params['sources']), WORK)
        script = '%s; %s update' % (prep, self._apt())

        def update():
            code, text = self._exec('apt-get update', script)
            errors = [line for line in text.splitlines() if line.startswith(('Err:', 'E:', 'W: Failed', 'W: Some index'))]
            if code == 0 and not errors:
                return text
            low = text.lower()
            transient = any(word in low for word in _APT_NETWORK)
            raise RegistryFailure('package sources unreachable' if transient else 'apt-get update failed',
                                  _tail('\n'.join(errors) or text), transient)
        t0 = time.time()
        try:
            with_retries(update, self.retries, self.delay, self.sleep)
        except RegistryFailure as exc:
            raise PatchError('%s for %s on %s (after %d attempts; retries=%d, waited %s): %s; nothing was built'
                             % (exc.reason, self.params['image'], self.host, exc.attempts, self.retries,
                                ', '.join('%gs' % backoff(self.delay, n) for n in range(1, exc.attempts)) or 'nothing',
                                exc.text), reason=exc.reason)
        self.timings['update'] = round(time.time() - t0, 2)

    def _selection(self, installed, wanted):
        """The apt-get arguments of the update: all upgrades, or only-upgrade of named packages."""
        packages = self.params.get('packages') or []
        if wanted is not None:
            names = sorted(wanted)
        elif packages:
            missing = [p for p in packages if p.split('=')[0] not in installed]
            if missing:
                raise PatchError('%s: %s not installed in the image; packages names installed packages to update'
                                 % (self.params['image'], ', '.join(missing)), reason='not installed')
            names = list(packages)
        else:
            return ['--with-new-pkgs', 'upgrade']
        named = set(name.split('=')[0] for name in names)
        names = names + sorted(name for name in self.carry if name in installed and name not in named)
        return ['install', '--only-upgrade', '--no-install-recommends'] + names if names else None

    def _candidates(self, names):
        script = '; '.join('printf "%%s\\t%%s\\n" %s "$(apt-cache %s policy %s | awk \'$1 == "Candidate:" {print $2}\')"'
                           % (shlex.quote(n), self._apt()[len('apt-get -q '):], shlex.quote(n)) for n in names)
        code, text = self._exec('read candidate versions', script)
        out = {}
        for line in text.splitlines():
            parts = line.split('\t')
            if len(parts) == 2:
                out[parts[0]] = parts[1] if parts[1] not in ('', '(none)') else None
        return out

    def _version_ge(self, pairs):
        """For pairs (a, b) of Debian versions: is a >= b (dpkg's own comparison, in the container)."""
        if not pairs:
            return []
        script = '; '.join('if dpkg --compare-versions %s ge %s; then echo 1; else echo 0; fi'
                           % (shlex.quote(a or '0~'), shlex.quote(b)) for a, b in pairs)
        code, text = self._exec('compare package versions', script)
        answers = [line.strip() == '1' for line in text.splitlines() if line.strip() in ('0', '1')]
        if len(answers) != len(pairs):
            raise PatchError('cannot compare package versions in %s: %s' % (self.params['image'], _tail(text)))
        return answers

    def _plan(self, installed, wanted):
        """Simulate the update: ({package: {before, after}}, open findings)."""
        open_findings = []
        if wanted is not None:
            wanted, open_findings = self._reachable(installed, wanted)
        args = self._selection(installed, wanted)
        if args is None:
            return {}, open_findings
        code, text = self._exec('simulate the update', '%s -s %s' % (self._apt(), _shell_list(args)))
        if code != 0:
            raise PatchError('apt-get cannot plan the update of %s: %s' % (self.params['image'], _tail(text)))
        return parse_simulation(text), open_findings

    def _reachable(self, installed, wanted):
        """Report packages whose candidate reaches a fixed version and is newer than the installed one."""
        candidates = self._candidates(sorted(wanted))
        pairs, index = [], []
        for name in sorted(wanted):
            for finding in wanted[name]:
                for fixed in finding['fixed']:
                    pairs.append((installed[name]['version'], fixed))
                    pairs.append((candidates.get(name), fixed))
                    index.append((name, finding, fixed))
        answers = self._version_ge(pairs)
        reach, open_findings = {}, []
        per_finding = {}
        for n, (name, finding, fixed) in enumerate(index):
            already, reached = answers[2 * n], answers[2 * n + 1] and candidates.get(name) is not None
            state = per_finding.setdefault(id(finding), {'finding': finding, 'already': False, 'reached': False})
            state['already'] = state['already'] or already
            state['reached'] = state['reached'] or reached
        for state in per_finding.values():
            finding = state['finding']
            if state['already']:
                continue
            if state['reached']:
                reach.setdefault(finding['package'], []).append(finding)
            else:
                open_findings.append(dict(finding, reason='no fixed version in the configured sources (candidate %s)'
                                          % (candidates.get(finding['package']) or 'none')))
        self.fixed_targets = reach
        return reach, open_findings

    def _fixed(self, wanted, changes):
        if wanted is None:
            return []
        return [dict(finding, updated_to=changes[name]['after'])
                for name, findings in sorted((getattr(self, 'fixed_targets', None) or {}).items())
                for finding in findings if name in changes]

    def _apply(self, plan, before):
        wanted = getattr(self, 'fixed_targets', None)
        args = self._selection(before, wanted if self.params.get('report') else None)
        env = ['DEBIAN_FRONTEND=noninteractive', 'DEBCONF_NONINTERACTIVE_SEEN=true', 'LC_ALL=C']
        t0 = time.time()
        code, text = self._exec('apt-get %s' % args[0], '%s -y %s' % (self._apt(), _shell_list(args)), env=env)
        if code != 0:
            raise PatchError('apt-get failed in %s on %s (exit %s): %s; nothing was built'
                             % (self.params['image'], self.host, code, _tail(text)))
        self._exec('clean the package caches', 'rm -rf %s/lists %s/cache' % (WORK, WORK))
        self.timings['install'] = round(time.time() - t0, 2)
        after = self._installed()
        missed = [name for name, change in plan.items() if (after.get(name) or {}).get('version') != change['after']]
        if missed:
            raise PatchError('the update of %s did not install the planned versions of %s; nothing was built'
                             % (self.params['image'], ', '.join(sorted(missed))))
        return after

    # ---- commit, describe, push

    def _commit(self, base, base_name, changes, output_tag):
        t0 = time.time()
        self.engine.call('stop the patch container', self.api.kill, self.container)
        self.engine.call('stop the patch container', self.api.wait, self.container, timeout=60)
        labels = {LABEL_BASE_NAME: base_name, LABEL_BASE_ID: base['Id'], LABEL_TOOL: TOOL, LABEL_CREATED: _stamp(),
                  LABEL_PACKAGES: ' '.join('%s=%s' % (row['name'], row['after']) for row in changes if row['after'])}
        digest = _repo_digest(base, base_name)
        if digest:
            labels[LABEL_BASE_DIGEST] = digest
        config = commit_config(base.get('Config'), labels)
        committed = self.engine.call('commit the patch layer', self.api.commit, self.container,
                                     message='%s: %d packages' % (TOOL, len(changes)), author=TOOL, conf=config)
        new_id = committed['Id']
        try:
            new_image = self.engine.call('inspect the patched image', self.api.inspect_image, new_id)
            wrong = layer_changes(_layers(base), _layers(new_image))
            if wrong:
                raise PatchError('the commit of %s is not one layer over its base: %s; nothing was kept' % (
                    self.params['image'], wrong))
            differ = compare_configs(base.get('Config'), new_image.get('Config'))
            if differ:
                raise PatchError('the commit of %s changed its config (%s); nothing was kept'
                                 % (self.params['image'], ', '.join(differ)))
            repository, tag = output_tag.rsplit(':', 1)
            self.engine.call('tag %s' % output_tag, self.api.tag, new_id, repository, tag)
        except BaseException:
            self._remove_image(new_id)
            raise
        self.timings['commit'] = round(time.time() - t0, 2)
        self._remove_container()
        return self.engine.call('inspect the patched image', self.api.inspect_image, new_id)

    def _remove_image(self, image_id):
        try:
            self.api.remove_image(image_id)
        except Exception as exc:  # pragma: no cover - reported, the run's own error matters more
            self.warn('could not remove the unfinished image %s on %s: %s' % (image_id[:19], self.host, error_text(exc)))

    def _describe(self, base, image, changes, after):
        installed = sum(after[row['name']]['installed_kib'] for row in changes if row['after'] and row['name'] in after)
        return {'image_id': image['Id'], 'layers': len(_layers(image)),
                'layer_size': int(image.get('Size') or 0) - int(base.get('Size') or 0),
                'updated_installed_size': installed * 1024, 'packages': changes}

    def _unchanged(self, existing, output, output_tag):
        self._remove_container()
        out = {'changed': False, 'patched': True, 'image_id': existing['Id'], 'layers': len(_layers(existing)),
               'packages': [], 'msg': '%s is up to date: built from the same base, nothing left to update' % output_tag}
        labels = (existing.get('Config') or {}).get('Labels') or {}
        out['built_packages'] = labels.get(LABEL_PACKAGES, '')
        if self.params.get('push'):
            local = _repo_digest(existing, output_tag)
            remote = getattr(self, '_remote_before', None)
            if remote and local == remote:
                out['digest'] = remote
            elif self.check_mode:
                out.update({'changed': True, 'msg': 'would push %s' % output_tag})
            else:
                out.update(self._push(output))
                out['changed'] = True
                out['msg'] = 'pushed %s (%s): it was built before, the registry lacked it' % (output_tag, out['digest'])
        return out

    def _push(self, output):
        repository, tag = output.tagged().rsplit(':', 1)
        found = {}

        def push():
            try:
                for line in self.api.push(repository, tag=tag, stream=True, decode=True,
                                          auth_config=self._auth(output)):
                    if isinstance(line, dict):
                        if line.get('error'):
                            raise registry_failure(line.get('error'))
                        digest = (line.get('aux') or {}).get('Digest')
                        if digest:
                            found['digest'] = digest
            except RegistryFailure:
                raise
            except Exception as exc:  # APIError, requests errors
                raise registry_failure(error_text(exc))
        t0 = time.time()
        try:
            dummy, attempts = with_retries(push, self.retries, self.delay, self.sleep)
        except RegistryFailure as exc:
            raise PatchError('cannot push %s from %s: %s (after %d attempts): %s; the patched image stays on this '
                             'host under its tag, a rerun pushes it' % (output.tagged(), self.host, exc.reason,
                                                                        exc.attempts, exc.text), reason=exc.reason)
        self.timings['push'] = round(time.time() - t0, 2)
        digest = found.get('digest')
        return {'digest': digest, 'repo_digest': '%s@%s' % (output.name, digest) if digest else None,
                'push_attempts': attempts}


def _repo_digest(image, name):
    """The registry digest of ``image`` in the repository of ``name`` (or any), else None."""
    digests = image.get('RepoDigests') or []
    try:
        repo = parse(name).name if name else None
    except ImageRefError:
        repo = None
    for text in digests:
        if repo and text.split('@', 1)[0] == repo:
            return text.split('@', 1)[1]
    return digests[0].split('@', 1)[1] if digests else None


def _stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _tail(text, limit=800):
    text = (text or '').strip()
    return text if len(text) <= limit else '...' + text[-limit:]


__all__ = ['ImagePatcher', 'PatchError', 'EngineError']
