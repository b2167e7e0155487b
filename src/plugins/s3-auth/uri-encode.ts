/**
 * RFC 3986 encoding as SigV4 defines it ("URI-encode each byte": unreserved A-Z a-z 0-9 - . _ ~ kept, every other
 * byte of the UTF-8 form as upper-case %XX) and the one normalisation of a raw path that both goes on the wire and
 * is signed. Decoding first means an already-encoded path is never encoded twice, and the origin's own reading of
 * the client's bytes (is `%41` an `A`? is `+` a space?) stops mattering: it reads exactly what was signed.
 */

const HEX = '0123456789ABCDEF';

/** ENCODED[b] is how byte b appears in an encoded component ('/' encoded). */
const ENCODED: readonly string[] = Array.from({ length: 256 }, (_, b) => {
  const c = String.fromCharCode(b);
  return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${HEX[b >> 4]}${HEX[b & 15]}`;
});

const UNRESERVED_PATH = /^[A-Za-z0-9\-._~/]*$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * The bytes a raw (percent-encoded) string stands for: valid `%XX` triplets decoded, a `%` not followed by two hex
 * digits kept as a literal `%`, `+` read as a space when `plusIsSpace` (S3's reading, see s3-auth.ts), and
 * characters outside ASCII (set by a plugin; Node's parser refuses them on the wire) taken as UTF-8.
 */
export function decodeToBytes(raw: string, plusIsSpace: boolean): Buffer {
  const out = Buffer.allocUnsafe(raw.length * 3);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */ && i + 2 < raw.length) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
      out[n++] = c;
    } else if (c === 43 /* + */ && plusIsSpace) {
      out[n++] = 32;
    } else if (c < 0x80) {
      out[n++] = c;
    } else {
      // A run of non-ASCII characters: encode it as UTF-8 in one go so surrogate pairs stay whole.
      let j = i + 1;
      while (j < raw.length && raw.charCodeAt(j) >= 0x80) j++;
      n += out.write(raw.slice(i, j), n, 'utf8');
      i = j - 1;
    }
  }
  return out.subarray(0, n);
}

/** Encodes bytes per RFC 3986; `/` is kept when `keepSlash` (paths), encoded otherwise (query components). */
export function encodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    s += b === 47 && keepSlash ? '/' : ENCODED[b]!;
  }
  return s;
}

/** Encodes a string's UTF-8 bytes per RFC 3986 (every reserved character, `/` too). */
export function encodeRfc3986(value: string): string {
  if (UNRESERVED.test(value)) return value;
  return encodeBytes(Buffer.from(value, 'utf8'), false);
}

/**
 * Re-encodes a raw query component (name or value) to its canonical form: decoded once, then RFC 3986 encoded.
 */
export function normalizeComponent(raw: string, plusIsSpace: boolean): string {
  if (UNRESERVED.test(raw)) return raw;
  return encodeBytes(decodeToBytes(raw, plusIsSpace), false);
}

/**
 * S3's canonical (and outgoing) path: decoded once, then every byte but unreserved and `/` encoded
 * ("Signature Calculations for the Authorization Header", CanonicalURI: S3 does not normalise further and does
 * not double-encode). `%2F` becomes `/`, which S3 reads as the same key.
 */
export function normalizeS3Path(raw: string, plusIsSpace: boolean): string {
  if (UNRESERVED_PATH.test(raw)) return raw;
  return encodeBytes(decodeToBytes(raw, plusIsSpace), true);
}

/**
 * The outgoing path for services other than S3: each segment decoded and re-encoded on its own, so an encoded
 * `%2F` stays inside its segment and `+` stays a plus (RFC 3986 has no plus-as-space).
 */
export function normalizeGenericPath(raw: string): string {
  if (UNRESERVED_PATH.test(raw)) return raw;
  return raw
    .split('/')
    .map((segment) => encodeBytes(decodeToBytes(segment, false), false))
    .join('/');
}

/**
 * The canonical URI of the generic SigV4 rules (AWS SigV4 test suite, "normalize-path"): empty and `.` segments
 * dropped, `..` removes the previous segment, a trailing slash kept, then the already-encoded path encoded again
 * (so `%20` is signed as `%2520`).
 */
export function canonicalGenericUri(path: string): string {
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  let normal = (path.startsWith('/') ? '/' : '') + segments.join('/');
  if (segments.length > 0 && path.endsWith('/')) normal += '/';
  if (normal === '') normal = '/';
  return encodeBytes(Buffer.from(normal, 'utf8'), true);
}

const WIRE_SAFE = /^[\x21-\x7e]*$/;

/**
 * Encodes only what cannot go on the wire in a request-target (space, controls, non-ASCII — possible only when a
 * plugin set the path) and leaves every other byte, `%XX` included, exactly as it is: V2 signs the path as sent.
 */
export function encodeUnsafe(path: string): string {
  if (WIRE_SAFE.test(path)) return path;
  let out = '';
  for (const ch of path) {
    const c = ch.codePointAt(0)!;
    out += c > 0x20 && c < 0x7f ? ch : encodeBytes(Buffer.from(ch, 'utf8'), false);
  }
  return out;
}
