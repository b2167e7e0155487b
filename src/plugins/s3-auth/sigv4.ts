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

/** Pure ASCII: its UTF-8 length is its length (a native count, ~6× faster than a regex over the string). */
function isAscii(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') === text.length;
}

/** SHA-256 (hex) of a canonical string's wire bytes, with the one-shot hash (no Hash object per call). */
function sha256OfWire(text: string): string {
  // ASCII (nearly every request) is its own wire form: hashed without an intermediate Buffer.
  if (isAscii(text)) return hash('sha256', text, 'hex');
  return BEYOND_LATIN1.test(text) ? hash('sha256', Buffer.from(text, 'utf8'), 'hex') : hash('sha256', Buffer.from(text, 'latin1'), 'hex');
}

/** HMAC-SHA256 block size (RFC 2104 B, FIPS 180-4). */
const BLOCK = 64;
const SCRATCH = 512;

/**
 * HMAC-SHA256 (RFC 2104) for one signing key, with the padded keys prepared once: H((K^opad) || H((K^ipad) || m)).
 * The per-call work is two one-shot hashes over reused buffers — measured about 1.5× createHmac, which sets up
 * the key on every call (issue 6: ≥ 200k signatures/s).
 */
class KeyedHmac {
  readonly #inner = Buffer.alloc(BLOCK + SCRATCH);
  readonly #outer = Buffer.alloc(BLOCK + 32);
  readonly #key: Buffer;

  constructor(key: Buffer) {
    // Keys longer than a block are hashed first (RFC 2104 §2); a derived key is 32 bytes.
    this.#key = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
    for (let i = 0; i < BLOCK; i++) {
      const k = i < this.#key.length ? this.#key[i]! : 0;
      this.#inner[i] = k ^ 0x36;
      this.#outer[i] = k ^ 0x5c;
    }
  }

  /** Hex HMAC of an ASCII message (the string to sign always is); anything else goes through createHmac. */
  hex(message: string): string {
    if (message.length > SCRATCH || !isAscii(message)) return createHmac('sha256', this.#key).update(message, 'utf8').digest('hex');
    const n = this.#inner.write(message, BLOCK, 'latin1');
    // The inner digest travels as a latin1 string (one char per byte): a Buffer result costs more than the hash.
    this.#outer.write(hash('sha256', this.#inner.subarray(0, BLOCK + n), 'binary'), BLOCK, 'latin1');
    return hash('sha256', this.#outer, 'hex');
  }
}

/** Prepared HMACs per signing key: keys are cached Buffers, so their identity names them. */
const keyed = new WeakMap<Buffer, KeyedHmac>();

/** Hex HMAC-SHA256 of `message` under `key`. */
export function hmacHex(key: Buffer, message: string): string {
  let h = keyed.get(key);
  if (h === undefined) {
    h = new KeyedHmac(key);
    keyed.set(key, h);
  }
  return h.hex(message);
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
  const canonicalRequest = `${input.method}\n${input.canonicalUri}\n${input.canonicalQuery}\n${input.canonicalHeaders}\n${input.signedHeaders}\n${input.payloadHash}`;
  const scope = scopeString(input.scope);
  const stringToSign = `${ALGORITHM_V4}\n${input.amzDate}\n${scope}\n${sha256OfWire(canonicalRequest)}`;
  const signature = hmacHex(input.signingKey, stringToSign);
  const authorization =
    `${ALGORITHM_V4} Credential=${input.accessKey}/${scope}, ` +
    `SignedHeaders=${input.signedHeaders}, Signature=${signature}`;
  return { canonicalRequest, stringToSign, signedHeaders: input.signedHeaders, signature, authorization };
}
