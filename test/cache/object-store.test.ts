/**
 * The in-memory object store: entries and their Vary variants, the bounds (bytes, entries, object size) with
 * least-recently-used eviction, delete, occupancy and the stored/evictions counters.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgeBasis, Freshness } from '../../src/cache/freshness.js';
import { ObjectStore, varyFields } from '../../src/cache/object-store.js';
import { type CacheLimits, DEFAULT_LIMITS } from '../../src/cache/policy.js';
import { HeaderList } from '../../src/proxy/header-list.js';

const T = Date.UTC(2024, 2, 1, 12, 0, 0);
const AGE: AgeBasis = { requestTime: T, responseTime: T, dateValue: T, ageValue: 0 };
const FRESH: Freshness = { lifetime: 60, staleWhileRevalidate: 0, staleIfError: 0, mustRevalidate: false, noCache: false, source: 'max-age' };

const K = 'http://bucket.s3.example:80/obj';
const req = (...raw: string[]) => new HeaderList(raw);
const NO_HEADERS = req();

function response(body: string | Buffer, ...raw: string[]) {
  return { status: 200, headers: new HeaderList(raw), body: Buffer.isBuffer(body) ? body : Buffer.from(body), age: AGE, freshness: FRESH };
}

const store = (limits: Partial<CacheLimits> = {}) => new ObjectStore({ ...DEFAULT_LIMITS, ...limits });
const bodyOf = (s: ObjectStore, key: string, request: HeaderList = NO_HEADERS) => s.get(key, request)?.body.toString();

describe('ObjectStore: put and get', () => {
  test('returns what was stored: status, headers, body, age and freshness', () => {
    const s = store();
    assert.equal(s.put(K, NO_HEADERS, { ...response('hello', 'ETag', '"a"', 'Content-Type', 'text/plain'), status: 203 }), true);
    const e = s.get(K, NO_HEADERS);
    assert.ok(e);
    assert.equal(e.key, K);
    assert.equal(e.status, 203);
    assert.deepEqual(e.headers, ['ETag', '"a"', 'Content-Type', 'text/plain']);
    assert.equal(e.body.toString(), 'hello');
    assert.deepEqual(e.age, AGE);
    assert.deepEqual(e.freshness, FRESH);
  });

  test('stores a copy of the header list', () => {
    const s = store();
    const r = response('x', 'ETag', '"a"');
    s.put(K, NO_HEADERS, r);
    r.headers.set('ETag', '"changed"');
    assert.deepEqual(s.get(K, NO_HEADERS)?.headers, ['ETag', '"a"']);
  });

  test('a key never stored is undefined', () => {
    assert.equal(store().get(K, NO_HEADERS), undefined);
  });

  test('a second put for the key replaces the first', () => {
    const s = store();
    s.put(K, NO_HEADERS, response('one'));
    s.put(K, NO_HEADERS, response('two'));
    assert.equal(bodyOf(s, K), 'two');
    assert.equal(s.occupancy.entries, 1);
  });

  test('counts what it stored', () => {
    const s = store();
    s.put(K, NO_HEADERS, response('a'));
    s.put(`${K}2`, NO_HEADERS, response('b'));
    assert.equal(s.stats.stored, 2);
  });

  test('a store of zero bytes is off and stores nothing', () => {
    const s = store({ maxBytes: 0 });
    assert.equal(s.enabled, false);
    assert.equal(s.put(K, NO_HEADERS, response('x')), false);
    assert.equal(s.get(K, NO_HEADERS), undefined);
    assert.equal(s.stats.stored, 0);
  });
});

describe('ObjectStore: variants (Vary, RFC 9111 §4.1)', () => {
  test('varyFields: lower-cased, trimmed, sorted, across repeated fields', () => {
    assert.deepEqual(varyFields(new HeaderList(['Vary', 'Accept-Language, Accept-Encoding', 'vary', ' Origin '])), [
      'accept-encoding',
      'accept-language',
      'origin',
    ]);
    assert.deepEqual(varyFields(new HeaderList([])), []);
  });

  test('each request gets the variant stored for its values, never another', () => {
    const s = store();
    s.put(K, req('Accept-Encoding', 'gzip'), response('gzipped', 'Vary', 'Accept-Encoding'));
    s.put(K, req('Accept-Encoding', 'br'), response('brotli', 'Vary', 'Accept-Encoding'));
    assert.equal(bodyOf(s, K, req('accept-encoding', 'gzip')), 'gzipped');
    assert.equal(bodyOf(s, K, req('Accept-Encoding', 'br')), 'brotli');
    assert.equal(s.occupancy.entries, 2);
  });

  test('a request whose values match no stored variant gets nothing', () => {
    const s = store();
    s.put(K, req('Accept-Encoding', 'gzip'), response('gzipped', 'Vary', 'Accept-Encoding'));
    assert.equal(s.get(K, req('Accept-Encoding', 'br')), undefined);
    assert.equal(s.get(K, req('Accept-Encoding', 'gzip, br')), undefined);
    assert.equal(s.get(K, NO_HEADERS), undefined);
  });

  test('a request without the field gets only the variant stored for a request without it', () => {
    const s = store();
    s.put(K, NO_HEADERS, response('identity', 'Vary', 'Accept-Encoding'));
    assert.equal(bodyOf(s, K, NO_HEADERS), 'identity');
    assert.equal(s.get(K, req('Accept-Encoding', 'gzip')), undefined);
  });

  test('every Vary field must match, not just one', () => {
    const s = store();
    s.put(K, req('Accept-Encoding', 'gzip', 'Accept-Language', 'en'), response('gz-en', 'Vary', 'Accept-Encoding, Accept-Language'));
    assert.equal(bodyOf(s, K, req('Accept-Language', 'en', 'Accept-Encoding', 'gzip')), 'gz-en');
    assert.equal(s.get(K, req('Accept-Encoding', 'gzip', 'Accept-Language', 'fr')), undefined);
    assert.equal(s.get(K, req('Accept-Encoding', 'gzip')), undefined);
  });

  test('request values are compared after whitespace normalisation', () => {
    const s = store();
    s.put(K, req('Accept-Language', 'en,  fr'), response('en-fr', 'Vary', 'Accept-Language'));
    assert.equal(bodyOf(s, K, req('Accept-Language', ' en, fr ')), 'en-fr');
  });

  test('a change of the Vary fields drops the variants stored under the old ones', () => {
    const s = store();
    s.put(K, req('Accept-Encoding', 'gzip', 'Accept-Language', 'en'), response('by-encoding', 'Vary', 'Accept-Encoding'));
    s.put(K, req('Accept-Encoding', 'br', 'Accept-Language', 'en'), response('by-encoding-br', 'Vary', 'Accept-Encoding'));
    s.put(K, req('Accept-Encoding', 'gzip', 'Accept-Language', 'en'), response('by-language', 'Vary', 'Accept-Language'));
    assert.equal(s.occupancy.entries, 1);
    assert.equal(s.get(K, req('Accept-Encoding', 'br', 'Accept-Language', 'fr')), undefined);
    assert.equal(bodyOf(s, K, req('Accept-Encoding', 'br', 'Accept-Language', 'en')), 'by-language');
  });

  test('a response that stops varying replaces its variants', () => {
    const s = store();
    s.put(K, req('Accept-Encoding', 'gzip'), response('gzipped', 'Vary', 'Accept-Encoding'));
    s.put(K, req('Accept-Encoding', 'gzip'), response('plain'));
    assert.equal(s.occupancy.entries, 1);
    assert.equal(bodyOf(s, K, req('Accept-Encoding', 'br')), 'plain');
  });
});

describe('ObjectStore: bounds and eviction', () => {
  /** Bytes one entry of `body` bytes under `key` costs in this store (measured, not assumed). */
  function costOf(key: string, bodyBytes: number): number {
    const probe = store();
    probe.put(key, NO_HEADERS, response(Buffer.alloc(bodyBytes)));
    return probe.occupancy.bytes;
  }

  test('evicts the least recently used entry when the bytes bound is reached, and counts it', () => {
    const keys = ['http://h:80/a', 'http://h:80/b', 'http://h:80/c', 'http://h:80/d'];
    const one = costOf(keys[0]!, 1000);
    const s = store({ maxBytes: Math.floor(one * 3.5) });
    for (const k of keys.slice(0, 3)) assert.equal(s.put(k, NO_HEADERS, response(Buffer.alloc(1000))), true);
    assert.equal(s.stats.evictions, 0);
    // Reading /a makes /b the least recently used.
    assert.ok(s.get(keys[0]!, NO_HEADERS));
    assert.equal(s.put(keys[3]!, NO_HEADERS, response(Buffer.alloc(1000))), true);
    assert.equal(s.stats.evictions, 1);
    assert.equal(s.get(keys[1]!, NO_HEADERS), undefined);
    for (const k of [keys[0]!, keys[2]!, keys[3]!]) assert.ok(s.get(k, NO_HEADERS), k);
    assert.ok(s.occupancy.bytes <= s.limits.maxBytes);
  });

  test('stays within the bytes bound with many objects larger in total than the bound', () => {
    const s = store({ maxBytes: 50_000, maxObjectBytes: 10_000 });
    for (let i = 0; i < 200; i++) s.put(`http://h:80/o${i}`, NO_HEADERS, response(Buffer.alloc(3000)));
    assert.ok(s.occupancy.bytes <= 50_000, String(s.occupancy.bytes));
    assert.equal(s.stats.stored, 200);
    assert.equal(s.stats.evictions, 200 - s.occupancy.entries);
    assert.ok(s.get('http://h:80/o199', NO_HEADERS));
    assert.equal(s.get('http://h:80/o0', NO_HEADERS), undefined);
  });

  test('evicts the least recently used entry when the entry count is reached', () => {
    const s = store({ maxEntries: 2 });
    s.put('http://h:80/a', NO_HEADERS, response('a'));
    s.put('http://h:80/b', NO_HEADERS, response('b'));
    s.get('http://h:80/a', NO_HEADERS);
    s.put('http://h:80/c', NO_HEADERS, response('c'));
    assert.equal(s.occupancy.entries, 2);
    assert.equal(s.stats.evictions, 1);
    assert.equal(s.get('http://h:80/b', NO_HEADERS), undefined);
    assert.equal(bodyOf(s, 'http://h:80/a'), 'a');
    assert.equal(bodyOf(s, 'http://h:80/c'), 'c');
  });

  test('an evicted variant is gone, and its siblings stay', () => {
    const s = store({ maxEntries: 2 });
    s.put(K, req('Accept-Encoding', 'gzip'), response('gz', 'Vary', 'Accept-Encoding'));
    s.put(K, req('Accept-Encoding', 'br'), response('br', 'Vary', 'Accept-Encoding'));
    s.put(K, req('Accept-Encoding', 'zstd'), response('zstd', 'Vary', 'Accept-Encoding'));
    assert.equal(s.get(K, req('Accept-Encoding', 'gzip')), undefined);
    assert.equal(bodyOf(s, K, req('Accept-Encoding', 'br')), 'br');
    assert.equal(bodyOf(s, K, req('Accept-Encoding', 'zstd')), 'zstd');
  });

  test('refuses an object larger than the object limit, and keeps nothing of it', () => {
    const s = store({ maxObjectBytes: 100 });
    assert.equal(s.fits(100), true);
    assert.equal(s.fits(101), false);
    assert.equal(s.put(K, NO_HEADERS, response(Buffer.alloc(101))), false);
    assert.equal(s.get(K, NO_HEADERS), undefined);
    assert.deepEqual(s.occupancy, { bytes: 0, entries: 0 });
    assert.equal(s.stats.stored, 0);
    assert.equal(s.put(K, NO_HEADERS, response(Buffer.alloc(100))), true);
  });

  test('refuses an object larger than the whole store', () => {
    const s = store({ maxBytes: 1000, maxObjectBytes: 10_000 });
    assert.equal(s.put(K, NO_HEADERS, response(Buffer.alloc(2000))), false);
    assert.equal(s.get(K, NO_HEADERS), undefined);
    assert.equal(s.stats.stored, 0);
  });
});

describe('ObjectStore: delete, clear and occupancy', () => {
  test('delete removes every variant of a key and says how many', () => {
    const s = store();
    s.put(K, req('Accept-Encoding', 'gzip'), response('gz', 'Vary', 'Accept-Encoding'));
    s.put(K, req('Accept-Encoding', 'br'), response('br', 'Vary', 'Accept-Encoding'));
    s.put(`${K}/other`, NO_HEADERS, response('other'));
    assert.equal(s.delete(K), 2);
    assert.equal(s.get(K, req('Accept-Encoding', 'gzip')), undefined);
    assert.equal(s.get(K, req('Accept-Encoding', 'br')), undefined);
    assert.equal(bodyOf(s, `${K}/other`), 'other');
    assert.equal(s.occupancy.entries, 1);
    assert.equal(s.delete(K), 0);
  });

  test('delete of an absent key is 0', () => {
    assert.equal(store().delete(K), 0);
  });

  test('a deleted key can be stored again', () => {
    const s = store();
    s.put(K, NO_HEADERS, response('one'));
    s.delete(K);
    s.put(K, NO_HEADERS, response('two'));
    assert.equal(bodyOf(s, K), 'two');
  });

  test('occupancy counts entries and at least their body and header bytes', () => {
    const s = store();
    assert.deepEqual(s.occupancy, { bytes: 0, entries: 0 });
    const headers = ['Content-Type', 'application/octet-stream', 'ETag', '"abc"'];
    s.put(K, NO_HEADERS, response(Buffer.alloc(5000), ...headers));
    const one = s.occupancy.bytes;
    assert.equal(s.occupancy.entries, 1);
    assert.ok(one >= 5000 + headers.join('').length, String(one));
    s.put(`${K}2`, NO_HEADERS, response(Buffer.alloc(5000), ...headers));
    const two = s.occupancy.bytes;
    assert.equal(s.occupancy.entries, 2);
    assert.ok(two >= 2 * (5000 + headers.join('').length));
    s.delete(K);
    assert.equal(s.occupancy.entries, 1);
    assert.equal(s.occupancy.bytes, two - one);
    s.clear();
    assert.deepEqual(s.occupancy, { bytes: 0, entries: 0 });
    assert.equal(s.get(`${K}2`, NO_HEADERS), undefined);
  });

  test('a body ten times larger costs about ten times more', () => {
    const small = store();
    small.put(K, NO_HEADERS, response(Buffer.alloc(1000)));
    const large = store();
    large.put(K, NO_HEADERS, response(Buffer.alloc(10_000)));
    assert.equal(large.occupancy.bytes - small.occupancy.bytes, 9000);
  });
});

test('a request without a Vary field never gets the variant stored for an empty one (RFC 9111 §4.1)', () => {
  const store = new ObjectStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16, maxEntries: 100 });
  const headers = new HeaderList(['Vary', 'Accept-Encoding', 'ETag', '"e"']);
  const age = { requestTime: 0, responseTime: 0, dateValue: 0, ageValue: 0 };
  const freshness = { lifetime: 60, staleWhileRevalidate: 0, staleIfError: 0, mustRevalidate: false, noCache: false, source: 'max-age' as const };
  store.put('k', new HeaderList(['Accept-Encoding', '']), { status: 200, headers, body: Buffer.from('empty'), age, freshness });
  assert.equal(store.get('k', new HeaderList()), undefined);
  assert.equal(store.get('k', new HeaderList(['Accept-Encoding', '']))?.body.toString(), 'empty');
});
