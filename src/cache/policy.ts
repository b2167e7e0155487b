/**
 * What the cache does for one rule: on or off, default TTLs, heuristic, stale windows, key options. Global
 * defaults here; `cache.so` (src/plugins/cache/) overrides them per rule.
 */

export interface CachePolicy {
  readonly enabled: boolean;
  /**
   * Freshness, in seconds, for responses without explicit freshness and without a Last-Modified heuristic,
   * by status (nginx's proxy_cache_valid). Empty by default: only what the origin says is trusted.
   */
  readonly ttlByStatus: ReadonlyMap<number, number>;
  /** Statuses cached negatively (with `negativeTtl` when the origin gives no freshness). */
  readonly negativeStatuses: ReadonlySet<number>;
  readonly negativeTtl: number;
  /** Heuristic freshness from Last-Modified (RFC 9111 §4.2.2): this fraction of its age, clamped (ATS: 10%, 1 h–1 d). */
  readonly heuristicFraction: number;
  readonly heuristicMin: number;
  readonly heuristicMax: number;
  /** RFC 5861 defaults when the response does not carry the directive; seconds. */
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
  /** Leave the query out of the cache key entirely. */
  readonly ignoreQuery: boolean;
  /** Store responses that carry Set-Cookie (off: a cookie is usually per client). */
  readonly storeSetCookie: boolean;
}

export const DEFAULT_POLICY: CachePolicy = Object.freeze({
  enabled: true,
  ttlByStatus: new Map<number, number>(),
  negativeStatuses: new Set([404, 410]),
  negativeTtl: 60,
  heuristicFraction: 0.1,
  heuristicMin: 3600,
  heuristicMax: 86400,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  ignoreQuery: false,
  storeSetCookie: false,
});

/** Process-wide store limits. */
export interface CacheLimits {
  /** Total bytes of bodies and headers held; 0 turns the cache off. */
  readonly maxBytes: number;
  /** Larger objects stream through without being buffered or stored. */
  readonly maxObjectBytes: number;
  readonly maxEntries: number;
}

export const DEFAULT_LIMITS: CacheLimits = Object.freeze({
  maxBytes: 256 * 1024 * 1024,
  maxObjectBytes: 16 * 1024 * 1024,
  maxEntries: 100_000,
});
