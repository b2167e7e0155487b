/**
 * Every name and limit s3_client_auth verifies with, in one place: query parameter names, payload markers, time
 * windows, framing bounds and S3's own error messages. Names shared with the origin signer (algorithm, header names,
 * the empty-payload hash) come from s3-auth/constants.ts and are not repeated here.
 */

// Time ("Signature Calculations for the Authorization Header", "Authenticating Requests: Using Query Parameters").

/** A header-signed request's date may be this far from the proxy's clock either way; so may a presigned URL's
 * X-Amz-Date be ahead of it. */
export const MAX_SKEW_MS = 15 * 60_000;
/** The longest X-Amz-Expires S3 accepts: seven days. */
export const MAX_PRESIGNED_EXPIRES_S = 604_800;

// SigV4 query authentication (presigned URLs). Names are case-sensitive, as S3 reads them.
export const Q_ALGORITHM = 'X-Amz-Algorithm';
export const Q_CREDENTIAL = 'X-Amz-Credential';
export const Q_DATE = 'X-Amz-Date';
export const Q_EXPIRES = 'X-Amz-Expires';
export const Q_SIGNED_HEADERS = 'X-Amz-SignedHeaders';
export const Q_SIGNATURE = 'X-Amz-Signature';
export const Q_SECURITY_TOKEN = 'X-Amz-Security-Token';
/** AWS's presigner hoists the x-amz-content-sha256 header into the query under this name; looked up ignoring case. */
export const Q_CONTENT_SHA256 = 'x-amz-content-sha256';

// SigV2 query authentication.
export const Q2_ACCESS_KEY = 'AWSAccessKeyId';
export const Q2_EXPIRES = 'Expires';
export const Q2_SIGNATURE = 'Signature';

export const AMZ_DECODED_CONTENT_LENGTH = 'x-amz-decoded-content-length';
export const AMZ_TRAILER = 'x-amz-trailer';

// x-amz-content-sha256 markers ("Authenticating Requests: Using the Authorization Header", the table of values).
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
/** SigV4a streaming (ECDSA): the proxy verifies HMAC signatures only. */
export const STREAMING_ECDSA_PREFIX = 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD';

// aws-chunked ("Transferring Payload in Multiple Chunks", "Signature calculations for trailing headers").
export const CHUNK_ALGORITHM = 'AWS4-HMAC-SHA256-PAYLOAD';
export const TRAILER_ALGORITHM = 'AWS4-HMAC-SHA256-TRAILER';
export const CHUNK_SIGNATURE_EXT = ';chunk-signature=';
export const TRAILER_SIGNATURE = 'x-amz-trailer-signature';
/**
 * A signed chunk is held in memory until its signature is checked, so its size is bounded. SDKs send 64 KiB to
 * 1 MiB chunks; 16 MiB leaves room for any client while keeping a request's memory bounded (the chunk being read
 * plus the verified one held back: at most twice this).
 */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/** A chunk header (`10000;chunk-signature=<64 hex>`) or trailer line is under 100 bytes; anything longer is refused. */
export const MAX_LINE = 4 * 1024;
/** S3 accepts one checksum trailer (plus its signature); a few more lines are tolerated, not an unbounded list. */
export const MAX_TRAILERS = 8;
/** The checksum trailers S3 defines (x-amz-checksum-ALGORITHM, "Checking object integrity"). */
export const CHECKSUM_TRAILER = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/;

// S3's messages, word for word where S3 has one (they are what clients and their users search for).
export const MSG = {
  signatureMismatch: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  unknownKey: 'The AWS Access Key Id you provided does not exist in our records.',
  skewed: 'The difference between the request time and the current time is too large.',
  noDate: 'AWS authentication requires a valid Date or x-amz-date header',
  expired: 'Request has expired',
  notYetValid: 'Request is not yet valid',
  oneMechanism:
    'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
  unsupportedAuth: 'Unsupported Authorization Type',
  headersNotSigned: 'There were headers present in the request which were not signed',
  badToken: 'The provided token is malformed or otherwise invalid.',
  sha256Mismatch: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  incompleteBody: 'The request body terminated unexpectedly',
  missingContentSha256: 'Missing required header for this request: x-amz-content-sha256',
  badContentSha256:
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
  v4QueryParams:
    'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
  v2QueryParams: 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters',
  expiresTooLong:
    'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
} as const;
