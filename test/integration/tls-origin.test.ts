/**
 * HTTPS origins: certificates are verified (system CAs plus an optional extra CA file), never skipped.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { LOOPBACK, request, startRemapd } from '../support/harness.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url));
const CA_FILE = new URL('../../../test/fixtures/tls/ca.pem', import.meta.url).pathname;

async function httpsOrigin(cert = 'origin'): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer({ key: fixture(`${cert}.key`), cert: fixture(`${cert}.pem`) }, (req, res) => res.end(`secure ${req.url}`));
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('an HTTPS origin whose certificate no trusted CA signed gives 502 ERR_ORIGIN_TLS', async (t) => {
  const origin = await httpsOrigin();
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / https://${LOOPBACK}:${origin.port}/\n`);
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 502);
  assert.equal(res.headers['x-remapd-error'], 'ERR_ORIGIN_TLS');
});

test('an HTTPS origin signed by the configured extra CA is verified and used', async (t) => {
  const origin = await httpsOrigin();
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / https://localhost:${origin.port}/\n`, { settings: { originCaFile: CA_FILE } });
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 200);
  assert.equal(res.text, 'secure /x');
});

test('a certificate for another name is refused even when its CA is trusted', async (t) => {
  const origin = await httpsOrigin('wrong-name');
  t.after(() => origin.close());
  // This certificate names only wrong.test; the origin is reached as localhost.
  const proxy = await startRemapd(`map / https://localhost:${origin.port}/\n`, { settings: { originCaFile: CA_FILE } });
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 502);
  assert.equal(res.headers['x-remapd-error'], 'ERR_ORIGIN_TLS');
  assert.match(res.text, /localhost/);
});
