/**
 * Origin bodies that go wrong after the head: a reset, a body shorter or longer than its Content-Length, a slow
 * drip and a stall. Once the head is sent the status cannot change, so the answer is a cut client connection —
 * never a clean-looking short response — nothing stored, and remapd_origin_body_failures_total counted. Each case
 * runs through a caching rule (the cache fill) and a `cache.so --off` rule (the plain relay): two code paths.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOOPBACK } from '../support/harness.js';
import { eventually, faultProxy, type FaultProxy, fetchOutcome, METRIC, rawOrigin, type RawOrigin } from './support.js';

const T = { timeout: 20_000 };
const BODY_IDLE_MS = 500;
/** Scheduling slack on a loaded 2-core machine: a timeout must fire within its limit plus this. */
const MARGIN_MS = 1_500;
const CACHEABLE = 'Cache-Control: max-age=3600\r\nContent-Type: text/plain\r\n';

const RULES = { cached: 'c.test', relayed: 'off.test' } as const;
const RULE_ID = { cached: 'remap.config:1', relayed: 'remap.config:2' } as const;
type Path = keyof typeof RULES;

async function setUp(t: { after(fn: () => Promise<void>): void }, routes: Parameters<typeof rawOrigin>[0]): Promise<{ origin: RawOrigin; proxy: FaultProxy }> {
  const origin = await rawOrigin(routes);
  t.after(() => origin.close());
  const proxy = await faultProxy(
    `map http://${RULES.cached}/ http://${LOOPBACK}:${origin.port}/\n` +
      `map http://${RULES.relayed}/ http://${LOOPBACK}:${origin.port}/ @plugin=cache.so @pparam=--off\n`,
    { bodyIdleTimeoutMs: BODY_IDLE_MS, responseTimeoutMs: 5_000 },
  );
  t.after(() => proxy.close());
  return { origin, proxy };
}

/** The body failure was counted for the rule, logged, and the access log says ERR_ORIGIN_BODY. */
async function assertBodyFailureRecorded(proxy: FaultProxy, path: Path, times: number): Promise<void> {
  await eventually(() => proxy.sample(METRIC.originBodyFailures, { rule: RULE_ID[path] }), (n) => n === times, `${path}: body failures counted`);
  await eventually(() => proxy.access.filter((l) => l.endsWith(' ERR_ORIGIN_BODY')).length, (n) => n >= times, `${path}: access log ERR_ORIGIN_BODY`);
  assert.ok(proxy.logs.some((l) => l.includes('origin response body failed; client connection aborted')));
}

/** Nothing stored: the cache is empty, and asking again goes to the origin again. */
async function assertNothingStored(proxy: FaultProxy, origin: RawOrigin, path: string, host: string): Promise<void> {
  assert.equal(proxy.ctx.cache.store.occupancy.entries, 0, 'nothing stored');
  const before = origin.counts.get(path) ?? 0;
  await fetchOutcome(proxy.port, path, host);
  assert.equal(origin.counts.get(path), before + 1, 'the second GET went to the origin again');
}

for (const path of ['cached', 'relayed'] as const) {
  const host = RULES[path];

  test(`${path}: an origin that resets mid-body cuts the client, stores nothing, counts a body failure`, T, async (t) => {
    const { origin, proxy } = await setUp(t, {
      '/reset': (s) => {
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n${CACHEABLE}\r\nthe first part`);
        setTimeout(() => s.resetAndDestroy(), 50);
      },
    });
    const out = await fetchOutcome(proxy.port, '/reset', host);
    assert.equal(out.status, 200);
    assert.equal(out.complete, false, 'the client connection is cut');
    assert.equal(out.body.toString(), 'the first part');
    await assertBodyFailureRecorded(proxy, path, 1);
    await assertNothingStored(proxy, origin, '/reset', host);
    await assertBodyFailureRecorded(proxy, path, 2);
  });

  test(`${path}: a body shorter than its Content-Length (origin closes) cuts the client, stores nothing, counts a body failure`, T, async (t) => {
    const { origin, proxy } = await setUp(t, {
      '/short': (s) => s.end(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n${CACHEABLE}\r\n${'s'.repeat(40)}`),
    });
    const out = await fetchOutcome(proxy.port, '/short', host);
    assert.equal(out.status, 200);
    assert.equal(out.complete, false);
    assert.equal(out.body.length, 40);
    await assertBodyFailureRecorded(proxy, path, 1);
    await assertNothingStored(proxy, origin, '/short', host);
  });

  test(`${path}: bytes past the Content-Length are never passed on, to this response or the next one`, T, async (t) => {
    const { origin, proxy } = await setUp(t, {
      // Kept alive (no Connection: close): the extra bytes sit where the next response would start.
      '/long': (s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: 10\r\n${CACHEABLE}\r\n0123456789EXTRA BYTES NOT PART OF IT`),
      '/next': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: no-store\r\n\r\nnext'),
    });
    const out = await fetchOutcome(proxy.port, '/long', host);
    assert.equal(out.status, 200);
    assert.equal(out.complete, true);
    assert.equal(out.body.toString(), '0123456789');
    // The next request (maybe on the same origin connection, if it were reused) gets its own answer.
    const next = await fetchOutcome(proxy.port, '/next', host);
    assert.equal(next.status, 200);
    assert.equal(next.body.toString(), 'next');
    const again = await fetchOutcome(proxy.port, '/long', host);
    assert.equal(again.body.toString(), '0123456789');
    assert.equal(again.complete, true);
    // The declared body was whole: the cached rule may store it, and then serves exactly it.
    if (path === 'cached') assert.equal(origin.counts.get('/long'), 1, 'the first response (10 bytes, complete) was stored');
    assert.ok(!proxy.access.some((l) => l.includes('ERR_ORIGIN')), proxy.access.join('\n'));
  });

  test(`${path}: a slow drip below the body idle timeout goes on to the end (and is stored when cacheable)`, T, async (t) => {
    const { origin, proxy } = await setUp(t, {
      '/drip': (s) => {
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: 10\r\n${CACHEABLE}\r\n`);
        let sent = 0;
        const timer = setInterval(() => {
          if (s.destroyed) return clearInterval(timer);
          s.write(String(sent++));
          if (sent === 10) clearInterval(timer);
        }, BODY_IDLE_MS / 4);
      },
    });
    const out = await fetchOutcome(proxy.port, '/drip', host);
    assert.equal(out.complete, true);
    assert.equal(out.body.toString(), '0123456789');
    // Longer in total than the idle timeout: it limits silence, not the whole body.
    assert.ok(out.elapsedMs > BODY_IDLE_MS * 2, `took ${out.elapsedMs} ms`);
    assert.equal(proxy.sample(METRIC.originBodyFailures, { rule: RULE_ID[path] }), 0);
    await fetchOutcome(proxy.port, '/drip', host);
    assert.equal(origin.counts.get('/drip'), path === 'cached' ? 1 : 2);
  });

  test(`${path}: a stall mid-body is cut after the body idle timeout (within limit + margin), stores nothing, counts a body failure`, T, async (t) => {
    const { origin, proxy } = await setUp(t, {
      '/stall': (s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n${CACHEABLE}\r\nsome`),
    });
    const out = await fetchOutcome(proxy.port, '/stall', host);
    assert.equal(out.status, 200);
    assert.equal(out.complete, false);
    assert.equal(out.body.toString(), 'some');
    assert.ok(out.elapsedMs >= BODY_IDLE_MS - 50, `cut after ${out.elapsedMs} ms, before the ${BODY_IDLE_MS} ms limit`);
    assert.ok(out.elapsedMs < BODY_IDLE_MS + MARGIN_MS, `cut after ${out.elapsedMs} ms (limit ${BODY_IDLE_MS} + ${MARGIN_MS})`);
    await assertBodyFailureRecorded(proxy, path, 1);
    assert.equal(proxy.ctx.cache.store.occupancy.entries, 0);
    assert.equal(origin.counts.get('/stall'), 1);
  });
}
