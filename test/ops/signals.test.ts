import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOOPBACK, request, startOrigin, tempDir } from '../support/harness.js';
import { startCli, until } from './support.js';

/** An origin answering `origin saw PATH`; `/slow…` after 800 ms, `/hang…` never. */
async function origin(t: { after(fn: () => Promise<void>): void }) {
  const o = await startOrigin((req, res) => {
    if (req.url!.includes('/hang')) return;
    setTimeout(() => res.end(`origin saw ${req.url}`), req.url!.includes('/slow') ? 800 : 0);
  });
  t.after(() => o.close());
  return o;
}

async function serve(t: { after(fn: () => Promise<void> | void): void }, config: string, extra: string[] = []) {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const file = join(tmp.dir, 'remap.config');
  writeFileSync(file, config);
  const cli = startCli(t, ['-c', file, '--listen', `${LOOPBACK}:0`, ...extra]);
  const port = Number((await cli.waitForLog(/remapd listening address=127\.0\.0\.1:(\d+)/))[1]);
  return { cli, file, dir: tmp.dir, url: `http://${LOOPBACK}:${port}` };
}

test('SIGHUP reloads the configuration of a running remapd; a broken one is reported with file:line and the old one stays', async (t) => {
  const o = await origin(t);
  const { cli, file, url } = await serve(t, `map / http://${LOOPBACK}:${o.port}/a/\n`, ['--no-watch', '--access-log', 'off']);
  assert.equal((await request(`${url}/k`)).text, 'origin saw /a/k');

  writeFileSync(file, `map / http://${LOOPBACK}:${o.port}/b/\n`);
  let from = cli.stderr().length;
  cli.child.kill('SIGHUP');
  await cli.waitForLog(/INFO configuration reloaded trigger=SIGHUP version=\w+ previous=\w+ rules=1/, { from });
  assert.equal((await request(`${url}/k`)).text, 'origin saw /b/k');

  writeFileSync(file, `map / http://${LOOPBACK}:${o.port}/c/\nmap /x/\n`);
  from = cli.stderr().length;
  cli.child.kill('SIGHUP');
  await cli.waitForLog(/ERROR reload failed; the previous configuration stays in force trigger=SIGHUP/, { from });
  assert.match(cli.stderr().slice(from), /remap\.config:2: error: /);
  assert.equal((await request(`${url}/k`)).text, 'origin saw /b/k');

  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited()).code, 0);
});

test('SIGTERM drains: a request in flight completes, new connections are refused, then exit 0', async (t) => {
  const o = await origin(t);
  const { cli, url } = await serve(t, `map / http://${LOOPBACK}:${o.port}/\n`, ['--drain-timeout', '5000', '--access-log', 'off']);
  const slow = request(`${url}/slow`);
  await until(() => o.requests.length === 1, 'the slow request to reach the origin');
  cli.child.kill('SIGTERM');
  await cli.waitForLog(/INFO shutting down reason=SIGTERM inFlight=1/);
  const refused = await until(
    () => request(`${url}/k`, { timeoutMs: 1_000 }).then(() => null, (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED'),
    'new connections to be refused',
    3_000,
  );
  assert.equal(refused, true);
  let exitedFirst = false;
  void cli.exited().then(() => (exitedFirst = true));
  const res = await slow;
  assert.equal(exitedFirst, false, 'remapd exited before the request in flight was answered');
  assert.equal(res.status, 200);
  assert.equal(res.text, 'origin saw /slow');
  assert.equal((await cli.exited()).code, 0);
});

test('a request still in flight at --drain-timeout is cut and remapd exits 0', async (t) => {
  const o = await origin(t);
  const { cli, url } = await serve(t, `map / http://${LOOPBACK}:${o.port}/\n`, ['--drain-timeout', '300', '--access-log', 'off']);
  const hung = request(`${url}/hang`).then(
    () => 'answered',
    () => 'cut',
  );
  await until(() => o.requests.length === 1, 'the request to reach the origin');
  const started = Date.now();
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited(5_000)).code, 0);
  assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  assert.equal(await hung, 'cut');
});

test('a second SIGTERM during the drain exits at once with status 1', async (t) => {
  const o = await origin(t);
  const { cli, url } = await serve(t, `map / http://${LOOPBACK}:${o.port}/\n`, ['--drain-timeout', '30000', '--access-log', 'off']);
  void request(`${url}/hang`).catch(() => undefined);
  await until(() => o.requests.length === 1, 'the request to reach the origin');
  cli.child.kill('SIGTERM');
  await cli.waitForLog(/INFO shutting down reason=SIGTERM/);
  const started = Date.now();
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited(5_000)).code, 1);
  assert.ok(Date.now() - started < 2_000);
  assert.match(cli.stderr(), /ERROR second SIGTERM: exiting without waiting inFlight=1/);
});

test('SIGUSR1 reopens the access log file: after logrotate renamed it, new lines go to a new file at the same path', async (t) => {
  const o = await origin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const log = join(tmp.dir, 'access.log');
  const { cli, url } = await serve(t, `map / http://${LOOPBACK}:${o.port}/\n`, ['--access-log', log, '--access-log-format', 'json']);
  await request(`${url}/first`);
  await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('/first'), 'the first line to be written');
  renameSync(log, `${log}.1`);
  const from = cli.stderr().length;
  cli.child.kill('SIGUSR1');
  await cli.waitForLog(/INFO access log reopened/, { from });
  await request(`${url}/second`);
  await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('/second'), 'the second line in the new file');
  const rotated = readFileSync(`${log}.1`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const current = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(rotated.map((e) => e.url), ['/first']);
  assert.deepEqual(current.map((e) => e.url), ['/second']);
  assert.equal(current[0]!.status, 200);
  assert.equal(current[0]!.rule, 'remap.config:1');
  assert.equal(current[0]!.code, null);
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited()).code, 0);
});
