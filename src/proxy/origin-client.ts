/**
 * Sends origin requests: one undici Agent (a keep-alive Pool per origin), timeouts from settings, HTTPS verified
 * against the system's CA bundle (plus an optional extra CA file), and undici's failures mapped to remapd codes.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { Readable } from 'node:stream';
import { Agent } from 'undici';
import { RemapdError } from '../errors.js';
import type { OriginRequest } from '../plugins/api.js';
import type { Settings } from '../settings.js';
import { HeaderList } from './header-list.js';

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
  async send(req: OriginRequest, signal: AbortSignal): Promise<OriginResponse> {
    try {
      const res = await this.agent.request({
        origin: `${req.scheme}://${req.host.includes(':') ? `[${req.host}]` : req.host}:${req.port}`,
        path: req.path + req.search,
        method: req.method as 'GET',
        headers: req.headers.raw,
        body: req.body,
        signal,
        responseHeaders: 'raw',
      });
      return {
        status: res.statusCode,
        headers: new HeaderList(res.headers as unknown as string[]),
        body: res.body,
      };
    } catch (err) {
      throw mapOriginError(err, req, this.settings);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
