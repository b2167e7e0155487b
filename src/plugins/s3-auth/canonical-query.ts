/**
 * The query string, canonical and on the wire. Every parameter is kept — repeated names too (ATS collapsed them,
 * and S3 answered SignatureDoesNotMatch) — names and values are decoded once and RFC 3986 encoded, and the
 * canonical form sorts by name, then value ("CanonicalQueryString", AWS SigV4 docs). The wire form keeps the
 * client's order and bare names (`?acl`) but uses the same encoding, so the origin decodes what was signed.
 */
import { normalizeComponent } from './uri-encode.js';

export interface NormalizedQuery {
  /** Sorted `name=value` pairs joined with `&` ('' when there are none). */
  canonical: string;
  /** The query to send, with its leading '?', or '' when there are no parameters. */
  search: string;
}

const NO_QUERY: NormalizedQuery = { canonical: '', search: '' };

/** `search` is the raw query with its '?' (or ''); `plusIsSpace` reads `+` as a space as form encoding does. */
export function normalizeQuery(search: string, plusIsSpace: boolean): NormalizedQuery {
  if (search.length <= 1) return NO_QUERY;
  const wire: string[] = [];
  const pairs: [string, string][] = [];
  for (const piece of search.slice(1).split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = normalizeComponent(eq < 0 ? piece : piece.slice(0, eq), plusIsSpace);
    const value = eq < 0 ? '' : normalizeComponent(piece.slice(eq + 1), plusIsSpace);
    wire.push(eq < 0 ? name : `${name}=${value}`);
    pairs.push([name, value]);
  }
  if (pairs.length === 0) return NO_QUERY;
  // Encoded strings are ASCII, so comparing UTF-16 code units is AWS's byte order.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  let canonical = '';
  for (let i = 0; i < pairs.length; i++) canonical += (i > 0 ? '&' : '') + pairs[i]![0] + '=' + pairs[i]![1];
  return { canonical, search: `?${wire.join('&')}` };
}
