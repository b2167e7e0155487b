/**
 * Signature Version 4, verified as S3 verifies it: the canonical request is rebuilt from the request as received,
 * signed with the client's key, and compared in constant time with the signature the client sent.
 *
 * - Authorization header: "Signature Calculations for the Authorization Header" (single chunk, and the seed of a
 *   chunked upload — the chunks themselves are checked while the body streams, aws-chunked.ts).
 * - Query (presigned URL): "Authenticating Requests: Using Query Parameters".
 *
 * The canonical URI is the path decoded once and re-encoded (normalizeS3Path): S3 neither removes dot segments nor
 * encodes twice, and every byte outside `A-Za-z0-9-._~/` is `%XX` upper-case, so a client that sent `%2b`, a raw
 * `(` or `é` and signed AWS's encoding of the key verifies. A raw `+` is read as a space (S3's reading, and the
 * origin signer's: the key a client signs must be the key the origin is asked for); `plusIsSpace: false` reads it as
 * a plus, as s3_auth's `--literal_plus` does. AWS SDKs always send `+` as `%2B`, so they verify either way.
 */
import type { HeaderList } from '../../proxy/header-list.js';
import { ALGORITHM_V4, AMZ_CONTENT_SHA256, AMZ_DATE, AMZ_SECURITY_TOKEN, DATE, HOST, KEY_TYPE_V4, S3_SERVICE, UNSIGNED_PAYLOAD } from '../s3-auth/constants.js';
import { normalizeQuery } from '../s3-auth/canonical-query.js';
import { type CredentialScope, formatAmzDate, scopeString, signV4 } from '../s3-auth/sigv4.js';
import { normalizeS3Path } from '../s3-auth/uri-encode.js';
import type { S3ErrorCode } from './s3-error.js';
import type { ClientSecret, PayloadCheck, Verified, VerifyContext } from './verify.js';
import { addressOf, checkSkew, checkToken, lookupSecret, oneField, parseAmzDate, parseHttpDate, type Refusal, sameSignature, signingKeyFor, single } from './verify-common.js';
import {
  AMZ_DECODED_CONTENT_LENGTH,
  AMZ_TRAILER,
  CHECKSUM_TRAILER,
  MAX_PRESIGNED_EXPIRES_S,
  MAX_SKEW_MS,
  MSG,
  Q_ALGORITHM,
  Q_CONTENT_SHA256,
  Q_CREDENTIAL,
  Q_DATE,
  Q_EXPIRES,
  Q_SECURITY_TOKEN,
  Q_SIGNATURE,
  Q_SIGNED_HEADERS,
  STREAMING_ECDSA_PREFIX,
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
} from './verify-constants.js';

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
/** A header name as it appears in SignedHeaders: an RFC 9110 token, lower case. */
const SIGNED_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const SCOPE_DATE = /^\d{8}$/;
const DECIMAL = /^\d{1,15}$/;

/** How one form (header or query) words its refusals of the credential and signed-header list. */
interface Form {
  readonly code: S3ErrorCode;
  readonly prefix: string;
}

const HEADER_FORM: Form = { code: 'AuthorizationHeaderMalformed', prefix: 'The authorization header is malformed; ' };
const QUERY_FORM: Form = { code: 'AuthorizationQueryParametersError', prefix: 'Error parsing the X-Amz-Credential parameter; ' };

interface Credential {
  readonly accessKey: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
}

/** `AKID/YYYYMMDD/region/service/aws4_request`; the access key is everything before the last four parts. */
function parseCredential(value: string, form: Form, refuse: Refusal): Credential {
  const parts = value.split('/');
  const accessKey = parts.slice(0, -4).join('/');
  const [date, region, service, terminator] = parts.slice(-4);
  if (parts.length < 5 || accessKey === '' || !SCOPE_DATE.test(date!) || region === '' || service === '') {
    throw refuse.error(form.code, `${form.prefix}the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  return { accessKey, date: date!, region: region!, service: service!, terminator: terminator! };
}

/** The scope must be today's (the request date's), for s3, aws4_request, and the configured region when one is. */
function checkScope(c: Credential, amzDate: string, region: string | null, form: Form, refuse: Refusal): CredentialScope {
  if (c.date !== amzDate.slice(0, 8)) throw refuse.error(form.code, `${form.prefix}Invalid credential date. Date is not the same as X-Amz-Date.`);
  if (region !== null && c.region !== region) throw refuse.error(form.code, `${form.prefix}the region '${c.region}' is wrong; expecting '${region}'`);
  if (c.service !== S3_SERVICE) throw refuse.error(form.code, `${form.prefix}incorrect service "${c.service}". This endpoint belongs to "${S3_SERVICE}".`);
  if (c.terminator !== KEY_TYPE_V4) throw refuse.error(form.code, `${form.prefix}incorrect terminal "${c.terminator}". This endpoint uses "${KEY_TYPE_V4}".`);
  return { date: c.date, region: c.region, service: c.service };
}

function parseSignedHeaders(value: string, form: Form, refuse: Refusal): string[] {
  const names = value.split(';');
  const seen = new Set<string>();
  for (const n of names) {
    if (!SIGNED_NAME.test(n) || seen.has(n)) throw refuse.error(form.code, `${form.prefix}SignedHeaders "${value.slice(0, 200)}" is not a list of lower-case header names.`);
    seen.add(n);
  }
  return names;
}

/**
 * S3's rules on which headers must be signed: `host` always, and every x-amz-* field the request carries ("Any
 * x-amz-* headers that you plan to include in your request must also be added"). Content-Type is not enforced:
 * S3 does not, and clients such as minio-go leave it unsigned. Without this a man in the middle could add
 * x-amz-acl or x-amz-copy-source to a request that the proxy then re-signs for the origin.
 */
function checkSignedHeaders(signed: readonly string[], headers: HeaderList, form: Form, refuse: Refusal): void {
  if (!signed.includes(HOST)) throw refuse.error(form.code, `${form.prefix}the host header must be signed.`);
  const unsigned = new Set<string>();
  headers.forEach((name) => {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && !signed.includes(lower)) unsigned.add(lower);
  });
  if (unsigned.size > 0) throw refuse.error('AccessDenied', MSG.headersNotSigned, `HeadersNotSigned: ${[...unsigned].join(', ')}`);
}

/** Values trimmed and runs of spaces and tabs squeezed to one; repeated fields joined with ',' in order. */
function canonicalValue(value: string): string {
  return value.replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

/** CanonicalHeaders for exactly the names the client signed, from the fields it sent. */
function canonicalHeaders(signed: readonly string[], headers: HeaderList, refuse: Refusal): string {
  let out = '';
  for (const name of signed) {
    const values = headers.getAll(name);
    // A signed header that is not there cannot have the value that was signed.
    if (values.length === 0) throw refuse.error('SignatureDoesNotMatch', MSG.signatureMismatch, `signed header "${name}" is not in the request`);
    out += `${name}:${values.map(canonicalValue).join(',')}\n`;
  }
  return out;
}

/**
 * The signature over the canonical request, compared in constant time. Neither the expected signature nor the
 * string to sign goes into the error: they would help forge.
 */
function checkSignature(
  ctx: VerifyContext,
  p: { canonicalQuery: string; signed: readonly string[]; signedField: string; payloadHash: string; amzDate: string; scope: CredentialScope; secret: ClientSecret; given: string },
): Buffer {
  const { req, plusIsSpace, refuse } = ctx;
  const signingKey = signingKeyFor(p.secret, p.scope);
  const computed = signV4({
    method: req.method,
    canonicalUri: req.path === '' ? '/' : normalizeS3Path(req.path, plusIsSpace),
    canonicalQuery: p.canonicalQuery,
    canonicalHeaders: canonicalHeaders(p.signed, req.headers, refuse),
    signedHeaders: p.signedField,
    payloadHash: p.payloadHash,
    amzDate: p.amzDate,
    scope: p.scope,
    accessKey: p.secret.accessKey,
    signingKey,
  });
  if (!sameSignature(p.given, computed.signature)) throw refuse.error('SignatureDoesNotMatch', MSG.signatureMismatch, `V4 signature of ${p.secret.accessKey} does not match`);
  return signingKey;
}

function verified(ctx: VerifyContext, accessKey: string, form: 'header' | 'query', payload: PayloadCheck): Verified {
  const { bucket, key } = addressOf(ctx.req.headers.get(HOST), ctx.req.path, ctx.opts.virtualHostSuffixes, ctx.plusIsSpace);
  return { accessKey, version: 4, form, payload, bucket, key };
}

interface HeaderAuth {
  readonly credential: string;
  readonly signedHeaders: string;
  readonly signature: string;
}

/**
 * `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`: the three components, each once, separated by
 * commas with optional spaces (AWS's own example has them; some clients send none).
 */
function parseAuthorization(value: string, refuse: Refusal): HeaderAuth {
  const fields = new Map<string, string>();
  const malformed = () =>
    refuse.error('AuthorizationHeaderMalformed', `${HEADER_FORM.prefix}the authorization header requires three components: Credential, SignedHeaders, and Signature.`);
  for (const part of value.slice(ALGORITHM_V4.length + 1).split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) throw malformed();
    const name = item.slice(0, eq);
    if (fields.has(name) || (name !== 'Credential' && name !== 'SignedHeaders' && name !== 'Signature')) throw malformed();
    fields.set(name, item.slice(eq + 1));
  }
  if (fields.size !== 3) throw malformed();
  return { credential: fields.get('Credential')!, signedHeaders: fields.get('SignedHeaders')!, signature: fields.get('Signature')! };
}

/** x-amz-date, else Date; within MAX_SKEW_MS of the clock. Returns the ISO 8601 basic form the string to sign uses. */
function requestDate(ctx: VerifyContext): string {
  const { req, opts, refuse } = ctx;
  const amz = oneField(req.headers, AMZ_DATE, 'AccessDenied', MSG.noDate, refuse);
  let t: number;
  let amzDate: string;
  if (amz !== undefined) {
    amzDate = amz.trim();
    t = parseAmzDate(amzDate);
  } else {
    const date = oneField(req.headers, DATE, 'AccessDenied', MSG.noDate, refuse);
    t = date === undefined ? NaN : parseHttpDate(date);
    amzDate = Number.isNaN(t) ? '' : formatAmzDate(new Date(t));
  }
  if (Number.isNaN(t)) throw refuse.error('AccessDenied', MSG.noDate);
  checkSkew(t, opts.now, refuse);
  return amzDate;
}

/** x-amz-content-sha256 of a header-signed request → what the body must be checked against. */
function headerPayload(ctx: VerifyContext, value: string | undefined, amzDate: string, scope: CredentialScope, seedSignature: string, secret: ClientSecret): PayloadCheck {
  const { req, opts, refuse } = ctx;
  if (value === undefined) throw refuse.error('InvalidRequest', MSG.missingContentSha256);
  if (SHA256_HEX.test(value)) return { kind: 'sha256', hash: value.toLowerCase() };
  const unsignedRefused = () =>
    refuse.error('InvalidRequest', `${value} is not accepted here: this proxy requires a signed payload (x-amz-content-sha256 with the body's SHA-256, or a signed aws-chunked upload).`);
  if (value === UNSIGNED_PAYLOAD) {
    if (!opts.allowUnsignedPayload) throw unsignedRefused();
    return { kind: 'unsigned' };
  }
  const signed = value === STREAMING_SIGNED || value === STREAMING_SIGNED_TRAILER;
  if (!signed && value !== STREAMING_UNSIGNED_TRAILER) {
    if (value.startsWith(STREAMING_ECDSA_PREFIX)) throw refuse.error('InvalidRequest', `${value} (SigV4a) is not supported; sign with AWS4-HMAC-SHA256.`);
    throw refuse.error('InvalidArgument', MSG.badContentSha256, `x-amz-content-sha256 "${value.slice(0, 80)}"`);
  }
  if (!signed && !opts.allowUnsignedPayload) throw unsignedRefused();
  const trailer = value !== STREAMING_SIGNED;

  const lengthField = oneField(req.headers, AMZ_DECODED_CONTENT_LENGTH, 'InvalidArgument', 'x-amz-decoded-content-length must be given once.', refuse);
  let decodedLength: number | null = null;
  if (lengthField !== undefined) {
    if (!DECIMAL.test(lengthField.trim())) throw refuse.error('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer.');
    decodedLength = Number(lengthField.trim());
  }
  let trailerHeader: string | null = null;
  if (trailer) {
    const declared = oneField(req.headers, AMZ_TRAILER, 'InvalidRequest', 'x-amz-trailer must be given once.', refuse);
    if (declared !== undefined) {
      trailerHeader = declared.trim().toLowerCase();
      if (!CHECKSUM_TRAILER.test(trailerHeader)) {
        throw refuse.error('InvalidRequest', 'x-amz-trailer must name one checksum: x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 or -sha256.', `x-amz-trailer "${declared.slice(0, 80)}"`);
      }
    }
  }
  return {
    kind: 'chunked',
    signed,
    trailer,
    seedSignature,
    signingKey: signingKeyFor(secret, scope),
    amzDate,
    scope: scopeString(scope),
    decodedLength,
    trailerHeader,
  };
}

/** A request signed in its Authorization header (`value` starts with `AWS4-HMAC-SHA256 `). */
export function verifyV4Header(ctx: VerifyContext, value: string): Verified {
  const { req, opts, refuse } = ctx;
  const auth = parseAuthorization(value, refuse);
  const credential = parseCredential(auth.credential, HEADER_FORM, refuse);
  const signed = parseSignedHeaders(auth.signedHeaders, HEADER_FORM, refuse);
  const secret = lookupSecret(ctx, credential.accessKey);
  const amzDate = requestDate(ctx);
  const scope = checkScope(credential, amzDate, opts.region, HEADER_FORM, refuse);
  checkSignedHeaders(signed, req.headers, HEADER_FORM, refuse);
  const payloadHash = oneField(req.headers, AMZ_CONTENT_SHA256, 'InvalidArgument', MSG.badContentSha256, refuse);
  // Read before the signature is checked so that a malformed value gets its own answer, as S3 gives it.
  const payload = headerPayload(ctx, payloadHash, amzDate, scope, auth.signature, secret);
  checkSignature(ctx, {
    canonicalQuery: normalizeQuery(req.search, ctx.plusIsSpace).canonical,
    signed,
    signedField: auth.signedHeaders,
    payloadHash: payloadHash!,
    amzDate,
    scope,
    secret,
    given: auth.signature,
  });
  checkToken(secret, oneField(req.headers, AMZ_SECURITY_TOKEN, 'InvalidToken', MSG.badToken, refuse), refuse);
  return verified(ctx, credential.accessKey, 'header', payload);
}

/** A presigned URL (the query has X-Amz-Signature, X-Amz-Algorithm or X-Amz-Credential). */
export function verifyV4Query(ctx: VerifyContext): Verified {
  const { req, opts, query, refuse } = ctx;
  const param = (name: string) => single(query, name, 'AuthorizationQueryParametersError', refuse);
  const algorithm = param(Q_ALGORITHM);
  const credentialValue = param(Q_CREDENTIAL);
  const amzDate = param(Q_DATE);
  const expiresValue = param(Q_EXPIRES);
  const signedValue = param(Q_SIGNED_HEADERS);
  const signature = param(Q_SIGNATURE);
  if (algorithm === undefined || credentialValue === undefined || amzDate === undefined || expiresValue === undefined || signedValue === undefined || signature === undefined) {
    throw refuse.error('AuthorizationQueryParametersError', MSG.v4QueryParams);
  }
  if (algorithm !== ALGORITHM_V4) throw refuse.error('AuthorizationQueryParametersError', `X-Amz-Algorithm only supports "${ALGORITHM_V4}"`);
  const credential = parseCredential(credentialValue, QUERY_FORM, refuse);
  const t = parseAmzDate(amzDate);
  if (Number.isNaN(t)) throw refuse.error('AuthorizationQueryParametersError', `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  if (!DECIMAL.test(expiresValue)) throw refuse.error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  const expires = Number(expiresValue);
  if (expires < 1) throw refuse.error('AuthorizationQueryParametersError', 'X-Amz-Expires must be at least 1 second');
  if (expires > MAX_PRESIGNED_EXPIRES_S) throw refuse.error('AuthorizationQueryParametersError', MSG.expiresTooLong);
  const signed = parseSignedHeaders(signedValue, QUERY_FORM, refuse);
  const secret = lookupSecret(ctx, credential.accessKey);
  const scope = checkScope(credential, amzDate, opts.region, QUERY_FORM, refuse);
  if (t - opts.now > MAX_SKEW_MS) throw refuse.error('AccessDenied', MSG.notYetValid, `X-Amz-Date ${amzDate} is ahead of the proxy's clock`);
  if (opts.now > t + expires * 1000) throw refuse.error('AccessDenied', MSG.expired, `expired at ${new Date(t + expires * 1000).toISOString()}`);
  checkSignedHeaders(signed, req.headers, QUERY_FORM, refuse);

  // A presigned URL does not sign its body unless it says so: UNSIGNED-PAYLOAD, or the hash it carries (AWS's
  // presigner hoists X-Amz-Content-Sha256 into the query; a client may also sign it as a header).
  const hoisted = single(query, Q_CONTENT_SHA256, 'AuthorizationQueryParametersError', refuse, true);
  const payloadHash = hoisted ?? (signed.includes(AMZ_CONTENT_SHA256) ? oneField(req.headers, AMZ_CONTENT_SHA256, 'InvalidArgument', MSG.badContentSha256, refuse) : undefined) ?? UNSIGNED_PAYLOAD;
  let payload: PayloadCheck;
  if (payloadHash === UNSIGNED_PAYLOAD) payload = { kind: 'none' };
  else if (SHA256_HEX.test(payloadHash)) payload = { kind: 'sha256', hash: payloadHash.toLowerCase() };
  else throw refuse.error('InvalidRequest', 'A presigned URL may sign UNSIGNED-PAYLOAD or the SHA-256 of the body, not a streaming payload.', `payload hash "${payloadHash.slice(0, 80)}"`);

  // Every parameter but the signature is signed, repeated names included.
  const rest = query.filter((p) => p.name !== Q_SIGNATURE).map((p) => p.raw);
  checkSignature(ctx, {
    canonicalQuery: normalizeQuery(rest.length > 0 ? `?${rest.join('&')}` : '', ctx.plusIsSpace).canonical,
    signed,
    signedField: signedValue,
    payloadHash,
    amzDate,
    scope,
    secret,
    given: signature,
  });
  const token = param(Q_SECURITY_TOKEN) ?? oneField(req.headers, AMZ_SECURITY_TOKEN, 'InvalidToken', MSG.badToken, refuse);
  checkToken(secret, token, refuse);
  return verified(ctx, credential.accessKey, 'query', payload);
}
