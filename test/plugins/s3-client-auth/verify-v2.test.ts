/**
 * SigV2 verification (verify-v2.ts) against a small independent signer written here from AWS's "Signing and
 * Authenticating REST Requests": the string to sign is spelled out by hand in every test, HMAC-SHA1 and base64 by
 * node:crypto. AWS's own worked examples are fixed vectors in aws-examples.test.ts.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type { AuthRequest, ClientSecret } from '../../../src/plugins/s3-client-auth/verify.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { accepted, ALICE, altered, options, refused, TOKEN_USER } from './support.js';

const T = { timeout: 10_000 };
const NOW = Date.UTC(2024, 4, 17, 12, 30, 0);
const DATE = new Date(NOW).toUTCString();

/** Base64(HMAC-SHA1(secret, UTF-8(stringToSign))). */
function sign(stringToSign: string, client: ClientSecret = ALICE): string {
  return createHmac('sha1', client.secretKey).update(stringToSign, 'utf8').digest('base64');
}

function req(method: string, path: string, search: string, headers: string[]): AuthRequest {
  return { method, path, search, headers: new HeaderList(headers) };
}

describe('SigV2 Authorization header', () => {
  test('a path-style GET verifies; bucket and key are decoded', T, () => {
    const sig = sign(`GET\n\n\n${DATE}\n/bucket/dir/a%20b.txt`);
    const v = accepted(req('GET', '/bucket/dir/a%20b.txt', '', ['Host', 's3.internal', 'Date', DATE, 'Authorization', `AWS ${ALICE.accessKey}:${sig}`]), options({ now: NOW }));
    assert.deepEqual(v, { accessKey: ALICE.accessKey, version: 2, form: 'header', payload: { kind: 'none' }, bucket: 'bucket', key: 'dir/a b.txt' });
  });

  test('virtual-host style signs /bucket before the path; Content-MD5, Content-Type and x-amz-* headers are signed', T, () => {
    const sts =
      `PUT\nrL0Y20zC+Fzt72VPzMSk2A==\ntext/plain\n${DATE}\n` +
      'x-amz-acl:private\nx-amz-meta-tags:a,b\n' +
      '/media/photos/cat%281%29.jpg?uploadId=ab+cd&partNumber=2';
    // Sub-resources in the string to sign are sorted and their values decoded (partNumber before uploadId).
    const stsSorted = sts.replace('?uploadId=ab+cd&partNumber=2', '?partNumber=2&uploadId=ab cd');
    const r = req('PUT', '/photos/cat%281%29.jpg', '?uploadId=ab%20cd&partNumber=2', [
      'Host', 'Media.S3.Example.com',
      'Date', DATE,
      'Content-MD5', 'rL0Y20zC+Fzt72VPzMSk2A==',
      'Content-Type', 'text/plain',
      'X-Amz-Meta-Tags', 'a',
      'x-amz-acl', ' private ',
      'x-amz-meta-tags', 'b',
      'Authorization', `AWS ${ALICE.accessKey}:${sign(stsSorted)}`,
    ]);
    const v = accepted(r, options({ now: NOW }));
    assert.deepEqual([v.bucket, v.key], ['media', 'photos/cat(1).jpg']);
    refused(altered(r, { headers: (h) => h.set('x-amz-acl', 'public-read') }), 'SignatureDoesNotMatch', options({ now: NOW }));
    refused(altered(r, { headers: (h) => h.set('Content-MD5', 'AAAAAAAAAAAAAAAAAAAAAA==') }), 'SignatureDoesNotMatch', options({ now: NOW }));
    refused(altered(r, { search: '?uploadId=ab%20cd&partNumber=3' }), 'SignatureDoesNotMatch', options({ now: NOW }));
  });

  test('a session token is an x-amz header like any other, and must be the client\'s', T, () => {
    const sts = (token: string) => `GET\n\n\n${DATE}\nx-amz-security-token:${token}\n/bucket/k`;
    const r = (client: ClientSecret, token: string) =>
      req('GET', '/bucket/k', '', ['Host', 's3.internal', 'Date', DATE, 'x-amz-security-token', token, 'Authorization', `AWS ${client.accessKey}:${sign(sts(token), client)}`]);
    accepted(r(TOKEN_USER, TOKEN_USER.sessionToken!), options({ now: NOW }));
    refused(r(TOKEN_USER, 'another'), 'InvalidToken', options({ now: NOW }));
    refused(r(ALICE, 'unexpected'), 'InvalidToken', options({ now: NOW }));
    const none = req('GET', '/bucket/k', '', ['Host', 's3.internal', 'Date', DATE, 'Authorization', `AWS ${TOKEN_USER.accessKey}:${sign(`GET\n\n\n${DATE}\n/bucket/k`, TOKEN_USER)}`]);
    refused(none, 'InvalidToken', options({ now: NOW }));
  });

  test('a wrong secret, an unknown key, a tampered path', T, () => {
    const good = sign(`GET\n\n\n${DATE}\n/bucket/k`);
    const headers = (auth: string) => ['Host', 's3.internal', 'Date', DATE, 'Authorization', auth];
    refused(req('GET', '/bucket/k', '', headers(`AWS ${ALICE.accessKey}:${sign(`GET\n\n\n${DATE}\n/bucket/k`, { ...ALICE, secretKey: 'x' })}`)), 'SignatureDoesNotMatch', options({ now: NOW }), 403, [good]);
    refused(req('GET', '/bucket/k', '', headers(`AWS NOBODY:${good}`)), 'InvalidAccessKeyId', options({ now: NOW }), 403);
    refused(req('GET', '/bucket/other', '', headers(`AWS ${ALICE.accessKey}:${good}`)), 'SignatureDoesNotMatch', options({ now: NOW }));
    refused(req('HEAD', '/bucket/k', '', headers(`AWS ${ALICE.accessKey}:${good}`)), 'SignatureDoesNotMatch', options({ now: NOW }));
  });

  test('the date: within 15 minutes (RequestTimeTooSkewed beyond), required (AccessDenied without)', T, () => {
    const r = req('GET', '/bucket/k', '', ['Host', 's3.internal', 'Date', DATE, 'Authorization', `AWS ${ALICE.accessKey}:${sign(`GET\n\n\n${DATE}\n/bucket/k`)}`]);
    accepted(r, options({ now: NOW + 15 * 60_000 }));
    refused(r, 'RequestTimeTooSkewed', options({ now: NOW + 16 * 60_000 }), 403);
    refused(r, 'RequestTimeTooSkewed', options({ now: NOW - 16 * 60_000 }));
    refused(altered(r, { headers: (h) => h.delete('date') }), 'AccessDenied', options({ now: NOW }));
    refused(altered(r, { headers: (h) => h.set('Date', 'yesterday') }), 'AccessDenied', options({ now: NOW }));
  });

  test('x-amz-date in ISO 8601 basic form is accepted too', T, () => {
    const amz = '20240517T123000Z';
    const r = req('GET', '/bucket/k', '', ['Host', 's3.internal', 'x-amz-date', amz, 'Authorization', `AWS ${ALICE.accessKey}:${sign(`GET\n\n\n\nx-amz-date:${amz}\n/bucket/k`)}`]);
    accepted(r, options({ now: NOW }));
  });

  test('a malformed header: InvalidArgument', T, () => {
    for (const auth of ['AWS ', 'AWS nocolon', `AWS ${ALICE.accessKey}:`, 'AWS :sig']) {
      refused(req('GET', '/bucket/k', '', ['Host', 's3.internal', 'Date', DATE, 'Authorization', auth]), 'InvalidArgument', options({ now: NOW }), 400);
    }
  });
});

describe('SigV2 query string', () => {
  const expires = String(Math.floor(NOW / 1000) + 600);

  test('Expires is the Date line; the signature may be sent with "+" unencoded', T, () => {
    const sig = sign(`GET\n\n\n${expires}\n/bucket/a%2Bb?response-content-type=text/plain`);
    const search = `?AWSAccessKeyId=${ALICE.accessKey}&Expires=${expires}&Signature=${encodeURIComponent(sig)}&response-content-type=text%2Fplain`;
    const v = accepted(req('GET', '/bucket/a%2Bb', search, ['Host', 's3.internal']), options({ now: NOW }));
    assert.deepEqual([v.version, v.form, v.key], [2, 'query', 'a+b']);
    accepted(req('GET', '/bucket/a%2Bb', search.replace(encodeURIComponent(sig), sig.replace(/\//g, '%2F').replace(/=/g, '%3D')), ['Host', 's3.internal']), options({ now: NOW }));
  });

  test('x-amz-* query parameters (botocore moves the session token there) are signed as amz headers', T, () => {
    const token = TOKEN_USER.sessionToken!;
    const sig = sign(`GET\n\n\n${expires}\nx-amz-security-token:${token}\n/bucket/k`, TOKEN_USER);
    const search = `?AWSAccessKeyId=${TOKEN_USER.accessKey}&Expires=${expires}&x-amz-security-token=${encodeURIComponent(token)}&Signature=${encodeURIComponent(sig)}`;
    accepted(req('GET', '/bucket/k', search, ['Host', 's3.internal']), options({ now: NOW }));
    refused(req('GET', '/bucket/k', search.replace(/&x-amz-security-token=[^&]+/, ''), ['Host', 's3.internal']), 'SignatureDoesNotMatch', options({ now: NOW }));
  });

  test('expired, missing parameters, a bad Expires, both mechanisms', T, () => {
    const sig = sign(`GET\n\n\n${expires}\n/bucket/k`);
    const search = `?AWSAccessKeyId=${ALICE.accessKey}&Expires=${expires}&Signature=${encodeURIComponent(sig)}`;
    const r = req('GET', '/bucket/k', search, ['Host', 's3.internal']);
    accepted(r, options({ now: Number(expires) * 1000 }));
    assert.equal(refused(r, 'AccessDenied', options({ now: Number(expires) * 1000 + 1 })).message, 'Request has expired');
    refused(altered(r, { search: search.replace(/&Signature=[^&]+/, '') }), 'AccessDenied', options({ now: NOW }));
    refused(altered(r, { search: search.replace(/AWSAccessKeyId=[^&]+&/, '') }), 'AccessDenied', options({ now: NOW }));
    refused(altered(r, { search: search.replace(`Expires=${expires}`, 'Expires=soon') }), 'AccessDenied', options({ now: NOW }));
    refused(altered(r, { search: `${search}&Expires=${expires}` }), 'AccessDenied', options({ now: NOW }));
    refused(altered(r, { headers: (h) => h.set('Authorization', `AWS ${ALICE.accessKey}:${sig}`) }), 'InvalidArgument', options({ now: NOW }));
    refused(altered(r, { search: `${search}&X-Amz-Signature=00` }), 'InvalidArgument', options({ now: NOW }));
    refused(altered(r, { path: '/bucket/k2' }), 'SignatureDoesNotMatch', options({ now: NOW }));
  });
});
