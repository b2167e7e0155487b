/**
 * uri-encode.ts: SigV4's "URI-encode each byte" (RFC 3986 unreserved kept, every other UTF-8 byte %XX upper-case)
 * and the one normalisation of a raw path that both goes on the wire and is signed. The keys listed in issue 3
 * (space, `+`, `%`, `:`, `()`, `=`, `@`, `'`, non-ASCII) are the ones peers get SignatureDoesNotMatch on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  canonicalGenericUri,
  decodeToBytes,
  encodeBytes,
  encodeRfc3986,
  normalizeComponent,
  normalizeGenericPath,
  normalizeS3Path,
} from '../../../src/plugins/s3-auth/uri-encode.js';

/** Every ASCII character that is not unreserved, with its RFC 3986 encoding. */
const RESERVED: readonly [string, string][] = [
  [' ', '%20'],
  ['!', '%21'],
  ['"', '%22'],
  ['#', '%23'],
  ['$', '%24'],
  ['%', '%25'],
  ['&', '%26'],
  ["'", '%27'],
  ['(', '%28'],
  [')', '%29'],
  ['*', '%2A'],
  ['+', '%2B'],
  [',', '%2C'],
  ['/', '%2F'],
  [':', '%3A'],
  [';', '%3B'],
  ['<', '%3C'],
  ['=', '%3D'],
  ['>', '%3E'],
  ['?', '%3F'],
  ['@', '%40'],
  ['[', '%5B'],
  ['\\', '%5C'],
  [']', '%5D'],
  ['^', '%5E'],
  ['`', '%60'],
  ['{', '%7B'],
  ['|', '%7C'],
  ['}', '%7D'],
];

const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

/** Non-ASCII keys from issue 3, with their UTF-8 bytes encoded. */
const NON_ASCII: readonly [string, string][] = [
  ['é', '%C3%A9'],
  ['ü', '%C3%BC'],
  ['☃', '%E2%98%83'],
  ['日本', '%E6%97%A5%E6%9C%AC'],
  // U+1F600, a surrogate pair in UTF-16: must become its 4 UTF-8 bytes, not two encoded halves.
  ['😀', '%F0%9F%98%80'],
  ['𝄞', '%F0%9D%84%9E'],
];

describe('encodeRfc3986 (a whole component, `/` included)', () => {
  test('keeps every unreserved character A-Z a-z 0-9 - . _ ~', () => {
    assert.equal(encodeRfc3986(UNRESERVED), UNRESERVED);
  });

  test('encodes every reserved and unsafe ASCII character as upper-case %XX', () => {
    for (const [c, encoded] of RESERVED) assert.equal(encodeRfc3986(c), encoded, `character ${JSON.stringify(c)}`);
  });

  test('encodes every ASCII byte that is not unreserved, control characters included', () => {
    for (let b = 0; b < 128; b++) {
      const c = String.fromCharCode(b);
      const expected = UNRESERVED.includes(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
      assert.equal(encodeRfc3986(c), expected, `byte 0x${b.toString(16)}`);
    }
  });

  test('encodes the UTF-8 bytes of non-ASCII characters, surrogate pairs as one code point', () => {
    for (const [c, encoded] of NON_ASCII) assert.equal(encodeRfc3986(c), encoded, c);
  });

  test('does not decode: a `%` is data', () => {
    assert.equal(encodeRfc3986('%41'), '%2541');
  });
});

describe('encodeBytes and decodeToBytes', () => {
  test('encodeBytes keeps `/` only when asked to', () => {
    const bytes = Buffer.from('a/b c');
    assert.equal(encodeBytes(bytes, true), 'a/b%20c');
    assert.equal(encodeBytes(bytes, false), 'a%2Fb%20c');
  });

  test('encodes every byte value 0x80-0xFF as %XX', () => {
    for (let b = 0x80; b <= 0xff; b++) assert.equal(encodeBytes(Uint8Array.of(b), true), `%${b.toString(16).toUpperCase()}`);
  });

  test('decodeToBytes decodes valid triplets in either case, keeps a stray `%`, and reads `+` as asked', () => {
    assert.deepEqual([...decodeToBytes('%41%6a%6A', false)], [0x41, 0x6a, 0x6a]);
    assert.deepEqual([...decodeToBytes('%zz%4', false)], [...Buffer.from('%zz%4')]);
    assert.deepEqual([...decodeToBytes('a+b', true)], [...Buffer.from('a b')]);
    assert.deepEqual([...decodeToBytes('a+b', false)], [...Buffer.from('a+b')]);
  });

  test('decodeToBytes takes characters outside ASCII as UTF-8', () => {
    assert.deepEqual(decodeToBytes('é😀', false), Buffer.from('é😀', 'utf8'));
  });
});

describe('normalizeS3Path (S3 canonical URI = the path sent)', () => {
  test('leaves an unreserved path with slashes as it is', () => {
    assert.equal(normalizeS3Path(`/${UNRESERVED}/a/b/`, true), `/${UNRESERVED}/a/b/`);
    assert.equal(normalizeS3Path('/', true), '/');
  });

  test('encodes each reserved character of a key, raw or already encoded, the same way', () => {
    for (const [c, encoded] of RESERVED) {
      if (c === '/' || c === '%' || c === '+') continue; // their own rules, below
      assert.equal(normalizeS3Path(`/k${c}k`, true), `/k${encoded}k`, `raw ${JSON.stringify(c)}`);
      assert.equal(normalizeS3Path(`/k${encoded}k`, true), `/k${encoded}k`, `encoded ${encoded}`);
      assert.equal(normalizeS3Path(`/k${encoded.toLowerCase()}k`, true), `/k${encoded}k`, `lower-case ${encoded}`);
    }
  });

  test('signs a key with a space as %20', () => {
    assert.equal(normalizeS3Path('/my key.txt', true), '/my%20key.txt');
    assert.equal(normalizeS3Path('/my%20key.txt', true), '/my%20key.txt');
  });

  test('encodes non-ASCII characters, given raw or already encoded, to upper-case UTF-8 %XX', () => {
    for (const [c, encoded] of NON_ASCII) {
      assert.equal(normalizeS3Path(`/${c}`, true), `/${encoded}`, c);
      assert.equal(normalizeS3Path(`/${encoded.toLowerCase()}`, true), `/${encoded}`, `${c} lower-case`);
    }
    assert.equal(normalizeS3Path('/dir/aé😀b/日本.txt', true), '/dir/a%C3%A9%F0%9F%98%80b/%E6%97%A5%E6%9C%AC.txt');
  });

  test('does not double-encode: %41 is the key "A", and lower-case hex becomes upper-case', () => {
    assert.equal(normalizeS3Path('/%41', true), '/A');
    assert.equal(normalizeS3Path('/%7e%7E', true), '/~~');
    assert.equal(normalizeS3Path('/a%3ab', true), '/a%3Ab');
    assert.equal(normalizeS3Path('/%2541', true), '/%2541');
  });

  test('reads a raw `+` as a space by default, as S3 does, and as a plus with plusIsSpace=false', () => {
    assert.equal(normalizeS3Path('/a+b', true), '/a%20b');
    assert.equal(normalizeS3Path('/a+b', false), '/a%2Bb');
  });

  test('an encoded plus stays a plus in both readings', () => {
    assert.equal(normalizeS3Path('/a%2Bb', true), '/a%2Bb');
    assert.equal(normalizeS3Path('/a%2bb', false), '/a%2Bb');
  });

  test('keeps a `%` that does not start a valid triplet as the literal %25', () => {
    assert.equal(normalizeS3Path('/50%', true), '/50%25');
    assert.equal(normalizeS3Path('/%', true), '/%25');
    assert.equal(normalizeS3Path('/a%4', true), '/a%254');
    assert.equal(normalizeS3Path('/%zz', true), '/%25zz');
    assert.equal(normalizeS3Path('/%g1x', true), '/%25g1x');
    assert.equal(normalizeS3Path('/100%-off', true), '/100%25-off');
  });

  test('decodes %2F to `/`, which S3 reads as the same key', () => {
    assert.equal(normalizeS3Path('/a%2Fb', true), '/a/b');
    assert.equal(normalizeS3Path('/a%2fb', true), '/a/b');
  });

  test('keeps empty segments and dot segments: S3 keys may contain them', () => {
    assert.equal(normalizeS3Path('//a//b/./../c', true), '//a//b/./../c');
  });

  test('is idempotent over tricky inputs, in both readings of `+`', () => {
    const inputs = [
      '/',
      '/a b',
      '/a+b',
      '/a%2Bb',
      '/a%2bb',
      '/50%',
      '/%',
      '/%zz',
      '/a%4',
      '/%2541',
      '/%41',
      '/é',
      '/%c3%a9',
      '/😀',
      '/%F0%9F%98%80',
      '/a%2fb',
      "/!'()*",
      '/%21%27%28%29%2A',
      '/:=@,;&$',
      '/[]{}|\\^`"<>',
      '/~',
      '//double//slash',
      '/a?b#c',
      '/%00%7F',
      '/日本/ü/☃',
    ];
    for (const plusIsSpace of [true, false]) {
      for (const input of inputs) {
        const once = normalizeS3Path(input, plusIsSpace);
        assert.equal(normalizeS3Path(once, plusIsSpace), once, `${JSON.stringify(input)} plusIsSpace=${plusIsSpace}`);
        assert.match(once, /^(?:[A-Za-z0-9\-._~/]|%[0-9A-F]{2})*$/, `${JSON.stringify(input)} is in RFC 3986 form`);
      }
    }
  });
});

describe('normalizeComponent (a query name or value)', () => {
  test('encodes `/` and every reserved character, once', () => {
    assert.equal(normalizeComponent('a/b', true), 'a%2Fb');
    assert.equal(normalizeComponent('a%2fb', true), 'a%2Fb');
    assert.equal(normalizeComponent("!'()*", true), '%21%27%28%29%2A');
  });

  test('reads `+` as the caller says', () => {
    assert.equal(normalizeComponent('a+b', true), 'a%20b');
    assert.equal(normalizeComponent('a+b', false), 'a%2Bb');
  });
});

describe('normalizeGenericPath (outgoing path for services other than S3)', () => {
  test('keeps an encoded %2F inside its segment', () => {
    assert.equal(normalizeGenericPath('/a%2Fb/c'), '/a%2Fb/c');
    assert.equal(normalizeGenericPath('/a%2fb/c'), '/a%2Fb/c');
  });

  test('reads `+` as a plus: RFC 3986 has no plus-as-space', () => {
    assert.equal(normalizeGenericPath('/a+b'), '/a%2Bb');
  });

  test('encodes spaces and non-ASCII once, and leaves dot segments for the canonical URI to resolve', () => {
    assert.equal(normalizeGenericPath('/example space/'), '/example%20space/');
    assert.equal(normalizeGenericPath('/ሴ'), '/%E1%88%B4');
    assert.equal(normalizeGenericPath('/example/..'), '/example/..');
  });
});

describe('canonicalGenericUri (AWS SigV4 test suite, normalize-path)', () => {
  test('removes `.` segments and lets `..` remove the previous one, never above the root', () => {
    assert.equal(canonicalGenericUri('/example/..'), '/');
    assert.equal(canonicalGenericUri('/example1/example2/../..'), '/');
    assert.equal(canonicalGenericUri('/./'), '/');
    assert.equal(canonicalGenericUri('/a/./b/../c'), '/a/c');
    assert.equal(canonicalGenericUri('/..'), '/');
    assert.equal(canonicalGenericUri('/../../a'), '/a');
    assert.equal(canonicalGenericUri('/./example'), '/example');
  });

  test('drops empty segments and keeps a trailing slash', () => {
    assert.equal(canonicalGenericUri('//'), '/');
    assert.equal(canonicalGenericUri('//example//'), '/example/');
    assert.equal(canonicalGenericUri('/a/b/'), '/a/b/');
    assert.equal(canonicalGenericUri('/a/b'), '/a/b');
  });

  test('an empty path is `/`', () => {
    assert.equal(canonicalGenericUri(''), '/');
    assert.equal(canonicalGenericUri('/'), '/');
  });

  test('encodes the already-encoded path a second time', () => {
    assert.equal(canonicalGenericUri('/example%20space/'), '/example%2520space/');
    assert.equal(canonicalGenericUri('/%E1%88%B4'), '/%25E1%2588%25B4');
    assert.equal(canonicalGenericUri('/a%2Fb'), '/a%252Fb');
    assert.equal(canonicalGenericUri('/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'), '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
  });
});
