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

Re-patching a patched image starts again from the base its labels record. Distroless: ``_distroless``.
"""

from __future__ import annotations

import time

from ansible_collections.patchops.containers.plugins.module_utils._apt import package_changes
from ansible_collections.patchops.containers.plugins.module_utils._distroless import DistrolessRun
from ansible_collections.patchops.containers.plugins.module_utils._engine import EngineError, error_text
from ansible_collections.patchops.containers.plugins.module_utils._imageref import ImageRefError, parse, parse_as
from ansible_collections.patchops.containers.plugins.module_utils._patchcontainer import AptRun, PatchContainer, PatchError
from ansible_collections.patchops.containers.plugins.module_utils._registry import (
    RegistryFailure, auth_config, pull, registry_failure, remote_digest, with_retries)
from ansible_collections.patchops.containers.plugins.module_utils._scan_report import ScanError, load_report
from ansible_collections.patchops.containers.plugins.module_utils._stage_space import human_bytes
from ansible_collections.patchops.containers.plugins.module_utils._time import utc_now

LABEL_BASE_NAME = 'org.opencontainers.image.base.name'
LABEL_BASE_DIGEST = 'org.opencontainers.image.base.digest'
LABEL_BASE_ID = 'io.patchops.patch.base-id'
LABEL_PACKAGES = 'io.patchops.patch.packages'
LABEL_CREATED = 'io.patchops.patch.created'
LABEL_TOOL = 'io.patchops.patch.tool'
TOOL = 'patchops.containers.image_patch'
PATCH_LABELS = (LABEL_BASE_NAME, LABEL_BASE_DIGEST, LABEL_BASE_ID, LABEL_PACKAGES, LABEL_CREATED, LABEL_TOOL)


# -- pure helpers ---------------------------------------------------------------------------

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
        self.timings = {}
        self.box = PatchContainer(engine, params['image'], self.timings, self.warn, sleep,
                                  params.get('step_timeout', 1800))
        self.apt_run = AptRun(self.box, params, self.retries, self.delay, sleep)
        self.distroless = DistrolessRun(self.box, params, self.retries, self.delay, self._source_image, sleep)
        self.remote_before = None  # the output's registry digest before the run (with push)

    # ---- entry point

    def run(self):
        t0 = time.monotonic()
        try:
            return self._run(t0)
        finally:
            self.box.remove()
            self.distroless.remove()

    @property
    def apt(self):
        """The package steps for the image in the patch container: apt in it, or the tooling container's."""
        return self.distroless if self.box.status_d is not None else self.apt_run

    def _run(self, t0):
        ref = parse_as(self.params['image'], 'image', PatchError)
        image = self._source_image(ref)
        base, base_name = self._base_of(image, ref)
        # Re-patching with a selection keeps what the earlier patch updated (it is rebuilt from the base).
        self.apt_run.carry = self.distroless.carry = [] if image['Id'] == base['Id'] else previous_packages(image)
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
        self.box.start(subject, self.params.get('network'))
        before = self.apt.installed()
        self._validate_report(report, before, image)
        self.apt.update()
        plan, open_findings = self.apt.plan(before, wanted)
        result = {
            'image': output_tag, 'base': {'name': base_name, 'id': base['Id'], 'digest': _repo_digest(base, base_name),
                                          'layers': len(_layers(base))},
            'source': {'reference': ref.text, 'id': image['Id'], 'patched_image': image['Id'] != base['Id']},
            'os': self.box.os_summary, 'packages': [], 'would_update': [], 'open': unfixed + open_findings,
            'fixed': [], 'report': report and {'source': report['source'], 'scanner': report['scanner']},
        }
        if reuse and not plan:
            result.update(self._unchanged(existing, output, output_tag))
            return self._finish(result, t0)
        if reuse:
            # The existing patch is behind: build again from the base, with every update the base lacks.
            self.box.remove()
            self.box.start(base, self.params.get('network'))
            before = self.apt.installed()
            self.apt.update()
            plan, open_findings = self.apt.plan(before, wanted)
            result['open'] = unfixed + open_findings
        rows = [{'name': name, 'before': change['before'], 'after': change['after']}
                for name, change in sorted(plan.items())]
        if not plan:
            self.box.remove()
            result.update({'changed': False, 'patched': False, 'image': ref.text, 'image_id': image['Id'],
                           'msg': 'nothing to update in %s: no package has a newer version in the configured '
                                  'sources' % ref.text})
            return self._finish(result, t0)
        if self.check_mode:
            result.update({'changed': True, 'patched': False, 'would_update': rows,
                           'msg': 'would update %d packages of %s into %s' % (len(rows), ref.text, output_tag)})
            result['fixed'] = self.apt.fixed(wanted, plan)
            return self._finish(result, t0)
        after = self.apt.apply(plan, before)
        changes = package_changes(before, after)
        new_image = self._commit(base, base_name, changes, output_tag)
        result.update(self._describe(base, new_image, changes, after))
        result['fixed'] = self.apt.fixed(wanted, dict((row['name'], row) for row in changes if row['after']))
        result.update({'changed': True, 'patched': True, 'replaced': existing['Id'] if existing and
                       existing['Id'] != new_image['Id'] else None})
        if self.params.get('push'):
            result.update(self._push(output))
        result['msg'] = 'built %s (%d packages updated, patch layer %s)%s' % (
            output_tag, len(changes), human_bytes(result['layer_size']),
            ', pushed %s' % result['digest'] if result.get('digest') else '')
        return self._finish(result, t0)

    def _finish(self, result, t0):
        self.timings['total'] = round(time.monotonic() - t0, 2)
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
        self._pull(ref.digest or ref.tag, ref, 'image %s' % ref.text)
        image = self.engine.find_image(ref.text)
        if image is None:
            raise PatchError('pulled %s but the engine on %s does not list it' % (ref.text, self.host))
        return image

    def _pull(self, tag, ref, what):
        t0 = time.monotonic()
        try:
            pull(self.engine, ref, tag, self._auth(ref), self.retries, self.delay, self.sleep)
        except RegistryFailure as exc:
            if exc.reason == 'not found':
                raise PatchError('%s not found: not on %s and not in its registry (%s)' % (what, self.host, exc.text),
                                 reason=exc.reason)
            raise PatchError('cannot pull %s on %s: %s (after %d attempts): %s'
                             % (what, self.host, exc.reason, exc.attempts, exc.text), reason=exc.reason)
        self.timings['pull'] = round(time.monotonic() - t0, 2)

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
            self._pull(labels[LABEL_BASE_DIGEST], base_ref,
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
        self.remote_before = digest

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
        exact = image['Id'] == self.box.subject_id
        for finding in report['findings']:
            if finding.get('class') != 'os-pkgs':
                continue
            have = installed.get(finding['package'])
            if have is None or exact and finding.get('installed') and have['version'] != finding['installed']:
                raise PatchError('report %s does not match %s: it names %s %s, the image has %s'
                                 % (report['source'], self.params['image'], finding['package'],
                                    finding.get('installed') or '', have['version'] if have else 'no such package'),
                                 reason='report mismatch')

    # ---- commit, describe, push

    def _commit(self, base, base_name, changes, output_tag):
        t0 = time.monotonic()
        self.box.stop()
        labels = {LABEL_BASE_NAME: base_name, LABEL_BASE_ID: base['Id'], LABEL_TOOL: TOOL, LABEL_CREATED: _stamp(),
                  LABEL_PACKAGES: ' '.join('%s=%s' % (row['name'], row['after']) for row in changes if row['after'])}
        digest = _repo_digest(base, base_name)
        if digest:
            labels[LABEL_BASE_DIGEST] = digest
        config = commit_config(base.get('Config'), labels)
        committed = self.engine.call('commit the patch layer', self.api.commit, self.box.id,
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
            self.engine.tag(new_id, parse(output_tag))
        except BaseException:
            self._remove_image(new_id)
            raise
        self.timings['commit'] = round(time.monotonic() - t0, 2)
        self.box.remove()
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
        self.box.remove()
        out = {'changed': False, 'patched': True, 'image_id': existing['Id'], 'layers': len(_layers(existing)),
               'packages': [], 'msg': '%s is up to date: built from the same base, nothing left to update' % output_tag}
        labels = (existing.get('Config') or {}).get('Labels') or {}
        out['built_packages'] = labels.get(LABEL_PACKAGES, '')
        if self.params.get('push'):
            local = _repo_digest(existing, output_tag)
            remote = self.remote_before
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
        t0 = time.monotonic()
        try:
            dummy, attempts = with_retries(push, self.retries, self.delay, self.sleep)
        except RegistryFailure as exc:
            raise PatchError('cannot push %s from %s: %s (after %d attempts): %s; the patched image stays on this '
                             'host under its tag, a rerun pushes it' % (output.tagged(), self.host, exc.reason,
                                                                        exc.attempts, exc.text), reason=exc.reason)
        self.timings['push'] = round(time.monotonic() - t0, 2)
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
    return utc_now().strftime('%Y-%m-%dT%H:%M:%SZ')


__all__ = ['ImagePatcher', 'PatchError', 'EngineError']
