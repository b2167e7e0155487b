/**
 * Who may purge and who may read the admin endpoints, through the real CLI: `remapd serve --purge-allow` and
 * `--admin-allow`. Loopback is the only network here, so the allow lists name 10.0.0.0/8 and the loopback client
 * is the stranger; a second process with the default lists shows the same requests are allowed from loopback.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOOPBACK, request, startOrigin, tempDir } from '../support/harness.js';
import { startCli } from '../ops/support.js';

const TIMEOUT = { timeout: 30_000 };
const ADMIN_PATHS = ['/metrics', '/metrics.json', '/status', '/status.json', '/healthz', '/readyz', '/nothing'];

/** Starts `remapd serve` on port 0 (and its admin listener on port 0); resolves with both base URLs. */
async function serve(t: Parameters<typeof startCli>[0], originPort: number, extra: string[]): Promise<{ proxy: string; admin: string }> {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const config = join(tmp.dir, 'remap.config');
  writeFileSync(config, `map http://h/public/ http://${LOOPBACK}:${originPort}/bucket/public/\n`);
  const cli = startCli(t, ['-c', config, '--listen', `${LOOPBACK}:0`, '--admin-listen', `${LOOPBACK}:0`, '--access-log', 'off', '--no-watch', ...extra]);
  const [, proxyPort] = await cli.waitForLog(/remapd listening address=127\.0\.0\.1:(\d+)/, { timeoutMs: 15_000 });
  const [, adminPort] = await cli.waitForLog(/admin endpoints listening address=127\.0\.0\.1:(\d+)/, { timeoutMs: 15_000 });
  return { proxy: `http://${LOOPBACK}:${proxyPort}`, admin: `http://${LOOPBACK}:${adminPort}` };
}

test('PURGE and the admin endpoints from an address outside the allow lists: 403, nothing purged, nothing shown', TIMEOUT, async (t) => {
  const origin = await startOrigin((_req, res) => {
    res.setHeader('cache-control', 'max-age=600');
    res.end('stored');
  });
  t.after(() => origin.close());
  const { proxy, admin } = await serve(t, origin.port, ['--purge-allow', '10.0.0.0/8', '--admin-allow', '10.0.0.0/8']);

  const first = await request(`${proxy}/public/a`, { headers: { host: 'h' } });
  assert.equal(first.status, 200);
  assert.equal(origin.requests.length, 1);

  const purge = await request(`${proxy}/public/a`, { method: 'PURGE', headers: { host: 'h' } });
  assert.equal(purge.status, 403);
  assert.equal(purge.headers['x-remapd-error'], 'ERR_ACL_DENIED');
  assert.equal(purge.text, '403 Forbidden: PURGE is not allowed from this address\n');

  const again = await request(`${proxy}/public/a`, { headers: { host: 'h' } });
  assert.equal(again.status, 200);
  assert.equal(again.headers['x-cache'], 'hit-fresh', 'still stored: the refused PURGE removed nothing');
  assert.deepEqual(origin.requests.map((r) => r.method), ['GET'], 'PURGE never reaches the origin');

  for (const path of ADMIN_PATHS) {
    for (const method of ['GET', 'HEAD', 'POST']) {
      const res = await request(`${admin}${path}`, { method });
      assert.equal(res.status, 403, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(res.text, '403 Forbidden: this address may not use the admin endpoints\n');
      assert.doesNotMatch(res.text, /remapd_|ready|<html/i, 'nothing of the endpoint is shown');
    }
  }
});

test('the same requests from an allowed address (the default lists: loopback) succeed', TIMEOUT, async (t) => {
  const origin = await startOrigin((_req, res) => {
    res.setHeader('cache-control', 'max-age=600');
    res.end('stored');
  });
  t.after(() => origin.close());
  const { proxy, admin } = await serve(t, origin.port, []);
  assert.equal((await request(`${proxy}/public/a`, { headers: { host: 'h' } })).status, 200);
  const purge = await request(`${proxy}/public/a`, { method: 'PURGE', headers: { host: 'h' } });
  assert.equal(purge.status, 200, purge.text);
  assert.equal((await request(`${admin}/healthz`)).status, 200);
  assert.match((await request(`${admin}/metrics`)).text, /remapd_/);
});
