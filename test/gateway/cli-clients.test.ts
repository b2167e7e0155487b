/**
 * Issue 8, gateway mode with real command-line clients: the aws CLI (Debian's awscli, V4) and s3cmd with
 * --signature-v2 (V2), each pointed at remapd with the client keys, against an s3rver origin with keys of its own.
 * Both tools must be installed (`.ci/run` installs them); a missing tool fails the suite loudly, never skips it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../support/harness.js';
import { BUCKET, CLIENT, type Gateway, REGION, startGateway } from './support.js';

const STEP = { timeout: 60_000 };

/** Debian's packages first (what .ci/run installs), then whatever is on PATH. */
function tool(name: string): string {
  for (const p of [`/usr/bin/${name}`, `/usr/local/bin/${name}`]) if (existsSync(p)) return p;
  throw new Error(`${name} is not installed: the gateway suite needs it (apt-get install awscli s3cmd; .ci/run does this)`);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 50_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let gw: Gateway;
let tmp: ReturnType<typeof tempDir>;

before(async () => {
  gw = await startGateway();
  tmp = tempDir();
}, { timeout: 20_000 });

after(async () => {
  await gw?.close();
  tmp?.remove();
}, { timeout: 20_000 });

/** A plain GET of a (presigned) URL on remapd, as a browser would make it. */
async function getUrl(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32BE(((i + seed) * 2654435761) >>> 0, i);
  return b;
}

describe('aws CLI (Signature V4) through the gateway', () => {
  const aws = tool('aws');
  const env = (secret = CLIENT.secretAccessKey): NodeJS.ProcessEnv => {
    writeFileSync(join(tmp.dir, 'aws.config'), `[default]\nregion = ${REGION}\ns3 =\n    addressing_style = path\n`);
    return {
      PATH: process.env.PATH,
      HOME: tmp.dir,
      AWS_CONFIG_FILE: join(tmp.dir, 'aws.config'),
      AWS_SHARED_CREDENTIALS_FILE: join(tmp.dir, 'no-credentials'),
      AWS_ACCESS_KEY_ID: CLIENT.accessKeyId,
      AWS_SECRET_ACCESS_KEY: secret,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    };
  };
  const cli = (args: string[], secret?: string) => run(aws, ['--endpoint-url', gw.endpoint, ...args], env(secret));

  test('cp up (multipart: 9 MiB is above the CLI 8 MiB threshold), ls, head-object, cp down, rm', STEP, async () => {
    const up = join(tmp.dir, 'big.bin');
    writeFileSync(up, pattern(9 * 1024 * 1024 + 7, 1));
    const put = await cli(['s3', 'cp', up, `s3://${BUCKET}/cli/big file.bin`]);
    assert.equal(put.code, 0, put.stderr);
    assert.ok(gw.s3.seen.some((l) => l.includes('uploadId=')), 'the upload went out as multipart');
    const ls = await cli(['s3', 'ls', `s3://${BUCKET}/cli/`]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /9437191 big file\.bin/);
    const head = await cli(['s3api', 'head-object', '--bucket', BUCKET, '--key', 'cli/big file.bin']);
    assert.equal(head.code, 0, head.stderr);
    assert.equal(JSON.parse(head.stdout).ContentLength, 9 * 1024 * 1024 + 7);
    const down = join(tmp.dir, 'back.bin');
    const get = await cli(['s3', 'cp', `s3://${BUCKET}/cli/big file.bin`, down]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(sha256(down), sha256(up));
    const rm = await cli(['s3', 'rm', `s3://${BUCKET}/cli/big file.bin`]);
    assert.equal(rm.code, 0, rm.stderr);
    const after = await cli(['s3', 'ls', `s3://${BUCKET}/cli/`]);
    assert.doesNotMatch(after.stdout, /big file\.bin/);
  });

  test('a small object with odd characters in its key round-trips', STEP, async () => {
    const up = join(tmp.dir, 'small.txt');
    writeFileSync(up, 'small object\n');
    const key = 'cli/ünï cödé+(1)%.txt';
    assert.equal((await cli(['s3', 'cp', up, `s3://${BUCKET}/${key}`])).code, 0);
    const got = await cli(['s3', 'cp', `s3://${BUCKET}/${key}`, '-']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'small object\n');
  });

  test('the wrong secret: SignatureDoesNotMatch, and nothing reaches the origin', STEP, async () => {
    const mark = gw.s3.seen.length;
    const r = await cli(['s3', 'ls', `s3://${BUCKET}/`], 'not-the-secret-at-all');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SignatureDoesNotMatch/);
    assert.deepEqual(gw.s3.seen.slice(mark), []);
  });
});

describe('s3cmd --signature-v2 through the gateway', () => {
  const s3cmd = tool('s3cmd');
  const config = (secret = CLIENT.secretAccessKey) => {
    const file = join(tmp.dir, `s3cmd-${secret.length}.cfg`);
    const host = `127.0.0.1:${gw.proxy.port}`;
    writeFileSync(
      file,
      ['[default]', `access_key = ${CLIENT.accessKeyId}`, `secret_key = ${secret}`, `host_base = ${host}`, `host_bucket = ${host}`,
        'use_https = False', 'signature_v2 = True', 'check_ssl_certificate = False', 'guess_mime_type = False', ''].join('\n'),
    );
    return file;
  };
  const cmd = (args: string[], secret?: string) => run(s3cmd, ['-c', config(secret), '--signature-v2', ...args], { PATH: process.env.PATH, HOME: tmp.dir });

  test('put, ls, get and del with V2 signatures; remapd re-signs with V4 for the origin', STEP, async () => {
    const up = join(tmp.dir, 'v2.bin');
    writeFileSync(up, pattern(300_000, 2));
    const put = await cmd(['put', up, `s3://${BUCKET}/v2/object one.bin`]);
    assert.equal(put.code, 0, put.stderr);
    const ls = await cmd(['ls', `s3://${BUCKET}/v2/`]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /300000\s+s3:\/\/gw-bucket\/v2\/object one\.bin/);
    // (`s3cmd info` is not used: it also fetches the ACL, whose XML from s3rver it cannot parse.)
    const down = join(tmp.dir, 'v2-back.bin');
    const get = await cmd(['get', '--force', `s3://${BUCKET}/v2/object one.bin`, down]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(sha256(down), sha256(up));
    const del = await cmd(['del', `s3://${BUCKET}/v2/object one.bin`]);
    assert.equal(del.code, 0, del.stderr);
  });

  test('signurl (V2 query authentication): works until it expires, then AccessDenied; a tampered one is refused', STEP, async () => {
    const up = join(tmp.dir, 'v2-signed.txt');
    writeFileSync(up, 'signed by url\n');
    assert.equal((await cmd(['put', up, `s3://${BUCKET}/v2/signed.txt`])).code, 0);
    const fresh = await cmd(['signurl', `s3://${BUCKET}/v2/signed.txt`, '+300']);
    assert.equal(fresh.code, 0, fresh.stderr);
    const url = fresh.stdout.trim();
    assert.match(url, /AWSAccessKeyId=.*Expires=.*Signature=/);
    const ok = await getUrl(url);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.body, 'signed by url\n');
    const mark = gw.s3.seen.length;
    const expired = await cmd(['signurl', `s3://${BUCKET}/v2/signed.txt`, String(Math.floor(Date.now() / 1000) - 60)]);
    const old = await getUrl(expired.stdout.trim());
    assert.equal(old.status, 403);
    assert.match(old.body, /<Code>AccessDenied<\/Code>/);
    const tampered = await getUrl(url.replace('/v2/signed.txt', '/v2/other.txt'));
    assert.match(tampered.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.deepEqual(gw.s3.seen.slice(mark), []);
  });

  test('the wrong secret: SignatureDoesNotMatch, nothing reaches the origin', STEP, async () => {
    const mark = gw.s3.seen.length;
    const r = await cmd(['ls', `s3://${BUCKET}/`], 'wrong-secret-for-v2-client');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /SignatureDoesNotMatch|403/);
    assert.deepEqual(gw.s3.seen.slice(mark), []);
  });
});
