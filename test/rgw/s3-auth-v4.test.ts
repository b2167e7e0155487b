/**
 * RGW tier, Signature V4: remapd with s3_auth `--version=4` in front of Ceph's RADOS Gateway (test/rgw/cluster.ts),
 * path style (to-URL `http://127.0.0.1:RGWPORT/bucket/`), cache off, so that every request is RGW's to verify.
 * The shared suites (s3-auth-suites.ts) run every hostile key, sub-resources, multipart, versioning, listings and
 * Content-MD5 through remapd; here also a signed payload (`--v4-payload=signed`), which RGW hashes and compares.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { LOOPBACK, type Remapd, request, startRemapd } from '../support/harness.js';
import { encodeKey } from '../support/s3rver.js';
import type { RgwCluster } from './cluster.js';
import { hostileKeys, listing, rgwVerifies, type S3AuthTier, subResources, versioning } from './s3-auth-suites.js';
import { bodyFor, HOOK_TIMEOUT, PROXY_SETTINGS, rgwClient, STEP_TIMEOUT, startRgw, storedKeys, streamed } from './support.js';

const BUCKET = 'rgw-v4';
const VERSIONED = 'rgw-v4-versioned';
const FOREIGN = 'rgw-v4-foreign';

let rgw: RgwCluster;
let proxy: Remapd;
let direct: S3Client;

before(async () => {
  rgw = await startRgw([BUCKET, VERSIONED], [FOREIGN]);
  direct = rgwClient(rgw, rgw.users.main);
  const { accessKey, secretKey } = rgw.users.main;
  const v4 = '@plugin=s3_auth.so @pparam=--version=4';
  const creds = `@pparam=--access_key=${accessKey} @pparam=--secret_key=${secretKey}`;
  const origin = `http://${LOOPBACK}:${rgw.port}`;
  proxy = await startRemapd(
    [
      `map http://v4.test/ ${origin}/${BUCKET}/ ${v4} ${creds}`,
      `map http://signed.test/ ${origin}/${BUCKET}/ ${v4} ${creds} @pparam=--v4-payload=signed`,
      `map http://versioned.test/ ${origin}/${VERSIONED}/ ${v4} ${creds}`,
      `map http://foreign.test/ ${origin}/${FOREIGN}/ ${v4} ${creds}`,
      `map http://wrong.test/ ${origin}/${BUCKET}/ ${v4} @pparam=--access_key=${accessKey} @pparam=--secret_key=not-the-secret`,
      `map http://unknown-key.test/ ${origin}/${BUCKET}/ ${v4} @pparam=--access_key=AKIDNOSUCHKEY @pparam=--secret_key=${secretKey}`,
      '',
    ].join('\n'),
    { settings: PROXY_SETTINGS },
  );
}, HOOK_TIMEOUT);

after(async () => {
  direct?.destroy();
  await proxy?.close();
  await rgw?.close();
}, HOOK_TIMEOUT);

const tier: S3AuthTier = {
  version: 'V4',
  pathSentRaw: false,
  proxy: () => proxy,
  direct: () => direct,
  bucket: BUCKET,
  hosts: { main: 'v4.test', versioned: 'versioned.test', foreign: 'foreign.test', wrong: 'wrong.test', unknownKey: 'unknown-key.test' },
};

hostileKeys(tier);
rgwVerifies(tier);
subResources(tier);
versioning(tier);
listing(tier);

describe('V4 --v4-payload=signed: RGW hashes the body and compares it with the signed x-amz-content-sha256', () => {
  test('a streamed PUT with a signed payload is stored, and reads back', STEP_TIMEOUT, async () => {
    const path = `/${encodeKey('signed/pay load☃ (1).txt')}`;
    const body = bodyFor('signed payload ☃');
    const put = await streamed(proxy, 'PUT', 'signed.test', path, body);
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(await storedKeys(direct, BUCKET, 'signed/'), ['signed/pay load☃ (1).txt']);
    const get = await request(proxy.url, { path, headers: { host: 'signed.test' } });
    assert.equal(get.status, 200, get.text);
    assert.ok(get.body.equals(body));
    assert.equal((await request(proxy.url, { path, method: 'DELETE', headers: { host: 'signed.test' } })).status, 204);
  });

  test('a signed-payload multipart part and an empty-bodied POST ?uploads', STEP_TIMEOUT, async () => {
    const host = 'signed.test';
    const init = await request(proxy.url, { path: '/signed/mp.bin?uploads', method: 'POST', headers: { host } });
    assert.equal(init.status, 200, init.text);
    const id = encodeURIComponent(/<UploadId>([^<]+)<\/UploadId>/.exec(init.text)![1]!);
    const part = bodyFor('signed part');
    const up = await streamed(proxy, 'PUT', host, `/signed/mp.bin?partNumber=1&uploadId=${id}`, part, { 'content-type': 'application/octet-stream' });
    assert.equal(up.status, 200, up.text);
    const complete = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${up.headers.etag as string}</ETag></Part></CompleteMultipartUpload>`;
    const done = await request(proxy.url, { path: `/signed/mp.bin?uploadId=${id}`, method: 'POST', headers: { host }, body: complete });
    assert.equal(done.status, 200, done.text);
    assert.ok((await request(proxy.url, { path: '/signed/mp.bin', headers: { host } })).body.equals(part));
    assert.equal((await request(proxy.url, { path: '/signed/mp.bin', method: 'DELETE', headers: { host } })).status, 204);
  });
});
