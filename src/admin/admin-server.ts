/**
 * The admin endpoints, on their own listener (127.0.0.1:9090 by default; the caller listens) and behind an
 * address allow list:
 *
 *   GET /metrics        Prometheus text format 0.0.4
 *   GET /metrics.json   the same numbers as a JSON snapshot (families; no history)
 *   GET /status         the status page (HTML)
 *   GET /status.json    what the status page shows
 *   GET /healthz        200 "ok" while the process answers (liveness)
 *   GET /readyz         200 when every readiness check passes (naming degraded ones), else 503 listing the failing ones
 *
 * HEAD works wherever GET does; other methods get 405, unknown paths 404, addresses outside the allow list 403
 * (before anything else is looked at). Nothing is cached by clients or proxies (Cache-Control: no-store).
 *
 * The data comes from callbacks, so a supervisor can gather every worker's numbers per request (they may return
 * promises); a callback that throws gives a 500 whose details go to the error log only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.js';
import { formatPrometheus, type MetricsSnapshot, PROMETHEUS_CONTENT_TYPE } from '../observability/metrics.js';
import { type IpEntry, listMatches, parseAddress } from '../remap/ip-range.js';
import type { Readiness } from './health.js';
import { buildStatus, type StatusInfo } from './status.js';
import { renderStatusPage, STATUS_PAGE_CSP } from './status-page.js';

type Awaitable<T> = T | Promise<T>;

export interface AdminServerOptions {
  /** This process's snapshot, or the merge of every worker's. */
  metrics: () => Awaitable<MetricsSnapshot>;
  health: () => Awaitable<Readiness>;
  /** What /status and /status.json show; by default worked out from metrics(). */
  status?: () => Awaitable<StatusInfo>;
  /** Client addresses allowed (as @src_ip: single, range, CIDR, `all`, `~` negation). */
  allow: readonly IpEntry[];
  logger?: Logger;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const HTML = 'text/html; charset=utf-8';

interface Reply {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

const text = (status: number, body: string, headers?: Record<string, string>): Reply => ({ status, type: TEXT, body, headers });

type Route = (options: AdminServerOptions) => Promise<Reply>;

const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/metrics', async (o) => ({ status: 200, type: PROMETHEUS_CONTENT_TYPE, body: formatPrometheus((await o.metrics()).families) })],
  [
    '/metrics.json',
    async (o) => {
      const s = await o.metrics();
      return { status: 200, type: JSON_TYPE, body: `${JSON.stringify({ time: s.time, families: s.families })}\n` };
    },
  ],
  ['/status', async (o) => ({ status: 200, type: HTML, body: renderStatusPage(await statusOf(o)), headers: { 'Content-Security-Policy': STATUS_PAGE_CSP } })],
  ['/status.json', async (o) => ({ status: 200, type: JSON_TYPE, body: `${JSON.stringify(await statusOf(o))}\n` })],
  ['/healthz', async () => text(200, 'ok\n')],
  [
    '/readyz',
    async (o) => {
      const r = await o.health();
      // Degraded checks (an origin pool member down) pass, and are named under "ready".
      if (r.ready) return text(200, `ready\n${r.checks.filter((c) => c.degraded).map((c) => `${c.name}: ${c.detail}\n`).join('')}`);
      const failing = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}\n`);
      return text(503, `not ready\n${failing.join('')}`);
    },
  ],
]);

async function statusOf(o: AdminServerOptions): Promise<StatusInfo> {
  return o.status ? o.status() : buildStatus(await o.metrics());
}

function send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  const body = Buffer.from(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': reply.type,
    'Content-Length': String(body.length),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...reply.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

async function handle(options: AdminServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!listMatches(options.allow, parseAddress(req.socket.remoteAddress ?? ''))) {
    send(req, res, text(403, '403 Forbidden: this address may not use the admin endpoints\n'));
    return;
  }
  const route = ROUTES.get(pathOf(req.url ?? ''));
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(req, res, text(405, '405 Method Not Allowed: the admin endpoints answer GET and HEAD\n', { Allow: 'GET, HEAD' }));
    return;
  }
  if (!route) {
    send(req, res, text(404, `404 Not Found: admin endpoints are ${[...ROUTES.keys()].join(' ')}\n`));
    return;
  }
  let reply: Reply;
  try {
    reply = await route(options);
  } catch (err) {
    options.logger?.error('admin endpoint failed', { path: pathOf(req.url ?? ''), error: (err as Error)?.message ?? String(err) });
    reply = text(500, '500 Internal Server Error (details in the error log)\n');
  }
  if (!res.destroyed) send(req, res, reply);
}

/** The admin listener, not yet listening (`--admin-listen` says where; it is off by default). */
export function createAdminServer(options: AdminServerOptions): Server {
  const server = createServer(
    {
      // A scrape is one small request: a client that takes longer than this is not a scraper worth waiting for.
      requestTimeout: 10_000,
      headersTimeout: 5_000,
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      // A request body is never read; make sure it does not sit on the connection.
      req.resume();
      void handle(options, req, res);
    },
  );
  return server;
}
