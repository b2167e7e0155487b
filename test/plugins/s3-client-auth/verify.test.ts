/**
 * verifyRequest's own decisions (verify.ts, verify-common.ts): anonymous or authenticated, which mechanism, one at
 * most; and the bucket and key a request addresses, in path and virtual-host style.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressOf, parseAmzDate, parseHttpDate, parseQuery, sameSecret, sameSignature } from '../../../src/plugins/s3-client-auth/verify-common.js';
import { verifyRequest } from '../../../src/plugins/s3-client-auth/verify.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { options, refused } from './support.js';

const T = { timeout: 10_000 };

describe('verifyRequest: which authentication', () => {
  test('a request without Authorization and without query authentication is anonymous: null', T, () => {
    const req = { method: 'GET', path: '/bucket/k', search: '?prefix=a&X-Amz-Meta=1&signature=lowercase', headers: new HeaderList(['Host', 's3.example.com']) };
    assert.equal(verifyRequest(req, options()), null);
    assert.equal(verifyRequest({ ...req, search: '' }, options()), null);
  });

  test('any one of X-Amz-Signature, X-Amz-Algorithm, X-Amz-Credential makes it a presigned URL (then all are required)', T, () => {
    for (const search of ['?X-Amz-Signature=abc', '?X-Amz-Algorithm=AWS4-HMAC-SHA256', '?X-Amz-Credential=a%2Fb']) {
      refused({ method: 'GET', path: '/b/k', search, headers: new HeaderList(['Host', 'h']) }, 'AuthorizationQueryParametersError');
    }
  });

  test('Signature or AWSAccessKeyId makes it a V2 query (then all three are required)', T, () => {
    for (const search of ['?Signature=abc', '?AWSAccessKeyId=ALICE']) {
      refused({ method: 'GET', path: '/b/k', search, headers: new HeaderList(['Host', 'h']) }, 'AccessDenied');
    }
  });

  test('two mechanisms at once (V4 and V2 query) are refused', T, () => {
    refused({ method: 'GET', path: '/b/k', search: '?X-Amz-Signature=a&Signature=b', headers: new HeaderList(['Host', 'h']) }, 'InvalidArgument');
  });

  test('an empty Authorization header is not anonymous', T, () => {
    refused({ method: 'GET', path: '/b/k', search: '', headers: new HeaderList(['Host', 'h', 'Authorization', '']) }, 'InvalidArgument');
  });
});

describe('addressOf: bucket and key', () => {
  const suffixes = ['s3.example.com', '.objects.internal.'];
  const cases: [string | undefined, string, string, string, string | null][] = [
    // host, path, bucket, key, bucket from host
    ['s3.example.com', '/', '', '', null],
    ['s3.example.com', '/bucket', 'bucket', '', null],
    ['s3.example.com', '/bucket/', 'bucket', '', null],
    ['s3.example.com', '/bucket/a/b%20c', 'bucket', 'a/b c', null],
    ['s3.example.com:9000', '/bucket/a%2Fb', 'bucket', 'a/b', null],
    ['bucket.s3.example.com', '/', 'bucket', '', 'bucket'],
    ['BUCKET.S3.EXAMPLE.COM.:443', '/a/b', 'bucket', 'a/b', 'bucket'],
    ['my.dotted.bucket.s3.example.com', '/k', 'my.dotted.bucket', 'k', 'my.dotted.bucket'],
    ['logs.objects.internal', '/2024/x', 'logs', '2024/x', 'logs'],
    ['other.example.com', '/bucket/k', 'bucket', 'k', null],
    ['[::1]:8080', '/bucket/k', 'bucket', 'k', null],
    [undefined, '/bucket/k', 'bucket', 'k', null],
    ['s3.example.com', '/b/%E6%97%A5%E6%9C%AC', 'b', '日本', null],
    ['s3.example.com', '/b/a+b', 'b', 'a b', null],
  ];
  for (const [host, path, bucket, key, hostBucket] of cases) {
    test(`${host ?? '(no Host)'} ${path} → bucket "${bucket}", key "${key}"`, T, () => {
      assert.deepEqual(addressOf(host, path, suffixes, true), { bucket, key, hostBucket });
    });
  }

  test('with plusIsSpace false a "+" stays a plus', T, () => {
    assert.equal(addressOf('s3.example.com', '/b/a+b', suffixes, false).key, 'a+b');
  });
});

describe('helpers', () => {
  test('parseQuery keeps repeated names, bare names and the raw pieces', T, () => {
    assert.deepEqual(parseQuery('?a=1&a=2&acl&b=%2F+x&&', true), [
      { name: 'a', value: '1', raw: 'a=1' },
      { name: 'a', value: '2', raw: 'a=2' },
      { name: 'acl', value: '', raw: 'acl' },
      { name: 'b', value: '/ x', raw: 'b=%2F+x' },
    ]);
    assert.deepEqual(parseQuery('', true), []);
    assert.deepEqual(parseQuery('?', true), []);
  });

  test('dates: ISO 8601 basic, HTTP dates, and nonsense', T, () => {
    assert.equal(parseAmzDate('20130524T000000Z'), Date.UTC(2013, 4, 24));
    assert.ok(Number.isNaN(parseAmzDate('20130231T000000Z')));
    assert.ok(Number.isNaN(parseAmzDate('20130524T246000Z')));
    assert.equal(parseHttpDate('Fri, 24 May 2013 00:00:00 GMT'), Date.UTC(2013, 4, 24));
    assert.equal(parseHttpDate('Tue, 27 Mar 2007 19:36:42 +0000'), Date.UTC(2007, 2, 27, 19, 36, 42));
    assert.equal(parseHttpDate('20130524T000000Z'), Date.UTC(2013, 4, 24));
    assert.ok(Number.isNaN(parseHttpDate('2013')));
    assert.ok(Number.isNaN(parseHttpDate('soon')));
  });

  test('constant-time comparisons: different lengths differ, equal strings are equal', T, () => {
    assert.equal(sameSignature('abc', 'abc'), true);
    assert.equal(sameSignature('abc', 'abd'), false);
    assert.equal(sameSignature('abc', 'abcd'), false);
    assert.equal(sameSignature('', ''), true);
    assert.equal(sameSecret('token', 'token'), true);
    assert.equal(sameSecret('token', 'token2'), false);
  });
});
