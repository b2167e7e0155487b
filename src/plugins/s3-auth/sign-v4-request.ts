/**
 * Signs one request with V4, in place: normalises its path and query to what is signed, sets x-amz-date,
 * x-amz-content-sha256 (S3), x-amz-security-token and Authorization, and returns every intermediate string.
 * The plugin's sendRequest hook and `remapd sign` both call this, so what the command prints is what the proxy
 * sends. Fields already on the request (x-amz-date, x-amz-content-sha256, x-amz-security-token) are signed
 * verbatim: the plugin removes the client's copies first, the command keeps the user's.
 */
import { RemapdError } from '../../errors.js';
import type { HeaderList } from '../../proxy/header-list.js';
import { AMZ_CONTENT_SHA256, AMZ_DATE, AMZ_SECURITY_TOKEN, S3_SERVICE } from './constants.js';
import { normalizeQuery } from './canonical-query.js';
import type { RegionResolver } from './region.js';
import { hostName } from './host.js';
import { canonicalHeaders, type HeaderSelection } from './select-headers.js';
import { type CredentialScope, formatAmzDate, signV4, type V4Signature } from './sigv4.js';
import type { SigningKeySource } from './signing-keys.js';
import { canonicalGenericUri, normalizeGenericPath, normalizeS3Path } from './uri-encode.js';

export interface V4Signer {
  readonly accessKey: string;
  readonly keys: SigningKeySource;
  readonly sessionToken: string | null;
  readonly regions: RegionResolver;
  readonly service: string;
  readonly selection: HeaderSelection;
  /** S3 reads `+` in a path or query as a space; false for origins that read it as a plus. */
  readonly plusIsSpace: boolean;
}

/** The parts of a request signing reads and rewrites (OriginRequest has them all). */
export interface SignableRequest {
  method: string;
  /** Connect host: used for the region only when the request has no Host field. */
  host: string;
  path: string;
  search: string;
  headers: HeaderList;
}

export interface V4Result extends V4Signature {
  readonly scope: CredentialScope;
}

const AMZ_DATE_FORMAT = /^\d{8}T\d{6}Z$/;

/** `payloadHash` is used when the request carries no x-amz-content-sha256 of its own. */
export function signV4Request(req: SignableRequest, signer: V4Signer, now: Date, payloadHash: string): V4Result {
  const s3 = signer.service === S3_SERVICE;
  const h = req.headers;
  req.path = s3 ? normalizeS3Path(req.path, signer.plusIsSpace) : normalizeGenericPath(req.path);
  const query = normalizeQuery(req.search, s3 && signer.plusIsSpace);
  req.search = query.search;

  let amzDate = h.get(AMZ_DATE);
  if (amzDate === undefined) {
    amzDate = formatAmzDate(now);
    h.add(AMZ_DATE, amzDate);
  } else if (!AMZ_DATE_FORMAT.test(amzDate)) {
    throw new RemapdError('ERR_PLUGIN', 'cannot sign the request', {
      detail: `x-amz-date "${amzDate}" is not in the form YYYYMMDDTHHMMSSZ`,
    });
  }
  // S3 requires x-amz-content-sha256 on every V4 request; other services do not know it (AWS SigV4 test suite).
  let hash = h.get(AMZ_CONTENT_SHA256);
  if (hash === undefined) {
    hash = payloadHash;
    if (s3) h.add(AMZ_CONTENT_SHA256, hash);
  }
  if (signer.sessionToken !== null && !h.has(AMZ_SECURITY_TOKEN)) h.add(AMZ_SECURITY_TOKEN, signer.sessionToken);

  const hostField = h.get('host');
  const scope: CredentialScope = {
    date: amzDate.slice(0, 8),
    region: signer.regions.resolve(hostField !== undefined ? hostName(hostField) : req.host),
    service: signer.service,
  };
  const headers = canonicalHeaders(h, signer.selection);
  const signature = signV4({
    method: req.method,
    canonicalUri: s3 ? req.path : canonicalGenericUri(req.path),
    canonicalQuery: query.canonical,
    canonicalHeaders: headers.canonical,
    signedHeaders: headers.signedHeaders,
    payloadHash: hash,
    amzDate,
    scope,
    accessKey: signer.accessKey,
    signingKey: signer.keys.keyFor(scope),
  });
  h.set('Authorization', signature.authorization);
  return {
    canonicalRequest: signature.canonicalRequest,
    stringToSign: signature.stringToSign,
    signedHeaders: signature.signedHeaders,
    signature: signature.signature,
    authorization: signature.authorization,
    scope,
  };
}
