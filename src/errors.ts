/**
 * Typed errors with stable codes, and the ONE place that maps them to HTTP statuses.
 *
 * Every failure a client can see has a code here; `respondWithError` (proxy/respond.ts) turns it into a
 * status and a short text body. Codes never change meaning once shipped: logs, metrics and tests key on them.
 */

export const ERROR_STATUS = {
  /** No remap rule matches the request and remap is required (ATS: "remap required"). */
  ERR_REMAP_NO_RULE: 404,
  /** An ACL filter (@action/@method/@src_ip/@in_ip) of the matched rule refused the request. */
  ERR_ACL_DENIED: 403,
  /** The request itself is malformed or unsafe to forward (bad target, dot segments, bad characters). */
  ERR_BAD_REQUEST: 400,
  /** A method the proxy does not forward (CONNECT). */
  ERR_METHOD_NOT_ALLOWED: 405,
  /** The client sent no complete request head within the headers timeout (Node's parser; server.ts answers it). */
  ERR_CLIENT_TIMEOUT: 408,
  /** The request body is larger than a configured limit (e.g. signed-payload buffering). */
  ERR_PAYLOAD_TOO_LARGE: 413,
  /** The request-target is longer than remapd forwards (request-target.ts MAX_TARGET_LENGTH). */
  ERR_URI_TOO_LONG: 414,
  /** The request head (request line and header fields) is larger than settings.maxHeaderBytes (Node's parser). */
  ERR_HEADERS_TOO_LARGE: 431,
  /** A transfer coding other than `chunked` alone (RFC 9112 §6.1: 501 for a coding the server does not implement). */
  ERR_TRANSFER_CODING: 501,
  /** An HTTP version other than 1.0 and 1.1 on an HTTP/1 connection (RFC 9110 §15.6.6). */
  ERR_HTTP_VERSION: 505,
  /** The origin refused, reset or closed the connection before sending a response. */
  ERR_ORIGIN_CONNECT: 502,
  /** The origin's host name did not resolve. */
  ERR_ORIGIN_DNS: 502,
  /** The origin's TLS certificate failed verification, or the TLS handshake failed. */
  ERR_ORIGIN_TLS: 502,
  /** The origin answered with something that is not valid HTTP. */
  ERR_ORIGIN_PROTOCOL: 502,
  /** Connecting to the origin, or waiting for its response headers, took longer than configured. */
  ERR_ORIGIN_TIMEOUT: 504,
  /** A plugin hook failed (its message says why). */
  ERR_PLUGIN: 500,
  /** s3_auth holds no signing key for the scope a request needs (scoped keys expired or not installed). */
  ERR_SIGNING_KEY: 500,
  /** s3_auth holds no valid credentials: they expired and renewing them (--credentials=aws) is failing. */
  ERR_CREDENTIALS: 503,
  /**
   * s3_client_auth refused the client's own S3 signature or its permissions (SignatureDoesNotMatch, AccessDenied,
   * InvalidAccessKeyId, RequestTimeTooSkewed, an expired presigned URL): S3 answers these 403.
   */
  ERR_S3_AUTH_FORBIDDEN: 403,
  /**
   * s3_client_auth could not read the client's authentication, or its body did not match what was signed
   * (AuthorizationHeaderMalformed, AuthorizationQueryParametersError, XAmzContentSHA256Mismatch, ExpiredToken…):
   * S3 answers these 400.
   */
  ERR_S3_AUTH_BAD_REQUEST: 400,
  /** A bug: something that should not happen. The message is logged, not sent. */
  ERR_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * A failure of one request, with a stable code and a message safe to show the client. `detail`, when given, is
 * what the error log gets instead (it may name internals the client must not see; never secrets).
 */
export class RemapdError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  /**
   * The response body to send instead of the short text one, for a client that reads a protocol's own error format
   * (S3's XML `<Error>` for s3_client_auth). The status still comes from `code`.
   */
  readonly body: ErrorBody | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: string; body?: ErrorBody }) {
    super(message, options);
    this.name = 'RemapdError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.detail = options?.detail;
    this.body = options?.body;
  }
}

export interface ErrorBody {
  readonly contentType: string;
  readonly text: string;
}

/** One problem found while loading configuration, pinned to its file and line. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole (unreadable, missing). */
  line: number;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}` : d.file;
  return `${where}: ${d.severity}: ${d.message}`;
}

/** Thrown by config loaders when at least one error was found; carries ALL diagnostics, not just the first. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(errors.map(formatDiagnostic).join('\n') || 'configuration error');
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}

/**
 * Thrown by a plugin factory (or anything validating one line of config) to reject its arguments.
 * The loader adds the file and line of the rule, so the message only says what is wrong.
 */
export class PluginArgumentError extends Error {
  override name = 'PluginArgumentError';
}
