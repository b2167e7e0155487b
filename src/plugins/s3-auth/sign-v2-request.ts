/**
 * Signs one request with V2, in place: sets Date (unless the request carries Date or x-amz-date),
 * x-amz-security-token and Authorization. The path and query are signed as they are sent — S3 reads V2's
 * CanonicalizedResource from the un-decoded Request-URI — so nothing is re-encoded except characters that cannot
 * go on the wire at all. Shared by the plugin and `remapd sign --version 2`.
 */
import type { HeaderList } from '../../proxy/header-list.js';
import { AMZ_DATE, AMZ_SECURITY_TOKEN, DATE } from './constants.js';
import { bucketFromHost, hostName } from './host.js';
import { signV2, type V2Signature } from './sigv2.js';
import { encodeUnsafe } from './uri-encode.js';

export interface V2Signer {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly sessionToken: string | null;
  /** --virtual_host: a host that is not a known S3 endpoint is a CNAME whose whole name is the bucket. */
  readonly virtualHost: boolean;
  /** --v2-endpoint: the service host of an S3-compatible store, for virtual-hosted bucket names under it. */
  readonly endpoint: string | null;
  readonly plusIsSpace: boolean;
}

export interface V2Request {
  method: string;
  host: string;
  path: string;
  search: string;
  headers: HeaderList;
}

export interface V2Result extends V2Signature {
  /** The bucket read from the Host, or null for path style. */
  readonly bucket: string | null;
}

/** RFC 1123 with "GMT" (RFC 9110 §5.6.7 IMF-fixdate); ATS sent "+0000", which RFC 9110 does not allow. */
export function httpDate(now: Date): string {
  return now.toUTCString();
}

export function signV2Request(req: V2Request, signer: V2Signer, now: Date): V2Result {
  const h = req.headers;
  req.path = encodeUnsafe(req.path);
  req.search = encodeUnsafe(req.search);
  if (!h.has(DATE) && !h.has(AMZ_DATE)) h.set('Date', httpDate(now));
  if (signer.sessionToken !== null && !h.has(AMZ_SECURITY_TOKEN)) h.set(AMZ_SECURITY_TOKEN, signer.sessionToken);
  const hostField = h.get('host');
  const bucket = bucketFromHost(hostField !== undefined ? hostName(hostField) : req.host, signer.virtualHost, signer.endpoint);
  const signature = signV2({
    method: req.method,
    headers: h,
    bucketPrefix: bucket === null ? '' : `/${bucket}`,
    path: req.path,
    search: req.search,
    plusIsSpace: signer.plusIsSpace,
    accessKey: signer.accessKey,
    secretKey: signer.secretKey,
  });
  h.set('Authorization', signature.authorization);
  return { ...signature, bucket };
}
