/**
 * The secrets scan (test/support/secrets.ts) itself: it finds a planted secret, a derived signing key and a
 * signature; it fails a test file through its root hook; and in a real run it is fed — remapd's logs and error
 * bodies are recorded and the configuration's secrets registered.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { okOrigin, request, startRemapd } from '../support/harness.js';
import { findLeaks, registered } from '../support/secrets.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/leak.fixture.js', import.meta.url));

function runFixture(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // Without NODE_TEST_CONTEXT, which would make the child's runner think it is nested in this one.
    const { NODE_TEST_CONTEXT: _nested, ...parentEnv } = process.env;
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', FIXTURE], { env: { ...parentEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test('findLeaks names where each secret appeared', () => {
  const forbidden = new Map([
    ['my/Secret+Key=abc', 'a secret key'],
    ['a'.repeat(64), 'a V4 signature'],
  ]);
  const leaks = findLeaks(
    [
      { where: 'log 1', text: 'INFO nothing to see' },
      { where: 'log 2', text: 'WARN key=my/Secret+Key=abc' },
      { where: 'body', text: `<Signature>${'a'.repeat(64)}</Signature>` },
    ],
    forbidden,
  );
  assert.deepEqual(leaks, [
    { where: 'log 2', what: 'a secret key' },
    { where: 'body', what: 'a V4 signature' },
  ]);
});

test("a file whose output shows a secret, or the secret's signing key, fails through the root hook", { timeout: 30_000 }, async () => {
  const leaked = await runFixture({});
  assert.notEqual(leaked.code, 0, leaked.out);
  assert.match(leaked.out, /secrets appeared in what remapd showed:\s+a secret key in a planted log line/);
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const h = (k: string | Buffer, d: string) => createHmac('sha256', k).update(d).digest();
  const signingKey = h(h(h(h('AWS4fixture/Secret+Key=0123456789', day), 'us-east-1'), 's3'), 'aws4_request').toString('base64');
  const derived = await runFixture({ REMAPD_LEAK_SECRET: signingKey });
  assert.notEqual(derived.code, 0, derived.out);
  assert.match(derived.out, /the signing key of a secret for \d{8}\/us-east-1 in a planted log line/);
  const clean = await runFixture({ REMAPD_LEAK_SECRET: 'nothing-secret-here' });
  assert.equal(clean.code, 0, clean.out);
});

test('in a real run the scan is fed: secrets from the config, and what remapd logged and answered', { timeout: 15_000 }, async (t) => {
  const origin = await okOrigin(t);
  const before = registered();
  const proxy = await startRemapd(
    `map http://a.test/ ${origin.url}/ @plugin=s3_auth.so @pparam=--version=4 @pparam=--access_key=AKIDSCAN @pparam=--secret_key=scan/Secret+Key=0123456789\n`,
  );
  t.after(() => proxy.close());
  assert.equal((await request(proxy.url, { path: '/x', headers: { host: 'a.test' } })).status, 200);
  assert.equal((await request(proxy.url, { path: '/x', headers: { host: 'unknown.test' } })).status, 404);
  const now = registered();
  assert.ok(now.secrets >= before.secrets + 2, 'the secret key and the signature the origin received');
  assert.ok(now.transcripts >= before.transcripts + 3, 'error log, access log and the 404 body');
});
