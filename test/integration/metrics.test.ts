/**
 * The request path's metrics end to end: a real remapd on 127.0.0.1 port 0 in front of a real origin, with a
 * Metrics put in its context (RemapdServer does not make one yet; the admin wiring will), read back through the
 * Prometheus text format.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProxyContext } from '../../src/proxy/handler.js';
import { deriveSigningKey } from '../../src/plugins/s3-auth/sigv4.js';
import { METRIC, Metrics } from '../../src/observability/metrics.js';
import { LOOPBACK, refusedPort, type Origin, type Remapd, request, startOrigin, startRemapd } from '../support/harness.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

const STEP = { timeout: 10_000 };
const HOOK = { timeout: 15_000 };
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
const staleKey = deriveSigningKey(SECRET_KEY, { date: yesterday, region: 'eu-central-1', service: 's3' }).toString('base64');

/** Rule ids, by line of the config below. */
const CACHED = 'remap.config:1';
const DEAD = 'remap.config:2';
const STALE_KEY = 'remap.config:3';

let origin: Origin;
let proxy: Remapd;
let metrics: Metrics;
/** Resolves the origin's pending /hang request when the test is done with it. */
const hung: (() => void)[] = [];

/** A port nothing listens on (harness.ts refusedPort: never one another test file can be given). */
const deadPort = refusedPort;

function scrape(): ReturnType<typeof parsePrometheus> {
  return parsePrometheus(metrics.prometheus());
}

function requests(rule: string, method: string, code: string, cache: string): number {
  return sampleValue(scrape(), METRIC.requests, { rule, method, code, cache }) ?? 0;
}

/** Polls until `read()` is `want` (the count is taken when the response closes, just after the client has it). */
async function eventually(read: () => number | undefined, want: number, what: string, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = read();
    if (got === want) return;
    if (Date.now() > deadline) assert.fail(`${what}: ${got} after ${ms} ms, wanted ${want}`);
    await sleep(10);
  }
}

before(async () => {
  origin = await startOrigin((req, res) => {
    const path = req.url!.split('?')[0];
    if (path === '/fail') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('slow down');
    } else if (path === '/hang') {
      hung.push(() => res.end('late'));
    } else {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': '10' });
      res.end('0123456789');
    }
  });
  proxy = await startRemapd(
    [
      `map http://cache.test/ http://${LOOPBACK}:${origin.port}/`,
      `map http://dead.test/ http://${LOOPBACK}:${await deadPort()}/`,
      `map http://stale.test/ http://${LOOPBACK}:${origin.port}/bucket/ @plugin=s3_auth.so @pparam=--version=4 @pparam=--access_key=AKIDEXAMPLE ` +
        `@pparam=--signing_key=${staleKey} @pparam=--key_scope=${yesterday}/eu-central-1/s3/aws4_request`,
      '',
    ].join('\n'),
    { settings: { connectTimeoutMs: 2_000, responseTimeoutMs: 5_000 } },
  );
  metrics = new Metrics();
  // RemapdServer keeps its context private and makes no Metrics yet: the test puts one in, as the wiring will.
  const ctx = (proxy.server as unknown as { ctx: ProxyContext & { metrics?: Metrics } }).ctx;
  ctx.metrics = metrics;
  metrics.watchCache(ctx.cache);
}, HOOK);

after(async () => {
  for (const release of hung) release();
  await proxy.close();
  await origin.close();
});

describe('request metrics through a real remapd', () => {
  test('a miss then a hit: one request each by cache result, body bytes sent, one origin request', STEP, async () => {
    const first = await request(proxy.url, { path: '/object', headers: { host: 'cache.test' } });
    const second = await request(proxy.url, { path: '/object', headers: { host: 'cache.test' } });
    assert.equal(first.headers['x-cache'], 'miss');
    assert.equal(second.headers['x-cache'], 'hit-fresh');
    await eventually(() => requests(CACHED, 'GET', '200', 'hit-fresh'), 1, 'hits counted');
    assert.equal(requests(CACHED, 'GET', '200', 'miss'), 1);
    const m = scrape();
    assert.ok((sampleValue(m, METRIC.responseBodyBytes, { rule: CACHED }) ?? 0) >= 20);
    assert.equal(sampleValue(m, METRIC.originRequests, { rule: CACHED, outcome: '2xx' }), 1);
    assert.equal(sampleValue(m, `${METRIC.originDuration}_count`, { rule: CACHED }), 1);
    assert.ok((sampleValue(m, `${METRIC.requestDuration}_count`, { rule: CACHED }) ?? 0) >= 2);
    assert.equal(sampleValue(m, METRIC.cacheObjects), 1);
    assert.ok((sampleValue(m, METRIC.cacheBytes) ?? 0) > 10);
    assert.equal(sampleValue(m, METRIC.cacheLookups, { result: 'hit' }), 1);
  });

  test('an origin 503 is counted as a 5xx origin outcome and a 503 request', STEP, async () => {
    const res = await request(proxy.url, { path: '/fail', headers: { host: 'cache.test' } });
    assert.equal(res.status, 503);
    await eventually(() => requests(CACHED, 'GET', '503', 'miss'), 1, '503 counted');
    assert.equal(sampleValue(scrape(), METRIC.originRequests, { rule: CACHED, outcome: '5xx' }), 1);
  });

  test('an upload counts its body bytes in, and a PUT skips the cache', STEP, async () => {
    const res = await request(proxy.url, { method: 'PUT', path: '/upload', headers: { host: 'cache.test' }, body: Buffer.alloc(1000, 'x') });
    assert.equal(res.status, 200);
    await eventually(() => requests(CACHED, 'PUT', '200', 'skipped'), 1, 'PUT counted');
    assert.equal(sampleValue(scrape(), METRIC.requestBodyBytes, { rule: CACHED }), 1000);
  });

  test('an origin that refuses connections: a 502 request and an origin error with its code', STEP, async () => {
    const res = await request(proxy.url, { path: '/x', headers: { host: 'dead.test' } });
    assert.equal(res.status, 502);
    // The cache result stays "-" as in the access log: the fill failed before any result was decided.
    await eventually(() => requests(DEAD, 'GET', '502', '-'), 1, '502 counted');
    const m = scrape();
    assert.equal(sampleValue(m, METRIC.originErrors, { rule: DEAD, code: 'ERR_ORIGIN_CONNECT' }), 1);
    assert.equal(sampleValue(m, METRIC.originRequests, { rule: DEAD, outcome: 'error' }), 1);
  });

  test('a request s3_auth cannot sign (no key for today) is a signing failure and never reaches the origin', STEP, async () => {
    const before = origin.requests.length;
    const res = await request(proxy.url, { path: '/k', headers: { host: 'stale.test' } });
    assert.equal(res.status, 500);
    assert.equal(res.headers['x-remapd-error'], 'ERR_SIGNING_KEY');
    assert.equal(origin.requests.length, before);
    await eventually(() => sampleValue(scrape(), METRIC.signingFailures, { rule: STALE_KEY, code: 'ERR_SIGNING_KEY' }), 1, 'signing failure counted');
    assert.equal(sampleValue(scrape(), METRIC.originRequests, { rule: STALE_KEY, outcome: 'error' }), undefined);
    // The key is in the config, never in the metrics.
    assert.ok(!metrics.prometheus().includes(staleKey));
  });

  test('a request no rule matches is counted under rule "-"', STEP, async () => {
    const res = await request(proxy.url, { path: '/', headers: { host: 'nothing.test' } });
    assert.equal(res.status, 404);
    await eventually(() => requests('-', 'GET', '404', '-'), 1, 'no-rule request counted');
  });

  // A DELETE, not a GET: a cache fill goes on for the other readers when one client leaves, a forwarded request stops.
  test('a client that leaves before the response head: status 499, origin attempt "aborted", not an origin error', STEP, async () => {
    const seen = origin.requests.length;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: LOOPBACK, port: proxy.port, method: 'DELETE', path: '/hang', headers: { host: 'cache.test' }, agent: false });
      req.on('error', () => resolve());
      req.on('response', () => reject(new Error('no response was expected')));
      req.end();
      const check = setInterval(() => {
        if (origin.requests.length > seen) {
          clearInterval(check);
          req.destroy();
          resolve();
        }
      }, 5);
      setTimeout(() => clearInterval(check), 5_000).unref();
    });
    await eventually(() => requests(CACHED, 'DELETE', '499', '-'), 1, '499 counted');
    await eventually(() => sampleValue(scrape(), METRIC.originRequests, { rule: CACHED, outcome: 'aborted' }), 1, 'aborted origin attempt counted');
    assert.equal(sampleValue(scrape(), METRIC.originErrors, { rule: CACHED, code: 'ERR_ORIGIN_CONNECT' }), undefined);
  });
});
