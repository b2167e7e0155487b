/**
 * The status page in a real headless browser: Debian's chromium driven by playwright-core loads /status from an
 * admin server on 127.0.0.1 port 0 whose numbers come from a real remapd in front of a real origin, and the test
 * checks that what the page shows is what /status.json says — first paint, then after live traffic — that the
 * plots are drawn, that nothing the page is given runs as markup, and that the CSP blocks nothing the page needs.
 * A screenshot is saved in a temporary folder and its path printed.
 *
 * Needs /usr/bin/chromium (`.ci/run` installs Debian's package); skipped with a message when it is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createAdminServer } from '../../src/admin/admin-server.js';
import { readiness } from '../../src/admin/health.js';
import { buildStatus, type StatusInfo } from '../../src/admin/status.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { ProxyContext } from '../../src/proxy/handler.js';
import { parseIpEntry } from '../../src/remap/ip-range.js';
import { LOOPBACK, type Origin, type Remapd, request, startOrigin, startRemapd } from '../support/harness.js';

const CHROMIUM = '/usr/bin/chromium';
/** A missing browser fails the test loudly (never a silent skip): .ci/run installs it. */
const MISSING = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does) to run the status page test`;
const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Every wait in this file is bounded by this (the test itself by TEST_TIMEOUT). */
const WAIT_MS = 10_000;
const TEST_TIMEOUT = { timeout: 90_000 };
/** A rule id that would run script if the page ever wrote data as markup. */
const HOSTILE_RULE = '<img src=x onerror="window.__injected=1">';

/** What the page shows, read in one evaluation (so one render, never half of two). Page source, not Node. */
const READ_PAGE = `(() => {
  const field = (el) => ({ text: el.textContent, value: el.getAttribute('data-value') });
  const byId = (id) => field(document.getElementById(id));
  const rows = (id) => [...document.querySelectorAll('#' + id + ' tbody tr[data-rule]')].map((tr) => ({
    rule: tr.getAttribute('data-rule'),
    cells: Object.fromEntries([...tr.cells].map((td) => [td.getAttribute('data-field'), field(td)])),
  }));
  const ids = ['request-rate', 'total-requests', 'hit-ratio', 'errors-5xx', 'cache-bytes', 'cache-capacity', 'cache-objects',
    'origin-error-rate', 'origin-p50', 'origin-p99', 'config-version', 'config-loaded-at', 'reload-last', 'signing-failures'];
  return {
    generatedAt: document.body.getAttribute('data-generated-at'),
    ids: Object.fromEntries(ids.map((id) => [id, byId(id)])),
    reloadOk: document.getElementById('reload-last').getAttribute('data-ok'),
    rules: rows('rules'),
    origins: rows('origins'),
    ratePoints: Number(document.getElementById('plot-rate').getAttribute('data-points')),
    cachePoints: Number(document.getElementById('plot-cache').getAttribute('data-points')),
    ratePolylines: document.querySelectorAll('#plot-rate polyline').length,
    images: document.querySelectorAll('img').length,
    injected: window.__injected === undefined ? null : window.__injected,
    updated: document.getElementById('updated').textContent,
  };
})()`;

interface Field {
  text: string;
  value: string | null;
}
interface PageView {
  generatedAt: string;
  ids: Record<string, Field>;
  reloadOk: string;
  rules: { rule: string; cells: Record<string, Field> }[];
  origins: { rule: string; cells: Record<string, Field> }[];
  ratePoints: number;
  cachePoints: number;
  ratePolylines: number;
  images: number;
  injected: unknown;
  updated: string;
}

// The page's formats, restated: what a person reads must be these exact strings.
const count = (n: number) => n.toLocaleString('en-US');
const pct = (r: number | null) => (r === null ? '\u2013' : `${(r * 100).toFixed(1)} %`);
const ms = (v: number | null) => (v === null ? '\u2013' : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : String(Math.round(v))} ms`);
const raw = (v: number | string | boolean | null) => (v === null ? '' : String(v));

/** Every number the page shows against the status it was drawn from. */
function assertShows(view: PageView, s: StatusInfo): void {
  assert.equal(view.generatedAt, s.generatedAt);
  const is = (id: string, value: number | string | null, text?: string) => {
    assert.equal(view.ids[id]!.value, raw(value), `#${id} data-value`);
    if (text !== undefined) assert.equal(view.ids[id]!.text, text, `#${id} text`);
  };
  is('total-requests', s.totals.requests, count(s.totals.requests));
  is('request-rate', s.totals.requestRate);
  is('hit-ratio', s.totals.hitRatio, pct(s.totals.hitRatio));
  is('errors-5xx', s.totals.errors5xx, count(s.totals.errors5xx));
  is('cache-bytes', s.cache.bytes);
  is('cache-capacity', s.cache.capacityBytes);
  is('cache-objects', s.cache.objects, count(s.cache.objects));
  is('origin-error-rate', s.origin.errorRate, pct(s.origin.errorRate));
  is('origin-p50', s.origin.p50Ms, ms(s.origin.p50Ms));
  is('origin-p99', s.origin.p99Ms, ms(s.origin.p99Ms));
  is('config-version', s.config.versions.join(','), s.config.versions.join(', '));
  is('config-loaded-at', s.config.loadedAt);
  is('signing-failures', s.totals.signingFailures, count(s.totals.signingFailures));
  assert.equal(view.reloadOk, s.reload.last === null ? '' : String(s.reload.last.ok));

  assert.deepEqual(view.rules.map((r) => r.rule), s.rules.map((r) => r.rule), 'one row per rule, in order');
  for (const r of s.rules) {
    const row = view.rules.find((x) => x.rule === r.rule)!.cells;
    assert.deepEqual(row.requests, { text: count(r.requests), value: raw(r.requests) }, `${r.rule} requests`);
    assert.deepEqual(row['hit-ratio'], { text: pct(r.hitRatio), value: raw(r.hitRatio) }, `${r.rule} hit ratio`);
    assert.deepEqual(row['errors-5xx'], { text: count(r.errors5xx), value: raw(r.errors5xx) }, `${r.rule} 5xx`);
    assert.deepEqual(row.p50, { text: ms(r.p50Ms), value: raw(r.p50Ms) }, `${r.rule} p50`);
    assert.deepEqual(row.p99, { text: ms(r.p99Ms), value: raw(r.p99Ms) }, `${r.rule} p99`);
  }
  assert.deepEqual(view.origins.map((o) => [o.rule, o.cells.requests!.value, o.cells['error-rate']!.value]), s.origins.map((o) => [o.rule, raw(o.requests), raw(o.errorRate)]));
  const inWindow = s.history.points.filter((p) => p.t >= Date.parse(s.generatedAt) - 15 * 60_000).length;
  assert.equal(view.ratePoints, inWindow, 'every history point of the last 15 minutes is plotted');
  assert.equal(view.cachePoints, inWindow);
}

let origin: Origin;
let proxy: Remapd;
let metrics: Metrics;
let admin: Server;
let adminUrl: string;

before(async () => {
  if (MISSING) return;
  origin = await startOrigin((req, res) => {
    if (req.url!.startsWith('/broken')) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('broken');
      return;
    }
    const body = Buffer.alloc(2048, 'x');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600', 'content-length': String(body.length) });
    res.end(body);
  });
  proxy = await startRemapd(
    [`map http://cdn.test/ http://${LOOPBACK}:${origin.port}/`, `map http://api.test/ http://${LOOPBACK}:${origin.port}/broken/`, ''].join('\n'),
  );
  metrics = new Metrics();
  const ctx = (proxy.server as unknown as { ctx: ProxyContext & { metrics?: Metrics } }).ctx;
  ctx.metrics = metrics;
  metrics.watchCache(ctx.cache);
  metrics.configLoaded({ version: '5e1f0c2a9b7d', loadedAt: new Date() });
  metrics.reload(true);
  // Ten minutes of history: a burst of real requests through remapd before each back-dated sample.
  const start = Date.now() - 10 * 60_000;
  for (let i = 0; i < 120; i += 4) {
    const n = 1 + (i % 7);
    for (let k = 0; k < n; k++) await request(proxy.url, { path: `/obj/${i % 24}-${k}`, headers: { host: 'cdn.test' } });
    if (i % 20 === 0) await request(proxy.url, { path: '/x', headers: { host: 'api.test' } });
    metrics.sample(start + i * 5_000);
  }
  metrics.observeRequest({ rule: HOSTILE_RULE, method: 'GET', status: 200, cache: 'miss', durationMs: 2, bytesIn: 0, bytesOut: 1 });
  metrics.sample();
  admin = createAdminServer({
    metrics: () => metrics.snapshot(),
    health: () => readiness([]),
    status: () => buildStatus(metrics.snapshot()),
    allow: [parseIpEntry('127.0.0.1')],
  });
  await new Promise<void>((resolve) => admin.listen(0, LOOPBACK, resolve));
  adminUrl = `http://${LOOPBACK}:${(admin.address() as AddressInfo).port}`;
}, { timeout: 60_000 });

after(async () => {
  if (MISSING) return;
  admin.closeAllConnections();
  await new Promise<void>((resolve) => admin.close(() => resolve()));
  await proxy.close();
  await origin.close();
});

/** Reads the page until it shows a status.json body it fetched (one render, matched by generatedAt). */
async function settledView(page: Page, fetched: Map<string, StatusInfo>): Promise<{ view: PageView; status: StatusInfo }> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const view = (await page.evaluate(READ_PAGE)) as PageView;
    const status = fetched.get(view.generatedAt);
    if (status) return { view, status };
    if (Date.now() > deadline) assert.fail(`the page never showed a fetched status.json (shows ${view.generatedAt}; "${view.updated}")`);
    await sleep(50);
  }
}

describe('status page in headless chromium', () => {
  test('shows the numbers of /status.json, plots the last 15 minutes, follows live traffic, and saves a screenshot', TEST_TIMEOUT, async (t) => {
    if (MISSING) assert.fail(MISSING);
    const userDataDir = mkdtempSync(join(tmpdir(), 'remapd-chromium-'));
    let context: BrowserContext | null = null;
    t.after(async () => {
      await context?.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    });
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: BROWSER_ARGS,
      timeout: 30_000,
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const fetched = new Map<string, StatusInfo>();
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/status.json') {
        r.json().then((s: StatusInfo) => fetched.set(s.generatedAt, s), () => {});
      }
    });

    const res = await page.goto(`${adminUrl}/status?refresh=1`);
    assert.equal(res?.status(), 200);
    await page.waitForSelector('#rules tbody tr[data-rule]');

    // First: what it shows is what it fetched, and agrees with a status.json fetched here (no traffic meanwhile).
    const first = await settledView(page, fetched);
    assertShows(first.view, first.status);
    const mine = JSON.parse((await request(adminUrl, { path: '/status.json' })).text) as StatusInfo;
    assert.equal(first.view.ids['total-requests']!.value, String(mine.totals.requests));
    assert.deepEqual(first.view.rules.map((r) => [r.rule, r.cells.requests!.value, r.cells['hit-ratio']!.value]),
      mine.rules.map((r) => [r.rule, String(r.requests), raw(r.hitRatio)]));
    assert.ok(first.status.totals.requests > 60, `traffic was made (${first.status.totals.requests} requests)`);
    assert.ok(first.view.ratePoints >= 30, `${first.view.ratePoints} points plotted`);
    assert.ok(first.view.ratePolylines >= 1);
    assert.equal(first.view.ids['config-version']!.text, '5e1f0c2a9b7d');
    assert.equal(first.view.reloadOk, 'true');
    // The hostile rule id is text in its cell, not an element, and ran nothing.
    assert.equal(first.view.images, 0);
    assert.equal(first.view.injected, null);
    assert.ok(first.view.rules.some((r) => r.rule === HOSTILE_RULE && r.cells.rule!.text === HOSTILE_RULE));

    // Live: more requests through remapd show up on the page by its own refresh.
    const before = first.status.totals.requests;
    for (let k = 0; k < 5; k++) await request(proxy.url, { path: `/live/${k}`, headers: { host: 'cdn.test' } });
    await request(proxy.url, { path: '/live/0', headers: { host: 'cdn.test' } });
    metrics.sample();
    // Polled with evaluate, not waitForFunction: that evals a string in the page, which the page's CSP forbids.
    const deadline = Date.now() + WAIT_MS;
    while (((await page.evaluate(READ_PAGE)) as PageView).ids['total-requests']!.value !== String(before + 6)) {
      if (Date.now() > deadline) assert.fail(`the page did not show ${before + 6} requests within ${WAIT_MS} ms`);
      await sleep(100);
    }
    const second = await settledView(page, fetched);
    assertShows(second.view, second.status);
    assert.equal(second.status.totals.requests, before + 6);

    const dir = mkdtempSync(join(tmpdir(), 'remapd-status-page-'));
    const shot = join(dir, 'status.png');
    await page.screenshot({ path: shot, fullPage: true, timeout: WAIT_MS });
    assert.ok(existsSync(shot));
    t.diagnostic(`status page screenshot: ${shot}`);

    assert.deepEqual(problems, [], 'no script errors, no CSP violations');
  });
});
