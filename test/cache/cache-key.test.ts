/**
 * The cache key: the post-remap URL (scheme, host, port, path, query), the host lower-cased, the volatile auth
 * parameters of presigned URLs left out, the whole query left out on request, and RFC 3986 §6.2.2 normalisation
 * (or the normaliser the rule supplies).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheKeyOf, type KeyNormalizer, rfc3986Normalize } from '../../src/cache/cache-key.js';

type KeyParts = Parameters<typeof cacheKeyOf>[0];

const base: KeyParts = { scheme: 'http', host: 'bucket.s3.example', port: 9000, path: '/dir/obj.txt', search: '' };
const key = (over: Partial<KeyParts>, ignoreQuery = false, normalize?: KeyNormalizer) =>
  cacheKeyOf({ ...base, ...over }, ignoreQuery, normalize);

describe('cacheKeyOf: the URL parts', () => {
  test('is scheme://host:port/path?query', () => {
    assert.equal(key({ search: '?versionId=3' }), 'http://bucket.s3.example:9000/dir/obj.txt?versionId=3');
  });

  test('scheme, host, port, path and query each make a different key', () => {
    const keys = new Set([
      key({}),
      key({ scheme: 'https' }),
      key({ host: 'other.s3.example' }),
      key({ port: 9001 }),
      key({ path: '/dir/obj2.txt' }),
      key({ search: '?versionId=3' }),
    ]);
    assert.equal(keys.size, 6);
  });

  test('lower-cases the host', () => {
    assert.equal(key({ host: 'Bucket.S3.EXAMPLE' }), key({}));
  });

  test('keeps the case of the path', () => {
    assert.notEqual(key({ path: '/Dir/Obj.txt' }), key({}));
  });

  test('an empty query (a lone "?") is no query', () => {
    assert.equal(key({ search: '?' }), 'http://bucket.s3.example:9000/dir/obj.txt');
  });
});

describe('cacheKeyOf: auth parameters', () => {
  test('leaves out every SigV4 X-Amz-* parameter of a presigned URL', () => {
    const search =
      '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240301%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20240301T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok' +
      '&X-Amz-Signature=0123abcd';
    assert.equal(key({ search }), 'http://bucket.s3.example:9000/dir/obj.txt');
  });

  test('leaves out x-amz- parameters in any case', () => {
    assert.equal(key({ search: '?x-amz-date=1&X-AMZ-SIGNATURE=2&x-Amz-Credential=3' }), key({}));
  });

  test('leaves out the SigV2 Signature, Expires and AWSAccessKeyId parameters', () => {
    assert.equal(key({ search: '?AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc%2Bdef%3D' }), key({}));
  });

  test('leaves out an auth parameter whose name is percent-encoded', () => {
    assert.equal(key({ search: '?X%2DAmz%2DSignature=1&X%2dAmz%2dDate=2' }), key({}));
  });

  test('keeps the other parameters, in their order, with a signature mixed in', () => {
    assert.equal(
      key({ search: '?b=2&X-Amz-Date=20240301T120000Z&a=1&Signature=x&response-content-type=text%2Fplain&flag' }),
      'http://bucket.s3.example:9000/dir/obj.txt?b=2&a=1&response-content-type=text%2Fplain&flag',
    );
  });

  test('two presigned URLs for one object with different signatures share a key', () => {
    const a = key({ search: '?versionId=3&X-Amz-Date=20240301T120000Z&X-Amz-Signature=aaaa' });
    const b = key({ search: '?versionId=3&X-Amz-Date=20240302T080000Z&X-Amz-Signature=bbbb' });
    assert.equal(a, b);
    assert.equal(a, key({ search: '?versionId=3' }));
  });

  test('a parameter that only contains an auth name is kept', () => {
    assert.equal(key({ search: '?my-x-amz-date=1&SignatureV=2' }), `${key({})}?my-x-amz-date=1&SignatureV=2`);
  });
});

describe('cacheKeyOf: ignoreQuery', () => {
  test('leaves the whole query out', () => {
    assert.equal(key({ search: '?versionId=3&a=1' }, true), 'http://bucket.s3.example:9000/dir/obj.txt');
    assert.equal(key({ search: '?versionId=3' }, true), key({ search: '?versionId=4' }, true));
  });
});

describe('cacheKeyOf: normalisation', () => {
  test('decodes percent-encoded unreserved characters (%7E is ~) in the path and query', () => {
    assert.equal(key({ path: '/a%7Eb%2Dc%5F%2E%41', search: '?q=%7e' }), key({ path: '/a~b-c_.A', search: '?q=~' }));
  });

  test('upper-cases the hex of other triplets', () => {
    assert.equal(key({ path: '/a%2fb%c3%a9' }), 'http://bucket.s3.example:9000/a%2Fb%C3%A9');
    assert.equal(key({ path: '/a%2fb' }), key({ path: '/a%2Fb' }));
  });

  test('keeps reserved characters encoded (%2F is not /)', () => {
    assert.notEqual(key({ path: '/a%2Fb' }), key({ path: '/a/b' }));
  });

  test('+ and %20 stay distinct', () => {
    assert.notEqual(key({ path: '/a+b' }), key({ path: '/a%20b' }));
    assert.notEqual(key({ search: '?q=a+b' }), key({ search: '?q=a%20b' }));
  });

  test('rfc3986Normalize on its own', () => {
    assert.deepEqual(rfc3986Normalize('/x%7e%2f', '?k=%7E%3d'), { path: '/x~%2F', search: '?k=~%3D' });
  });

  test("uses the rule's normaliser instead, with the path and the query it would key on", () => {
    const seen: [string, string][] = [];
    const s3: KeyNormalizer = (path, search) => {
      seen.push([path, search]);
      return { path: path.replace(/\+/g, '%20'), search };
    };
    assert.equal(key({ path: '/a+b' }, false, s3), key({ path: '/a%20b' }, false, s3));
    // The default normaliser would have decoded %7E; this one does not.
    assert.equal(key({ path: '/a%7E', search: '?v=1' }, false, s3), 'http://bucket.s3.example:9000/a%7E?v=1');
    key({ path: '/p', search: '?v=1' }, true, s3);
    assert.deepEqual(seen, [
      ['/a+b', ''],
      ['/a%20b', ''],
      ['/a%7E', '?v=1'],
      ['/p', ''],
    ]);
  });
});
