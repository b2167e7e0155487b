/**
 * createS3AuthPlugin's sendRequest hook on hand-built origin requests with a pinned clock: what it removes, adds and
 * rewrites, how it signs a retry, and --v4-payload=signed. Each signature is checked by judge 1, the AWS SDK's own
 * signer (test/support/sigv4-judge.ts), on the request exactly as it would go on the wire.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { RemapdError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { ClientRequestInfo, OriginRequest, PluginContext, RemapPlugin, RuleInfo } from '../../../src/plugins/api.js';
import { EMPTY_SHA256 } from '../../../src/plugins/s3-auth/constants.js';
import { createS3AuthPlugin } from '../../../src/plugins/s3-auth/s3-auth.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { Txn } from '../../../src/proxy/transaction.js';
import { type CapturedRequest, judgeV4, type JudgeCredentials } from '../../support/sigv4-judge.js';

const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const HOST = 'examplebucket.s3.amazonaws.com';
const T0 = new Date('2013-05-24T00:00:00Z');
const CREDENTIALS: JudgeCredentials = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };

const context: PluginContext = {
  file: '/etc/remapd/remap.config',
  line: 3,
  configDir: '/etc/remapd',
  warn: () => {},
  dependsOn: () => {},
  logger: createLogger({ level: 'error', write: () => {} }),
};

const rule: RuleInfo = { type: 'map', file: context.file, line: 3, id: 'remap.config:3', fromUrl: 'http://cdn.example.com/', toUrl: `http://${HOST}/` };

/** A plugin whose clock reads `clock.now` (tests move it). */
function plugin(clock: { now: Date }, ...params: string[]): RemapPlugin {
  return createS3AuthPlugin([rule.fromUrl, rule.toUrl, '--version=4', `--access_key=${ACCESS_KEY}`, `--secret_key=${SECRET_KEY}`, ...params], context, {
    now: () => clock.now,
  });
}

/** An origin request as the proxy builds it: Host first, the client's end-to-end fields, then Via and X-Forwarded-For. */
function originRequest(over: Partial<OriginRequest> = {}, extraHeaders: string[] = []): OriginRequest {
  return {
    method: 'GET',
    scheme: 'http',
    host: HOST,
    port: 80,
    path: '/test.txt',
    search: '',
    headers: new HeaderList(['host', HOST, ...extraHeaders, 'via', '1.1 remapd', 'x-forwarded-for', '192.0.2.7']),
    body: null,
    bodyLength: null,
    ...over,
  };
}

function txnFor(req: OriginRequest): Txn {
  const client: ClientRequestInfo = {
    method: req.method,
    target: req.path + req.search,
    httpVersion: '1.1',
    headers: new HeaderList(['Host', 'cdn.example.com']),
    scheme: 'http',
    host: 'cdn.example.com',
    port: 80,
    remoteAddress: '192.0.2.7',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
  };
  return new Txn(1, rule, client, req);
}

/** The request as an origin would receive it. */
function captured(req: OriginRequest): CapturedRequest {
  return { method: req.method, url: req.path + req.search, rawHeaders: req.headers.raw.slice() };
}

async function assertJudged(req: OriginRequest, credentials: JudgeCredentials = CREDENTIALS, scope = { region: 'us-east-1', service: 's3' }): Promise<void> {
  const { expected, actual } = await judgeV4(captured(req), credentials, scope);
  assert.equal(actual, expected);
}

/** Every value of a field, in order. */
function values(req: OriginRequest, name: string): string[] {
  return req.headers.getAll(name);
}

async function readAll(body: Readable | null): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A body of `count` chunks of `size` bytes, without a known length (chunked on the wire). */
function chunkedBody(count: number, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) yield Buffer.alloc(size, 0x61 + (i % 26));
    })(),
    { objectMode: false },
  );
}

function isTooLarge(err: unknown): boolean {
  return err instanceof RemapdError && err.code === 'ERR_PAYLOAD_TOO_LARGE' && err.status === 413;
}

describe('s3_auth sendRequest: fields', () => {
  test('removes the client\'s Authorization, x-amz-date, x-amz-content-sha256 and x-amz-security-token', async () => {
    const req = originRequest({}, [
      'Authorization', 'AWS4-HMAC-SHA256 Credential=CLIENT/20000101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00',
      'X-Amz-Date', '20000101T000000Z',
      'x-amz-content-sha256', 'deadbeef',
      'X-Amz-Security-Token', 'client-token',
      'x-amz-meta-owner', 'alice',
    ]);
    await plugin({ now: T0 }).sendRequest!(txnFor(req), req);
    assert.deepEqual(values(req, 'x-amz-date'), ['20130524T000000Z']);
    assert.deepEqual(values(req, 'x-amz-content-sha256'), ['UNSIGNED-PAYLOAD']);
    assert.deepEqual(values(req, 'x-amz-security-token'), [], 'no token is configured, so none is sent');
    assert.equal(values(req, 'authorization').length, 1);
    assert.match(values(req, 'authorization')[0]!, new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/20130524/us-east-1/s3/aws4_request, `));
    assert.deepEqual(values(req, 'x-amz-meta-owner'), ['alice'], 'other x-amz-* fields are kept');
    await assertJudged(req);
  });

  test('signs host, x-amz-* and the client\'s end-to-end fields, but not Via or X-Forwarded-For', async () => {
    const req = originRequest({}, ['Range', 'bytes=0-9', 'x-amz-meta-owner', 'alice']);
    await plugin({ now: T0 }).sendRequest!(txnFor(req), req);
    assert.match(req.headers.get('authorization')!, /SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-owner, /);
    assert.deepEqual(values(req, 'via'), ['1.1 remapd'], 'Via still goes to the origin');
    await assertJudged(req);
  });

  test('sends x-amz-security-token with the configured token in place of the client\'s, and signs it', async () => {
    const token = 'FwoGZXIvYXdzEB/token+with=chars';
    const req = originRequest({}, ['X-Amz-Security-Token', 'client-token']);
    await plugin({ now: T0 }, `--session_token=${token}`).sendRequest!(txnFor(req), req);
    assert.deepEqual(values(req, 'x-amz-security-token'), [token]);
    assert.match(req.headers.get('authorization')!, /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, /);
    await assertJudged(req, { ...CREDENTIALS, sessionToken: token });
  });

  test('--v4-include-headers and --v4-exclude-headers choose the other signed fields', async () => {
    const req = originRequest({}, ['Range', 'bytes=0-9', 'Accept', '*/*', 'If-None-Match', '"x"']);
    await plugin({ now: T0 }, '--v4-include-headers=range,accept,via', '--v4-exclude-headers=accept').sendRequest!(txnFor(req), req);
    assert.match(req.headers.get('authorization')!, /SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, /);
    await assertJudged(req);
  });
});

describe('s3_auth sendRequest: path and query', () => {
  test('rewrites the path and query to the normalized form they are signed in', async () => {
    const req = originRequest({ path: "/dir/my key+plus%2fslash/%c3%a9!'()*", search: '?b=2&acl&prefix=a+b&b=1' });
    await plugin({ now: T0 }).sendRequest!(txnFor(req), req);
    assert.equal(req.path, '/dir/my%20key%20plus/slash/%C3%A9%21%27%28%29%2A');
    assert.equal(req.search, '?b=2&acl&prefix=a%20b&b=1');
    await assertJudged(req);
  });

  test('--literal_plus reads `+` as a plus, for origins that do', async () => {
    const req = originRequest({ path: '/a+b', search: '?prefix=c+d' });
    await plugin({ now: T0 }, '--literal_plus').sendRequest!(txnFor(req), req);
    assert.equal(req.path, '/a%2Bb');
    assert.equal(req.search, '?prefix=c%2Bd');
    await assertJudged(req);
  });

  test('signs keys with every character issue 3 lists', async () => {
    const keys = [' ', '+', '%', '~', ':', '=', '@', '!', '*', "'", '(', ')', ',', ';', '&', '$', '[', ']', 'é', 'ü', '☃', '日本', '😀'];
    for (const k of keys) {
      const req = originRequest({ path: `/nested/path/key${encodeURIComponent(k)}end` });
      await plugin({ now: T0 }).sendRequest!(txnFor(req), req);
      const { expected, actual } = await judgeV4(captured(req), CREDENTIALS, { region: 'us-east-1', service: 's3' });
      assert.equal(actual, expected, `key with ${JSON.stringify(k)}`);
    }
  });
});

describe('s3_auth sendRequest: retries', () => {
  test('each attempt is signed afresh with its own date, and each signature is valid', async () => {
    const clock = { now: T0 };
    const p = plugin(clock);
    const template = originRequest({ path: '/a b', search: '?x=1' });
    const txn = txnFor(template);

    const first: OriginRequest = { ...template, headers: template.headers.clone() };
    await p.sendRequest!(txn, first);
    clock.now = new Date(T0.getTime() + 5_000);
    const second: OriginRequest = { ...template, headers: template.headers.clone() };
    await p.sendRequest!(txn, second);

    assert.deepEqual(values(first, 'x-amz-date'), ['20130524T000000Z']);
    assert.deepEqual(values(second, 'x-amz-date'), ['20130524T000005Z']);
    assert.notEqual(first.headers.get('authorization'), second.headers.get('authorization'));
    assert.equal(second.path, first.path);
    assert.equal(second.search, first.search);
    await assertJudged(first);
    await assertJudged(second);
  });

  test('signing an already signed request again gives exactly the fields of a fresh signing', async () => {
    const p = plugin({ now: T0 });
    const req = originRequest({ path: '/a+b/%41', search: '?q=x y' });
    const fresh: OriginRequest = { ...req, headers: req.headers.clone() };
    await p.sendRequest!(txnFor(req), req);
    await p.sendRequest!(txnFor(req), req);
    await p.sendRequest!(txnFor(fresh), fresh);
    assert.deepEqual(req.headers.entries(), fresh.headers.entries());
    assert.equal(req.path, fresh.path);
    assert.equal(req.search, fresh.search);
    await assertJudged(req);
  });
});

describe('s3_auth sendRequest: --v4-payload=signed', () => {
  test('hashes the body, sends an identical stream with an exact Content-Length', async () => {
    const body = chunkedBody(5, 1000);
    const expectedBytes = Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.alloc(1000, 0x61 + i)));
    const req = originRequest({ method: 'PUT', path: '/upload.bin', body, bodyLength: null }, ['Content-Type', 'application/octet-stream']);
    await plugin({ now: T0 }, '--v4-payload=signed').sendRequest!(txnFor(req), req);
    assert.deepEqual(values(req, 'content-length'), ['5000']);
    assert.equal(req.bodyLength, 5000);
    assert.deepEqual(values(req, 'x-amz-content-sha256'), [sha256(expectedBytes)]);
    await assertJudged(req);
    assert.deepEqual(await readAll(req.body), expectedBytes);
  });

  test('a retry sends the same bytes, though the client\'s stream was read once', async () => {
    const p = plugin({ now: T0 }, '--v4-payload=signed');
    const template = originRequest({ method: 'PUT', path: '/k', body: Readable.from([Buffer.from('hello '), Buffer.from('world')]), bodyLength: 11 }, ['Content-Length', '11']);
    const txn = txnFor(template);
    const first: OriginRequest = { ...template, headers: template.headers.clone() };
    await p.sendRequest!(txn, first);
    const second: OriginRequest = { ...template, headers: template.headers.clone() };
    await p.sendRequest!(txn, second);
    assert.equal((await readAll(first.body)).toString(), 'hello world');
    assert.equal((await readAll(second.body)).toString(), 'hello world');
    assert.deepEqual(values(second, 'x-amz-content-sha256'), [sha256('hello world')]);
    assert.deepEqual(values(second, 'content-length'), ['11']);
    await assertJudged(second);
  });

  test('a request without a body signs the empty hash', async () => {
    const req = originRequest();
    await plugin({ now: T0 }, '--v4-payload=signed').sendRequest!(txnFor(req), req);
    assert.deepEqual(values(req, 'x-amz-content-sha256'), [EMPTY_SHA256]);
    await assertJudged(req);
  });

  test('an empty body signs the empty hash with Content-Length 0', async () => {
    const req = originRequest({ method: 'PUT', body: Readable.from([], { objectMode: false }), bodyLength: null });
    await plugin({ now: T0 }, '--v4-payload=signed').sendRequest!(txnFor(req), req);
    assert.deepEqual(values(req, 'x-amz-content-sha256'), [EMPTY_SHA256]);
    assert.deepEqual(values(req, 'content-length'), ['0']);
    assert.equal(req.body, null);
  });

  test('a body exactly at --v4-payload-max is accepted', async () => {
    const req = originRequest({ method: 'PUT', body: chunkedBody(2, 512), bodyLength: null });
    await plugin({ now: T0 }, '--v4-payload=signed', '--v4-payload-max=1K').sendRequest!(txnFor(req), req);
    assert.deepEqual(values(req, 'content-length'), ['1024']);
  });

  test('answers 413 ERR_PAYLOAD_TOO_LARGE when Content-Length is above --v4-payload-max, before reading the body', async () => {
    const body = chunkedBody(3, 600);
    const req = originRequest({ method: 'PUT', body, bodyLength: 1800 }, ['Content-Length', '1800']);
    await assert.rejects(Promise.resolve().then(() => plugin({ now: T0 }, '--v4-payload=signed', '--v4-payload-max=1K').sendRequest!(txnFor(req), req)), isTooLarge);
    assert.equal(body.readableDidRead, false, 'the body was not read');
    assert.equal(req.headers.get('authorization'), undefined, 'nothing was signed');
    body.destroy();
  });

  test('answers 413 ERR_PAYLOAD_TOO_LARGE when a chunked body grows past --v4-payload-max', async () => {
    const body = chunkedBody(3, 600);
    const req = originRequest({ method: 'PUT', body, bodyLength: null });
    await assert.rejects(Promise.resolve().then(() => plugin({ now: T0 }, '--v4-payload=signed', '--v4-payload-max=1K').sendRequest!(txnFor(req), req)), isTooLarge);
    assert.equal(req.headers.get('authorization'), undefined);
    body.destroy();
  });
});

describe('s3_auth sendRequest: a service other than s3', () => {
  test('adds no x-amz-content-sha256 and signs by the generic rules', async () => {
    const host = 'abc123.execute-api.us-east-1.amazonaws.com';
    const req = originRequest({ host, path: '/prod/a%2Fb/c d', search: '?q=1+2', headers: new HeaderList(['host', host, 'accept', 'application/json']) });
    await plugin({ now: T0 }, '--service=execute-api').sendRequest!(txnFor(req), req);
    assert.deepEqual(values(req, 'x-amz-content-sha256'), []);
    assert.equal(req.path, '/prod/a%2Fb/c%20d');
    assert.equal(req.search, '?q=1%2B2');
    assert.match(req.headers.get('authorization')!, /Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/execute-api\/aws4_request, SignedHeaders=accept;host;x-amz-date, /);
    await assertJudged(req, CREDENTIALS, { region: 'us-east-1', service: 'execute-api' });
  });
});
