/**
 * The in-memory object store: lru-cache bounded by total bytes (body + headers), an entry count, and a largest
 * object. Responses that vary (Vary) are stored as variants under `key + \0 + the request's values of the Vary
 * fields`; a key remembers its Vary field names so a lookup can form the variant key.
 */
import { LRUCache } from 'lru-cache';
import type { ResponseHead } from '../plugins/api.js';
import type { HeaderList } from '../proxy/header-list.js';
import type { AgeBasis, Freshness } from './freshness.js';
import type { CacheLimits } from './policy.js';

export interface CacheEntry {
  readonly key: string;
  readonly variantKey: string;
  status: number;
  /** Stored header fields (flat), hop-by-hop already removed. */
  headers: string[];
  readonly body: Buffer;
  age: AgeBasis;
  freshness: Freshness;
  readonly size: number;
  /** The last plain hit's response head (src/proxy/cache-flow.ts, preparedHead); cleared when the entry changes. */
  prepared?: PreparedHead | undefined;
}

/** A response head prepared for the plain hits of one Age, cache status and client HTTP version. */
export interface PreparedHead {
  readonly age: number;
  readonly cacheStatus: string | null;
  readonly xCache: string;
  readonly httpVersion: string;
  readonly head: ResponseHead;
}

export interface CacheStats {
  hits: number;
  misses: number;
  staleServed: number;
  revalidations: number;
  revalidatedNotModified: number;
  coalesced: number;
  stored: number;
  evictions: number;
  purges: number;
  invalidations: number;
}

/** Lower-cased Vary field names of a response (empty when it does not vary). */
export function varyFields(headers: HeaderList): string[] {
  return headers
    .getAll('vary')
    .join(',')
    .split(',')
    .map((f) => f.trim().toLowerCase())
    .filter((f) => f !== '')
    .sort();
}

/** The request's values of the Vary fields, normalised (RFC 9111 §4.1: whitespace, and joined repeats). */
function variantSuffix(fields: readonly string[], request: HeaderList): string {
  return fields
    .map((f) => {
      const values = request.getAll(f);
      // An absent field matches only an absent field, not an empty one (RFC 9111 §4.1).
      return values.length === 0 ? `${f}\u0001` : `${f}=${values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}`;
    })
    .join('\n');
}

function variantKeyOf(key: string, fields: readonly string[], request: HeaderList): string {
  return fields.length === 0 ? key : `${key}\0${variantSuffix(fields, request)}`;
}

/** Bytes an entry costs: its body and header text, plus a fixed overhead for the record itself. */
function sizeOf(headers: readonly string[], body: Buffer, key: string): number {
  let n = body.length + key.length + 256;
  for (const h of headers) n += h.length;
  return n;
}

const MAX_VARIANTS = 16;

export class ObjectStore {
  readonly limits: CacheLimits;
  readonly stats: CacheStats = {
    hits: 0,
    misses: 0,
    staleServed: 0,
    revalidations: 0,
    revalidatedNotModified: 0,
    coalesced: 0,
    stored: 0,
    evictions: 0,
    purges: 0,
    invalidations: 0,
  };
  readonly #lru: LRUCache<string, CacheEntry>;
  /** key → Vary fields of its latest stored response, and its variant keys. */
  readonly #keys = new Map<string, { fields: string[]; variants: Set<string> }>();

  constructor(limits: CacheLimits) {
    this.limits = limits;
    this.#lru = new LRUCache<string, CacheEntry>({
      max: limits.maxEntries,
      maxSize: Math.max(1, limits.maxBytes),
      maxEntrySize: Math.max(1, Math.min(limits.maxBytes, limits.maxObjectBytes + 64 * 1024)),
      sizeCalculation: (e) => e.size,
      dispose: (entry, variantKey, reason) => {
        if (reason === 'evict') this.stats.evictions++;
        const k = this.#keys.get(entry.key);
        if (k && reason !== 'set') {
          k.variants.delete(variantKey);
          if (k.variants.size === 0) this.#keys.delete(entry.key);
        }
      },
    });
  }

  get enabled(): boolean {
    return this.limits.maxBytes > 0;
  }

  /** Bytes and entries held now. */
  get occupancy(): { bytes: number; entries: number } {
    return { bytes: this.#lru.calculatedSize, entries: this.#lru.size };
  }

  /** The stored variant for this request, or undefined. Refreshes its recency. */
  get(key: string, request: HeaderList): CacheEntry | undefined {
    const k = this.#keys.get(key);
    if (!k) return undefined;
    return this.#lru.get(variantKeyOf(key, k.fields, request));
  }

  /** True when the object (with headers) fits the per-object limit. */
  fits(bodyBytes: number): boolean {
    return this.enabled && bodyBytes <= this.limits.maxObjectBytes;
  }

  /** Stores a complete response for `request`; returns false when it does not fit. */
  put(
    key: string,
    request: HeaderList,
    response: { status: number; headers: HeaderList; body: Buffer; age: AgeBasis; freshness: Freshness },
  ): boolean {
    if (!this.fits(response.body.length)) return false;
    const fields = varyFields(response.headers);
    let k = this.#keys.get(key);
    if (k && k.fields.join(',') !== fields.join(',')) {
      // The origin changed what the object varies on: the old variants can no longer be found correctly.
      this.delete(key);
      k = undefined;
    }
    if (k && k.variants.size >= MAX_VARIANTS) this.delete(key), (k = undefined);
    const variantKey = variantKeyOf(key, fields, request);
    const headers = response.headers.raw.slice();
    const entry: CacheEntry = {
      key,
      variantKey,
      status: response.status,
      headers,
      body: response.body,
      age: response.age,
      freshness: response.freshness,
      size: sizeOf(headers, response.body, variantKey),
    };
    if (!k) {
      k = { fields, variants: new Set() };
      this.#keys.set(key, k);
    }
    k.variants.add(variantKey);
    this.#lru.set(variantKey, entry);
    if (!this.#lru.has(variantKey)) {
      k.variants.delete(variantKey);
      if (k.variants.size === 0) this.#keys.delete(key);
      return false;
    }
    this.stats.stored++;
    return true;
  }

  /** Removes every variant of `key`; returns how many were removed. */
  delete(key: string): number {
    const k = this.#keys.get(key);
    if (!k) return 0;
    const variants = [...k.variants];
    this.#keys.delete(key);
    for (const v of variants) this.#lru.delete(v);
    return variants.length;
  }

  clear(): void {
    this.#keys.clear();
    this.#lru.clear();
  }
}
