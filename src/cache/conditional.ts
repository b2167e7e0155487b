/**
 * Client preconditions evaluated against a stored response (RFC 9110 §13.2.2, in its order): If-Match,
 * If-Unmodified-Since, If-None-Match, If-Modified-Since; and If-Range for ranges (§13.1.5).
 */
import type { HeaderList } from '../proxy/header-list.js';

function tags(value: string): string[] {
  return value.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

const opaque = (tag: string) => tag.replace(/^W\//, '');

function date(value: string | undefined): number | null {
  if (value === undefined) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

/** 200 (serve), 304 (not modified) or 412 (precondition failed) for a GET/HEAD against `stored`. */
export function evaluatePreconditions(request: HeaderList, stored: HeaderList): 200 | 304 | 412 {
  // Most requests carry no precondition: answer without parsing the stored dates (a hit's hot path).
  let any = false;
  request.forEach((n) => {
    if (n.length >= 8 && /^if-/i.test(n)) any = true;
  });
  if (!any) return 200;
  const etag = stored.get('etag');
  const lastModified = date(stored.get('last-modified'));
  const ifMatch = request.get('if-match');
  if (ifMatch !== undefined) {
    const list = tags(ifMatch);
    // Strong comparison: a weak tag never matches.
    const ok = list.includes('*') || (etag !== undefined && !etag.startsWith('W/') && list.includes(etag));
    if (!ok) return 412;
  } else {
    const ius = date(request.get('if-unmodified-since'));
    if (ius !== null && lastModified !== null && lastModified > ius) return 412;
  }
  const ifNoneMatch = request.get('if-none-match');
  if (ifNoneMatch !== undefined) {
    const list = tags(ifNoneMatch);
    // Weak comparison.
    if (list.includes('*') || (etag !== undefined && list.some((t) => opaque(t) === opaque(etag)))) return 304;
    return 200;
  }
  const ims = date(request.get('if-modified-since'));
  // Without Last-Modified a cache compares with the stored Date (RFC 9111 §4.3.2).
  const modified = lastModified ?? date(stored.get('date'));
  if (ims !== null && modified !== null && modified <= ims) return 304;
  return 200;
}

/** If-Range (§13.1.5): true when the Range applies (no If-Range, or its validator matches strongly). */
export function ifRangeHolds(request: HeaderList, stored: HeaderList): boolean {
  const ifRange = request.get('if-range');
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    const etag = stored.get('etag');
    return etag !== undefined && !etag.startsWith('W/') && !v.startsWith('W/') && v === etag;
  }
  const lm = date(stored.get('last-modified'));
  const served = date(stored.get('date'));
  // §8.8.2.2: Last-Modified is a strong validator for a cache only when at least 60 s before the stored Date.
  return lm !== null && served !== null && served - lm >= 60_000 && lm === date(v);
}

/** Headers a 304 carries from the stored response (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_HEADERS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified', 'age'];
