/**
 * S3's own error answers for s3_client_auth: the standard codes and statuses of the S3 API reference ("Error
 * responses", "List of error codes"), with the XML `<Error>` body every S3 client parses. Each S3 code maps to one of
 * remapd's stable codes (ERR_S3_AUTH_FORBIDDEN → 403, ERR_S3_AUTH_BAD_REQUEST → 400, errors.ts), so the status
 * still comes from the one table; the XML travels as the error's body.
 */
import { randomBytes } from 'node:crypto';
import { type ErrorCode, RemapdError } from '../../errors.js';

/** The S3 error codes this plugin answers with, and the remapd code (hence status) of each. */
export const S3_ERROR_CODES = {
  /** The signature the client sent is not the one its secret gives for this request. */
  SignatureDoesNotMatch: 'ERR_S3_AUTH_FORBIDDEN',
  /** The key is known and the signature good, but this client may not do this (bucket, prefix, method), or a
   * presigned URL has expired ("Request has expired"). */
  AccessDenied: 'ERR_S3_AUTH_FORBIDDEN',
  /** The access key is not in the clients file. */
  InvalidAccessKeyId: 'ERR_S3_AUTH_FORBIDDEN',
  /** Header authentication whose date is more than 15 minutes from the proxy's clock. */
  RequestTimeTooSkewed: 'ERR_S3_AUTH_FORBIDDEN',
  /** The Authorization header cannot be parsed, or its credential scope is wrong (region, service, date). */
  AuthorizationHeaderMalformed: 'ERR_S3_AUTH_BAD_REQUEST',
  /** Presigned-URL parameters missing, malformed or out of range (X-Amz-Expires > 7 days). */
  AuthorizationQueryParametersError: 'ERR_S3_AUTH_BAD_REQUEST',
  /** The body's SHA-256 is not the signed x-amz-content-sha256. */
  XAmzContentSHA256Mismatch: 'ERR_S3_AUTH_BAD_REQUEST',
  /** The client's session token has expired. */
  ExpiredToken: 'ERR_S3_AUTH_BAD_REQUEST',
  /** The session token is missing, malformed or not the client's. */
  InvalidToken: 'ERR_S3_AUTH_BAD_REQUEST',
  /** A request form the proxy does not accept (unsupported payload mode, both header and query auth…). */
  InvalidRequest: 'ERR_S3_AUTH_BAD_REQUEST',
  /** x-amz-content-sha256 is missing or not a hash or a known marker. */
  InvalidArgument: 'ERR_S3_AUTH_BAD_REQUEST',
  /** A checksum the client sent (an aws-chunked trailer's x-amz-checksum-*) does not match the body. */
  BadDigest: 'ERR_S3_AUTH_BAD_REQUEST',
  /** The body ended before the length that was declared or signed (aws-chunked framing, decoded length). */
  IncompleteBody: 'ERR_S3_AUTH_BAD_REQUEST',
  /** A request without any authentication on a rule that requires it. */
  MissingSecurityHeader: 'ERR_S3_AUTH_BAD_REQUEST',
} as const satisfies Record<string, ErrorCode>;

export type S3ErrorCode = keyof typeof S3_ERROR_CODES;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A short request id, as S3 puts in every error (no meaning beyond correlating with the log). */
export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

/**
 * S3's error document. `resource` is the request path as the client sent it; messages never hold a secret or a
 * signature (the client's string-to-sign is not echoed either: it would help forge, and S3 only shows it to the
 * key's owner).
 */
export function s3ErrorXml(code: S3ErrorCode, message: string, resource: string, requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>` +
    `<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`
  );
}

/** A refused client request, answered with S3's XML. `detail` goes to the log only (never secrets). */
export class S3AuthError extends RemapdError {
  readonly s3Code: S3ErrorCode;

  constructor(s3Code: S3ErrorCode, message: string, options: { resource?: string; requestId?: string; detail?: string; cause?: unknown } = {}) {
    super(S3_ERROR_CODES[s3Code], message, {
      detail: options.detail,
      cause: options.cause,
      body: { contentType: 'application/xml', text: s3ErrorXml(s3Code, message, options.resource ?? '', options.requestId ?? newRequestId()) },
    });
    this.name = 'S3AuthError';
    this.s3Code = s3Code;
  }
}
