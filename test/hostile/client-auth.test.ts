/**
 * A client's own S3 authentication never reaches the origin of an s3_auth rule, and never overrides remapd's
 * signature: Authorization (any case, repeated), x-amz-date, x-amz-content-sha256, x-amz-security-token, and a
 * presigned URL's query parameters (V4's X-Amz-*, V2's AWSAccessKeyId/Signature/Expires). What the recording origin
 * receives is one Authorization — remapd's, with remapd's key, checked by an independent signer (the AWS SDK's for
 * V4, HMAC-SHA1 written out here for V2) — and every other x-amz-* field, signed.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Origin, rawValues, type Remapd, request, type SeenRequest, startOrigin, startRemapd } from '../support/harness.js';
import { judgeV4 } from '../support/sigv4-judge.js';

const STEP = { timeout: 10_000 };
const HOOK = { timeout: 15_000 };

const ACCESS_KEY = 'AKIDREMAPDEXAMPLE';
const SECRET_KEY = 'remapdSecretKeyForTheHostileTestsOnly0000';
const CLIENT_KEY = 'AKIDCLIENTEXAMPLE';
const CLIENT_V4 = `AWS4-HMAC-SHA256 Credential=${CLIENT_KEY}/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`;
const CLIENT_V2 = `AWS ${CLIENT_KEY}:c2lnbmF0dXJlb2Z0aGVjbGllbnQ=`;

/** Every client header a client could use to sign, or to change what remapd signs. */
const CLIENT_AUTH_FIELDS = [
  'x-amz-date', '20000101T000000Z',
  'x-amz-content-sha256', 'a'.repeat(64),
  'x-amz-security-token', 'client-session-token',
];

let origin: Origin;
let proxy: Remapd;

before(async () => {
  origin = await startOrigin((_req, res) => res.end('ok'));
  const to = `http://127.0.0.1:${origin.port}/bucket/public/`;
  const creds = `@pparam=--access_key=${ACCESS_KEY} @pparam=--secret_key=${SECRET_KEY}`;
  proxy = await startRemapd(
    [
      `map http://v4.test/public/ ${to} @plugin=s3_auth.so @pparam=--version=4 ${creds}`,
      `map http://v2.test/public/ ${to} @plugin=s3_auth.so @pparam=--version=2 ${creds}`,
      '',
    ].join('\n'),
  );
}, HOOK);

after(async () => {
  await proxy?.close();
  await origin?.close();
}, HOOK);

/** Sends one request through remapd and returns what the origin received for it. */
async function through(host: string, target: string, headers: string[], method = 'GET', body?: string): Promise<SeenRequest> {
  const before = origin.requests.length;
  const res = await request(`${proxy.url}${target}`, { method, headers: ['host', host, ...headers], ...(body !== undefined ? { body } : {}) });
  assert.equal(res.status, 200, res.text);
  assert.equal(origin.requests.length, before + 1, 'exactly one origin request');
  return origin.requests.at(-1)!;
}

function assertOneV4Authorization(seen: SeenRequest): void {
  const auth = rawValues(seen.rawHeaders, 'authorization');
  assert.equal(auth.length, 1, 'exactly one Authorization');
  assert.match(auth[0]!, new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/\\d{8}/us-east-1/s3/aws4_request, `));
  assert.doesNotMatch(seen.rawHeaders.join('\n'), new RegExp(CLIENT_KEY));
  assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-security-token'), []);
  const dates = rawValues(seen.rawHeaders, 'x-amz-date');
  assert.equal(dates.length, 1);
  assert.notEqual(dates[0], '20000101T000000Z', 'remapd’s date, not the client’s');
  assert.notEqual(rawValues(seen.rawHeaders, 'x-amz-content-sha256')[0], 'a'.repeat(64));
}

async function assertJudgedV4(seen: SeenRequest): Promise<void> {
  const { expected, actual } = await judgeV4(seen, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, { region: 'us-east-1', service: 's3' });
  assert.equal(actual, expected, 'the AWS SDK signs what the origin received the same way');
}

function signedHeaders(seen: SeenRequest): string[] {
  return /SignedHeaders=([^,]+)/.exec(rawValues(seen.rawHeaders, 'authorization')[0] ?? '')?.[1]?.split(';') ?? [];
}

/** V2's signature, from the request as the origin received it (AWS "Signing and authenticating REST requests"). */
function expectedV2(seen: SeenRequest): string {
  const h = (name: string) => rawValues(seen.rawHeaders, name).join(',');
  const amz = new Map<string, string[]>();
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    const name = seen.rawHeaders[i]!.toLowerCase();
    if (name.startsWith('x-amz-')) amz.set(name, [...(amz.get(name) ?? []), seen.rawHeaders[i + 1]!.trim()]);
  }
  const amzLines = [...amz.keys()].sort().map((n) => `${n}:${amz.get(n)!.join(',')}\n`).join('');
  const date = amz.has('x-amz-date') ? '' : h('date');
  const resource = seen.url.split('?')[0]!;
  const stringToSign = `${seen.method}\n${h('content-md5')}\n${h('content-type')}\n${date}\n${amzLines}${resource}`;
  return `AWS ${ACCESS_KEY}:${createHmac('sha1', SECRET_KEY).update(stringToSign).digest('base64')}`;
}

describe('V4 rule: the client’s authentication headers', () => {
  test('Authorization, x-amz-date, x-amz-content-sha256, x-amz-security-token: replaced by remapd’s; x-amz-meta-* kept and signed', STEP, async () => {
    const seen = await through('v4.test', '/public/a', ['Authorization', CLIENT_V4, ...CLIENT_AUTH_FIELDS, 'x-amz-meta-color', 'red']);
    assertOneV4Authorization(seen);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-meta-color'), ['red']);
    assert.ok(signedHeaders(seen).includes('x-amz-meta-color'), `signed: ${signedHeaders(seen).join(';')}`);
    await assertJudgedV4(seen);
  });

  for (const [name, headers] of [
    ['AUTHORIZATION in upper case', ['AUTHORIZATION', CLIENT_V4, 'X-AMZ-DATE', '20000101T000000Z', 'X-Amz-Security-Token', 'client-session-token']],
    ['two Authorization fields', ['Authorization', CLIENT_V4, 'authorization', CLIENT_V2]],
    ['a V2 Authorization on a V4 rule', ['Authorization', CLIENT_V2]],
    ['an empty Authorization', ['Authorization', '']],
  ] as const) {
    test(`${name}: one Authorization, remapd’s`, STEP, async () => {
      const seen = await through('v4.test', '/public/a', [...headers]);
      assertOneV4Authorization(seen);
      await assertJudgedV4(seen);
    });
  }

  test('a PUT with the client’s x-amz-content-sha256: remapd’s payload hash is the one sent and signed', STEP, async () => {
    const seen = await through('v4.test', '/public/up', ['Authorization', CLIENT_V4, ...CLIENT_AUTH_FIELDS, 'x-amz-meta-a', '1'], 'PUT', 'body');
    assertOneV4Authorization(seen);
    assert.equal(seen.body.toString(), 'body');
    assert.ok(signedHeaders(seen).includes('x-amz-meta-a'));
    await assertJudgedV4(seen);
  });
});

/** Presigned-URL query authentication: [query sent, query the origin must receive]. */
const PRESIGNED: ReadonlyArray<readonly [string, string, string?]> = [
  [
    `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${CLIENT_KEY}%2F20200101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20200101T000000Z` +
      '&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Signature=abc&keep=1',
    '?keep=1',
  ],
  ['?x-amz-signature=abc&X-AMZ-CREDENTIAL=k&x-Amz-Date=d&keep=1', '?keep=1'],
  ['?X%2DAmz%2DSignature=abc&X-Amz-%43redential=k&keep=1', '?keep=1'],
  ['?keep=1&X-Amz-Signature=a&X-Amz-Signature=b', '?keep=1'],
  ['?X-Amz-Signature=abc', ''],
  [`?AWSAccessKeyId=${CLIENT_KEY}&Expires=1700000000&Signature=abc%3D&keep=1`, '?keep=1'],
  [`?awsaccesskeyid=${CLIENT_KEY}&SIGNATURE=abc&expires=1&keep=1`, '?keep=1'],
  // Half a V2 signature is still a client's credential or signature: it must not reach the origin either.
  ['?Signature=abc&keep=1', '?keep=1'],
  [`?AWSAccessKeyId=${CLIENT_KEY}&keep=1`, '?keep=1'],
  ['?Expires=1700000000&keep=1', '?Expires=1700000000&keep=1'],
];

describe('presigned-URL parameters', () => {
  for (const host of ['v4.test', 'v2.test']) {
    for (const [query, expected, todo] of PRESIGNED) {
      test(`${host}: ${query} reaches the origin as ${JSON.stringify(expected)}`, { ...STEP, ...(todo ? { todo } : {}) }, async () => {
        const seen = await through(host, `/public/a${query}`, []);
        const sent = seen.url.slice('/bucket/public/a'.length);
        assert.equal(sent.toLowerCase(), expected.toLowerCase());
        assert.doesNotMatch(seen.url, new RegExp(CLIENT_KEY));
        assert.equal(rawValues(seen.rawHeaders, 'authorization').length, 1);
        if (host === 'v4.test') await assertJudgedV4(seen);
        else assert.equal(rawValues(seen.rawHeaders, 'authorization')[0], expectedV2(seen));
      });
    }
  }
});

describe('V2 rule: the client’s authentication headers', () => {
  test('Authorization (V2 or V4), x-amz-date, x-amz-security-token: replaced by remapd’s; x-amz-meta-* kept and signed', STEP, async () => {
    const seen = await through('v2.test', '/public/a', ['Authorization', CLIENT_V2, ...CLIENT_AUTH_FIELDS, 'x-amz-meta-color', 'red']);
    const auth = rawValues(seen.rawHeaders, 'authorization');
    assert.equal(auth.length, 1);
    assert.match(auth[0]!, new RegExp(`^AWS ${ACCESS_KEY}:`));
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-date'), []);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-security-token'), []);
    assert.deepEqual(rawValues(seen.rawHeaders, 'x-amz-meta-color'), ['red']);
    // The meta field is in the string to sign: the signature only matches with it.
    assert.equal(auth[0], expectedV2(seen));
  });

  for (const [name, headers] of [
    ['AUTHORIZATION in upper case', ['AUTHORIZATION', CLIENT_V2]],
    ['two Authorization fields', ['Authorization', CLIENT_V2, 'authorization', CLIENT_V4]],
  ] as const) {
    test(`${name}: one Authorization, remapd’s`, STEP, async () => {
      const seen = await through('v2.test', '/public/a', [...headers]);
      const auth = rawValues(seen.rawHeaders, 'authorization');
      assert.equal(auth.length, 1);
      assert.equal(auth[0], expectedV2(seen));
    });
  }
});
