/**
 * What the RGW tier's test files share: the cluster (test/rgw/cluster.ts) with buckets made by the AWS SDK signing
 * for RGW directly, a look at the buckets behind remapd's back (RGW, unlike s3rver, refuses anonymous requests, so
 * that look is signed by the SDK), and requests to remapd whose body is streamed in several writes.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { LOOPBACK, type Remapd, type Response } from '../support/harness.js';
import { type RgwCluster, type RgwUser, startRgwCluster } from './cluster.js';

/** RGW takes any region in a V4 scope; the tests sign for AWS's default one. */
export const REGION = 'us-east-1';

/** Bounds for the tier: a cluster start takes ~1.5 s (90 s at most, cluster.ts), a request a few ms. */
export const HOOK_TIMEOUT = { timeout: 120_000 };
export const STEP_TIMEOUT = { timeout: 20_000 };

/** remapd's settings for the tier: no cache, so every request is RGW's to judge. */
export const PROXY_SETTINGS = { cacheSize: 0, connectTimeoutMs: 2_000, responseTimeoutMs: 15_000, bodyIdleTimeoutMs: 15_000 };

/** The AWS SDK signing for RGW directly as `user` (bounded: no retries, a request timeout). */
export function rgwClient(cluster: RgwCluster, user: RgwUser): S3Client {
  return new S3Client({
    endpoint: cluster.url,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: user.accessKey, secretAccessKey: user.secretKey },
    maxAttempts: 1,
    requestHandler: { requestTimeout: 15_000 },
  });
}

/** Starts the cluster and creates `buckets` (owned by the main user) and `otherBuckets` (owned by the other one). */
export async function startRgw(buckets: readonly string[], otherBuckets: readonly string[] = []): Promise<RgwCluster> {
  const cluster = await startRgwCluster();
  try {
    const main = rgwClient(cluster, cluster.users.main);
    for (const b of buckets) await main.send(new CreateBucketCommand({ Bucket: b }));
    main.destroy();
    const other = rgwClient(cluster, cluster.users.other);
    for (const b of otherBuckets) await other.send(new CreateBucketCommand({ Bucket: b }));
    other.destroy();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** Keys RGW itself holds under `prefix` in `bucket`, listed by the SDK (behind remapd's back). */
export async function storedKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((c) => c.Key!);
}

/** The S3 error code of an XML error body. */
export function s3Code(res: { text: string }): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(res.text)?.[1];
}

/** A body that differs per key, long enough to need more than one chunk and to range into. */
export function bodyFor(key: string): Buffer {
  return Buffer.from(`object ${key}\n`.repeat(200));
}

/**
 * A request to remapd whose body is streamed in three writes, framed by Content-Length (S3 needs the length; a
 * chunked upload would need aws-chunked signing, which is not what s3_auth does).
 */
export function streamed(
  proxy: Remapd,
  method: string,
  host: string,
  path: string,
  body: Buffer,
  headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' },
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: LOOPBACK,
        port: proxy.port,
        method,
        path,
        headers: { host, 'content-length': String(body.length), ...headers },
        agent: false,
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: b, text: b.toString() });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    const third = Math.ceil(body.length / 3);
    req.write(body.subarray(0, third));
    setImmediate(() => {
      req.write(body.subarray(third, 2 * third));
      setImmediate(() => req.end(body.subarray(2 * third)));
    });
  });
}

/** Asserts a response is RGW's (not remapd's) refusal with `code`. */
export function assertRgwRefused(res: Response, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(s3Code(res), code, res.text);
  assert.equal(res.headers['x-remapd-error'], undefined, 'the refusal is the origin’s, not remapd’s');
  assert.match(String(res.headers['x-amz-request-id']), /^tx/, 'RGW numbers its transactions tx…');
}
