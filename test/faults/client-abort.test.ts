/**
 * Clients that leave: the origin request is cancelled at once (not left to run to --response-timeout), and after a
 * thousand of them nothing is left behind — no client or origin socket, no origin request, no cache fill in
 * flight, no response object kept alive.
 *
 * Memory: `node --test` runs without --expose-gc, so the test turns it on for itself (v8.setFlagsFromString, then
 * takes `gc` from a new context, where V8 installs it). Heap totals are noisy on a shared 2-core machine (JIT code,
 * lazily grown pools, the test's own bookkeeping), so the strict check is not a heap figure: every ServerResponse
 * remapd handled is held by a WeakRef, and after the load and two full collections at most a handful may still be
 * alive (the ones whose close events are still queued). A leak of one object per request shows up as hundreds. A
 * coarse heapUsed bound (32 MiB, several times the normal noise, far below what 1,000 leaked 64 KiB chunks or
 * requests would hold) is checked as well.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LOOPBACK } from '../support/harness.js';
import { eventually, faultProxy, METRIC } from './support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const BIG = 10 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/**
 * An origin whose responses never finish by themselves: /big sends its head and 64 KiB of a 10 MiB body, /slow
 * sends nothing. It counts requests open (arrived, response not closed) and sockets open.
 */
async function holdingOrigin() {
  let openRequests = 0;
  const seen = new Set<string>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    openRequests++;
    seen.add(req.url!);
    res.once('close', () => openRequests--);
    if (req.url!.startsWith('/big')) {
      res.writeHead(200, { 'content-length': String(BIG), 'cache-control': 'max-age=3600' });
      res.write(CHUNK);
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  return {
    port: (server.address() as { port: number }).port,
    seen,
    get openRequests() {
      return openRequests;
    },
    get sockets() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** How one client leaves: after the first body bytes, or before any response (once the origin has the request). */
type Abort = { host: string; path: string; when: 'mid-body' | 'before-head' };

/** Sends the request and destroys it at its moment; resolves when its socket is closed (bounded). */
function abortOne(port: number, a: Abort, originSaw: (url: string) => boolean): Promise<'aborted' | 'answered' | 'stuck'> {
  return new Promise((resolve) => {
    let poll: NodeJS.Timeout | undefined;
    const req = httpRequest({ host: LOOPBACK, port, path: a.path, headers: { host: a.host }, agent: false }, (res) => {
      if (a.when === 'before-head') {
        // The answer came before we left: it must not, these origins never answer.
        res.resume();
        finish('answered');
        return;
      }
      res.once('data', () => req.destroy());
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish('stuck');
    }, 10_000);
    const finish = (how: 'aborted' | 'answered' | 'stuck') => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve(how);
    };
    req.on('error', () => {});
    req.on('close', () => finish('aborted'));
    req.end();
    if (a.when === 'before-head') {
      poll = setInterval(() => {
        if (originSaw(a.path)) req.destroy();
      }, 5);
    }
  });
}

/** The test process's open TCP sockets (client, remapd, origin and undici's: all of them live here). */
function openSockets(): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h) => h?.constructor?.name === 'Socket').length;
}

/** An origin whose /gate responses wait until released; it counts requests and those open. */
async function gatedOrigin() {
  const waiting: (() => void)[] = [];
  const counts = new Map<string, number>();
  let open = 0;
  const server = createServer((req, res) => {
    counts.set(req.url!, (counts.get(req.url!) ?? 0) + 1);
    open++;
    res.once('close', () => open--);
    waiting.push(() => res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-length': '6' }).end('object'));
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  return {
    port: (server.address() as { port: number }).port,
    counts,
    get open() {
      return open;
    },
    release: () => waiting.splice(0).forEach((answer) => answer()),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A GET that the caller may cut (`leave`) or read to the end (`response`). */
function client(port: number, path: string) {
  const req = httpRequest({ host: LOOPBACK, port, path, headers: { host: 'c.test' }, agent: false });
  req.on('error', () => {});
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('close', () => reject(new Error('closed before a response')));
  });
  response.catch(() => {});
  req.end();
  return { leave: () => req.destroy(), response };
}

test('a client leaving a cache miss before the head cancels the origin request at once, not at --response-timeout', { timeout: 20_000 }, async (t) => {
  const origin = await gatedOrigin();
  t.after(() => origin.close());
  const proxy = await faultProxy(`map http://c.test/ http://${LOOPBACK}:${origin.port}/\n`, { responseTimeoutMs: 60_000 });
  t.after(() => proxy.close());
  const a = client(proxy.port, '/gate');
  await eventually(() => origin.open, (n) => n === 1, 'the origin has the request');
  const left = Date.now();
  a.leave();
  await eventually(() => origin.open, (n) => n === 0, 'the origin request is cancelled', 2_000);
  t.diagnostic(`cancelled ${Date.now() - left} ms after the client left`);
  assert.equal(proxy.ctx.cache.inflight.size, 0);
  await eventually(() => proxy.access.length, (n) => n === 1, 'access log line');
  assert.match(proxy.access[0]!, / ABORTED$/);
  assert.equal(proxy.sample(METRIC.originRequests, { rule: 'remap.config:1', outcome: 'aborted' }), 1);
  assert.ok(!proxy.logs.some((l) => l.includes('request failed')), 'a client leaving is not logged as a failure');
});

test('clients sharing one fetch: it goes on while one of them waits; when all have left, the next request fetches afresh', { timeout: 20_000 }, async (t) => {
  const origin = await gatedOrigin();
  t.after(() => origin.close());
  const proxy = await faultProxy(`map http://c.test/ http://${LOOPBACK}:${origin.port}/\n`, { responseTimeoutMs: 60_000 });
  t.after(() => proxy.close());

  const [a, b] = [client(proxy.port, '/one'), client(proxy.port, '/one')];
  await eventually(() => proxy.ctx.cache.store.stats.coalesced, (n) => n === 1, 'the second client joined the first one\'s fetch');
  a.leave();
  await sleep(200);
  assert.equal(origin.open, 1, 'the fetch goes on for the client still waiting');
  origin.release();
  assert.deepEqual(await b.response, { status: 200, body: 'object' });
  assert.equal(origin.counts.get('/one'), 1);

  const [c, d] = [client(proxy.port, '/two'), client(proxy.port, '/two')];
  await eventually(() => proxy.ctx.cache.store.stats.coalesced, (n) => n === 2, 'joined');
  c.leave();
  d.leave();
  await eventually(() => origin.open, (n) => n === 0, 'cancelled when both left', 2_000);
  const e = client(proxy.port, '/two');
  await eventually(() => origin.counts.get('/two'), (n) => n === 2, 'a fresh origin request');
  origin.release();
  assert.deepEqual(await e.response, { status: 200, body: 'object' });
  assert.equal(proxy.ctx.cache.inflight.size, 0);
  // Stored by the fresh fetch: the cancelled one's ending did not take it out of the way.
  assert.deepEqual(await client(proxy.port, '/two').response, { status: 200, body: 'object' });
  assert.equal(origin.counts.get('/two'), 2);
});

test('1,000 clients leaving mid-body or before the head: origin requests cancelled, sockets and memory back to baseline', { timeout: 180_000 }, async (t) => {
  const origin = await holdingOrigin();
  t.after(() => origin.close());
  // A response timeout far longer than the test: only cancellation can close these origin requests in time.
  const proxy = await faultProxy(
    `map http://c.test/ http://${LOOPBACK}:${origin.port}/\nmap http://off.test/ http://${LOOPBACK}:${origin.port}/ @plugin=cache.so @pparam=--off\n`,
    { responseTimeoutMs: 120_000, bodyIdleTimeoutMs: 120_000 },
  );
  t.after(() => proxy.close());
  const responses: WeakRef<ServerResponse>[] = [];
  proxy.server.http!.on('request', (_req, res: ServerResponse) => responses.push(new WeakRef(res)));
  const connections = () =>
    new Promise<number>((resolve, reject) => proxy.server.http!.getConnections((err, n) => (err ? reject(err) : resolve(n))));

  /** The i-th abort of batch b: four kinds in turn, cached and relayed, mid-body and before the head. */
  const abortOf = (b: number, i: number): Abort => {
    switch (i % 4) {
      case 0: // coalesced: ten clients of a batch share each key, and leave while the body streams
        return { host: 'c.test', path: `/big?b=${b}&k=${i % 5}`, when: 'mid-body' };
      case 1:
        return { host: 'off.test', path: `/big?b=${b}&i=${i}`, when: 'mid-body' };
      case 2: // coalesced waiters that all leave before the head
        return { host: 'c.test', path: `/slow?b=${b}&k=${i % 3}`, when: 'before-head' };
      default:
        return { host: 'off.test', path: `/slow?b=${b}&i=${i}`, when: 'before-head' };
    }
  };
  const settled = async (what: string) => {
    await eventually(() => origin.openRequests, (n) => n === 0, `${what}: origin requests still open`, 10_000);
    await eventually(() => proxy.ctx.cache.inflight.size, (n) => n === 0, `${what}: cache fills in flight`, 10_000);
  };
  const runBatches = async (first: number, count: number) => {
    for (let b = first; b < first + count; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => abortOf(b, i));
      const outcomes = await Promise.all(batch.map((a) => abortOne(proxy.port, a, (url) => origin.seen.has(url))));
      assert.deepEqual(
        outcomes.filter((o) => o !== 'aborted'),
        [],
        `batch ${b}: every client left as planned`,
      );
    }
  };

  // Warm-up: JIT, undici's pool, the server's parsers; then the baseline.
  await runBatches(0, 2);
  await settled('warm-up');
  await eventually(connections, (n) => n === 0, 'remapd connections after the warm-up');
  await sleep(100);
  gc();
  gc();
  const baseline = { sockets: openSockets(), originSockets: origin.sockets, heap: process.memoryUsage().heapUsed };
  const warmResponses = responses.length;

  const started = Date.now();
  await runBatches(2, 20);
  const elapsed = Date.now() - started;
  assert.equal(responses.length - warmResponses, 1_000, 'remapd saw every request');

  // Cancelled, not timed out: everything is closed within seconds of the last client leaving.
  await settled('after 1,000 aborts');
  await eventually(connections, (n) => n === 0, 'remapd client connections');
  await eventually(() => origin.sockets, (n) => n <= baseline.originSockets, 'origin sockets');
  await eventually(openSockets, (n) => n <= baseline.sockets, 'open sockets in the process');
  assert.equal(proxy.sample(METRIC.originBodyFailures, { rule: 'remap.config:1' }), 0, 'a client leaving is not an origin body failure');
  assert.equal(proxy.sample(METRIC.originBodyFailures, { rule: 'remap.config:2' }), 0);

  await sleep(100);
  gc();
  await sleep(50);
  gc();
  const alive = responses.slice(warmResponses).filter((r) => r.deref() !== undefined).length;
  assert.ok(alive <= 5, `${alive} of 1,000 ServerResponses still reachable after gc`);
  const growth = process.memoryUsage().heapUsed - baseline.heap;
  assert.ok(growth < 32 * 1024 * 1024, `heap grew ${(growth / 2 ** 20).toFixed(1)} MiB over 1,000 aborts`);
  t.diagnostic(`1,000 aborts in ${elapsed} ms; heap growth ${(growth / 2 ** 20).toFixed(1)} MiB; ${alive} responses alive`);
});
