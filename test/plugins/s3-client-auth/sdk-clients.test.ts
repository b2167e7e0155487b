/**
 * Requests made by the real AWS SDK for JavaScript v3 (S3Client and the S3 presigner), captured at its HTTP
 * handler — exactly what would go on the wire — and verified: headers, bodies (single-chunk SHA-256 and the
 * aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER upload the SDK uses for streams), path and virtual-host style,
 * awkward keys, session tokens, presigned URLs.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { checkedBody } from '../../../src/plugins/s3-client-auth/body-check.js';
import type { AuthRequest, ClientSecret } from '../../../src/plugins/s3-client-auth/verify.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { accepted, ALICE, awsEscape, collect, options, refused, TOKEN_USER } from './support.js';

const T = { timeout: 10_000 };

interface Captured {
  req: AuthRequest;
  body: Buffer | null;
}

interface SdkRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** The query as @smithy/querystring-builder writes it (the SDK's own HTTP handlers use it). */
function sdkQuery(query: SdkRequest['query'] = {}): string {
  const parts: string[] = [];
  for (const key of Object.keys(query)) {
    const value = query[key];
    if (Array.isArray(value)) for (const v of value) parts.push(`${awsEscape(key)}=${awsEscape(v)}`);
    else parts.push(value === null || value === undefined ? awsEscape(key) : `${awsEscape(key)}=${awsEscape(value)}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

async function bytesOf(body: unknown): Promise<Buffer | null> {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string' || body instanceof Uint8Array) return Buffer.from(body);
  const parts: Buffer[] = [];
  for await (const piece of body as Readable) parts.push(Buffer.from(piece as Uint8Array));
  return Buffer.concat(parts);
}

/** An S3Client whose requests stop at a handler that records them and answers 200. */
function client(credentials: ClientSecret, config: Partial<S3ClientConfig> = {}): { s3: S3Client; sent: Captured[] } {
  const sent: Captured[] = [];
  const requestHandler = {
    async handle(request: SdkRequest) {
      const headers = new HeaderList();
      for (const [name, value] of Object.entries(request.headers)) headers.add(name, value);
      sent.push({ req: { method: request.method, path: request.path, search: sdkQuery(request.query), headers }, body: await bytesOf(request.body) });
      return { response: { statusCode: 200, headers: { etag: '"e"' }, body: Readable.from([]) } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
  };
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://s3.example.com:8080',
    forcePathStyle: true,
    credentials: { accessKeyId: credentials.accessKey, secretAccessKey: credentials.secretKey, ...(credentials.sessionToken !== null ? { sessionToken: credentials.sessionToken } : {}) },
    requestHandler,
    maxAttempts: 1,
    ...config,
  });
  return { s3, sent };
}

/** Waits for a send; a response the SDK cannot parse does not matter, the request was captured. */
async function settle(sending: Promise<unknown>): Promise<void> {
  try {
    await sending;
  } catch {
    // The canned answer is empty; only the request is under test.
  }
}

const now = () => options({ now: Date.now() });

describe('the AWS SDK v3 S3Client, header authentication', () => {
  const keys = ['plain.txt', 'dir/sub dir/ünïcødé (1)+[2]!*\'.txt', 'a%2Fb%zz', 'trailing/'];
  for (const key of keys) {
    test(`PutObject of "${key}" with a Buffer body: verified, the body checks against its SHA-256`, T, async () => {
      const { s3, sent } = client(ALICE);
      const body = Buffer.from(`contents of ${key}`);
      await settle(s3.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: body, ContentType: 'text/plain; charset=utf-8', Metadata: { owner: 'me' } })));
      const [{ req, body: wire }] = sent as [Captured];
      const v = accepted(req, now());
      assert.deepEqual([v.bucket, v.key, v.payload.kind], ['bucket', key, 'sha256']);
      const r = await collect(checkedBody(Readable.from([wire!]), v.payload, wire!.length).body);
      assert.equal(r.error, null);
      assert.ok(r.data.equals(body));
    });
  }

  test('PutObject of a stream: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32 trailer, decoded and checked', T, async () => {
    const { s3, sent } = client(ALICE);
    const parts = [Buffer.alloc(70_000, 'x'), Buffer.from('tail')];
    await settle(s3.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'stream.bin', Body: Readable.from(parts), ContentLength: 70_004 })));
    const [{ req, body: wire }] = sent as [Captured];
    assert.equal(req.headers.get('x-amz-content-sha256'), 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const v = accepted(req, now());
    assert.equal(v.payload.kind, 'chunked');
    const checked = checkedBody(Readable.from([wire!]), v.payload, null);
    assert.equal(checked.length, 70_004);
    const r = await collect(checked.body);
    assert.equal(r.error, null);
    assert.ok(r.data.equals(Buffer.concat(parts)));
    // With unsigned payloads refused, the same upload is refused.
    refused(req, 'InvalidRequest', options({ now: Date.now(), allowUnsignedPayload: false }));
  });

  test('GetObject with Range and a response override, ListObjectsV2 with prefix and delimiter, DeleteObjects', T, async () => {
    const { s3, sent } = client(ALICE);
    await settle(s3.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'a b.txt', Range: 'bytes=0-10', ResponseContentDisposition: 'attachment; filename="x y.txt"' })));
    await settle(s3.send(new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'photos/2024 å/', Delimiter: '/', MaxKeys: 10 })));
    await settle(s3.send(new DeleteObjectsCommand({ Bucket: 'bucket', Delete: { Objects: [{ Key: 'a' }, { Key: 'b c' }] } })));
    assert.equal(sent.length, 3);
    const [get, list, del] = sent.map((c) => accepted(c.req, now()));
    assert.deepEqual([get!.bucket, get!.key], ['bucket', 'a b.txt']);
    assert.deepEqual([list!.bucket, list!.key], ['bucket', '']);
    assert.deepEqual([del!.bucket, del!.key, del!.payload.kind], ['bucket', '', 'sha256']);
    const r = await collect(checkedBody(Readable.from([sent[2]!.body!]), del!.payload, null).body);
    assert.equal(r.error, null);
  });

  test('virtual-host style (forcePathStyle false): the bucket comes from the Host', T, async () => {
    const { s3, sent } = client(ALICE, { forcePathStyle: false });
    await settle(s3.send(new GetObjectCommand({ Bucket: 'media', Key: 'img/cat.png' })));
    const [{ req }] = sent as [Captured];
    assert.match(req.headers.get('host')!, /^media\.s3\.example\.com/);
    const v = accepted(req, now());
    assert.deepEqual([v.bucket, v.key], ['media', 'img/cat.png']);
  });

  test('temporary credentials: the session token is signed and checked', T, async () => {
    const { s3, sent } = client(TOKEN_USER);
    await settle(s3.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' })));
    accepted(sent[0]!.req, now());
    const { s3: wrong, sent: wrongSent } = client({ ...TOKEN_USER, sessionToken: 'stolen-elsewhere' });
    await settle(wrong.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' })));
    refused(wrongSent[0]!.req, 'InvalidToken', now());
  });

  test('a client with the wrong secret or the wrong region', T, async () => {
    const { s3, sent } = client({ ...ALICE, secretKey: 'guess' });
    await settle(s3.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' })));
    refused(sent[0]!.req, 'SignatureDoesNotMatch', now());
    const { s3: eu, sent: euSent } = client(ALICE, { region: 'eu-west-1' });
    await settle(eu.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' })));
    refused(euSent[0]!.req, 'AuthorizationHeaderMalformed', options({ now: Date.now(), region: 'us-east-1' }));
  });
});

describe('the AWS SDK v3 presigner (getSignedUrl)', () => {
  function fromUrl(url: string, method = 'GET'): AuthRequest {
    const u = new URL(url);
    return { method, path: u.pathname, search: u.search, headers: new HeaderList(['Host', u.host]) };
  }

  test('a presigned GetObject and PutObject verify; the URL expires', T, async () => {
    const { s3 } = client(ALICE);
    const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bucket', Key: 'reports/Q1 (final)+.pdf' }), { expiresIn: 900 });
    const v = accepted(fromUrl(get), now());
    assert.deepEqual([v.form, v.bucket, v.key, v.payload.kind], ['query', 'bucket', 'reports/Q1 (final)+.pdf', 'none']);
    refused(fromUrl(get), 'AccessDenied', options({ now: Date.now() + 901_000 }));
    const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'bucket', Key: 'upload.bin' }), { expiresIn: 60 });
    accepted(fromUrl(put, 'PUT'), now());
    refused(fromUrl(put, 'DELETE'), 'SignatureDoesNotMatch', now());
  });

  test('a presigned URL with a session token, in virtual-host style', T, async () => {
    const { s3 } = client(TOKEN_USER, { forcePathStyle: false });
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'a.png' }), { expiresIn: 60 });
    const v = accepted(fromUrl(url), now());
    assert.deepEqual([v.bucket, v.key], ['media', 'a.png']);
  });
});
