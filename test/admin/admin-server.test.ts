/**
 * The admin listener (admin/admin-server.ts) on 127.0.0.1 port 0: its routes, status codes and content types,
 * HEAD, 405/404, the address allow list, and what a failing callback shows.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createAdminServer, type AdminServerOptions } from '../../src/admin/admin-server.js';
import { type Readiness, readiness } from '../../src/admin/health.js';
import type { StatusInfo } from '../../src/admin/status.js';
import { STATUS_PAGE_CSP } from '../../src/admin/status-page.js';
import { createLogger } from '../../src/observability/logger.js';
import { METRIC, Metrics, mergeSnapshots } from '../../src/observability/metrics.js';
import { parseIpEntry } from '../../src/remap/ip-range.js';
import { LOOPBACK, request } from '../support/harness.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

const STEP = { timeout: 10_000 };
/** A rule id no HTML or JSON writer should trust. */
const NASTY_RULE = 'evil.config:1</script><img src=x onerror=alert(1)>"\'&\u2028';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Starts an admin server for one test, closed when the test ends. */
async function admin(t: { after(fn: () => Promise<void>): void }, options: AdminServerOptions): Promise<string> {
  const server = createAdminServer(options);
  const url = await listen(server);
  t.after(() => closeServer(server));
  return url;
}

const metrics = new Metrics();
let ready: Readiness = readiness([{ name: 'config', ok: true, detail: '1 rule(s)' }]);
const logs: string[] = [];
let server: Server;
let url: string;

before(async () => {
  metrics.observeRequest({ rule: 'remap.config:1', method: 'GET', status: 200, cache: 'hit-fresh', durationMs: 1, bytesIn: 0, bytesOut: 10 });
  metrics.observeRequest({ rule: NASTY_RULE, method: 'GET', status: 200, cache: 'miss', durationMs: 1, bytesIn: 0, bytesOut: 10 });
  metrics.configLoaded({ version: 'abc123def456', loadedAt: new Date() });
  metrics.sample();
  server = createAdminServer({
    metrics: () => metrics.snapshot(),
    health: () => ready,
    allow: ['127.0.0.1', '::1'].map(parseIpEntry),
    logger: createLogger({ write: (l) => logs.push(l) }),
  });
  url = await listen(server);
});

after(() => closeServer(server));

describe('admin routes', () => {
  test('GET /metrics: the Prometheus text format 0.0.4, not cached', STEP, async () => {
    const res = await request(url, { path: '/metrics' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    const parsed = parsePrometheus(res.text);
    assert.equal(sampleValue(parsed, METRIC.requests, { rule: 'remap.config:1', method: 'GET', code: '200', cache: 'hit-fresh' }), 1);
    assert.equal(sampleValue(parsed, METRIC.requests, { rule: NASTY_RULE, method: 'GET', code: '200', cache: 'miss' }), 1);
    assert.equal(sampleValue(parsed, METRIC.configInfo, { version: 'abc123def456' }), 1);
  });

  test('GET /metrics.json: the same numbers as JSON, without the history', STEP, async () => {
    const res = await request(url, { path: '/metrics.json' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    const body = JSON.parse(res.text) as { time: number; families: { name: string }[]; history?: unknown };
    assert.deepEqual(Object.keys(body).sort(), ['families', 'time']);
    assert.deepEqual(body.families.map((f) => f.name), metrics.snapshot().families.map((f) => f.name));
  });

  test('GET /status.json: rules, config and history worked out from the metrics', STEP, async () => {
    const res = await request(url, { path: '/status.json' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    const s = JSON.parse(res.text) as StatusInfo;
    assert.deepEqual(s.rules.map((r) => r.rule).sort(), [NASTY_RULE, 'remap.config:1'].sort());
    assert.deepEqual(s.config.versions, ['abc123def456']);
    assert.equal(s.history.points.length, 1);
  });

  test('GET /status: HTML with a CSP that allows only its own script and style; data embedded safely', STEP, async () => {
    const res = await request(url, { path: '/status' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['content-security-policy'], STATUS_PAGE_CSP);
    assert.match(STATUS_PAGE_CSP, /default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-/);
    assert.ok(!res.text.includes('<img'), 'the rule id is not markup');
    assert.equal(res.text.match(/<\/script>/g)?.length, 2, 'only the two script elements end');
    const embedded = /<script type="application\/json" id="initial-status">(.*?)<\/script>/s.exec(res.text)![1]!;
    const s = JSON.parse(embedded) as StatusInfo;
    assert.ok(s.rules.some((r) => r.rule === NASTY_RULE), 'the embedded JSON reads back exactly');
  });

  test('GET /healthz: 200 "ok" whatever readiness says', STEP, async () => {
    ready = readiness([{ name: 'origins', ok: false, detail: 'nothing reachable' }]);
    const res = await request(url, { path: '/healthz' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok\n');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  });

  test('GET /readyz: 200 when ready, else 503 naming each failing check', STEP, async () => {
    ready = readiness([{ name: 'config', ok: true, detail: 'fine' }]);
    const ok = await request(url, { path: '/readyz' });
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'ready\n');
    ready = readiness([
      { name: 'config', ok: true, detail: 'fine' },
      { name: 'credentials', ok: false, detail: 'remap.config:3: credentials expired at 2026-11-23T10:00:00.000Z' },
      { name: 'origins', ok: false, detail: '1 of 1 origin(s) unreachable: s3.example:443' },
    ]);
    const bad = await request(url, { path: '/readyz' });
    assert.equal(bad.status, 503);
    assert.equal(
      bad.text,
      'not ready\ncredentials: remap.config:3: credentials expired at 2026-11-23T10:00:00.000Z\norigins: 1 of 1 origin(s) unreachable: s3.example:443\n',
    );
    ready = readiness([]);
  });

  test('GET /readyz: a degraded check (an origin pool member down) passes and is named under "ready"', STEP, async () => {
    ready = readiness([
      { name: 'config', ok: true, detail: 'fine' },
      { name: 'pools', ok: true, degraded: true, detail: '1 of 2 member(s) down: regions 10.0.0.1:9000 (down for 4 s, last failure ERR_ORIGIN_CONNECT)' },
    ]);
    const res = await request(url, { path: '/readyz' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ready\npools: 1 of 2 member(s) down: regions 10.0.0.1:9000 (down for 4 s, last failure ERR_ORIGIN_CONNECT)\n');
    ready = readiness([]);
  });

  test('HEAD answers like GET without a body; a query string is ignored', STEP, async () => {
    const get = await request(url, { path: '/metrics?x=1' });
    const head = await request(url, { method: 'HEAD', path: '/metrics' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-type'], get.headers['content-type']);
    assert.ok(Number(head.headers['content-length']) > 0);
  });

  test('other methods get 405 with Allow; unknown paths 404', STEP, async () => {
    const post = await request(url, { method: 'POST', path: '/metrics', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const missing = await request(url, { path: '/admin' });
    assert.equal(missing.status, 404);
    assert.match(missing.text, /\/metrics \/metrics\.json \/status \/status\.json \/healthz \/readyz/);
    assert.equal((await request(url, { path: '/status/' })).status, 404);
  });
});

describe('admin access and failures', () => {
  test('an address outside the allow list gets 403 on every path, before anything else', STEP, async (t) => {
    let called = 0;
    const base = await admin(t, {
      metrics: () => (called++, metrics.snapshot()),
      health: () => readiness([]),
      allow: [parseIpEntry('10.0.0.0/8')],
    });
    for (const [method, path] of [['GET', '/metrics'], ['GET', '/healthz'], ['GET', '/nope'], ['DELETE', '/metrics']] as const) {
      const res = await request(base, { method, path });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.match(res.text, /may not use the admin endpoints/);
    }
    assert.equal(called, 0);
  });

  test('an allow list may be every address but loopback, written as a negation', STEP, async (t) => {
    const base = await admin(t, { metrics: () => metrics.snapshot(), health: () => readiness([]), allow: [parseIpEntry('~127.0.0.0/8')] });
    assert.equal((await request(base, { path: '/healthz' })).status, 403);
  });

  test('callbacks may be async (a supervisor gathering its workers), and their merge is what is served', STEP, async (t) => {
    const other = new Metrics();
    other.observeRequest({ rule: 'remap.config:1', method: 'GET', status: 200, cache: 'hit-fresh', durationMs: 1, bytesIn: 0, bytesOut: 10 });
    const base = await admin(t, {
      metrics: async () => mergeSnapshots([metrics.snapshot(), other.snapshot()]),
      health: async () => readiness([]),
      allow: [parseIpEntry('127.0.0.1')],
    });
    const parsed = parsePrometheus((await request(base, { path: '/metrics' })).text);
    assert.equal(sampleValue(parsed, METRIC.requests, { rule: 'remap.config:1', method: 'GET', code: '200', cache: 'hit-fresh' }), 2);
    assert.equal(sampleValue(parsed, METRIC.processes), 2);
    const status = JSON.parse((await request(base, { path: '/status.json' })).text) as StatusInfo;
    assert.equal(status.processes, 2);
  });

  test('a callback that throws gives a 500 whose reason goes to the error log only', STEP, async (t) => {
    const lines: string[] = [];
    const base = await admin(t, {
      metrics: () => {
        throw new Error('worker 3 did not answer');
      },
      health: () => readiness([]),
      allow: [parseIpEntry('127.0.0.1')],
      logger: createLogger({ write: (l) => lines.push(l) }),
    });
    const res = await request(base, { path: '/metrics' });
    assert.equal(res.status, 500);
    assert.ok(!res.text.includes('worker 3'));
    assert.match(lines.join(''), /admin endpoint failed path=\/metrics error="worker 3 did not answer"/);
  });
});
