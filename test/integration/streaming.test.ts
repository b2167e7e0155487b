/**
 * Bodies stream through in both directions with back-pressure: nothing waits for a whole body, and memory stays
 * flat however large the object is.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { LOOPBACK, startOrigin, startRemapd } from '../support/harness.js';

const MiB = 1024 * 1024;

/** Writes `total` bytes from one reused buffer, honouring back-pressure (no allocation per chunk). */
function writeRepeated(stream: NodeJS.WritableStream, total: number, done: () => void): void {
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      const ok = stream.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (!ok) {
        stream.once('drain', pump);
        return;
      }
    }
    done();
  };
  pump();
}

test('the first bytes of a response reach the client before the origin has sent the rest', async (t) => {
  let release: () => void = () => {};
  const released = new Promise<void>((r) => (release = r));
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write('first chunk;');
    void released.then(() => res.end('last chunk'));
  });
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/\n`);
  t.after(() => proxy.close());

  const body = await new Promise<string>((resolve, reject) => {
    httpRequest({ host: LOOPBACK, port: proxy.port, path: '/stream', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        // The origin is still holding its last chunk back: this byte came through before the body was complete.
        if (text === 'first chunk;') release();
      });
      res.on('end', () => resolve(text));
      res.on('error', reject);
    }).end();
  });
  assert.equal(body, 'first chunk;last chunk');
});

test('a request body reaches the origin before the client has finished sending it', async (t) => {
  let originSawFirst: () => void = () => {};
  const sawFirst = new Promise<void>((r) => (originSawFirst = r));
  const origin = await startOrigin(
    (req, res) => {
      let got = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        got += d;
        if (got.startsWith('part one')) originSawFirst();
      });
      req.on('end', () => res.end(got));
    },
    { recordBody: false },
  );
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/\n`);
  t.after(() => proxy.close());

  const reply = await new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port: proxy.port, method: 'PUT', path: '/up', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.write('part one|');
    void sawFirst.then(() => req.end('part two'));
  });
  assert.equal(reply, 'part one|part two');
});

test('256 MiB pass through in each direction with flat memory', async (t) => {
  const size = 256 * MiB;
  let uploaded = 0;
  const origin = await startOrigin(
    (req, res) => {
      if (req.method === 'PUT') {
        req.on('data', (c: Buffer) => (uploaded += c.length));
        req.on('end', () => res.end('stored'));
        return;
      }
      res.writeHead(200, { 'content-length': String(size) });
      writeRepeated(res, size, () => res.end());
    },
    { recordBody: false },
  );
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/\n`);
  t.after(() => proxy.close());

  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  t.after(() => clearInterval(sampler));

  const downloaded = await new Promise<number>((resolve, reject) => {
    httpRequest({ host: LOOPBACK, port: proxy.port, path: '/big', agent: false }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    }).end();
  });
  assert.equal(downloaded, size);

  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      { host: LOOPBACK, port: proxy.port, method: 'PUT', path: '/big', agent: false, headers: { 'content-length': String(size) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    writeRepeated(req, size, () => req.end());
  });
  assert.equal(status, 200);
  assert.equal(uploaded, size);
  clearInterval(sampler);
  // Client, proxy and origin share this process: buffering either body would add 256 MiB.
  const growth = (peak - baseline) / MiB;
  assert.ok(growth < 96, `RSS grew by ${growth.toFixed(0)} MiB while streaming 2 x 256 MiB`);
});
