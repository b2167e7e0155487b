import { HOP_BY_HOP } from '../../proxy/header-rules.js';

/**
 * Every name s3_auth signs with, in one place: algorithm ids, header names, the always-signed and never-signed
 * header sets, and fixed hashes. Include/exclude options compose with these sets explicitly (see select-headers.ts).
 */

export const ALGORITHM_V4 = 'AWS4-HMAC-SHA256';
export const KEY_TYPE_V4 = 'aws4_request';
export const KEY_PREFIX_V4 = 'AWS4';

export const AUTHORIZATION = 'authorization';
export const AMZ_DATE = 'x-amz-date';
export const AMZ_CONTENT_SHA256 = 'x-amz-content-sha256';
export const AMZ_SECURITY_TOKEN = 'x-amz-security-token';
export const HOST = 'host';
export const CONTENT_TYPE = 'content-type';
export const CONTENT_LENGTH = 'content-length';

/** S3's marker for a payload that is not hashed ("Signature Calculations for the Authorization Header"). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** SHA-256 of the empty string: the payload hash of a bodyless request. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Client-sent fields that would override or confuse our signature; removed from every origin request before
 * signing, so a client can never smuggle its own credentials or dates past the proxy.
 */
export const CLIENT_AUTH_HEADERS: readonly string[] = [AUTHORIZATION, AMZ_DATE, AMZ_CONTENT_SHA256, AMZ_SECURITY_TOKEN];

/**
 * Never signed, whatever --v4-include-headers says: proxies on the way may add to or rewrite them (Via,
 * X-Forwarded-For, Forwarded) and hop-by-hop fields are not end-to-end (RFC 9110 §7.6.1). ATS signed some of these
 * and broke behind other proxies.
 */
export const NEVER_SIGNED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'via',
  'x-forwarded-for',
  'forwarded',
  AUTHORIZATION,
  // and every other proxy-* field (select-headers.ts checks the prefix)
]);

/** Always signed when present, whatever --v4-exclude-headers says (AWS requires host and every x-amz-* field). */
export function isAlwaysSigned(lowerName: string): boolean {
  return lowerName === HOST || lowerName === CONTENT_TYPE || lowerName.startsWith('x-amz-');
}

/** Service name whose canonical URI follows S3's rules (single encoding, no dot-segment normalisation). */
export const S3_SERVICE = 's3';

/** Region used when nothing else names one (AWS's default for the legacy global endpoint). */
export const DEFAULT_REGION = 'us-east-1';

/** --v4-payload=signed buffers at most this many body bytes to hash them; larger bodies get 413. */
export const DEFAULT_SIGNED_PAYLOAD_MAX = 16 * 1024 * 1024;

export const ALGORITHM_V2 = 'AWS';
export const DATE = 'date';
export const CONTENT_MD5 = 'content-md5';

/**
 * Query parameters that are part of a V2 CanonicalizedResource ("Signing and Authenticating REST Requests",
 * Constructing the CanonicalizedResource Element: AWS's list of sub-resources and the response-* overrides, plus
 * the sub-resources S3 added later that AWS's SDKs sign the same way). Every other parameter is left out.
 */
export const V2_SUBRESOURCES: ReadonlySet<string> = new Set([
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'partNumber',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'restore',
  'retention',
  'select',
  'select-type',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

// Credential lifecycle (credentials-*.ts).

/**
 * When a --config file with ATS's `expiration=EPOCH` is re-read, as ATS s3_auth does (cal_reload_delay in
 * plugins/s3_auth/s3_auth.cc): one hour before expiry; inside the last hour, 15 minutes before; inside the last
 * 15 minutes, at expiry; once expired, every minute (EXPIRED_RECHECK_MS).
 */
export const REREAD_BEFORE_EXPIRY_MS: readonly number[] = [60 * 60_000, 15 * 60_000, 0];
export const EXPIRED_RECHECK_MS = 60_000;
/**
 * Once expired, the error is logged again this often. ATS logs once, after the 10th failed minute, and then never
 * again (ATS issue #10773 asks for it to keep saying so).
 */
export const EXPIRED_LOG_INTERVAL_MS = 10 * 60_000;
/**
 * A re-read or refresh that fails is retried after 1 s, doubling up to 60 s, for as long as it fails; the last
 * good credentials stay in use. (ATS's config_reloader logs a failed timed re-read and schedules nothing more, so a
 * file renewed a minute later is never picked up without a reload.)
 */
export const RETRY_MIN_MS = 1_000;
export const RETRY_MAX_MS = 60_000;
/**
 * --credentials=aws renews this long before the credentials expire: the AWS SDK's own window
 * (credentialsTreatedAsExpired in @aws-sdk/credential-provider-node), so the chain's sources are asked when the SDK
 * itself would ask them.
 */
export const AWS_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
