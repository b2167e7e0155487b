/**
 * The request pipeline (docs in ../../shared/ARCHITECTURE.md, "One request, end to end"):
 *
 *   target + Host → rule lookup → ACL → redirect | (origin request built → remap hooks → [cache] →
 *   sendRequest hooks → origin) → readResponse hooks → reverse_map → sendResponse hooks → stream to client
 *
 * Everything a request needs is read from the configuration snapshot taken when it arrived, so a reload never
 * changes a request in flight. Bodies stream both ways with back-pressure; nothing is buffered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { RemapdError } from '../errors.js';
import type { AccessLog } from '../observability/access-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ClientRequestInfo, OriginRequest, RemapPlugin, ResponseHead, Scheme } from '../plugins/api.js';
import { deniedBy } from '../remap/acl.js';
import { type IpEntry, listMatches, parseAddress } from '../remap/ip-range.js';
import type { Cache } from '../cache/cache.js';
import { cacheKeyOf, type KeyNormalizer } from '../cache/cache-key.js';
import { type CachePolicy, DEFAULT_POLICY } from '../cache/policy.js';
import { type FlowDeps, serveThroughCache } from './cache-flow.js';
import type { RemapConfig, Rule } from '../remap/load.js';
import type { RulePool } from '../pool/origin-pool.js';
import { authorityOf, DEFAULT_PORT, type RemapUrl } from '../remap/remap-url.js';
import { remapPath } from '../remap/rule-table.js';
import type { Settings } from '../settings.js';
import { HeaderList } from './header-list.js';
import { appendVia, buildOriginHeaders, stripHopByHop } from './header-rules.js';
import { OriginAbort } from './origin-abort.js';
import { isRetryableOriginError, type OriginClient, type OriginResponse } from './origin-client.js';
import { framingProblem } from './request-framing.js';
import { parseRequestTarget, type RequestTarget } from './request-target.js';
import { Txn } from './transaction.js';

export interface ProxyContext {
  /** The configuration in force; each request reads it once, on arrival. */
  config: RemapConfig;
  readonly settings: Settings;
  readonly origin: OriginClient;
  /** The object cache; it outlives configuration reloads. */
  readonly cache: Cache;
  /** Who may send PURGE. */
  readonly purgeAllow: readonly IpEntry[];
  /** Per-rule cache views; rules of retired configurations drop out with them. */
  readonly ruleCacheViews: WeakMap<Rule, RuleCacheView>;
  readonly accessLog: AccessLog;
  readonly logger: Logger;
  /** Scheme of the listener this context serves. */
  readonly scheme: Scheme;
  nextId: number;
  /** Called once per request when its response closes, with the configuration it ran on (reload bookkeeping). */
  readonly onDone?: (config: RemapConfig) => void;
  /** Request, origin and signing counters; none are kept when absent. */
  readonly metrics?: Metrics;
  /**
   * With --workers, each worker has its own cache: PURGE removes the key from every worker's through this (the
   * supervisor asks them all), returning how many stored responses were removed and who did not answer.
   * Absent in a single process, where the local store is the only one.
   */
  readonly purgeEverywhere?: (key: string) => Promise<{ removed: number; unanswered: string[] }>;
}

/** What the access log line of one request needs; filled in as the request progresses. */
interface Record_ {
  time: number;
  /** Taken on arrival: the socket is gone by the time the log line is written. */
  client: string;
  started: number;
  rule: string;
  cache: string;
  code: string;
  bytes: number;
  /** Request body bytes the client declared (Content-Length); counted as received only if the body was read whole. */
  bytesIn: number;
  controller: OriginAbort | null;
  /** The configuration snapshot the request runs on. */
  config: RemapConfig;
}

/**
 * sendRequest hook failures counted as signing failures: sendRequest is where s3_auth signs, and these are its
 * codes (no key for the day's scope, credentials expired and not renewable, the signer itself failed).
 */
const SIGNING_FAILURES: ReadonlySet<string> = new Set(['ERR_SIGNING_KEY', 'ERR_CREDENTIALS', 'ERR_PLUGIN']);

/** Methods that may be sent again after a kept-alive connection died before the response (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export function handleRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const config = ctx.config;
  const rec: Record_ = {
    time: Date.now(),
    client: clientAddress(req),
    started: performance.now(),
    rule: '-',
    cache: '-',
    code: '-',
    bytes: 0,
    bytesIn: 0,
    controller: null,
    config,
  };
  // One listener per request does both the abort and the bookkeeping (issue 6: per-request closures cost).
  res.once('close', () => onClose(ctx, req, res, rec));
  proxyRequest(ctx, config, req, res, rec).catch((err: unknown) => sendError(ctx, req, res, rec, err));
}

function onClose(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, rec: Record_): void {
  if (!res.writableFinished) {
    // The client went away (or we cut the response): stop the origin request too.
    rec.controller?.abort();
    if (rec.code === '-') rec.code = 'ABORTED';
  }
  ctx.onDone?.(rec.config);
  const metrics = ctx.metrics;
  if (!ctx.accessLog.enabled && metrics === undefined) return;
  const durationMs = performance.now() - rec.started;
  if (metrics !== undefined) {
    metrics.observeRequest({
      rule: rec.rule,
      method: req.method ?? '-',
      // Nothing was sent: counted as 499, nginx's "client closed request", not as the 200 Node presets.
      status: res.headersSent ? res.statusCode : 499,
      cache: rec.cache,
      durationMs,
      bytesIn: req.complete ? rec.bytesIn : 0,
      bytesOut: rec.bytes,
    });
  }
  if (!ctx.accessLog.enabled) return;
  ctx.accessLog.write({
    time: rec.time,
    client: rec.client,
    method: req.method ?? '-',
    url: req.url ?? '-',
    status: res.statusCode,
    bytes: rec.bytes,
    durationMs,
    cache: rec.cache,
    rule: rec.rule,
    code: rec.code,
  });
}

function clientAddress(req: IncomingMessage): string {
  const a = req.socket?.remoteAddress ?? '-';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/**
 * The one Host header of a request. More than one, or none in HTTP/1.1 (absolute-form too), is a 400
 * (RFC 9112 §3.2); HTTP/1.0 may go without.
 */
function hostHeader(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 4 && n.toLowerCase() === 'host') {
      if (host !== undefined) throw new RemapdError('ERR_BAD_REQUEST', 'the request has more than one Host header');
      host = raw[i + 1]!;
    }
  }
  if (host === undefined && req.httpVersionMinor === 1) throw new RemapdError('ERR_BAD_REQUEST', 'an HTTP/1.1 request must have a Host header');
  return host;
}

function describeTarget(scheme: Scheme, t: RequestTarget): string {
  if (t.host === '') return `path ${t.path} (the request has no Host)`;
  const port = t.port !== DEFAULT_PORT[scheme] ? `:${t.port}` : '';
  return `${scheme}://${t.host}${port}${t.path}`;
}

/**
 * The asterisk-form target (RFC 9110 §9.3.7): `OPTIONS *` asks about the server itself, not about a resource, so
 * remapd answers it (200, no body) and no rule or origin is involved; any other method with `*` is malformed.
 */
function answerAsterisk(method: string, res: ServerResponse, rec: Record_): void {
  if (method !== 'OPTIONS') throw new RemapdError('ERR_BAD_REQUEST', 'the asterisk-form request target (*) is only for OPTIONS');
  rec.bytes = writeAnswer(res, { status: 200, headers: new HeaderList(['Cache-Control', 'no-store']) }, Buffer.alloc(0));
}

/** The to-URL of a rule with `$0`–`$9` replaced by the host pattern's captures (regex rules). */
function destination(rule: Rule, captures: RegExpExecArray | null): RemapUrl {
  if (!captures) return rule.to;
  const sub = (s: string) => s.replace(/\$(\d)/g, (_, d: string) => captures[Number(d)] ?? '');
  return { ...rule.to, host: sub(rule.to.host).toLowerCase(), path: sub(rule.to.path) };
}

async function proxyRequest(
  ctx: ProxyContext,
  config: RemapConfig,
  req: IncomingMessage,
  res: ServerResponse,
  rec: Record_,
): Promise<void> {
  // CONNECT never arrives here: Node routes it to the server's 'connect' event, answered 405 in server.ts.
  const method = req.method!;
  const framing = framingProblem(req);
  if (framing) {
    // Whatever follows this head on the connection cannot be trusted to be the next request.
    res.shouldKeepAlive = false;
    throw framing;
  }
  const rawHost = hostHeader(req);
  if (req.url === '*') {
    answerAsterisk(method, res, rec);
    return;
  }
  const target = parseRequestTarget(req.url!, rawHost, ctx.scheme);
  const socket = req.socket;
  const match = config.table.lookup({
    scheme: ctx.scheme,
    host: target.host,
    port: target.port,
    recvPort: socket.localPort ?? 0,
    path: target.path,
  });
  if (!match) {
    throw new RemapdError('ERR_REMAP_NO_RULE', `no remap rule matches ${describeTarget(ctx.scheme, target)} (remap required)`);
  }
  const rule = match.rule;
  rec.rule = rule.id;

  if (method === 'PURGE') {
    await purge(ctx, config, rule, match.captures, target, socket.remoteAddress ?? '', res, rec);
    return;
  }

  if (rule.filters.length > 0) {
    const denied = deniedBy(rule.filters, {
      method,
      remote: parseAddress(socket.remoteAddress ?? ''),
      local: parseAddress(socket.localAddress ?? ''),
      internal: false,
    });
    if (denied) {
      ctx.logger.info('request denied by ACL', {
        rule: rule.id,
        filter: denied.name ?? 'in-line',
        client: rec.client,
        method,
      });
      throw new RemapdError('ERR_ACL_DENIED', 'access denied');
    }
  }

  const dest = destination(rule, match.captures);
  const destPath = remapPath(rule.from.path, dest.path, target.path);

  if (rule.kind === 'redirect') {
    const location = `${dest.scheme}://${authorityOf(dest)}${destPath}${target.search}`;
    const head: ResponseHead = { status: rule.redirectStatus, headers: new HeaderList(['Location', location]) };
    rec.bytes = writeAnswer(res, head, Buffer.from(`${rule.redirectStatus} ${STATUS_CODES[rule.redirectStatus]}: ${location}\n`));
    return;
  }

  // In absolute-form the URL's authority replaces the Host header for every plugin too (RFC 9112 §3.2.2).
  const clientHeaders =
    target.authority === (rawHost ?? '') ? new HeaderList(req.rawHeaders) : HeaderList.from(req.rawHeaders).set('host', target.authority);
  const client: ClientRequestInfo = {
    method,
    target: req.url!,
    httpVersion: req.httpVersion,
    headers: clientHeaders,
    scheme: ctx.scheme,
    host: target.host,
    port: target.port,
    remoteAddress: rec.client,
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
  };
  const settings = ctx.settings;
  const via = `${req.httpVersion} ${settings.viaName}`;
  const contentLength = req.headers['content-length'];
  const hasBody = (contentLength !== undefined && contentLength !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && contentLength !== undefined) rec.bytesIn = Number(contentLength) || 0;
  const originRequest: OriginRequest = {
    method,
    scheme: dest.scheme ?? 'http',
    host: dest.host,
    port: dest.port ?? DEFAULT_PORT[dest.scheme ?? 'http'],
    path: destPath,
    search: target.search,
    headers: buildOriginHeaders(req.rawHeaders, {
      // The authority the client named: in absolute-form the URL's, not the Host header's (RFC 9112 §3.2.2).
      host: settings.pristineHostHdr && target.authority !== '' ? target.authority : authorityOf(dest),
      via,
      forwardedFor: settings.xForwardedFor ? client.remoteAddress : null,
    }),
    body: hasBody ? req : null,
    bodyLength: contentLength !== undefined ? Number(contentLength) : null,
  };
  const txn = new Txn(ctx.nextId++, rule.info, client, originRequest);

  try {
    for (const p of rule.hooks.remap) {
      const r = p.remap!(txn);
      if (r) await r;
      if (txn.answer) break;
    }
  } catch (err) {
    throw pluginFailure(err, rule, 'remap');
  }
  if (txn.answer) {
    const head: ResponseHead = { status: txn.answer.status, headers: txn.answer.headers };
    const hooked = runHooks(ctx, rule, 'sendResponse', rule.hooks.sendResponse, txn, head);
    if (hooked) await hooked;
    rec.bytes = writeAnswer(res, head, txn.answer.body);
    return;
  }

  let invalidate: string | null = null;
  if (ctx.cache.enabled) {
    const view = cacheViewOf(ctx, config, rule);
    if (!view.policy.enabled) {
      txn.cacheStatus = 'remapd; fwd=bypass; detail=rule';
      txn.cacheResult = 'skipped';
    } else if (method === 'GET' || method === 'HEAD') {
      const key = cacheKeyOf(txn.originRequest, view.policy.ignoreQuery, view.normalize);
      const served = serveThroughCache(ctx.cache, view.policy, key, txn, req, res, rec, view.deps);
      if (served === true || (served !== false && (await served))) return;
    } else {
      txn.cacheStatus = 'remapd; fwd=method';
      txn.cacheResult = 'skipped';
      // RFC 9111 §4.4: a successful unsafe request invalidates what is stored for its URL.
      invalidate = cacheKeyOf(txn.originRequest, view.policy.ignoreQuery, view.normalize);
    }
  }

  const controller = new OriginAbort();
  rec.controller = controller;
  if (res.destroyed) return;
  const response = await forward(ctx, rule, txn, controller);
  if (invalidate !== null && response.status < 400 && ctx.cache.store.delete(invalidate) > 0) ctx.cache.store.stats.invalidations++;
  await respondFromOrigin(ctx, config, rule, txn, res, rec, response, via);
}

/** What the cache needs of one rule, worked out on the rule's first request instead of on every request. */
export interface RuleCacheView {
  /** From the rule's cache.so instance, else the defaults. */
  readonly policy: CachePolicy;
  /** From the first plugin that knows how its origin reads URLs (s3_auth), else RFC 3986 normalisation. */
  readonly normalize: KeyNormalizer | undefined;
  readonly deps: FlowDeps;
}

function cacheViewOf(ctx: ProxyContext, config: RemapConfig, rule: Rule): RuleCacheView {
  let view = ctx.ruleCacheViews.get(rule);
  if (view === undefined) {
    const withPolicy = rule.instances.find((i) => i.cachePolicy);
    const withKey = rule.instances.find((i) => i.normalizeForKey);
    view = {
      policy: withPolicy?.cachePolicy ?? DEFAULT_POLICY,
      normalize: withKey?.normalizeForKey?.bind(withKey),
      deps: flowDeps(ctx, config, rule),
    };
    ctx.ruleCacheViews.set(rule, view);
  }
  return view;
}

function flowDeps(ctx: ProxyContext, config: RemapConfig, rule: Rule): FlowDeps {
  return {
    forward: (t, signal) => forward(ctx, rule, t as Txn, signal),
    storedHead: async (t, response) => {
      const head: ResponseHead = { status: response.status, headers: response.headers };
      try {
        stripHopByHop(head.headers);
        const hooked = runHooks(ctx, rule, 'readResponse', rule.hooks.readResponse, t as Txn, head);
        if (hooked) await hooked;
      } catch (err) {
        response.body.destroy();
        throw err;
      }
      // A hook's body filter (s3_auth's error-body redaction): what is stored and sent is what it emits.
      if (head.filterBody) response.body = head.filterBody(response.body);
      reverseMap(config, head.headers);
      return head;
    },
    clientHead: (t, head) => {
      appendVia(head.headers, `${t.client.httpVersion} ${ctx.settings.viaName}`);
      return rule.hooks.sendResponse.length > 0 ? runHooks(ctx, rule, 'sendResponse', rule.hooks.sendResponse, t as Txn, head) : undefined;
    },
    bodyFailed: (t, err) => originBodyFailed(ctx, rule, t as Txn, err),
    fixedClientHead: rule.hooks.sendResponse.length === 0,
    now: Date.now,
  };
}

/**
 * PURGE (ATS and nginx's cache purge): removes the stored object the request's URL maps to. Allowed only from
 * the purge allow list (loopback by default); the rule's own ACL filters do not apply to it. 200 when something
 * was removed, 404 when nothing was stored.
 */
async function purge(
  ctx: ProxyContext,
  config: RemapConfig,
  rule: Rule,
  captures: RegExpExecArray | null,
  target: RequestTarget,
  remote: string,
  res: ServerResponse,
  rec: Record_,
): Promise<void> {
  if (!listMatches(ctx.purgeAllow, parseAddress(remote))) {
    throw new RemapdError('ERR_ACL_DENIED', 'PURGE is not allowed from this address');
  }
  if (rule.kind === 'redirect') throw new RemapdError('ERR_METHOD_NOT_ALLOWED', 'a redirect rule has nothing to purge');
  const dest = destination(rule, captures);
  const view = cacheViewOf(ctx, config, rule);
  const key = cacheKeyOf(
    {
      scheme: dest.scheme ?? 'http',
      host: dest.host,
      port: dest.port ?? DEFAULT_PORT[dest.scheme ?? 'http'],
      path: remapPath(rule.from.path, dest.path, target.path),
      search: target.search,
    },
    view.policy.ignoreQuery,
    view.normalize,
  );
  let removed: number;
  let unanswered: string[] = [];
  if (ctx.purgeEverywhere) {
    ({ removed, unanswered } = await ctx.purgeEverywhere(key));
  } else {
    removed = purgeStored(ctx.cache, key);
  }
  rec.cache = 'purge';
  // A worker that did not answer may still hold the object: the purge is not known to be done (503, retry).
  const status = unanswered.length > 0 ? 503 : removed > 0 ? 200 : 404;
  const text =
    status === 503
      ? `503 Service Unavailable: purged ${removed} stored response(s), but ${unanswered.join(', ')} did not answer; retry\n`
      : removed > 0
        ? `200 OK: purged ${removed} stored response(s)\n`
        : '404 Not Found: nothing stored for this URL\n';
  rec.bytes = writeAnswer(res, { status, headers: new HeaderList(['Content-Type', 'text/plain; charset=utf-8', 'Cache-Control', 'no-store']) }, Buffer.from(text));
}

/** Removes what this process's cache stores under `key`; how many stored responses went. */
export function purgeStored(cache: Cache, key: string): number {
  const removed = cache.store.delete(key);
  if (removed > 0) cache.store.stats.purges++;
  return removed;
}

/** Sends the final origin request, running the sendRequest hooks on a fresh copy for every attempt. */
async function forward(ctx: ProxyContext, rule: Rule, txn: Txn, signal: OriginAbort): Promise<OriginResponse> {
  if (rule.pool !== null) return forwardToPool(ctx, rule, rule.pool, txn, signal);
  const template = txn.originRequest;
  const canRetry = template.body === null && IDEMPOTENT.has(template.method);
  const hooks = rule.hooks.sendRequest;
  const metrics = ctx.metrics;
  for (let attempt = 0; ; attempt++) {
    const req: OriginRequest = hooks.length > 0 || canRetry ? { ...template, headers: template.headers.clone() } : template;
    const hooked = runHooks(ctx, rule, 'sendRequest', hooks, txn, req);
    if (hooked) await hooked;
    const started = metrics !== undefined ? performance.now() : 0;
    try {
      const response = await ctx.origin.send(req, signal);
      metrics?.observeOrigin(rule.id, performance.now() - started, response.status);
      return response;
    } catch (err) {
      metrics?.observeOrigin(rule.id, performance.now() - started, signal.aborted ? 'aborted' : originErrorCode(err));
      if (attempt === 0 && canRetry && !signal.aborted && isRetryableOriginError(err)) {
        ctx.logger.debug('retrying after a dead kept-alive origin connection', { rule: rule.id });
        continue;
      }
      throw err;
    }
  }
}

/** `host[:port]` of an origin request as its Host header carries it (the port only when not the scheme's default). */
function requestAuthority(r: Pick<OriginRequest, 'scheme' | 'host' | 'port'>): string {
  const host = r.host.includes(':') ? `[${r.host}]` : r.host;
  return r.port === DEFAULT_PORT[r.scheme] ? host : `${host}:${r.port}`;
}

/**
 * A rule with `@strategy=`: each attempt goes to the next member of the pool's order (origin-pool.ts
 * `candidates`), with that member's scheme, host and port, its authority as Host (unless the Host is not the
 * to-URL's: pristine_host_hdr or a plugin chose it), and the rule's sendRequest hooks with the member's own signer
 * in place of the rule's, so a request failing over to another region is signed afresh for it.
 *
 * An idempotent request without a body moves to the next member after a connection error, a timeout, or a status
 * in failover.response_codes / markdown_codes (the failed response's body is destroyed first); each member is
 * tried at most once. A request with a body is sent once: its body stream is consumed by the first attempt. Every
 * outcome feeds the member's passive health. The cache key was made from the rule's to-URL before this, so
 * every member fills the same cache entry.
 */
async function forwardToPool(ctx: ProxyContext, rule: Rule, rp: RulePool, txn: Txn, signal: OriginAbort): Promise<OriginResponse> {
  const template = txn.originRequest;
  const pool = rp.pool;
  const def = pool.def;
  const retryable = template.body === null && IDEMPOTENT.has(template.method);
  const candidates = pool.candidates({ request: template, clientAddress: txn.client.remoteAddress, retryable });
  const attempts = retryable ? candidates.length : 1;
  const host = template.headers.get('host');
  // Host is the to-URL's unless pristine_host_hdr (global, or conf_remap's) or a plugin put another one there.
  const memberHost = host === requestAuthority(template) && !(ctx.settings.pristineHostHdr && txn.client.headers.get('host') === host);
  const metrics = ctx.metrics;
  let simpleRetries = 0;
  let unavailableRetries = 0;
  let staleRetried = false;
  for (let i = 0; ; i++) {
    const member = candidates[i]!;
    const m = member.def;
    const last = i + 1 >= attempts;
    const req: OriginRequest = { ...template, scheme: m.scheme, host: m.host, port: m.port, headers: template.headers.clone() };
    if (memberHost) req.headers.set('host', m.authority);
    const hooked = runHooks(ctx, rule, 'sendRequest', rp.sendRequest[member.index]!, txn, req);
    if (hooked) await hooked;
    pool.begin(member);
    const started = metrics !== undefined ? performance.now() : 0;
    let response: OriginResponse;
    try {
      response = await ctx.origin.send(req, signal);
    } catch (err) {
      if (signal.aborted) {
        pool.abandoned(member);
        metrics?.observeOrigin(rule.id, performance.now() - started, 'aborted');
        throw err;
      }
      const code = originErrorCode(err);
      metrics?.observeOrigin(rule.id, performance.now() - started, code);
      if (err instanceof RemapdError && err.status < 500) {
        // The request cannot be sent anywhere — its body did not match its length, or not what its client signed
        // (s3_client_auth's checks fail the body stream): not the member's fault.
        pool.abandoned(member);
        throw err;
      }
      if (last && retryable && !staleRetried && isRetryableOriginError(err)) {
        // The last member's kept-alive connection died before answering: once more on a new connection, as
        // forward() does for a single origin, before the client is told the pool failed.
        staleRetried = true;
        pool.abandoned(member);
        i--;
        continue;
      }
      pool.failed(member, code);
      if (last) throw err;
      ctx.logger.debug('origin pool: failing over', { rule: rule.id, strategy: pool.name, origin: m.id, reason: code });
      metrics?.originFailover(pool.name);
      continue;
    }
    const status = response.status;
    metrics?.observeOrigin(rule.id, performance.now() - started, status);
    const markdown = def.markdownCodes.has(status);
    if (markdown) pool.markDown(member, String(status));
    else if (status >= 500) pool.failed(member, String(status));
    else pool.succeeded(member);
    const retry = markdown
      ? def.maxUnavailableRetries === null || unavailableRetries < def.maxUnavailableRetries
      : def.responseCodes.has(status) && (def.maxSimpleRetries === null || simpleRetries < def.maxSimpleRetries);
    if (!retry || last) return response;
    if (markdown) unavailableRetries++;
    else simpleRetries++;
    // A plain destroy() of an OriginBody ends it with 'close' only, and abandons the origin request.
    response.body.destroy();
    ctx.logger.debug('origin pool: failing over', { rule: rule.id, strategy: pool.name, origin: m.id, reason: String(status) });
    metrics?.originFailover(pool.name);
  }
}

/** The metrics label of an origin failure: its remapd code (origin-client maps every failure to one). */
function originErrorCode(err: unknown): string {
  return err instanceof RemapdError ? err.code : 'ERR_INTERNAL';
}

/** Response headers that carry URLs reverse_map rewrites (ATS: Location, Content-Location, Refresh). */
function reverseMap(config: RemapConfig, headers: HeaderList): void {
  for (const name of ['location', 'content-location']) {
    const v = headers.get(name);
    if (v === undefined) continue;
    const mapped = config.table.reverse(v);
    if (mapped !== null) headers.set(name, mapped);
  }
  const refresh = headers.get('refresh');
  if (refresh !== undefined) {
    const m = /^(\s*\d+\s*;\s*url\s*=\s*)(.*)$/i.exec(refresh);
    if (m) {
      const mapped = config.table.reverse(m[2]!);
      if (mapped !== null) headers.set('refresh', m[1] + mapped);
    }
  }
}

type HookPoint = 'sendRequest' | 'readResponse' | 'sendResponse';

function callHook(p: RemapPlugin, hook: HookPoint, txn: Txn, x: OriginRequest | ResponseHead): Promise<void> | void {
  return hook === 'sendRequest' ? p.sendRequest!(txn, x as OriginRequest) : p[hook]!(txn, x as ResponseHead);
}

/**
 * Runs the hooks of one hook point: sendRequest on one attempt's request (s3_auth signs there), readResponse or
 * sendResponse on a head. Synchronous while the hooks are (s3_auth's are, with static keys): a promise only once a
 * hook returns one, so a plain miss pays no async function and microtask turn per hook point (issue 6 profile).
 * Throws (or rejects with) the hook's failure as hookFailure says.
 */
function runHooks(ctx: ProxyContext, rule: Rule, hook: HookPoint, hooks: readonly RemapPlugin[], txn: Txn, x: OriginRequest | ResponseHead): Promise<void> | undefined {
  for (let i = 0; i < hooks.length; i++) {
    let r: Promise<void> | void;
    try {
      r = callHook(hooks[i]!, hook, txn, x);
    } catch (err) {
      throw hookFailure(ctx, rule, hook, err);
    }
    if (r) return finishHooks(ctx, rule, hook, hooks, i + 1, txn, x, r);
  }
  return undefined;
}

async function finishHooks(
  ctx: ProxyContext,
  rule: Rule,
  hook: HookPoint,
  hooks: readonly RemapPlugin[],
  from: number,
  txn: Txn,
  x: OriginRequest | ResponseHead,
  pending: Promise<void>,
): Promise<void> {
  try {
    await pending;
    for (let i = from; i < hooks.length; i++) {
      const r = callHook(hooks[i]!, hook, txn, x);
      if (r) await r;
    }
  } catch (err) {
    throw hookFailure(ctx, rule, hook, err);
  }
}

/** pluginFailure, and a sendRequest failure with a signing code counted as a signing failure of the rule. */
function hookFailure(ctx: ProxyContext, rule: Rule, hook: HookPoint, err: unknown): RemapdError {
  const failure = pluginFailure(err, rule, hook);
  if (hook === 'sendRequest' && ctx.metrics !== undefined && SIGNING_FAILURES.has(failure.code)) ctx.metrics.signingFailure(rule.id, failure.code);
  return failure;
}

/**
 * A hook's failure: a RemapdError keeps its code (a plugin may say 413 or 403 on purpose); anything else is a
 * plugin bug or an operational failure, answered 500 with the details in the error log only.
 */
function pluginFailure(err: unknown, rule: Rule, hook: string): RemapdError {
  if (err instanceof RemapdError) return err;
  return new RemapdError('ERR_PLUGIN', 'internal error in a plugin (details in the error log)', {
    cause: err,
    detail: `plugin failed in ${hook} (${rule.id}): ${(err as Error)?.message ?? String(err)}`,
  });
}

async function respondFromOrigin(
  ctx: ProxyContext,
  config: RemapConfig,
  rule: Rule,
  txn: Txn,
  res: ServerResponse,
  rec: Record_,
  response: OriginResponse,
  via: string,
): Promise<void> {
  const head: ResponseHead = { status: response.status, headers: response.headers };
  let body = response.body;
  try {
    stripHopByHop(head.headers);
    let hooked = runHooks(ctx, rule, 'readResponse', rule.hooks.readResponse, txn, head);
    if (hooked) await hooked;
    if (head.filterBody) body = head.filterBody(body);
    reverseMap(config, head.headers);
    appendVia(head.headers, via);
    hooked = runHooks(ctx, rule, 'sendResponse', rule.hooks.sendResponse, txn, head);
    if (hooked) await hooked;
    if (txn.cacheStatus !== null) {
      head.headers.set('Cache-Status', txn.cacheStatus);
      head.headers.set('X-Cache', txn.cacheResult);
    }
    res.writeHead(head.status, head.headers.raw);
  } catch (err) {
    body.destroy();
    if (err instanceof RemapdError) throw err;
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_HTTP_INVALID') || (err as NodeJS.ErrnoException).code === 'ERR_INVALID_CHAR') {
      throw new RemapdError('ERR_ORIGIN_PROTOCOL', 'the origin sent a header that cannot be forwarded', { cause: err });
    }
    throw err;
  }
  rec.cache = txn.cacheResult;
  relay(body, res, rec, (err) => {
    // An origin that dies mid-body must not look like a complete response: the client connection is cut, and
    // the log says why. (A client that left first was marked ABORTED by onClose, which also aborted the origin.)
    if (rec.code !== '-') return;
    rec.code = 'ERR_ORIGIN_BODY';
    originBodyFailed(ctx, rule, txn, err);
  });
}

/**
 * An origin body that failed after its head (reset, cut short, idle too long): logged and counted once per origin
 * response, from the relay or from the cache fill. A client that left first is neither: that is not the origin.
 */
function originBodyFailed(ctx: ProxyContext, rule: Rule, txn: Txn, err: Error): void {
  ctx.metrics?.originBodyFailure(rule.id);
  ctx.logger.warn('origin response body failed; client connection aborted', {
    rule: rule.id,
    origin: `${txn.originRequest.host}:${txn.originRequest.port}`,
    reason: (err as NodeJS.ErrnoException).code ?? err.message,
  });
}

/**
 * Streams an origin body to the client with back-pressure, cutting the client connection if the body fails.
 * Not stream.pipeline: it makes an AbortController per call and aborts it when done, which costs a DOMException
 * per response — about 10% of a signed miss's CPU in the issue 6 profile.
 */
function relay(body: Readable, res: ServerResponse, rec: Record_, onFail: (err: Error) => void): void {
  let failed = false;
  body.on('data', (chunk: Buffer) => {
    rec.bytes += chunk.length;
    if (!res.write(chunk)) body.pause();
  });
  res.on('drain', () => body.resume());
  body.once('end', () => {
    if (!failed) res.end();
  });
  body.once('error', (err: Error) => {
    failed = true;
    res.destroy();
    onFail(err);
  });
}

/** Writes a response remapd made itself; returns the body bytes sent. */
function writeAnswer(res: ServerResponse, head: ResponseHead, body: Buffer): number {
  head.headers.set('Content-Length', String(body.length));
  res.writeHead(head.status, head.headers.raw);
  const sent = res.req.method === 'HEAD' ? 0 : body.length;
  res.end(sent > 0 ? body : undefined);
  return sent;
}

function sendError(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, rec: Record_, err: unknown): void {
  // The client left and its origin request was aborted on purpose: nothing failed, nothing to answer.
  if (rec.controller?.aborted && res.destroyed) return;
  const e =
    err instanceof RemapdError
      ? err
      : new RemapdError('ERR_INTERNAL', 'internal error (details in the error log)', {
          cause: err,
          detail: (err as Error)?.stack ?? String(err),
        });
  rec.code = e.code;
  if (e.status >= 500) {
    ctx.logger.warn('request failed', { rule: rec.rule, code: e.code, status: e.status, reason: e.detail ?? e.message });
  }
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = Buffer.from(e.body?.text ?? `${e.status} ${STATUS_CODES[e.status] ?? ''}: ${e.message}\n`);
  res.writeHead(e.status, [
    'Content-Type',
    e.body?.contentType ?? 'text/plain; charset=utf-8',
    'Content-Length',
    String(body.length),
    'Cache-Control',
    'no-store',
    'X-Content-Type-Options',
    'nosniff',
    'X-Remapd-Error',
    e.code,
  ]);
  if (req.method === 'HEAD') {
    res.end();
  } else {
    res.end(body);
    rec.bytes = body.length;
  }
}
