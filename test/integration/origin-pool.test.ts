/**
 * Origin pools (`@strategy=`, strategies.yaml) end to end: a real remapd on 127.0.0.1 port 0 in front of plain
 * node:http origins on port 0, one strategy per behaviour. Failover on a status, a refused connection and a
 * timeout; a request with a body never retried; consistent_hash keeping a path on one origin; passive mark-down
 * and an active check bringing a restarted origin back; the metrics and the readiness check.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { poolsCheck } from '../../src/admin/health.js';
import { METRIC, Metrics } from '../../src/observability/metrics.js';
import type { ProxyContext } from '../../src/proxy/handler.js';
import { LOOPBACK, refusedPort, type Origin, type Remapd, rawValues, request, startOrigin, startRemapd } from '../support/harness.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

const STEP = { timeout: 15_000 };
const HOOK = { timeout: 15_000 };

/** A port nothing listens on (harness.ts refusedPort: never one another test file can be given). */
const deadPort = refusedPort;

/** An origin that answers 200 with its own name, so a test sees which member served a request. */
function named(name: string): Promise<Origin> {
  return startOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': name });
    res.end(req.method === 'HEAD' ? undefined : `${name} ${req.url}`);
  });
}

/** An origin on a fixed port that can be stopped and started again on the same port (the rise test). */
class Restartable {
  server: Server | null = null;
  port = 0;
  hits = 0;
  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url !== '/health') this.hits++;
      res.writeHead(200, { 'x-served-by': 'restartable' });
      res.end('restartable');
    });
    await new Promise<void>((r) => server.listen(port, LOOPBACK, r));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

const host = (h: string) => ({ host: h });
const servedBy = (r: { headers: Record<string, unknown> }) => r.headers['x-served-by'];

let proxy: Remapd;
let metrics: Metrics;
let ok1: Origin;
let ok2: Origin;
let failing: Origin;
let hanging: Origin;
const hung: (() => void)[] = [];
const restartable = new Restartable();
let dead: number;

before(async () => {
  ok1 = await named('ok1');
  ok2 = await named('ok2');
  failing = await startOrigin((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain', 'x-served-by': 'failing' });
    res.end('slow down');
  });
  hanging = await startOrigin((_req, res) => hung.push(() => res.end('late')));
  await restartable.start();
  dead = await deadPort();
  const member = (port: number) => `{ host: ${LOOPBACK}, protocol: [{ scheme: http, port: ${port} }] }`;
  const strategy = (name: string, policy: string, ports: number[], extra = '') =>
    `  - strategy: ${name}\n    policy: ${policy}\n    groups:\n      - [${ports.map(member).join(', ')}]\n${extra}`;
  const strategies = [
    'strategies:',
    strategy('on-503', 'first_live', [failing.port, ok1.port]),
    strategy('refused', 'first_live', [dead, ok1.port]),
    strategy('timeout', 'first_live', [hanging.port, ok2.port]),
    strategy('put-503', 'first_live', [failing.port, ok2.port]),
    strategy('put-refused', 'first_live', [dead, ok2.port]),
    strategy('hash', 'consistent_hash', [ok1.port, ok2.port]),
    strategy('rr', 'round_robin', [ok1.port, ok2.port]),
    strategy(
      'rise',
      'first_live',
      [restartable.port, ok2.port],
      // Retry time of an hour: only the active checks can bring the member back within the test.
      '    failover:\n      health_check: [passive, active]\n    health_check:\n      path: /health\n      interval: 100ms\n      timeout: 80ms\n      rise: 2\n      fall: 2\n      retry_time: 1h\n',
    ),
    '',
  ].join('\n');
  const rules = ['on-503', 'refused', 'timeout', 'put-503', 'put-refused', 'hash', 'rr', 'rise'].map(
    (s) => `map http://${s}.test/ http://origin.invalid/base/ @strategy=${s}`,
  );
  proxy = await startRemapd(`${rules.join('\n')}\n`, {
    files: { 'strategies.yaml': strategies },
    settings: { cacheSize: 0, connectTimeoutMs: 1_000, responseTimeoutMs: 500, bodyIdleTimeoutMs: 2_000 },
  });
  metrics = new Metrics();
  // RemapdServer keeps its context private; the admin wiring puts a Metrics in it, as this test does.
  const ctx = (proxy.server as unknown as { ctx: ProxyContext & { metrics?: Metrics } }).ctx;
  ctx.metrics = metrics;
  metrics.watchOriginPools(() => proxy.server.config.pools.flatMap((p) => p.status()));
}, HOOK);

after(async () => {
  for (const release of hung) release();
  await proxy?.close();
  for (const o of [ok1, ok2, failing, hanging]) await o?.close();
  await restartable.stop();
}, HOOK);

function pool(name: string) {
  const p = proxy.server.config.pools.find((x) => x.name === name);
  assert.ok(p, `pool ${name}`);
  return p;
}

describe('failover', () => {
  test('a 503 from the first member sends GET and HEAD to the next; each member gets its own Host', STEP, async () => {
    const before = failing.requests.length;
    const get = await request(proxy.url, { path: '/a.txt', headers: host('on-503.test') });
    assert.equal(get.status, 200, get.text);
    assert.equal(get.text, 'ok1 /base/a.txt');
    const head = await request(proxy.url, { path: '/a.txt', method: 'HEAD', headers: host('on-503.test') });
    assert.equal(head.status, 200);
    assert.equal(servedBy(head), 'ok1');
    assert.equal(failing.requests.length - before, 2, 'one try on the failing member per request');
    assert.deepEqual(rawValues(failing.requests.at(-1)!.rawHeaders, 'host'), [`${LOOPBACK}:${failing.port}`]);
    assert.deepEqual(rawValues(ok1.requests.at(-1)!.rawHeaders, 'host'), [`${LOOPBACK}:${ok1.port}`]);
    const m = parsePrometheus(metrics.prometheus());
    assert.ok((sampleValue(m, METRIC.originFailovers, { strategy: 'on-503' }) ?? 0) >= 2);
  });

  test('a refused connection fails over; after `fall` failures the member is down, in the metrics and /readyz', STEP, async () => {
    for (let i = 0; i < 5; i++) {
      const res = await request(proxy.url, { path: `/r${i}`, headers: host('refused.test') });
      assert.equal(res.status, 200, res.text);
      assert.equal(servedBy(res), 'ok1');
    }
    const [down, up] = pool('refused').status();
    assert.deepEqual([down!.up, down!.lastFailure, up!.up], [false, 'ERR_ORIGIN_CONNECT', true]);
    const m = parsePrometheus(metrics.prometheus());
    assert.equal(sampleValue(m, METRIC.originUp, { strategy: 'refused', origin: `${LOOPBACK}:${dead}` }), 0);
    assert.equal(sampleValue(m, METRIC.originUp, { strategy: 'refused', origin: `${LOOPBACK}:${ok1.port}` }), 1);
    // Three failed attempts (fall 3), then the member is skipped: no more failovers for this strategy.
    assert.equal(sampleValue(m, METRIC.originFailovers, { strategy: 'refused' }), 3);
    const check = poolsCheck(proxy.server.config);
    assert.equal(check.ok, true, 'a pool with a live member keeps the instance ready');
    assert.equal(check.degraded, true);
    assert.match(check.detail, new RegExp(`refused ${LOOPBACK}:${dead} \\(down for \\d+ s, last failure ERR_ORIGIN_CONNECT\\)`));
  });

  test('a reload keeps what the pool knew: the member that was down is still down in the new configuration', STEP, async () => {
    const before = pool('refused');
    assert.equal(before.status()[0]!.up, false);
    const result = await proxy.server.reload('test');
    assert.equal(result.ok, true);
    const after = pool('refused');
    assert.notEqual(after, before, 'the reload built new pools');
    const [down, up] = after.status();
    assert.deepEqual([down!.up, down!.lastFailure, up!.up], [false, 'ERR_ORIGIN_CONNECT', true]);
    const res = await request(proxy.url, { path: '/after-reload', headers: host('refused.test') });
    assert.equal(servedBy(res), 'ok1');
    const m = parsePrometheus(metrics.prometheus());
    assert.equal(sampleValue(m, METRIC.originFailovers, { strategy: 'refused' }), 3, 'no request was spent finding the dead member again');
  });

  test('a member that does not answer within the response timeout is left for the next', STEP, async () => {
    const res = await request(proxy.url, { path: '/slow', headers: host('timeout.test') });
    assert.equal(res.status, 200, res.text);
    assert.equal(servedBy(res), 'ok2');
    assert.equal(pool('timeout').status()[0]!.lastFailure, 'ERR_ORIGIN_TIMEOUT');
  });

  test('a PUT with a body is sent once: a 503 or a refused connection reaches the client, the next member sees nothing', STEP, async () => {
    // ok2 also answers the `rise` strategy's health checks (GET /health): count only what this test sends.
    const puts = () => ok2.requests.filter((r) => r.url.startsWith('/base/up.bin'));
    const on503 = await request(proxy.url, { method: 'PUT', path: '/up.bin', headers: host('put-503.test'), body: 'payload' });
    assert.equal(on503.status, 503);
    assert.equal(failing.requests.at(-1)!.body.toString(), 'payload');
    const refused = await request(proxy.url, { method: 'PUT', path: '/up.bin', headers: host('put-refused.test'), body: 'payload' });
    assert.equal(refused.status, 502);
    assert.equal(refused.headers['x-remapd-error'], 'ERR_ORIGIN_CONNECT');
    assert.deepEqual(puts(), [], 'never retried on the next member');
    // Without a body a PUT is idempotent and safe to send again.
    const empty = await request(proxy.url, { method: 'PUT', path: '/empty', headers: { ...host('put-503.test'), 'content-length': '0' } });
    assert.equal(empty.status, 200);
    assert.equal(servedBy(empty), 'ok2');
  });
});

describe('policies', () => {
  test('consistent_hash: a path always goes to the same origin while both are up, and both get paths', STEP, async () => {
    const byPath = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 16; i++) {
        const res = await request(proxy.url, { path: `/obj/${i}`, headers: host('hash.test') });
        assert.equal(res.status, 200);
        const by = String(servedBy(res));
        if (round === 0) byPath.set(`/obj/${i}`, by);
        else assert.equal(by, byPath.get(`/obj/${i}`), `/obj/${i} moved`);
      }
    }
    assert.deepEqual(new Set(byPath.values()), new Set(['ok1', 'ok2']));
  });

  test('round_robin: consecutive requests alternate between the members', STEP, async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(String(servedBy(await request(proxy.url, { path: '/same', headers: host('rr.test') }))));
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], seen.join(','));
  });
});

describe('health', () => {
  test('an origin that stops is marked down (no client request fails); restarted, active checks bring it back', STEP, async () => {
    const first = await request(proxy.url, { path: '/x', headers: host('rise.test') });
    assert.equal(servedBy(first), 'restartable');
    const port = restartable.port;
    await restartable.stop();
    for (let i = 0; i < 4; i++) {
      const res = await request(proxy.url, { path: `/x${i}`, headers: host('rise.test') });
      assert.equal(res.status, 200, res.text);
      assert.equal(servedBy(res), 'ok2');
    }
    assert.equal(pool('rise').status()[0]!.up, false);
    await restartable.start(port);
    const hitsBefore = restartable.hits;
    // Bounded wait: two passing checks 100 ms apart, with room for a slow machine.
    const deadline = Date.now() + 5_000;
    while (!pool('rise').status()[0]!.up && Date.now() < deadline) await sleep(25);
    assert.equal(pool('rise').status()[0]!.up, true, 'the active checks marked it up');
    assert.equal(restartable.hits, hitsBefore, 'no client request was needed to bring it back');
    const back = await request(proxy.url, { path: '/y', headers: host('rise.test') });
    assert.equal(servedBy(back), 'restartable');
  });
});
