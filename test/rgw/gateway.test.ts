/**
 * RGW tier, gateway mode: the AWS SDK for JavaScript v3 signs for remapd with client-facing keys; s3_client_auth
 * verifies it, s3_auth re-signs for RGW with the RGW user's keys, and RGW verifies that. Path style; remapd's port is
 * in the rule's from-URL, so the config is rewritten with it and reloaded once remapd listens (as in
 * test/gateway/support.ts, whose clients file this reuses). Cache off: every request reaches RGW.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BUCKET, CLIENT, CLIENTS_FILE, READER } from '../gateway/support.js';
import { LOOPBACK, type Remapd, startRemapd } from '../support/harness.js';
import { KEY_CASES } from '../support/s3rver.js';
import type { RgwCluster } from './cluster.js';
import { HOOK_TIMEOUT, PROXY_SETTINGS, REGION, rgwClient, STEP_TIMEOUT, startRgw, storedKeys } from './support.js';

let rgw: RgwCluster;
let proxy: Remapd;
/** The SDK signing for RGW directly: a look behind remapd's back. */
let direct: S3Client;

/** The gateway at 127.0.0.1:PORT; the same at localhost:PORT with a wrong origin secret (RGW must refuse it). */
function rules(port: number): string {
  const { accessKey, secretKey } = rgw.users.main;
  const gateway = (host: string, secret: string) => [
    `map http://${host}:${port}/ http://${LOOPBACK}:${rgw.port}/ \\`,
    '    @plugin=s3_client_auth.so @pparam=--clients=clients.config \\',
    `    @plugin=s3_auth.so @pparam=--version=4 @pparam=--access_key=${accessKey} @pparam=--secret_key=${secret}`,
  ];
  return [...gateway(LOOPBACK, secretKey), ...gateway('localhost', 'not-the-origin-secret'), ''].join('\n');
}

before(async () => {
  rgw = await startRgw([BUCKET]);
  direct = rgwClient(rgw, rgw.users.main);
  proxy = await startRemapd(rules(1), { files: { 'clients.config': CLIENTS_FILE }, settings: PROXY_SETTINGS });
  writeFileSync(join(proxy.dir, 'remap.config'), rules(proxy.port));
  const reloaded = await proxy.server.reload('test');
  assert.ok(reloaded.ok, `the gateway config did not load: ${JSON.stringify(reloaded)}`);
}, HOOK_TIMEOUT);

after(async () => {
  direct?.destroy();
  await proxy?.close();
  await rgw?.close();
}, HOOK_TIMEOUT);

function client(credentials: { accessKeyId: string; secretAccessKey: string }, endpoint = proxy.url): S3Client {
  return new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials, maxAttempts: 1, requestHandler: { requestTimeout: 15_000 } });
}

async function text(body: unknown): Promise<string> {
  return (body as { transformToString(): Promise<string> }).transformToString();
}

async function bytes(body: unknown): Promise<Buffer> {
  return Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/** The S3 error a command failed with. */
async function s3ErrorOf(p: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return { code: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  assert.fail('the request was expected to fail');
}

function raw(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({ host: LOOPBACK, port: Number(u.port), method, path: u.pathname + u.search, headers: { host: u.host, ...headers }, agent: false, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('the AWS SDK through the gateway to RGW', () => {
  test('put, get, head, list and delete every hostile key with the client keys; RGW holds them under its own keys', { timeout: 60_000 }, async () => {
    const s3 = client(CLIENT);
    for (const c of KEY_CASES) {
      const key = `sdk/${c.key}`;
      const body = `object ${c.key}\n`.repeat(20);
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'text/plain' }));
      assert.deepEqual(await storedKeys(direct, BUCKET, key), [key], `RGW must hold ${JSON.stringify(key)}`);
      assert.equal(await text((await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body), body, key);
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.equal(head.ContentLength, Buffer.byteLength(body));
      const ranged = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=3-9' }));
      assert.ok((await bytes(ranged.Body)).equals(Buffer.from(body).subarray(3, 10)), `range of ${key}`);
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sdk/' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key).sort(), KEY_CASES.map((c) => `sdk/${c.key}`).sort());
    for (const c of KEY_CASES) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `sdk/${c.key}` }));
    assert.deepEqual(await storedKeys(direct, BUCKET, 'sdk/'), []);
    s3.destroy();
  });

  test('list with a delimiter, DeleteObjects (POST ?delete) and CopyObject (x-amz-copy-source)', STEP_TIMEOUT, async () => {
    const s3 = client(CLIENT);
    for (const key of ['dir/a 1.txt', 'dir/b+2.txt', 'dir/sub/c.txt']) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'dir/', Delimiter: '/' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['dir/a 1.txt', 'dir/b+2.txt']);
    assert.deepEqual(listed.CommonPrefixes?.map((p) => p.Prefix), ['dir/sub/']);

    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'dir/copy é.txt', CopySource: `${BUCKET}/${encodeURIComponent('dir/a 1.txt')}` }));
    assert.equal(await text((await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/copy é.txt' }))).Body), 'dir/a 1.txt');

    const deleted = await s3.send(
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: ['dir/a 1.txt', 'dir/b+2.txt', 'dir/sub/c.txt', 'dir/copy é.txt'].map((Key) => ({ Key })) } }),
    );
    assert.equal(deleted.Errors?.length ?? 0, 0, JSON.stringify(deleted.Errors));
    assert.deepEqual(await storedKeys(direct, BUCKET, 'dir/'), []);
    s3.destroy();
  });

  test('a multipart upload (lib-storage, 3 parts of 5 MiB and more) arrives whole', { timeout: 60_000 }, async () => {
    const s3 = client(CLIENT);
    const size = 11 * 1024 * 1024 + 123;
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) data.writeUInt32BE((i * 2654435761) >>> 0, i);
    const key = 'big/multi part ☃.bin';
    await new Upload({ client: s3, params: { Bucket: BUCKET, Key: key, Body: data }, partSize: 5 * 1024 * 1024, queueSize: 2 }).done();
    const head = await direct.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(head.ContentLength, size);
    assert.match(head.ETag ?? '', /-3"$/, 'RGW assembled three parts');
    const back = await bytes((await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body);
    assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(data).digest('hex'));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    s3.destroy();
  });

  test('a streamed upload (aws-chunked with a trailer checksum) is stored by RGW as the plain body', STEP_TIMEOUT, async () => {
    const s3 = client(CLIENT);
    const data = Buffer.alloc(200_000, 'q');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'stream/obj.bin', Body: Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]), ContentLength: data.length }));
    const stored = await bytes((await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'stream/obj.bin' }))).Body);
    assert.ok(stored.equals(data), 'RGW stored the decoded body, no chunk framing');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'stream/obj.bin' }));
    s3.destroy();
  });

  test('presigned PUT and GET made by the SDK work; response-content-type reaches RGW', STEP_TIMEOUT, async () => {
    const s3 = client(CLIENT);
    const key = 'presigned/a b+(1).txt';
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 300 });
    const put = await raw('PUT', putUrl, { 'content-length': '5' }, Buffer.from('hello'));
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(await storedKeys(direct, BUCKET, 'presigned/'), [key]);
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: key, ResponseContentType: 'text/x-test' }), { expiresIn: 300 });
    const got = await raw('GET', getUrl);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.text, 'hello');
    assert.equal(got.headers['content-type'], 'text/x-test');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    s3.destroy();
  });

  test('refused by the gateway before RGW: a wrong client secret, and a read-only client writing', STEP_TIMEOUT, async () => {
    const bad = client({ accessKeyId: CLIENT.accessKeyId, secretAccessKey: 'not-the-secret' });
    assert.deepEqual(await s3ErrorOf(bad.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/refused.txt', Body: 'no' }))), { code: 'SignatureDoesNotMatch', status: 403 });
    const reader = client(READER);
    assert.deepEqual(await s3ErrorOf(reader.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/refused.txt', Body: 'no' }))), { code: 'AccessDenied', status: 403 });
    assert.deepEqual(await storedKeys(direct, BUCKET, 'public/'), []);
    bad.destroy();
    reader.destroy();
  });

  test('a client the gateway accepts, re-signed with a wrong origin secret: RGW’s own SignatureDoesNotMatch', STEP_TIMEOUT, async () => {
    const s3 = client(CLIENT, `http://localhost:${proxy.port}`);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/refused.txt', Body: 'no' })).catch((err: unknown) => err);
    assert.ok(put instanceof S3ServiceException, String(put));
    assert.deepEqual([put.name, put.$metadata.httpStatusCode], ['SignatureDoesNotMatch', 403]);
    assert.match(put.$metadata.requestId ?? '', /^tx/, 'RGW numbers its transactions tx…: the refusal is RGW’s');
    const res = await raw('GET', await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'public/refused.txt' }), { expiresIn: 60 }));
    assert.equal(res.status, 403, res.text);
    assert.equal(res.headers['x-remapd-error'], undefined, 'the refusal is RGW’s, not the gateway’s');
    assert.match(String(res.headers['x-amz-request-id']), /^tx/);
    assert.deepEqual(await storedKeys(direct, BUCKET, 'public/'), []);
    s3.destroy();
  });
});
