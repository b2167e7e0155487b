/**
 * Raw-socket tools for the hostile-input tests: send exact bytes and read exactly what comes back, including whether
 * the server closed the connection; and an origin that records every byte it receives (net.createServer), for
 * what undici really writes.
 */
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOOPBACK } from '../support/harness.js';

export interface RawReply {
  /** Everything the server wrote, latin1. */
  text: string;
  /** True when the server closed the connection; false when the timeout cut it. */
  closedByServer: boolean;
  /** The first response's status, or null when none arrived. */
  status: number | null;
  /** The first response's header fields, names lower-cased (the last of repeated ones). */
  headers: Record<string, string>;
  /** The first response's body as framed by its Content-Length ('' without one), UTF-8. */
  body: string;
}

/**
 * Writes `parts` on a new connection (a pause of `gapMs` between parts, so they arrive as separate reads) and
 * collects the answer until the server closes or `timeoutMs` passes.
 */
export function exchange(port: number, parts: string | readonly string[], options: { timeoutMs?: number; gapMs?: number } = {}): Promise<RawReply> {
  const list = typeof parts === 'string' ? [parts] : parts;
  const timeoutMs = options.timeoutMs ?? 3_000;
  return new Promise((resolve, reject) => {
    const socket = connect(port, LOOPBACK);
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A reset after the answer (the server closing with unread bytes) still counts as the server closing.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseReply(Buffer.concat(chunks), !timedOut));
    });
    socket.once('connect', () => void writeParts(socket, list, options.gapMs ?? 30));
  });
}

async function writeParts(socket: Socket, parts: readonly string[], gapMs: number): Promise<void> {
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) await sleep(gapMs);
    if (socket.destroyed) return;
    socket.write(Buffer.from(parts[i]!, 'latin1'));
  }
}

function parseReply(bytes: Buffer, closedByServer: boolean): RawReply {
  const text = bytes.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  const headers: Record<string, string> = {};
  if (!m || headEnd < 0) return { text, closedByServer, status: m ? Number(m[1]) : null, headers, body: '' };
  for (const line of text.slice(0, headEnd).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = bytes.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
  return { text, closedByServer, status: Number(m[1]), headers, body };
}

export interface RawOrigin {
  port: number;
  /** The bytes of each connection, in the order connections were accepted. */
  connections: Buffer[];
  close(): Promise<void>;
}

/**
 * An origin on 127.0.0.1:0 that keeps every byte it receives and answers `200 ok` (Connection: close) once it has
 * seen a whole request: the head, then a chunked body's last chunk or Content-Length bytes.
 */
export async function startRawOrigin(): Promise<RawOrigin> {
  const connections: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const index = connections.push(Buffer.alloc(0)) - 1;
    socket.on('data', (c: Buffer) => {
      connections[index] = Buffer.concat([connections[index]!, c]);
      if (requestComplete(connections[index]!)) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function requestComplete(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const head = text.slice(0, headEnd).toLowerCase();
  const body = text.slice(headEnd + 4);
  if (/\r\ntransfer-encoding: *chunked/.test(head)) return body.endsWith('0\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  return body.length >= (length ? Number(length[1]) : 0);
}

/**
 * Decodes a chunked body strictly (hex sizes, CRLF after each chunk, no extensions, no trailers); throws when it is
 * not exactly that, or when anything follows the last chunk.
 */
export function decodeChunkedStrict(body: string): string {
  let out = '';
  let rest = body;
  for (let guard = 0; guard < 10_000; guard++) {
    const m = /^([0-9a-f]+)\r\n/i.exec(rest);
    if (!m) throw new Error(`bad chunk-size line at ${JSON.stringify(rest.slice(0, 40))}`);
    const size = parseInt(m[1]!, 16);
    rest = rest.slice(m[0].length);
    if (size === 0) {
      if (rest !== '\r\n') throw new Error(`trailers or bytes after the last chunk: ${JSON.stringify(rest)}`);
      return out;
    }
    if (rest.slice(size, size + 2) !== '\r\n') throw new Error('a chunk is not followed by CRLF');
    out += rest.slice(0, size);
    rest = rest.slice(size + 2);
  }
  throw new Error('too many chunks');
}

/** Waits `ms`, so that anything remapd might still send the origin has had the time to arrive. */
export const settle = (ms = 100): Promise<void> => sleep(ms);
