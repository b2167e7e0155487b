/**
 * AWS Signature Version 2 for S3, pure ("Signing and Authenticating REST Requests", Amazon S3 Developer Guide):
 *
 *   StringToSign = Method \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource
 *   Signature    = Base64(HMAC-SHA1(secret, UTF-8(StringToSign)))
 *
 * ATS's V2 is "bare bones" by its own documentation; everything it leaves out is here: UTF-8 paths, x-amz-*
 * canonicalisation, sub-resources, session tokens, a GMT Date, dotted bucket names in virtual-host style.
 */
import { createHmac } from 'node:crypto';
import type { HeaderList } from '../../proxy/header-list.js';
import { ALGORITHM_V2, AMZ_DATE, CONTENT_MD5, CONTENT_TYPE, DATE, V2_SUBRESOURCES } from './constants.js';
import { wireBytes } from './sigv4.js';
import { decodeToBytes } from './uri-encode.js';

export interface V2Signature {
  readonly stringToSign: string;
  readonly signature: string;
  readonly authorization: string;
  readonly resource: string;
}

/**
 * CanonicalizedAmzHeaders: x-amz-* names lower-cased and sorted, each `name:value\n`, repeated fields joined with
 * ',' in order, values trimmed and any folded line unfolded to one space.
 */
export function canonicalAmzHeaders(headers: HeaderList): string {
  const byName = new Map<string, string>();
  headers.forEach((n, v) => {
    const name = n.toLowerCase();
    if (!name.startsWith('x-amz-')) return;
    const value = v.replace(/\s*\r?\n\s*/g, ' ').trim();
    const prev = byName.get(name);
    byName.set(name, prev === undefined ? value : `${prev},${value}`);
  });
  let out = '';
  for (const name of [...byName.keys()].sort()) out += `${name}:${byName.get(name)!}\n`;
  return out;
}

/**
 * The sub-resource part of a CanonicalizedResource: only the parameters in V2_SUBRESOURCES, sorted by name, with
 * their values decoded — AWS: "When signing, you do not encode these values; however, when making the request,
 * you must encode these parameter values." `search` is the query as sent (with '?').
 */
export function subresources(search: string, plusIsSpace: boolean): string {
  if (search.length <= 1) return '';
  const kept: [string, string | null][] = [];
  for (const piece of search.slice(1).split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    // Binary strings (one char per byte), like header values: the string to sign is hashed as its bytes.
    const name = decodeToBytes(eq < 0 ? piece : piece.slice(0, eq), plusIsSpace).toString('latin1');
    if (!V2_SUBRESOURCES.has(name)) continue;
    kept.push([name, eq < 0 ? null : decodeToBytes(piece.slice(eq + 1), plusIsSpace).toString('latin1')]);
  }
  if (kept.length === 0) return '';
  kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `?${kept.map(([n, v]) => (v === null ? n : `${n}=${v}`)).join('&')}`;
}

export interface V2Input {
  readonly method: string;
  readonly headers: HeaderList;
  /** `/bucket` for a virtual-hosted request, '' for path style (the bucket is then in the path). */
  readonly bucketPrefix: string;
  /** The path as sent. */
  readonly path: string;
  /** The query as sent (with '?'), or ''. */
  readonly search: string;
  readonly plusIsSpace: boolean;
  readonly accessKey: string;
  readonly secretKey: string;
}

function field(headers: HeaderList, name: string): string {
  return headers.get(name)?.trim() ?? '';
}

export function signV2(input: V2Input): V2Signature {
  const h = input.headers;
  // With x-amz-date the Date line is empty: x-amz-date is signed among the amz headers instead.
  const date = h.has(AMZ_DATE) ? '' : field(h, DATE);
  // UTF-8 as sent: the path is already percent-encoded ASCII after normalisation.
  const resource = input.bucketPrefix + input.path + subresources(input.search, input.plusIsSpace);
  // Every part is a binary string of its bytes: header values as Node read them off the wire (latin1), the
  // path percent-encoded ASCII, sub-resource values decoded to their bytes. UTF-8 keys are thus signed as UTF-8.
  const binary =
    `${input.method}\n${field(h, CONTENT_MD5)}\n${field(h, CONTENT_TYPE)}\n${date}\n` + canonicalAmzHeaders(h) + resource;
  const bytes = wireBytes(binary);
  const signature = createHmac('sha1', input.secretKey).update(bytes).digest('base64');
  // Shown as UTF-8 text, as S3 shows its StringToSign.
  const readable = (s: string) => (/[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s);
  return { stringToSign: readable(binary), signature, authorization: `${ALGORITHM_V2} ${input.accessKey}:${signature}`, resource: readable(resource) };
}
