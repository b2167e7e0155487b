/**
 * Sends origin requests: one undici Agent (a keep-alive Pool per origin), timeouts from settings, HTTPS verified
 * against the system's CA bundle (plus an optional extra CA file), and undici's failures mapped to remapd codes.
 *
 * Requests go through undici's `dispatch` with a handler of our own (OriginCall), not `Agent.request`: request()
 * wraps every call in an AsyncResource, parses the response headers twice, builds its BodyReadable and hangs a
 * listener on an AbortSignal — about 5 µs of CPU per request that a signed miss pays on top of everything else
 * (issue 6 profile). Cancelling is an OriginAbort, not an AbortController: no EventTarget per request.
 */
import { readFileSync } from 'node:fs';
import { IncomingMessage } from 'node:http';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { Readable } from 'node:stream';
import { Agent, type Dispatcher, errors as undiciErrors } from 'undici';
import { RemapdError } from '../errors.js';
import type { OriginRequest } from '../plugins/api.js';
import type { Settings } from '../settings.js';
import { HeaderList } from './header-list.js';
import type { OriginAbort } from './origin-abort.js';

export interface OriginResponse {
  status: number;
  headers: HeaderList;
  body: Readable;
}

/** Where distributions keep the system CA bundle (SSL_CERT_FILE, as OpenSSL honours, comes first). */
const SYSTEM_CA_FILES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

export function loadTrustedCas(extraFile: string | null): { secureContext: SecureContext; source: string } {
  const candidates = process.env.SSL_CERT_FILE ? [process.env.SSL_CERT_FILE, ...SYSTEM_CA_FILES] : SYSTEM_CA_FILES;
  let cas: string[] | null = null;
  let source = "Node's bundled CA list (no system CA bundle found)";
  for (const file of candidates) {
    try {
      cas = [readFileSync(file, 'utf8')];
      source = file;
      break;
    } catch {
      // try the next location
    }
  }
  cas ??= [...rootCertificates];
  if (extraFile) {
    try {
      cas.push(readFileSync(extraFile, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read origin CA file ${extraFile}: ${(err as Error).message}`);
    }
    source += ` + ${extraFile}`;
  }
  return { secureContext: createSecureContext({ ca: cas }), source };
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Codes after which a bodiless idempotent request may be sent again: the kept-alive socket died under us. */
const RETRYABLE = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

function errorCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code ?? '';
}

export function isRetryableOriginError(err: unknown): boolean {
  return err instanceof RemapdError && err.cause !== undefined && RETRYABLE.has(errorCode(err.cause));
}

/** Maps an undici/socket error raised before the response head into a RemapdError with a precise message. */
export function mapOriginError(err: unknown, req: OriginRequest, settings: Settings): RemapdError {
  if (err instanceof RemapdError) return err;
  const code = errorCode(err);
  const where = `${req.host}:${req.port}`;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new RemapdError('ERR_ORIGIN_TIMEOUT', `connecting to origin ${where} timed out after ${settings.connectTimeoutMs} ms`, { cause: err });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new RemapdError('ERR_ORIGIN_TIMEOUT', `origin ${where} sent no response within ${settings.responseTimeoutMs} ms`, { cause: err });
    case 'ECONNREFUSED':
      return new RemapdError('ERR_ORIGIN_CONNECT', `origin ${where} refused the connection`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new RemapdError('ERR_ORIGIN_DNS', `origin host ${req.host} did not resolve (${code})`, { cause: err });
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return new RemapdError('ERR_ORIGIN_CONNECT', `origin ${where} closed the connection before responding`, { cause: err });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return new RemapdError('ERR_ORIGIN_CONNECT', `origin ${where} is unreachable (${code})`, { cause: err });
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return new RemapdError('ERR_BAD_REQUEST', 'the request body did not match its Content-Length', { cause: err });
    case 'UND_ERR_INVALID_ARG':
      return new RemapdError('ERR_BAD_REQUEST', `the request cannot be forwarded: ${(err as Error).message}`, { cause: err });
  }
  if (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL')) {
    return new RemapdError('ERR_ORIGIN_TLS', `TLS with origin ${where} failed: ${(err as Error).message}`, { cause: err });
  }
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || (err as Error)?.name === 'HTTPParserError') {
    return new RemapdError('ERR_ORIGIN_PROTOCOL', `origin ${where} sent an invalid HTTP response`, { cause: err });
  }
  return new RemapdError('ERR_ORIGIN_CONNECT', `request to origin ${where} failed: ${(err as Error).message}`, { cause: err });
}

function noop(): void {}

/**
 * An origin response body. Same contract as undici's BodyReadable where remapd relies on it: read() resumes the
 * paused socket, a body cancelled by OriginAbort or cut by the origin fails with an 'error', and destroying it
 * before its end aborts the origin request. A plain destroy() by its consumer (who no longer wants it) ends it
 * with 'close' only — undici's raised an unhandled RequestAbortedError there.
 */
class OriginBody extends Readable {
  readonly #call: OriginCall;

  constructor(call: OriginCall) {
    super({ highWaterMark: 64 * 1024 });
    this.#call = call;
  }

  override _read(): void {
    this.#call.resume?.();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.#call.done) this.#call.cancel(err ?? new undiciErrors.RequestAbortedError());
    if (err === null || this.listenerCount('error') > 0) {
      callback(err);
      return;
    }
    // Failed before its consumer attached (a hook still running when the client left): give it a turn to attach,
    // as undici's body does, and never let the error go unhandled — an unhandled 'error' would end the process.
    setImmediate(() => {
      if (this.listenerCount('error') === 0) this.on('error', noop);
      callback(err);
    });
  }
}

/**
 * One origin request as an undici dispatch handler (undici 7 drives this callback interface natively; no wrapper
 * is put around it). Resolves on the final response head — 1xx heads are skipped — and streams the body into an
 * OriginBody; errors before the head reject, errors after it fail the body.
 */
class OriginCall implements Dispatcher.DispatchHandler {
  done = false;
  resume: (() => void) | null = null;
  #abort: ((err: Error) => void) | null = null;
  #body: OriginBody | null = null;
  #reason: Error | null = null;
  readonly #resolve: (res: OriginResponse) => void;
  readonly #reject: (err: Error) => void;
  readonly #signal: OriginAbort | null;
  readonly #requestBody: Readable | null;
  readonly #onAbort = (): void => this.cancel(new undiciErrors.RequestAbortedError());

  constructor(resolve: (res: OriginResponse) => void, reject: (err: Error) => void, signal: OriginAbort | null, requestBody: Readable | null) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    this.#requestBody = requestBody;
    signal?.listen(this.#onAbort);
  }

  /** Stops the request wherever it is: queued (at connect), waiting for its head, or streaming its body. */
  cancel(reason: Error): void {
    if (this.done || this.#reason !== null) return;
    this.#reason = reason;
    this.#signal?.unlisten(this.#onAbort);
    if (this.#body !== null && !this.#body.destroyed) this.#body.destroy(reason);
    this.#abort?.(reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#reason !== null) abort(this.#reason);
    else this.#abort = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (status < 200) return true;
    const n = rawHeaders.length;
    const headers = new Array<string>(n);
    // Field values as their wire bytes, one char per byte (RFC 9110 §5.5: obs-text is opaque octets).
    for (let i = 0; i < n; i++) headers[i] = rawHeaders[i]!.toString('latin1');
    this.resume = resume;
    const body = new OriginBody(this);
    this.#body = body;
    this.#resolve({ status, headers: new HeaderList(headers), body });
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.#body!.push(chunk);
  }

  onComplete(): void {
    this.done = true;
    this.#signal?.unlisten(this.#onAbort);
    this.#body!.push(null);
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.#signal?.unlisten(this.#onAbort);
    // A request body not sent whole is not wanted any more: a stream of ours over it is destroyed (as undici's
    // request() did). The client's own IncomingMessage is left to node:http, which reads off the rest after the
    // answer — destroying it would close the client's connection before the 502 is written.
    const rb = this.#requestBody;
    if (rb !== null && !rb.destroyed && !(rb instanceof IncomingMessage)) rb.on('error', noop).destroy(err);
    if (this.#body === null) this.#reject(err);
    else if (!this.#body.destroyed) this.#body.destroy(err);
  }
}

export class OriginClient {
  readonly agent: Agent;
  readonly caSource: string;
  private readonly settings: Settings;

  constructor(settings: Settings) {
    this.settings = settings;
    const { secureContext, source } = loadTrustedCas(settings.originCaFile);
    this.caSource = source;
    this.agent = new Agent({
      connect: { timeout: settings.connectTimeoutMs, secureContext, rejectUnauthorized: true },
      headersTimeout: settings.responseTimeoutMs,
      bodyTimeout: settings.bodyIdleTimeoutMs,
      keepAliveTimeout: 4_000,
      connections: settings.originMaxConnections,
    });
  }

  /** Sends the request; resolves on the response head. Errors before the head are RemapdErrors. */
  send(req: OriginRequest, signal: OriginAbort | null): Promise<OriginResponse> {
    return new Promise<OriginResponse>((resolve, reject) => {
      const call = new OriginCall(resolve, (err) => reject(mapOriginError(err, req, this.settings)), signal, req.body);
      if (signal?.aborted) {
        call.onError(new undiciErrors.RequestAbortedError());
        return;
      }
      try {
        this.agent.dispatch(
          {
            origin: `${req.scheme}://${req.host.includes(':') ? `[${req.host}]` : req.host}:${req.port}`,
            path: req.path + req.search,
            method: req.method as Dispatcher.HttpMethod,
            headers: req.headers.raw,
            body: req.body,
          },
          call,
        );
      } catch (err) {
        // dispatch() reports bad arguments (an invalid header value, a closed agent) by throwing.
        call.onError(err as Error);
      }
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
