/**
 * Signature Version 2, verified as S3 verifies it ("Signing and Authenticating REST Requests"):
 *
 *   StringToSign = Method \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource
 *
 * HMAC-SHA1 with the client's secret, base64, compared in constant time. The CanonicalizedResource is `/bucket`
 * (virtual-host style) followed by the path exactly as received — V2 signs the Request-URI un-decoded, so
 * `%c3%a9` and `%C3%A9` are different strings to sign — and the sub-resources of the query with their values
 * decoded (sigv2.ts, shared with the origin signer). V2 does not sign the body: Content-MD5, when sent, is signed
 * and checked by the origin.
 */
import { createHmac } from 'node:crypto';
import { HeaderList } from '../../proxy/header-list.js';
import { AMZ_DATE, AMZ_SECURITY_TOKEN, CONTENT_MD5, CONTENT_TYPE, DATE, HOST } from '../s3-auth/constants.js';
import { canonicalAmzHeaders, signV2, subresources } from '../s3-auth/sigv2.js';
import { wireBytes } from '../s3-auth/sigv4.js';
import { decodeToBytes } from '../s3-auth/uri-encode.js';
import type { Verified, VerifyContext } from './verify.js';
import { type Address, addressOf, checkSkew, checkToken, lookupSecret, oneField, parseHttpDate, type QueryParam, sameSignature, single } from './verify-common.js';
import { MSG, Q2_ACCESS_KEY, Q2_EXPIRES, Q2_SIGNATURE } from './verify-constants.js';

const EPOCH_SECONDS = /^\d{1,12}$/;

function address(ctx: VerifyContext): Address {
  return addressOf(ctx.req.headers.get(HOST), ctx.req.path, ctx.opts.virtualHostSuffixes, ctx.plusIsSpace);
}

function checkSignature(ctx: VerifyContext, given: string, expected: string, accessKey: string): void {
  if (!sameSignature(given, expected)) throw ctx.refuse.error('SignatureDoesNotMatch', MSG.signatureMismatch, `V2 signature of ${accessKey} does not match`);
}

/** A parameter's value as sent (still percent-encoded); '' for a bare name. */
function rawValue(p: QueryParam): string {
  const eq = p.raw.indexOf('=');
  return eq < 0 ? '' : p.raw.slice(eq + 1);
}

function oneToken(ctx: VerifyContext): string | undefined {
  return oneField(ctx.req.headers, AMZ_SECURITY_TOKEN, 'InvalidToken', MSG.badToken, ctx.refuse);
}

/** `Authorization: AWS AccessKeyId:Signature`. */
export function verifyV2Header(ctx: VerifyContext, value: string): Verified {
  const { req, opts, refuse } = ctx;
  const credentials = value.slice(4).trim();
  const colon = credentials.lastIndexOf(':');
  if (colon <= 0 || colon === credentials.length - 1) {
    throw refuse.error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature');
  }
  const accessKey = credentials.slice(0, colon);
  const given = credentials.slice(colon + 1);
  const secret = lookupSecret(ctx, accessKey);

  // x-amz-date wins over Date when both are sent (it is then signed among the amz headers, and the Date line is empty).
  const dates = req.headers.getAll(req.headers.has(AMZ_DATE) ? AMZ_DATE : DATE);
  const t = dates.length === 1 ? parseHttpDate(dates[0]!) : NaN;
  if (Number.isNaN(t)) throw refuse.error('AccessDenied', MSG.noDate);
  checkSkew(t, opts.now, refuse);

  const addr = address(ctx);
  const computed = signV2({
    method: req.method,
    headers: req.headers,
    bucketPrefix: addr.hostBucket === null ? '' : `/${addr.hostBucket}`,
    path: req.path,
    search: req.search,
    plusIsSpace: ctx.plusIsSpace,
    accessKey,
    secretKey: secret.secretKey,
  });
  checkSignature(ctx, given, computed.signature, accessKey);
  checkToken(secret, oneToken(ctx), refuse);
  return { accessKey, version: 2, form: 'header', payload: { kind: 'none' }, bucket: addr.bucket, key: addr.key };
}

/**
 * `?AWSAccessKeyId=…&Expires=…&Signature=…` ("Query String Request Authentication Alternative"): the Date line is
 * Expires. AWS's own V2 presigners (botocore's HmacV1QueryAuth) move x-amz-* fields — the session token among them
 * — and Content-Type/Content-MD5 into the query after signing them as headers, so those parameters count as the
 * fields they stand for.
 */
export function verifyV2Query(ctx: VerifyContext): Verified {
  const { req, opts, query, refuse } = ctx;
  const accessKey = single(query, Q2_ACCESS_KEY, 'AccessDenied', refuse);
  const expires = single(query, Q2_EXPIRES, 'AccessDenied', refuse);
  if (accessKey === undefined || expires === undefined || single(query, Q2_SIGNATURE, 'AccessDenied', refuse) === undefined) {
    throw refuse.error('AccessDenied', MSG.v2QueryParams);
  }
  // The signature is base64: a raw '+' in it can only be a '+' that the client did not encode (never a space).
  const given = decodeToBytes(rawValue(query.find((p) => p.name === Q2_SIGNATURE)!), false).toString('latin1');
  if (!EPOCH_SECONDS.test(expires)) throw refuse.error('AccessDenied', 'Invalid date (should be seconds since epoch)', `Expires "${expires.slice(0, 40)}"`);
  const secret = lookupSecret(ctx, accessKey);
  if (opts.now > Number(expires) * 1000) throw refuse.error('AccessDenied', MSG.expired, `expired at ${new Date(Number(expires) * 1000).toISOString()}`);

  const fields = new HeaderList();
  const amz = new HeaderList();
  req.headers.forEach((name, value) => {
    if (name.toLowerCase().startsWith('x-amz-')) amz.add(name, value);
  });
  let queryToken: string | undefined;
  for (const p of query) {
    const lower = p.name.toLowerCase();
    if (lower.startsWith('x-amz-') || lower === CONTENT_MD5 || lower === CONTENT_TYPE) {
      // A binary string of the value's bytes, as header values are (wireBytes reads it back as those bytes).
      const bytes = decodeToBytes(rawValue(p), ctx.plusIsSpace).toString('latin1');
      if (lower.startsWith('x-amz-')) amz.add(lower, bytes);
      else fields.add(lower, bytes);
      if (lower === AMZ_SECURITY_TOKEN) queryToken = p.value;
    }
  }
  const field = (name: string) => (req.headers.get(name) ?? fields.get(name) ?? '').trim();
  const addr = address(ctx);
  const resource = (addr.hostBucket === null ? '' : `/${addr.hostBucket}`) + req.path + subresources(req.search, ctx.plusIsSpace);
  const stringToSign = `${req.method}\n${field(CONTENT_MD5)}\n${field(CONTENT_TYPE)}\n${expires}\n${canonicalAmzHeaders(amz)}${resource}`;
  const expected = createHmac('sha1', secret.secretKey).update(wireBytes(stringToSign)).digest('base64');
  checkSignature(ctx, given, expected, accessKey);
  checkToken(secret, queryToken ?? oneToken(ctx), refuse);
  return { accessKey, version: 2, form: 'query', payload: { kind: 'none' }, bucket: addr.bucket, key: addr.key };
}
