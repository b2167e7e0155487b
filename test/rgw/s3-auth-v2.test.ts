/**
 * RGW tier, Signature V2: remapd with s3_auth `--version=2` in front of Ceph's RADOS Gateway (test/rgw/cluster.ts),
 * path style (to-URL `http://127.0.0.1:RGWPORT/bucket/`, so the bucket is in the signed resource), cache off. RGW
 * verifies V2 as AWS specifies it ("Signing and Authenticating REST Requests"): the Date line, Content-MD5 and
 * Content-Type, the canonicalized x-amz-* headers and the resource with its sub-resources. The shared suites
 * (s3-auth-suites.ts) run every hostile key, sub-resources, multipart, versioning, listings and Content-MD5.
 */
import { after, before } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { LOOPBACK, type Remapd, startRemapd } from '../support/harness.js';
import type { RgwCluster } from './cluster.js';
import { hostileKeys, listing, rgwVerifies, type S3AuthTier, subResources, versioning } from './s3-auth-suites.js';
import { HOOK_TIMEOUT, PROXY_SETTINGS, rgwClient, startRgw } from './support.js';

const BUCKET = 'rgw-v2';
const VERSIONED = 'rgw-v2-versioned';
const FOREIGN = 'rgw-v2-foreign';

let rgw: RgwCluster;
let proxy: Remapd;
let direct: S3Client;

before(async () => {
  rgw = await startRgw([BUCKET, VERSIONED], [FOREIGN]);
  direct = rgwClient(rgw, rgw.users.main);
  const { accessKey, secretKey } = rgw.users.main;
  const v2 = '@plugin=s3_auth.so @pparam=--version=2';
  const creds = `@pparam=--access_key=${accessKey} @pparam=--secret_key=${secretKey}`;
  const origin = `http://${LOOPBACK}:${rgw.port}`;
  proxy = await startRemapd(
    [
      `map http://v2.test/ ${origin}/${BUCKET}/ ${v2} ${creds}`,
      `map http://versioned.test/ ${origin}/${VERSIONED}/ ${v2} ${creds}`,
      `map http://foreign.test/ ${origin}/${FOREIGN}/ ${v2} ${creds}`,
      `map http://wrong.test/ ${origin}/${BUCKET}/ ${v2} @pparam=--access_key=${accessKey} @pparam=--secret_key=not-the-secret`,
      `map http://unknown-key.test/ ${origin}/${BUCKET}/ ${v2} @pparam=--access_key=AKIDNOSUCHKEY @pparam=--secret_key=${secretKey}`,
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
  version: 'V2',
  pathSentRaw: true,
  proxy: () => proxy,
  direct: () => direct,
  bucket: BUCKET,
  hosts: { main: 'v2.test', versioned: 'versioned.test', foreign: 'foreign.test', wrong: 'wrong.test', unknownKey: 'unknown-key.test' },
};

hostileKeys(tier);
rgwVerifies(tier);
subResources(tier);
versioning(tier);
listing(tier);
