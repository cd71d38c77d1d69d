"""Every figure docs/performance.md quotes comes from a results file in bench/results/.

Each table with a figure in it is followed by `Results: `bench/results/<file>.json`, measure `<key>`.`;
the table must be exactly what bench/benchkit/doctable.py renders from that measure of that file (so
an edited figure, a table without its file, or a file left out of git fails). Every results file and
every bench run named anywhere in the page must be in bench/results/ too. A table whose figures are
not measured (the fleet model's arithmetic) says so with `Computed from the tables above.`"""

from __future__ import annotations

import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, 'docs', 'performance.md')
RESULTS_LINE = re.compile(r'^Results: `(bench/results/[^`]+\.json)`, (?:measure|table) `([^`]+)`\.$')
COMPUTED_LINE = 'Computed from the tables above.'


def _doctable():
    spec = importlib.util.spec_from_file_location('doctable', os.path.join(ROOT, 'bench', 'benchkit', 'doctable.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tables_of(text):
    """[(first line number, table text, the first non-empty line after it)]."""
    lines = text.split('\n')
    found, i = [], 0
    while i < len(lines):
        if lines[i].startswith('|'):
            start = i
            while i < len(lines) and lines[i].startswith('|'):
                i += 1
            after = next((line.strip() for line in lines[i:] if line.strip()), '')
            found.append((start + 1, '\n'.join(lines[start:i]), after))
        else:
            i += 1
    return found


def problems(text, root=ROOT):
    """What in the page's text is not backed by a results file under root (empty: all is)."""
    render = _doctable().tables
    out = []
    for line, table, after in tables_of(text):
        body = table.split('\n')[2:]
        if not any(re.search(r'\d', row) for row in body):
            continue
        match = RESULTS_LINE.match(after)
        if after == COMPUTED_LINE:
            continue
        if not match:
            out.append('line %d: a table with figures and no "Results: `bench/results/...json`, measure `KEY`." '
                       'line under it' % line)
            continue
        path, key = match.groups()
        full = os.path.join(root, path)
        if not os.path.isfile(full):
            out.append('line %d: %s does not exist' % (line, path))
            continue
        rendered = render(full, [key]).get(key)
        if rendered is None:
            out.append('line %d: %s has no measure %r' % (line, path, key))
        elif rendered != table:
            out.append('line %d: the table is not %s %s of %s; that file gives:\n%s' % (
                line, 'table' if key == 'machine' else 'measure', key, path, rendered))
    for path in sorted(set(re.findall(r'bench/results/[A-Za-z0-9_.-]+\.json', text))):
        if not os.path.isfile(os.path.join(root, path)):
            out.append('%s is named but does not exist' % path)
    runs = set(re.findall(r'\brun ([0-9a-f]{6})\b', text)) | set(re.findall(r'\(run ([0-9a-f]{6})[,)]', text))
    have = os.listdir(os.path.join(root, 'bench', 'results')) if os.path.isdir(os.path.join(root, 'bench', 'results')) else []
    for run in sorted(runs):
        if not any(re.search(r'-%s(-quick)?\.json$' % run, name) for name in have):
            out.append('run %s is named but bench/results/ has no results file of it' % run)
    return out


@pytest.fixture(scope='module')
def page():
    with open(DOC) as fh:
        return fh.read()


def test_every_figure_of_performance_md_is_in_its_results_file(page):
    assert problems(page) == []


def test_the_page_quotes_results(page):
    assert sum(1 for dummy, dummy, after in tables_of(page) if RESULTS_LINE.match(after)) >= 3


def _first_backed_table(page):
    for dummy, table, after in tables_of(page):
        if RESULTS_LINE.match(after):
            return table
    raise AssertionError('no table with a Results line')


def test_a_figure_changed_by_hand_fails(page):
    table = _first_backed_table(page)
    rows = table.split('\n')
    at = next(i for i in range(2, len(rows)) if re.search(r'\d', rows[i]))
    digit = re.search(r'\d', rows[at])
    rows[at] = rows[at][:digit.start()] + str((int(digit.group()) + 1) % 10) + rows[at][digit.end():]
    changed = page.replace(table, '\n'.join(rows), 1)
    assert any('is not measure' in p or 'is not table' in p for p in problems(changed))


def test_a_table_without_its_results_line_fails(page):
    table = _first_backed_table(page)
    start = page.index(table) + len(table)
    end = page.index('\n', page.index('Results:', start))
    assert any('no "Results:' in p for p in problems(page[:start] + page[end:]))


def test_a_results_file_missing_fails(page, tmp_path):
    assert any('does not exist' in p for p in problems(page, root=str(tmp_path)))
    assert any('no results file' in p for p in problems('the figures of run abcdef', root=str(tmp_path)))


def test_bench_results_are_not_ignored_by_git():
    with open(os.path.join(ROOT, '.gitignore')) as fh:
        ignored = [line.strip() for line in fh if line.strip() and not line.startswith('#')]
    assert not [line for line in ignored if line.rstrip('/').lstrip('/') in ('bench/results', 'bench')]
