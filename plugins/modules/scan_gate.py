#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: scan_gate
short_description: Decide from Trivy or Grype reports whether a patched image should be rolled out
version_added: 0.1.0
author:
  - patchops.containers developers (@patchops)
description:
  - Compares the vulnerability report of each current image with the report of its patched
    image and decides, per image, to V(patch), V(skip) or V(refuse).
  - Reads Trivy JSON reports (C(trivy image --format json), SchemaVersion 2) and Grype JSON
    reports (C(grype -o json)); the format is detected from the content.
  - Findings are normalised, de-duplicated on vulnerability ID, package and installed version, and
    matched between the two reports on vulnerability ID and package, so that a package upgrade
    that does not remove a vulnerability counts as still open.
  - A patch is refused when it introduces a finding whose severity is in O(fail_on_new), or when
    the patched image still has findings above O(max_severity). Otherwise it is skipped when it fixes
    nothing and O(require_fix=true), and patched in all other cases.
  - When a report path is not given, the module runs C(trivy) or C(grype) itself on
    O(images[].current_image) or O(images[].patched_image).
  - Every report is read and validated before any decision is made. A malformed, truncated or
    unknown report fails the module with a message naming the file and the place that is wrong.
  - The module never changes anything. It runs wherever it is placed, for example on the
    controller with C(delegate_to) set to V(localhost) when the reports are there.
options:
  images:
    description:
      - The images to decide on, each with a report (or an image to scan) for the current and the
        patched image.
      - One of O(images) and O(count) is required.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - A label for the decision, for example the container name or the image reference.
          - Must be unique within O(images).
        type: str
        required: true
      current_report:
        description:
          - Path of the Trivy or Grype JSON report of the image running now.
          - Mutually exclusive with O(images[].current_image); one of them is required.
        type: path
      patched_report:
        description:
          - Path of the Trivy or Grype JSON report of the patched image.
          - Mutually exclusive with O(images[].patched_image); one of them is required.
        type: path
      current_image:
        description:
          - Image reference to scan with the scanner on this host when there is no O(images[].current_report).
        type: str
      patched_image:
        description:
          - Image reference to scan with the scanner on this host when there is no O(images[].patched_report).
        type: str
  count:
    description:
      - Reports whose findings are only counted per severity, with no decision (for an inventory).
        Each is read and validated as the reports of O(images) are.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - A label for the counts, for example the container name. Must be unique within O(count).
        type: str
        required: true
      report:
        description: Path of the Trivy or Grype JSON report.
        type: path
        required: true
  fail_on_new:
    description:
      - Severities a patch must not introduce. A finding in the patched image that is not in the
        current image with one of these severities makes the decision V(refuse).
      - Use V([]) to never refuse for new findings.
    type: list
    elements: str
    choices: [UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL]
    default: [CRITICAL, HIGH]
  require_fix:
    description:
      - Skip a patch that fixes no finding of the current image.
    type: bool
    default: false
  max_severity:
    description:
      - Refuse to roll out a patched image that still has findings of a higher severity than this,
        whether new or already present in the current image.
      - V(UNKNOWN) is the lowest severity.
      - When not set, the remaining severities do not matter.
    type: str
    choices: [UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL]
  ignore:
    description:
      - Vulnerability IDs to leave out of all counts and rules, each with the reason it is accepted.
      - Ignored findings are still listed in RV(decisions[].ignored).
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description:
          - Vulnerability ID as the scanner writes it, for example V(CVE-2024-1234) or
            V(GHSA-xxxx-xxxx-xxxx). Compared without regard to case.
        type: str
        required: true
      reason:
        description:
          - Why this finding is accepted; returned with the ignored findings.
        type: str
        required: true
  scanner:
    description:
      - Scanner to run when a report path is not given.
      - V(auto) uses C(trivy) if it is on the E(PATH), else C(grype).
      - Not used for report files, whose format is detected.
    type: str
    choices: [auto, trivy, grype]
    default: auto
  offline:
    description:
      - When running a scanner, do not update its vulnerability database nor reach the network for it
        (C(trivy --skip-db-update --skip-java-db-update --offline-scan),
        E(GRYPE_DB_AUTO_UPDATE=false)). The database must already be present.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return the same decisions.
  diff_mode:
    support: none
    description: Nothing is changed, there is no diff.
  idempotent:
    support: full
    description: Never changes anything; the same reports give the same decisions.
notes:
  - Ignored IDs are matched against both reports. An O(ignore) entry that matches no finding in any
    report gives a warning, since it is probably stale.
  - Reports of the current and the patched image should come from the same scanner with the same
    database; a warning is given when the scanners differ.
  - Copacetic (C(copa patch)) patches only C(os-pkgs) findings that have a fixed version; the
    C(lang-pkgs) findings of its patched images normally stay open.
seealso:
  - name: Trivy JSON report
    description: The Trivy report format read by this module.
    link: https://trivy.dev/latest/docs/configuration/reporting/
  - name: Grype output formats
    description: The Grype report format read by this module.
    link: https://github.com/anchore/grype#supported-output-formats
"""

EXAMPLES = r"""
- name: Decide from reports made in the pipeline
  patchops.containers.scan_gate:
    images:
      - name: web
        current_report: /srv/scans/web-current.json
        patched_report: /srv/scans/web-patched.json
      - name: api
        current_report: /srv/scans/api-current.json
        patched_report: /srv/scans/api-patched.json
    fail_on_new: [CRITICAL, HIGH]
    require_fix: true
    max_severity: HIGH
    ignore:
      - id: CVE-2011-3374
        reason: apt signature check, not reachable in our images
  delegate_to: localhost
  register: gate

- name: Stop when a patch is refused
  ansible.builtin.assert:
    that: gate.summary.refuse == 0
    fail_msg: "{{ gate.decisions | selectattr('decision', 'eq', 'refuse') | map(attribute='reasons') | list }}"

- name: Scan the images on the Docker host itself with trivy (its database already there)
  patchops.containers.scan_gate:
    images:
      - name: web
        current_image: registry.example.com/web:1.4
        patched_image: registry.example.com/web:1.4-patched
    scanner: trivy
    offline: true
  register: gate_scanned

- name: Count the findings of the reports of running containers, per severity
  patchops.containers.scan_gate:
    count:
      - name: web
        report: /srv/scans/web-current.json
  delegate_to: localhost
  register: found

- name: Only the images worth patching
  ansible.builtin.set_fact:
    patch_list: "{{ gate.decisions | selectattr('decision', 'eq', 'patch') | map(attribute='name') | list }}"
"""

RETURN = r"""
decisions:
  description: One decision per image, in the order of O(images).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The O(images[].name) of the image.
      type: str
      returned: always
      sample: web
    decision:
      description: V(patch), V(skip) or V(refuse).
      type: str
      returned: always
      sample: patch
    reasons:
      description: Human readable reasons; the first ones decide, the others give the counts.
      type: list
      elements: str
      returned: always
      sample:
        - "the patched image fixes 3 findings (1 HIGH, 2 MEDIUM)"
        - "the patched image introduces nothing"
        - "the patched image leaves open 1 finding (1 LOW)"
    counts:
      description: Number of findings per severity in RV(decisions[].fixed), RV(decisions[].introduced)
        and RV(decisions[].still_open). Every severity is present.
      type: dict
      returned: always
      contains:
        fixed:
          description: Counts of the fixed findings by severity.
          type: dict
          returned: always
          sample: {CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 0, UNKNOWN: 0}
        introduced:
          description: Counts of the introduced findings by severity.
          type: dict
          returned: always
          sample: {CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0}
        still_open:
          description: Counts of the findings still open by severity.
          type: dict
          returned: always
          sample: {CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 1, UNKNOWN: 0}
    fixed:
      description:
        - Findings of the current image that are not in the patched image, as in the current report.
        - Each finding has C(id), C(package), C(installed), C(fixed) (list of fixed versions),
          C(severity), C(class) (C(os-pkgs) or C(lang-pkgs)) and C(target).
      type: list
      elements: dict
      returned: always
      sample:
        - id: CVE-2024-5535
          package: libssl3
          installed: 3.0.11-1~deb12u2
          fixed: [3.0.13-1~deb12u1]
          severity: HIGH
          class: os-pkgs
          target: "web:1.4 (debian 12.5)"
    introduced:
      description: Findings of the patched image that are not in the current image, same keys as RV(decisions[].fixed).
      type: list
      elements: dict
      returned: always
      sample: []
    still_open:
      description: Findings in both images, as in the patched report, same keys as RV(decisions[].fixed).
      type: list
      elements: dict
      returned: always
      sample: []
    ignored:
      description:
        - Findings left out because of O(ignore), with the keys of RV(decisions[].fixed) plus C(reason) and
          C(found_in) (a list of V(current) and/or V(patched)).
      type: list
      elements: dict
      returned: always
      sample:
        - id: CVE-2011-3374
          package: apt
          installed: 2.6.1
          fixed: []
          severity: LOW
          class: os-pkgs
          target: "web:1.4 (debian 12.5)"
          reason: apt signature check, not reachable in our images
          found_in: [current, patched]
    current:
      description: Where the current image's findings came from.
      type: dict
      returned: always
      contains:
        scanner:
          description: V(trivy) or V(grype).
          type: str
          returned: always
          sample: trivy
        source:
          description: The report path, or the scan that was run.
          type: str
          returned: always
          sample: /srv/scans/web-current.json
        artifact:
          description: The scanned artifact as the report names it; empty if the report does not say.
          type: str
          returned: always
          sample: registry.example.com/web:1.4
        os:
          description: Operating system family and version as the report names it; empty if unknown.
          type: str
          returned: always
          sample: debian 12.5
        image_id:
          description: Image ID as the report gives it; empty if unknown.
          type: str
          returned: always
          sample: sha256:5d1b4c3d6e2f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b
    patched:
      description: Where the patched image's findings came from; same keys as RV(decisions[].current).
      type: dict
      returned: always
      sample:
        scanner: trivy
        source: /srv/scans/web-patched.json
        artifact: registry.example.com/web:1.4-patched
        os: debian 12.5
        image_id: sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
counts:
  description: For each O(count[].name), the number of findings of its report per severity; every severity is present.
  returned: success
  type: dict
  sample: {web: {UNKNOWN: 0, LOW: 3, MEDIUM: 2, HIGH: 1, CRITICAL: 0}}
summary:
  description: Number of images per decision; every decision is present.
  returned: success
  type: dict
  sample: {patch: 1, skip: 0, refuse: 1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.patchops.containers.plugins.module_utils._scan import (
    DEFAULT_FAIL_ON_NEW,
    evaluate,
    make_policy,
    run_scanner,
    summarise,
    unused_ignores,
)
from ansible_collections.patchops.containers.plugins.module_utils._scan_report import (
    SEVERITIES,
    ScanError,
    count_by_severity,
    load_report,
)


def argument_spec():
    return dict(
        images=dict(
            type='list', elements='dict',
            options=dict(
                name=dict(type='str', required=True),
                current_report=dict(type='path'),
                patched_report=dict(type='path'),
                current_image=dict(type='str'),
                patched_image=dict(type='str'),
            ),
            mutually_exclusive=[('current_report', 'current_image'), ('patched_report', 'patched_image')],
            required_one_of=[('current_report', 'current_image'), ('patched_report', 'patched_image')],
        ),
        fail_on_new=dict(type='list', elements='str', choices=list(SEVERITIES),
                         default=list(DEFAULT_FAIL_ON_NEW)),
        require_fix=dict(type='bool', default=False),
        max_severity=dict(type='str', choices=list(SEVERITIES)),
        ignore=dict(
            type='list', elements='dict', default=[],
            options=dict(
                id=dict(type='str', required=True),
                reason=dict(type='str', required=True),
            ),
        ),
        count=dict(
            type='list', elements='dict',
            options=dict(
                name=dict(type='str', required=True),
                report=dict(type='path', required=True),
            ),
        ),
        scanner=dict(type='str', choices=['auto', 'trivy', 'grype'], default='auto'),
        offline=dict(type='bool', default=True),
    )


class Gate:
    """Loads every report first, then decides: never a decision on partial data."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self._scans = {}
        self.counts = {}

    def report(self, image, which):
        path = image['%s_report' % which]
        if path:
            return load_report(path)
        ref = image['%s_image' % which]
        if ref not in self._scans:  # one image may back several entries: scan it once
            self._scans[ref] = run_scanner(ref, self.module.run_command, self.module.get_bin_path,
                                           scanner=self.params['scanner'], offline=self.params['offline'])
        return self._scans[ref]

    def run(self):
        policy = make_policy(self.params['fail_on_new'], self.params['require_fix'],
                             self.params['max_severity'], self.params['ignore'])
        images = self.params['images'] or []
        _check_names(images, 'images')
        _check_names(self.params['count'] or [], 'count')
        pairs = [(image['name'], self.report(image, 'current'), self.report(image, 'patched'))
                 for image in images]
        self.counts = dict((entry['name'], count_by_severity(load_report(entry['report'])['findings']))
                           for entry in self.params['count'] or [])
        decisions = [evaluate(name, current, patched, policy) for name, current, patched in pairs]
        self._warn(decisions, policy)
        return decisions

    def _warn(self, decisions, policy):
        for record in decisions:
            if record['current']['scanner'] != record['patched']['scanner']:
                self.module.warn('%s: the current image was scanned with %s and the patched image with %s; '
                                 'findings of different scanners do not compare well'
                                 % (record['name'], record['current']['scanner'], record['patched']['scanner']))
        for vuln_id in unused_ignores(decisions, policy):
            self.module.warn('ignore: %s matches no finding in any report (stale entry?)' % vuln_id)


def _check_names(images, option):
    seen = set()
    for image in images:
        if image['name'] in seen:
            raise ScanError("%s: the name '%s' is given twice; names label the %s and must be unique"
                            % (option, image['name'], 'decisions' if option == 'images' else 'counts'))
        seen.add(image['name'])


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[('images', 'count')])
    gate = Gate(module)
    try:
        decisions = gate.run()
    except ScanError as exc:
        module.fail_json(msg=exc.msg, changed=False)
    module.exit_json(changed=False, decisions=decisions, counts=gate.counts, summary=summarise(decisions))


if __name__ == '__main__':
    main()
