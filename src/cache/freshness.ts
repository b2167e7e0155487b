/**
 * Whether a response may be stored by a shared cache, for how long it is fresh, and how old it is
 * (RFC 9111 §3, §4.2). Pure: times are passed in (milliseconds since the epoch).
 */
import type { HeaderList } from '../proxy/header-list.js';
import { deltaSeconds, type Directives, parseCacheControl } from './cache-control.js';
import type { CachePolicy } from './policy.js';

/** Statuses RFC 9110 §15.1 calls heuristically cacheable (206 is, but a partial response is never stored here). */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

function httpDate(value: string | undefined): number | null {
  if (value === undefined) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

export interface Freshness {
  /** Seconds the response is fresh for, counted from its age 0. */
  readonly lifetime: number;
  /** Stale windows (RFC 5861), seconds past the lifetime. */
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
  /** must-revalidate / proxy-revalidate / no-cache: never served stale, and (no-cache) always revalidated. */
  readonly mustRevalidate: boolean;
  readonly noCache: boolean;
  /** How the lifetime was found, for Cache-Status detail and tests. */
  readonly source: 's-maxage' | 'max-age' | 'expires' | 'heuristic' | 'ttl' | 'negative' | 'none';
}

/**
 * Freshness lifetime (RFC 9111 §4.2.1): s-maxage, then max-age, then Expires − Date, then a heuristic from
 * Last-Modified (§4.2.2; only without explicit freshness and for heuristically cacheable statuses), then the
 * rule's TTL for the status, then the negative TTL.
 */
export function freshnessOf(status: number, headers: HeaderList, policy: CachePolicy, responseTime: number, cc?: Directives): Freshness {
  const d = cc ?? parseCacheControl(headers.getAll('cache-control'));
  const swr = deltaSeconds(d, 'stale-while-revalidate') ?? policy.staleWhileRevalidate;
  const sie = deltaSeconds(d, 'stale-if-error') ?? policy.staleIfError;
  // s-maxage carries proxy-revalidate's meaning for a shared cache (RFC 9111 §5.2.2.10).
  const mustRevalidate = d.has('must-revalidate') || d.has('proxy-revalidate') || d.has('s-maxage');
  // `no-cache` with field names only restricts those fields; a shared cache may treat it as plain no-cache.
  const noCache = d.has('no-cache');
  const base = { staleWhileRevalidate: swr, staleIfError: sie, mustRevalidate, noCache };
  const sMaxAge = deltaSeconds(d, 's-maxage');
  if (sMaxAge !== null) return { ...base, lifetime: sMaxAge, source: 's-maxage' };
  const maxAge = deltaSeconds(d, 'max-age');
  if (maxAge !== null) return { ...base, lifetime: maxAge, source: 'max-age' };
  const expiresText = headers.get('expires');
  if (expiresText !== undefined) {
    // An invalid Expires (e.g. "0") means already expired (§5.3).
    const expires = httpDate(expiresText);
    const date = httpDate(headers.get('date')) ?? responseTime;
    return { ...base, lifetime: expires === null ? 0 : Math.max(0, Math.floor((expires - date) / 1000)), source: 'expires' };
  }
  const lastModified = httpDate(headers.get('last-modified'));
  if (lastModified !== null && HEURISTICALLY_CACHEABLE.has(status)) {
    const date = httpDate(headers.get('date')) ?? responseTime;
    const age = Math.max(0, (date - lastModified) / 1000);
    const lifetime = Math.floor(Math.min(policy.heuristicMax, Math.max(policy.heuristicMin, age * policy.heuristicFraction)));
    return { ...base, lifetime, source: 'heuristic' };
  }
  const ttl = policy.ttlByStatus.get(status);
  if (ttl !== undefined) return { ...base, lifetime: ttl, source: 'ttl' };
  if (policy.negativeStatuses.has(status)) return { ...base, lifetime: policy.negativeTtl, source: 'negative' };
  return { ...base, lifetime: 0, source: 'none' };
}

/** Why a response is not stored, or null when it may be (RFC 9111 §3 for a shared cache). */
export function notStorableReason(
  status: number,
  headers: HeaderList,
  clientHasAuthorization: boolean,
  policy: CachePolicy,
  freshness: Freshness,
  cc?: Directives,
): string | null {
  if (!HEURISTICALLY_CACHEABLE.has(status)) return `status ${status}`;
  const d = cc ?? parseCacheControl(headers.getAll('cache-control'));
  if (d.has('no-store')) return 'no-store';
  if (d.has('private')) return 'private';
  const vary = headers.getAll('vary').join(',');
  if (vary.split(',').some((f) => f.trim() === '*')) return 'vary-star';
  // §3.5: a response to an authenticated request is shared only when the origin says so explicitly.
  if (clientHasAuthorization && !d.has('public') && !d.has('s-maxage') && !d.has('must-revalidate')) return 'authorization';
  if (!policy.storeSetCookie && headers.has('set-cookie')) return 'set-cookie';
  const validators = headers.has('etag') || headers.has('last-modified');
  if (freshness.lifetime <= 0 && !validators) return 'no-freshness';
  return null;
}

/** What a stored response needs to compute its age later (RFC 9111 §4.2.3). */
export interface AgeBasis {
  /** When the request that produced it was sent, and when its response arrived (ms). */
  readonly requestTime: number;
  readonly responseTime: number;
  /** Date header (ms), or the response time. */
  readonly dateValue: number;
  /** Age header (s), or 0. */
  readonly ageValue: number;
}

export function ageBasis(headers: HeaderList, requestTime: number, responseTime: number): AgeBasis {
  const age = headers.get('age');
  return {
    requestTime,
    responseTime,
    dateValue: httpDate(headers.get('date')) ?? responseTime,
    ageValue: age !== undefined && /^\d+$/.test(age.trim()) ? Number(age.trim()) : 0,
  };
}

/** current_age (RFC 9111 §4.2.3), whole seconds. */
export function currentAge(b: AgeBasis, now: number): number {
  const apparentAge = Math.max(0, b.responseTime - b.dateValue) / 1000;
  const responseDelay = (b.responseTime - b.requestTime) / 1000;
  const correctedAgeValue = b.ageValue + responseDelay;
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue);
  const residentTime = (now - b.responseTime) / 1000;
  return Math.max(0, Math.floor(correctedInitialAge + residentTime));
}
