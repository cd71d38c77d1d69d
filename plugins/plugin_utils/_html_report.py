# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-contained HTML pages of the reports (controller side; the filters fleet_report_html and
run_report_html).

One page per report: inline CSS, inline SVG bars, a little inline script that sorts a table when
its header is clicked and filters its rows by the text typed in the box above it. No external
asset (the Content-Security-Policy forbids any), so a page works from a file, a web server or an
AWX job's output directory. Every value from the hosts goes through ``_e`` (HTML escaping): the
script reads the page, it is given no data of its own.

Each figure carries ``data-figure="<key>"`` and each table cell a ``data-value`` (what it sorts
by), so tests can compare the page with the JSON report it was made from.

Private: not a public API of the collection.
"""

from __future__ import annotations

import html
import re

from ansible_collections.patchops.containers.plugins.plugin_utils._patch_input import serial_items
from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import OUTCOMES

SEVERITIES = ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN')
# Outcome words of a patch run, in the order the page shows their counts.
RUN_OUTCOMES = OUTCOMES
# A container's state as the engine shows it at the end of the run (the read-back).
ENGINE_STATES = ('running', 'paused', 'restarting', 'exited', 'created', 'dead', 'removing', 'missing')
HOST_STATES = ('patched', 'unchanged', 'planned', 'rolled_back', 'failed', 'unreachable', 'not_attempted')
_WORDS = {
    'would_build': 'would build', 'would_pull': 'would pull', 'would_load': 'would load', 'would_tag': 'would tag',
    'rolled_back': 'rolled back', 'restore_failed': 'restore failed', 'not_attempted': 'not attempted',
    'kept_new': 'kept new', 'nothing_pending': 'nothing pending',
    'skip': 'skipped (scan gate)', 'refuse': 'refused (scan gate)', 'ok': 'ok',
}
# What each outcome means, shown as the badge's title.
_MEANINGS = {
    'patched': 'on its new image, verified',
    'current': 'already on its target image',
    'recreated': 'follows another container (namespace or link): recreated on its own image',
    'restored': 'patched, then put back on its old image by the rollback handlers',
    'rolled_back': 'its own swap failed: the same container runs again',
    'restore_failed': 'patched, and the handlers could not put it back: on its new image',
    'failed': 'the swap failed and could not be rolled back',
    'blocked': 'an unresolved interrupted swap involves it: not touched',
    'not_attempted': 'its host stopped before its turn',
    'recovered': 'an interrupted swap of an earlier run, finished or rolled back by this run',
    'unresolved': 'an interrupted swap this run could not recover: see the way out beside it',
    'kept_new': 'failed its verification, and its set-aside container was gone: the new one was kept',
    'abandoned': 'failed its verification, and neither its set-aside nor its new container was left',
    'held': 'not moved: its target image failed verification on another container',
    'diverged': 'the engine shows otherwise than the modules said (both shown)',
    'unknown': 'the engine could not be read at the end of the run',
    'skip': 'held by the scan gate: the patch would not help',
    'refuse': 'held by the scan gate: the patched image is not acceptable',
}

# Outcomes of the build and stage pages (their colours are in _CSS).
BUILD_OUTCOMES = ('built', 'would_build', 'unchanged', 'nothing_pending', 'skipped', 'failed')
STAGE_ACTIONS = ('pulled', 'loaded', 'tagged', 'present', 'would_pull', 'would_load', 'would_tag')
_OTHER_BADGES = BUILD_OUTCOMES + STAGE_ACTIONS + ('changed',)

_CSS = """
:root{--fg:#1d2430;--muted:#5b6575;--bg:#f5f6f8;--card:#fff;--line:#dde1e7;--accent:#2857a4}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1f2d44;color:#fff;padding:18px 24px}
header h1{margin:0;font-size:20px;font-weight:600}
header p{margin:4px 0 0;color:#c9d3e3}
main{padding:16px 24px 40px;max-width:1500px}
h2{font-size:16px;margin:28px 0 8px}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(132px,1fr));gap:10px}
.figure{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--accent);border-radius:6px;padding:8px 12px}
.figure b{display:block;font-size:24px;font-weight:650}
.figure span{color:var(--muted);font-size:12px}
.figure.bad{border-left-color:#c0392b}.figure.warn{border-left-color:#d98a00}.figure.good{border-left-color:#2e8b57}
.figure.zero{opacity:.55}
.note{background:#fff4d6;border:1px solid #e9cf7f;border-radius:6px;padding:8px 12px;margin:12px 0}
.note.bad{background:#fde8e6;border-color:#e6a39b}
.tools{display:flex;gap:8px;align-items:center;margin:6px 0}
.tools input{flex:0 1 320px;padding:6px 8px;border:1px solid var(--line);border-radius:4px;font:inherit}
.tools small{color:var(--muted)}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;white-space:nowrap;position:sticky;top:0}
th[data-sort]{cursor:pointer;user-select:none}
th[data-sort]::after{content:" \\2195";color:#9aa3b1}
th[aria-sort=ascending]::after{content:" \\2191";color:var(--fg)}
th[aria-sort=descending]::after{content:" \\2193";color:var(--fg)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:0}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap;color:#fff;background:#6b7480}
.b-patched,.b-ok,.b-current-update,.b-unchanged,.b-nothing_pending{background:#2e8b57}
.b-current{background:#4f7cac}.b-recreated{background:#16877f}.b-planned{background:#4f7cac}
.b-restored{background:#c77700}.b-rolled_back{background:#d35400}
.b-failed,.b-restore_failed,.b-unreachable,.b-refuse,.b-unhealthy{background:#c0392b}
.b-blocked,.b-unresolved,.b-diverged,.b-abandoned{background:#7d3c98}.b-kept_new{background:#c0392b}
.b-recovered,.b-running{background:#16877f}.b-missing,.b-dead{background:#7d3c98}
.b-exited,.b-created,.b-paused,.b-restarting,.b-removing{background:#8a929c}.b-held{background:#6c5b7b}.b-not_attempted{background:#8a929c}.b-skip{background:#6c5b7b}
.b-built,.b-pulled,.b-loaded,.b-tagged,.b-changed{background:#2e8b57}.b-present{background:#4f7cac}
.b-would_build,.b-would_pull,.b-would_load,.b-would_tag{background:#4f7cac}
.b-available{background:#d98a00}.b-unknown{background:#8a929c}.b-healthy{background:#2e8b57}.b-starting{background:#4f7cac}
.batch{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}
.batch h3{font-size:14px;margin:0 0 6px}
.batch ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:8px}
.batch li{border:1px solid var(--line);border-radius:4px;padding:4px 8px}
dl.params{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:4px 16px;background:var(--card);
border:1px solid var(--line);border-radius:6px;padding:10px 14px;margin:0}
dl.params dt{color:var(--muted)}dl.params dd{margin:0;min-width:0;overflow-wrap:anywhere}
.batch li{overflow-wrap:anywhere}
.ref{display:inline-block;min-width:9em;max-width:20em;overflow-wrap:anywhere}
td.why{min-width:16em;max-width:28em}svg.bar{vertical-align:middle}.nowrap{white-space:nowrap}
ul.plain{margin:0;padding-left:16px}
footer{color:var(--muted);font-size:12px;padding:0 24px 24px}
@media (max-width:700px){header{padding:12px 14px}main{padding:10px 12px 30px}
.figures{grid-template-columns:repeat(2,1fr)}dl.params{grid-template-columns:minmax(0,1fr)}.figure b{font-size:20px}th,td{padding:5px 6px}}
"""

# Sort on a header click (numbers by data-value, else text), filter rows by the box above the table.
_SCRIPT = """
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-value');
    if (v === null) { v = cell.textContent.trim(); }
    var n = Number(v);
    return (v !== '' && !isNaN(n)) ? [0, n] : [1, v.toLowerCase()];
  }
  function compare(a, b) {
    if (a[0] !== b[0]) { return a[0] - b[0]; }
    return a[1] < b[1] ? -1 : (a[1] > b[1] ? 1 : 0);
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, index) {
      th.setAttribute('data-sort', '');
      th.setAttribute('tabindex', '0');
      function sort() {
        var down = th.getAttribute('aria-sort') === 'ascending';
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var c = compare(key(a.cells[index]), key(b.cells[index]));
          return down ? -c : c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') { sort(); } });
    });
  });
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    var table = document.getElementById(input.getAttribute('data-filter'));
    var count = document.getElementById(input.getAttribute('data-filter') + '-count');
    function apply() {
      var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        var hit = words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !hit;
        if (hit) { shown += 1; }
      });
      if (count) { count.textContent = shown + ' of ' + table.tBodies[0].rows.length; }
    }
    input.addEventListener('input', apply);
    apply();
  });
}());
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _e(value):
    """Text for HTML: None is empty, everything else its string, escaped (quotes too)."""
    return '' if value is None else html.escape(value if isinstance(value, str) else str(value), quote=True)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _word(value):
    return _WORDS.get(value, str(value).replace('_', ' '))


def badge(value, title=None):
    """A coloured word; the class comes from the value, so only known words get their colour."""
    css = value if value in _MEANINGS or value in HOST_STATES or value in _OTHER_BADGES or value in (
        'ok', 'available', 'unknown', 'healthy', 'unhealthy', 'starting') + ENGINE_STATES else 'other'
    title = title if title is not None else _MEANINGS.get(value, '')
    return '<span class="badge b-%s"%s>%s</span>' % (
        _e(css), ' title="%s"' % _e(title) if title else '', _e(_word(value)))


def _figure(key, label, value, tone=''):
    value = _int(value)
    classes = ' '.join(c for c in ('figure', tone if value else 'zero') if c)
    return '<div class="%s"><b data-figure="%s">%d</b><span>%s</span></div>' % (classes, _e(key), value, _e(label))


def _cell(text, value=None, css=None, raw=False):
    attrs = ''
    if value is not None:
        attrs += ' data-value="%s"' % _e(value)
    if css:
        attrs += ' class="%s"' % css
    return '<td%s>%s</td>' % (attrs, text if raw else _e(text))


def _num(value):
    return _cell(_int(value), _int(value), 'num')


def _table(table_id, caption, heads, rows, empty='nothing to show'):
    """A sortable table with its filter box; heads are (label, numeric?) pairs, rows lists of <td>."""
    out = ['<div class="tools"><input type="search" data-filter="%s" placeholder="Filter %s" aria-label="Filter %s">'
           ' <small id="%s-count"></small></div>' % (table_id, _e(caption), _e(caption), table_id),
           '<div class="scroll"><table class="sortable" id="%s"><thead><tr>' % table_id]
    out.extend('<th%s>%s</th>' % (' class="num"' if numeric else '', _e(label)) for label, numeric in heads)
    out.append('</tr></thead><tbody>')
    for row in rows:
        out.append('<tr>%s</tr>' % ''.join(row))
    out.append('</tbody></table></div>')
    if not rows:
        out.append('<p class="muted">%s</p>' % _e(empty))
    return '\n'.join(out)


def _page(title, subtitle, body):
    return '\n'.join([
        '<!DOCTYPE html>',
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="%s">' % _CSP,
        '<title>%s</title>' % _e(title),
        '<style>%s</style>' % _CSS,
        '</head><body>',
        '<header><h1>%s</h1><p>%s</p></header>' % (_e(title), _e(subtitle)),
        '<main>', body, '</main>',
        '<footer>patchops.containers: a self-contained page (no external assets). Click a column to sort it;'
        ' type in a box to filter its table.</footer>',
        '<script>%s</script>' % _SCRIPT,
        '</body></html>', ''])


def _digest(digests, image_id):
    """The short sha256 of the first repo digest, else of the image ID."""
    ref = (list(digests or []) or [image_id or ''])[0] or ''
    return ref.rsplit('@', 1)[-1].replace('sha256:', '')[:12]


def _image_cell(image, digests, image_id):
    image = image or ''
    digest = _digest(digests, image_id)
    full = ' '.join(digests or []) or image_id or ''
    return _cell('<span class="ref">%s</span><br><code title="%s">%s</code>' % (_e(image), _e(full), _e(digest)),
                 image, raw=True)


def _bar(ms, longest):
    """An inline SVG bar, its length the downtime against the run's longest."""
    ms = _int(ms)
    width = 0 if not longest else max(1, int(round(120.0 * ms / longest))) if ms else 0
    colour = '#c0392b' if ms >= 10000 else ('#d98a00' if ms >= 2000 else '#2e8b57')
    return ('<svg class="bar" width="124" height="12" viewBox="0 0 124 12" role="img" aria-label="%d ms">'
            '<rect x="0" y="1" width="124" height="10" rx="2" fill="#eef1f5"/>'
            '<rect x="0" y="1" width="%d" height="10" rx="2" fill="%s"/></svg> %s'
            % (ms, width, colour, _e('%d ms' % ms)))


def _engine_cell(shown, held=False):
    """What the engine showed of a container at the end of the run (the read-back)."""
    if held or not isinstance(shown, dict):
        return _cell('')
    state = shown.get('state') or 'unknown'
    parts = [badge(state, 'as the engine showed it after the run')]
    if shown.get('health'):
        parts.append(badge(shown['health']))
    if shown.get('id'):
        parts.append('<br><code title="%s">%s</code> <code title="%s">%s</code>' % (
            _e(shown['id']), _e(shown['id'][:12]), _e(shown.get('image_id')),
            _e((shown.get('image_id') or '').split(':')[-1][:12])))
    return _cell(' '.join(parts), state, 'nowrap', raw=True)


def _verification(results):
    items = []
    for r in results or []:
        if not isinstance(r, dict):
            continue
        name = r.get('name') or r.get('type') or 'check'
        detail = r.get('output') or r.get('error') or ''
        items.append('<li>%s %s%s</li>' % (
            badge('ok' if r.get('ok') else 'failed', ''), _e(name),
            ' <span class="muted">%s</span>' % _e(str(detail)[:200]) if detail and not r.get('ok') else ''))
    return '<ul class="plain">%s</ul>' % ''.join(items) if items else ''


def batches(hosts, serial_value):
    """Hosts in the order of the play, cut into Ansible's serial batches (the last size repeats)."""
    hosts = list(hosts or [])
    sizes = []
    for item in serial_items(serial_value):
        text = str(item).strip()
        if text.endswith('%'):
            try:
                size = int(float(text[:-1]) / 100.0 * len(hosts))
            except ValueError:
                size = len(hosts)
        else:
            size = _int(text)
        sizes.append(max(1, size))
    out, start, index = [], 0, 0
    while start < len(hosts):
        size = sizes[min(index, len(sizes) - 1)] if sizes else len(hosts)
        out.append(hosts[start:start + size])
        start += size
        index += 1
    return out


def run_batches(plays, serial_value, order):
    """[(number, heading, hosts)] of a run: per slice (each ansible-playbook run writing the report,
    ordered by their first hosts' names, lab2 before lab10) the batches it recorded as it ran,
    numbered across the run; a slice that recorded none is cut by ``serial_value`` over its hosts. A
    slice's hosts in no batch come last, number 0, as not reached. Without ``plays``, ``order`` cut
    by serial."""
    plays = [p for p in plays or [] if isinstance(p, dict) and p.get('hosts_all')]
    if not plays:
        return [(n, 'Batch %d' % n, b) for n, b in enumerate(batches(order, serial_value), 1)]
    plays.sort(key=lambda p: [(0, int(t), '') if t.isdigit() else (1, 0, t)
                              for t in re.split(r'(\d+)', str(p['hosts_all'][0])) if t])
    out, number = [], 0
    for index, play in enumerate(plays, 1):
        every = list(play['hosts_all'])
        cut = [list(b) for b in play.get('batches') or []] if 'batches' in play else batches(every, serial_value)
        prefix = 'Slice %d of %d, batch' % (index, len(plays)) if len(plays) > 1 else 'Batch'
        for count, batch in enumerate(cut, 1):
            number += 1
            out.append((number, '%s %d' % (prefix, count), batch))
        placed = set(h for b in cut for h in b)
        rest = [h for h in every if h not in placed]
        if rest:
            out.append((0, 'Not reached%s' % (' (slice %d of %d)' % (index, len(plays)) if len(plays) > 1 else ''),
                        rest))
    return out


def run_rows(report):
    """One row per container of the run (scan-gate holds included), in host order: dicts."""
    rows = []
    for record in report.get('hosts') or []:
        host = record.get('host')
        containers = record.get('containers') or record.get('plan') or []
        for c in containers:
            rows.append(dict(c, host=host, outcome=c.get('outcome') or c.get('action') or 'unknown'))
        for held in record.get('held_by_scan_gate') or []:
            rows.append({'host': host, 'container': held.get('name'), 'outcome': held.get('decision') or 'skip',
                         'reason': '; '.join(str(r) for r in held.get('reasons') or []), 'held': True})
    return rows


def _pending_cell(side):
    side = side or {}
    tone = 'bad' if side.get('status') != 'ok' else ('good' if not side.get('count') else 'warn')
    text = side.get('summary') or 'pending unknown'
    if side.get('reason'):
        text += ' (%s)' % side['reason']
    return _cell('<span class="%s">%s</span>' % (tone, _e(text)), side.get('count') if side.get('count') is not None
                 else -1, raw=True)


def _packages_section(rows):
    """The patched containers' pending updates before and after, and the packages that changed
    (with the run's inventory report and its package sources; none: no section)."""
    proved = [r for r in rows if isinstance(r.get('packages'), dict)]
    if not proved:
        return []
    table = [[_cell(r.get('host')), _cell('<b>%s</b>' % _e(r.get('container')), r.get('container'), raw=True),
              _pending_cell(r['packages'].get('before')), _pending_cell(r['packages'].get('after')),
              _cell(r['packages'].get('changed_summary') or '', len(r['packages'].get('changed') or []))]
             for r in proved]
    return ['<h2>Packages</h2><p class="muted">Pending updates against the inventory\'s package sources: before, '
            'the inventory report\'s for the image the container ran; after, for the image it runs now (its '
            'packages read back from the engine).</p>',
            _table('packages', 'packages of the patched containers', [
                ('host', False), ('container', False), ('pending before', True), ('pending after', True),
                ('packages changed', False)], table)]


def run_html(report, params=None):
    """The run page from report.json's content ({summary, hosts}) and the run's parameters."""
    params = params or {}
    summary = report.get('summary') or {}
    records = report.get('hosts') or []
    by_host = dict((r.get('host'), r) for r in records)
    hosts_of = summary.get('hosts') or {}
    status_of = {}
    for state in HOST_STATES:
        for host in hosts_of.get(state) or []:
            status_of[host] = state
    counts = summary.get('containers') or {}
    rows = run_rows(report)
    held = [r for r in rows if r.get('held')]
    longest = max([_int(r.get('downtime_ms')) for r in rows] or [0])
    check = bool(summary.get('check_mode'))

    body = ['<h2>Hosts</h2><div class="figures">', _figure('hosts_total', 'hosts', summary.get('hosts_total'))]
    tones = {'patched': 'good', 'rolled_back': 'warn', 'failed': 'bad', 'unreachable': 'bad', 'not_attempted': 'warn'}
    for state in HOST_STATES:
        if state == 'planned' and not check:
            continue
        body.append(_figure('hosts.' + state, 'hosts ' + _word(state), len(hosts_of.get(state) or []),
                            tones.get(state, '')))
    body.append('</div><h2>Container outcomes</h2><div class="figures">')
    tones = {'patched': 'good', 'restored': 'warn', 'rolled_back': 'warn', 'failed': 'bad', 'restore_failed': 'bad',
             'blocked': 'bad', 'not_attempted': 'warn', 'recovered': 'warn', 'unresolved': 'bad', 'kept_new': 'bad',
             'abandoned': 'bad', 'held': 'warn', 'diverged': 'bad', 'unknown': 'bad'}
    words = list(RUN_OUTCOMES) + sorted(k for k in counts if k not in RUN_OUTCOMES)
    for outcome in words:
        body.append(_figure('containers.' + outcome, _word(outcome), counts.get(outcome, 0), tones.get(outcome, '')))
    body.append(_figure('held_by_scan_gate', 'held by the scan gate', len(held), 'warn'))
    body.append(_figure('max_downtime_ms', 'longest downtime (ms)', summary.get('max_downtime_ms')))
    body.append('</div>')

    never = list(hosts_of.get('not_attempted') or [])
    if never:
        body.append('<p class="note bad" id="never-attempted">The run stopped before these hosts '
                    '(its failure budget was spent): %d never attempted: %s.</p>'
                    % (len(never), _e(', '.join(never))))
    unknown = list(summary.get('engine_unknown') or [])
    if unknown:
        body.append('<p class="note bad" id="engine-unknown">The engine could not be read at the end of the run; '
                    'the state of their containers is unknown: %s.</p>' % _e(', '.join(unknown)))
    lost = list(hosts_of.get('unreachable') or [])
    if lost:
        body.append('<p class="note bad">Unreachable (the connection was lost during the run; what it did there is '
                    'unknown until it is run again): %s.</p>' % _e(', '.join(lost)))

    order = list(params.get('hosts') or []) or [r.get('host') for r in records] + never + lost
    body.append('<h2>Batches</h2>')
    cut = run_batches(params.get('plays'), params.get('serial'), order)
    for number, heading, batch in cut:
        body.append('<div class="batch" data-batch="%d"><h3>%s (%d host%s)</h3><ul>'
                    % (number, _e(heading), len(batch), '' if len(batch) == 1 else 's'))
        for host in batch:
            record = by_host.get(host) or {}
            status = status_of.get(host) or record.get('status') or 'not_attempted'
            n = len((record.get('containers') or record.get('plan') or []))
            message = record.get('message') or ''
            body.append('<li data-host="%s"><b>%s</b> %s <span class="muted">%d container%s</span>%s</li>' % (
                _e(host), _e(host), badge(status, ''), n, '' if n == 1 else 's',
                '<br><span class="muted">%s</span>' % _e(message) if message else ''))
        body.append('</ul></div>')

    batch_of = {}
    for number, heading, batch in cut:
        for host in batch:
            batch_of[host] = number
    table = []
    for r in rows:
        outcome = r.get('outcome')
        reason = r.get('reason') or ''
        why = [reason] if reason and (r.get('held') or reason.startswith('follows')) else []
        if r.get('failure'):
            why.append(r['failure'])
        if r.get('restore_failure'):
            why.append('restore: %s' % r['restore_failure'])
        if r.get('stopped_by') == 'kill':
            why.append('killed on stop (%s)' % (r.get('stop_signal') or 'signal ignored'))
        if r.get('diverged'):
            why.append(r['diverged'])
        elif r.get('module_outcome'):
            why.append('the modules said %s' % r['module_outcome'])
        if isinstance(r.get('recovered'), dict) and outcome != 'recovered':
            why.append('recovered an interrupted swap first (%s)' % r['recovered'].get('action'))
        if r.get('way_out'):
            why.append('way out: %s' % r['way_out'])
        table.append([
            _num(batch_of.get(r.get('host'), 0)),
            _cell(r.get('host')),
            _cell('<b>%s</b>' % _e(r.get('container')), r.get('container'), raw=True),
            _cell('%s%s' % (badge(outcome), ''.join('<br><span class="muted">%s</span>' % _e(w) for w in why)),
                  outcome, 'why', raw=True),
            _image_cell(r.get('old_image'), r.get('old_digests'), r.get('old_image_id')) if not r.get('held')
            else _cell(''),
            _image_cell(r.get('new_image'), r.get('new_digests'), r.get('new_image_id')) if not r.get('held')
            else _cell(''),
            _cell(r.get('strategy') or ''),
            _cell(_bar(r.get('downtime_ms'), longest), _int(r.get('downtime_ms')), 'nowrap', raw=True)
            if r.get('downtime_ms') is not None else _cell('', -1),
            _cell(_verification(r.get('verification')), raw=True),
            _engine_cell(r.get('engine'), r.get('held')),
        ])
    body.append('<h2>Containers</h2>')
    body.append(_table('containers', 'containers', [
        ('batch', True), ('host', False), ('container', False), ('outcome', False), ('before', False),
        ('after', False), ('strategy', False), ('downtime', True), ('verification', False), ('engine shows', False)],
        table,
        'No container was planned or patched in this run.'))
    body.extend(_packages_section(rows))

    body.append('<h2>Parameters</h2><dl class="params">')
    shown = [('run', summary.get('run')), ('check mode', 'yes' if check else 'no'),
             ('batches (serial)', ', '.join(str(s) for s in serial_items(params.get('serial')))),
             ('failure budget (max_fail_percentage)', params.get('max_fail_percentage', 0)),
             ('hosts', params.get('pattern') or ', '.join(order)),
             ('report', summary.get('report'))]
    for label, value in shown:
        body.append('<dt>%s</dt><dd>%s</dd>' % (_e(label), _e(value)))
    targets = params.get('targets') or []
    if targets:
        body.append('<dt>targets</dt><dd>%s</dd>' % '<br>'.join(
            '<code>%s</code> &rarr; <code>%s</code>' % (_e(t.get('name')), _e(t.get('image')))
            for t in targets if isinstance(t, dict)))
    by_target = params.get('targets_by_host') or {}
    for host in sorted(by_target) if isinstance(by_target, dict) else []:
        body.append('<dt>targets on %s</dt><dd>%s</dd>' % (_e(host), '<br>'.join(
            '<code>%s</code> &rarr; <code>%s</code>' % (_e(t.get('name')), _e(t.get('image')))
            for t in by_target[host] or [] if isinstance(t, dict))))
    body.append('</dl>')

    title = 'Patch run %s%s' % (summary.get('run') or '', ' (check mode: plan only)' if check else '')
    subtitle = '%d hosts: %d patched, %d rolled back, %d failed, %d not attempted; %d containers patched' % (
        _int(summary.get('hosts_total')), len(hosts_of.get('patched') or []), len(hosts_of.get('rolled_back') or []),
        len(hosts_of.get('failed') or []), len(never), _int(counts.get('patched')))
    return _page(title, subtitle, '\n'.join(body))


def _severity_sum(vulnerabilities, severity):
    return sum(_int((counts or {}).get(severity)) for counts in (vulnerabilities or {}).values())


def _labels(labels):
    return '<br>'.join('<code>%s=%s</code>' % (_e(k), _e(v)) for k, v in sorted((labels or {}).items())
                       if not k.startswith('com.docker.compose.'))


def fleet_images(report):
    """One dict per image reference of the fleet: containers, hosts, update states, OS, severities, and
    per image ID its packages (count, or why none) and SBOM file."""
    vulns = report.get('vulnerabilities') or {}
    sboms = dict((s.get('image_id'), s.get('file')) for s in report.get('sboms') or [])
    read = {}
    for h in report.get('hosts') or []:
        for i in h.get('images') or []:
            if i.get('id') and (i.get('package_db') or i.get('id') not in read):
                read[i['id']] = i
    images = {}
    for h in report.get('hosts') or []:
        for c in h.get('containers') or []:
            ref = c.get('image') or c.get('image_id') or ''
            item = images.setdefault(ref, {'image': ref, 'containers': 0, 'hosts': [], 'update': [], 'os': '',
                                           'severities': None, 'packages': []})
            item['containers'] += 1
            if h.get('host') not in item['hosts']:
                item['hosts'].append(h.get('host'))
            image = read.get(c.get('image_id'))
            if image and c.get('image_id') not in [p['id'] for p in item['packages']]:
                item['packages'].append({'id': c.get('image_id'), 'sbom': sboms.get(c.get('image_id')),
                                         'count': len(image.get('packages') or []) if image.get('package_db') else None,
                                         'note': image.get('packages_note') or ''})
            if c.get('update') and c.get('update') not in item['update']:
                item['update'].append(c.get('update'))
            item['os'] = item['os'] or (c.get('image_os') or {}).get('pretty_name') or ''
            if item['severities'] is None and c.get('name') in vulns:
                item['severities'] = vulns[c.get('name')]
    return sorted(images.values(), key=lambda i: i['image'])


def _package_cell(image):
    """An image ID's package count linked to its SBOM, or why it has none."""
    if image['count'] is None:
        return '<span class="muted">%s</span>' % _e(image['note'])
    text = '%d' % image['count']
    if image['sbom']:
        text = '<a href="%s" title="CycloneDX SBOM of %s">%s (SBOM)</a>' % (_e(image['sbom']), _e(image['id']), text)
    return text


def fleet_pending(report):
    """One dict per image ID with pending updates computed (the inventory's package sources): its
    references, hosts and containers (over every host), and its pending updates."""
    images = {}
    for h in report.get('hosts') or []:
        for i in h.get('images') or []:
            if 'pending_status' not in i:
                continue
            item = images.setdefault(i.get('id'), dict(i, hosts=[], containers=[]))
            item['hosts'].append(h.get('host'))
            item['containers'] += [c for c in i.get('containers') or [] if c not in item['containers']]
    return sorted(images.values(), key=lambda i: (-_int(i.get('pending_security')), -_int(i.get('pending_count')),
                                                  str(i.get('id'))))


def _pending_section(report):
    """The fleet page's pending updates: per image "N pending (K security)", where it runs, the updates."""
    sources = report.get('package_sources')
    if sources is None:
        return []
    rows = []
    for i in fleet_pending(report):
        known = i.get('pending_status') == 'ok'
        listed = ', '.join('%s %s%s' % (p.get('name'), p.get('candidate'), ' (security)' if p.get('security') else '')
                           for p in i.get('pending') or [])
        rows.append([
            _cell('<code>%s</code>' % _e(' '.join(i.get('tags') or []) or i.get('id')), i.get('id'), raw=True),
            _cell(', '.join(str(h) for h in i['hosts'])),
            _cell(', '.join(str(c) for c in i['containers'])),
            _cell(_e(i.get('pending_summary')) if known else '%s<br><span class="muted">%s</span>' % (
                badge('unknown', ''), _e(i.get('pending_reason'))), _int(i.get('pending_count')) if known else -1,
                'num', raw=True),
            _num(i.get('pending_security')) if known else _cell('', -1, 'num'),
            _cell(listed),
        ])
    out = ['<h2>Pending updates</h2>']
    out += ['<p class="note bad">package source %s %s not read: %s</p>'
            % (_e(s.get('url')), _e(s.get('suite')), _e(s.get('error')))
            for s in sources if s.get('status') != 'ok']
    out.append(_table('pending', 'pending updates', [('image', False), ('hosts', False), ('containers', False),
                                                     ('pending', True), ('security', True), ('updates', False)],
                      rows, 'No image with a package database.'))
    return out


def fleet_html(report):
    """The fleet page from the inventory role's JSON report."""
    totals = report.get('totals') or {}
    vulns = report.get('vulnerabilities') or {}
    hosts = report.get('hosts') or []
    body = ['<h2>Fleet</h2><div class="figures">']
    for key, label, tone in (('hosts', 'hosts', ''), ('hosts_ok', 'hosts ok', 'good'),
                             ('hosts_failed', 'hosts failed', 'bad'), ('hosts_unreachable', 'hosts unreachable', 'bad'),
                             ('containers', 'containers', ''), ('running', 'running', 'good'),
                             ('stopped', 'stopped', ''), ('unhealthy', 'unhealthy', 'bad'),
                             ('updates_available', 'updates available', 'warn'),
                             ('updates_unknown', 'update unknown', '')):
        body.append(_figure(key, label, totals.get(key), tone))
    body.append(_figure('critical', 'critical findings', _severity_sum(vulns, 'CRITICAL'), 'bad'))
    body.append(_figure('high', 'high findings', _severity_sum(vulns, 'HIGH'), 'warn'))
    body.append('</div>')
    if not (report.get('options') or {}).get('check_updates', True):
        body.append('<p class="note">Updates were not checked in this run.</p>')
    down = [h for h in hosts if h.get('status') != 'ok']
    if down:
        body.append('<p class="note bad">%d host%s not inventoried: %s.</p>' % (
            len(down), '' if len(down) == 1 else 's', _e(', '.join(str(h.get('host')) for h in down))))

    rows = []
    for h in hosts:
        s = h.get('summary') or {}
        e = h.get('engine') or {}
        free = e.get('free_bytes')
        rows.append([
            _cell('<b>%s</b>' % _e(h.get('host')), h.get('host'), raw=True),
            _cell('%s%s' % (badge(h.get('status'), ''), '<br><span class="muted">%s</span>' % _e(h.get('message'))
                            if h.get('message') else ''), h.get('status'), raw=True),
            _num(s.get('containers')), _num(s.get('running')), _num(s.get('unhealthy')),
            _num(s.get('updates_available')), _num(s.get('updates_unknown')),
            _cell(' '.join(str(x) for x in (e.get('kind'), e.get('version')) if x)),
            _cell('' if free is None else '%.1f GiB' % (_int(free) / 1073741824.0), -1 if free is None else _int(free),
                  'num'),
        ])
    body.append('<h2>Hosts</h2>')
    body.append(_table('hosts', 'hosts', [('host', False), ('status', False), ('containers', True), ('running', True),
                                          ('unhealthy', True), ('updates', True), ('unknown', True),
                                          ('engine', False), ('free disk', True)], rows))

    rows = []
    for i in fleet_images(report):
        sev = i['severities'] or {}
        counts = [p['count'] for p in i['packages'] if p['count'] is not None]
        rows.append([
            _cell('<code>%s</code>' % _e(i['image']), i['image'], raw=True),
            _num(i['containers']),
            _cell(', '.join(str(x) for x in i['hosts'])),
            _cell(' '.join(badge(u, '') for u in i['update']), ' '.join(i['update']), raw=True),
        ] + [_cell('' if i['severities'] is None else _int(sev.get(s)),
                   -1 if i['severities'] is None else _int(sev.get(s)), 'num') for s in SEVERITIES[:4]] + [
            _cell(i['os']),
            _cell('<br>'.join(_package_cell(p) for p in i['packages']), max(counts) if counts else -1, 'num', raw=True),
        ])
    body.append('<h2>Images</h2>')
    body.append(_table('images', 'images', [('image', False), ('containers', True), ('hosts', False),
                                            ('update', False), ('critical', True), ('high', True),
                                            ('medium', True), ('low', True), ('OS', False), ('packages', True)],
                       rows))

    body.extend(_pending_section(report))

    projects = {}
    for h in hosts:
        for c in h.get('containers') or []:
            compose = c.get('compose') or {}
            if not compose.get('project'):
                continue
            p = projects.setdefault((h.get('host'), compose['project']), {
                'services': [], 'containers': 0, 'working_dir': compose.get('working_dir') or ''})
            p['containers'] += 1
            if compose.get('service') not in p['services']:
                p['services'].append(compose.get('service'))
    rows = [[_cell(project), _cell(host), _num(p['containers']), _cell(', '.join(str(s) for s in p['services'])),
             _cell('<code>%s</code>' % _e(p['working_dir']), p['working_dir'], raw=True)]
            for (host, project), p in sorted(projects.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    body.append('<h2>Compose projects</h2>')
    body.append(_table('projects', 'compose projects', [('project', False), ('host', False), ('containers', True),
                                                        ('services', False), ('working dir', False)], rows,
                       'No container belongs to a Compose project.'))

    rows = []
    for h in hosts:
        for c in h.get('containers') or []:
            health = c.get('health')
            why = c.get('update_reason') if c.get('update') == 'unknown' else ''
            rows.append([
                _cell(h.get('host')),
                _cell('<b>%s</b>' % _e(c.get('name')), c.get('name'), raw=True),
                _cell(c.get('state')),
                _cell(badge(health, '') if health else '', health or '', raw=True),
                _cell('<code>%s</code>' % _e(c.get('image')), c.get('image'), raw=True),
                _cell('%s%s' % (badge(c.get('update'), '') if c.get('update') else '',
                                '<br><span class="muted">%s</span>' % _e(why) if why else ''),
                      c.get('update') or '', raw=True),
                _cell(', '.join(str(d) for d in c.get('depends_on') or [])),
                _cell(_labels(c.get('labels')), raw=True),
            ])
    body.append('<h2>Containers</h2>')
    body.append(_table('containers', 'containers', [('host', False), ('name', False), ('state', False),
                                                    ('health', False), ('image', False), ('update', False),
                                                    ('depends on', False), ('labels', False)], rows))

    subtitle = 'Generated %s: %d hosts, %d containers, %d with an update available' % (
        report.get('generated_at') or '', _int(totals.get('hosts')), _int(totals.get('containers')),
        _int(totals.get('updates_available')))
    return _page('Container inventory', subtitle, '\n'.join(body))


def _bytes(value):
    """A byte count in words (MiB for large ones), or empty when unknown."""
    if value is None or value == '':
        return ''
    value = _int(value)
    return '%.1f MiB' % (value / 1048576.0) if value >= 1048576 else '%d bytes' % value


def _bytes_cell(value):
    return _cell(_bytes(value), -1 if value is None or value == '' else _int(value), 'num')


def _host_notes(hosts, key='host', states=('failed', 'unreachable')):
    """The hosts that did not finish, in words."""
    down = [h for h in hosts if h.get('status') in states]
    return ['<p class="note bad">%s %s: %s</p>' % (_e(h.get(key)), _e(_word(h.get('status'))), _e(h.get('msg') or
            'no result: the connection was lost, what happened there is unknown until it is run again'))
            for h in down]


def build_outcome(image):
    """What the build did with one image of the build role's summary."""
    if image.get('status') in ('failed', 'nothing_pending', 'skipped'):
        return image['status']
    if image.get('status') == 'changed':
        return 'built' if image.get('patched') else 'would_build'
    return 'unchanged'


def build_html(report):
    """The build page from the build role's JSON report ({run, check_mode, totals, hosts})."""
    totals = report.get('totals') or {}
    hosts = report.get('hosts') or []
    check = bool(report.get('check_mode'))
    body = ['<h2>Images</h2><div class="figures">']
    for key, label, tone in (('hosts', 'build hosts', ''), ('images', 'images', ''), ('built', 'built', 'good'),
                             ('would_build', 'would build', ''), ('unchanged', 'unchanged', ''),
                             ('nothing_pending', 'nothing pending', ''), ('skipped', 'skipped', ''),
                             ('failed', 'failed', 'bad'), ('packages', 'packages updated', ''),
                             ('layer_bytes', 'patch layer bytes', '')):
        if key == 'would_build' and not check:
            continue
        body.append(_figure(key, label, totals.get(key), tone))
    body.append('</div>')
    body.extend(_host_notes(hosts, 'build_host', ('unreachable',)))  # failed images say why in their row
    rows = []
    for h in hosts:
        for i in h.get('images') or []:
            outcome = build_outcome(i)
            packages = i.get('packages') or []
            listed = ', '.join('%s %s' % (p.get('name'), p.get('after') or '') for p in packages if isinstance(p, dict))
            rows.append([
                _cell(h.get('build_host')),
                _cell('<code>%s</code>' % _e(i.get('image')), i.get('image'), raw=True),
                _cell('%s%s' % (badge(outcome, ''), '<br><span class="muted">%s</span>' % _e(i.get('msg'))
                                if i.get('msg') else ''), outcome, 'why', raw=True),
                _cell('') if outcome == 'failed' else _image_cell(
                    i.get('reference'), [i['repo_digest']] if i.get('repo_digest') else [], i.get('image_id')),
                _cell('%d<br><span class="muted">%s</span>' % (len(packages), _e(listed)) if packages else '0',
                      len(packages), raw=True),
                _bytes_cell(i.get('layer_size')),
                _num(i.get('open')),
            ])
    body.append('<h2>Per image</h2>')
    body.append(_table('images', 'images', [('build host', False), ('image', False), ('outcome', False),
                                            ('patched image', False), ('packages', True), ('patch layer', True),
                                            ('open findings', True)], rows, 'No image to patch in this run.'))
    title = 'Build %s%s' % (report.get('run') or '', ' (check mode: plan only)' if check else '')
    subtitle = '%d images: %d built, %d unchanged, %d failed; %d packages updated' % (
        _int(totals.get('images')), _int(totals.get('built')), _int(totals.get('unchanged')),
        _int(totals.get('failed')), _int(totals.get('packages')))
    return _page(title, subtitle, '\n'.join(body))


def stage_html(report):
    """The stage page from the stage role's JSON report ({run, state, check_mode, totals, hosts})."""
    totals = report.get('totals') or {}
    actions = totals.get('actions') or {}
    hosts = report.get('hosts') or []
    check = bool(report.get('check_mode'))
    body = ['<h2>Hosts</h2><div class="figures">']
    for key, label, tone in (('hosts', 'hosts', ''), ('hosts_changed', 'hosts changed', 'good'),
                             ('hosts_ok', 'hosts unchanged', ''), ('hosts_failed', 'hosts failed', 'bad'),
                             ('hosts_unreachable', 'hosts unreachable', 'bad')):
        body.append(_figure(key, label, totals.get(key), tone))
    body.append('</div><h2>Images</h2><div class="figures">')
    body.append(_figure('images', 'images', totals.get('images')))
    words = [a for a in STAGE_ACTIONS if check == a.startswith('would_')] + sorted(
        a for a in actions if a not in STAGE_ACTIONS)
    for action in words:
        body.append(_figure('actions.' + action, _word(action), actions.get(action, 0),
                            'good' if action in ('pulled', 'loaded', 'tagged') else ''))
    body.append(_figure('fetch_bytes', 'bytes to fetch (estimate)', totals.get('fetch_bytes')))
    body.append(_figure('removed', 'images removed (retention)', totals.get('removed')))
    body.append('</div>')
    body.extend(_host_notes(hosts))
    rows = []
    for h in hosts:
        rows.append([
            _cell('<b>%s</b>' % _e(h.get('host')), h.get('host'), raw=True),
            _cell('%s%s' % (badge(h.get('status'), ''), '<br><span class="muted">%s</span>' % _e(h.get('msg'))
                            if h.get('msg') else ''), h.get('status'), 'why', raw=True),
            _num(len(h.get('images') or [])),
            _cell(', '.join(str(x) for x in h.get('not_copied') or [])),
            _num(len(h.get('removed') or [])), _num(len(h.get('kept') or [])),
            _cell(', '.join(str(x) for x in h.get('forgotten') or [])),
        ])
    body.append('<h2>Per host</h2>')
    body.append(_table('hosts', 'hosts', [('host', False), ('status', False), ('images', True),
                                          ('not copied (check mode)', False), ('removed', True), ('kept', True),
                                          ('forgotten', False)], rows))
    rows = []
    for h in hosts:
        for i in h.get('images') or []:
            rows.append([
                _cell(h.get('host')),
                _image_cell(i.get('reference'), [i['digest']] if i.get('digest') else [], i.get('image_id')),
                _cell(badge(i.get('action'), ''), i.get('action'), raw=True),
                _cell(i.get('source') or ''),
                _bytes_cell(i.get('estimated_bytes')),
                _bytes_cell(i.get('size')),
            ])
    body.append('<h2>Per image</h2>')
    body.append(_table('images', 'images', [('host', False), ('image', False), ('action', False), ('source', False),
                                            ('fetched (estimate)', True), ('image size', True)], rows,
                       'No image was staged in this run.'))
    title = 'Stage (%s) %s%s' % (report.get('state') or 'present', report.get('run') or '',
                                 ' (check mode: plan only)' if check else '')
    subtitle = '%d hosts: %d changed, %d failed or unreachable; %d images' % (
        _int(totals.get('hosts')), _int(totals.get('hosts_changed')),
        _int(totals.get('hosts_failed')) + _int(totals.get('hosts_unreachable')), _int(totals.get('images')))
    return _page(title, subtitle, '\n'.join(body))
