/**
 * Judge 1: a recording origin on 127.0.0.1 port 0 behind remapd + s3_auth (Signature V4). Every request the origin
 * captures is re-signed by the AWS SDK's own signer (@smithy/signature-v4, test/support/sigv4-judge.ts) from what
 * the origin received, and the two Authorization values must agree byte for byte.
 *
 * This judge covers what the verifying test server (s3-auth-s3rver.test.ts) cannot, because it disagrees with
 * AWS's documented rules there (test/support/s3rver.ts): repeated query names, `!'()*` in query values, repeated
 * and oddly spaced header fields; and what only a recorder can see: which fields reach the origin and which are
 * signed, the body a signed payload hashes, and a retried attempt.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { deriveSigningKey } from '../../src/plugins/s3-auth/sigv4.js';
import {
  LOOPBACK,
  type Origin,
  rawExchange,
  rawValues,
  type Remapd,
  request,
  type Response,
  type SeenRequest,
  startOrigin,
  startRemapd,
} from '../support/harness.js';
import { encodeKey, KEY_CASES } from '../support/s3rver.js';
import { type JudgeCredentials, judgeV4 } from '../support/sigv4-judge.js';

const ACCESS_KEY = 'AKIDEXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+opaque/token==';
const CREDENTIALS: JudgeCredentials = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
const S3_US_EAST_1 = { region: 'us-east-1', service: 's3' };
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** The region scoped keys are made for: no --region and no region map, so the key's scope names it. */
const SCOPED_REGION = 'eu-central-1';

const STEP_TIMEOUT = { timeout: 10_000 };
const HOOK_TIMEOUT = { timeout: 15_000 };

function utcDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The names in the Authorization's SignedHeaders of a captured request. */
function signedHeaders(seen: SeenRequest): string[] {
  const auth = rawValues(seen.rawHeaders, 'authorization')[0] ?? '';
  return /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
}

/** Asserts the AWS SDK's signer computes, for the request as the origin received it, the Authorization remapd sent. */
async function assertJudged(seen: SeenRequest, scope = S3_US_EAST_1, credentials = CREDENTIALS): Promise<void> {
  assert.equal(rawValues(seen.rawHeaders, 'authorization').length, 1, 'exactly one Authorization field');
  const { expected, actual } = await judgeV4(seen, credentials, scope);
  assert.equal(actual, expected, `the AWS SDK signs ${seen.method} ${seen.url} differently`);
}

let origin: Origin;
let proxy: Remapd;
const today = utcDay(0);
const yesterday = utcDay(-1);
const scopedKey = (date: string) => deriveSigningKey(SECRET_KEY, { date, region: SCOPED_REGION, service: 's3' }).toString('base64');
const staleKey = scopedKey(yesterday);

before(async () => {
  origin = await startOrigin((_req, res) => res.end('ok'));
  const to = `http://${LOOPBACK}:${origin.port}`;
  const v4 = `@plugin=s3_auth.so @pparam=--version=4 @pparam=--access_key=${ACCESS_KEY}`;
  const creds = `${v4} @pparam=--secret_key=${SECRET_KEY}`;
  proxy = await startRemapd(
    [
      `map http://plain.test/ ${to}/bucket/ ${creds}`,
      `map http://token.test/ ${to}/bucket/ ${creds} @pparam=--session_token=${SESSION_TOKEN}`,
      `map http://include.test/ ${to}/bucket/ ${creds} @pparam=--v4-include-headers=x-included,Content-MD5`,
      `map http://exclude.test/ ${to}/bucket/ ${creds} @pparam=--v4-exclude-headers=x-excluded,User-Agent`,
      `map http://include-exclude.test/ ${to}/bucket/ ${creds} @pparam=--v4-include-headers=x-a,x-b @pparam=--v4-exclude-headers=x-b`,
      `map http://exclude-required.test/ ${to}/bucket/ ${creds} @pparam=--v4-exclude-headers=host,content-type,x-amz-date,x-amz-meta-color`,
      `map http://include-proxy.test/ ${to}/bucket/ ${creds} @pparam=--v4-include-headers=via,x-forwarded-for,forwarded,x-a`,
      `map http://signed.test/ ${to}/bucket/ ${creds} @pparam=--v4-payload=signed`,
      `map http://small.test/ ${to}/bucket/ ${creds} @pparam=--v4-payload=signed @pparam=--v4-payload-max=64`,
      `map http://service.test/ ${to}/api/ ${creds} @pparam=--service=execute-api @pparam=--region=eu-west-1`,
      `map http://vhost.test/ ${to}/ @plugin=header_rewrite.so @pparam=vhost.conf ${creds}`,
      `map http://literal.test/ ${to}/bucket/ ${creds} @pparam=--literal_plus`,
      `map http://scoped.test/ ${to}/bucket/ ${v4} @pparam=--signing_key=${scopedKey(today)} @pparam=--key_scope=${today}/${SCOPED_REGION}/s3/aws4_request`,
      `map http://stale.test/ ${to}/bucket/ ${v4} @pparam=--signing_key=${staleKey} @pparam=--key_scope=${yesterday}/${SCOPED_REGION}/s3/aws4_request`,
      '',
    ].join('\n'),
    {
      files: { 'vhost.conf': 'cond %{REMAP_PSEUDO_HOOK}\nset-header Host my-bucket.s3.eu-west-2.amazonaws.com\n' },
      settings: { connectTimeoutMs: 2_000, responseTimeoutMs: 5_000, bodyIdleTimeoutMs: 5_000 },
    },
  );
}, HOOK_TIMEOUT);

after(async () => {
  await proxy?.close();
  await origin?.close();
}, HOOK_TIMEOUT);

interface Sent {
  res: Response;
  seen: SeenRequest;
}

/**
 * One request through remapd to the recording origin; returns the response and what the origin received (asserting
 * it received exactly one request). `headers` may be a flat raw list, for repeated fields and exact case.
 */
async function through(
  host: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> | string[]; body?: Buffer | string } = {},
): Promise<Sent> {
  const before = origin.requests.length;
  const headers = Array.isArray(options.headers) ? ['Host', host, ...options.headers] : { host, ...options.headers };
  const res = await request(proxy.url, { method: options.method, path, headers, body: options.body });
  assert.equal(res.status, 200, `${options.method ?? 'GET'} ${path} via ${host}: ${res.status} ${res.text}`);
  assert.equal(origin.requests.length, before + 1, 'the origin received exactly one request');
  return { res, seen: origin.requests.at(-1)! };
}

describe('keys: the origin gets the normalised path, and the AWS SDK agrees with the signature', () => {
  for (const c of KEY_CASES) {
    test(`a key with ${c.what}`, STEP_TIMEOUT, async () => {
      const body = Buffer.from(`object ${c.key}`);
      const wire = `/bucket/${encodeKey(c.key)}`;
      const put = await through('plain.test', `/${c.put ?? encodeKey(c.key)}`, { method: 'PUT', body, headers: { 'content-type': 'text/plain' } });
      assert.equal(put.seen.url, wire);
      assert.ok(put.seen.body.equals(body));
      await assertJudged(put.seen);
      const get = await through('plain.test', `/${c.get ?? c.put ?? encodeKey(c.key)}`);
      assert.equal(get.seen.url, wire);
      await assertJudged(get.seen);
    });
  }

  test('a raw + in the path is sent and signed as a space (%20); %2B stays a plus', STEP_TIMEOUT, async () => {
    const { seen } = await through('plain.test', '/x+y/a%2Bb');
    assert.equal(seen.url, '/bucket/x%20y/a%2Bb');
    await assertJudged(seen);
  });

  test('with --literal_plus a raw + in the path is sent and signed as a plus (%2B)', STEP_TIMEOUT, async () => {
    const { seen } = await through('literal.test', '/x+y?q=a+b');
    assert.equal(seen.url, '/bucket/x%2By?q=a%2Bb');
    await assertJudged(seen);
  });

  test('encoded unreserved characters are decoded and other bytes upper-case encoded, exactly once', STEP_TIMEOUT, async () => {
    const { seen } = await through('plain.test', '/%41%7e%2d/%e2%98%83/already%2520encoded');
    assert.equal(seen.url, '/bucket/A~-/%E2%98%83/already%2520encoded');
    await assertJudged(seen);
  });
});

describe('queries: sent normalised, signed sorted by name then value', () => {
  /** `path` defaults to /key (sent to /bucket/key). */
  const cases: { what: string; path?: string; query: string; wire: string }[] = [
    { what: 'repeated names, kept and sorted by value; a bare name signed as name=', query: '?a=2&a=1&b', wire: '?a=2&a=1&b' },
    { what: 'a name that is a prefix of another (a before a-b, unlike sorting joined k=v)', query: '?a-b=1&a=2', wire: '?a-b=1&a=2' },
    { what: '+ as a space, %20, and %2B as a plus', query: '?plus=a+b&space=a%20b&literal=a%2Bb', wire: '?plus=a%20b&space=a%20b&literal=a%2Bb' },
    { what: "!'()* raw and encoded, both sent encoded", query: "?raw=!'()*&enc=%21%27%28%29%2A", wire: '?raw=%21%27%28%29%2A&enc=%21%27%28%29%2A' },
    { what: 'reserved characters in values (= / : @ , ; $)', query: '?k=a=b/c:d@e,f;g$h', wire: '?k=a%3Db%2Fc%3Ad%40e%2Cf%3Bg%24h' },
    { what: 'non-ASCII in names and values, lower-case hex', query: '?%c3%a9=%e2%98%83&v=%F0%9F%98%80', wire: '?%C3%A9=%E2%98%83&v=%F0%9F%98%80' },
    { what: 'an empty value and a bare name', query: '?acl&empty=', wire: '?acl&empty=' },
    {
      what: 'response-* overrides',
      query: '?response-content-type=text/plain&response-content-disposition=attachment;+filename="a+b.txt"&response-cache-control=no-cache',
      wire: '?response-content-type=text%2Fplain&response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22&response-cache-control=no-cache',
    },
    { what: 'a % not followed by two hex digits is a literal %', query: '?q=100%&r=%zz&s=%2', wire: '?q=100%25&r=%25zz&s=%252' },
    {
      what: 'a list-objects query on the bucket root (/bucket/, with its slash, as AWS signs it)',
      path: '/',
      query: '?list-type=2&prefix=photos/2024+summer/&max-keys=10&delimiter=/',
      wire: '?list-type=2&prefix=photos%2F2024%20summer%2F&max-keys=10&delimiter=%2F',
    },
  ];
  for (const c of cases) {
    test(c.what, STEP_TIMEOUT, async () => {
      const path = c.path ?? '/key';
      const { seen } = await through('plain.test', `${path}${c.query}`);
      assert.equal(seen.url, `/bucket${path}${c.wire}`);
      await assertJudged(seen);
    });
  }
});

describe('header fields: which are signed, and how', () => {
  test('repeated fields are all forwarded and signed joined with "," in order', STEP_TIMEOUT, async () => {
    const { seen } = await through('plain.test', '/k', { headers: ['X-Multi', 'one', 'x-multi', 'two, three', 'X-MULTI', 'four'] });
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-multi'), ['one', 'two, three', 'four']);
    assert.ok(signedHeaders(seen).includes('x-multi'));
    await assertJudged(seen);
  });

  test('inner runs of spaces and tabs are forwarded as they are and signed squeezed to one space', STEP_TIMEOUT, async () => {
    const { seen } = await through('plain.test', '/k', { headers: ['X-Spaces', 'a   b \t\t c', 'X-Amz-Meta-Note', 'two  spaces', 'X-Empty', ''] });
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-spaces'), ['a   b \t\t c']);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-empty'), ['']);
    await assertJudged(seen);
  });

  test('a field with leading and trailing whitespace on the wire is signed trimmed', STEP_TIMEOUT, async () => {
    const before = origin.requests.length;
    const reply = await rawExchange(
      proxy.port,
      'GET /k HTTP/1.1\r\nHost: plain.test\r\nX-Padded: \t  padded value \t \r\nConnection: close\r\n\r\n',
    );
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.equal(origin.requests.length, before + 1);
    await assertJudged(origin.requests.at(-1)!);
  });

  test('Via and X-Forwarded-For reach the origin but are never signed; hop-by-hop fields neither', STEP_TIMEOUT, async () => {
    const { seen } = await through('plain.test', '/k', { headers: ['Via', '1.0 edge', 'X-Forwarded-For', '203.0.113.7', 'Forwarded', 'for=203.0.113.7'] });
    assert.deepEqual(rawValues(seen.rawHeaders, 'via'), ['1.0 edge, 1.1 remapd']);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-forwarded-for'), ['203.0.113.7, 127.0.0.1']);
    const signed = signedHeaders(seen);
    for (const name of ['via', 'x-forwarded-for', 'forwarded', 'connection', 'keep-alive', 'authorization']) {
      assert.ok(!signed.includes(name), `${name} must not be signed`);
    }
    await assertJudged(seen);
  });

  test('a client’s own Authorization, x-amz-date, x-amz-content-sha256 and x-amz-security-token never reach the origin', STEP_TIMEOUT, async () => {
    const started = Date.now();
    const forged = [
      'AUTHORIZATION', `AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20000101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
      'X-Amz-Date', '20000101T000000Z',
      'x-amz-date', '20000102T000000Z',
      'X-AMZ-Content-SHA256', 'f'.repeat(64),
      'X-Amz-Security-Token', 'client-token',
    ];
    const { seen } = await through('plain.test', '/k', { headers: forged });
    assert.equal(rawValues(seen.rawHeaders, 'authorization').length, 1);
    assert.match(rawValues(seen.rawHeaders, 'authorization')[0]!, new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/`));
    const dates = rawValues(seen.rawHeaders, 'x-amz-date');
    assert.equal(dates.length, 1);
    const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(dates[0]!)!;
    const signedAt = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    assert.ok(Math.abs(signedAt - started) < 60_000, `x-amz-date ${dates[0]} is now, not the client's`);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-content-sha256'), [UNSIGNED_PAYLOAD]);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-security-token'), []);
    await assertJudged(seen);
  });

  test('with --session_token the token is sent once, signed, and replaces the client’s', STEP_TIMEOUT, async () => {
    const { seen } = await through('token.test', '/k', { headers: ['x-amz-security-token', 'client-token'] });
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-security-token'), [SESSION_TOKEN]);
    assert.ok(signedHeaders(seen).includes('x-amz-security-token'));
    await assertJudged(seen, S3_US_EAST_1, { ...CREDENTIALS, sessionToken: SESSION_TOKEN });
  });

  test('x-amz-meta-* from the client is forwarded and signed', STEP_TIMEOUT, async () => {
    const { seen } = await through('plain.test', '/k', { method: 'PUT', body: 'x', headers: { 'x-amz-meta-color': 'blue', 'X-Amz-Meta-Owner': 'team a' } });
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-meta-color'), ['blue']);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-meta-owner'), ['team a']);
    assert.ok(signedHeaders(seen).includes('x-amz-meta-color') && signedHeaders(seen).includes('x-amz-meta-owner'));
    await assertJudged(seen);
  });

  /** Fields sent in every include/exclude case below. */
  const FIELDS = {
    'content-type': 'text/plain',
    'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==',
    'user-agent': 'judge/1',
    'x-a': 'a',
    'x-b': 'b',
    'x-included': 'in',
    'x-excluded': 'out',
    'x-other': 'other',
    'x-amz-meta-color': 'blue',
    via: '1.0 edge',
    forwarded: 'for=192.0.2.1',
  };
  const cases: { what: string; host: string; signed: string[]; unsigned: string[] }[] = [
    {
      what: 'an include list signs only those, plus host, content-type and every x-amz-*',
      host: 'include.test',
      signed: ['content-md5', 'content-type', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-meta-color', 'x-included'],
      unsigned: ['user-agent', 'x-a', 'x-b', 'x-excluded', 'x-other', 'via', 'x-forwarded-for', 'forwarded'],
    },
    {
      what: 'an exclude list signs everything else',
      host: 'exclude.test',
      signed: ['content-md5', 'content-type', 'host', 'x-a', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-meta-color', 'x-b', 'x-included', 'x-other'],
      unsigned: ['user-agent', 'x-excluded', 'via', 'x-forwarded-for', 'forwarded'],
    },
    {
      what: 'include and exclude lists: the included minus the excluded',
      host: 'include-exclude.test',
      signed: ['content-type', 'host', 'x-a', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-meta-color'],
      unsigned: ['x-b', 'content-md5', 'user-agent', 'x-other', 'via'],
    },
    {
      what: 'excluding host, content-type or an x-amz-* field does not stop them being signed',
      host: 'exclude-required.test',
      signed: ['content-type', 'host', 'x-amz-date', 'x-amz-meta-color'],
      unsigned: ['via', 'x-forwarded-for', 'forwarded'],
    },
    {
      what: 'including Via, X-Forwarded-For or Forwarded does not make them signed',
      host: 'include-proxy.test',
      signed: ['content-type', 'host', 'x-a', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-meta-color'],
      unsigned: ['via', 'x-forwarded-for', 'forwarded', 'x-b'],
    },
  ];
  for (const c of cases) {
    test(c.what, STEP_TIMEOUT, async () => {
      const { seen } = await through(c.host, '/k', { headers: FIELDS });
      const signed = signedHeaders(seen);
      if (c.host === 'include.test' || c.host === 'include-exclude.test' || c.host === 'include-proxy.test') {
        assert.deepEqual(signed, c.signed);
      } else {
        for (const name of c.signed) assert.ok(signed.includes(name), `${name} must be signed (SignedHeaders=${signed.join(';')})`);
      }
      for (const name of c.unsigned) assert.ok(!signed.includes(name), `${name} must not be signed (SignedHeaders=${signed.join(';')})`);
      assert.deepEqual([...signed].sort(), signed, 'SignedHeaders is sorted');
      await assertJudged(seen);
    });
  }
});

describe('payloads', () => {
  test('unsigned by default: x-amz-content-sha256 is UNSIGNED-PAYLOAD and the body streams through unchanged', STEP_TIMEOUT, async () => {
    const body = Buffer.alloc(256 * 1024, 'stream me ');
    const { seen } = await through('plain.test', '/big', { method: 'PUT', body });
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-content-sha256'), [UNSIGNED_PAYLOAD]);
    assert.ok(seen.body.equals(body));
    await assertJudged(seen);
  });

  test('--v4-payload=signed: the signed hash is the SHA-256 of the body the origin got', STEP_TIMEOUT, async () => {
    const body = Buffer.from('a signed payload, with ünïcödé bytes');
    const { seen } = await through('signed.test', '/signed', { method: 'PUT', body });
    assert.ok(seen.body.equals(body));
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-content-sha256'), [sha256Hex(seen.body)]);
    assert.deepEqual(rawValues(seen.rawHeaders, 'content-length'), [String(body.length)]);
    await assertJudged(seen);
  });

  test('--v4-payload=signed: a chunked upload is buffered, sent with Content-Length, and its hash signed', STEP_TIMEOUT, async () => {
    const before = origin.requests.length;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: LOOPBACK, port: proxy.port, method: 'PUT', path: '/chunked', headers: { host: 'signed.test' }, agent: false, timeout: 5_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('timeout', () => req.destroy(new Error('client timeout')));
      req.on('error', reject);
      req.write('part one, ');
      req.end('part two');
    });
    assert.equal(status, 200);
    assert.equal(origin.requests.length, before + 1);
    const seen = origin.requests.at(-1)!;
    assert.equal(seen.body.toString(), 'part one, part two');
    assert.deepEqual(rawValues(seen.rawHeaders, 'content-length'), [String(seen.body.length)]);
    assert.deepEqual(rawValues(seen.rawHeaders, 'transfer-encoding'), []);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-content-sha256'), [sha256Hex(seen.body)]);
    await assertJudged(seen);
  });

  test('--v4-payload=signed: a request without a body signs the empty hash', STEP_TIMEOUT, async () => {
    const { seen } = await through('signed.test', '/k');
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-content-sha256'), [EMPTY_SHA256]);
    await assertJudged(seen);
  });

  test('--v4-payload=signed above --v4-payload-max: 413, and the origin sees nothing (Content-Length known)', STEP_TIMEOUT, async () => {
    const before = origin.requests.length;
    const res = await request(proxy.url, { method: 'PUT', path: '/too-big', headers: { host: 'small.test' }, body: Buffer.alloc(65, 'x') });
    assert.equal(res.status, 413);
    assert.equal(res.headers['x-remapd-error'], 'ERR_PAYLOAD_TOO_LARGE');
    assert.equal(origin.requests.length, before);
  });

  test('--v4-payload=signed above --v4-payload-max: 413, and the origin sees nothing (chunked)', STEP_TIMEOUT, async () => {
    const before = origin.requests.length;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: LOOPBACK, port: proxy.port, method: 'PUT', path: '/too-big', headers: { host: 'small.test' }, agent: false, timeout: 5_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('timeout', () => req.destroy(new Error('client timeout')));
      req.on('error', reject);
      req.write(Buffer.alloc(40, 'x'));
      req.end(Buffer.alloc(40, 'y'));
    });
    assert.equal(status, 413);
    assert.equal(origin.requests.length, before);
  });

  test('exactly --v4-payload-max bytes are accepted', STEP_TIMEOUT, async () => {
    const { seen } = await through('small.test', '/at-limit', { method: 'PUT', body: Buffer.alloc(64, 'z') });
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-content-sha256'), [sha256Hex(seen.body)]);
    await assertJudged(seen);
  });
});

describe('scope: region, service and scoped keys', () => {
  test('virtual-host style: the Host set by header_rewrite is signed and names the region', STEP_TIMEOUT, async () => {
    const { seen } = await through('vhost.test', '/photos/a%20b.jpg');
    assert.equal(seen.url, '/photos/a%20b.jpg');
    assert.deepEqual(rawValues(seen.rawHeaders, 'host'), ['my-bucket.s3.eu-west-2.amazonaws.com']);
    assert.match(rawValues(seen.rawHeaders, 'authorization')[0]!, /Credential=AKIDEXAMPLE\/\d{8}\/eu-west-2\/s3\/aws4_request/);
    await assertJudged(seen, { region: 'eu-west-2', service: 's3' });
  });

  // The judge cannot hash a body it is not given, so the generic (non-S3) rules are judged on a GET.
  test('a non-s3 --service: generic rules (double-encoded path), no x-amz-content-sha256, forced --region', STEP_TIMEOUT, async () => {
    const { seen } = await through('service.test', '/a%20b/c+d/%7Euser?x=1&a=2');
    assert.equal(seen.url, '/api/a%20b/c%2Bd/~user?x=1&a=2');
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-content-sha256'), []);
    assert.match(rawValues(seen.rawHeaders, 'authorization')[0]!, /\/eu-west-1\/execute-api\/aws4_request/);
    await assertJudged(seen, { region: 'eu-west-1', service: 'execute-api' });
  });

  test('--signing_key made with deriveSigningKey for today (UTC) signs requests the SDK verifies with the secret', STEP_TIMEOUT, async () => {
    const { seen } = await through('scoped.test', '/k?a=1');
    assert.match(rawValues(seen.rawHeaders, 'authorization')[0]!, new RegExp(`Credential=${ACCESS_KEY}/${today}/${SCOPED_REGION}/s3/aws4_request`));
    await assertJudged(seen, { region: SCOPED_REGION, service: 's3' });
  });

  test('a signing key for another date gives 500, and the error log names the needed scope but never the key', STEP_TIMEOUT, async () => {
    const before = origin.requests.length;
    const logsBefore = proxy.logs.length;
    const res = await request(proxy.url, { path: '/k', headers: { host: 'stale.test' } });
    assert.equal(res.status, 500);
    assert.equal(res.headers['x-remapd-error'], 'ERR_SIGNING_KEY');
    assert.equal(origin.requests.length, before);
    const keyHex = Buffer.from(staleKey, 'base64').toString('hex');
    for (const text of [res.text, ...proxy.logs.slice(logsBefore)]) {
      assert.ok(!text.includes(staleKey) && !text.includes(keyHex), 'the key never appears in a response or a log');
      assert.ok(!text.includes(SECRET_KEY));
    }
    const logged = proxy.logs.slice(logsBefore).join('');
    assert.ok(logged.includes(`${today}/${SCOPED_REGION}/s3/aws4_request`), `the log names the scope needed: ${logged}`);
    assert.ok(logged.includes(`${yesterday}/${SCOPED_REGION}/s3/aws4_request`), 'and the scope held');
  });
});

describe('retries', () => {
  let flaky: Origin;
  let retrying: Remapd;
  before(async () => {
    let n = 0;
    flaky = await startOrigin((req, res) => {
      n++;
      // The second request is held past a second (so a fresh signature has a later x-amz-date), then its
      // connection dies without an answer: to remapd, a kept-alive connection that died under it.
      if (n === 2) setTimeout(() => req.socket.destroy(), 1_100);
      else res.end('ok');
    });
    retrying = await startRemapd(
      `map http://retry.test/ http://${LOOPBACK}:${flaky.port}/bucket/ @plugin=s3_auth.so @pparam=--version=4 ` +
        `@pparam=--access_key=${ACCESS_KEY} @pparam=--secret_key=${SECRET_KEY}\n`,
      { settings: { connectTimeoutMs: 2_000, responseTimeoutMs: 5_000 } },
    );
  }, HOOK_TIMEOUT);
  after(async () => {
    await retrying?.close();
    await flaky?.close();
  }, HOOK_TIMEOUT);

  test('a GET retried after a dead kept-alive connection is signed afresh', STEP_TIMEOUT, async () => {
    const warm = await request(retrying.url, { path: '/warm', headers: { host: 'retry.test' } });
    assert.equal(warm.status, 200);
    const res = await request(retrying.url, { path: '/a%20key?x=1', headers: { host: 'retry.test' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(flaky.requests.length, 3);
    const [, first, retry] = flaky.requests as [SeenRequest, SeenRequest, SeenRequest];
    assert.equal(retry.url, first.url);
    await assertJudged(first);
    await assertJudged(retry);
    const dateOf = (s: SeenRequest) => rawValues(s.rawHeaders, 'x-amz-date')[0]!;
    assert.ok(dateOf(retry) > dateOf(first), `the retry is dated ${dateOf(retry)}, after the first attempt's ${dateOf(first)}`);
  });
});
