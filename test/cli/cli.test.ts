/**
 * The command line as a user runs it: a real `node dist/src/cli.js` process.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOOPBACK, request, startOrigin, tempDir } from '../support/harness.js';
import { CLI, runCli as run } from '../support/cli.js';



test('--version prints the package version and --help lists the commands', async () => {
  const v = await run(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const h = await run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /serve/);
  assert.match(h.stdout, /check/);
});

test('check exits 0 and says OK for a valid configuration', async (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  writeFileSync(join(tmp.dir, 'remap.config'), 'map http://a.test/ http://127.0.0.1:9/\n');
  const r = await run(['check', '-c', join(tmp.dir, 'remap.config')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /OK, 1 rule\(s\), 0 warning\(s\)/);
});

test('check prints every problem with file:line and exits non-zero', async (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const file = join(tmp.dir, 'remap.config');
  writeFileSync(
    file,
    [
      'map http://a.test/ http://127.0.0.1:9/',
      'mapp http://b.test/ http://127.0.0.1:9/',
      'map http://c.test/ ftp://127.0.0.1/',
      'map http://d.test/ http://127.0.0.1:9/ @plugin=nope.so',
      'map http://a.test/x http://127.0.0.1:9/',
      '',
    ].join('\n'),
  );
  const r = await run(['check', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${file}:2: error: unknown rule type "mapp"`));
  assert.match(r.stderr, new RegExp(`${file}:3: error: to-URL: scheme "ftp"`));
  assert.match(r.stderr, new RegExp(`${file}:4: error: nope.so: unknown plugin "nope.so"`));
  assert.match(r.stderr, new RegExp(`${file}:5: warning: this map rule is never used`));
  assert.match(r.stderr, /3 error\(s\), 1 warning\(s\)/);
});

test('check names a missing file', async () => {
  const r = await run(['check', '-c', '/nonexistent/remap.config']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/remap\.config: error: cannot read \/nonexistent\/remap\.config: no such file/);
});

test('check refuses bad settings', async (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  writeFileSync(join(tmp.dir, 'remap.config'), 'map / http://127.0.0.1:9/\n');
  const r = await run(['check', '-c', join(tmp.dir, 'remap.config'), '--connect-timeout', 'soon']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--connect-timeout must be a positive whole number/);
});

test('serve proxies requests, logs access lines, and exits 0 on SIGTERM', async (t) => {
  const origin = await startOrigin((req, res) => res.end(`origin saw ${req.url}`));
  t.after(() => origin.close());
  const tmp = tempDir();
  t.after(() => tmp.remove());
  writeFileSync(join(tmp.dir, 'remap.config'), `map / http://${LOOPBACK}:${origin.port}/o/\n`);
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '-c', join(tmp.dir, 'remap.config'), '--listen', `${LOOPBACK}:0`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      const m = /remapd listening address=127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  const res = await request(`http://${LOOPBACK}:${port}/k`);
  assert.equal(res.text, 'origin saw /o/k');
  const code = await new Promise<number | null>((resolve) => {
    child.on('close', resolve);
    child.kill('SIGTERM');
  });
  assert.equal(code, 0);
  assert.match(stdout, / 127\.0\.0\.1 GET \/k 200 15 \d+ miss remap\.config:1 -\n/);
});
