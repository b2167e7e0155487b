/**
 * Freshness (RFC 9111 §4.2): the lifetime's sources in their order, the stale windows of RFC 5861, the
 * revalidation flags; what a shared cache may not store (§3); and current_age (§4.2.3). Every time is a number
 * passed in: nothing here reads the clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ageBasis, currentAge, freshnessOf, HEURISTICALLY_CACHEABLE, notStorableReason } from '../../src/cache/freshness.js';
import { type CachePolicy, DEFAULT_POLICY } from '../../src/cache/policy.js';
import { HeaderList } from '../../src/proxy/header-list.js';

/** A fixed response time, on a whole second (HTTP-dates have one-second resolution). */
const T = Date.UTC(2024, 2, 1, 12, 0, 0);
const S = 1000;
const HOUR = 3600;
const DAY = 86400;

const httpDate = (ms: number) => new Date(ms).toUTCString();
const headers = (...raw: string[]) => new HeaderList(raw);
const policy = (over: Partial<CachePolicy>): CachePolicy => ({ ...DEFAULT_POLICY, ...over });

function fresh(status: number, raw: string[], p: CachePolicy = DEFAULT_POLICY, responseTime = T) {
  return freshnessOf(status, new HeaderList(raw), p, responseTime);
}

function reason(status: number, raw: string[], opts: { auth?: boolean; policy?: CachePolicy } = {}): string | null {
  const h = new HeaderList(raw);
  const p = opts.policy ?? DEFAULT_POLICY;
  return notStorableReason(status, h, opts.auth ?? false, p, freshnessOf(status, h, p, T));
}

describe('freshness lifetime: explicit sources, in order (§4.2.1)', () => {
  test('s-maxage wins over max-age and Expires', () => {
    const f = fresh(200, ['Cache-Control', 'max-age=100, s-maxage=10', 'Date', httpDate(T), 'Expires', httpDate(T + 999 * S)]);
    assert.equal(f.lifetime, 10);
    assert.equal(f.source, 's-maxage');
  });

  test('max-age wins over Expires', () => {
    const f = fresh(200, ['Cache-Control', 'max-age=100', 'Date', httpDate(T), 'Expires', httpDate(T + 999 * S)]);
    assert.equal(f.lifetime, 100);
    assert.equal(f.source, 'max-age');
  });

  test('max-age=0 is an explicit lifetime of zero', () => {
    const f = fresh(200, ['Cache-Control', 'max-age=0', 'Last-Modified', httpDate(T - 30 * DAY * S)]);
    assert.equal(f.lifetime, 0);
    assert.equal(f.source, 'max-age');
  });

  test('Expires − Date', () => {
    const f = fresh(200, ['Date', httpDate(T), 'Expires', httpDate(T + HOUR * S)]);
    assert.equal(f.lifetime, HOUR);
    assert.equal(f.source, 'expires');
  });

  test('Expires − Date counts from the Date header, not from when the response arrived', () => {
    const f = fresh(200, ['Date', httpDate(T - 100 * S), 'Expires', httpDate(T + 100 * S)], DEFAULT_POLICY, T);
    assert.equal(f.lifetime, 200);
  });

  test('Expires without Date counts from the response time', () => {
    const f = fresh(200, ['Expires', httpDate(T + 90 * S)], DEFAULT_POLICY, T);
    assert.equal(f.lifetime, 90);
  });

  test('an Expires in the past is a lifetime of zero', () => {
    const f = fresh(200, ['Date', httpDate(T), 'Expires', httpDate(T - HOUR * S)]);
    assert.equal(f.lifetime, 0);
    assert.equal(f.source, 'expires');
  });

  test('an invalid Expires ("0") means already expired (§5.3), and no heuristic is used instead', () => {
    const f = fresh(200, ['Date', httpDate(T), 'Expires', '0', 'Last-Modified', httpDate(T - 30 * DAY * S)]);
    assert.equal(f.lifetime, 0);
    assert.equal(f.source, 'expires');
  });

  test('explicit freshness wins over the Last-Modified heuristic and the rule TTL', () => {
    const p = policy({ ttlByStatus: new Map([[200, 5]]) });
    const f = fresh(200, ['Cache-Control', 'max-age=42', 'Last-Modified', httpDate(T - 30 * DAY * S)], p);
    assert.equal(f.lifetime, 42);
    assert.equal(f.source, 'max-age');
  });
});

describe('freshness lifetime: heuristic from Last-Modified (§4.2.2)', () => {
  test('10% of the age of Last-Modified at Date', () => {
    const f = fresh(200, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 5 * DAY * S)]);
    assert.equal(f.lifetime, DAY / 2);
    assert.equal(f.source, 'heuristic');
  });

  test('clamped to one hour at least', () => {
    const f = fresh(200, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 5 * HOUR * S)]);
    assert.equal(f.lifetime, HOUR);
  });

  test('clamped to one day at most', () => {
    const f = fresh(200, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 365 * DAY * S)]);
    assert.equal(f.lifetime, DAY);
  });

  test('without Date, the age of Last-Modified is taken at the response time', () => {
    const f = fresh(200, ['Last-Modified', httpDate(T - 2 * DAY * S)], DEFAULT_POLICY, T);
    assert.equal(f.lifetime, (2 * DAY) / 10);
  });

  test('fraction and clamps come from the policy', () => {
    const p = policy({ heuristicFraction: 0.5, heuristicMin: 60, heuristicMax: 7 * DAY });
    assert.equal(fresh(200, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 4 * DAY * S)], p).lifetime, 2 * DAY);
    assert.equal(fresh(200, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 60 * S)], p).lifetime, 60);
    assert.equal(fresh(200, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 100 * DAY * S)], p).lifetime, 7 * DAY);
  });

  test('applies to every heuristically cacheable status', () => {
    for (const status of HEURISTICALLY_CACHEABLE) {
      const f = fresh(status, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 5 * DAY * S)]);
      assert.equal(f.source, 'heuristic', `status ${status}`);
    }
  });

  test('the heuristically cacheable statuses are those of RFC 9110 §15.1 (less 206)', () => {
    assert.deepEqual([...HEURISTICALLY_CACHEABLE].sort((a, b) => a - b), [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);
  });

  test('does not apply to other statuses', () => {
    for (const status of [302, 307, 403, 500, 503]) {
      const f = fresh(status, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 5 * DAY * S)]);
      assert.equal(f.source, 'none', `status ${status}`);
      assert.equal(f.lifetime, 0);
    }
  });

  test('wins over the rule TTL and the negative TTL', () => {
    const p = policy({ ttlByStatus: new Map([[200, 5], [404, 5]]) });
    assert.equal(fresh(200, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 5 * DAY * S)], p).source, 'heuristic');
    assert.equal(fresh(404, ['Date', httpDate(T), 'Last-Modified', httpDate(T - 5 * DAY * S)]).source, 'heuristic');
  });

  test('an unparsable Last-Modified gives no heuristic', () => {
    assert.equal(fresh(200, ['Last-Modified', 'yesterday']).source, 'none');
  });
});

describe('freshness lifetime: rule TTL, negative TTL, none', () => {
  test('the rule TTL for the status when the origin gives nothing', () => {
    const p = policy({ ttlByStatus: new Map([[200, HOUR], [302, 30]]) });
    assert.deepEqual([fresh(200, [], p).lifetime, fresh(200, [], p).source], [HOUR, 'ttl']);
    assert.deepEqual([fresh(302, [], p).lifetime, fresh(302, [], p).source], [30, 'ttl']);
    assert.equal(fresh(203, [], p).source, 'none');
  });

  test('the rule TTL wins over the negative TTL', () => {
    const p = policy({ ttlByStatus: new Map([[404, 5]]) });
    const f = fresh(404, [], p);
    assert.equal(f.lifetime, 5);
    assert.equal(f.source, 'ttl');
  });

  test('404 and 410 get the negative TTL', () => {
    for (const status of [404, 410]) {
      const f = fresh(status, []);
      assert.equal(f.lifetime, DEFAULT_POLICY.negativeTtl);
      assert.equal(f.source, 'negative');
    }
  });

  test('the negative statuses and TTL come from the policy', () => {
    const p = policy({ negativeStatuses: new Set([403]), negativeTtl: 7 });
    assert.deepEqual([fresh(403, [], p).lifetime, fresh(403, [], p).source], [7, 'negative']);
    assert.equal(fresh(404, [], p).source, 'none');
  });

  test('nothing at all is a lifetime of zero from no source', () => {
    const f = fresh(200, ['Content-Type', 'text/plain']);
    assert.equal(f.lifetime, 0);
    assert.equal(f.source, 'none');
  });
});

describe('stale windows (RFC 5861) and revalidation flags', () => {
  test('stale-while-revalidate and stale-if-error from the directives', () => {
    const f = fresh(200, ['Cache-Control', 'max-age=60, stale-while-revalidate=30, stale-if-error=600']);
    assert.equal(f.staleWhileRevalidate, 30);
    assert.equal(f.staleIfError, 600);
  });

  test('zero by default', () => {
    const f = fresh(200, ['Cache-Control', 'max-age=60']);
    assert.equal(f.staleWhileRevalidate, 0);
    assert.equal(f.staleIfError, 0);
  });

  test('the policy defaults when the response carries no directive', () => {
    const p = policy({ staleWhileRevalidate: 15, staleIfError: DAY });
    const f = fresh(200, ['Cache-Control', 'max-age=60'], p);
    assert.equal(f.staleWhileRevalidate, 15);
    assert.equal(f.staleIfError, DAY);
  });

  test("the response's directives win over the policy defaults, zero included", () => {
    const p = policy({ staleWhileRevalidate: 15, staleIfError: DAY });
    const f = fresh(200, ['Cache-Control', 'max-age=60, stale-while-revalidate=0, stale-if-error=5'], p);
    assert.equal(f.staleWhileRevalidate, 0);
    assert.equal(f.staleIfError, 5);
  });

  test('a malformed stale window falls back to the policy default', () => {
    const p = policy({ staleIfError: 9 });
    assert.equal(fresh(200, ['Cache-Control', 'stale-if-error=soon'], p).staleIfError, 9);
  });

  test('must-revalidate and proxy-revalidate set mustRevalidate', () => {
    assert.equal(fresh(200, ['Cache-Control', 'max-age=60, must-revalidate']).mustRevalidate, true);
    assert.equal(fresh(200, ['Cache-Control', 'max-age=60, proxy-revalidate']).mustRevalidate, true);
    assert.equal(fresh(200, ['Cache-Control', 'max-age=60']).mustRevalidate, false);
  });

  test('s-maxage carries the semantics of proxy-revalidate for a shared cache (§5.2.2.10)', () => {
    assert.equal(fresh(200, ['Cache-Control', 's-maxage=60']).mustRevalidate, true);
  });

  test('no-cache sets noCache, with or without field names', () => {
    assert.equal(fresh(200, ['Cache-Control', 'no-cache']).noCache, true);
    assert.equal(fresh(200, ['Cache-Control', 'no-cache="set-cookie", max-age=60']).noCache, true);
    assert.equal(fresh(200, ['Cache-Control', 'max-age=60']).noCache, false);
  });

  test('the flags do not change the lifetime', () => {
    const f = fresh(200, ['Cache-Control', 'no-cache, must-revalidate, max-age=60']);
    assert.equal(f.lifetime, 60);
    assert.equal(f.noCache, true);
    assert.equal(f.mustRevalidate, true);
  });
});

describe('notStorableReason (§3, shared cache)', () => {
  test('a fresh 200 may be stored', () => {
    assert.equal(reason(200, ['Cache-Control', 'max-age=60']), null);
  });

  for (const status of [206, 500, 302, 304, 201]) {
    test(`status ${status} is not stored, whatever its freshness`, () => {
      assert.equal(reason(status, ['Cache-Control', 'public, max-age=60', 'ETag', '"a"']), `status ${status}`);
    });
  }

  test('no-store', () => {
    assert.equal(reason(200, ['Cache-Control', 'max-age=60, no-store']), 'no-store');
  });

  test('private, with or without field names', () => {
    assert.equal(reason(200, ['Cache-Control', 'private, max-age=60']), 'private');
    assert.equal(reason(200, ['Cache-Control', 'max-age=60, private="set-cookie"']), 'private');
  });

  test('Vary: *, alone, in a list, or in a repeated field', () => {
    assert.equal(reason(200, ['Cache-Control', 'max-age=60', 'Vary', '*']), 'vary-star');
    assert.equal(reason(200, ['Cache-Control', 'max-age=60', 'Vary', 'Accept-Encoding, *']), 'vary-star');
    assert.equal(reason(200, ['Cache-Control', 'max-age=60', 'Vary', 'Accept-Encoding', 'vary', '*']), 'vary-star');
  });

  test('Vary on named fields does not prevent storing', () => {
    assert.equal(reason(200, ['Cache-Control', 'max-age=60', 'Vary', 'Accept-Encoding, Accept-Language']), null);
  });

  test('a response to a request with Authorization is not stored by default (§3.5)', () => {
    assert.equal(reason(200, ['Cache-Control', 'max-age=60', 'ETag', '"a"'], { auth: true }), 'authorization');
    assert.equal(reason(200, ['Cache-Control', 'max-age=60, proxy-revalidate'], { auth: true }), 'authorization');
  });

  for (const directive of ['public', 's-maxage=60', 'must-revalidate']) {
    test(`a response to a request with Authorization is stored with ${directive} (§3.5)`, () => {
      assert.equal(reason(200, ['Cache-Control', `max-age=60, ${directive}`], { auth: true }), null);
    });
  }

  test('Set-Cookie is not stored unless the policy says so', () => {
    const raw = ['Cache-Control', 'max-age=60', 'Set-Cookie', 'id=1'];
    assert.equal(reason(200, raw), 'set-cookie');
    assert.equal(reason(200, raw, { policy: policy({ storeSetCookie: true }) }), null);
  });

  test('nothing to keep it fresh and nothing to revalidate it with', () => {
    assert.equal(reason(200, []), 'no-freshness');
    assert.equal(reason(200, ['Cache-Control', 'max-age=0']), 'no-freshness');
    assert.equal(reason(200, ['Date', httpDate(T), 'Expires', httpDate(T - S)]), 'no-freshness');
  });

  test('a stale response with a validator may be stored (it will be revalidated)', () => {
    assert.equal(reason(200, ['Cache-Control', 'max-age=0', 'ETag', '"a"']), null);
    assert.equal(reason(200, ['Cache-Control', 'no-cache', 'ETag', '"a"']), null);
  });

  test('a Last-Modified is both a validator and a heuristic lifetime', () => {
    assert.equal(reason(200, ['Last-Modified', httpDate(T - DAY * S)]), null);
  });

  test('a rule TTL or the negative TTL is enough freshness', () => {
    assert.equal(reason(200, [], { policy: policy({ ttlByStatus: new Map([[200, 60]]) }) }), null);
    assert.equal(reason(404, []), null);
    assert.equal(reason(404, [], { policy: policy({ negativeStatuses: new Set() }) }), 'no-freshness');
  });
});

describe('currentAge (§4.2.3)', () => {
  test('zero when the response has just arrived with Date now and no delay', () => {
    const b = ageBasis(headers('Date', httpDate(T)), T, T);
    assert.equal(currentAge(b, T), 0);
  });

  test('grows by the resident time', () => {
    const b = ageBasis(headers('Date', httpDate(T)), T, T);
    assert.equal(currentAge(b, T + 10 * S), 10);
    assert.equal(currentAge(b, T + HOUR * S), HOUR);
  });

  test('the Age header from upstream caches plus the response delay (corrected_age_value)', () => {
    const b = ageBasis(headers('Date', httpDate(T), 'Age', '100'), T - 2 * S, T);
    assert.equal(b.ageValue, 100);
    assert.equal(currentAge(b, T), 102);
    assert.equal(currentAge(b, T + 8 * S), 110);
  });

  test('a Date in the past gives an apparent age', () => {
    const b = ageBasis(headers('Date', httpDate(T - 30 * S)), T, T);
    assert.equal(currentAge(b, T), 30);
    assert.equal(currentAge(b, T + 5 * S), 35);
  });

  test('the larger of apparent age and corrected Age counts', () => {
    const apparentWins = ageBasis(headers('Date', httpDate(T - 30 * S), 'Age', '5'), T - 2 * S, T);
    assert.equal(currentAge(apparentWins, T), 30);
    const ageWins = ageBasis(headers('Date', httpDate(T - 30 * S), 'Age', '50'), T - 2 * S, T);
    assert.equal(currentAge(ageWins, T), 52);
  });

  test('a Date in the future (clock skew) is an apparent age of zero', () => {
    const b = ageBasis(headers('Date', httpDate(T + HOUR * S)), T, T);
    assert.equal(currentAge(b, T), 0);
    assert.equal(currentAge(b, T + 3 * S), 3);
  });

  test('the response delay counts even without Date or Age', () => {
    const b = ageBasis(headers(), T - 4 * S, T);
    assert.equal(b.dateValue, T);
    assert.equal(currentAge(b, T), 4);
  });

  test('is whole seconds, rounded down', () => {
    const b = ageBasis(headers('Date', httpDate(T)), T - 1500, T);
    assert.equal(currentAge(b, T), 1);
    assert.equal(currentAge(b, T + 400), 1);
    assert.equal(currentAge(b, T + 600), 2);
  });

  test('an Age that is not a non-negative integer is taken as zero', () => {
    for (const bad of ['abc', '-3', '1.5', '']) {
      assert.equal(ageBasis(headers('Age', bad), T, T).ageValue, 0, JSON.stringify(bad));
    }
    assert.equal(ageBasis(headers('Age', ' 7 '), T, T).ageValue, 7);
  });
});
