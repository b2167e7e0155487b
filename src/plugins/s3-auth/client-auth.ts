/**
 * A client's own S3 authentication on a request: the Authorization header, or the query parameters of a presigned
 * URL (V4: "Authenticating Requests: Using Query Parameters"; V2: AWSAccessKeyId / Expires / Signature). s3_auth
 * removes it before signing for the origin (or, with --client-signed=passthrough, forwards a signed request
 * untouched), and s3_client_auth removes it after verifying it; every other query parameter stays byte for byte.
 */
import type { HeaderList } from '../../proxy/header-list.js';

/** V4 presigned-URL parameters, lower-cased (S3 matches them exactly; a look-alike in another case is dropped too,
 * so that nothing that could read as a credential reaches the origin). */
const V4_QUERY_AUTH: ReadonlySet<string> = new Set([
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-signedheaders',
  'x-amz-signature',
  'x-amz-security-token',
  // Signed into a presigned URL by the SDKs when the payload is not UNSIGNED-PAYLOAD; part of the client's auth.
  'x-amz-content-sha256',
]);
/** V2 query authentication; `Expires` only counts as auth next to a Signature or an AWSAccessKeyId. */
const V2_QUERY_AUTH: ReadonlySet<string> = new Set(['awsaccesskeyid', 'signature', 'expires']);

function paramName(piece: string): string {
  const eq = piece.indexOf('=');
  const raw = eq < 0 ? piece : piece.slice(0, eq);
  try {
    return decodeURIComponent(raw).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/** True when the query carries a V4 or V2 signature (a presigned URL). */
export function hasQueryAuth(search: string): boolean {
  if (search.length <= 1) return false;
  for (const piece of search.slice(1).split('&')) {
    const name = paramName(piece);
    if (name === 'x-amz-signature' || name === 'signature' || name === 'awsaccesskeyid') return true;
  }
  return false;
}

/** True when the request carries its own S3 authentication (header or query). */
export function hasClientAuth(headers: HeaderList, search: string): boolean {
  return headers.has('authorization') || hasQueryAuth(search);
}

/**
 * The query without any authentication parameter, in the client's order and spelling otherwise ('' when nothing
 * is left). V2's parameters go whenever either half of V2 query auth is there (half a signature is still a
 * client's key or signature); a plain `Expires` with neither is left alone.
 */
export function stripQueryAuth(search: string): string {
  if (search.length <= 1) return search;
  const pieces = search.slice(1).split('&');
  const names = pieces.map(paramName);
  const v2Signed = names.includes('signature') || names.includes('awsaccesskeyid');
  const kept = pieces.filter((p, i) => p !== '' && !V4_QUERY_AUTH.has(names[i]!) && !(v2Signed && V2_QUERY_AUTH.has(names[i]!)));
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}
