/**
 * Origin and client failures: each gives a precise status before the response starts, and a cut connection
 * (never a clean-looking short response) after it started.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { LOOPBACK, refusedPort, request, startOrigin, startRemapd } from '../support/harness.js';

/** A TCP server on 127.0.0.1:0 that hands each connection to `onSocket` (for origins that misbehave at the byte level). */
async function tcpOrigin(onSocket: (s: Socket) => void): Promise<{ port: number; close(): Promise<void>; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  return {
    port: (server.address() as { port: number }).port,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Resolves with how a response ended: complete (with body) or aborted. */
function fetchOutcome(port: number, path: string): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, complete: res.complete }));
      res.on('aborted', () => resolve({ status: res.statusCode!, body, complete: false }));
      res.on('error', () => resolve({ status: res.statusCode!, body, complete: false }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('an origin that refuses connections gives 502 with a clear body', async (t) => {
  const port = await refusedPort();
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${port}/\n`);
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 502);
  assert.equal(res.headers['x-remapd-error'], 'ERR_ORIGIN_CONNECT');
  assert.match(res.text, new RegExp(`origin 127\\.0\\.0\\.1:${port} refused the connection`));
});

test('an origin that accepts but never answers gives 504 after the response timeout', async (t) => {
  const silent = await tcpOrigin(() => {});
  t.after(() => silent.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${silent.port}/\n`, { settings: { responseTimeoutMs: 300 } });
  t.after(() => proxy.close());
  const started = Date.now();
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 504);
  assert.equal(res.headers['x-remapd-error'], 'ERR_ORIGIN_TIMEOUT');
  assert.match(res.text, /sent no response within 300 ms/);
  const elapsed = Date.now() - started;
  // Not before the limit, and within it plus scheduling slack (a loaded 2-core machine).
  assert.ok(elapsed >= 280 && elapsed < 300 + 1_500, `504 after ${elapsed} ms`);
});

test('an origin that closes without answering gives 502', async (t) => {
  const rude = await tcpOrigin((s) => s.once('data', () => s.destroy()));
  t.after(() => rude.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${rude.port}/\n`);
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 502);
  assert.match(res.text, /closed the connection before responding/);
});

test('an origin that sends garbage gives 502 ERR_ORIGIN_PROTOCOL', async (t) => {
  const garbage = await tcpOrigin((s) => s.once('data', () => s.end('NOT HTTP AT ALL\r\n\r\n')));
  t.after(() => garbage.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${garbage.port}/\n`);
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 502);
  assert.equal(res.headers['x-remapd-error'], 'ERR_ORIGIN_PROTOCOL');
});

test('an origin host that does not resolve gives 502 ERR_ORIGIN_DNS', async (t) => {
  const proxy = await startRemapd('map / http://no-such-host.invalid/\n');
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 502);
  assert.equal(res.headers['x-remapd-error'], 'ERR_ORIGIN_DNS');
});

test('an origin that dies mid-body (Content-Length) aborts the client connection', async (t) => {
  const origin = await tcpOrigin((s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      s.write('only part of it');
      setTimeout(() => s.destroy(), 50);
    }),
  );
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/\n`);
  t.after(() => proxy.close());
  const out = await fetchOutcome(proxy.port, '/x');
  assert.equal(out.status, 200);
  assert.equal(out.complete, false);
  assert.equal(out.body, 'only part of it');
  await new Promise((r) => setTimeout(r, 50));
  assert.match(proxy.access.at(-1)!, / ERR_ORIGIN_BODY$/);
  assert.ok(proxy.logs.some((l) => l.includes('origin response body failed')));
});

test('an origin that dies mid-body (chunked) aborts the client connection', async (t) => {
  const origin = await tcpOrigin((s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => s.destroy(), 50);
    }),
  );
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/\n`);
  t.after(() => proxy.close());
  const out = await fetchOutcome(proxy.port, '/x');
  assert.equal(out.complete, false);
  assert.equal(out.body, 'hello');
});

test('an origin that stalls mid-body is cut after the body idle timeout', async (t) => {
  const origin = await tcpOrigin((s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome');
    }),
  );
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/\n`, { settings: { bodyIdleTimeoutMs: 300 } });
  t.after(() => proxy.close());
  const started = Date.now();
  const out = await fetchOutcome(proxy.port, '/x');
  assert.equal(out.complete, false);
  assert.ok(Date.now() - started < 5_000);
});

test('a client that disconnects mid-download aborts the origin request', async (t) => {
  let originClosed: () => void = () => {};
  const closed = new Promise<void>((r) => (originClosed = r));
  const origin = await startOrigin(
    (_req, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.write(Buffer.alloc(64 * 1024));
      res.on('close', () => originClosed());
    },
    { recordBody: false },
  );
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/\n`);
  t.after(() => proxy.close());
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port: proxy.port, path: '/big', agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.on('close', () => resolve());
    req.end();
    setTimeout(() => reject(new Error('no data')), 5_000).unref();
  });
  await closed;
  await new Promise((r) => setTimeout(r, 50));
  assert.match(proxy.access.at(-1)!, / ABORTED$/);
});

test('a client that disconnects before the response aborts the origin request at once', { timeout: 10_000 }, async (t) => {
  let originClosed: () => void = () => {};
  const closed = new Promise<void>((r) => (originClosed = r));
  const origin = await startOrigin((_req, res) => res.on('close', () => originClosed()), { recordBody: false });
  t.after(() => origin.close());
  // Far beyond the test's own timeout: only the cancellation can close the origin request in time.
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/\n`, { settings: { responseTimeoutMs: 60_000 } });
  t.after(() => proxy.close());
  const req = httpRequest({ host: LOOPBACK, port: proxy.port, path: '/slow', agent: false });
  req.on('error', () => {});
  req.end();
  await new Promise((r) => setTimeout(r, 100));
  const left = Date.now();
  req.destroy();
  await closed;
  assert.ok(Date.now() - left < 2_000, `the origin request closed ${Date.now() - left} ms after the client left`);
});

test('a GET whose kept-alive origin connection died is sent again once, signed afresh', async (t) => {
  let n = 0;
  const origin = await tcpOrigin((s) =>
    s.once('data', () => {
      n++;
      if (n === 1) s.destroy();
      else s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    }),
  );
  t.after(() => origin.close());
  const proxy = await startRemapd(
    `map / http://${LOOPBACK}:${origin.port}/ @plugin=count.mjs\n`,
    {
      files: {
        'count.mjs': `let sends = 0;
export default () => ({ sendRequest(txn, req) { sends++; req.headers.set('x-attempt', String(sends)); } });`,
      },
    },
  );
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 200);
  assert.equal(res.text, 'ok');
  assert.equal(n, 2);
});

test('an origin that accepts TCP but never completes the TLS handshake gives 504 after the connect timeout', async (t) => {
  // The connect timeout covers TCP and TLS set-up; a silent TCP server is the loopback way to make it expire.
  const silent = await tcpOrigin(() => {});
  t.after(() => silent.close());
  const proxy = await startRemapd(`map / https://${LOOPBACK}:${silent.port}/\n`, { settings: { connectTimeoutMs: 300 } });
  t.after(() => proxy.close());
  const started = Date.now();
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 504);
  assert.equal(res.headers['x-remapd-error'], 'ERR_ORIGIN_TIMEOUT');
  assert.match(res.text, /connecting to origin 127\.0\.0\.1:\d+ timed out after 300 ms/);
  assert.ok(Date.now() - started < 5_000);
});
