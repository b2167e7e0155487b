/**
 * The object cache end to end (issue 5): a real remapd in front of a real origin on 127.0.0.1 port 0 whose
 * requests the tests count, so every "served from cache" below is proved by the origin NOT seeing a request.
 *
 * Time: freshness is counted in whole seconds, so the tests that need a stale entry use max-age=1 and wait a
 * little over a second; the describes run concurrently (each test owns its URLs) to keep the file near 10 s.
 * The origin sends no Date header (res.sendDate = false), so an entry's age starts at 0 when it arrives instead
 * of up to a second early (Date has one-second resolution, RFC 9110 §6.6.1), which would make max-age=1 flaky.
 */
import assert from 'node:assert/strict';
import { type IncomingMessage, request as httpRequest, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProxyContext } from '../../src/proxy/handler.js';
import { runCli } from '../support/cli.js';
import {
  LOOPBACK,
  type Origin,
  rawValues,
  type Remapd,
  request,
  type Response,
  type SeenRequest,
  startOrigin,
  startRemapd,
} from '../support/harness.js';
import { type S3rverHandle, startS3rver } from '../support/s3rver.js';

const KiB = 1024;
/** A little over one second: an entry with max-age=1 is stale after this. */
const PAST_ONE_SECOND = 1_150;
const STEP = { timeout: 10_000 };

type Route = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void;

/** An origin that answers by path (without query) from a table the tests fill in, and sends no Date header. */
async function routedOrigin(): Promise<{ origin: Origin; routes: Map<string, Route> }> {
  const routes = new Map<string, Route>();
  const origin = await startOrigin((req, res, seen) => {
    res.sendDate = false;
    const route = routes.get(pathOf(req.url!));
    if (!route) {
      res.writeHead(500, { 'cache-control': 'no-store', 'content-type': 'text/plain' });
      res.end(`no route for ${req.url}\n`);
      return;
    }
    route(req, res, seen);
  });
  return { origin, routes };
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Requests the origin received for `path` (query ignored), in order. */
function seenFor(origin: Origin, path: string): SeenRequest[] {
  return origin.requests.filter((r) => pathOf(r.url) === path);
}

/** The first value of a header field the origin received. */
function header(seen: SeenRequest, name: string): string | undefined {
  return rawValues(seen.rawHeaders, name)[0];
}

/** Polls `cond` every 10 ms; fails with `what` if it is not true within `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Writes `chunks` with `gapMs` between them, then ends (or runs `last` instead of ending). */
function dribble(res: ServerResponse, chunks: Buffer[], gapMs: number, last: () => void = () => res.end()): void {
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i === chunks.length) {
      last();
      return;
    }
    res.write(chunks[i++]);
    setTimeout(next, gapMs);
  };
  next();
}

function split(body: Buffer, parts: number): Buffer[] {
  const size = Math.ceil(body.length / parts);
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, i + size));
  return out;
}

/** A body whose every byte depends on its position, so a wrong slice or a shuffled chunk shows. */
function patterned(length: number, seed = 0): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = 0x61 + ((i * 7 + seed) % 26);
  return b;
}

interface TimedResponse extends Response {
  /** performance.now() when the first body byte arrived (0 when the body was empty). */
  firstByteAt: number;
}

/** A GET on its own connection that notes when the first body byte arrived; rejects if the body is cut. */
function timedGet(
  port: number,
  host: string,
  path: string,
  onFirstByte: (headers: IncomingMessage['headers']) => void = () => {},
): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port, path, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      let firstByteAt = 0;
      res.on('data', (c: Buffer) => {
        if (firstByteAt === 0) {
          firstByteAt = performance.now();
          onFirstByte(res.headers);
        }
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString(), firstByteAt });
      });
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A GET whose client hangs up as soon as the first body bytes arrive; resolves with how many it got. */
function abandonAfterFirstBytes(port: number, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port, path, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      res.once('data', (c: Buffer) => {
        req.destroy();
        resolve(c.length);
      });
      res.on('error', () => {});
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    // An error after the hang-up (the reset it causes) comes after resolve() and changes nothing.
    req.on('error', reject);
    req.end();
  });
}

/** The proxy's cache (its context is private to RemapdServer; the tests read the store's occupancy and counters). */
function cacheOf(proxy: Remapd): ProxyContext['cache'] {
  return (proxy.server as unknown as { ctx: ProxyContext }).ctx.cache;
}

/**
 * Resolves once `n` more requests have joined a fetch in flight on `proxy` than `base` (its coalesced counter), or
 * after 3 s: an origin that waits for it answers only when the whole herd is queued behind the one fetch, however
 * slowly this busy process opened their connections.
 */
async function joined(p: Remapd, base: number, n: number): Promise<void> {
  const stats = cacheOf(p).store.stats;
  await waitFor(() => stats.coalesced - base >= n, `${n} requests joining the fetch`).catch(() => {});
}

/** One remapd of its own for a test, closed when the test ends. */
async function ownRemapd(
  t: { after(fn: () => Promise<void>): void },
  config: string,
  options: Parameters<typeof startRemapd>[1],
): Promise<Remapd> {
  const p = await startRemapd(config, options);
  t.after(() => p.close());
  return p;
}

/** An origin handler answering 200 with `body` and the given header fields. */
function answer(body: string | Buffer, headers: Record<string, string | string[]> = {}): Route {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  };
}

const BUCKET = 'cache-bucket';

let origin: Origin;
let routes: Map<string, Route>;
/** An origin of its own for the outage tests: it answers 500 on demand, then is stopped. */
let fragile: Origin;
let fragileRoutes: Map<string, Route>;
let s3: S3rverHandle;
/** A pass-through in front of s3rver that records what remapd sent it (s3rver keeps no such record). */
let s3front: Origin;
const s3Statuses = new Map<SeenRequest, number>();
let proxy: Remapd;
/** A second remapd with a 64 KiB store. */
let small: Remapd;

const SMALL_CACHE = 64 * KiB;
const MAX_OBJECT = 256 * KiB;

before(async () => {
  ({ origin, routes } = await routedOrigin());
  ({ origin: fragile, routes: fragileRoutes } = await routedOrigin());
  s3 = await startS3rver([BUCKET]);
  s3front = await startOrigin((req, res, seen) => {
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() !== 'connection') headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    const up = httpRequest({ host: LOOPBACK, port: s3.port, method: req.method, path: req.url, headers, agent: false }, (ur) => {
      s3Statuses.set(seen, ur.statusCode!);
      const back: string[] = [];
      for (let i = 0; i < ur.rawHeaders.length; i += 2) {
        const n = ur.rawHeaders[i]!.toLowerCase();
        if (n !== 'connection' && n !== 'keep-alive' && n !== 'transfer-encoding') back.push(ur.rawHeaders[i]!, ur.rawHeaders[i + 1]!);
      }
      res.writeHead(ur.statusCode!, back);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end(seen.body);
  });
  const o = `http://${LOOPBACK}:${origin.port}`;
  const creds = `@pparam=--version=4 @pparam=--access_key=${s3.accessKey} @pparam=--secret_key=${s3.secretKey}`;
  const timeouts = { connectTimeoutMs: 2_000, responseTimeoutMs: 5_000, bodyIdleTimeoutMs: 5_000 };
  proxy = await startRemapd(
    [
      `map http://c.test/ ${o}/`,
      `map http://ttl.test/ ${o}/ttl/ @plugin=cache.so @pparam=--ttl=200:1h`,
      `map http://off.test/ ${o}/off/ @plugin=cache.so @pparam=--off`,
      `map http://iq.test/ ${o}/iq/ @plugin=cache.so @pparam=--ignore-query`,
      `map http://neg.test/ ${o}/neg/ @plugin=cache.so @pparam=--negative-ttl=1`,
      `map http://fragile.test/ http://${LOOPBACK}:${fragile.port}/`,
      // S3 sends Last-Modified and no Cache-Control: the heuristic applies, clamped here to 2 s so the test can
      // outlive it (2, not 1: s3rver sends a Date, whose one-second resolution may add up to a second of age).
      `map http://s3c.test/ http://${LOOPBACK}:${s3front.port}/${BUCKET}/ @plugin=s3_auth.so ${creds} ` +
        '@plugin=cache.so @pparam=--heuristic-min=2 @pparam=--heuristic-max=2',
      '',
    ].join('\n'),
    { settings: { ...timeouts, cacheMaxObjectSize: MAX_OBJECT } },
  );
  small = await startRemapd(`map http://small.test/ ${o}/small/\n`, {
    settings: { ...timeouts, cacheSize: SMALL_CACHE },
  });
}, { timeout: 15_000 });

after(async () => {
  await proxy?.close();
  await small?.close();
  await origin?.close();
  await fragile?.close();
  await s3front?.close();
  await s3?.close();
}, { timeout: 15_000 });

const get = (host: string, path: string, headers: Record<string, string> = {}, method = 'GET') =>
  request(proxy.url, { method, path, headers: { host, ...headers } });


// Each describe owns its URLs, so they run side by side; the tests inside one run in order.
describe('the object cache', { concurrency: true }, () => {
  describe('hit after miss', { concurrency: 1 }, () => {
    test('the first GET is a stored miss, the second a fresh hit with Age; the origin sees one request', STEP, async () => {
      routes.set('/hit', answer('hello, cache', { 'cache-control': 'max-age=60' }));
      const first = await get('c.test', '/hit');
      assert.equal(first.status, 200);
      assert.equal(first.text, 'hello, cache');
      assert.equal(first.headers['x-cache'], 'miss');
      assert.equal(first.headers['cache-status'], 'remapd; fwd=uri-miss; fwd-status=200; stored');

      const second = await get('c.test', '/hit');
      assert.equal(second.status, 200);
      assert.equal(second.text, 'hello, cache');
      assert.equal(second.headers['x-cache'], 'hit-fresh');
      assert.match(String(second.headers['cache-status']), /^remapd; hit; ttl=(59|60)$/);
      assert.match(String(second.headers.age), /^\d+$/);
      assert.equal(second.headers['content-length'], String('hello, cache'.length));
      assert.equal(seenFor(origin, '/hit').length, 1);
    });

    test('a hit head reused between hits follows the entry: a 304 that changes a field shows in the next hit', STEP, async () => {
      let rev = '1';
      routes.set('/prepared', (req, res, seen) => {
        if (req.headers['if-none-match'] === '"p"') {
          res.writeHead(304, { etag: '"p"', 'cache-control': 'max-age=1', 'x-rev': rev });
          res.end();
          return;
        }
        answer('prepared', { etag: '"p"', 'cache-control': 'max-age=1', 'x-rev': rev })(req, res, seen);
      });
      await get('c.test', '/prepared');
      await get('c.test', '/prepared');
      const again = await get('c.test', '/prepared');
      assert.equal(again.headers['x-cache'], 'hit-fresh');
      assert.equal(again.headers['x-rev'], '1');
      assert.match(String(again.headers.via), /remapd/);
      rev = '2';
      await sleep(PAST_ONE_SECOND);
      const revalidated = await get('c.test', '/prepared');
      assert.equal(revalidated.headers['cache-status'], 'remapd; fwd=stale; fwd-status=304');
      assert.equal(revalidated.headers['x-rev'], '2');
      const refreshed = await get('c.test', '/prepared');
      assert.equal(refreshed.headers['x-cache'], 'hit-fresh');
      assert.equal(refreshed.headers['x-rev'], '2', 'the refreshed fields, not the head prepared before the 304');
      const conditional = await get('c.test', '/prepared', { 'if-none-match': '"p"' });
      assert.equal(conditional.status, 304, 'a precondition is still evaluated after plain hits');
      assert.equal(seenFor(origin, '/prepared').length, 2);
    });

    test('client Cache-Control is ignored: a client no-cache does not reach the origin (a shield)', STEP, async () => {
      routes.set('/shield', answer('shielded', { 'cache-control': 'max-age=60' }));
      await get('c.test', '/shield');
      const res = await get('c.test', '/shield', { 'cache-control': 'no-cache', pragma: 'no-cache' });
      assert.equal(res.headers['x-cache'], 'hit-fresh');
      assert.equal(seenFor(origin, '/shield').length, 1);
    });
  });

  describe('request coalescing (read-while-writer)', { concurrency: 1 }, () => {
    test('200 concurrent requests for one cold key make one origin request and get 200 identical complete bodies', STEP, async () => {
      const body = patterned(64 * KiB);
      let release: () => void = () => {};
      const waiterStreaming = new Promise<void>((r) => (release = r));
      let originFinishedAt = 0;
      const base = cacheOf(proxy).store.stats.coalesced;
      routes.set('/herd', (_req, res) => {
        // Slow to answer (until the other 199 have joined), then the body in several chunks with pauses. The last
        // chunk is held back until a client that joined this fetch has received bytes (or 2 s passed, and the
        // assertions below fail).
        void joined(proxy, base, 199).then(() => {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60' });
          const chunks = split(body, 8);
          const last = chunks.pop()!;
          dribble(res, chunks, 20, () => {
            void Promise.race([waiterStreaming, sleep(2_000)]).then(() => {
              originFinishedAt = performance.now();
              res.end(last);
            });
          });
        });
      });
      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          timedGet(proxy.port, 'c.test', '/herd', (h) => {
            if (/collapsed/.test(String(h['cache-status']))) release();
          }),
        ),
      );
      assert.equal(seenFor(origin, '/herd').length, 1, 'exactly one origin request');
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.ok(r.body.equals(body), 'every client gets the whole body, byte for byte');
      }
      // One client started the fetch; the others joined it while it ran, or (arriving late) hit what it stored.
      const kinds = new Map<string, number>();
      for (const r of results) {
        const kind = String(r.headers['cache-status']).replace(/ttl=\d+/, 'ttl=N');
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      const seen = JSON.stringify([...kinds]);
      assert.equal(kinds.get('remapd; fwd=uri-miss; fwd-status=200; stored'), 1, seen);
      const expected = new Set(['remapd; fwd=uri-miss; fwd-status=200; stored', 'remapd; fwd=uri-miss; collapsed', 'remapd; hit; ttl=N']);
      for (const kind of kinds.keys()) assert.ok(expected.has(kind), seen);
      const collapsed = results.filter((r) => String(r.headers['cache-status']) === 'remapd; fwd=uri-miss; collapsed');
      assert.ok(collapsed.length >= 190, `the clients joined the fetch while it ran: ${seen}`);
      assert.ok(originFinishedAt > 0);
      assert.ok(
        collapsed.some((r) => r.firstByteAt < originFinishedAt),
        'a waiting client received its first bytes before the origin had finished',
      );
      assert.equal((await get('c.test', '/herd')).headers['x-cache'], 'hit-fresh');
    });

    test('concurrent requests for a stale entry make one revalidation and are all answered from its 304', STEP, async () => {
      let base = 0;
      routes.set('/stale-herd', (req, res, seen) => {
        if (req.headers['if-none-match'] === '"h1"') {
          void joined(proxy, base, 19).then(() => {
            res.writeHead(304, { etag: '"h1"', 'cache-control': 'max-age=60' });
            res.end();
          });
          return;
        }
        answer('herd body', { etag: '"h1"', 'cache-control': 'max-age=1' })(req, res, seen);
      });
      await get('c.test', '/stale-herd');
      await sleep(PAST_ONE_SECOND);
      base = cacheOf(proxy).store.stats.coalesced;
      const results = await Promise.all(Array.from({ length: 20 }, () => get('c.test', '/stale-herd')));
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.equal(r.text, 'herd body');
        assert.equal(r.headers['x-cache'], 'hit-stale');
        assert.match(String(r.headers['cache-status']), /^remapd; fwd=stale; fwd-status=304(; collapsed)?$/);
      }
      assert.equal(seenFor(origin, '/stale-herd').length, 2, 'one revalidation for all of them');
    });

    test('a response that may not be shared (private, or to an Authorization) never reaches the clients waiting on its fetch', STEP, async () => {
      for (const [path, cacheControl] of [['/herd-private', 'private, max-age=60'], ['/herd-auth', 'max-age=60']] as const) {
        routes.set(path, (req, res, seen) => {
          setTimeout(() => answer(`for ${req.headers.authorization ?? 'anonymous'}`, { 'cache-control': cacheControl })(req, res, seen), 150);
        });
        const who = ['Bearer alice', 'Bearer bob', undefined, 'Bearer carol', undefined];
        const results = await Promise.all(who.map((a) => get('c.test', path, a === undefined ? {} : { authorization: a })));
        results.forEach((r, i) => assert.equal(r.text, `for ${who[i] ?? 'anonymous'}`, `${path}, client ${i}`));
      }
    });

    for (const framing of ['Content-Length', 'chunked'] as const) {
      test(`an object larger than cacheMaxObjectSize (${framing}) reaches every waiting client whole and is not stored`, STEP, async () => {
        const path = `/too-big-${framing.toLowerCase()}`;
        const body = patterned(MAX_OBJECT + 64 * KiB, 3);
        const base = cacheOf(proxy).store.stats.coalesced;
        routes.set(path, (_req, res) => {
          void joined(proxy, base, 19).then(() => {
            const length = framing === 'Content-Length' ? { 'content-length': String(body.length) } : {};
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60', ...length });
            dribble(res, split(body, 10), 15);
          });
        });
        const results = await Promise.all(Array.from({ length: 20 }, () => timedGet(proxy.port, 'c.test', path)));
        for (const r of results) {
          assert.equal(r.status, 200);
          assert.ok(r.body.equals(body), 'every client gets the whole body');
        }
        assert.equal(seenFor(origin, path).length, 1, 'the clients waiting before the head share one origin request');
        const next = await get('c.test', path);
        assert.ok(next.body.equals(body));
        assert.equal(next.headers['x-cache'], 'miss');
        assert.equal(seenFor(origin, path).length, 2, 'nothing was stored: the next request goes to the origin');
      });
    }
  });

  describe('revalidation', { concurrency: 1 }, () => {
    test('a stale entry is revalidated with If-None-Match and If-Modified-Since; a 304 refreshes it, a 200 replaces it', STEP, async () => {
      const lastModified = new Date(Date.now() - 3_600_000).toUTCString();
      let etag = '"v1"';
      let body = 'version 1';
      routes.set('/reval', (req, res, seen) => {
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, { etag, 'last-modified': lastModified, 'cache-control': 'max-age=1' });
          res.end();
          return;
        }
        answer(body, { etag, 'last-modified': lastModified, 'cache-control': 'max-age=1' })(req, res, seen);
      });
      assert.equal((await get('c.test', '/reval')).headers['x-cache'], 'miss');
      await sleep(PAST_ONE_SECOND);

      const revalidated = await get('c.test', '/reval');
      assert.equal(revalidated.status, 200);
      assert.equal(revalidated.text, 'version 1');
      assert.equal(revalidated.headers['x-cache'], 'hit-stale');
      assert.equal(revalidated.headers['cache-status'], 'remapd; fwd=stale; fwd-status=304');
      const conditional = seenFor(origin, '/reval')[1]!;
      assert.equal(header(conditional, 'if-none-match'), '"v1"');
      assert.equal(header(conditional, 'if-modified-since'), lastModified);

      const refreshed = await get('c.test', '/reval');
      assert.equal(refreshed.headers['x-cache'], 'hit-fresh', 'the 304 restarted the freshness');
      assert.equal(refreshed.text, 'version 1');
      assert.equal(seenFor(origin, '/reval').length, 2);

      etag = '"v2"';
      body = 'version 2, changed';
      await sleep(PAST_ONE_SECOND);
      const replaced = await get('c.test', '/reval');
      assert.equal(replaced.status, 200);
      assert.equal(replaced.text, 'version 2, changed');
      assert.equal(replaced.headers['x-cache'], 'miss');
      assert.equal(replaced.headers['cache-status'], 'remapd; fwd=stale; fwd-status=200; stored');
      assert.equal(header(seenFor(origin, '/reval')[2]!, 'if-none-match'), '"v1"');
      const after200 = await get('c.test', '/reval');
      assert.equal(after200.headers['x-cache'], 'hit-fresh');
      assert.equal(after200.text, 'version 2, changed');
      assert.equal(seenFor(origin, '/reval').length, 3);
    });

    test('a no-cache response is stored but revalidated on every request', STEP, async () => {
      routes.set('/no-cache', (req, res, seen) => {
        if (req.headers['if-none-match'] === '"nc"') {
          res.writeHead(304, { etag: '"nc"' });
          res.end();
          return;
        }
        answer('must ask first', { etag: '"nc"', 'cache-control': 'no-cache, max-age=60' })(req, res, seen);
      });
      await get('c.test', '/no-cache');
      const second = await get('c.test', '/no-cache');
      assert.equal(second.text, 'must ask first');
      assert.equal(second.headers['cache-status'], 'remapd; fwd=stale; fwd-status=304');
      assert.equal(seenFor(origin, '/no-cache').length, 2);
      assert.equal(header(seenFor(origin, '/no-cache')[1]!, 'if-none-match'), '"nc"');
    });
  });

  describe('stale copies (RFC 5861)', { concurrency: 1 }, () => {
    test('stale-if-error serves the stale copy for a 500 and for a stopped origin; without it, or with must-revalidate, the error passes', STEP, async () => {
      let failing = false;
      const route =
        (tag: string, cacheControl: string): Route =>
        (req, res, seen) => {
          if (failing) {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end('origin broke');
            return;
          }
          answer(`stored ${tag}`, { etag: `"${tag}"`, 'cache-control': cacheControl })(req, res, seen);
        };
      const cases = {
        '/sie': 'max-age=1, stale-if-error=60',
        '/plain-500': 'max-age=1',
        '/plain-down': 'max-age=1',
        '/mr-500': 'max-age=1, stale-if-error=60, must-revalidate',
        '/mr-down': 'max-age=1, stale-if-error=60, must-revalidate',
      };
      for (const [path, cc] of Object.entries(cases)) {
        fragileRoutes.set(path, route(path.slice(1), cc));
        assert.equal((await get('fragile.test', path)).headers['cache-status'], 'remapd; fwd=uri-miss; fwd-status=200; stored');
      }
      await sleep(PAST_ONE_SECOND);
      failing = true;

      const on500 = await get('fragile.test', '/sie');
      assert.equal(on500.status, 200);
      assert.equal(on500.text, 'stored sie');
      assert.equal(on500.headers['x-cache'], 'hit-stale');
      assert.equal(on500.headers['cache-status'], 'remapd; fwd=stale; fwd-status=500; detail=stale-if-error');
      const plain500 = await get('fragile.test', '/plain-500');
      assert.equal(plain500.status, 500);
      assert.equal(plain500.text, 'origin broke');
      const mr500 = await get('fragile.test', '/mr-500');
      assert.equal(mr500.status, 500, 'must-revalidate: never served stale');
      assert.equal(mr500.text, 'origin broke');

      await fragile.close();
      const down = await get('fragile.test', '/sie');
      assert.equal(down.status, 200);
      assert.equal(down.text, 'stored sie');
      assert.equal(down.headers['x-cache'], 'hit-stale');
      assert.equal(down.headers['cache-status'], 'remapd; fwd=stale; detail=stale-if-error');
      const plainDown = await get('fragile.test', '/plain-down');
      assert.equal(plainDown.status, 502);
      assert.equal(plainDown.headers['x-remapd-error'], 'ERR_ORIGIN_CONNECT');
      const mrDown = await get('fragile.test', '/mr-down');
      // RFC 9111 §5.2.2.2: an error rather than the stale copy (504 unless another code is more applicable).
      assert.ok([502, 504].includes(mrDown.status), `must-revalidate with the origin down: got ${mrDown.status}`);
      assert.notEqual(mrDown.text, 'stored mr-down');
    });

    test('stale-while-revalidate serves the stale copy at once, and one background request refreshes it', STEP, async () => {
      let version = 1;
      let refreshSentAt = Infinity;
      let refreshed: () => void = () => {};
      const refreshDone = new Promise<void>((r) => (refreshed = r));
      routes.set('/swr', (req, res, seen) => {
        const v = version;
        const send = answer(`swr v${v}`, { etag: `"s${v}"`, 'cache-control': 'max-age=1, stale-while-revalidate=30' });
        if (v === 1) {
          send(req, res, seen);
          return;
        }
        res.once('close', () => refreshed());
        // A slow refresh: no client may wait for it.
        setTimeout(() => {
          refreshSentAt = performance.now();
          send(req, res, seen);
        }, 400);
      });
      await get('c.test', '/swr');
      await sleep(PAST_ONE_SECOND);
      version = 2;
      const stale = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const r = await get('c.test', '/swr');
          return { r, at: performance.now() };
        }),
      );
      for (const { r, at } of stale) {
        assert.equal(r.text, 'swr v1');
        assert.equal(r.headers['x-cache'], 'hit-stale');
        assert.match(String(r.headers['cache-status']), /^remapd; hit; ttl=-?\d+; detail=stale-while-revalidate$/);
        assert.ok(at < refreshSentAt, 'served before the refresh came back');
      }
      await waitFor(() => seenFor(origin, '/swr').length >= 2, 'the background request');
      await Promise.race([refreshDone, sleep(3_000)]);
      await sleep(20);
      assert.equal(seenFor(origin, '/swr').length, 2, 'exactly one background request');
      assert.equal(header(seenFor(origin, '/swr')[1]!, 'if-none-match'), '"s1"');
      const fresh = await get('c.test', '/swr');
      assert.equal(fresh.text, 'swr v2');
      assert.equal(fresh.headers['x-cache'], 'hit-fresh');
      assert.equal(seenFor(origin, '/swr').length, 2);
    });
  });

  describe('ranges, HEAD and client conditionals from a stored GET', { concurrency: 1 }, () => {
    const body = patterned(1000, 5);
    const lastModified = new Date(Date.now() - 86_400_000).toUTCString();
    const path = '/ranged';
    const ask = (headers: Record<string, string>, method = 'GET') => get('c.test', path, headers, method);
    before(async () => {
      // With a Date, so that Last-Modified is a strong validator for If-Range (RFC 9110 §8.8.2.2: 60 s before it).
      routes.set(path, answer(body, { etag: '"r1"', 'last-modified': lastModified, date: new Date().toUTCString(), 'cache-control': 'max-age=60' }));
      const primed = await get('c.test', path);
      assert.equal(primed.headers['x-cache'], 'miss');
    });
    const fromCacheOnly = () => assert.equal(seenFor(origin, path).length, 1, 'all answered from the stored GET');

    test('a single range is a 206 with its Content-Range and bytes', STEP, async () => {
      for (const [range, start, end] of [
        ['bytes=10-19', 10, 19],
        ['bytes=-5', 995, 999],
        ['bytes=990-', 990, 999],
        ['bytes=900-5000', 900, 999],
      ] as const) {
        const r = await ask({ range });
        assert.equal(r.status, 206, range);
        assert.equal(r.headers['content-range'], `bytes ${start}-${end}/1000`);
        assert.equal(r.headers['content-length'], String(end - start + 1));
        assert.ok(r.body.equals(body.subarray(start, end + 1)), range);
        assert.equal(r.headers['x-cache'], 'hit-fresh');
      }
      fromCacheOnly();
    });

    test('several ranges are a 206 multipart/byteranges', STEP, async () => {
      const r = await ask({ range: 'bytes=0-4,100-109' });
      assert.equal(r.status, 206);
      const m = /^multipart\/byteranges; boundary=(\S+)$/.exec(String(r.headers['content-type']));
      assert.ok(m, `content-type ${r.headers['content-type']}`);
      assert.equal(r.headers['content-length'], String(r.body.length));
      const text = r.body.toString('latin1');
      const parts = text.split(`--${m[1]}`).slice(1, -1);
      assert.equal(parts.length, 2);
      assert.ok(text.trimEnd().endsWith(`--${m[1]}--`));
      for (const [i, [start, end]] of [[0, 4], [100, 109]].entries()) {
        const [head, bytes] = parts[i]!.split('\r\n\r\n') as [string, string];
        assert.match(head, /Content-Type: text\/plain/);
        assert.match(head, new RegExp(`Content-Range: bytes ${start}-${end}/1000`));
        assert.equal(bytes.replace(/\r\n$/, ''), body.subarray(start!, end! + 1).toString('latin1'));
      }
      fromCacheOnly();
    });

    test('an unsatisfiable range is a 416 with Content-Range bytes */size', STEP, async () => {
      const r = await ask({ range: 'bytes=1000-2000' });
      assert.equal(r.status, 416);
      assert.equal(r.headers['content-range'], 'bytes */1000');
      fromCacheOnly();
    });

    test('If-Range: a validator that matches gives the range, one that does not gives the whole 200', STEP, async () => {
      const other = await ask({ range: 'bytes=0-9', 'if-range': '"other"' });
      assert.equal(other.status, 200);
      assert.ok(other.body.equals(body));
      const otherDate = await ask({ range: 'bytes=0-9', 'if-range': new Date(Date.now() - 1_000_000).toUTCString() });
      assert.equal(otherDate.status, 200);
      const same = await ask({ range: 'bytes=0-9', 'if-range': '"r1"' });
      assert.equal(same.status, 206);
      assert.ok(same.body.equals(body.subarray(0, 10)));
      const sameDate = await ask({ range: 'bytes=0-9', 'if-range': lastModified });
      assert.equal(sameDate.status, 206);
      fromCacheOnly();
    });

    test('If-Range with a date is a weak match, so the whole 200, when the stored response has no Date', STEP, async () => {
      routes.set('/ranged-no-date', answer(body, { 'last-modified': lastModified, 'cache-control': 'max-age=60' }));
      await get('c.test', '/ranged-no-date');
      const r = await get('c.test', '/ranged-no-date', { range: 'bytes=0-9', 'if-range': lastModified });
      assert.equal(r.headers['x-cache'], 'hit-fresh');
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(body));
    });

    test('HEAD is answered from the stored GET: its headers, no body', STEP, async () => {
      const r = await ask({}, 'HEAD');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], '1000');
      assert.equal(r.headers.etag, '"r1"');
      assert.equal(r.headers['last-modified'], lastModified);
      assert.equal(r.headers['x-cache'], 'hit-fresh');
      assert.equal(r.body.length, 0);
      fromCacheOnly();
    });

    test('client If-None-Match and If-Modified-Since get a 304 from the cache', STEP, async () => {
      const matching: Record<string, string>[] = [{ 'if-none-match': '"r1"' }, { 'if-none-match': 'W/"r1", "x"' }, { 'if-modified-since': lastModified }];
      for (const h of matching) {
        const r = await ask(h);
        assert.equal(r.status, 304, JSON.stringify(h));
        assert.equal(r.headers.etag, '"r1"');
        assert.equal(r.body.length, 0);
        assert.equal(r.headers['x-cache'], 'hit-fresh');
      }
      const failing: Record<string, string>[] = [{ 'if-none-match': '"nope"' }, { 'if-modified-since': new Date(Date.now() - 2 * 86_400_000).toUTCString() }];
      for (const h of failing) {
        const r = await ask(h);
        assert.equal(r.status, 200, JSON.stringify(h));
        assert.ok(r.body.equals(body));
      }
      fromCacheOnly();
    });

    test('a Range that misses goes to the origin as a range request, and its 206 is not stored', STEP, async () => {
      const whole = 'abcdefghijklmnopqrstuvwxyz';
      routes.set('/range-miss', (req, res) => {
        const cc = { 'cache-control': 'max-age=60', etag: '"abc"' };
        if (req.headers.range === 'bytes=0-3') {
          res.writeHead(206, { ...cc, 'content-range': 'bytes 0-3/26', 'content-length': '4' });
          res.end(whole.slice(0, 4));
          return;
        }
        res.writeHead(200, { ...cc, 'content-length': '26' });
        res.end(whole);
      });
      const miss = await get('c.test', '/range-miss', { range: 'bytes=0-3' });
      assert.equal(miss.status, 206);
      assert.equal(miss.text, 'abcd');
      assert.equal(miss.headers['x-cache'], 'miss');
      assert.equal(header(seenFor(origin, '/range-miss')[0]!, 'range'), 'bytes=0-3');
      const full = await get('c.test', '/range-miss');
      assert.equal(full.text, whole);
      assert.equal(full.headers['x-cache'], 'miss', 'the 206 was not stored');
      const ranged = await get('c.test', '/range-miss', { range: 'bytes=0-3' });
      assert.equal(ranged.status, 206);
      assert.equal(ranged.text, 'abcd');
      assert.equal(ranged.headers['x-cache'], 'hit-fresh');
      assert.equal(seenFor(origin, '/range-miss').length, 2);
    });

    test('a HEAD that misses goes to the origin as a HEAD and fills nothing', STEP, async () => {
      routes.set('/head-miss', answer('body for GET', { 'cache-control': 'max-age=60' }));
      const head = await get('c.test', '/head-miss', {}, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers['x-cache'], 'miss');
      assert.equal(seenFor(origin, '/head-miss')[0]!.method, 'HEAD');
      const first = await get('c.test', '/head-miss');
      assert.equal(first.headers['x-cache'], 'miss');
      assert.equal(first.text, 'body for GET');
    });
  });

  describe('freshness and what is served', { concurrency: 1 }, () => {
    const ttlOf = (r: Response) => Number(/; ttl=(-?\d+)/.exec(String(r.headers['cache-status']))?.[1]);

    test('s-maxage wins over max-age, which wins over Expires', STEP, async () => {
      const expires = new Date(Date.now() + 500_000).toUTCString();
      routes.set('/fr-s-maxage', answer('x', { 'cache-control': 'max-age=10, s-maxage=100', expires }));
      routes.set('/fr-max-age', answer('x', { 'cache-control': 'max-age=10', expires }));
      routes.set('/fr-expires', answer('x', { expires }));
      for (const [path, low, high] of [['/fr-s-maxage', 99, 100], ['/fr-max-age', 9, 10], ['/fr-expires', 497, 500]] as const) {
        await get('c.test', path);
        const ttl = ttlOf(await get('c.test', path));
        assert.ok(ttl >= low && ttl <= high, `${path}: ttl=${ttl}`);
      }
    });

    test('without explicit freshness, Last-Modified gives 10% of its age, clamped to 1 h .. 1 d', STEP, async () => {
      const ago = (s: number) => new Date(Date.now() - s * 1000).toUTCString();
      for (const [path, age, low, high] of [
        ['/fr-lm-young', 60, 3599, 3600],
        ['/fr-lm-week', 7 * 86_400, 60_479, 60_480],
        ['/fr-lm-old', 100 * 86_400, 86_399, 86_400],
      ] as const) {
        routes.set(path, answer('x', { 'last-modified': ago(age) }));
        await get('c.test', path);
        const r = await get('c.test', path);
        assert.equal(r.headers['x-cache'], 'hit-fresh');
        assert.ok(ttlOf(r) >= low && ttlOf(r) <= high, `${path}: ttl=${ttlOf(r)}`);
      }
    });

    test('a client conditional on a cold key gets its 304, and the object is still stored for the next client', STEP, async () => {
      routes.set('/cold-conditional', answer('fetched in full', { etag: '"cc"', 'cache-control': 'max-age=60' }));
      const conditional = await get('c.test', '/cold-conditional', { 'if-none-match': '"cc"' });
      assert.equal(conditional.status, 304);
      assert.equal(conditional.headers.etag, '"cc"');
      assert.equal(header(seenFor(origin, '/cold-conditional')[0]!, 'if-none-match'), undefined, 'the client conditional is not forwarded');
      const next = await get('c.test', '/cold-conditional');
      assert.equal(next.text, 'fetched in full');
      assert.equal(next.headers['x-cache'], 'hit-fresh', 'the fetch the 304 started was completed and stored');
      assert.equal(seenFor(origin, '/cold-conditional').length, 1);
    });

    test('an Age from upstream is kept on the response that fills the cache and counted on hits (RFC 9111 §4.2.3, §5.1)', STEP, async () => {
      routes.set('/aged', answer('came through another cache', { age: '30', 'cache-control': 'max-age=60' }));
      const first = await get('c.test', '/aged');
      assert.ok(Number(first.headers.age) >= 30, `Age on the miss: ${first.headers.age}`);
      const hit = await get('c.test', '/aged');
      assert.ok(Number(hit.headers.age) >= 30, `Age on the hit: ${hit.headers.age}`);
      assert.ok(ttlOf(hit) <= 30, `ttl on the hit: ${ttlOf(hit)}`);
    });

    test('a 304 goes through the readResponse hooks before it is merged into the stored response', STEP, async (t) => {
      const p = await ownRemapd(
        t,
        `map http://hooked.test/ http://${LOOPBACK}:${origin.port}/hooked/ @plugin=header_rewrite.so @pparam=strip.conf\n`,
        { files: { 'strip.conf': 'cond %{READ_RESPONSE_HDR_HOOK}\nrm-header X-Internal\n' } },
      );
      routes.set('/hooked/x', (req, res, seen) => {
        if (req.headers['if-none-match'] === '"hk"') {
          res.writeHead(304, { etag: '"hk"', 'cache-control': 'max-age=60', 'x-internal': 'from the 304' });
          res.end();
          return;
        }
        answer('hooked', { etag: '"hk"', 'cache-control': 'max-age=1', 'x-internal': 'from the 200' })(req, res, seen);
      });
      const ask = () => request(p.url, { path: '/x', headers: { host: 'hooked.test' } });
      assert.equal((await ask()).headers['x-internal'], undefined);
      await sleep(PAST_ONE_SECOND);
      const revalidated = await ask();
      assert.equal(revalidated.headers['cache-status'], 'remapd; fwd=stale; fwd-status=304');
      assert.equal(revalidated.headers['x-internal'], undefined, 'the rule removes it from the 304 too');
      assert.equal((await ask()).headers['x-internal'], undefined, 'and it is not in the refreshed entry');
    });

    test('a stored 204 is served without Content-Length (RFC 9110 §8.6)', STEP, async () => {
      routes.set('/no-content', (_req, res) => {
        res.writeHead(204, { 'cache-control': 'max-age=60' });
        res.end();
      });
      const first = await get('c.test', '/no-content');
      assert.equal(first.status, 204);
      const hit = await get('c.test', '/no-content');
      assert.equal(hit.status, 204);
      assert.equal(hit.headers['x-cache'], 'hit-fresh');
      assert.equal(hit.headers['content-length'], undefined);
    });

    test('access control runs before the lookup: a stored object is not served through a rule that denies the client', STEP, async (t) => {
      const o = `http://${LOOPBACK}:${origin.port}`;
      const acl = await ownRemapd(t, [`map http://open.test/ ${o}/acl/`, `map http://closed.test/ ${o}/acl/ @action=deny @src_ip=127.0.0.1`, ''].join('\n'), {});
      routes.set('/acl/x', answer('for the open rule only', { 'cache-control': 'max-age=60' }));
      const ask = (host: string) => request(acl.url, { path: '/x', headers: { host } });
      assert.equal((await ask('open.test')).headers['cache-status'], 'remapd; fwd=uri-miss; fwd-status=200; stored');
      assert.equal((await ask('open.test')).headers['x-cache'], 'hit-fresh');
      const denied = await ask('closed.test');
      assert.equal(denied.status, 403);
      assert.notEqual(denied.text, 'for the open rule only');
    });
  });

  describe('what is not stored', { concurrency: 1 }, () => {
    const cases: { what: string; path: string; status?: number; headers: Record<string, string>; request?: Record<string, string>; detail: string }[] = [
      { what: 'Cache-Control: private', path: '/ns-private', headers: { 'cache-control': 'private, max-age=60' }, detail: 'private' },
      { what: 'Cache-Control: no-store', path: '/ns-no-store', headers: { 'cache-control': 'no-store, max-age=60' }, detail: 'no-store' },
      { what: 'Set-Cookie', path: '/ns-cookie', headers: { 'cache-control': 'max-age=60', 'set-cookie': 'session=secret' }, detail: 'set-cookie' },
      { what: 'Vary: *', path: '/ns-vary-star', headers: { 'cache-control': 'max-age=60', vary: '*' }, detail: 'vary-star' },
      { what: 'a 206 partial response', path: '/ns-206', status: 206, headers: { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-3/100' }, detail: 'status 206' },
      {
        what: 'a response to a request with Authorization',
        path: '/ns-auth',
        headers: { 'cache-control': 'max-age=60' },
        request: { authorization: 'Bearer client-secret' },
        detail: 'authorization',
      },
      { what: 'a 500', path: '/ns-500', status: 500, headers: { 'cache-control': 'max-age=60' }, detail: 'status 500' },
      { what: 'neither freshness nor a validator', path: '/ns-bare', headers: {}, detail: 'no-freshness' },
    ];
    for (const c of cases) {
      test(`${c.what} is not stored`, STEP, async () => {
        routes.set(c.path, (_req, res) => {
          res.writeHead(c.status ?? 200, { 'content-type': 'text/plain', 'content-length': '4', ...c.headers });
          res.end('body');
        });
        for (let i = 1; i <= 2; i++) {
          const r = await get('c.test', c.path, c.request);
          assert.equal(r.status, c.status ?? 200);
          assert.equal(r.headers['x-cache'], 'miss');
          assert.equal(r.headers['cache-status'], `remapd; fwd=uri-miss; fwd-status=${c.status ?? 200}; detail=${c.detail}`);
          assert.equal(seenFor(origin, c.path).length, i);
        }
      });
    }

    test('a response to a request with Authorization is stored when the origin marks it public', STEP, async () => {
      routes.set('/auth-public', answer('shared', { 'cache-control': 'public, max-age=60' }));
      await get('c.test', '/auth-public', { authorization: 'Bearer a' });
      const r = await get('c.test', '/auth-public', { authorization: 'Bearer a' });
      assert.equal(r.headers['x-cache'], 'hit-fresh');
      assert.equal(seenFor(origin, '/auth-public').length, 1);
    });

    test('Vary: Accept-Encoding stores each variant and never serves one to a request it does not match', STEP, async () => {
      const variant: Route = (req, res, seen) => {
        const gzip = /gzip/.test(String(req.headers['accept-encoding'] ?? ''));
        answer(gzip ? 'variant for gzip' : 'variant for identity', { 'cache-control': 'max-age=60', vary: 'Accept-Encoding' })(req, res, seen);
      };
      routes.set('/vary', variant);
      const gz = { 'accept-encoding': 'gzip' };
      const steps: [Record<string, string>, string, string][] = [
        [gz, 'variant for gzip', 'miss'],
        [{}, 'variant for identity', 'miss'],
        [gz, 'variant for gzip', 'hit-fresh'],
        [{}, 'variant for identity', 'hit-fresh'],
        [{ 'accept-encoding': 'br' }, 'variant for identity', 'miss'],
        [{ 'accept-encoding': 'br' }, 'variant for identity', 'hit-fresh'],
      ];
      for (const [h, text, xCache] of steps) {
        const r = await get('c.test', '/vary', h);
        assert.equal(r.text, text, JSON.stringify(h));
        assert.equal(r.headers['x-cache'], xCache, JSON.stringify(h));
      }
      assert.equal(seenFor(origin, '/vary').length, 3);

      // Concurrent requests for a cold varying key: each gets its own variant, however the fetches were shared.
      routes.set('/vary-cold', (req, res, seen) => setTimeout(() => variant(req, res, seen), 150));
      const mixed = await Promise.all(
        [gz, {}, gz, {}, gz, {}].map(async (h) => ({ h, r: await get('c.test', '/vary-cold', h) })),
      );
      for (const { h, r } of mixed) assert.equal(r.text, 'accept-encoding' in h ? 'variant for gzip' : 'variant for identity');
    });
  });

  describe('negative caching and cache.so', { concurrency: 1 }, () => {
    test('a 404 is cached for the negative TTL, then asked again', STEP, async () => {
      routes.set('/neg/missing', (_req, res) => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no such key');
      });
      const first = await get('neg.test', '/missing');
      assert.equal(first.status, 404);
      assert.equal(first.headers['cache-status'], 'remapd; fwd=uri-miss; fwd-status=404; stored');
      const second = await get('neg.test', '/missing');
      assert.equal(second.status, 404);
      assert.equal(second.text, 'no such key');
      assert.equal(second.headers['x-cache'], 'hit-fresh');
      assert.equal(seenFor(origin, '/neg/missing').length, 1);
      await sleep(PAST_ONE_SECOND);
      await get('neg.test', '/missing');
      assert.equal(seenFor(origin, '/neg/missing').length, 2, '--negative-ttl=1 ran out');
    });

    test('by default a 404 without freshness is cached for 60 s', STEP, async () => {
      routes.set('/gone', (_req, res) => {
        res.writeHead(404);
        res.end('gone');
      });
      await get('c.test', '/gone');
      const r = await get('c.test', '/gone');
      assert.equal(r.status, 404);
      assert.match(String(r.headers['cache-status']), /^remapd; hit; ttl=(59|60)$/);
    });

    test('--ttl=200:1h makes a response without freshness or validators cacheable', STEP, async () => {
      routes.set('/ttl/plain', answer('no freshness information'));
      const first = await get('ttl.test', '/plain');
      assert.equal(first.headers['cache-status'], 'remapd; fwd=uri-miss; fwd-status=200; stored');
      const second = await get('ttl.test', '/plain');
      assert.equal(second.headers['x-cache'], 'hit-fresh');
      assert.match(String(second.headers['cache-status']), /^remapd; hit; ttl=(3599|3600)$/);
      assert.equal(seenFor(origin, '/ttl/plain').length, 1);
    });

    test('--off: X-Cache skipped and every request reaches the origin', STEP, async () => {
      routes.set('/off/x', answer('uncached', { 'cache-control': 'max-age=60' }));
      for (let i = 1; i <= 2; i++) {
        const r = await get('off.test', '/x');
        assert.equal(r.headers['x-cache'], 'skipped');
        assert.equal(r.headers['cache-status'], 'remapd; fwd=bypass; detail=rule');
        assert.equal(seenFor(origin, '/off/x').length, i);
      }
    });

    test('--ignore-query: one entry whatever the query', STEP, async () => {
      routes.set('/iq/x', (req, res, seen) => answer(`origin saw ${req.url}`, { 'cache-control': 'max-age=60' })(req, res, seen));
      assert.equal((await get('iq.test', '/x?a=1')).text, 'origin saw /iq/x?a=1');
      const other = await get('iq.test', '/x?a=2');
      assert.equal(other.text, 'origin saw /iq/x?a=1');
      assert.equal(other.headers['x-cache'], 'hit-fresh');
      assert.equal(seenFor(origin, '/iq/x').length, 1);
    });

    test('by default the query is part of the key, except presigned-URL parameters', STEP, async () => {
      routes.set('/keyed', (req, res, seen) => answer(`origin saw ${req.url}`, { 'cache-control': 'max-age=60' })(req, res, seen));
      assert.equal((await get('c.test', '/keyed?a=1')).text, 'origin saw /keyed?a=1');
      assert.equal((await get('c.test', '/keyed?a=2')).text, 'origin saw /keyed?a=2');
      const presigned = await get('c.test', '/keyed?a=1&X-Amz-Date=20240101T000000Z&X-Amz-Signature=abc');
      assert.equal(presigned.text, 'origin saw /keyed?a=1');
      assert.equal(presigned.headers['x-cache'], 'hit-fresh');
      assert.equal(seenFor(origin, '/keyed').length, 2);
    });
  });

  describe('invalidation and purge', { concurrency: 1 }, () => {
    for (const method of ['PUT', 'DELETE'] as const) {
      test(`a successful ${method} through the proxy drops the stored GET for its URL; a refused one does not`, STEP, async () => {
        const path = `/inv-${method.toLowerCase()}`;
        let version = 1;
        let refuse = true;
        routes.set(path, (req, res, seen) => {
          if (req.method === 'GET') {
            answer(`v${version}`, { 'cache-control': 'max-age=60' })(req, res, seen);
            return;
          }
          if (refuse) {
            res.writeHead(403);
            res.end('denied');
            return;
          }
          version++;
          res.writeHead(method === 'PUT' ? 200 : 204);
          res.end();
        });
        const body = method === 'PUT' ? 'new content' : undefined;
        await get('c.test', path);
        assert.equal((await get('c.test', path)).headers['x-cache'], 'hit-fresh');

        const refused = await request(proxy.url, { method, path, headers: { host: 'c.test' }, body });
        assert.equal(refused.status, 403);
        assert.equal((await get('c.test', path)).headers['x-cache'], 'hit-fresh', 'an error answer invalidates nothing (RFC 9111 §4.4)');

        refuse = false;
        const unsafe = await request(proxy.url, { method, path, headers: { host: 'c.test' }, body });
        assert.equal(unsafe.status, method === 'PUT' ? 200 : 204);
        assert.equal(unsafe.headers['x-cache'], 'skipped');
        const after = await get('c.test', path);
        assert.equal(after.headers['x-cache'], 'miss');
        assert.equal(after.text, 'v2');
        assert.equal(seenFor(origin, path).filter((s) => s.method === 'GET').length, 2);
      });
    }

    test('PURGE from loopback removes the stored object: 200, then 404', STEP, async () => {
      routes.set('/purge-me', answer('purge me', { 'cache-control': 'max-age=60' }));
      await get('c.test', '/purge-me');
      const purged = await get('c.test', '/purge-me', {}, 'PURGE');
      assert.equal(purged.status, 200);
      const again = await get('c.test', '/purge-me', {}, 'PURGE');
      assert.equal(again.status, 404);
      const next = await get('c.test', '/purge-me');
      assert.equal(next.headers['x-cache'], 'miss');
      assert.equal(seenFor(origin, '/purge-me').length, 2);
    });

    test('PURGE removes every stored variant of a URL', STEP, async () => {
      routes.set('/purge-variants', (req, res, seen) =>
        answer(`variant ${req.headers['accept-language'] ?? '-'}`, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })(req, res, seen),
      );
      for (const lang of ['en', 'fr']) await get('c.test', '/purge-variants', { 'accept-language': lang });
      assert.equal((await get('c.test', '/purge-variants', {}, 'PURGE')).status, 200);
      for (const lang of ['en', 'fr']) {
        const r = await get('c.test', '/purge-variants', { 'accept-language': lang });
        assert.equal(r.headers['x-cache'], 'miss', lang);
        assert.equal(r.text, `variant ${lang}`);
      }
    });

    test('PURGE from an address outside the purge allow list is refused with 403 and removes nothing', STEP, async (t) => {
      const denied = await ownRemapd(t, `map http://deny.test/ http://${LOOPBACK}:${origin.port}/deny/\n`, {
        settings: { purgeAllow: ['10.9.9.9'] },
      });
      routes.set('/deny/x', answer('keep me', { 'cache-control': 'max-age=60' }));
      const ask = (method: string) => request(denied.url, { method, path: '/x', headers: { host: 'deny.test' } });
      await ask('GET');
      const purge = await ask('PURGE');
      assert.equal(purge.status, 403);
      assert.equal(purge.headers['x-remapd-error'], 'ERR_ACL_DENIED');
      assert.equal((await ask('GET')).headers['x-cache'], 'hit-fresh');
      assert.equal(seenFor(origin, '/deny/x').length, 1);
    });

    test('`remapd purge URL --proxy` purges through PURGE', STEP, async () => {
      routes.set('/purge-cli', answer('purge me from the command line', { 'cache-control': 'max-age=60' }));
      await get('c.test', '/purge-cli');
      const url = 'http://c.test/purge-cli';
      const run = await runCli(['purge', url, '--proxy', `${LOOPBACK}:${proxy.port}`], { timeoutMs: 8_000 });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${url}: purged\n`);
      const again = await runCli(['purge', url, '--proxy', `${LOOPBACK}:${proxy.port}`], { timeoutMs: 8_000 });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, `${url}: not stored\n`);
      assert.equal((await get('c.test', '/purge-cli')).headers['x-cache'], 'miss');
    });
  });

  describe('bounded memory', { concurrency: 1 }, () => {
    test('a 304 that brings larger headers is counted in the store occupancy', STEP, async (t) => {
      const p = await ownRemapd(t, `map http://grow.test/ http://${LOOPBACK}:${origin.port}/grow/\n`, {});
      const padding = 'x'.repeat(8 * KiB);
      routes.set('/grow/x', (req, res, seen) => {
        if (req.headers['if-none-match'] === '"g"') {
          res.writeHead(304, { etag: '"g"', 'cache-control': 'max-age=60', 'x-padding': padding });
          res.end();
          return;
        }
        answer('grows', { etag: '"g"', 'cache-control': 'max-age=1' })(req, res, seen);
      });
      const ask = () => request(p.url, { path: '/x', headers: { host: 'grow.test' } });
      await ask();
      const before = cacheOf(p).store.occupancy.bytes;
      await sleep(PAST_ONE_SECOND);
      const revalidated = await ask();
      assert.equal(revalidated.headers['x-padding'], padding);
      const after = cacheOf(p).store.occupancy.bytes;
      assert.ok(after - before >= padding.length, `occupancy ${before} → ${after} after the stored headers grew by ${padding.length}`);
    });

    test('with a 64 KiB store, many larger-in-total objects keep occupancy within the bound and evict the oldest', STEP, async () => {
      const store = cacheOf(small).store;
      const size = 8 * KiB;
      const count = 20;
      const ask = (i: number) => request(small.url, { path: `/obj-${i}`, headers: { host: 'small.test' } });
      for (let i = 0; i < count; i++) routes.set(`/small/obj-${i}`, answer(patterned(size, i), { 'cache-control': 'max-age=60' }));
      for (let i = 0; i < count; i++) {
        const r = await ask(i);
        assert.ok(r.body.equals(patterned(size, i)));
        assert.equal(r.headers['cache-status'], 'remapd; fwd=uri-miss; fwd-status=200; stored');
        assert.ok(store.occupancy.bytes <= SMALL_CACHE, `occupancy ${store.occupancy.bytes} after ${i + 1} objects`);
      }
      assert.ok(store.occupancy.entries < count);
      assert.ok(store.stats.evictions >= count - Math.floor(SMALL_CACHE / size), `evictions: ${store.stats.evictions}`);
      const newest = await ask(count - 1);
      assert.equal(newest.headers['x-cache'], 'hit-fresh', 'the most recent object is still there');
      const oldest = await ask(0);
      assert.equal(oldest.headers['x-cache'], 'miss', 'the oldest was evicted');
      assert.ok(oldest.body.equals(patterned(size, 0)));
      assert.equal(seenFor(origin, '/small/obj-0').length, 2);
      assert.equal(seenFor(origin, `/small/obj-${count - 1}`).length, 1);

      // One object larger than the whole store passes through and is not kept.
      routes.set('/small/huge', answer(patterned(100 * KiB, 1), { 'cache-control': 'max-age=60' }));
      const huge = await request(small.url, { path: '/huge', headers: { host: 'small.test' } });
      assert.equal(huge.body.length, 100 * KiB);
      assert.ok(store.occupancy.bytes <= SMALL_CACHE);
      assert.equal((await request(small.url, { path: '/huge', headers: { host: 'small.test' } })).headers['x-cache'], 'miss');
    });
  });

  describe('nothing partial is ever stored', { concurrency: 1 }, () => {
    test('an origin body cut short of its Content-Length: the client connection is cut and the next request goes to the origin', STEP, async () => {
      const body = patterned(1000, 9);
      let cut = true;
      routes.set('/trunc', (req, res, seen) => {
        if (!cut) {
          answer(body, { 'cache-control': 'max-age=60' })(req, res, seen);
          return;
        }
        res.writeHead(200, { 'content-length': '1000', 'cache-control': 'max-age=60' });
        res.write(body.subarray(0, 500));
        setTimeout(() => res.socket?.destroy(), 50);
      });
      await assert.rejects(get('c.test', '/trunc'), 'the client must see the response cut, not a complete short one');
      cut = false;
      const next = await get('c.test', '/trunc');
      assert.equal(next.headers['x-cache'], 'miss');
      assert.ok(next.body.equals(body));
      assert.equal(seenFor(origin, '/trunc').length, 2);
      assert.equal((await get('c.test', '/trunc')).headers['x-cache'], 'hit-fresh');
    });

    test('a chunked origin body that breaks off cuts every waiting client and is not stored', STEP, async () => {
      const body = patterned(4 * KiB, 2);
      let cut = true;
      routes.set('/trunc-chunked', (req, res, seen) => {
        if (!cut) {
          answer(body, { 'cache-control': 'max-age=60' })(req, res, seen);
          return;
        }
        setTimeout(() => {
          res.writeHead(200, { 'cache-control': 'max-age=60' });
          dribble(res, split(body, 4).slice(0, 2), 20, () => res.socket?.destroy());
        }, 100);
      });
      const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => timedGet(proxy.port, 'c.test', '/trunc-chunked')));
      for (const o of outcomes) assert.equal(o.status, 'rejected', 'no client may see a clean end');
      assert.equal(seenFor(origin, '/trunc-chunked').length, 1);
      cut = false;
      const next = await get('c.test', '/trunc-chunked');
      assert.equal(next.headers['x-cache'], 'miss');
      assert.ok(next.body.equals(body));
    });

    test('one client hanging up does not cut another reading the same fetch, and the whole object is stored', STEP, async () => {
      const body = patterned(120 * KiB, 13);
      routes.set('/shared-abort', (_req, res) => {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'cache-control': 'max-age=60' });
          dribble(res, split(body, 12), 15);
        }, 100);
      });
      const [got, stayed] = await Promise.all([
        abandonAfterFirstBytes(proxy.port, 'c.test', '/shared-abort'),
        timedGet(proxy.port, 'c.test', '/shared-abort'),
      ]);
      assert.ok(got < body.length);
      assert.ok(stayed.body.equals(body));
      assert.equal(seenFor(origin, '/shared-abort').length, 1);
      assert.equal((await get('c.test', '/shared-abort')).headers['x-cache'], 'hit-fresh');
    });

    test('a client that hangs up mid-download stops the fetch and leaves nothing stored', STEP, async () => {
      const body = patterned(200 * KiB, 11);
      const originSides: Promise<boolean>[] = [];
      routes.set('/abandoned', (_req, res) => {
        originSides.push(new Promise((resolve) => res.once('close', () => resolve(res.writableFinished))));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'cache-control': 'max-age=60' });
        dribble(res, split(body, 20), 15);
      });
      const got = await abandonAfterFirstBytes(proxy.port, 'c.test', '/abandoned');
      assert.ok(got < body.length);
      const finished = await Promise.race([originSides[0]!, sleep(3_000).then(() => 'timeout' as const)]);
      assert.equal(finished, false, 'remapd stopped reading from the origin before the body was complete');
      const next = await get('c.test', '/abandoned');
      assert.equal(next.headers['x-cache'], 'miss');
      assert.ok(next.body.equals(body));
      assert.equal(seenFor(origin, '/abandoned').length, 2);
    });
  });

  describe('s3_auth and the cache together, in front of s3rver', { concurrency: 1 }, () => {
    test('a signed GET is a miss then a hit; the revalidation is signed, and s3rver verifies it and answers 304', STEP, async () => {
      const key = 'shielded.txt';
      const content = 'an object behind a signing shield\n';
      const put = await request(proxy.url, { method: 'PUT', path: `/${key}`, headers: { host: 's3c.test', 'content-type': 'text/plain' }, body: content });
      assert.equal(put.status, 200, put.text);
      const gets = () => s3front.requests.filter((r) => r.method === 'GET' && pathOf(r.url) === `/${BUCKET}/${key}`);

      const first = await get('s3c.test', `/${key}`);
      assert.equal(first.status, 200, first.text);
      assert.equal(first.text, content);
      assert.equal(first.headers['cache-status'], 'remapd; fwd=uri-miss; fwd-status=200; stored');
      assert.match(header(gets()[0]!, 'authorization') ?? '', /^AWS4-HMAC-SHA256 /);
      const second = await get('s3c.test', `/${key}`);
      assert.equal(second.headers['x-cache'], 'hit-fresh');
      assert.equal(second.text, content);
      assert.equal(gets().length, 1);

      await sleep(2_150); // --heuristic-max=2
      const revalidated = await get('s3c.test', `/${key}`);
      assert.equal(revalidated.status, 200);
      assert.equal(revalidated.text, content);
      assert.equal(revalidated.headers['x-cache'], 'hit-stale');
      assert.equal(revalidated.headers['cache-status'], 'remapd; fwd=stale; fwd-status=304');
      assert.equal(gets().length, 2);
      const conditional = gets()[1]!;
      assert.equal(header(conditional, 'if-none-match'), first.headers.etag);
      assert.equal(header(conditional, 'if-modified-since'), first.headers['last-modified']);
      const signed = /SignedHeaders=([^,]+)/.exec(header(conditional, 'authorization') ?? '')?.[1]?.split(';') ?? [];
      assert.ok(signed.includes('if-none-match') && signed.includes('if-modified-since'), `signed: ${signed.join(';')}`);
      assert.equal(s3Statuses.get(conditional), 304, 's3rver checked the signature over the conditional headers and answered 304');

      const refreshed = await get('s3c.test', `/${key}`);
      assert.equal(refreshed.headers['x-cache'], 'hit-fresh');
      assert.equal(gets().length, 2);
    });
  });
});
