import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOOPBACK, request, startOrigin, tempDir } from '../support/harness.js';
import { alive, freePort, startCli, until } from './support.js';

const TEXT_LINE = /^\S+Z 127\.0\.0\.1 GET \/\S+ 200 \d+ \d+ \S+ remap\.config:1 -$/;

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

test('--workers 2: serves on one shared port, relays SIGHUP and SIGUSR1 to every worker, restarts a dead worker, drains on SIGTERM', async (t) => {
  const origin = await startOrigin((req, res) => setTimeout(() => res.end(`origin saw ${req.url}`), req.url!.includes('slow') ? 800 : 0));
  t.after(() => origin.close());
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const config = join(tmp.dir, 'remap.config');
  const log = join(tmp.dir, 'access.log');
  writeFileSync(config, `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const port = await freePort();
  const url = `http://${LOOPBACK}:${port}`;
  const cli = startCli(t, ['-c', config, '--listen', `${LOOPBACK}:${port}`, '--workers', '2', '--access-log', log, '--no-watch', '--drain-timeout', '5000']);
  const pids = new Set<number>();
  t.after(() => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const started = await cli.waitForLog(/INFO remapd started workers=2 pids=(\d+),(\d+)/);
  const [first, second] = [Number(started[1]), Number(started[2])];
  pids.add(first).add(second);
  assert.notEqual(first, second);

  for (let i = 0; i < 6; i++) assert.equal((await request(`${url}/k`)).text, 'origin saw /a/k');

  // SIGHUP: each worker reloads and the supervisor logs each one's result.
  writeFileSync(config, `map / http://${LOOPBACK}:${origin.port}/b/\n`);
  let from = cli.stderr().length;
  cli.child.kill('SIGHUP');
  await cli.waitForLog(/INFO reload done ok=2 workers=2/, { from });
  const reloaded = cli.stderr().slice(from);
  assert.match(reloaded, new RegExp(`INFO worker reloaded worker=1 pid=${first} version=\\w+ result="1 rule\\(s\\), 0 warning\\(s\\)"`));
  assert.match(reloaded, new RegExp(`INFO worker reloaded worker=2 pid=${second} version=\\w+`));
  // Fresh connections are spread over both workers (round-robin): every one sees the new configuration.
  for (let i = 0; i < 10; i++) assert.equal((await request(`${url}/k`)).text, 'origin saw /b/k');

  // SIGUSR1 after logrotate renamed the file: every worker appends whole lines to the new file.
  await until(() => lines(log).length === 16, 'the first 16 access log lines');
  renameSync(log, `${log}.1`);
  from = cli.stderr().length;
  cli.child.kill('SIGUSR1');
  await cli.waitForLog(/INFO access logs reopened workers=2/, { from });
  await Promise.all(Array.from({ length: 20 }, (_, i) => request(`${url}/n${i}`)));
  await until(() => lines(log).length === 20, '20 lines in the new access log');
  for (const l of [...lines(log), ...lines(`${log}.1`)]) assert.match(l, TEXT_LINE);
  assert.equal(lines(`${log}.1`).length, 16);

  // A worker that dies is replaced in its slot.
  from = cli.stderr().length;
  process.kill(first, 'SIGKILL');
  await cli.waitForLog(new RegExp(`ERROR worker exited unexpectedly; restarting worker=1 pid=${first} code=null signal=SIGKILL restartInMs=\\d+`), { from });
  const replaced = await cli.waitForLog(/INFO worker ready worker=1 pid=(\d+)/, { from });
  const third = Number(replaced[1]);
  pids.add(third);
  assert.notEqual(third, first);
  for (let i = 0; i < 6; i++) assert.equal((await request(`${url}/k`)).text, 'origin saw /b/k');

  // SIGTERM: the workers drain (a slow request in flight completes), then everything exits 0.
  const slow = request(`${url}/slow`);
  await until(() => origin.requests.some((r) => r.url === '/b/slow'), 'the slow request to reach the origin');
  cli.child.kill('SIGTERM');
  const res = await slow;
  assert.equal(res.text, 'origin saw /b/slow');
  assert.equal((await cli.exited()).code, 0);
  assert.match(cli.stderr(), /INFO remapd stopped code=0/);
  await until(() => ![second, third].some(alive), 'every worker process to be gone', 3_000);
});

test('--workers 2 with a configuration that does not load: the supervisor reports it and exits 1', async (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const config = join(tmp.dir, 'remap.config');
  writeFileSync(config, 'map / http://127.0.0.1:9/ @plugin=no_such_plugin.so\n');
  const cli = startCli(t, ['-c', config, '--listen', `${LOOPBACK}:${await freePort()}`, '--workers', '2']);
  const { code } = await cli.exited();
  assert.equal(code, 1);
  assert.match(cli.stderr(), /remap\.config:1: error: no_such_plugin\.so/);
  assert.match(cli.stderr(), /ERROR worker failed to start; stopping worker=\d/);
  assert.match(cli.stderr(), /INFO remapd stopped code=1/);
});

test('--workers 2: PURGE through one worker removes the object from every worker’s cache', { timeout: 30_000 }, async (t) => {
  const origin = await startOrigin((_req, res) => res.writeHead(200, { 'cache-control': 'max-age=3600' }).end('cached body'));
  t.after(() => origin.close());
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const config = join(tmp.dir, 'remap.config');
  writeFileSync(config, `map / http://${LOOPBACK}:${origin.port}/\n`);
  const port = await freePort();
  const url = `http://${LOOPBACK}:${port}`;
  const cli = startCli(t, ['-c', config, '--listen', `${LOOPBACK}:${port}`, '--workers', '2', '--access-log', 'off', '--no-watch']);
  await cli.waitForLog(/INFO remapd started workers=2/);

  // Fresh connections alternate between the workers (round-robin): each fills its own cache once.
  const xCache = async (n: number) => {
    const seen: string[] = [];
    for (let i = 0; i < n; i++) seen.push(String((await request(`${url}/obj`)).headers['x-cache']));
    return seen;
  };
  assert.deepEqual((await xCache(6)).filter((x) => x === 'miss').length, 2, 'one miss per worker');
  assert.equal(origin.requests.length, 2);

  const purged = await request(`${url}/obj`, { method: 'PURGE' });
  assert.equal(purged.status, 200, purged.text);
  assert.match(purged.text, /purged 2 stored response\(s\)/);
  assert.deepEqual((await xCache(6)).filter((x) => x === 'miss').length, 2, 'both workers fetch again');
  assert.equal(origin.requests.length, 4);
  const again = await request(`${url}/nothing-here`, { method: 'PURGE' });
  assert.equal(again.status, 404);
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited()).code, 0);
});
