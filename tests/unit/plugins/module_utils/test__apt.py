# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import shlex

from ansible_collections.patchops.containers.plugins.module_utils._apt import (
    WORK,
    apt_get,
    apt_options,
    candidates_script,
    compare_script,
    missed_versions,
    missing_packages,
    os_family,
    os_problem,
    package_changes,
    parse_candidates,
    parse_compare,
    parse_dpkg_list,
    parse_simulation,
    reachable,
    selection,
    update_failure,
    update_script,
    version_pairs,
)

SIMULATION = """Reading package lists...
Inst zlib1g [1:1.2.13.dfsg-1] (1:1.2.13.dfsg-1+deb12u1 patchops-lab:./ [amd64])
Inst libnew1 (2.0-1 patchops-lab:./ [amd64])
Conf zlib1g (1:1.2.13.dfsg-1+deb12u1 patchops-lab:./ [amd64])
Inst libc6:amd64 [2.36-9] (2.36-9+deb12u4 Debian-Security:12/oldstable-security [amd64]) []
"""
DEBIAN = {'ID': 'debian', 'PRETTY_NAME': 'Debian GNU/Linux 12 (bookworm)'}


def test_family():
    assert os_family(DEBIAN) == 'apt'
    assert os_family({'ID': 'linuxmint', 'ID_LIKE': 'ubuntu debian'}) == 'apt'
    assert os_family({'ID': 'alpine'}) == 'alpine'
    assert os_family({}) == 'unknown'


def test_os_problem_names_the_image_and_the_reason():
    assert os_problem('app:v1', DEBIAN, True, []) is None
    msg, reason = os_problem('app:v1', DEBIAN, True, ['/usr/bin/apt-get'])
    assert reason == 'distroless' and 'app:v1 (Debian GNU/Linux 12 (bookworm))' in msg and '/usr/bin/apt-get' in msg
    assert '/bin/sh missing' in os_problem('app:v1', DEBIAN, False, [])[0]
    assert os_problem('app:v1', None, False, [])[1] == 'distroless'
    assert os_problem('app:v1', None, True, [])[1] == 'unknown os'
    msg, reason = os_problem('a:1', {'ID': 'alpine', 'PRETTY_NAME': 'Alpine Linux v3.19'}, True, [])
    assert reason == 'unsupported os' and 'Alpine (apk)' in msg
    assert os_problem('bb:1', {'ID': 'busybox'}, True, [])[1] == 'no package manager'
    assert os_problem('x:1', {'ID': 'plan9'}, True, [])[1] == 'unsupported os'
    assert os_problem('x:1', {'ID': 'plan9'}, False, [])[1] == 'no package manager'


def test_options_keep_apt_state_under_work():
    opts = shlex.split(apt_options())
    assert 'Dir::State::Lists=%s/lists' % WORK in opts and 'Acquire::http::Timeout=20' in opts
    assert not any('SourceList' in o or 'Proxy' in o for o in opts)
    opts = shlex.split(apt_options(5, own_sources=True, http_proxy='http://proxy:3128'))
    assert 'Acquire::http::Timeout=5' in opts and 'Dir::Etc::SourceList=%s/sources.list' % WORK in opts
    assert 'Acquire::https::Proxy=http://proxy:3128' in opts


def test_command_lines():
    opts = apt_options()
    assert apt_get(opts, ['install', 'a b']) == "apt-get -q %s -y install 'a b'" % opts
    assert apt_get(opts, ['upgrade'], simulate=True) == 'apt-get -q %s -s upgrade' % opts
    assert update_script(opts).endswith('; apt-get -q %s update' % opts)
    script = update_script(opts, ['deb http://m/ bookworm main'])
    assert "printf \"%s\\n\" 'deb http://m/ bookworm main' >/tmp/patchops/sources.list" in script
    assert 'apt-cache %s policy zlib1g' % opts in candidates_script(opts, ['zlib1g'])
    assert compare_script([(None, '1.2')]) == "if dpkg --compare-versions '0~' ge 1.2; then echo 1; else echo 0; fi"


def test_update_failure():
    assert update_failure(0, 'Hit:1 http://m bookworm InRelease\n') is None
    reason, text, transient = update_failure(0, 'Err:1 http://m bookworm InRelease\n  Could not connect to m:80\n')
    assert (reason, transient) == ('package sources unreachable', True) and text.startswith('Err:1')
    assert update_failure(100, 'E: Malformed entry 1 in list file\n') == (
        'apt-get update failed', 'E: Malformed entry 1 in list file', False)


def test_simulation_dpkg_and_answer_parsing():
    assert parse_simulation(SIMULATION) == {
        'zlib1g': {'before': '1:1.2.13.dfsg-1', 'after': '1:1.2.13.dfsg-1+deb12u1'},
        'libnew1': {'before': None, 'after': '2.0-1'},
        'libc6': {'before': '2.36-9', 'after': '2.36-9+deb12u4'},
    }
    listed = parse_dpkg_list('zlib1g\t1:1.2.13\tii \t168\nold\t1.0\trc \t5\nbad line\n')
    assert listed == {'zlib1g': {'version': '1:1.2.13', 'installed_kib': 168}}
    candidates = parse_candidates('zlib1g\t1:1.3\ngone\t(none)\nnew\t\njunk\n')
    assert candidates == {'zlib1g': '1:1.3', 'gone': None, 'new': None}
    assert parse_compare('1\n0\nnoise\n', 2) == [True, False]
    assert parse_compare('1\n', 2) is None


def test_package_changes_and_missed():
    rows = package_changes({'a': {'version': '1'}, 'b': {'version': '1'}, 'gone': {'version': '1'}},
                           {'a': {'version': '2'}, 'b': {'version': '1'}, 'new': {'version': '3'}})
    assert rows == [{'name': 'a', 'before': '1', 'after': '2'}, {'name': 'gone', 'before': '1', 'after': None},
                    {'name': 'new', 'before': None, 'after': '3'}]
    plan = {'a': {'before': '1', 'after': '2'}, 'b': {'before': '1', 'after': '3'}}
    assert missed_versions(plan, {'a': {'version': '2'}, 'b': {'version': '2'}}) == ['b']


def test_selection():
    installed = {'zlib1g': {}, 'libc6': {}, 'tzdata': {}}
    assert selection(installed, None, [], []) == ['--with-new-pkgs', 'upgrade']
    assert selection(installed, None, ['zlib1g=1:1.3'], ['libc6', 'zlib1g', 'removed']) == [
        'install', '--only-upgrade', '--no-install-recommends', 'zlib1g=1:1.3', 'libc6']
    assert selection(installed, {'tzdata': []}, ['ignored'], []) == [
        'install', '--only-upgrade', '--no-install-recommends', 'tzdata']
    assert selection(installed, {}, [], []) is None
    assert missing_packages(['zlib1g=1', 'nginx'], installed) == ['nginx']


def test_reachable_findings():
    installed = {'zlib1g': {'version': '1.0'}, 'tzdata': {'version': '2024a'}, 'libc6': {'version': '2.36'}}
    zlib = {'id': 'CVE-1', 'package': 'zlib1g', 'fixed': ['1.1', '1.2']}
    tz = {'id': 'CVE-2', 'package': 'tzdata', 'fixed': ['2024a']}
    libc = {'id': 'CVE-3', 'package': 'libc6', 'fixed': ['2.37']}
    wanted = {'zlib1g': [zlib], 'tzdata': [tz], 'libc6': [libc]}
    candidates = {'zlib1g': '1.1', 'tzdata': '2024a', 'libc6': None}
    pairs, index = version_pairs(installed, wanted, candidates)
    assert pairs == [('2.36', '2.37'), (None, '2.37'), ('2024a', '2024a'), ('2024a', '2024a'),
                     ('1.0', '1.1'), ('1.1', '1.1'), ('1.0', '1.2'), ('1.1', '1.2')]
    answers = [False, False, True, True, False, True, False, False]
    reach, open_findings = reachable(index, answers, candidates)
    assert reach == {'zlib1g': [zlib]}  # one fixed version reached is enough; tzdata is fixed already
    assert open_findings == [dict(libc, reason='no fixed version in the configured sources (candidate none)')]
