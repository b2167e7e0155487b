/**
 * Process-wide settings (the part of ATS's records.yaml remapd needs), with defaults and eager validation.
 * Per-rule overrides go through plugins (conf_remap.so), as in ATS.
 */

import { parseIpEntry } from './remap/ip-range.js';

export interface Settings {
  /** Address to listen on; loopback by default so a first run exposes nothing. */
  listenHost: string;
  /** 0 picks a free port (tests). */
  listenPort: number;
  /** Connecting to an origin (TCP + TLS) may take this long before 504. */
  connectTimeoutMs: number;
  /** After the request is sent, the origin must send its response headers within this time, else 504. */
  responseTimeoutMs: number;
  /** The origin may pause this long between body chunks; longer aborts the client connection. */
  bodyIdleTimeoutMs: number;
  /** A client connection idle this long (no bytes either way) is closed. */
  clientIdleTimeoutMs: number;
  /** Client keep-alive: how long an idle kept-alive connection waits for its next request. */
  keepAliveTimeoutMs: number;
  /** Largest request head (request line + headers) accepted from clients; larger gets 431. */
  maxHeaderBytes: number;
  /** Send the client's Host to the origin instead of the to-URL's host (ATS proxy.config.url_remap.pristine_host_hdr). */
  pristineHostHdr: boolean;
  /** received-by pseudonym in the Via header (RFC 9110 §7.6.3). */
  viaName: string;
  /** Add the client address to X-Forwarded-For on origin requests. */
  xForwardedFor: boolean;
  /** PEM file with extra CA certificates to trust for HTTPS origins (in addition to the system's). */
  originCaFile: string | null;
  /** Most connections per origin (undici pool size); null = no limit. */
  originMaxConnections: number | null;
  /** Access log: a file path, '-' for stdout, or 'off'. */
  accessLog: string;
  /** Access log line format (observability/access-log.ts documents both). */
  accessLogFormat: AccessLogFormat;
  /** Object cache: total bytes held (bodies + headers); 0 turns caching off. */
  cacheSize: number;
  /** Largest object stored; larger ones stream through. */
  cacheMaxObjectSize: number;
  cacheMaxEntries: number;
  /** Addresses (single, range, CIDR; as @src_ip) allowed to send PURGE. */
  purgeAllow: string[];
  /** Serve plain HTTP on listenHost:listenPort. Off when only HTTPS was asked for. */
  httpEnabled: boolean;
  /** PEM certificate chain and private key of the HTTPS listener; both or neither. Re-read on every reload. */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /** Address of the HTTPS listener (when tlsCertFile is set). */
  tlsListenHost: string;
  tlsListenPort: number;
  /** On SIGTERM/SIGINT, requests in flight get this long to finish before their connections are cut. */
  drainTimeoutMs: number;
  /** Processes serving requests; more than 1 runs a supervisor and that many workers (src/cluster/). */
  workers: number;
  /** Admin endpoints (/metrics, /status, /healthz, /readyz): host and port, or null for none. */
  adminListen: { host: string; port: number } | null;
  /** Client addresses allowed on the admin endpoints (as @src_ip). */
  adminAllow: string[];
}

export type AccessLogFormat = 'text' | 'json';

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  listenHost: '127.0.0.1',
  listenPort: 8080,
  connectTimeoutMs: 10_000,
  responseTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 30_000,
  clientIdleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16_384,
  pristineHostHdr: false,
  viaName: 'remapd',
  xForwardedFor: true,
  originCaFile: null,
  originMaxConnections: null,
  accessLog: '-',
  cacheSize: 256 * 1024 * 1024,
  cacheMaxObjectSize: 16 * 1024 * 1024,
  cacheMaxEntries: 100_000,
  purgeAllow: ['127.0.0.1', '::1'],
  accessLogFormat: 'text',
  httpEnabled: true,
  tlsCertFile: null,
  tlsKeyFile: null,
  tlsListenHost: '127.0.0.1',
  tlsListenPort: 8443,
  drainTimeoutMs: 10_000,
  workers: 1,
  adminListen: null,
  adminAllow: ['127.0.0.1', '::1'],
});

const POSITIVE_MS: (keyof Settings)[] = [
  'connectTimeoutMs',
  'responseTimeoutMs',
  'bodyIdleTimeoutMs',
  'clientIdleTimeoutMs',
  'keepAliveTimeoutMs',
  'drainTimeoutMs',
];

/** Merges overrides onto the defaults and checks every value; throws one error listing every problem. */
export function resolveSettings(overrides: Partial<Settings> = {}): Settings {
  const s: Settings = { ...DEFAULT_SETTINGS, ...stripUndefined(overrides) };
  const problems: string[] = [];
  for (const k of POSITIVE_MS) {
    const v = s[k] as number;
    if (!Number.isInteger(v) || v <= 0) problems.push(`${k} must be a positive whole number of milliseconds, not ${v}`);
  }
  if (!Number.isInteger(s.listenPort) || s.listenPort < 0 || s.listenPort > 65535) {
    problems.push(`listen port must be 0-65535, not ${s.listenPort}`);
  }
  if (!Number.isInteger(s.maxHeaderBytes) || s.maxHeaderBytes < 1024) {
    problems.push(`maxHeaderBytes must be at least 1024, not ${s.maxHeaderBytes}`);
  }
  if (s.originMaxConnections !== null && (!Number.isInteger(s.originMaxConnections) || s.originMaxConnections < 1)) {
    problems.push(`originMaxConnections must be a positive whole number, not ${s.originMaxConnections}`);
  }
  for (const k of ['cacheSize', 'cacheMaxObjectSize', 'cacheMaxEntries'] as const) {
    if (!Number.isSafeInteger(s[k]) || s[k] < 0) problems.push(`${k} must be a whole number ≥ 0, not ${s[k]}`);
  }
  for (const a of s.purgeAllow) {
    try {
      parseIpEntry(a);
    } catch (err) {
      problems.push(`purge allow list: ${(err as Error).message}`);
    }
  }
  for (const a of s.adminAllow) {
    try {
      parseIpEntry(a);
    } catch (err) {
      problems.push(`admin allow list: ${(err as Error).message}`);
    }
  }
  if (!Number.isInteger(s.tlsListenPort) || s.tlsListenPort < 0 || s.tlsListenPort > 65535) {
    problems.push(`TLS listen port must be 0-65535, not ${s.tlsListenPort}`);
  }
  if ((s.tlsCertFile === null) !== (s.tlsKeyFile === null)) {
    problems.push('an HTTPS listener needs both a certificate (--tls-cert) and its key (--tls-key)');
  }
  if (!s.httpEnabled && s.tlsCertFile === null) problems.push('nothing to listen on: HTTP is off and no TLS certificate is given');
  if (s.accessLogFormat !== 'text' && s.accessLogFormat !== 'json') {
    problems.push(`access log format must be text or json, not ${String(s.accessLogFormat)}`);
  }
  if (!Number.isInteger(s.workers) || s.workers < 1) problems.push(`workers must be a positive whole number, not ${s.workers}`);
  if (!/^[A-Za-z0-9._~!$&'*+^`|-]+$/.test(s.viaName)) problems.push(`via name "${s.viaName}" must be a single token`);
  if (problems.length > 0) throw new Error(`invalid settings:\n  ${problems.join('\n  ')}`);
  return s;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
