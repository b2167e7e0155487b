import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOOPBACK, request, startOrigin, tempDir } from '../support/harness.js';
import { runCli } from '../support/cli.js';
import { selfSignedCert, startCli, startInProcess } from './support.js';

interface TlsAnswer {
  status: number;
  text: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint: string;
}

/** GET over HTTPS on a fresh connection, trusting only `ca`, with Host `host` (no port: the scheme's default). */
function httpsGet(port: number, path: string, ca: Buffer, host = 'localhost'): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: LOOPBACK, port, path, servername: 'localhost', ca, agent: false, headers: { host }, timeout: 5_000 },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, text, fingerprint }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function setUp(t: { after(fn: () => Promise<void> | void): void }) {
  const origin = await startOrigin((req, res) => res.end(`origin saw ${req.url}`));
  t.after(() => origin.close());
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const { cert, key } = selfSignedCert(tmp.dir);
  writeFileSync(
    join(tmp.dir, 'remap.config'),
    [
      `map http://localhost/ http://${LOOPBACK}:${origin.port}/plain/`,
      `map https://localhost/ http://${LOOPBACK}:${origin.port}/secure/`,
      `map https://tls-only.example/ http://${LOOPBACK}:${origin.port}/tls-only/`,
      '',
    ].join('\n'),
  );
  return { origin, dir: tmp.dir, cert, key };
}

test('the HTTPS listener serves with the given certificate and rules match its requests as https', async (t) => {
  const { dir, cert, key } = await setUp(t);
  const r = await startInProcess(t, dir, { settings: { tlsCertFile: cert, tlsKeyFile: key } });
  const { https } = r.server.addresses;
  assert.ok(https);
  const ca = readFileSync(cert);

  const secure = await httpsGet(https.port, '/k', ca);
  assert.equal(secure.status, 200);
  assert.equal(secure.text, 'origin saw /secure/k');
  assert.equal((await httpsGet(https.port, '/k', ca, 'tls-only.example')).text, 'origin saw /tls-only/k');

  // Plain HTTP keeps listening, and matches as http.
  assert.equal((await request(`${r.url}/k`, { headers: { host: 'localhost' } })).text, 'origin saw /plain/k');
  const plain = await request(`${r.url}/k`, { headers: { host: 'tls-only.example' } });
  assert.equal(plain.status, 404);
  assert.equal(plain.headers['x-remapd-error'], 'ERR_REMAP_NO_RULE');
  assert.deepEqual(r.server.reloadState.tls?.certFile, cert);
});

test('a reload re-reads the certificate; a certificate that does not fit its key keeps the old one and fails the reload', async (t) => {
  const { dir, cert, key } = await setUp(t);
  const r = await startInProcess(t, dir, { settings: { tlsCertFile: cert, tlsKeyFile: key } });
  const port = r.server.addresses.https!.port;
  const first = await httpsGet(port, '/k', readFileSync(cert));

  // Renewal: a new certificate and key written over the old files.
  const renewed = selfSignedCert(dir, 'renewed');
  copyFileSync(renewed.cert, cert);
  copyFileSync(renewed.key, key);
  assert.equal((await r.server.reload('test')).ok, true);
  const second = await httpsGet(port, '/k', readFileSync(cert));
  assert.equal(second.text, 'origin saw /secure/k');
  assert.notEqual(second.fingerprint, first.fingerprint);

  // A botched renewal: a certificate with somebody else's key.
  const other = selfSignedCert(dir, 'other');
  copyFileSync(other.key, key);
  const failed = await r.server.reload('test');
  assert.equal(failed.ok, false);
  assert.match('message' in failed ? failed.message : '', /cannot be used with certificate/);
  assert.equal(r.server.reloadState.reloadsFailed, 1);
  assert.ok(r.logs.some((l) => /ERROR reload failed; the previous configuration stays in force/.test(l)));
  const third = await httpsGet(port, '/k', readFileSync(renewed.cert));
  assert.equal(third.fingerprint, second.fingerprint);
});

test('serve with only --tls-cert/--tls-key/--tls-listen serves HTTPS and no plain HTTP', async (t) => {
  const { dir, cert, key } = await setUp(t);
  const cli = startCli(t, ['-c', join(dir, 'remap.config'), '--tls-cert', cert, '--tls-key', key, '--tls-listen', `${LOOPBACK}:0`, '--access-log', 'off']);
  const m = await cli.waitForLog(/remapd listening address=127\.0\.0\.1:(\d+) scheme=(\w+)/);
  assert.equal(m[2], 'https');
  assert.doesNotMatch(cli.stderr(), /scheme=http /);
  assert.equal((await httpsGet(Number(m[1]), '/k', readFileSync(cert))).text, 'origin saw /secure/k');
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited()).code, 0);
});

test('serve and check refuse a key that does not belong to the certificate, naming the files', async (t) => {
  const { dir, cert } = await setUp(t);
  const other = selfSignedCert(dir, 'other');
  const args = ['-c', join(dir, 'remap.config'), '--tls-cert', cert, '--tls-key', other.key, '--tls-listen', `${LOOPBACK}:0`];
  const serve = await runCli(['serve', ...args]);
  assert.equal(serve.code, 1);
  assert.match(serve.stderr, /not starting .*TLS key .*other\.key cannot be used with certificate .*server\.pem/);
  const check = await runCli(['check', ...args]);
  assert.equal(check.code, 1);
  assert.match(check.stderr, /TLS key .*other\.key cannot be used with certificate/);
  const half = await runCli(['check', '-c', join(dir, 'remap.config'), '--tls-cert', cert]);
  assert.equal(half.code, 1);
  assert.match(half.stderr, /needs both a certificate \(--tls-cert\) and its key \(--tls-key\)/);
});
