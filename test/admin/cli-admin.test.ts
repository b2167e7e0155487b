/**
 * `remapd serve --admin-listen` through the real CLI (issue 7): the admin endpoints beside one process, and in
 * the supervisor with `--workers 2`, where the numbers are every worker's summed and readiness needs them all.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOOPBACK, request, startOrigin, tempDir } from '../support/harness.js';
import { alive, freePort, startCli } from '../ops/support.js';

/** The value of one sample line of the Prometheus text, summed over every series of `name` matching `labels`. */
function total(text: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && labels.test(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

for (const workers of [1, 2]) {
  test(`--admin-listen with --workers ${workers}: /healthz, /readyz, /metrics count every request, /status is HTML`, async (t) => {
    const origin = await startOrigin((_req, res) => res.end('hello'));
    t.after(() => origin.close());
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const config = join(tmp.dir, 'remap.config');
    writeFileSync(config, `map / http://${LOOPBACK}:${origin.port}/\n`);
    const [port, adminPort] = [await freePort(), await freePort()];
    const cli = startCli(t, [
      '-c', config, '--listen', `${LOOPBACK}:${port}`, '--admin-listen', `${LOOPBACK}:${adminPort}`,
      '--workers', String(workers), '--access-log', 'off', '--no-watch',
    ]);
    const started = await cli.waitForLog(workers > 1 ? /INFO remapd started workers=2 pids=(\d+),(\d+)/ : /INFO remapd listening/, { timeoutMs: 15_000 });
    t.after(() => {
      for (const pid of started.slice(1).map(Number)) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    });
    await cli.waitForLog(/admin endpoints listening/, { timeoutMs: 10_000 });
    const admin = `http://${LOOPBACK}:${adminPort}`;

    // Fresh connections, so with workers they are spread over both.
    for (let i = 0; i < 8; i++) assert.equal((await request(`http://${LOOPBACK}:${port}/x${i}`, { headers: { connection: 'close' } })).status, 200);

    assert.equal((await request(`${admin}/healthz`)).status, 200);
    const ready = await request(`${admin}/readyz`);
    assert.equal(ready.status, 200, ready.text);
    const metrics = await request(`${admin}/metrics`);
    assert.equal(metrics.status, 200);
    assert.equal(total(metrics.text, 'remapd_requests_total', /code="200"/), 8);
    if (workers > 1) assert.equal(total(metrics.text, 'remapd_processes'), 2);
    const json = JSON.parse((await request(`${admin}/metrics.json`)).text) as { families: unknown[] };
    assert.ok(Array.isArray(json.families) && json.families.length > 0);
    const status = await request(`${admin}/status`);
    assert.equal(status.status, 200);
    assert.match(String(status.headers['content-type']), /text\/html/);
    assert.equal((await request(`${admin}/nothing`)).status, 404);

    cli.child.kill('SIGTERM');
    assert.equal((await cli.exited(20_000)).code, 0);
  });
}

test('--admin-listen on an address that is taken: serve refuses to start, names the address, exits 1', async (t) => {
  const origin = await startOrigin((_req, res) => res.end('hello'));
  t.after(() => origin.close());
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const config = join(tmp.dir, 'remap.config');
  writeFileSync(config, `map / http://${LOOPBACK}:${origin.port}/\n`);
  const port = await freePort();
  const cli = startCli(t, ['-c', config, '--listen', `${LOOPBACK}:${port}`, '--admin-listen', `${LOOPBACK}:${origin.port}`, '--access-log', 'off', '--no-watch']);
  await cli.waitForLog(/cannot serve the admin endpoints/, { timeoutMs: 10_000 });
  assert.equal((await cli.exited(10_000)).code, 1);
  assert.match(cli.stderr(), new RegExp(`${LOOPBACK}:${origin.port}`));
});
