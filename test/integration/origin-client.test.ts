/**
 * The origin client on its own (src/proxy/origin-client.ts): undici's dispatch with remapd's handler, against a
 * real loopback origin. What the proxy relies on: the final head (1xx skipped), header bytes as sent, a body that
 * streams with back-pressure, cancelling at every stage, and errors mapped to remapd codes.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { OriginRequest } from '../../src/plugins/api.js';
import { HeaderList } from '../../src/proxy/header-list.js';
import { OriginAbort } from '../../src/proxy/origin-abort.js';
import { OriginClient, type OriginResponse } from '../../src/proxy/origin-client.js';
import { RemapdError } from '../../src/errors.js';
import { resolveSettings } from '../../src/settings.js';
import { LOOPBACK, type Origin, refusedPort, startOrigin } from '../support/harness.js';

const STEP = { timeout: 10_000 };

function get(port: number, path: string, method = 'GET'): OriginRequest {
  return {
    method,
    scheme: 'http',
    host: LOOPBACK,
    port,
    path,
    search: '',
    headers: new HeaderList(['Host', `${LOOPBACK}:${port}`]),
    body: null,
    bodyLength: null,
  };
}

function readAll(res: OriginResponse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.body.on('data', (c: Buffer) => chunks.push(c));
    res.body.once('end', () => resolve(Buffer.concat(chunks)));
    res.body.once('error', reject);
  });
}

/** Resolves when `socket`-level close of the origin side is seen (the request was abandoned, not completed). */
function closed(socket: Socket | undefined): Promise<void> {
  return new Promise((resolve) => (socket === undefined || socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

describe('origin client (undici dispatch)', () => {
  const client = new OriginClient(resolveSettings({ responseTimeoutMs: 3_000, bodyIdleTimeoutMs: 3_000 }));
  let origin: Origin;
  /** The server-side socket of the last request, to see the client abandon it. */
  let lastSocket: Socket | undefined;
  let release: (() => void) | null = null;

  before(async () => {
    origin = await startOrigin((req, res) => {
      lastSocket = req.socket;
      if (req.url === '/hints') {
        res.writeEarlyHints({ link: '</style.css>; rel=preload' });
        res.writeHead(200, { 'content-length': '2' }).end('ok');
      } else if (req.url === '/latin1') {
        // A value with bytes above 0x7f: they must come through one char per byte, not decoded as UTF-8.
        res.writeHead(200, [['X-Name', 'caf\u00e9'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['Content-Length', '0']].flat());
        res.end();
      } else if (req.url === '/slow-head') {
        release = () => res.writeHead(200, { 'content-length': '2' }).end('ok');
      } else if (req.url === '/slow-body') {
        res.writeHead(200, { 'content-length': '8' });
        res.write('half');
        release = () => res.end('done');
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-length': String(4 * 1024 * 1024) });
        res.end(Buffer.alloc(4 * 1024 * 1024, 'x'));
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' }).end('hello');
      }
    });
  });
  after(async () => {
    await client.close();
    await origin.close();
  });

  test('a GET resolves on the head and streams the body', STEP, async () => {
    const res = await client.send(get(origin.port, '/a'), new OriginAbort());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal((await readAll(res)).toString(), 'hello');
  });

  test('1xx heads (103 Early Hints) are skipped: the promise resolves on the final head', STEP, async () => {
    const res = await client.send(get(origin.port, '/hints'), null);
    assert.equal(res.status, 200);
    assert.equal((await readAll(res)).toString(), 'ok');
  });

  test('header values keep their bytes (latin1) and repeated fields stay separate', STEP, async () => {
    const res = await client.send(get(origin.port, '/latin1'), null);
    await readAll(res);
    assert.equal(res.headers.get('x-name'), 'caf\u00e9');
    assert.deepEqual(res.headers.getAll('set-cookie'), ['a=1', 'b=2']);
  });

  test('a HEAD resolves with an empty body that ends', STEP, async () => {
    const res = await client.send(get(origin.port, '/a', 'HEAD'), null);
    assert.equal(res.status, 200);
    assert.equal((await readAll(res)).length, 0);
  });

  test('a large body streams whole through a slow reader (back-pressure, no loss)', STEP, async () => {
    const res = await client.send(get(origin.port, '/big'), null);
    let total = 0;
    await new Promise<void>((resolve, reject) => {
      res.body.on('data', (c: Buffer) => {
        total += c.length;
        res.body.pause();
        setImmediate(() => res.body.resume());
      });
      res.body.once('end', resolve);
      res.body.once('error', reject);
    });
    assert.equal(total, 4 * 1024 * 1024);
  });

  test('abort before the head rejects, and the origin connection is dropped', STEP, async () => {
    const abort = new OriginAbort();
    const pending = client.send(get(origin.port, '/slow-head'), abort);
    await waitFor(() => release !== null);
    const socket = lastSocket;
    abort.abort();
    await assert.rejects(pending, (err: unknown) => err instanceof RemapdError);
    await closed(socket);
    release = null;
  });

  test('abort during the body fails the body with an error', STEP, async () => {
    const abort = new OriginAbort();
    const res = await client.send(get(origin.port, '/slow-body'), abort);
    const socket = lastSocket;
    const failed = new Promise<Error>((resolve) => res.body.once('error', resolve));
    res.body.on('data', () => undefined);
    abort.abort();
    assert.equal((await failed as NodeJS.ErrnoException).code, 'UND_ERR_ABORTED');
    await closed(socket);
    release = null;
  });

  test('a consumer destroying the body early gets a close, no unhandled error, and the origin request is abandoned', STEP, async () => {
    const res = await client.send(get(origin.port, '/slow-body'), new OriginAbort());
    const socket = lastSocket;
    let errored = false;
    res.body.once('error', () => (errored = true));
    const closedBody = new Promise<void>((resolve) => res.body.once('close', resolve));
    res.body.destroy();
    await closedBody;
    await closed(socket);
    assert.equal(errored, false);
    release = null;
  });

  test('a body destroyed with an error before anyone listens does not take the process down', STEP, async () => {
    const abort = new OriginAbort();
    const res = await client.send(get(origin.port, '/slow-body'), abort);
    abort.abort();
    // Nobody attaches an 'error' listener: the failure must be absorbed, not thrown as an unhandled 'error'.
    await new Promise<void>((resolve) => res.body.once('close', resolve));
    await new Promise((r) => setTimeout(r, 20));
    release = null;
  });

  test('an already aborted request is never sent', STEP, async () => {
    const abort = new OriginAbort();
    abort.abort();
    const before = origin.requests.length;
    await assert.rejects(client.send(get(origin.port, '/a'), abort), (err: unknown) => err instanceof RemapdError);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(origin.requests.length, before);
  });

  test('a refused connection is ERR_ORIGIN_CONNECT (502)', STEP, async () => {
    const port = await refusedPort();
    await assert.rejects(client.send(get(port, '/a'), null), (err: unknown) => err instanceof RemapdError && err.code === 'ERR_ORIGIN_CONNECT' && err.status === 502);
  });

  test('a body cut short by the origin fails with an error, never a clean end', STEP, async () => {
    const server = createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    });
    await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
    const port = (server.address() as AddressInfo).port;
    try {
      const res = await client.send(get(port, '/cut'), null);
      await assert.rejects(readAll(res));
    } finally {
      server.close();
    }
  });

  test('an unreadable response head is ERR_ORIGIN_PROTOCOL', STEP, async () => {
    const server = createServer((socket) => {
      socket.once('data', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
    });
    await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
    const port = (server.address() as AddressInfo).port;
    try {
      await assert.rejects(client.send(get(port, '/x'), null), (err: unknown) => err instanceof RemapdError && err.code === 'ERR_ORIGIN_PROTOCOL');
    } finally {
      server.close();
    }
  });
});

describe('OriginAbort', () => {
  test('runs the listener once, and a settled request cannot remove its successor', () => {
    const abort = new OriginAbort();
    const calls: string[] = [];
    const first = () => calls.push('first');
    const second = () => calls.push('second');
    abort.listen(first);
    abort.listen(second);
    abort.unlisten(first);
    abort.abort();
    abort.abort();
    assert.deepEqual(calls, ['second']);
    assert.equal(abort.aborted, true);
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'condition not reached within 2 s');
}
