/**
 * RGW tier: the judge judges. Requests signed here (by @smithy/signature-v4, AWS's own signer, and by hand for V2)
 * go to RGW directly, to prove that it enforces what the rest of the tier relies on it for, as S3 does: clock skew
 * (15 minutes, RequestTimeTooSkewed), presigned URL expiry, the signed payload hash and Content-MD5. Through
 * s3_auth a request is always signed with the current time (s3-auth-suites.ts checks a stale client date is
 * replaced), so skew and expiry are RGW's to judge, not remapd's.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOOPBACK } from '../support/harness.js';
import type { RgwCluster } from './cluster.js';
import { HOOK_TIMEOUT, REGION, rgwClient, s3Code, STEP_TIMEOUT, startRgw } from './support.js';

const BUCKET = 'rgw-judges';
const KEY = 'judged/object (1).txt';
const KEY_PATH = `/${BUCKET}/judged/object%20%281%29.txt`;
const MINUTE = 60_000;

let rgw: RgwCluster;
let direct: S3Client;

before(async () => {
  rgw = await startRgw([BUCKET]);
  direct = rgwClient(rgw, rgw.users.main);
  await direct.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: 'judged' }));
}, HOOK_TIMEOUT);

after(async () => {
  direct?.destroy();
  await rgw?.close();
}, HOOK_TIMEOUT);

interface Raw {
  status: number;
  text: string;
}

/** `headers` may be a flat raw list (name, value, …) to send a field twice. */
function send(method: string, path: string, headers: Record<string, string> | string[], body?: Buffer): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port: rgw.port, method, path, headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('RGW did not answer in time')));
    req.on('error', reject);
    req.end(body);
  });
}

function signer(): SignatureV4 {
  const { accessKey, secretKey } = rgw.users.main;
  return new SignatureV4({
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    region: REGION,
    service: 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: false,
  });
}

/** A V4 header-signed request to RGW, signed as at `signingDate`. */
async function signedV4(method: string, path: string, signingDate: Date, headers: Record<string, string> = {}, body?: Buffer): Promise<Raw> {
  const [pathname, search = ''] = path.split('?');
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = k in query ? [query[k]!].flat().concat(v) : v;
  const signed = await signer().sign(
    {
      method,
      protocol: 'http:',
      hostname: LOOPBACK,
      port: rgw.port,
      path: pathname!,
      query,
      headers: { host: `${LOOPBACK}:${rgw.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers },
      body,
    },
    { signingDate },
  );
  return send(method, path, signed.headers as Record<string, string>, body);
}

/**
 * A V4 presigned URL's path and query, signed as at `signingDate`, valid `expiresIn` seconds. S3's presigned
 * payload hash is UNSIGNED-PAYLOAD (as @aws-sdk/s3-request-presigner sets it); the signer hoists it into the query.
 */
async function presignedV4(path: string, signingDate: Date, expiresIn: number): Promise<string> {
  const presigned = await signer().presign(
    { method: 'GET', protocol: 'http:', hostname: LOOPBACK, port: rgw.port, path, headers: { host: `${LOOPBACK}:${rgw.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { signingDate, expiresIn },
  );
  const query = Object.entries(presigned.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v as string)}`)
    .join('&');
  return `${path}?${query}`;
}

/** AWS's V2 signature of a request with no Content-MD5, Content-Type or x-amz-* headers. */
function v2Signature(method: string, dateOrExpires: string, resource: string): string {
  return createHmac('sha1', rgw.users.main.secretKey).update(`${method}\n\n\n${dateOrExpires}\n${resource}`).digest('base64');
}

describe('RGW judges clock skew as S3 does (15 minutes)', () => {
  test('a V4 request signed now is accepted', STEP_TIMEOUT, async () => {
    const res = await signedV4('GET', KEY_PATH, new Date());
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'judged');
  });

  test('a V4 request signed by @smithy/signature-v4 20 minutes ago: 403 RequestTimeTooSkewed', STEP_TIMEOUT, async () => {
    const res = await signedV4('GET', KEY_PATH, new Date(Date.now() - 20 * MINUTE));
    assert.equal(res.status, 403, res.text);
    assert.equal(s3Code(res), 'RequestTimeTooSkewed');
  });

  test('a V4 request dated 20 minutes ahead: 403 RequestTimeTooSkewed', STEP_TIMEOUT, async () => {
    const res = await signedV4('GET', KEY_PATH, new Date(Date.now() + 20 * MINUTE));
    assert.equal(res.status, 403, res.text);
    assert.equal(s3Code(res), 'RequestTimeTooSkewed');
  });

  test('a V2 request with a Date 20 minutes old: 403 RequestTimeTooSkewed (and accepted with the current Date)', STEP_TIMEOUT, async () => {
    for (const [when, status] of [
      [new Date(), 200],
      [new Date(Date.now() - 20 * MINUTE), 403],
    ] as const) {
      const date = when.toUTCString();
      const res = await send('GET', KEY_PATH, { date, authorization: `AWS ${rgw.users.main.accessKey}:${v2Signature('GET', date, KEY_PATH)}` });
      assert.equal(res.status, status, res.text);
      if (status === 403) assert.equal(s3Code(res), 'RequestTimeTooSkewed');
    }
  });
});

describe('RGW judges presigned URL expiry', () => {
  test('a V4 presigned URL within its X-Amz-Expires is accepted', STEP_TIMEOUT, async () => {
    const res = await send('GET', await presignedV4(KEY_PATH, new Date(), 300), {});
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'judged');
  });

  test('a V4 presigned URL signed an hour ago for 60 s: 403 AccessDenied', STEP_TIMEOUT, async () => {
    const res = await send('GET', await presignedV4(KEY_PATH, new Date(Date.now() - 60 * MINUTE), 60), {});
    assert.equal(res.status, 403, res.text);
    assert.equal(s3Code(res), 'AccessDenied');
  });

  test('a V2 query-signed URL whose Expires has passed: 403 AccessDenied (and accepted before)', STEP_TIMEOUT, async () => {
    for (const [expires, status] of [
      [Math.floor(Date.now() / 1000) + 300, 200],
      [Math.floor(Date.now() / 1000) - 60, 403],
    ] as const) {
      const signature = v2Signature('GET', String(expires), KEY_PATH);
      const path = `${KEY_PATH}?AWSAccessKeyId=${rgw.users.main.accessKey}&Expires=${expires}&Signature=${encodeURIComponent(signature)}`;
      const res = await send('GET', path, {});
      assert.equal(res.status, status, res.text);
      if (status === 403) assert.equal(s3Code(res), 'AccessDenied');
    }
  });
});

describe('RGW judges the body', () => {
  test('a signed x-amz-content-sha256 that is not the body’s: 400 XAmzContentSHA256Mismatch, nothing stored', STEP_TIMEOUT, async () => {
    const body = Buffer.from('the body that was sent');
    const claimed = createHash('sha256').update('the body that was signed').digest('hex');
    const path = `/${BUCKET}/judged/sha-mismatch.txt`;
    const res = await signedV4('PUT', path, new Date(), { 'x-amz-content-sha256': claimed, 'content-length': String(body.length) }, body);
    assert.equal(res.status, 400, res.text);
    assert.equal(s3Code(res), 'XAmzContentSHA256Mismatch');
    assert.equal((await signedV4('HEAD', path, new Date())).status, 404);

    const right = createHash('sha256').update(body).digest('hex');
    const ok = await signedV4('PUT', path, new Date(), { 'x-amz-content-sha256': right, 'content-length': String(body.length) }, body);
    assert.equal(ok.status, 200, ok.text);
  });

  test('a Content-MD5 that is not the body’s: 400 BadDigest', STEP_TIMEOUT, async () => {
    const body = Buffer.from('md5 judged');
    const res = await signedV4(
      'PUT',
      `/${BUCKET}/judged/md5.txt`,
      new Date(),
      { 'content-md5': createHash('md5').update('not the body').digest('base64'), 'content-length': String(body.length) },
      body,
    );
    assert.equal(res.status, 400, res.text);
    assert.equal(s3Code(res), 'BadDigest');
  });

  test('a changed signed header: 403 SignatureDoesNotMatch', STEP_TIMEOUT, async () => {
    const signed = await signer().sign(
      { method: 'GET', protocol: 'http:', hostname: LOOPBACK, port: rgw.port, path: KEY_PATH, headers: { host: `${LOOPBACK}:${rgw.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-who': 'alice' } },
      { signingDate: new Date() },
    );
    const res = await send('GET', KEY_PATH, { ...(signed.headers as Record<string, string>), 'x-amz-meta-who': 'mallory' });
    assert.equal(res.status, 403, res.text);
    assert.equal(s3Code(res), 'SignatureDoesNotMatch');
  });
});

/**
 * Where RGW 16.2 disagrees with AWS: requests signed by AWS's own signer (@smithy/signature-v4) or by AWS's V2
 * rule, that S3 accepts, refused by RGW. The s3_auth suites leave these cases out (they are judged against AWS's
 * signer in test/integration/s3-auth-judge.test.ts); pinned here so that a Ceph that agrees is noticed, and the
 * cases can join the suites.
 */
describe('where RGW 16.2 disagrees with AWS (pinned)', () => {
  test('a repeated query name, signed sorted by value ("Create a canonical request"): RGW refuses it', STEP_TIMEOUT, async () => {
    assert.equal((await signedV4('GET', `${KEY_PATH}?x-note=b`, new Date())).status, 200);
    const res = await signedV4('GET', `${KEY_PATH}?x-note=b&x-note=a`, new Date());
    assert.equal(s3Code(res), 'SignatureDoesNotMatch', `RGW now accepts repeated query names (${res.status}): add them to s3-auth-suites.ts`);
  });

  test('a header field sent twice, signed with its values joined by "," (V4 and V2): RGW keeps only the last one', STEP_TIMEOUT, async () => {
    const { accessKey, secretKey } = rgw.users.main;
    const signed = await signer().sign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: LOOPBACK,
        port: rgw.port,
        path: KEY_PATH,
        headers: { host: `${LOOPBACK}:${rgw.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-twice': 'first,second' },
      },
      { signingDate: new Date() },
    );
    const v4Fields = Object.entries(signed.headers as Record<string, string>).flatMap(([k, v]) => (k === 'x-amz-meta-twice' ? [] : [k, v]));
    const v4 = await send('GET', KEY_PATH, [...v4Fields, 'x-amz-meta-twice', 'first', 'x-amz-meta-twice', 'second']);
    assert.equal(s3Code(v4), 'SignatureDoesNotMatch', `RGW now joins repeated fields for V4 (${v4.status}): add them to s3-auth-suites.ts`);

    // "Signing and Authenticating REST Requests": repeated x-amz-* fields become one name:value,value line.
    const date = new Date().toUTCString();
    const v2Sign = (amz: string) => createHmac('sha1', secretKey).update(`GET\n\n\n${date}\n${amz}${KEY_PATH}`).digest('base64');
    const twice = ['date', date, 'x-amz-meta-twice', 'first', 'x-amz-meta-twice', 'second'];
    const v2 = await send('GET', KEY_PATH, [...twice, 'authorization', `AWS ${accessKey}:${v2Sign('x-amz-meta-twice:first,second\n')}`]);
    assert.equal(s3Code(v2), 'SignatureDoesNotMatch', `RGW now joins repeated fields for V2 (${v2.status}): add them to s3-auth-suites.ts`);
    const last = await send('GET', KEY_PATH, [...twice, 'authorization', `AWS ${accessKey}:${v2Sign('x-amz-meta-twice:second\n')}`]);
    assert.equal(last.status, 200, 'RGW signs the last value only');
  });

  test('a raw + in the path names a key with a plus (S3 reads it as a space): why the V2 suite spells spaces %20', STEP_TIMEOUT, async () => {
    await direct.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'judged/plus as space', Body: 'spaced' }));
    // V2, as s3_auth --version=2 sends it: the path as the client wrote it, and signed so.
    const path = `/${BUCKET}/judged/plus+as+space`;
    const date = new Date().toUTCString();
    const res = await send('GET', path, { date, authorization: `AWS ${rgw.users.main.accessKey}:${v2Signature('GET', date, path)}` });
    assert.equal(res.status, 404, `RGW now reads a raw + in the path as a space (${res.status}): drop pathSentRaw in s3-auth-suites.ts`);
    assert.equal(s3Code(res), 'NoSuchKey');
  });
});
