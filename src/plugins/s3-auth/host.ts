import { isIP } from 'node:net';

/**
 * What signing reads from the origin request's Host: the host name, and for V2 virtual-host requests the bucket.
 */

/** The host name of a Host field value: port and IPv6 brackets removed. */
export function hostName(value: string): string {
  if (value.startsWith('[')) return value.slice(1, value.indexOf(']'));
  const colon = value.indexOf(':');
  return colon < 0 ? value : value.slice(0, colon);
}

/**
 * An AWS S3 endpoint: `s3` or `s3-SOMETHING` (s3-external-1, s3-us-west-1, s3-fips, s3-accesspoint…), then any
 * dualstack/region labels, then amazonaws.com(.cn).
 */
const ENDPOINT = '(?:s3(?:-[a-z0-9-]+)?(?:\\.(?:dualstack|[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\\d+))*\\.amazonaws\\.com(?:\\.cn)?)';
const BARE_ENDPOINT = new RegExp(`^${ENDPOINT}$`, 'i');
/** Greedy bucket: `my.dotted.bucket.s3.amazonaws.com` is bucket `my.dotted.bucket` (ATS cut at the first dot). */
const VIRTUAL_HOSTED = new RegExp(`^(.+)\\.${ENDPOINT}$`, 'i');

/**
 * The bucket a virtual-hosted request addresses, or null for a path-style request.
 * - `endpoint` (--v2-endpoint) given and the host ends with `.endpoint`: the rest is the bucket;
 * - an AWS S3 endpoint with a bucket label in front: that bucket, with or without --virtual_host;
 * - --virtual_host and any other host (a CNAME such as `images.example.com`): the whole host is the bucket, as S3
 *   defines CNAME-style addressing;
 * - otherwise (a bare endpoint, or path style): null.
 */
export function bucketFromHost(host: string, virtualHost: boolean, endpoint: string | null): string | null {
  // Host names are case-insensitive; S3 reads the bucket as "the lowercase value of the Host header".
  const h = host.replace(/\.$/, '').toLowerCase();
  // A bucket name may not look like an IP address, so an address is always path style.
  if (h === '' || isIP(h) !== 0) return null;
  if (endpoint !== null) {
    const suffix = `.${endpoint}`;
    if (h.length > suffix.length && h.toLowerCase().endsWith(suffix.toLowerCase())) return h.slice(0, -suffix.length);
    if (h.toLowerCase() === endpoint.toLowerCase()) return null;
  }
  if (BARE_ENDPOINT.test(h)) return null;
  const m = VIRTUAL_HOSTED.exec(h);
  if (m) return m[1]!;
  return virtualHost ? h : null;
}
