/**
 * Helpers for the fault tests: an origin that misbehaves at the byte level (routed by path, counting requests and
 * open sockets), a remapd on the test harness with a Metrics in its context, a client that reports how a response
 * ended instead of rejecting, and bounded polling. Everything listens on 127.0.0.1 port 0.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { METRIC, Metrics } from '../../src/observability/metrics.js';
import type { ProxyContext } from '../../src/proxy/handler.js';
import type { Settings } from '../../src/settings.js';
import { LOOPBACK, type Remapd, startRemapd } from '../support/harness.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

/** Writes the response to one request head (of `path`) on `socket`; the socket is the handler's to end or keep. */
export type RawRoute = (socket: Socket, path: string) => void;

export interface RawOrigin {
  port: number;
  /** Request heads received, by path (query included). */
  counts: Map<string, number>;
  /** Sockets open right now. */
  readonly open: number;
  close(): Promise<void>;
}

/**
 * An origin speaking HTTP/1.1 by hand, so it can lie about Content-Length, reset, drip or stall. Kept-alive
 * connections are served request after request (GET heads only: no request bodies). Unknown paths get a 404.
 */
export async function rawOrigin(routes: Record<string, RawRoute>): Promise<RawOrigin> {
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buffered = '';
    s.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const path = head.split(' ')[1] ?? '/';
        counts.set(path, (counts.get(path) ?? 0) + 1);
        const route = routes[path.split('?')[0]!];
        if (route) route(s, path);
        else s.write('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  return {
    port: (server.address() as { port: number }).port,
    counts,
    get open() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface FaultProxy extends Remapd {
  metrics: Metrics;
  ctx: ProxyContext;
  /** A sample of the Prometheus text (0 when absent). */
  sample(name: string, labels?: Record<string, string>): number;
}

/**
 * A remapd on the harness with a Metrics in its context (RemapdServer takes one from its owner; the harness makes
 * none), read back through the Prometheus text format.
 */
export async function faultProxy(config: string, settings: Partial<Settings> = {}): Promise<FaultProxy> {
  const proxy = await startRemapd(config, { settings });
  const metrics = new Metrics();
  const ctx = (proxy.server as unknown as { ctx: ProxyContext & { metrics?: Metrics } }).ctx;
  ctx.metrics = metrics;
  metrics.watchCache(ctx.cache);
  return Object.assign(proxy, {
    metrics,
    ctx,
    sample: (name: string, labels: Record<string, string> = {}) => sampleValue(parsePrometheus(metrics.prometheus()), name, labels) ?? 0,
  });
}

export { METRIC };

export interface Outcome {
  status: number;
  body: Buffer;
  /** The response ended as its framing said (false: the connection was cut). */
  complete: boolean;
  /** Set when the request failed before any response. */
  error?: string;
  elapsedMs: number;
}

/** One GET on a new connection; resolves however it ends (bounded by `timeoutMs`, which counts as an error). */
export function fetchOutcome(port: number, path: string, host: string, timeoutMs = 10_000): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Omit<Outcome, 'elapsedMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...o, elapsedMs: performance.now() - started });
    };
    const req = httpRequest({ host: LOOPBACK, port, path, headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode!, body: Buffer.concat(chunks), complete: res.complete }));
      res.on('aborted', () => done({ status: res.statusCode!, body: Buffer.concat(chunks), complete: false }));
      res.on('error', () => done({ status: res.statusCode!, body: Buffer.concat(chunks), complete: false }));
      res.on('close', () => done({ status: res.statusCode!, body: Buffer.concat(chunks), complete: res.complete }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: 0, body: Buffer.alloc(0), complete: false, error: `no outcome within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (err) => done({ status: 0, body: Buffer.alloc(0), complete: false, error: err.message }));
    req.end();
  });
}

/** Polls `read()` every 10 ms until `ok` holds, failing after `ms` with `what` and the last value. */
export async function eventually<T>(read: () => T | Promise<T>, ok: (v: T) => boolean, what: string, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) assert.fail(`${what}: still ${String(v)} after ${ms} ms`);
    await sleep(10);
  }
}
