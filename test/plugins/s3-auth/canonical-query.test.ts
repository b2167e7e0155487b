/**
 * canonical-query.ts: the canonical query string (every parameter kept, sorted by name then value, `name=` for a
 * bare name) and the wire query (client's order, bare names bare, same encoding).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeQuery } from '../../../src/plugins/s3-auth/canonical-query.js';

describe('normalizeQuery', () => {
  test('AWS example ?max-keys=2&prefix=J is canonical as it is', () => {
    assert.deepEqual(normalizeQuery('?max-keys=2&prefix=J', true), { canonical: 'max-keys=2&prefix=J', search: '?max-keys=2&prefix=J' });
  });

  test('AWS example ?lifecycle signs `lifecycle=` and goes out bare', () => {
    assert.deepEqual(normalizeQuery('?lifecycle', true), { canonical: 'lifecycle=', search: '?lifecycle' });
  });

  test('no query, or a lone `?`, is empty on the wire and in the canonical form', () => {
    assert.deepEqual(normalizeQuery('', true), { canonical: '', search: '' });
    assert.deepEqual(normalizeQuery('?', true), { canonical: '', search: '' });
  });

  test('empty pieces between `&` are dropped', () => {
    assert.deepEqual(normalizeQuery('?&&', true), { canonical: '', search: '' });
    assert.deepEqual(normalizeQuery('?&a=1&&b=2&', true), { canonical: 'a=1&b=2', search: '?a=1&b=2' });
  });

  test('sorts by name, then value, and keeps the client order on the wire', () => {
    assert.deepEqual(normalizeQuery('?Param2=value2&Param1=value1', true), {
      canonical: 'Param1=value1&Param2=value2',
      search: '?Param2=value2&Param1=value1',
    });
    assert.equal(normalizeQuery('?a=b&a=a&A=z', true).canonical, 'A=z&a=a&a=b');
  });

  test('sorts by name before value: `a` comes before `a-b` although `-` sorts before `=`', () => {
    // A sort of the joined `k=v` strings (one of s3rver's bugs, issue 3) would put a-b=1 first.
    assert.equal(normalizeQuery('?a-b=1&a=2', true).canonical, 'a=2&a-b=1');
  });

  test('sorts by the encoded bytes', () => {
    // `%20` (0x25) before `0` (0x30) before `A` before `_` before `a`.
    assert.equal(normalizeQuery('?a=a&a=_&a=A&a=0&a=%20', true).canonical, 'a=%20&a=0&a=A&a=_&a=a');
  });

  test('keeps repeated names, each with its own value', () => {
    assert.deepEqual(normalizeQuery('?tag=b&tag=a&tag=b', true), { canonical: 'tag=a&tag=b&tag=b', search: '?tag=b&tag=a&tag=b' });
  });

  test('a bare name is `name=` in the canonical form but bare on the wire; `name=` stays `name=`', () => {
    assert.deepEqual(normalizeQuery('?acl&versionId=', true), { canonical: 'acl=&versionId=', search: '?acl&versionId=' });
  });

  test('an empty value sorts before any other value of the same name', () => {
    assert.equal(normalizeQuery('?a=1&a', true).canonical, 'a=&a=1');
  });

  test('encodes `!\'()*` and every other reserved character, in names and values', () => {
    assert.deepEqual(normalizeQuery("?k!'()*=v!'()*", true), {
      canonical: 'k%21%27%28%29%2A=v%21%27%28%29%2A',
      search: '?k%21%27%28%29%2A=v%21%27%28%29%2A',
    });
    assert.equal(normalizeQuery('?prefix=a/b:c@d,e;f$g', true).canonical, 'prefix=a%2Fb%3Ac%40d%2Ce%3Bf%24g');
  });

  test('a value holding `=` keeps everything after the first `=`', () => {
    assert.equal(normalizeQuery('?a=b=c', true).canonical, 'a=b%3Dc');
  });

  test('does not double-encode, and upper-cases lower-case hex', () => {
    assert.deepEqual(normalizeQuery('?prefix=a%2fb%20c&x=%41', true), { canonical: 'prefix=a%2Fb%20c&x=A', search: '?prefix=a%2Fb%20c&x=A' });
  });

  test('encodes non-ASCII names and values as UTF-8', () => {
    // Sorted by the encoded name: `%C3%A9` (é) comes before `prefix`.
    assert.deepEqual(normalizeQuery('?prefix=日本&é=%c3%bc', true), {
      canonical: '%C3%A9=%C3%BC&prefix=%E6%97%A5%E6%9C%AC',
      search: '?prefix=%E6%97%A5%E6%9C%AC&%C3%A9=%C3%BC',
    });
  });

  test('keeps a stray `%` as %25', () => {
    assert.equal(normalizeQuery('?discount=50%', true).canonical, 'discount=50%25');
  });

  test('reads `+` as a space when asked (S3), and as a plus otherwise', () => {
    assert.deepEqual(normalizeQuery('?prefix=a+b', true), { canonical: 'prefix=a%20b', search: '?prefix=a%20b' });
    assert.deepEqual(normalizeQuery('?prefix=a+b', false), { canonical: 'prefix=a%2Bb', search: '?prefix=a%2Bb' });
    assert.equal(normalizeQuery('?prefix=a%2Bb', true).canonical, 'prefix=a%2Bb');
  });

  test('the unreserved characters of the SigV4 suite pass through unchanged', () => {
    const u = '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    assert.deepEqual(normalizeQuery(`?${u}=${u}`, false), { canonical: `${u}=${u}`, search: `?${u}=${u}` });
  });
});
