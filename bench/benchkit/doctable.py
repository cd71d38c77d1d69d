# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Markdown table of one measure of a results file, as docs/performance.md quotes it.

Standard library only: tests/unit/test_docs_figures.py renders every table the doc quotes from the
results file named under it and compares the two, so a figure without its JSON, or edited by hand,
fails. `bench/doc_tables.py RESULTS.json [KEY ...]` prints them for pasting.
"""

from __future__ import annotations

import json


def fmt(value):
    """A figure as the tables print it (the same rule as the bench's console tables)."""
    if value is None:
        return 'n/a'
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 100:
        return '%d' % value
    if abs(value) >= 100:
        return '%.0f' % value
    if abs(value) >= 10:
        return '%.1f' % value
    return '%.3f' % value


def markdown(measure):
    """Rows `method | runs | median | min | max | vs <each reference>` of one measure's JSON."""
    methods = measure['methods']
    refs = [r for r in measure['refs'] if (methods.get(r) or {}).get('stats')]
    ratios = measure['ratios']
    head = ['method', 'runs', 'median', 'min', 'max']
    head += ['vs %s' % methods[r]['label'] for r in refs] if refs else ['vs its reference']
    lines = ['| %s |' % ' | '.join(cell.replace('|', '\\|') for cell in head), '|' + ' --- |' * len(head)]
    for key, meta in methods.items():
        st = meta['stats']
        if not st:
            row = [meta['label'], '0', 'n/a', 'n/a', 'n/a'] + ['n/a'] * (len(head) - 5)
        else:
            row = [meta['label'], str(st['n']), fmt(st['median']), fmt(st['min']), fmt(st['max'])]
            if refs:
                for ref in refs:
                    ratio = ratios.get('%s/%s' % (key, ref))
                    row.append('-' if key == ref else ('%.2fx' % ratio if ratio is not None else 'n/a'))
            else:
                mine = [v for k, v in sorted(ratios.items()) if k.split('/')[0] == key]
                row.append('%.2fx' % mine[0] if mine else '-')
        lines.append('| %s |' % ' | '.join(cell.replace('|', '\\|') for cell in row))
    return '\n'.join(lines)


def tables(path, keys=None):
    """{measure key: its Markdown table} of a results file; `machine` is the machine's."""
    with open(path) as fh:
        doc = json.load(fh)
    out = dict((key, markdown(m)) for key, m in doc['measures'].items())
    out['machine'] = machine_markdown(doc)
    return dict((k, v) for k, v in out.items() if not keys or k in keys)


def machine_markdown(doc):
    """The machine a results file was measured on (its `machine` and `bench_host`)."""
    m = doc['machine']
    rows = [('CPU', '%s vCPU (%s)' % (m.get('nproc'), m.get('cpu'))),
            ('memory', '%s MiB' % m.get('memory_mib')),
            ('kernel', 'Linux %s' % m.get('kernel')),
            ('bench host', '%s, Docker %s' % (doc.get('bench_host'), m.get('docker_engine'))),
            ('lab hosts up', str(len(doc.get('lab_hosts') or []))),
            ('Python, docker SDK', '%s, %s' % (m.get('python'), m.get('docker_sdk'))),
            ('reference venv', 'ansible %s = ansible-core %s + community.docker %s' % (
                m.get('ansible'), m.get('ansible_core'), m.get('community_docker')))]
    lines = ['| | |', '| --- | --- |'] + ['| %s | %s |' % row for row in rows]
    return '\n'.join(lines)
