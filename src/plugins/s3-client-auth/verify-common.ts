/**
 * What V2 and V4 verification share: reading the raw query once, the bucket and key a request addresses, dates,
 * the signing-key cache, and constant-time comparison. Pure: the clock arrives as a number.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { hostName } from '../s3-auth/host.js';
import { SecretKeySource } from '../s3-auth/signing-keys.js';
import type { CredentialScope } from '../s3-auth/sigv4.js';
import { decodeToBytes } from '../s3-auth/uri-encode.js';
import { S3AuthError, type S3ErrorCode } from './s3-error.js';
import type { HeaderList } from '../../proxy/header-list.js';
import type { ClientSecret, VerifyContext } from './verify.js';
import { MAX_SKEW_MS, MSG } from './verify-constants.js';

/** One query parameter: name and value decoded once (UTF-8 text), and the piece as sent (for re-encoding). */
export interface QueryParam {
  readonly name: string;
  readonly value: string;
  readonly raw: string;
}

/** The raw query (with its '?') split into parameters, in order; repeated names kept. */
export function parseQuery(search: string, plusIsSpace: boolean): QueryParam[] {
  const params: QueryParam[] = [];
  if (search.length <= 1) return params;
  for (const raw of search.slice(1).split('&')) {
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    params.push({
      name: decodeToBytes(eq < 0 ? raw : raw.slice(0, eq), plusIsSpace).toString('utf8'),
      value: eq < 0 ? '' : decodeToBytes(raw.slice(eq + 1), plusIsSpace).toString('utf8'),
      raw,
    });
  }
  return params;
}

/** Builds S3AuthErrors that all carry the request's resource (its path as sent). */
export class Refusal {
  constructor(readonly resource: string) {}

  error(code: S3ErrorCode, message: string, detail?: string): S3AuthError {
    return new S3AuthError(code, message, { resource: this.resource, detail });
  }
}

/**
 * The value of the one parameter named `name` (`ignoreCase`: ASCII case ignored), undefined when absent; a
 * parameter given twice is refused with `code` — two credentials or two signatures cannot both be meant.
 */
export function single(params: readonly QueryParam[], name: string, code: S3ErrorCode, refuse: Refusal, ignoreCase = false): string | undefined {
  let found: string | undefined;
  const lower = name.toLowerCase();
  for (const p of params) {
    if (ignoreCase ? p.name.toLowerCase() !== lower : p.name !== name) continue;
    if (found !== undefined) throw refuse.error(code, `The query parameter ${name} is given more than once.`);
    found = p.value;
  }
  return found;
}

export function hasParam(params: readonly QueryParam[], name: string): boolean {
  return params.some((p) => p.name === name);
}

/** The bucket and key a request addresses, decoded; and the bucket read from the Host (virtual-host style) or null. */
export interface Address {
  readonly bucket: string;
  readonly key: string;
  readonly hostBucket: string | null;
}

/**
 * Virtual-host style when the Host (port dropped, case ignored, a trailing dot ignored) is `<bucket>.<suffix>` for
 * one of `suffixes`: the bucket is the lower-cased label(s) before the suffix and the whole path is the key. Otherwise
 * path style: the first path segment is the bucket. The path is decoded as the origin signer will send it
 * (normalizeS3Path, same `plusIsSpace`), so the key checked is the key the origin acts on.
 */
export function addressOf(hostField: string | undefined, path: string, suffixes: readonly string[], plusIsSpace: boolean): Address {
  const decoded = decodeToBytes(path, plusIsSpace).toString('utf8');
  const rest = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const host = hostField === undefined ? '' : hostName(hostField.trim()).replace(/\.$/, '').toLowerCase();
  for (const suffix of suffixes) {
    const s = `.${suffix.replace(/^\./, '').replace(/\.$/, '').toLowerCase()}`;
    if (host.length > s.length && host.endsWith(s)) {
      const bucket = host.slice(0, -s.length);
      return { bucket, key: rest, hostBucket: bucket };
    }
  }
  const slash = rest.indexOf('/');
  if (slash < 0) return { bucket: rest, key: '', hostBucket: null };
  return { bucket: rest.slice(0, slash), key: rest.slice(slash + 1), hostBucket: null };
}

const AMZ_DATE_FORMAT = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** `20130524T000000Z` → epoch ms, or NaN when it is not a valid ISO 8601 basic timestamp. */
export function parseAmzDate(value: string): number {
  const m = AMZ_DATE_FORMAT.exec(value);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  const back = new Date(t);
  // Date.UTC rolls 20130231 over to March: such a date is not valid.
  if (back.getUTCDate() !== d || back.getUTCHours() !== h || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== s) return NaN;
  return t;
}

/** An HTTP date (IMF-fixdate, RFC 850, asctime — and the `+0000` form old S3 clients send) or an ISO 8601 basic one. */
export function parseHttpDate(value: string): number {
  const v = value.trim();
  if (AMZ_DATE_FORMAT.test(v)) return parseAmzDate(v);
  // Date.parse would read a bare number as a year; an HTTP date always names its weekday or month.
  if (!/[A-Za-z]/.test(v)) return NaN;
  return Date.parse(v);
}

/** Constant-time equality of two ASCII strings (a signature received and one computed); unequal lengths differ. */
export function sameSignature(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'latin1');
  const b = Buffer.from(expected, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant-time equality of two secrets of any length (session tokens): their digests are compared. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a, 'utf8').digest(), createHash('sha256').update(b, 'utf8').digest());
}

/**
 * Signing keys per client secret, derived once per (date, region, service) — the same cache the origin signer
 * uses. Keyed by the ClientSecret object: a clients file that hands out the same object per key gets the cache, a
 * reloaded file (new objects) starts afresh and the old keys go with the old objects.
 */
const keySources = new WeakMap<ClientSecret, SecretKeySource>();

export function signingKeyFor(secret: ClientSecret, scope: CredentialScope): Buffer {
  let source = keySources.get(secret);
  if (source === undefined) {
    source = new SecretKeySource(secret.secretKey);
    keySources.set(secret, source);
  }
  return source.keyFor(scope);
}

/**
 * The session-token rule: a client whose secret has a token must send exactly it; a client without one must send
 * none (a token that the proxy cannot check is not waved through).
 */
export function checkToken(secret: ClientSecret, sent: string | undefined, refuse: Refusal): void {
  if (secret.sessionToken === null) {
    if (sent !== undefined) throw refuse.error('InvalidToken', MSG.badToken, 'a session token was sent for a key that has none');
    return;
  }
  if (sent === undefined) throw refuse.error('InvalidToken', MSG.badToken, 'the key requires a session token and none was sent');
  if (!sameSecret(sent, secret.sessionToken)) throw refuse.error('InvalidToken', MSG.badToken, 'the session token is not the key\'s');
}

/** The client's secret for `accessKey`; an unknown key is InvalidAccessKeyId (named in the log, cut to 128 chars). */
export function lookupSecret(ctx: VerifyContext, accessKey: string): ClientSecret {
  const secret = ctx.opts.lookup(accessKey);
  if (secret === null) throw ctx.refuse.error('InvalidAccessKeyId', MSG.unknownKey, `unknown access key "${accessKey.slice(0, 128)}"`);
  return secret;
}

/** Header authentication more than 15 minutes from the proxy's clock is RequestTimeTooSkewed (S3, V2 and V4). */
export function checkSkew(t: number, now: number, refuse: Refusal): void {
  if (Math.abs(now - t) > MAX_SKEW_MS) {
    throw refuse.error('RequestTimeTooSkewed', MSG.skewed, `request time ${new Date(t).toISOString()}, proxy time ${new Date(now).toISOString()}`);
  }
}

/** The one value of a header that may appear at most once, or undefined; twice is refused with `code`. */
export function oneField(headers: HeaderList, name: string, code: S3ErrorCode, message: string, refuse: Refusal): string | undefined {
  const values = headers.getAll(name);
  if (values.length > 1) throw refuse.error(code, message, `${name} appears ${values.length} times`);
  return values[0];
}
