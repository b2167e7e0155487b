/**
 * The status page (GET /status): one self-contained HTML document — inline CSS, a small inline script, no
 * external assets — that shows /status.json as a person wants to see it and redraws it every few seconds
 * (`?refresh=N` seconds, 1–60, default 5).
 *
 * The data arrives as JSON (embedded in the page for the first paint, then fetched) and is written into the page
 * with textContent and setAttribute only, never as markup, so a rule id or version can hold any characters. The
 * Content-Security-Policy allows exactly this script and this style (by hash), and fetches from the same origin.
 *
 * Elements tests and people may rely on: #request-rate, #total-requests, #hit-ratio, #cache-bytes,
 * #cache-objects, #origin-error-rate, #origin-p50, #origin-p99, #config-version, #config-loaded-at,
 * #reload-last (data-ok), #rules (rows tr[data-rule], cells td[data-field]), #origins, #pools, #plot-rate, #plot-cache
 * (data-points). Every number carries its raw value in data-value; body[data-generated-at] is the time of the
 * data shown.
 */
import { createHash } from 'node:crypto';
import type { StatusInfo } from './status.js';

const STYLE = `
:root { --fg: #1d2430; --muted: #5b6575; --line: #d9dee7; --bg: #f5f7fa; --card: #fff; --accent: #2563eb;
  --ok: #15803d; --bad: #b91c1c; --warn: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.5rem; background: #111827; color: #f9fafb; }
header h1 { margin: 0; font-size: 1.25rem; letter-spacing: .02em; }
header .meta { color: #cbd5e1; font-size: .85rem; }
header .meta.stale { color: #fca5a5; }
main { padding: 1rem 1.5rem 2rem; max-width: 1200px; }
h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 .3rem; font-weight: 600; }
section { margin-top: 1.2rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .8rem; margin-top: 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .7rem .9rem; }
.card .big { font-size: 1.6rem; font-weight: 600; margin: 0; font-variant-numeric: tabular-nums; }
.card .small { color: var(--muted); font-size: .8rem; margin: .15rem 0 0; }
.card .big.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 1.15rem; overflow-wrap: anywhere; padding-top: .35rem; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: .8rem; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .7rem .9rem; }
figcaption { font-size: .8rem; color: var(--muted); margin-bottom: .3rem; }
svg { width: 100%; height: auto; display: block; }
svg .axis { stroke: var(--line); stroke-width: 1; }
svg .label { fill: var(--muted); font-size: 11px; }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2; stroke-linejoin: round; }
svg .area { fill: var(--accent); fill-opacity: .12; stroke: none; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: right; padding: .4rem .7rem; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
th { font-size: .75rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); background: #f0f3f8; }
tr:last-child td { border-bottom: none; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.empty { color: var(--muted); font-style: italic; }
footer { padding: 0 1.5rem 1.5rem; color: var(--muted); font-size: .8rem; }
footer a { color: var(--accent); }
`;

const SCRIPT = `
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var WINDOW_MS = 15 * 60 * 1000;
  var refresh = Number(new URLSearchParams(location.search).get('refresh'));
  var refreshMs = (refresh >= 1 && refresh <= 60 ? refresh : 5) * 1000;

  function byId(id) { return document.getElementById(id); }
  function count(n) { return n.toLocaleString('en-US'); }
  function pct(r) { return r === null ? '\\u2013' : (r * 100).toFixed(1) + ' %'; }
  function ms(v) { return v === null ? '\\u2013' : (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : String(Math.round(v))) + ' ms'; }
  function rate(v) { return (v < 10 ? v.toFixed(2) : v.toFixed(1)) + ' /s'; }
  function bytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
  }
  function when(text) { return text === null ? '\\u2013' : text.replace('T', ' ').replace(/\\.\\d+Z$/, ' UTC'); }

  function show(id, text, value) {
    var el = byId(id);
    el.textContent = text;
    el.setAttribute('data-value', value === null || value === undefined ? '' : String(value));
    return el;
  }
  function cell(row, field, text, value, cls) {
    var td = document.createElement('td');
    td.setAttribute('data-field', field);
    td.textContent = text;
    if (value !== undefined) td.setAttribute('data-value', value === null ? '' : String(value));
    if (cls) td.className = cls;
    row.appendChild(td);
  }
  function fillTable(id, items, columns, emptyText) {
    var body = byId(id).tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    if (items.length === 0) {
      var tr = document.createElement('tr');
      var td = document.createElement('td');
      td.colSpan = columns;
      td.className = 'empty';
      td.textContent = emptyText;
      tr.appendChild(td);
      body.appendChild(tr);
      return [];
    }
    return items.map(function (item) {
      var row = document.createElement('tr');
      if (item.rule !== undefined) row.setAttribute('data-rule', item.rule);
      else if (item.strategy !== undefined) row.setAttribute('data-member', item.strategy + ' ' + item.origin);
      body.appendChild(row);
      return row;
    });
  }

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    parent.appendChild(e);
    return e;
  }
  /** A line over the last 15 minutes; a null value breaks the line. */
  function plot(id, points, key, format, end) {
    var svg = byId(id);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = 600, H = 170, L = 64, R = 8, T = 10, B = 22;
    var max = 0, drawn = 0;
    points.forEach(function (p) { if (p[key] !== null && p[key] > max) max = p[key]; });
    var top = max > 0 ? max * 1.1 : 1;
    var x = function (t) { return L + ((t - (end - WINDOW_MS)) / WINDOW_MS) * (W - L - R); };
    var y = function (v) { return T + (1 - v / top) * (H - T - B); };
    el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, 'class': 'axis' }, svg);
    el('line', { x1: L, y1: T, x2: W - R, y2: T, 'class': 'axis' }, svg);
    el('text', { x: L - 6, y: T + 4, 'text-anchor': 'end', 'class': 'label' }, svg).textContent = format(top);
    el('text', { x: L - 6, y: H - B + 4, 'text-anchor': 'end', 'class': 'label' }, svg).textContent = format(0);
    [15, 10, 5, 0].forEach(function (m) {
      el('text', { x: x(end - m * 60000), y: H - 6, 'text-anchor': m === 15 ? 'start' : m === 0 ? 'end' : 'middle', 'class': 'label' }, svg)
        .textContent = m === 0 ? 'now' : '\\u2212' + m + ' min';
    });
    var segments = [[]];
    points.forEach(function (p) {
      if (p.t < end - WINDOW_MS) return;
      if (p[key] === null) { if (segments[segments.length - 1].length) segments.push([]); return; }
      segments[segments.length - 1].push([x(p.t), y(p[key])]);
      drawn++;
    });
    segments.forEach(function (seg) {
      if (seg.length === 0) return;
      var line = seg.map(function (c) { return c[0].toFixed(1) + ',' + c[1].toFixed(1); }).join(' ');
      var area = seg[0][0].toFixed(1) + ',' + (H - B) + ' ' + line + ' ' + seg[seg.length - 1][0].toFixed(1) + ',' + (H - B);
      el('polygon', { points: area, 'class': 'area' }, svg);
      el('polyline', { points: line, 'class': 'line' }, svg);
    });
    svg.setAttribute('data-points', String(drawn));
    svg.setAttribute('data-max', String(max));
  }

  function render(s) {
    var end = Date.parse(s.generatedAt);
    document.body.setAttribute('data-generated-at', s.generatedAt);
    var updated = byId('updated');
    updated.textContent = 'updated ' + when(s.generatedAt) + ' \\u00b7 ' + s.processes + (s.processes === 1 ? ' process' : ' processes');
    updated.className = 'meta';

    show('request-rate', rate(s.totals.requestRate), s.totals.requestRate);
    show('total-requests', count(s.totals.requests), s.totals.requests);
    show('hit-ratio', pct(s.totals.hitRatio), s.totals.hitRatio);
    show('errors-5xx', count(s.totals.errors5xx), s.totals.errors5xx);
    show('cache-bytes', bytes(s.cache.bytes), s.cache.bytes);
    show('cache-capacity', bytes(s.cache.capacityBytes), s.cache.capacityBytes);
    show('cache-objects', count(s.cache.objects), s.cache.objects);
    show('origin-error-rate', pct(s.origin.errorRate), s.origin.errorRate).className =
      'big ' + (s.origin.errorRate === null ? '' : s.origin.errorRate > 0.05 ? 'bad' : s.origin.errorRate > 0 ? 'warn' : 'ok');
    show('origin-p50', ms(s.origin.p50Ms), s.origin.p50Ms);
    show('origin-p99', ms(s.origin.p99Ms), s.origin.p99Ms);
    show('config-version', s.config.versions.length ? s.config.versions.join(', ') : '\\u2013', s.config.versions.join(','));
    show('config-loaded-at', when(s.config.loadedAt), s.config.loadedAt);
    var last = s.reload.last;
    var reload = show('reload-last', last === null ? 'none since start' : (last.ok ? 'succeeded ' : 'FAILED (see the error log) ') + when(last.at),
      last === null ? null : last.ok);
    reload.setAttribute('data-ok', last === null ? '' : String(last.ok));
    reload.className = last === null ? '' : last.ok ? 'ok' : 'bad';
    show('reload-counts', count(s.reload.successes) + ' ok \\u00b7 ' + count(s.reload.failures) + ' failed', s.reload.failures);
    show('signing-failures', count(s.totals.signingFailures), s.totals.signingFailures).className =
      'big ' + (s.totals.signingFailures > 0 ? 'bad' : '');

    fillTable('rules', s.rules, 7, 'no requests yet').forEach(function (row, i) {
      var r = s.rules[i];
      cell(row, 'rule', r.rule === '-' ? '- (no rule matched)' : r.rule);
      cell(row, 'requests', count(r.requests), r.requests);
      cell(row, 'hit-ratio', pct(r.hitRatio), r.hitRatio);
      cell(row, 'errors-5xx', count(r.errors5xx), r.errors5xx, r.errors5xx > 0 ? 'bad' : '');
      cell(row, 'p50', ms(r.p50Ms), r.p50Ms);
      cell(row, 'p99', ms(r.p99Ms), r.p99Ms);
      cell(row, 'signing-failures', count(r.signingFailures), r.signingFailures, r.signingFailures > 0 ? 'bad' : '');
    });
    fillTable('origins', s.origins, 6, 'no origin requests yet').forEach(function (row, i) {
      var o = s.origins[i];
      cell(row, 'rule', o.rule);
      cell(row, 'requests', count(o.requests), o.requests);
      cell(row, 'errors', count(o.errors), o.errors, o.errors > 0 ? 'bad' : '');
      cell(row, 'error-rate', pct(o.errorRate), o.errorRate);
      cell(row, 'p50', ms(o.p50Ms), o.p50Ms);
      cell(row, 'p99', ms(o.p99Ms), o.p99Ms);
    });
    fillTable('pools', s.pools, 3, 'no origin pools').forEach(function (row, i) {
      var p = s.pools[i];
      cell(row, 'strategy', p.strategy);
      cell(row, 'origin', p.origin);
      cell(row, 'state', p.up ? 'up' : 'DOWN', p.up, p.up ? 'ok' : 'bad');
    });
    fillTable('credentials', s.credentials, 2, 'no expiring credentials').forEach(function (row, i) {
      var c = s.credentials[i];
      var left = Date.parse(c.expiresAt) - end;
      cell(row, 'rule', c.rule);
      cell(row, 'expires-at', when(c.expiresAt), c.expiresAt, left <= 0 ? 'bad' : left < 3600000 ? 'warn' : 'ok');
    });
    byId('workers-section').hidden = s.workers === null;
    fillTable('workers', s.workers || [], 3, 'no workers').forEach(function (row, i) {
      var w = s.workers[i];
      row.setAttribute('data-rule', String(w.worker));
      cell(row, 'worker', String(w.worker));
      cell(row, 'pid', String(w.pid));
      cell(row, 'state', w.ok ? 'answering' : 'not answering: ' + (w.error || ''), undefined, w.ok ? 'ok' : 'bad');
    });

    plot('plot-rate', s.history.points, 'requestRate', rate, end);
    plot('plot-cache', s.history.points, 'cacheBytes', bytes, end);
  }

  function tick() {
    fetch('status.json', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render)
      .catch(function (err) {
        var updated = byId('updated');
        updated.textContent = 'update failed (' + err.message + '); showing ' + when(document.body.getAttribute('data-generated-at'));
        updated.className = 'meta stale';
      })
      .then(function () { setTimeout(tick, refreshMs); });
  }

  render(JSON.parse(byId('initial-status').textContent));
  setTimeout(tick, refreshMs);
})();
`;

const BODY = `
<header><h1>remapd</h1><span id="updated" class="meta"></span></header>
<main>
<section class="cards">
  <div class="card"><h2>Requests / s</h2><p class="big" id="request-rate"></p><p class="small">last minute</p></div>
  <div class="card"><h2>Requests</h2><p class="big" id="total-requests"></p><p class="small"><span id="errors-5xx"></span> answered 5xx</p></div>
  <div class="card"><h2>Hit ratio</h2><p class="big" id="hit-ratio"></p><p class="small">of cache lookups, since start</p></div>
  <div class="card"><h2>Cache</h2><p class="big" id="cache-bytes"></p><p class="small"><span id="cache-objects"></span> objects, of <span id="cache-capacity"></span></p></div>
  <div class="card"><h2>Origin errors</h2><p class="big" id="origin-error-rate"></p><p class="small">p50 <span id="origin-p50"></span> \u00b7 p99 <span id="origin-p99"></span></p></div>
  <div class="card"><h2>Signing failures</h2><p class="big" id="signing-failures"></p><p class="small">since start</p></div>
  <div class="card"><h2>Configuration</h2><p class="big mono" id="config-version"></p><p class="small">loaded <span id="config-loaded-at"></span></p></div>
  <div class="card"><h2>Last reload</h2><p class="small"><span id="reload-last"></span></p><p class="small" id="reload-counts"></p></div>
</section>
<section class="plots">
  <figure><figcaption>Requests per second, last 15 minutes</figcaption><svg id="plot-rate" viewBox="0 0 600 170" role="img" aria-label="request rate"></svg></figure>
  <figure><figcaption>Cache occupancy, last 15 minutes</figcaption><svg id="plot-cache" viewBox="0 0 600 170" role="img" aria-label="cache occupancy"></svg></figure>
</section>
<section><h2>Rules</h2>
<table id="rules"><thead><tr><th>rule</th><th>requests</th><th>hit ratio</th><th>5xx</th><th>p50</th><th>p99</th><th>signing failures</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Origins</h2>
<table id="origins"><thead><tr><th>rule</th><th>requests</th><th>errors</th><th>error rate</th><th>p50</th><th>p99</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Origin pools</h2>
<table id="pools"><thead><tr><th>strategy</th><th>origin</th><th>state</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Credentials</h2>
<table id="credentials"><thead><tr><th>rule</th><th>expire at</th></tr></thead><tbody></tbody></table>
</section>
<section id="workers-section" hidden><h2>Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>pid</th><th>state</th></tr></thead><tbody></tbody></table>
</section>
<noscript><p>This page draws itself with a small script; the same numbers are in <a href="status.json">status.json</a>.</p></noscript>
</main>
<footer>Also: <a href="metrics">metrics</a> (Prometheus) \u00b7 <a href="metrics.json">metrics.json</a> \u00b7 <a href="status.json">status.json</a> \u00b7 <a href="readyz">readyz</a></footer>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Allows this page's own script and style, and fetching status.json from the same origin; nothing else. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * JSON that can sit inside a <script> element: `<`, `>` and `&` cannot close it or start a comment, and the two
 * line separators JavaScript once treated as line ends are escaped too.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The whole page, with `initial` embedded for the first paint (no request needed before something shows). */
export function renderStatusPage(initial: StatusInfo): string {
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<meta name="referrer" content="no-referrer">' +
    '<link rel="icon" href="data:,">' +
    `<title>remapd status</title><style>${STYLE}</style></head>\n<body>${BODY}` +
    `<script type="application/json" id="initial-status">${jsonForScript(initial)}</script>\n` +
    `<script>${SCRIPT}</script>\n</body></html>\n`
  );
}
