/**
 * Test harness: real servers on 127.0.0.1 port 0, a real remapd on a config written to a temporary folder, and a
 * small HTTP client that returns raw headers. Everything started here is closed by the returned `close()`.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { formatDiagnostic } from '../../src/errors.js';
import { AccessLog } from '../../src/observability/access-log.js';
import { createLogger } from '../../src/observability/logger.js';
import { loadRemapConfig } from '../../src/remap/load.js';
import { RemapdServer } from '../../src/server.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { recordTranscript, registerConfigSecrets, registerRequestSecrets } from './secrets.js';

export const LOOPBACK = '127.0.0.1';

export interface Origin {
  server: Server;
  port: number;
  url: string;
  /** Requests seen, in order. */
  requests: SeenRequest[];
  close(): Promise<void>;
}

export interface SeenRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
}

/** Starts an origin on 127.0.0.1:0 that records each request (with its body) before calling `handler`. */
export async function startOrigin(
  handler: (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void,
  options: { recordBody?: boolean } = {},
): Promise<Origin> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const seen: SeenRequest = { method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) };
    requests.push(seen);
    registerRequestSecrets(req.rawHeaders);
    if (options.recordBody === false) {
      handler(req, res, seen);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.body = Buffer.concat(chunks);
      handler(req, res, seen);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${LOOPBACK}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A loopback port that refuses connections, for "the origin is down" tests. Not a port bound and closed again:
 * another test file running at the same time can be given that port by its own bind to port 0, and its server
 * would then answer (seen: a remapd of another file answering 404). Ports below 1024 are never handed out for a
 * bind to port 0, so the first of these that refuses stays refused for the whole run.
 */
export async function refusedPort(): Promise<number> {
  for (const port of [1, 9, 13, 19, 37, 79, 113, 119]) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: LOOPBACK, port });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 1_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(err.code === 'ECONNREFUSED');
      });
    });
    if (refused) return port;
  }
  throw new Error('no low loopback port refuses connections on this machine (1, 9, 13, … all answer)');
}

/** An origin answering 200 "ok" to everything, closed when the test ends. */
export async function okOrigin(t: { after(fn: () => Promise<void>): void }): Promise<Origin> {
  const origin = await startOrigin((_req, res) => res.end('ok'));
  t.after(() => origin.close());
  return origin;
}

/** Raw header fields of the last request an origin received (fails the test when there was none). */
export function lastRequestHeaders(origin: Origin): string[] {
  const seen = origin.requests.at(-1);
  if (!seen) throw new Error('the origin received no request');
  return seen.rawHeaders;
}

export interface Remapd {
  server: RemapdServer;
  port: number;
  url: string;
  dir: string;
  /** Error-log lines. */
  logs: string[];
  /** Access-log lines. */
  access: string[];
  close(): Promise<void>;
}

/**
 * Writes `config` (and any extra files) into a fresh folder, loads it and starts remapd on 127.0.0.1:0.
 * `{{name}}` in the texts is replaced from `vars` first.
 */
export async function startRemapd(
  config: string,
  options: { files?: Record<string, string>; settings?: Partial<Settings>; vars?: Record<string, string | number> } = {},
): Promise<Remapd> {
  const dir = mkdtempSync(join(tmpdir(), 'remapd-test-'));
  const fill = (s: string) => s.replace(/\{\{(\w+)\}\}/g, (_, k: string) => String(options.vars?.[k] ?? `{{${k}}}`));
  for (const [name, text] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), fill(text));
  }
  writeFileSync(join(dir, 'remap.config'), fill(config));
  registerConfigSecrets(fill(config));
  for (const text of Object.values(options.files ?? {})) registerConfigSecrets(fill(text));
  const logs: string[] = [];
  const access: string[] = [];
  recordTranscript(`the error log of remapd in ${dir}`, () => logs.join('\n'));
  recordTranscript(`the access log of remapd in ${dir}`, () => access.join('\n'));
  const logger = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  const { config: loaded, diagnostics } = await loadRemapConfig(join(dir, 'remap.config'), { logger });
  if (!loaded) throw new Error(`test config failed to load:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  const settings = resolveSettings({ listenHost: LOOPBACK, listenPort: 0, ...options.settings });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) access.push(line);
      done();
    },
  });
  const server = new RemapdServer({ config: loaded, settings, logger, accessLog: new AccessLog(sink) });
  for (const listener of [server.http, server.https]) listener?.on('request', (_req: IncomingMessage, res: ServerResponse) => recordErrorBody(res, dir));
  const addr = await server.listen();
  return {
    server,
    port: addr.port,
    url: `http://${LOOPBACK}:${addr.port}`,
    dir,
    logs,
    access,
    close: async () => {
      await server.close(1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Records the body of a 4xx/5xx answer remapd writes (the first 64 KiB), for the secrets scan. */
function recordErrorBody(res: ServerResponse, dir: string): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const keep = (chunk: unknown) => {
    if (res.statusCode < 400 || size > 65_536 || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    chunks.push(b);
    size += b.length;
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    keep(chunk);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    keep(chunk);
    if (res.statusCode >= 400) recordTranscript(`a ${res.statusCode} answer of remapd in ${dir}`, Buffer.concat(chunks).toString('latin1'));
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: Buffer;
  text: string;
}

/**
 * One request on a fresh connection (no keep-alive reuse between tests). `headers` may be a flat raw list to send
 * repeated fields or exact case. Rejects if the response is cut short.
 */
export function request(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string> | string[]; body?: Buffer | string; timeoutMs?: number } = {},
): Promise<Response> {
  const u = new URL(url);
  let headers = options.headers;
  if (options.body !== undefined) {
    // Node's client sends no framing for a DELETE/OPTIONS body unless told its length.
    const length = String(Buffer.byteLength(options.body));
    if (Array.isArray(headers)) {
      if (!rawValues(headers, 'content-length').length) headers = [...headers, 'content-length', length];
    } else if (!Object.keys(headers ?? {}).some((k) => k.toLowerCase() === 'content-length')) {
      headers = { ...headers, 'content-length': length };
    }
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: options.method ?? 'GET',
        path: options.path ?? `${u.pathname}${u.search}`,
        headers: headers as Record<string, string>,
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString() });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** Values of a header in a raw header list (case-insensitive), in order. */
export function rawValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name.toLowerCase()) out.push(raw[i + 1]!);
  return out;
}

/** A temporary folder removed by the returned function. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'remapd-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Sends raw bytes on a new connection and returns everything the server writes until it closes (or timeout). */
export function rawExchange(port: number, bytes: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, LOOPBACK);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(bytes);
  });
}
