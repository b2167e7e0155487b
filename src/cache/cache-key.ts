/**
 * The cache key: the post-remap URL (scheme, host, port, path, query), so two public names mapped to one origin
 * object share an entry. Query parameters that carry a client's own signature are left out (they differ per
 * client and say nothing about the object); `ignoreQuery` leaves the whole query out.
 */
import type { OriginRequest } from '../plugins/api.js';

/** Volatile auth parameters of presigned URLs (SigV4 `X-Amz-*`, SigV2 `Signature`/`Expires`/`AWSAccessKeyId`). */
function isAuthParam(name: string): boolean {
  return /^x-amz-/i.test(name) || name === 'Signature' || name === 'Expires' || name === 'AWSAccessKeyId';
}

export type KeyNormalizer = (path: string, search: string) => { path: string; search: string };

/**
 * RFC 3986 §6.2.2 normalisation for origins nothing more is known about: percent-encoded unreserved characters
 * decoded (`%7E` is `~`), other triplets upper-cased. `+` and `%20` stay distinct (only S3 equates them; s3_auth
 * supplies that reading).
 */
export function rfc3986Normalize(path: string, search: string): { path: string; search: string } {
  const norm = (s: string) =>
    s.replace(/%([0-9a-fA-F]{2})/g, (t, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16));
      return /[A-Za-z0-9\-._~]/.test(c) ? c : t.toUpperCase();
    });
  return { path: norm(path), search: norm(search) };
}

export function cacheKeyOf(
  req: Pick<OriginRequest, 'scheme' | 'host' | 'port' | 'path' | 'search'>,
  ignoreQuery: boolean,
  normalize: KeyNormalizer = rfc3986Normalize,
): string {
  const n = normalize(req.path, ignoreQuery ? '' : req.search);
  let search = '';
  if (!ignoreQuery && n.search.length > 1) {
    const kept = n.search
      .slice(1)
      .split('&')
      .filter((p) => p !== '' && !isAuthParam(decodeName(p)));
    if (kept.length > 0) search = `?${kept.join('&')}`;
  }
  return `${req.scheme}://${req.host.toLowerCase()}:${req.port}${n.path}${search}`;
}

function decodeName(piece: string): string {
  const eq = piece.indexOf('=');
  const raw = eq < 0 ? piece : piece.slice(0, eq);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
