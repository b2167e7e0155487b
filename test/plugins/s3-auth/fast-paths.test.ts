/**
 * The signing hot path's shortcuts (issue 6) give exactly what the plain constructions give: the prepared-pad
 * HMAC against node:crypto's createHmac, the memoised header decisions against a selection's rules, the
 * last-scope key against a fresh derivation.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { canonicalHeaders, parseHeaderNames, SIGN_ALL } from '../../../src/plugins/s3-auth/select-headers.js';
import { SecretKeySource } from '../../../src/plugins/s3-auth/signing-keys.js';
import { deriveSigningKey, hmacHex } from '../../../src/plugins/s3-auth/sigv4.js';

describe('hmacHex', () => {
  const expected = (key: Buffer, msg: string) => createHmac('sha256', key).update(msg, 'utf8').digest('hex');

  test('equals createHmac for 32-byte keys and messages of every length up to past the scratch buffer', () => {
    const key = randomBytes(32);
    for (let len = 0; len <= 700; len += 7) {
      const msg = 'A'.repeat(len);
      assert.equal(hmacHex(key, msg), expected(key, msg), `length ${len}`);
    }
  });

  test('equals createHmac for keys shorter than, equal to and longer than the 64-byte block', () => {
    for (const size of [1, 16, 63, 64, 65, 100, 200]) {
      const key = randomBytes(size);
      assert.equal(hmacHex(key, 'AWS4-HMAC-SHA256\n20130524T000000Z'), expected(key, 'AWS4-HMAC-SHA256\n20130524T000000Z'), `key ${size} bytes`);
    }
  });

  test('non-ASCII messages are taken as UTF-8, as createHmac does', () => {
    const key = randomBytes(32);
    for (const msg of ['é', 'caf\u00e9', '日本', '\u{1F600}x', 'a\u0080b']) assert.equal(hmacHex(key, msg), expected(key, msg), msg);
  });

  test('repeated calls with the same key do not leak state from one message to the next', () => {
    const key = randomBytes(32);
    const long = 'x'.repeat(400);
    assert.equal(hmacHex(key, long), expected(key, long));
    assert.equal(hmacHex(key, 'short'), expected(key, 'short'));
    assert.equal(hmacHex(key, ''), expected(key, ''));
  });
});

describe('canonicalHeaders (memoised names, insertion sort)', () => {
  test('sorts, lower-cases and joins repeats in received order, across calls with differently cased names', () => {
    const a = canonicalHeaders(new HeaderList(['X-Amz-Meta-B', '2', 'Host', 'h', 'x-amz-meta-a', '1', 'X-AMZ-META-B', '3', 'Accept', '*/*']), SIGN_ALL);
    assert.equal(a.canonical, 'accept:*/*\nhost:h\nx-amz-meta-a:1\nx-amz-meta-b:2,3\n');
    assert.equal(a.signedHeaders, 'accept;host;x-amz-meta-a;x-amz-meta-b');
    const b = canonicalHeaders(new HeaderList(['zeta', 'z', 'HOST', 'h', 'alpha', ' a  b ']), SIGN_ALL);
    assert.equal(b.canonical, 'alpha:a b\nhost:h\nzeta:z\n');
  });

  test('the memo is per selection: one rule excluding a field does not change another rule', () => {
    const excl = { include: null, exclude: parseHeaderNames('user-agent') };
    const h = () => new HeaderList(['Host', 'h', 'User-Agent', 'ua']);
    assert.equal(canonicalHeaders(h(), excl).signedHeaders, 'host');
    assert.equal(canonicalHeaders(h(), SIGN_ALL).signedHeaders, 'host;user-agent');
    assert.equal(canonicalHeaders(h(), excl).signedHeaders, 'host');
  });

  test('more distinct names than the memo holds are still all decided correctly', () => {
    const raw: string[] = ['Host', 'h'];
    for (let i = 0; i < 600; i++) raw.push(`X-Custom-${i}`, String(i));
    const c = canonicalHeaders(new HeaderList(raw), SIGN_ALL);
    assert.equal(c.signedHeaders.split(';').length, 601);
    assert.equal(canonicalHeaders(new HeaderList(['Via', 'v', 'Host', 'h']), SIGN_ALL).signedHeaders, 'host');
  });
});

describe('SecretKeySource last-scope shortcut', () => {
  test('alternating scopes each get their own derived key', () => {
    const src = new SecretKeySource('secret');
    const s1 = { date: '20261123', region: 'us-east-1', service: 's3' };
    const s2 = { date: '20261123', region: 'eu-west-1', service: 's3' };
    const s3 = { date: '20261124', region: 'eu-west-1', service: 's3' };
    for (let i = 0; i < 3; i++) {
      for (const s of [s1, s2, s2, s3, s1]) assert.deepEqual(src.keyFor(s), deriveSigningKey('secret', s));
    }
  });

  test('a scope object changed after use is not mistaken for the one before', () => {
    const src = new SecretKeySource('secret');
    const scope = { date: '20261123', region: 'us-east-1', service: 's3' };
    src.keyFor(scope);
    scope.region = 'ap-south-1';
    assert.deepEqual(src.keyFor(scope), deriveSigningKey('secret', { date: '20261123', region: 'ap-south-1', service: 's3' }));
  });
});

describe('HeaderList.set and sameName', () => {
  test('set replaces the first field in place and drops later repeats, matching names in any case', () => {
    const h = new HeaderList(['A', '1', 'x-Thing', '2', 'B', '3', 'X-THING', '4', 'C', '5']);
    h.set('X-Thing', 'new');
    assert.deepEqual(h.raw, ['A', '1', 'X-Thing', 'new', 'B', '3', 'C', '5']);
    h.set('D', '6');
    assert.deepEqual(h.raw.slice(-2), ['D', '6']);
    assert.equal(h.get('x-thing'), 'new');
    assert.equal(h.get('X-THINGS'), undefined);
    assert.deepEqual(h.getAll('a'), ['1']);
  });

  test('names that differ only outside ASCII letters are different names', () => {
    const h = new HeaderList(['x_a', '1', 'x-a', '2', '[', '3']);
    assert.equal(h.get('x-a'), '2');
    assert.equal(h.get('{'), undefined);
  });
});
