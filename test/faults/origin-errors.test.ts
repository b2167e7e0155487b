/**
 * Origins that fail before the head: a response timeout checked against its limit (above the 1 s where undici
 * switches to its coarse timers), each failure counted by code, and 5xx or an origin down with and without a stale
 * copy to stand in (cache.so --stale-if-error, RFC 5861 — the README's Caching section): the stale copy is served
 * while the window lasts; without one, an origin 5xx is passed through as the origin sent it and an origin that
 * cannot be reached is a 502.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOOPBACK, refusedPort, request, startOrigin } from '../support/harness.js';
import { faultProxy, METRIC } from './support.js';

const MARGIN_MS = 1_500;

test('an origin that accepts but never answers: 504 ERR_ORIGIN_TIMEOUT after --response-timeout (not before, within limit + margin)', { timeout: 15_000 }, async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => sockets.add(s.on('error', () => {})));
  await new Promise<void>((r) => silent.listen(0, LOOPBACK, r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => silent.close(() => r()));
  });
  const port = (silent.address() as { port: number }).port;
  const limit = 1_200;
  const proxy = await faultProxy(`map / http://${LOOPBACK}:${port}/\n`, { responseTimeoutMs: limit });
  t.after(() => proxy.close());
  const started = performance.now();
  const res = await request(`${proxy.url}/x`, { timeoutMs: limit + 5_000 });
  const elapsed = performance.now() - started;
  assert.equal(res.status, 504);
  assert.equal(res.headers['x-remapd-error'], 'ERR_ORIGIN_TIMEOUT');
  assert.match(res.text, new RegExp(`sent no response within ${limit} ms`));
  assert.ok(elapsed >= limit - 20, `504 after ${elapsed.toFixed(0)} ms, before the ${limit} ms limit`);
  assert.ok(elapsed < limit + MARGIN_MS, `504 after ${elapsed.toFixed(0)} ms (limit ${limit} + ${MARGIN_MS})`);
  assert.equal(proxy.sample(METRIC.originErrors, { rule: 'remap.config:1', code: 'ERR_ORIGIN_TIMEOUT' }), 1);
});

test('refused and unresolvable origins are 502s counted under their code', { timeout: 15_000 }, async (t) => {
  const port = await refusedPort();
  // RFC 6761 §6.4: names under .invalid never resolve.
  const proxy = await faultProxy(`map http://refused.test/ http://${LOOPBACK}:${port}/\nmap http://dns.test/ http://origin.remapd-test.invalid/\n`);
  t.after(() => proxy.close());
  const refused = await request(`${proxy.url}/x`, { headers: { host: 'refused.test' } });
  assert.equal(refused.status, 502);
  assert.equal(refused.headers['x-remapd-error'], 'ERR_ORIGIN_CONNECT');
  const dns = await request(`${proxy.url}/x`, { headers: { host: 'dns.test' } });
  assert.equal(dns.status, 502);
  assert.equal(dns.headers['x-remapd-error'], 'ERR_ORIGIN_DNS');
  assert.match(dns.text, /origin host origin\.remapd-test\.invalid did not resolve/);
  assert.equal(proxy.sample(METRIC.originErrors, { rule: 'remap.config:1', code: 'ERR_ORIGIN_CONNECT' }), 1);
  assert.equal(proxy.sample(METRIC.originErrors, { rule: 'remap.config:2', code: 'ERR_ORIGIN_DNS' }), 1);
});

test('origin 5xx and origin down: cache.so --stale-if-error serves the stale copy while its window lasts; without it the 5xx passes through and a dead origin is a 502', { timeout: 20_000 }, async (t) => {
  let failing = false;
  const origin = await startOrigin((req, res) => {
    if (failing) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('origin overloaded');
      return;
    }
    // Fresh for 1 s; no stale-if-error of its own: the rule's option is what allows the stale copy.
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=1', etag: '"v1"' });
    res.end(`stored ${req.url}`);
  });
  let originUp = true;
  t.after(() => (originUp ? origin.close() : Promise.resolve()));
  const o = `http://${LOOPBACK}:${origin.port}`;
  const proxy = await faultProxy(
    `map http://sie.test/ ${o}/sie/ @plugin=cache.so @pparam=--stale-if-error=2s\nmap http://plain.test/ ${o}/plain/\n`,
    { connectTimeoutMs: 2_000, responseTimeoutMs: 5_000 },
  );
  t.after(() => proxy.close());
  const get = (host: string, path: string) => request(`${proxy.url}${path}`, { headers: { host } });

  for (const [host, path] of [['sie.test', '/a'], ['sie.test', '/b'], ['plain.test', '/a'], ['plain.test', '/b']] as const) {
    assert.equal((await get(host, path)).headers['x-cache'], 'miss');
  }
  await sleep(1_100);
  failing = true;

  const stale = await get('sie.test', '/a');
  assert.equal(stale.status, 200);
  assert.equal(stale.text, 'stored /sie/a');
  assert.equal(stale.headers['x-cache'], 'hit-stale');
  assert.equal(stale.headers['cache-status'], 'remapd; fwd=stale; fwd-status=503; detail=stale-if-error');
  const passed = await get('plain.test', '/a');
  assert.equal(passed.status, 503, 'passed through as the origin sent it');
  assert.equal(passed.text, 'origin overloaded');
  assert.equal(passed.headers['retry-after'], '1');
  assert.equal(passed.headers['x-remapd-error'], undefined, 'the origin answered: not a remapd error');

  await origin.close();
  originUp = false;
  const staleDown = await get('sie.test', '/b');
  assert.equal(staleDown.status, 200);
  assert.equal(staleDown.text, 'stored /sie/b');
  assert.equal(staleDown.headers['cache-status'], 'remapd; fwd=stale; detail=stale-if-error');
  const down = await get('plain.test', '/b');
  assert.equal(down.status, 502);
  assert.equal(down.headers['x-remapd-error'], 'ERR_ORIGIN_CONNECT');
  assert.equal(proxy.ctx.cache.store.stats.staleServed, 2);

  // Past max-age 1 s + stale-if-error 2 s: the stale copy may no longer stand in.
  await sleep(2_100);
  const expired = await get('sie.test', '/a');
  assert.equal(expired.status, 502);
  assert.equal(expired.headers['x-remapd-error'], 'ERR_ORIGIN_CONNECT');
});
