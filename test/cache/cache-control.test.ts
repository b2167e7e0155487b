/**
 * Cache-Control parsing (RFC 9111 §5.2) and delta-seconds (§1.2.2): directive names are case-insensitive,
 * arguments may be quoted, repeated fields form one list, the first of a duplicated directive counts, and a
 * malformed or huge delta-seconds is ignored or capped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deltaSeconds, parseCacheControl } from '../../src/cache/cache-control.js';

const entries = (values: string[]) => [...parseCacheControl(values)];

describe('parseCacheControl', () => {
  test('reads directives with and without arguments', () => {
    assert.deepEqual(entries(['public, max-age=60, no-transform']), [
      ['public', null],
      ['max-age', '60'],
      ['no-transform', null],
    ]);
  });

  test('no field is no directive', () => {
    assert.equal(parseCacheControl([]).size, 0);
    assert.equal(parseCacheControl(['']).size, 0);
  });

  test('lower-cases directive names but keeps the case of arguments', () => {
    const d = parseCacheControl(['Max-Age=5, NO-STORE, Private="X-Secret"']);
    assert.equal(d.get('max-age'), '5');
    assert.equal(d.has('no-store'), true);
    assert.equal(d.get('private'), 'X-Secret');
  });

  test('unquotes a quoted argument, unescaping quoted-pairs', () => {
    assert.equal(parseCacheControl(['no-cache="set-cookie"']).get('no-cache'), 'set-cookie');
    assert.equal(parseCacheControl(['ext="a\\"b"']).get('ext'), 'a"b');
  });

  test('a comma inside a quoted argument does not split the directive', () => {
    const d = parseCacheControl(['private="set-cookie, x-token", max-age=10']);
    assert.equal(d.get('private'), 'set-cookie, x-token');
    assert.equal(d.get('max-age'), '10');
    assert.equal(d.size, 2);
  });

  test('accepts the quoted form of a delta-seconds argument (§5.2: recipients accept both forms)', () => {
    assert.equal(deltaSeconds(parseCacheControl(['max-age="60"']), 'max-age'), 60);
  });

  test('tolerates whitespace and empty list elements', () => {
    assert.deepEqual(entries(['  max-age=7 ,, ,public ']), [
      ['max-age', '7'],
      ['public', null],
    ]);
  });

  test('repeated Cache-Control fields are one list', () => {
    const d = parseCacheControl(['max-age=60', 'must-revalidate', 's-maxage=5']);
    assert.deepEqual([...d.keys()], ['max-age', 'must-revalidate', 's-maxage']);
  });

  test('the first of a duplicated directive counts (§4.2.1), within a field and across fields', () => {
    assert.equal(parseCacheControl(['max-age=60, max-age=10']).get('max-age'), '60');
    assert.equal(parseCacheControl(['max-age=60', 'MAX-AGE=10']).get('max-age'), '60');
  });
});

describe('deltaSeconds', () => {
  test('reads a non-negative integer', () => {
    const d = parseCacheControl(['max-age=0, s-maxage=3600']);
    assert.equal(deltaSeconds(d, 'max-age'), 0);
    assert.equal(deltaSeconds(d, 's-maxage'), 3600);
  });

  test('is null for an absent directive or one without an argument', () => {
    const d = parseCacheControl(['max-age']);
    assert.equal(deltaSeconds(d, 'max-age'), null);
    assert.equal(deltaSeconds(d, 's-maxage'), null);
  });

  for (const bad of ['-1', '1.5', '1e3', 'abc', '', '0x10', '10s', '+5']) {
    test(`ignores the malformed value ${JSON.stringify(bad)}`, () => {
      assert.equal(deltaSeconds(parseCacheControl([`max-age=${bad}`]), 'max-age'), null);
    });
  }

  test('caps a value at 2^31 (§1.2.2)', () => {
    const cap = 2 ** 31;
    assert.equal(deltaSeconds(parseCacheControl(['max-age=2147483647']), 'max-age'), cap - 1);
    assert.equal(deltaSeconds(parseCacheControl(['max-age=2147483648']), 'max-age'), cap);
    assert.equal(deltaSeconds(parseCacheControl(['max-age=2147483649']), 'max-age'), cap);
    assert.equal(deltaSeconds(parseCacheControl(['max-age=99999999999999999999999']), 'max-age'), cap);
  });
});
