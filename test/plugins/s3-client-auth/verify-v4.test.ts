/**
 * SigV4 verification (verify-v4.ts) against AWS's own signer: every accepted request here was signed by
 * @smithy/signature-v4 exactly as the AWS SDKs sign (header auth with `sign()`, presigned URLs with `presign()`),
 * and every refusal is a change a client or an attacker could make, answered with S3's code.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { EMPTY_SHA256 } from '../../../src/plugins/s3-auth/constants.js';
import {
  accepted,
  ALICE,
  altered,
  awsPath,
  options,
  presign,
  refused,
  signatureOf,
  signHeader,
  SIGNING_DATE,
  TOKEN_USER,
} from './support.js';

const T = { timeout: 10_000 };
const MINUTE = 60_000;

describe('SigV4 Authorization header: accepted as the SDK signs it', () => {
  test('a GET in path style names its bucket and key', T, async () => {
    const v = accepted(await signHeader({ path: '/photos/2024/cat.jpg' }));
    assert.deepEqual(v, { accessKey: ALICE.accessKey, version: 4, form: 'header', payload: { kind: 'sha256', hash: EMPTY_SHA256 }, bucket: 'photos', key: '2024/cat.jpg' });
  });

  const keys = [
    ['unicode', 'docs/日本語/résumé.txt'],
    ['a plus', 'a+b.txt'],
    ['a space', 'with space/and  two'],
    ['a percent sign', '100%/50%25'],
    ['parentheses', '(draft) v2.txt'],
    ["!*' ", "bang!star*quote'.txt"],
    ['a trailing slash', 'folder/'],
    ['reserved characters', 'a:b;c=d&e@f$g,h[i]j#k?l'],
  ] as const;
  for (const [what, key] of keys) {
    test(`a key with ${what} verifies and is returned decoded`, T, async () => {
      const v = accepted(await signHeader({ path: `/bucket/${awsPath(key)}` }));
      assert.equal(v.bucket, 'bucket');
      assert.equal(v.key, key);
    });
  }

  test('a client that sends a raw "(" or a lower-case "%2b" but signed the AWS encoding verifies', T, async () => {
    const paren = await signHeader({ path: '/bucket/%28x%29', wirePath: '/bucket/(x)' });
    assert.equal(accepted(paren).key, '(x)');
    const plus = await signHeader({ path: '/bucket/a%2Bb', wirePath: '/bucket/a%2bb' });
    assert.equal(accepted(plus).key, 'a+b');
  });

  test('a raw "+" in the path is a space, as S3 reads it; with plusIsSpace false it is a plus', T, async () => {
    // Signed as a space: what S3 (and the origin signer by default) makes of the '+'.
    const asSpace = await signHeader({ path: '/bucket/a%20b', wirePath: '/bucket/a+b' });
    assert.equal(accepted(asSpace).key, 'a b');
    refused(asSpace, 'SignatureDoesNotMatch', options({ plusIsSpace: false }));
    const asPlus = await signHeader({ path: '/bucket/a%2Bb', wirePath: '/bucket/a+b' });
    refused(asPlus, 'SignatureDoesNotMatch');
    assert.equal(accepted(asPlus, options({ plusIsSpace: false })).key, 'a+b');
  });

  test('S3 does not remove dot segments or collapse slashes: they are signed as sent', T, async () => {
    const v = accepted(await signHeader({ path: '/bucket/a/../b//c/./d' }));
    assert.equal(v.key, 'a/../b//c/./d');
  });

  test('a query with repeated names, an encoded value and a bare sub-resource verifies', T, async () => {
    accepted(await signHeader({ path: '/bucket', query: { 'list-type': '2', prefix: 'a b/é+', marker: ['z', 'a', 'm'] } }));
    accepted(await signHeader({ path: '/bucket/key', query: { acl: '' } }));
    accepted(await signHeader({ path: '/bucket/key', query: { uploadId: 'VXBsb2FkIElE+/=', partNumber: '3' }, method: 'PUT', body: 'part' }));
  });

  test('virtual-host style: the bucket comes from the Host (port and case ignored), the whole path is the key', T, async () => {
    const v = accepted(await signHeader({ host: 'My-Bucket.S3.Example.com:8443', path: '/dir/key.txt' }));
    assert.equal(v.bucket, 'my-bucket');
    assert.equal(v.key, 'dir/key.txt');
    const dotted = accepted(await signHeader({ host: 'logs.2024.s3.amazonaws.com', path: '/a' }));
    assert.equal(dotted.bucket, 'logs.2024');
  });

  test('the service root (ListBuckets) has bucket ""; a host that is just the suffix is path style', T, async () => {
    const root = accepted(await signHeader({ path: '/' }));
    assert.deepEqual([root.bucket, root.key], ['', '']);
    const bucketOnly = accepted(await signHeader({ path: '/only-bucket' }));
    assert.deepEqual([bucketOnly.bucket, bucketOnly.key], ['only-bucket', '']);
  });

  test('a PUT with a body gives the signed SHA-256 to check the body against', T, async () => {
    const body = 'hello, world\n';
    const v = accepted(await signHeader({ method: 'PUT', path: '/bucket/hello.txt', body, headers: { 'content-type': 'text/plain', 'x-amz-meta-owner': 'me' } }));
    assert.deepEqual(v.payload, { kind: 'sha256', hash: createHash('sha256').update(body).digest('hex') });
  });

  test('UNSIGNED-PAYLOAD is accepted when allowed, refused with InvalidRequest when not', T, async () => {
    const req = await signHeader({ method: 'PUT', path: '/bucket/k', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    assert.deepEqual(accepted(req).payload, { kind: 'unsigned' });
    refused(req, 'InvalidRequest', options({ allowUnsignedPayload: false }), 400);
  });

  test('a session token: accepted when it is the client\'s', T, async () => {
    const req = await signHeader({ path: '/bucket/k' }, { client: TOKEN_USER });
    assert.equal(req.headers.get('x-amz-security-token'), TOKEN_USER.sessionToken);
    assert.equal(accepted(req).accessKey, TOKEN_USER.accessKey);
  });

  test('signing extra headers (range, content-type) is fine; the signature covers them', T, async () => {
    accepted(await signHeader({ path: '/bucket/k', headers: { range: 'bytes=0-99', 'content-type': 'text/plain' } }, { signableHeaders: new Set(['range']) }));
  });

  test('the date may be within 15 minutes either side of the proxy clock', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    accepted(req, options({ now: SIGNING_DATE.getTime() + 15 * MINUTE }));
    accepted(req, options({ now: SIGNING_DATE.getTime() - 15 * MINUTE }));
  });

  test('an Authorization header without spaces after its commas (AWS\'s chunked example) parses', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    const tight = altered(req, { headers: (h) => h.set('Authorization', h.get('authorization')!.replace(/, /g, ',')) });
    accepted(tight);
  });

  test('with a region configured, a request for that region is accepted', T, async () => {
    accepted(await signHeader({ path: '/bucket/k' }, { region: 'eu-west-3' }), options({ region: 'eu-west-3' }));
  });
});

describe('SigV4 Authorization header: refused', () => {
  test('a wrong secret: SignatureDoesNotMatch 403 with S3\'s message, and no secret or computed signature in it', T, async () => {
    const good = await signHeader({ path: '/bucket/k' });
    const bad = await signHeader({ path: '/bucket/k' }, { client: { ...ALICE, secretKey: 'not-the-secret' } });
    const err = refused(bad, 'SignatureDoesNotMatch', options(), 403, [signatureOf(good)]);
    assert.equal(err.message, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
    assert.match(err.body!.text, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.match(err.body!.text, /<Resource>\/bucket\/k<\/Resource>/);
  });

  test('an unknown access key: InvalidAccessKeyId 403', T, async () => {
    refused(await signHeader({ path: '/bucket/k' }, { client: { ...ALICE, accessKey: 'NOBODY' } }), 'InvalidAccessKeyId', options(), 403);
  });

  test('a tampered path, query value, added query parameter or method: SignatureDoesNotMatch', T, async () => {
    const req = await signHeader({ path: '/bucket/k', query: { prefix: 'a' } });
    refused(altered(req, { path: '/bucket/other' }), 'SignatureDoesNotMatch');
    refused(altered(req, { path: '/other/k' }), 'SignatureDoesNotMatch');
    refused(altered(req, { search: '?prefix=b' }), 'SignatureDoesNotMatch');
    refused(altered(req, { search: '?prefix=a&delimiter=%2F' }), 'SignatureDoesNotMatch');
    refused(altered(req, { search: '?prefix=a&prefix=a' }), 'SignatureDoesNotMatch');
    refused(altered(req, { method: 'DELETE' }), 'SignatureDoesNotMatch');
  });

  test('a modified or missing signed header: SignatureDoesNotMatch (never a crash)', T, async () => {
    const req = await signHeader({ path: '/bucket/k', headers: { range: 'bytes=0-9' } }, { signableHeaders: new Set(['range']) });
    refused(altered(req, { headers: (h) => h.set('Range', 'bytes=0-999999') }), 'SignatureDoesNotMatch');
    refused(altered(req, { headers: (h) => h.delete('range') }), 'SignatureDoesNotMatch');
    refused(altered(req, { headers: (h) => h.set('Host', 'other.example.com') }), 'SignatureDoesNotMatch');
    refused(altered(req, { headers: (h) => h.add('Range', 'bytes=5-6') }), 'SignatureDoesNotMatch');
  });

  test('an x-amz-* header that was not signed: AccessDenied (HeadersNotSigned)', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    const err = refused(altered(req, { headers: (h) => h.add('x-amz-acl', 'public-read') }), 'AccessDenied', options(), 403);
    assert.equal(err.message, 'There were headers present in the request which were not signed');
    assert.match(err.detail!, /x-amz-acl/);
  });

  test('host must be signed', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    const noHost = altered(req, { headers: (h) => h.set('Authorization', h.get('authorization')!.replace('SignedHeaders=host;', 'SignedHeaders=')) });
    refused(noHost, 'AuthorizationHeaderMalformed', options(), 400);
  });

  test('a date more than 15 minutes off: RequestTimeTooSkewed 403', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    refused(req, 'RequestTimeTooSkewed', options({ now: SIGNING_DATE.getTime() + 15 * MINUTE + 1000 }), 403);
    refused(req, 'RequestTimeTooSkewed', options({ now: SIGNING_DATE.getTime() - 16 * MINUTE }), 403);
  });

  test('no usable date: AccessDenied', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    refused(altered(req, { headers: (h) => h.set('x-amz-date', '2024-05-17T12:30:00Z') }), 'AccessDenied');
    refused(altered(req, { headers: (h) => h.set('x-amz-date', '20240230T123000Z') }), 'AccessDenied');
  });

  test('a malformed Authorization header: AuthorizationHeaderMalformed 400', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    const auth = req.headers.get('authorization')!;
    const variants = [
      auth.replace(/, Signature=[0-9a-f]+/, ''),
      auth.replace('Credential=', 'Credentials='),
      `${auth}, Signature=00`,
      'AWS4-HMAC-SHA256 garbage',
      'AWS4-HMAC-SHA256 ',
      auth.replace(/Credential=[^,]+/, 'Credential=ALICEKEY0000000000001/2024-05-17/us-east-1/s3/aws4_request'),
      auth.replace(/Credential=[^,]+/, 'Credential=us-east-1/s3/aws4_request'),
      auth.replace('SignedHeaders=host;', 'SignedHeaders=Host;'),
      auth.replace('SignedHeaders=host;', 'SignedHeaders=host;host;'),
    ];
    for (const value of variants) refused(altered(req, { headers: (h) => h.set('Authorization', value) }), 'AuthorizationHeaderMalformed', options(), 400);
  });

  test('an unknown scheme (Bearer, SigV4a) is refused, not treated as anonymous', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    refused(altered(req, { headers: (h) => h.set('Authorization', 'Bearer abc') }), 'InvalidArgument', options(), 400);
    refused(altered(req, { headers: (h) => h.set('Authorization', 'AWS4-ECDSA-P256-SHA256 Credential=x') }), 'InvalidArgument');
    refused(altered(req, { headers: (h) => h.add('Authorization', h.get('authorization')!) }), 'InvalidArgument');
  });

  test('the credential scope: wrong region (when one is set), wrong date, service or terminator', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    const err = refused(req, 'AuthorizationHeaderMalformed', options({ region: 'eu-central-1' }), 400);
    assert.match(err.message, /the region 'us-east-1' is wrong; expecting 'eu-central-1'/);
    const scope = (s: string) => altered(req, { headers: (h) => h.set('Authorization', h.get('authorization')!.replace('20240517/us-east-1/s3/aws4_request', s)) });
    refused(scope('20240516/us-east-1/s3/aws4_request'), 'AuthorizationHeaderMalformed');
    refused(scope('20240517/us-east-1/ec2/aws4_request'), 'AuthorizationHeaderMalformed');
    refused(scope('20240517/us-east-1/s3/aws5_request'), 'AuthorizationHeaderMalformed');
    // Another region is fine while none is configured — but it is signed, so only the client's own scope verifies.
    refused(scope('20240517/eu-west-1/s3/aws4_request'), 'SignatureDoesNotMatch');
  });

  test('x-amz-content-sha256 missing: InvalidRequest; not a hash or marker: InvalidArgument; SigV4a streaming: InvalidRequest', T, async () => {
    const noHash = await signHeader({ path: '/bucket/k' }, { unsignableHeaders: new Set(['x-amz-content-sha256']) });
    refused(altered(noHash, { headers: (h) => h.delete('x-amz-content-sha256') }), 'InvalidRequest', options(), 400);
    refused(await signHeader({ path: '/bucket/k', headers: { 'x-amz-content-sha256': 'abc' } }), 'InvalidArgument', options(), 400);
    refused(await signHeader({ path: '/bucket/k', headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' } }), 'InvalidRequest');
  });

  test('STREAMING-UNSIGNED-PAYLOAD-TRAILER is refused when unsigned payloads are not allowed', T, async () => {
    const req = await signHeader({
      method: 'PUT',
      path: '/bucket/k',
      headers: { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-decoded-content-length': '5' },
    });
    const v = accepted(req);
    assert.equal(v.payload.kind, 'chunked');
    refused(req, 'InvalidRequest', options({ allowUnsignedPayload: false }));
  });

  test('session tokens: a wrong, missing or unexpected token is InvalidToken', T, async () => {
    const wrong = await signHeader({ path: '/bucket/k' }, { client: { ...TOKEN_USER, sessionToken: 'another-token' } });
    refused(wrong, 'InvalidToken', options(), 400);
    const none = await signHeader({ path: '/bucket/k' }, { client: { ...TOKEN_USER, sessionToken: null } });
    refused(none, 'InvalidToken');
    const unexpected = await signHeader({ path: '/bucket/k' }, { client: { ...ALICE, sessionToken: 'surprise' } });
    refused(unexpected, 'InvalidToken');
  });

  test('a signature of the wrong length or case is a mismatch, not an error', T, async () => {
    const req = await signHeader({ path: '/bucket/k' });
    const sig = signatureOf(req);
    refused(altered(req, { headers: (h) => h.set('Authorization', h.get('authorization')!.replace(sig, sig.slice(0, 63))) }), 'SignatureDoesNotMatch');
    refused(altered(req, { headers: (h) => h.set('Authorization', h.get('authorization')!.replace(sig, sig.toUpperCase())) }), 'SignatureDoesNotMatch');
  });
});

describe('SigV4 presigned URL: accepted as the SDK presigns it', () => {
  test('a presigned GET verifies, form query, nothing to check in the body', T, async () => {
    const req = await presign({ path: `/bucket/${awsPath('reports/Q1 (final).pdf')}` });
    const v = accepted(req);
    assert.deepEqual(v, { accessKey: ALICE.accessKey, version: 4, form: 'query', payload: { kind: 'none' }, bucket: 'bucket', key: 'reports/Q1 (final).pdf' });
  });

  test('a presigned URL with its own parameters (response overrides, repeated names) verifies', T, async () => {
    accepted(await presign({ path: '/bucket/k', query: { 'response-content-disposition': 'attachment; filename="a b.txt"', versionId: 'v1+/=' } }));
  });

  test('a presigned URL with a session token verifies (the token travels in X-Amz-Security-Token)', T, async () => {
    const req = await presign({ path: '/bucket/k' }, { client: TOKEN_USER });
    assert.match(req.search, /X-Amz-Security-Token=/);
    accepted(req);
  });

  test('it is valid until X-Amz-Date + X-Amz-Expires, and up to 15 minutes before its date', T, async () => {
    const req = await presign({ path: '/bucket/k' }, { expiresIn: 600 });
    accepted(req, options({ now: SIGNING_DATE.getTime() + 600_000 }));
    accepted(req, options({ now: SIGNING_DATE.getTime() - 15 * MINUTE }));
  });

  test('a presigned PUT that signed its body hash gives that hash to check', T, async () => {
    const hash = createHash('sha256').update('x').digest('hex');
    const req = await presign({ method: 'PUT', path: '/bucket/k', headers: { 'X-Amz-Content-Sha256': hash } });
    assert.deepEqual(accepted(req).payload, { kind: 'sha256', hash });
  });

  test('a presigned URL for a virtual-hosted bucket', T, async () => {
    const v = accepted(await presign({ host: 'media.s3.example.com', path: '/a/b.png' }));
    assert.deepEqual([v.bucket, v.key], ['media', 'a/b.png']);
  });
});

describe('SigV4 presigned URL: refused', () => {
  test('expired: AccessDenied "Request has expired"', T, async () => {
    const req = await presign({ path: '/bucket/k' }, { expiresIn: 600 });
    const err = refused(req, 'AccessDenied', options({ now: SIGNING_DATE.getTime() + 601_000 }), 403);
    assert.equal(err.message, 'Request has expired');
  });

  test('dated more than 15 minutes ahead: AccessDenied "Request is not yet valid"', T, async () => {
    const req = await presign({ path: '/bucket/k' });
    const err = refused(req, 'AccessDenied', options({ now: SIGNING_DATE.getTime() - 16 * MINUTE }));
    assert.equal(err.message, 'Request is not yet valid');
  });

  test('X-Amz-Expires over seven days, zero, or not a number: AuthorizationQueryParametersError 400', T, async () => {
    const req = await presign({ path: '/bucket/k' });
    const withExpires = (v: string) => altered(req, { search: req.search.replace(/X-Amz-Expires=\d+/, `X-Amz-Expires=${v}`) });
    accepted(await presign({ path: '/bucket/k' }, { expiresIn: 604_800 }));
    const err = refused(withExpires('604801'), 'AuthorizationQueryParametersError', options(), 400);
    assert.match(err.message, /604800/);
    refused(withExpires('0'), 'AuthorizationQueryParametersError');
    refused(withExpires('-5'), 'AuthorizationQueryParametersError');
    refused(withExpires('1e3'), 'AuthorizationQueryParametersError');
  });

  test('a missing, repeated or malformed authentication parameter: AuthorizationQueryParametersError', T, async () => {
    const req = await presign({ path: '/bucket/k' });
    const drop = (name: string) => altered(req, { search: req.search.replace(new RegExp(`&?${name}=[^&]*`), '').replace('?&', '?') });
    for (const name of ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders']) {
      refused(drop(name), 'AuthorizationQueryParametersError', options(), 400);
    }
    refused(altered(req, { search: `${req.search}&X-Amz-Date=20240517T123000Z` }), 'AuthorizationQueryParametersError');
    refused(altered(req, { search: req.search.replace('X-Amz-Algorithm=AWS4-HMAC-SHA256', 'X-Amz-Algorithm=AWS4-HMAC-SHA1') }), 'AuthorizationQueryParametersError');
    refused(altered(req, { search: req.search.replace(/X-Amz-Date=\w+/, 'X-Amz-Date=2024-05-17') }), 'AuthorizationQueryParametersError');
    refused(altered(req, { search: req.search.replace(/X-Amz-Credential=[^&]+/, 'X-Amz-Credential=nope') }), 'AuthorizationQueryParametersError');
  });

  test('a tampered or added query parameter, another path or another key: SignatureDoesNotMatch / InvalidAccessKeyId', T, async () => {
    const req = await presign({ path: '/bucket/k', query: { versionId: 'v1' } });
    refused(altered(req, { search: req.search.replace('versionId=v1', 'versionId=v2') }), 'SignatureDoesNotMatch');
    refused(altered(req, { search: `${req.search}&response-content-type=text%2Fhtml` }), 'SignatureDoesNotMatch');
    refused(altered(req, { path: '/bucket/other' }), 'SignatureDoesNotMatch');
    refused(altered(req, { search: req.search.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${'0'.repeat(64)}`) }), 'SignatureDoesNotMatch');
    refused(await presign({ path: '/bucket/k' }, { client: { ...ALICE, accessKey: 'NOBODY' } }), 'InvalidAccessKeyId');
    refused(await presign({ path: '/bucket/k' }, { client: { ...ALICE, secretKey: 'wrong' } }), 'SignatureDoesNotMatch');
  });

  test('an unsigned x-amz-* header sent with a presigned URL: AccessDenied', T, async () => {
    const req = await presign({ path: '/bucket/k' });
    refused(altered(req, { headers: (h) => h.add('x-amz-acl', 'public-read') }), 'AccessDenied');
  });

  test('both an Authorization header and a presigned query: InvalidArgument "Only one auth mechanism allowed"', T, async () => {
    const url = await presign({ path: '/bucket/k' });
    const header = await signHeader({ path: '/bucket/k' });
    const both = altered(url, { headers: (h) => h.set('Authorization', header.headers.get('authorization')!) });
    const err = refused(both, 'InvalidArgument', options(), 400);
    assert.match(err.message, /^Only one auth mechanism allowed/);
  });

  test('a wrong or missing session token: InvalidToken', T, async () => {
    refused(await presign({ path: '/bucket/k' }, { client: { ...TOKEN_USER, sessionToken: 'other' } }), 'InvalidToken');
    refused(await presign({ path: '/bucket/k' }, { client: { ...TOKEN_USER, sessionToken: null } }), 'InvalidToken');
  });

  test('a presigned URL naming a streaming payload: InvalidRequest', T, async () => {
    refused(await presign({ path: '/bucket/k', headers: { 'X-Amz-Content-Sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' } }), 'InvalidRequest');
  });

  test('a region other than the configured one: AuthorizationQueryParametersError', T, async () => {
    refused(await presign({ path: '/bucket/k' }, { region: 'us-west-2' }), 'AuthorizationQueryParametersError', options({ region: 'us-east-1' }));
  });
});
