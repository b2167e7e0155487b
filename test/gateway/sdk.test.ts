/**
 * Issue 8, gateway mode with a real client: the AWS SDK for JavaScript v3 (@aws-sdk/client-s3), pointed at remapd
 * with the CLIENT keys, lists, puts, gets, heads and deletes objects — and makes a multipart upload larger than
 * the multipart threshold — on an s3rver origin that only knows the ORIGIN keys. Presigned GET and PUT URLs made by
 * the SDK work. Wrong key, wrong secret, an expired presign and a tampered query get S3's error and never reach the
 * origin; a body that is not the one signed is refused before the origin has it whole.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOOPBACK } from '../support/harness.js';
import { anonymousRequest } from '../support/s3rver.js';
import { BUCKET, CLIENT, type Gateway, READER, REGION, startGateway, TOKEN_CLIENT, VHOST_DOMAIN } from './support.js';

const STEP = { timeout: 20_000 };

let gw: Gateway;

function client(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): S3Client {
  return new S3Client({
    endpoint: gw.endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
  });
}

async function text(body: unknown): Promise<string> {
  return (body as { transformToString(): Promise<string> }).transformToString();
}

/** The S3 error code a command failed with. */
async function s3ErrorOf(p: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return { code: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  assert.fail('the request was expected to fail');
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function raw(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({ host: LOOPBACK, port: Number(u.port), method, path: u.pathname + u.search, headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

function codeOf(r: RawResponse): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(r.body.toString())?.[1];
}

/** Origin requests since `mark` (an index into s3.seen). */
function originSince(mark: number): string[] {
  return gw.s3.seen.slice(mark);
}

before(async () => {
  gw = await startGateway();
}, { timeout: 20_000 });

after(async () => {
  await gw?.close();
}, { timeout: 20_000 });

describe('the AWS SDK for JavaScript through the gateway', () => {
  test('put, get, head, list and delete with the client keys; the origin sees the origin keys', STEP, async () => {
    const s3 = client(CLIENT);
    const key = 'docs/hello world+(1).txt';
    const body = 'hello from the SDK\n'.repeat(50);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'text/plain' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(await text(got.Body), body);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(head.ContentLength, Buffer.byteLength(body));
    const list = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'docs/' }));
    assert.deepEqual(list.Contents?.map((c) => c.Key), [key]);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    const gone = await s3ErrorOf(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })));
    assert.equal(gone.status, 404);
  });

  test('a multipart upload above the threshold (3 parts of 5 MiB and more) arrives whole', STEP, async () => {
    const s3 = client(CLIENT);
    const size = 11 * 1024 * 1024 + 123;
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) data.writeUInt32BE((i * 2654435761) >>> 0, i);
    const upload = new Upload({ client: s3, params: { Bucket: BUCKET, Key: 'big/multipart.bin', Body: data }, partSize: 5 * 1024 * 1024, queueSize: 2 });
    await upload.done();
    const seenParts = gw.s3.seen.filter((l) => l.startsWith('PUT /gw-bucket/big/multipart.bin?') && l.includes('partNumber='));
    assert.equal(seenParts.length, 3, 'three parts reached the origin');
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'big/multipart.bin' }));
    const back = Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(data).digest('hex'));
  });

  test('a streamed upload (the SDK sends aws-chunked with a crc32 trailer) reaches the origin as the plain body', STEP, async () => {
    const s3 = client(CLIENT);
    const data = Buffer.alloc(200_000, 'q');
    const seen: Record<string, string | undefined> = {};
    s3.middlewareStack.add(
      (next) => async (args) => {
        const h = (args.request as { headers: Record<string, string> }).headers;
        if (h['x-amz-content-sha256']?.startsWith('STREAMING')) Object.assign(seen, { sha: h['x-amz-content-sha256'], encoding: h['content-encoding'] });
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low' },
    );
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'stream/obj.bin', Body: Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]), ContentLength: data.length }));
    assert.deepEqual(seen, { sha: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', encoding: 'aws-chunked' }, 'the SDK framed the body');
    const stored = await anonymousRequest(gw.s3.port, 'GET', `/${BUCKET}/stream/obj.bin`);
    assert.equal(stored.status, 200);
    assert.equal(stored.body, data.toString(), 'the origin stored the decoded body, no chunk framing');
  });

  test('presigned GET and PUT made by the SDK work; the origin gets a header-signed request', STEP, async () => {
    const s3 = client(CLIENT);
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned/obj.txt' }), { expiresIn: 300 });
    const put = await raw('PUT', putUrl, { 'content-length': '5' }, Buffer.from('hello'));
    assert.equal(put.status, 200, put.body.toString());
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'presigned/obj.txt', ResponseContentType: 'text/x-test' }), { expiresIn: 300 });
    const mark = gw.s3.seen.length;
    const got = await raw('GET', getUrl);
    assert.equal(got.status, 200, got.body.toString());
    assert.equal(got.body.toString(), 'hello');
    assert.equal(got.headers['content-type'], 'text/x-test', 'response-content-type reached the origin');
    const sent = originSince(mark);
    assert.equal(sent.length, 1);
    assert.doesNotMatch(sent[0]!, /X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature|Security-Token|Content-Sha256)=/i, 'no client query authentication reached the origin');
    assert.match(sent[0]!, /response-content-type=text%2Fx-test/);
  });

  test('a client with a session token is verified with it', STEP, async () => {
    const s3 = client(TOKEN_CLIENT);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'token/obj.txt', Body: 'tok' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'token/obj.txt' }));
    assert.equal(await text(got.Body), 'tok');
    const wrong = client({ ...TOKEN_CLIENT, sessionToken: 'not-the-token' });
    const err = await s3ErrorOf(wrong.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'token/obj.txt' })));
    assert.equal(err.code, 'InvalidToken');
  });
});

describe('virtual-host style (bucket in the Host)', () => {
  test('a PUT and GET signed for BUCKET.s3.gw.test reach the bucket; the allow list sees the bucket', STEP, async () => {
    const host = `${BUCKET}.${VHOST_DOMAIN}:${gw.proxy.port}`;
    const send = async (who: typeof CLIENT, method: string, body?: Buffer) => {
      const signer = new SignatureV4({ credentials: who, region: REGION, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false });
      const headers: Record<string, string> = { host, 'x-amz-content-sha256': createHash('sha256').update(body ?? '').digest('hex') };
      if (body) headers['content-length'] = String(body.length);
      const signed = await signer.sign({ method, protocol: 'http:', hostname: host.replace(/:\d+$/, ''), port: gw.proxy.port, path: '/vhost/obj%20one.txt', headers, body });
      return raw(method, `${gw.endpoint}/vhost/obj%20one.txt`, signed.headers as Record<string, string>, body);
    };
    const put = await send(CLIENT, 'PUT', Buffer.from('virtual host'));
    assert.equal(put.status, 200, put.body.toString());
    assert.equal((await anonymousRequest(gw.s3.port, 'GET', `/${BUCKET}/vhost/obj%20one.txt`)).body, 'virtual host', 'stored in the bucket named by the Host');
    const get = await send(CLIENT, 'GET');
    assert.equal(get.body.toString(), 'virtual host');
    const denied = await send(READER, 'GET');
    assert.equal(codeOf(denied), 'AccessDenied', 'the reader may read public/ of the bucket only');
  });
});

describe('refusals: S3 errors, and nothing reaches the origin', () => {
  test('an unknown access key: InvalidAccessKeyId 403', STEP, async () => {
    const mark = gw.s3.seen.length;
    const err = await s3ErrorOf(client({ accessKeyId: 'AKIDNOSUCHCLIENT', secretAccessKey: CLIENT.secretAccessKey }).send(new ListObjectsV2Command({ Bucket: BUCKET })));
    assert.deepEqual(err, { code: 'InvalidAccessKeyId', status: 403 });
    assert.deepEqual(originSince(mark), []);
  });

  test('the wrong secret: SignatureDoesNotMatch 403, for a GET and for a PUT (nothing stored)', STEP, async () => {
    const mark = gw.s3.seen.length;
    const bad = client({ accessKeyId: CLIENT.accessKeyId, secretAccessKey: 'not-the-secret' });
    assert.deepEqual(await s3ErrorOf(bad.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'x' }))), { code: 'SignatureDoesNotMatch', status: 403 });
    assert.deepEqual(await s3ErrorOf(bad.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'refused/put.txt', Body: 'no' }))), { code: 'SignatureDoesNotMatch', status: 403 });
    assert.deepEqual(originSince(mark), []);
    assert.equal((await anonymousRequest(gw.s3.port, 'HEAD', `/${BUCKET}/refused/put.txt`)).status, 404);
  });

  test('an expired presigned URL: AccessDenied 403', STEP, async () => {
    const s3 = client(CLIENT);
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'x' }), { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) });
    const mark = gw.s3.seen.length;
    const r = await raw('GET', url);
    assert.equal(r.status, 403);
    assert.equal(codeOf(r), 'AccessDenied');
    assert.match(r.headers['content-type'] as string, /xml/);
    assert.deepEqual(originSince(mark), []);
  });

  test('a tampered presigned query (changed value, added parameter): SignatureDoesNotMatch', STEP, async () => {
    const s3 = client(CLIENT);
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'presigned/obj.txt', ResponseContentType: 'text/plain' }), { expiresIn: 300 });
    const mark = gw.s3.seen.length;
    const changed = await raw('GET', url.replace('response-content-type=text%2Fplain', 'response-content-type=text%2Fhtml'));
    assert.equal(codeOf(changed), 'SignatureDoesNotMatch');
    const added = await raw('GET', `${url}&response-content-disposition=attachment`);
    assert.equal(codeOf(added), 'SignatureDoesNotMatch');
    const otherKey = await raw('GET', url.replace('presigned/obj.txt', 'presigned/other.txt'));
    assert.equal(codeOf(otherKey), 'SignatureDoesNotMatch');
    assert.deepEqual(originSince(mark), []);
  });

  test('a read-only client: reads under its prefix, AccessDenied elsewhere and for writes', STEP, async () => {
    await client(CLIENT).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/readme.txt', Body: 'public' }));
    const reader = client(READER);
    const ok = await reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/readme.txt' }));
    assert.equal(await text(ok.Body), 'public');
    const mark = gw.s3.seen.length;
    assert.deepEqual(await s3ErrorOf(reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'token/obj.txt' }))), { code: 'AccessDenied', status: 403 });
    assert.deepEqual(await s3ErrorOf(reader.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/new.txt', Body: 'x' }))), { code: 'AccessDenied', status: 403 });
    assert.deepEqual(originSince(mark), []);
  });

  test('a listing with its prefix given twice (one spelled pre%66ix) is refused, not checked against the first one', STEP, async () => {
    // The allow list sees one prefix; the origin would get both. Signed properly, so only the prefix rule refuses it.
    const signer = new SignatureV4({ credentials: READER, region: REGION, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false });
    const host = `${LOOPBACK}:${gw.proxy.port}`;
    const list = async (rawQuery: string, query: Record<string, string | string[]>) => {
      const headers = { host, 'x-amz-content-sha256': createHash('sha256').update('').digest('hex') };
      const signed = await signer.sign({ method: 'GET', protocol: 'http:', hostname: LOOPBACK, port: gw.proxy.port, path: `/${BUCKET}`, query, headers });
      return raw('GET', `${gw.endpoint}/${BUCKET}?${rawQuery}`, signed.headers as Record<string, string>);
    };
    const allowed = await list('list-type=2&prefix=public%2F', { 'list-type': '2', prefix: 'public/' });
    assert.equal(allowed.status, 200, allowed.body.toString());
    const mark = gw.s3.seen.length;
    const twice = await list('list-type=2&prefix=public%2F&pre%66ix=token%2F', { 'list-type': '2', prefix: ['public/', 'token/'] });
    assert.equal(twice.status, 400, twice.body.toString());
    assert.equal(codeOf(twice), 'InvalidArgument');
    assert.deepEqual(originSince(mark), []);
  });

  test('a modified signed header: SignatureDoesNotMatch; a body that is not the signed one: XAmzContentSHA256Mismatch, nothing stored', STEP, async () => {
    const signer = new SignatureV4({ credentials: CLIENT, region: REGION, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false });
    const host = `${LOOPBACK}:${gw.proxy.port}`;
    const signedBody = Buffer.from('the body that was signed');
    const sentBody = Buffer.from('the body that was Signed');
    const signed = await signer.sign({
      method: 'PUT',
      protocol: 'http:',
      hostname: LOOPBACK,
      port: gw.proxy.port,
      path: `/${BUCKET}/tampered/body.txt`,
      headers: {
        host,
        'content-length': String(signedBody.length),
        'x-amz-meta-owner': 'alice',
        'x-amz-content-sha256': createHash('sha256').update(signedBody).digest('hex'),
      },
      body: signedBody,
    });
    const headers = signed.headers as Record<string, string>;
    const mark = gw.s3.seen.length;
    const header = await raw('PUT', `${gw.endpoint}/${BUCKET}/tampered/body.txt`, { ...headers, 'x-amz-meta-owner': 'mallory' }, signedBody);
    assert.equal(codeOf(header), 'SignatureDoesNotMatch');
    assert.deepEqual(originSince(mark), []);
    const body = await raw('PUT', `${gw.endpoint}/${BUCKET}/tampered/body.txt`, headers, sentBody);
    assert.equal(body.status, 400, body.body.toString());
    assert.equal(codeOf(body), 'XAmzContentSHA256Mismatch');
    assert.equal((await anonymousRequest(gw.s3.port, 'HEAD', `/${BUCKET}/tampered/body.txt`)).status, 404, 'the origin stored nothing');
    const good = await raw('PUT', `${gw.endpoint}/${BUCKET}/tampered/body.txt`, headers, signedBody);
    assert.equal(good.status, 200, good.body.toString());
  });

  test('a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) needs no signature and goes to the origin', STEP, async () => {
    const mark = gw.s3.seen.length;
    const r = await raw('OPTIONS', `${gw.endpoint}/${BUCKET}/public/readme.txt`, { origin: 'https://app.example', 'access-control-request-method': 'PUT' });
    assert.notEqual(codeOf(r), 'AccessDenied');
    assert.deepEqual(originSince(mark), [`OPTIONS /${BUCKET}/public/readme.txt`]);
    const plain = await raw('OPTIONS', `${gw.endpoint}/${BUCKET}/public/readme.txt`);
    assert.equal(codeOf(plain), 'AccessDenied', 'an OPTIONS that is not a preflight is an ordinary request');
  });

  test('a request with no authentication: AccessDenied', STEP, async () => {
    const mark = gw.s3.seen.length;
    const r = await raw('GET', `${gw.endpoint}/${BUCKET}/public/readme.txt`);
    assert.equal(r.status, 403);
    assert.equal(codeOf(r), 'AccessDenied');
    assert.deepEqual(originSince(mark), []);
  });
});
