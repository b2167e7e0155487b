/**
 * AWS Signature Version 4, pure: (canonical parts, key, date) → signature. No I/O and no clock; the caller
 * passes the date, so every signature is reproducible in a test. Follows "Create a signed AWS API request"
 * (AWS IAM User Guide) and S3's "Signature Calculations for the Authorization Header".
 */
import { createHash, createHmac, hash } from 'node:crypto';
import { ALGORITHM_V4, KEY_PREFIX_V4, KEY_TYPE_V4 } from './constants.js';

export interface CredentialScope {
  /** YYYYMMDD (UTC). */
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

export interface V4Input {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  /** `name:value\n` lines, sorted. */
  readonly canonicalHeaders: string;
  readonly signedHeaders: string;
  readonly payloadHash: string;
  /** ISO 8601 basic format, YYYYMMDD'T'HHMMSS'Z' — the value of x-amz-date. */
  readonly amzDate: string;
  readonly scope: CredentialScope;
  readonly accessKey: string;
  /** The derived key for `scope` (deriveSigningKey, or a scoped key installed by the operator). */
  readonly signingKey: Buffer;
}

export interface V4Signature {
  readonly canonicalRequest: string;
  readonly stringToSign: string;
  readonly signedHeaders: string;
  readonly signature: string;
  readonly authorization: string;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;

/**
 * The bytes the canonical request stands for on the wire. Node reads header bytes as latin1 and undici writes
 * them back as latin1, so a header value's characters ARE its wire bytes: a UTF-8 `é` received as C3 A9 must be
 * hashed as C3 A9, not UTF-8-encoded a second time. (Paths and queries are ASCII by then.) Only a string holding
 * characters beyond latin1 — set by a plugin, never received — is taken as UTF-8.
 */
export function wireBytes(text: string): Buffer {
  return Buffer.from(text, BEYOND_LATIN1.test(text) ? 'utf8' : 'latin1');
}

/** SHA-256 (hex) of a canonical string's wire bytes, with the one-shot hash (no Hash object per call). */
function sha256OfWire(text: string): string {
  return BEYOND_LATIN1.test(text) ? hash('sha256', Buffer.from(text, 'utf8'), 'hex') : hash('sha256', Buffer.from(text, 'latin1'), 'hex');
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secretKey: string, scope: CredentialScope): Buffer {
  const kDate = hmac(KEY_PREFIX_V4 + secretKey, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  return hmac(kService, KEY_TYPE_V4);
}

export function scopeString(scope: CredentialScope): string {
  return `${scope.date}/${scope.region}/${scope.service}/${KEY_TYPE_V4}`;
}

let lastSecond = NaN;
let lastAmzDate = '';

/** `2013-05-24T00:00:00.000Z` → `20130524T000000Z`; formatted once per second (a hot path per request). */
export function formatAmzDate(now: Date): string {
  const second = Math.floor(now.getTime() / 1000);
  if (second !== lastSecond) {
    const iso = now.toISOString();
    lastAmzDate = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
    lastSecond = second;
  }
  return lastAmzDate;
}

export function signV4(input: V4Input): V4Signature {
  const canonicalRequest = [
    input.method,
    input.canonicalUri,
    input.canonicalQuery,
    input.canonicalHeaders,
    input.signedHeaders,
    input.payloadHash,
  ].join('\n');
  const stringToSign = [ALGORITHM_V4, input.amzDate, scopeString(input.scope), sha256OfWire(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', input.signingKey).update(stringToSign, 'utf8').digest('hex');
  const authorization =
    `${ALGORITHM_V4} Credential=${input.accessKey}/${scopeString(input.scope)}, ` +
    `SignedHeaders=${input.signedHeaders}, Signature=${signature}`;
  return { canonicalRequest, stringToSign, signedHeaders: input.signedHeaders, signature, authorization };
}
