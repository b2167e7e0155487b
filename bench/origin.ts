/**
 * The bench's origin (issue 6: "a fast origin — a static file server; nginx serving files when installed, else a
 * small Node origin — the origin must not be the bottleneck"). Both serve the same objects, cacheable for an hour,
 * and count the requests they get per URL (the raw request target, query included), which the scenarios read to
 * report origin requests.
 *
 * nginx is the origin when installed: one worker, sendfile, so on this 2-core machine it takes far less CPU than a
 * Node server inside the bench process. Otherwise a node:http server in the bench process answers from memory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, LOOPBACK, stopChild, waitForPort } from './proc.js';

/** The fixed objects, by path. */
export const OBJECTS: Record<string, Buffer> = {
  '/obj/1k': Buffer.alloc(1024, 'a'),
  '/obj/1m': Buffer.alloc(1024 * 1024, 'b'),
  '/obj/10m': Buffer.alloc(10 * 1024 * 1024, 'c'),
};
/** The streaming object: never held whole (nginx: a sparse file; Node: generated chunk by chunk). */
export const HUGE_PATH = '/obj/1g';
export const HUGE_BYTES = 1024 * 1024 * 1024;
/** A day ago: the objects are not brand new, as in a real bucket (both origins send it as Last-Modified). */
const MODIFIED = new Date(Date.now() - 86_400_000);

export interface Origin {
  /** What serves, for the results: 'nginx 1.22.1 (static files)' or 'node:http (bench process)'. */
  name: string;
  port: number;
  /** Requests received so far for exactly this URL (path and query, as sent). */
  count(url: string): number;
  stop(): Promise<void>;
}

/** nginx when `nginxBin` is given, else the Node origin. `dir` is the run's temp dir (the caller removes it). */
export function startOrigin(dir: string, nginxBin: string | null): Promise<Origin> {
  return nginxBin ? startNginxOrigin(nginxBin, dir) : startNodeOrigin();
}

/** The objects as files under `root`; the 1 GiB one sparse (fs.truncate), so it takes no disk. */
function writeObjects(root: string): void {
  mkdirSync(join(root, 'obj'), { recursive: true });
  for (const [path, body] of Object.entries(OBJECTS)) writeFileSync(join(root, path), body);
  const huge = join(root, HUGE_PATH);
  writeFileSync(huge, '');
  truncateSync(huge, HUGE_BYTES);
  for (const path of [...Object.keys(OBJECTS), HUGE_PATH]) utimesSync(join(root, path), MODIFIED, MODIFIED);
  readThrough(huge);
}

/**
 * Reads a file once, to its end. The first read of a sparse file's hole fills page-cache pages with zeros (1 GiB
 * here: about 2 of the 3 s remapd took to stream it when it went first); done now, every target streams it
 * from the page cache alike.
 */
function readThrough(path: string): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

/** "nginx version: nginx/1.22.1" (on stderr) → "1.22.1". */
function nginxVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5_000 });
  return /nginx\/(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? '?';
}

function nginxOriginConf(prefix: string, port: number): string {
  return [
    // One worker: the origin must leave the second core to the proxy and the load generator.
    'worker_processes 1;',
    // Run as root, like the nginx peer: the temp dir is root's.
    'user root;',
    'daemon off;',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log error;`,
    'events { worker_connections 4096; }',
    'http {',
    '  default_type application/octet-stream;',
    // The request counter: one line per request, just the request target. No buffer= (nor gzip=): nginx write()s
    // each line as the request ends, so a count read right after a scenario is exact. escape=none keeps the line
    // byte for byte what the proxy sent, to compare with the URL a scenario asked for.
    "  log_format uri escape=none '$request_uri';",
    `  access_log ${prefix}/access.log uri;`,
    // nginx would otherwise use its compiled-in paths (/var/lib/nginx/...), outside the run's temp dir.
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${prefix}/${t}_temp;`),
    '  sendfile on;',
    // The proxies keep their connections for the whole run: never close one for its age or its count.
    '  keepalive_requests 1000000;',
    '  keepalive_timeout 60s;',
    '  server {',
    `    listen ${LOOPBACK}:${port};`,
    `    root ${prefix}/www;`,
    // Last-Modified and ETag are nginx's own, from the file's mtime and size.
    '    add_header Cache-Control "max-age=3600";',
    // waitForPort's probe (HEAD /): answered without a directory listing error in the log.
    '    location = / { return 204; }',
    '  }',
    '}',
    '',
  ].join('\n');
}

async function startNginxOrigin(bin: string, dir: string): Promise<Origin> {
  const prefix = join(dir, 'origin');
  writeObjects(join(prefix, 'www'));
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxOriginConf(prefix, port));
  const child = spawn(bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'inherit'] });
  // An nginx that never answers must not outlive the bench.
  await waitForPort(port).catch(async (err: unknown) => {
    await stopChild(child);
    throw err;
  });
  const log = new LogCounter(join(prefix, 'access.log'));
  return {
    name: `nginx ${nginxVersion(bin)} (static files)`,
    port,
    count: (url) => log.count(url),
    stop: async () => {
      log.close();
      await stopChild(child);
    },
  };
}

/**
 * Counts the lines of an append-only log by content. Reads only what was appended since the last call, so a
 * scenario's counts stay cheap after millions of signed misses.
 */
export class LogCounter {
  private readonly counts = new Map<string, number>();
  private readonly buf = Buffer.allocUnsafe(1024 * 1024);
  private readonly fd: number;
  private offset = 0;
  /** The end of the last read when it was not a whole line (nginx writes whole lines; a short read may not). */
  private partial = '';

  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  count(url: string): number {
    this.readNew();
    return this.counts.get(url) ?? 0;
  }

  private readNew(): void {
    for (let n = this.read(); n > 0; n = this.read()) {
      this.offset += n;
      const lines = (this.partial + this.buf.toString('latin1', 0, n)).split('\n');
      this.partial = lines.pop()!;
      for (const line of lines) this.counts.set(line, (this.counts.get(line) ?? 0) + 1);
    }
  }

  private read(): number {
    return readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The fallback: node:http in the bench process, answering from memory (it shares the bench's core). */
async function startNodeOrigin(): Promise<Origin> {
  const counts = new Map<string, number>();
  const lastModified = MODIFIED.toUTCString();
  const etags = new Map(Object.entries(OBJECTS).map(([p, body]) => [p, `"${createHash('md5').update(body).digest('hex')}"`]));
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    counts.set(url, (counts.get(url) ?? 0) + 1);
    const path = url.split('?')[0]!;
    const headers = { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'max-age=3600', 'Last-Modified': lastModified };
    if (path === HUGE_PATH) return void streamHuge(res.writeHead(200, { ...headers, 'Content-Length': String(HUGE_BYTES) }));
    const body = OBJECTS[path];
    if (!body) return void res.writeHead(404, { 'Content-Length': '0' }).end();
    res.writeHead(200, { ...headers, 'Content-Length': String(body.length), ETag: etags.get(path)! });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  return {
    name: 'node:http (bench process)',
    port: (server.address() as AddressInfo).port,
    count: (url) => counts.get(url) ?? 0,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const HUGE_CHUNK = Buffer.alloc(256 * 1024, 'd');

/** Writes the 1 GiB body chunk by chunk, waiting for 'drain': the origin never holds it whole. */
function streamHuge(res: ServerResponse): void {
  let left = HUGE_BYTES;
  const more = (): void => {
    while (left > 0) {
      const n = Math.min(left, HUGE_CHUNK.length);
      left -= n;
      if (!res.write(n === HUGE_CHUNK.length ? HUGE_CHUNK : HUGE_CHUNK.subarray(0, n))) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}
