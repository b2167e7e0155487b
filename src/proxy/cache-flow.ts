/**
 * The cache's part of the pipeline, between the remap hooks and the origin (ARCHITECTURE.md steps 2–5): look up,
 * serve a hit, revalidate a stale entry, join or start a coalesced fetch, store a complete response.
 *
 * Runs after access control, so a hit never bypasses a rule. Conditional headers for revalidation are put on the
 * origin request BEFORE the sendRequest hooks run, so s3_auth signs them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cache } from '../cache/cache.js';
import { evaluatePreconditions, ifRangeHolds, NOT_MODIFIED_HEADERS } from '../cache/conditional.js';
import { Fill } from '../cache/fill.js';
import { ageBasis, currentAge, freshnessOf, notStorableReason } from '../cache/freshness.js';
import { type CacheEntry, varyFields } from '../cache/object-store.js';
import type { CachePolicy } from '../cache/policy.js';
import { parseRange, rangedBody } from '../cache/range.js';
import { parseCacheControl } from '../cache/cache-control.js';
import type { ResponseHead } from '../plugins/api.js';
import { HeaderList, sameName } from './header-list.js';
import type { OriginAbort } from './origin-abort.js';
import type { OriginResponse } from './origin-client.js';
import type { Txn } from './transaction.js';

/** What the flow needs from the pipeline, bound to one request's rule and configuration. */
export interface FlowDeps {
  /** Runs the sendRequest hooks on a copy of txn.originRequest and sends it. */
  forward(txn: Txn, signal: OriginAbort): Promise<OriginResponse>;
  /** Hop-by-hop removal, readResponse hooks, reverse_map: the head as it is stored. */
  storedHead(txn: Txn, response: OriginResponse): Promise<ResponseHead>;
  /** Via and the sendResponse hooks: the head as one client gets it. A promise only when there are hooks. */
  clientHead(txn: Txn, head: ResponseHead): void | Promise<void>;
  /** Logs an origin body that failed mid-way (once per fetch). */
  bodyFailed(txn: Txn, err: Error): void;
  /**
   * True when clientHead only adds Via (the rule has no sendResponse hooks): a plain hit's head is then the same
   * for every request in the same second of Age, and is prepared once per stored entry (issue 6, hot path).
   */
  readonly fixedClientHead: boolean;
  readonly now: () => number;
}

export interface FlowRecord {
  cache: string;
  bytes: number;
  code: string;
}

/** Client request fields the cache answers itself; never forwarded on a cache fetch. */
const CLIENT_CONDITIONALS = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']);

function markCache(txn: Txn, status: string, xCache: string): void {
  txn.cacheStatus = `remapd; ${status}`;
  txn.cacheResult = xCache;
}

function setVisibility(headers: HeaderList, txn: Txn): void {
  if (txn.cacheStatus !== null) headers.set('Cache-Status', txn.cacheStatus);
  headers.set('X-Cache', txn.cacheResult);
}

/** The fields a 304 carries over from the full response (RFC 9110 §15.4.5). */
function notModifiedHeaders(full: HeaderList): HeaderList {
  const out = new HeaderList();
  full.forEach((n, v) => {
    if (NOT_MODIFIED_HEADERS.includes(n.toLowerCase())) out.add(n, v);
  });
  return out;
}

/** `If-` in any case, without a regex or a lower-cased copy (every header of every hit comes through here). */
function startsWithIf(name: string): boolean {
  return (name.charCodeAt(0) | 0x20) === 0x69 && (name.charCodeAt(1) | 0x20) === 0x66 && name.charCodeAt(2) === 0x2d;
}

/** True when the request has a precondition (If-*) or a Range: its answer is not the stored entry as it is. */
function asksForLess(client: HeaderList): boolean {
  const raw = client.raw;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length >= 8 ? startsWithIf(n) : sameName(n, 'range')) return true;
  }
  return false;
}

/**
 * The head of a plain hit (no precondition, no Range, no sendResponse hooks): built the same way as any other
 * (stored fields, Age, Content-Length, Via, Cache-Status, X-Cache), then kept on the entry and reused while the
 * Age, the cache status and the client's HTTP version stay the same, so most hits allocate no header list.
 */
function preparedHead(entry: CacheEntry, age: number, txn: Txn, deps: FlowDeps): ResponseHead {
  const p = entry.prepared;
  if (p !== undefined && p.age === age && p.cacheStatus === txn.cacheStatus && p.xCache === txn.cacheResult && p.httpVersion === txn.client.httpVersion) {
    return p.head;
  }
  const headers = new HeaderList(entry.headers.slice());
  headers.set('Age', String(age));
  if (entry.status === 204) headers.delete('content-length');
  else if (entry.status !== 304) headers.set('Content-Length', String(entry.body.length));
  const head: ResponseHead = { status: entry.status, headers };
  void deps.clientHead(txn, head);
  setVisibility(headers, txn);
  entry.prepared = { age, cacheStatus: txn.cacheStatus, xCache: txn.cacheResult, httpVersion: txn.client.httpVersion, head };
  return head;
}

/**
 * Writes a stored entry to one client: Age, conditionals, ranges, HEAD. Synchronous unless the rule has
 * sendResponse hooks: a plain hit is written in the tick its request arrived (issue 6, hot path).
 */
function serveEntry(
  entry: CacheEntry,
  txn: Txn,
  req: IncomingMessage,
  res: ServerResponse,
  rec: FlowRecord,
  deps: FlowDeps,
): void | Promise<void> {
  const age = currentAge(entry.age, deps.now());
  const client = txn.client.headers;
  if (deps.fixedClientHead && !asksForLess(client)) {
    writeHead(preparedHead(entry, age, txn, deps), entry.body, req, res, rec);
    return;
  }
  const stored = new HeaderList(entry.headers.slice());
  stored.set('Age', String(age));
  const precondition = evaluatePreconditions(client, stored);
  let status = entry.status;
  let headers = stored;
  let body = entry.body;
  if (precondition === 304) {
    status = 304;
    headers = notModifiedHeaders(stored);
    body = Buffer.alloc(0);
  } else if (precondition === 412) {
    status = 412;
    headers = new HeaderList(['Content-Type', 'text/plain; charset=utf-8']);
    body = Buffer.from('412 Precondition Failed\n');
  } else if (entry.status === 200 && client.has('range') && ifRangeHolds(client, stored)) {
    const ranges = parseRange(client.get('range')!, entry.body.length);
    if (ranges !== null) {
      const r = rangedBody(ranges, entry.body, stored.get('content-type'));
      status = r.status;
      if (r.status === 416) headers = new HeaderList(['Content-Type', 'text/plain; charset=utf-8']);
      for (const [n, v] of r.headers) headers.set(n, v);
      body = r.body;
    }
  }
  // 304 and 204 carry no Content-Length of a body (RFC 9110 §8.6).
  if (status === 204) headers.delete('content-length');
  else if (status !== 304) headers.set('Content-Length', String(body.length));
  const head: ResponseHead = { status, headers };
  const hooked = deps.clientHead(txn, head);
  if (hooked) return hooked.then(() => writeEntry(head, body, txn, req, res, rec));
  writeEntry(head, body, txn, req, res, rec);
}

function writeEntry(head: ResponseHead, body: Buffer, txn: Txn, req: IncomingMessage, res: ServerResponse, rec: FlowRecord): void {
  setVisibility(head.headers, txn);
  writeHead(head, body, req, res, rec);
}

/** Writes a finished head and the body (none for HEAD, 304, or an empty body). */
function writeHead(head: ResponseHead, body: Buffer, req: IncomingMessage, res: ServerResponse, rec: FlowRecord): void {
  res.writeHead(head.status, head.headers.raw);
  if (req.method === 'HEAD' || head.status === 304 || body.length === 0) {
    res.end();
    return;
  }
  rec.bytes += body.length;
  res.end(body);
}

function usableStale(entry: CacheEntry, now: number, window: 'staleIfError' | 'staleWhileRevalidate'): boolean {
  const f = entry.freshness;
  if (f.mustRevalidate || f.noCache) return false;
  return currentAge(entry.age, now) - f.lifetime < f[window];
}

/** Merges a 304's fields into a stored entry (RFC 9111 §4.3.4) and restarts its age and freshness. */
/** Fields of a 304 that never replace the stored ones: they describe the (absent) 304 body or the connection. */
const NOT_MERGED = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive', 'content-range']);

function refresh(entry: CacheEntry, response: OriginResponse, policy: CachePolicy, requestTime: number, responseTime: number): void {
  const headers = new HeaderList(entry.headers.slice());
  const skip = NOT_MERGED;
  const replaced = new Set<string>();
  response.headers.forEach((n) => {
    const l = n.toLowerCase();
    if (!skip.has(l)) replaced.add(l);
  });
  for (const l of replaced) headers.delete(l);
  response.headers.forEach((n, v) => {
    if (replaced.has(n.toLowerCase())) headers.add(n, v);
  });
  entry.headers = headers.raw;
  entry.age = ageBasis(headers, requestTime, responseTime);
  entry.freshness = freshnessOf(entry.status, headers, policy, responseTime);
  entry.prepared = undefined;
}

/**
 * Takes a fill out of the in-flight map, if it is still the one there: a fill cancelled because its clients left
 * is replaced at once by the next request's, which its own ending must not take out.
 */
function retire(cache: Cache, fill: Fill): void {
  if (cache.inflight.get(fill.key) === fill) cache.inflight.delete(fill.key);
}

/**
 * The fetch itself (run by the request that starts it, or in the background): conditional headers for a stale
 * entry, the origin request, and the outcome.
 */
async function runFill(
  cache: Cache,
  fill: Fill,
  stale: CacheEntry | undefined,
  txn: Txn,
  policy: CachePolicy,
  deps: FlowDeps,
): Promise<void> {
  const h = txn.originRequest.headers;
  h.deleteWhere((n) => CLIENT_CONDITIONALS.has(n));
  if (stale) {
    const stored = new HeaderList(stale.headers);
    const etag = stored.get('etag');
    const lastModified = stored.get('last-modified');
    if (etag !== undefined) h.set('If-None-Match', etag);
    if (lastModified !== undefined) h.set('If-Modified-Since', lastModified);
    cache.store.stats.revalidations++;
  }
  const store = cache.store;
  const requestTime = deps.now();
  let response: OriginResponse;
  try {
    response = await deps.forward(txn, fill.controller);
  } catch (err) {
    retire(cache, fill);
    // Cancelled because every client left (Fill.waitFor): no origin failure, nothing to stand in for it.
    if (stale && !fill.controller.aborted && usableStale(stale, deps.now(), 'staleIfError')) {
      store.stats.staleServed++;
      fill.settle({ kind: 'entry', entry: stale, status: 'fwd=stale; detail=stale-if-error', xCache: 'hit-stale' });
    } else {
      fill.settle({ kind: 'error', error: err });
    }
    return;
  }
  const responseTime = deps.now();
  if (stale && response.status === 304) {
    response.body.resume();
    try {
      // The 304's fields go through the same readResponse hooks and reverse_map as a full response would.
      await deps.storedHead(txn, response);
    } catch (err) {
      retire(cache, fill);
      fill.settle({ kind: 'error', error: err });
      return;
    }
    refresh(stale, response, policy, requestTime, responseTime);
    // Put back so the store counts the refreshed headers against its bound.
    store.put(fill.key, txn.client.headers, {
      status: stale.status,
      headers: new HeaderList(stale.headers),
      body: stale.body,
      age: stale.age,
      freshness: stale.freshness,
    });
    store.stats.revalidatedNotModified++;
    retire(cache, fill);
    fill.settle({ kind: 'entry', entry: stale, status: 'fwd=stale; fwd-status=304', xCache: 'hit-stale' });
    return;
  }
  if (stale && response.status >= 500 && usableStale(stale, responseTime, 'staleIfError')) {
    response.body.resume();
    store.stats.staleServed++;
    retire(cache, fill);
    fill.settle({ kind: 'entry', entry: stale, status: `fwd=stale; fwd-status=${response.status}; detail=stale-if-error`, xCache: 'hit-stale' });
    return;
  }
  let head: ResponseHead;
  try {
    head = await deps.storedHead(txn, response);
  } catch (err) {
    response.body.destroy();
    retire(cache, fill);
    fill.settle({ kind: 'error', error: err });
    return;
  }
  const cc = parseCacheControl(head.headers.getAll('cache-control'));
  const freshness = freshnessOf(head.status, head.headers, policy, responseTime, cc);
  const reason = notStorableReason(head.status, head.headers, txn.client.headers.has('authorization'), policy, freshness, cc);
  const declared = head.headers.get('content-length');
  const tooBig = declared !== undefined && !store.fits(Number(declared));
  const fwd = stale ? 'fwd=stale' : 'fwd=uri-miss';
  if (reason !== null) {
    markCache(txn, `${fwd}; fwd-status=${head.status}; detail=${reason}`, 'miss');
    fill.chunks = null;
    retire(cache, fill);
    // The object changed into something not storable: the stale copy must not be served again.
    if (stale) store.delete(fill.key);
  } else {
    markCache(txn, `${fwd}; fwd-status=${head.status}${tooBig ? '; detail=too-large' : '; stored'}`, 'miss');
    if (tooBig) fill.chunks = null;
  }
  fill.onBodyError = (err) => deps.bodyFailed(txn, err);
  fill.settle({ kind: 'stream', head, shared: reason === null, age: ageBasis(head.headers, requestTime, responseTime) });
  await Promise.allSettled([...fill.pendingAttach]);
  const complete = await fill.pump(response.body, store.limits.maxObjectBytes, () => retire(cache, fill));
  retire(cache, fill);
  // Only a whole body is stored: a cut connection, or fewer bytes than Content-Length said, never is.
  const whole = complete && (declared === undefined || Number(declared) === fill.size);
  if (reason === null && whole && fill.chunks !== null) {
    const body = Buffer.concat(fill.chunks, fill.size);
    store.put(fill.key, txn.client.headers, {
      status: head.status,
      headers: head.headers,
      body,
      age: ageBasis(head.headers, requestTime, responseTime),
      freshness,
    });
  } else if (stale) {
    store.delete(fill.key);
  }
}

/**
 * Serves one GET or HEAD through the cache. Returns false when the request should go to the origin the ordinary
 * way (a range that misses, a HEAD miss, a fetch it may not share); it has then marked Cache-Status. A fresh hit
 * is answered synchronously (true, not a promise) unless the rule has sendResponse hooks: no microtask turn per
 * hit (issue 6, hot path).
 */
export function serveThroughCache(
  cache: Cache,
  policy: CachePolicy,
  key: string,
  txn: Txn,
  req: IncomingMessage,
  res: ServerResponse,
  rec: FlowRecord,
  deps: FlowDeps,
): boolean | Promise<boolean> {
  const store = cache.store;
  const now = deps.now();
  const entry = store.get(key, txn.client.headers);
  if (entry) {
    const age = currentAge(entry.age, now);
    const f = entry.freshness;
    if (!f.noCache && age < f.lifetime) {
      store.stats.hits++;
      markCache(txn, `hit; ttl=${f.lifetime - age}`, 'hit-fresh');
      rec.cache = txn.cacheResult;
      const hooked = serveEntry(entry, txn, req, res, rec, deps);
      return hooked ? hooked.then(() => true) : true;
    }
  }
  return serveStaleOrFetch(cache, policy, key, entry, now, txn, req, res, rec, deps);
}

/** serveThroughCache past a fresh hit: a stale entry (served while revalidating) or a miss (a fill). */
async function serveStaleOrFetch(
  cache: Cache,
  policy: CachePolicy,
  key: string,
  entry: CacheEntry | undefined,
  now: number,
  txn: Txn,
  req: IncomingMessage,
  res: ServerResponse,
  rec: FlowRecord,
  deps: FlowDeps,
): Promise<boolean> {
  const store = cache.store;
  const client = txn.client.headers;
  if (entry) {
    const age = currentAge(entry.age, now);
    const f = entry.freshness;
    if (usableStale(entry, now, 'staleWhileRevalidate')) {
      store.stats.hits++;
      store.stats.staleServed++;
      markCache(txn, `hit; ttl=${f.lifetime - age}; detail=stale-while-revalidate`, 'hit-stale');
      rec.cache = txn.cacheResult;
      if (!cache.inflight.has(key)) {
        // Refresh once, in the background, on a copy of this request (its hooks sign it).
        const fill = new Fill(key, true);
        cache.inflight.set(key, fill);
        const bg = { ...txn.originRequest, headers: txn.originRequest.headers.clone(), body: null };
        const bgTxn = Object.assign(Object.create(Object.getPrototypeOf(txn) as object) as Txn, txn, { originRequest: bg });
        void runFill(cache, fill, entry, bgTxn, policy, deps).catch(() => retire(cache, fill));
      }
      await serveEntry(entry, txn, req, res, rec, deps);
      return true;
    }
  }
  // A miss for a range, or a HEAD without a fresh entry, goes to the origin as it is (a HEAD reads no body, so
  // it cannot fill the cache).
  if ((!entry && client.has('range')) || req.method === 'HEAD') {
    store.stats.misses++;
    markCache(txn, `fwd=uri-miss; detail=${req.method === 'HEAD' ? 'head' : 'range'}`, 'miss');
    return false;
  }
  store.stats.misses++;
  let fill = cache.inflight.get(key);
  let collapsed = false;
  if (fill && fill.joinable) {
    collapsed = true;
    store.stats.coalesced++;
  } else {
    fill = new Fill(key, false);
    cache.inflight.set(key, fill);
    const started = fill;
    void runFill(cache, started, entry, txn, policy, deps).catch((err: unknown) => {
      retire(cache, started);
      if (started.outcome.kind === 'pending') started.settle({ kind: 'error', error: err });
    });
  }
  if (fill.outcome.kind === 'pending') fill.waitFor(res);
  const joined = readFill(fill, collapsed, txn, req, res, rec, deps);
  // The body waits for readers that are there before the head (the starter, and waiters joining early).
  if (!collapsed || fill.outcome.kind === 'pending') fill.pendingAttach.add(joined);
  return joined;
}

/** One reader of a fill: waits for the head, then writes it and streams (or serves the entry the fill settled on). */
async function readFill(
  fill: Fill,
  collapsed: boolean,
  txn: Txn,
  req: IncomingMessage,
  res: ServerResponse,
  rec: FlowRecord,
  deps: FlowDeps,
): Promise<boolean> {
  await fill.headReady;
  const outcome = fill.outcome;
  const suffix = collapsed ? '; collapsed' : '';
  if (outcome.kind === 'error') {
    // The fetch was cancelled because this client (and every other waiting one) left: nothing failed, nobody to tell.
    if (fill.controller.aborted && res.destroyed) return true;
    throw outcome.error;
  }
  if (outcome.kind === 'entry') {
    markCache(txn, outcome.status + suffix, outcome.xCache);
    rec.cache = txn.cacheResult;
    await serveEntry(outcome.entry, txn, req, res, rec, deps);
    return true;
  }
  if (outcome.kind !== 'stream') return false;
  if (collapsed) {
    // Not for sharing, or this client would get another variant: it fetches on its own.
    const writerVary = varyFields(outcome.head.headers);
    // A waiter that joined before the head can attach from byte 0 even when nothing will be stored.
    if (!outcome.shared || writerVary.length > 0 || !fill.canServeFromStart) {
      markCache(txn, `fwd=uri-miss; detail=${outcome.shared ? 'vary' : 'not-shared'}`, 'miss');
      return false;
    }
    markCache(txn, `fwd=uri-miss; collapsed`, 'miss');
  }
  rec.cache = txn.cacheResult;
  const headers = outcome.head.headers.clone();
  // An Age the origin (or a cache before it) sent counts (RFC 9111 §4.2.3).
  headers.set('Age', String(currentAge(outcome.age, deps.now())));
  const precondition = outcome.shared ? evaluatePreconditions(txn.client.headers, headers) : 200;
  if (precondition !== 200) {
    // This client needs no body, but the object is still worth storing for the next ones.
    if (!collapsed) fill.completeUnread = true;
    const head: ResponseHead = {
      status: precondition,
      headers: precondition === 304 ? notModifiedHeaders(headers) : new HeaderList(['Content-Length', '0']),
    };
    await deps.clientHead(txn, head);
    setVisibility(head.headers, txn);
    res.writeHead(head.status, head.headers.raw);
    res.end();
    return true;
  }
  const head: ResponseHead = { status: outcome.head.status, headers };
  await deps.clientHead(txn, head);
  if (req.method !== 'HEAD' && !fill.canServeFromStart) {
    // The replay buffer went away while this reader's hooks ran. Nothing is written yet, so it simply fetches on
    // its own rather than getting a cut connection.
    markCache(txn, 'fwd=uri-miss; detail=replay-gone', 'miss');
    return false;
  }
  setVisibility(head.headers, txn);
  res.writeHead(head.status, head.headers.raw);
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  // Checked just above, in this same tick: the attach replays from the first byte.
  fill.attach({
    res,
    onBytes: (n: number) => (rec.bytes += n),
    onFail: () => {
      if (rec.code === '-') rec.code = 'ERR_ORIGIN_BODY';
    },
  });
  return true;
}
