/**
 * The listeners and the lifecycle around the request pipeline: start on a loaded configuration, reload (swap in a
 * new configuration and certificate atomically: requests in flight finish on the configuration they started
 * with, which is closed once they are done), and shut down gracefully.
 *
 * Plain HTTP and HTTPS listeners share one pipeline state (cache, origin pools, configuration); each has its own
 * ProxyContext only because the scheme rules match on is the listener's.
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse, STATUS_CODES } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ERROR_STATUS, type ErrorCode } from './errors.js';
import { AccessLog } from './observability/access-log.js';
import type { Logger } from './observability/logger.js';
import { Cache } from './cache/cache.js';
import { handleRequest, type ProxyContext, purgeStored } from './proxy/handler.js';
import { collectFromCluster } from './cluster/ipc.js';
import { MAX_HEADER_FIELDS } from './proxy/request-framing.js';
import type { Scheme } from './plugins/api.js';
import { parseIpEntry } from './remap/ip-range.js';
import { OriginClient } from './proxy/origin-client.js';
import type { RemapConfig } from './remap/load.js';
import { contentFingerprint, FileWatcher } from './remap/watch.js';
import {
  initialReloadState,
  loadGeneration,
  ReloadQueue,
  type ReloadOutcome,
  type ReloadRequest,
  type ReloadState,
  type ReloadTrigger,
} from './reload.js';
import type { Settings } from './settings.js';
import { expiryWarning, loadTlsCredentials, type TlsFiles } from './tls.js';

export interface RemapdServerOptions {
  config: RemapConfig;
  settings: Settings;
  logger: Logger;
  /** Defaults to the destination and format named by settings.accessLog and settings.accessLogFormat. */
  accessLog?: AccessLog;
  /**
   * Reload when a configuration file or the TLS certificate changes on disk. Off by default (embedding, tests);
   * `remapd serve` turns it on unless --no-watch.
   */
  watch?: boolean;
  /** Request, origin and signing counters, kept by the pipeline when given (observability/metrics.ts). */
  metrics?: ProxyContext['metrics'];
}

/** What `reload()` resolves to: the attempt's outcome, or `skipped` when a file event changed no content. */
export type ReloadResult = ReloadOutcome | { ok: true; skipped: true; configVersion: string };

export class RemapdServer {
  /** The plain HTTP listener; null when only HTTPS was asked for (settings.httpEnabled). */
  readonly http: Server | null;
  /** The HTTPS listener; null without settings.tlsCertFile. */
  readonly https: HttpsServer | null;
  readonly settings: Settings;
  readonly logger: Logger;
  /** Reload counters and the version in force, for logs, metrics and the status page. */
  readonly reloadState: ReloadState;
  private readonly ctx: ProxyContext;
  private readonly tlsFiles: TlsFiles | null;
  private readonly active = new Map<RemapConfig, number>();
  private readonly retired = new Set<RemapConfig>();
  /** Every client connection of both listeners, so a drain deadline can cut the ones still in a TLS handshake. */
  private readonly sockets = new Set<Socket>();
  private readonly reloads: ReloadQueue<ReloadResult>;
  private readonly watcher: FileWatcher | null;
  /**
   * Content fingerprint of the watched files when the last reload attempt started ('' when unknown): a file
   * event after which they still have this content reloads nothing.
   */
  private watchedFingerprint: string;
  /** The configuration's files and the certificate files: what a reload reads, and what is watched. */
  private watchedFiles: string[];
  private closing = false;

  constructor(options: RemapdServerOptions) {
    const { settings, logger } = options;
    this.settings = settings;
    this.logger = logger;
    this.tlsFiles = settings.tlsCertFile && settings.tlsKeyFile ? { certFile: settings.tlsCertFile, keyFile: settings.tlsKeyFile } : null;
    // Throws (with the file and reason) when the certificate cannot be used: refuse to start, as with a bad config.
    const tls = this.tlsFiles && loadTlsCredentials(this.tlsFiles);
    if (tls && this.tlsFiles) {
      const warning = expiryWarning(tls, this.tlsFiles);
      if (warning) logger.warn(warning);
    }
    const origin = new OriginClient(settings);
    this.ctx = {
      config: options.config,
      settings,
      origin,
      cache: new Cache({
        maxBytes: settings.cacheSize,
        maxObjectBytes: settings.cacheMaxObjectSize,
        maxEntries: settings.cacheMaxEntries,
      }),
      purgeAllow: settings.purgeAllow.map(parseIpEntry),
      ruleCacheViews: new WeakMap(),
      accessLog: options.accessLog ?? new AccessLog(settings.accessLog, { format: settings.accessLogFormat }),
      logger,
      scheme: 'http',
      nextId: 1,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(cluster.isWorker ? { purgeEverywhere: purgeInEveryWorker } : {}),
      onDone: (config) => {
        this.release(config);
        // While shutting down, a kept-alive connection that just became idle is closed at once.
        if (this.closing) setImmediate(() => this.closeIdleConnections());
      },
    };
    this.reloadState = initialReloadState(options.config, tls && this.tlsFiles ? { files: this.tlsFiles, creds: tls } : null);
    this.reloads = new ReloadQueue((request) => this.reloadOnce(request));

    const httpOptions: ServerOptions = {
      maxHeaderSize: settings.maxHeaderBytes,
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      // Uploads may be long: there is no deadline for a whole request, only for idleness (clientIdleTimeoutMs).
      requestTimeout: 0,
      headersTimeout: Math.min(60_000, settings.clientIdleTimeoutMs),
      joinDuplicateHeaders: false,
      // Explicit, so that NODE_OPTIONS=--insecure-http-parser cannot turn on llhttp's lenient modes (obs-fold,
      // Content-Length with Transfer-Encoding, bare LF…) for the listener that faces clients.
      insecureHTTPParser: false,
      // An HTTP/1.1 request without Host is refused by the handler (400 with a code and a reason), not by Node's
      // bare, bodiless 400.
      requireHostHeader: false,
    };
    this.http = settings.httpEnabled ? this.setUp(createServer(httpOptions, this.listener(this.ctx))) : null;
    this.https = tls
      ? this.setUp(
          createHttpsServer(
            // A TLS handshake that stalls must not hold a connection for Node's default 120 s.
            { ...httpOptions, cert: tls.cert, key: tls.key, handshakeTimeout: Math.min(10_000, settings.clientIdleTimeoutMs) },
            this.listener(this.derivedContext('https')),
          ),
        )
      : null;
    this.watcher = options.watch ? new FileWatcher({ logger, onChange: () => void this.filesChanged() }) : null;
    // A change between the configuration's load and here is missed either way (no watch saw it), so the
    // content now is as good a baseline as any.
    this.watchedFiles = this.watchFilesOf(options.config.files);
    this.watchedFingerprint = this.watcher ? contentFingerprint(this.watchedFiles) : '';
    this.watcher?.watch(this.watchedFiles);
    logger.debug('origin TLS trust', { ca: origin.caSource });
  }

  /**
   * A context for another listener: its own scheme, everything else shared with the main one. `config` and
   * `nextId` are written after creation (reload, request ids), so they are forwarded, not copied.
   */
  private derivedContext(scheme: Scheme): ProxyContext {
    const base = this.ctx;
    const derived = { ...base, scheme };
    Object.defineProperties(derived, {
      config: { get: () => base.config, set: (c: RemapConfig) => (base.config = c), enumerable: true },
      nextId: { get: () => base.nextId, set: (n: number) => (base.nextId = n), enumerable: true },
    });
    return derived;
  }

  private listener(ctx: ProxyContext): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const config = ctx.config;
      this.active.set(config, (this.active.get(config) ?? 0) + 1);
      // Draining: answer, then close the connection (Connection: close) instead of waiting for another request.
      if (this.closing) res.shouldKeepAlive = false;
      handleRequest(ctx, req, res);
    };
  }

  private setUp<S extends Server | HttpsServer>(server: S): S {
    server.setTimeout(this.settings.clientIdleTimeoutMs);
    // One field more than remapd accepts, so that a request with too many is seen, and refused, not cut short.
    server.maxHeadersCount = MAX_HEADER_FIELDS + 1;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Node hands CONNECT to a 'connect' listener (and drops the socket when there is none): answer it properly.
    server.on('connect', (req: IncomingMessage, socket: Socket) => {
      closeWith(socket, rawAnswer('ERR_METHOD_NOT_ALLOWED', 'CONNECT is not supported: remapd is a reverse proxy'));
      this.logger.debug('CONNECT refused', { client: req.socket.remoteAddress });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientError(err, socket));
    return server;
  }

  /**
   * A request Node's parser refused (malformed or oversized head, bad chunked framing, headers timeout): nothing of
   * it was forwarded. Answered as Node's default handler would — only when no response has started on the
   * connection — but with remapd's short body and code, then the connection is closed: what follows the bad bytes
   * cannot be read as a request.
   */
  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const code = err.code ?? '';
    const answer = CLIENT_ERROR_ANSWERS.get(code) ?? (code.startsWith('HPE_') ? BAD_REQUEST_ANSWER : null);
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (answer === null || answered.has(socket) || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    answered.add(socket);
    closeWith(socket, answer);
    this.logger.debug('malformed request refused', { client: (socket as Socket).remoteAddress, reason: code });
  }

  get config(): RemapConfig {
    return this.ctx.config;
  }

  /** PURGE in this process's cache only (a worker answering the supervisor's 'purge'). */
  purgeLocal(key: string): number {
    return purgeStored(this.ctx.cache, key);
  }

  /** The object cache (one per process: it outlives reloads and is shared by both listeners). */
  get cache(): ProxyContext['cache'] {
    return this.ctx.cache;
  }

  /** Requests in flight, on every configuration. */
  get inFlight(): number {
    let n = 0;
    for (const v of this.active.values()) n += v;
    return n;
  }

  /**
   * Starts the listeners. Resolves to the plain HTTP address, or the HTTPS one when there is no HTTP listener;
   * `addresses` has both.
   */
  async listen(): Promise<AddressInfo> {
    const s = this.settings;
    if (this.http) await listenOn(this.http, s.listenHost, s.listenPort);
    if (this.https) await listenOn(this.https, s.tlsListenHost, s.tlsListenPort);
    const { http, https } = this.addresses;
    return (http ?? https)!;
  }

  get addresses(): { http: AddressInfo | null; https: AddressInfo | null } {
    return {
      http: (this.http?.address() as AddressInfo | null) ?? null,
      https: (this.https?.address() as AddressInfo | null) ?? null,
    };
  }

  /** Puts `next` in force for new requests; the old configuration is closed when its last request ends. */
  swapConfig(next: RemapConfig): void {
    const old = this.ctx.config;
    if (old === next) return;
    // Origin pools keep what they know of their members' health across the reload (same strategy, same origin).
    const previous = new Map(old.pools.map((p) => [p.name, p]));
    for (const pool of next.pools) {
      const p = previous.get(pool.name);
      if (p !== undefined) pool.inheritHealth(p);
    }
    this.ctx.config = next;
    this.retired.add(old);
    if (!this.active.get(old)) void this.closeConfig(old);
  }

  /**
   * Loads the configuration (from the same top file) and the TLS certificate anew and puts them in force
   * together, or, when anything is wrong, logs why with file:line and keeps both old ones. Reloads run one at a
   * time (ReloadQueue). Never rejects.
   */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    return this.reloads.run({ trigger, force: true });
  }

  /** A watched file changed: reload if the content of what a reload reads differs from the last attempt. */
  private filesChanged(): Promise<ReloadResult> {
    return this.reloads.run({ trigger: 'file-change', force: false });
  }

  private async reloadOnce(request: ReloadRequest): Promise<ReloadResult> {
    const state = this.reloadState;
    // Taken before loading: a change made while the load runs then still differs from it and reloads again.
    const watchedBefore = this.watchedFiles;
    const fingerprint = this.watcher ? contentFingerprint(watchedBefore) : '';
    if (!request.force && fingerprint === this.watchedFingerprint) {
      // Same content (a touch, a rewrite of equal bytes), but a replaced file needs its watch set up again.
      this.rewatch(watchedBefore, fingerprint);
      this.logger.debug('configuration files touched but unchanged; no reload', { version: state.configVersion });
      return { ok: true, skipped: true, configVersion: state.configVersion };
    }
    const previous = state.configVersion;
    const next = this.closing ? null : await loadGeneration(this.ctx.config.path, this.tlsFiles, this.logger);
    if (next === null || !next.ok || this.closing) {
      if (next?.ok) await next.config.close();
      const message = next && !next.ok ? next.message : 'shutting down';
      state.reloadsFailed++;
      state.lastReload = { ok: false, at: new Date(), trigger: request.trigger, message, configVersion: previous };
      this.logger.error('reload failed; the previous configuration stays in force', {
        trigger: request.trigger,
        version: previous,
        reason: message,
      });
      // Also the files the failed attempt read (a new include with the error): fixing them reloads.
      this.rewatch([...this.ctx.config.files, ...(next && !next.ok ? next.files : [])], fingerprint);
      return state.lastReload;
    }
    this.swapConfig(next.config);
    if (next.tls && this.https) this.https.setSecureContext({ cert: next.tls.cert, key: next.tls.key });
    const message = `${next.config.rules.length} rule(s), ${next.warnings} warning(s)`;
    state.reloadsOk++;
    state.configVersion = next.configVersion;
    state.loadedAt = next.config.loadedAt;
    state.rules = next.config.rules.length;
    if (next.tls && this.tlsFiles) state.tls = { certFile: this.tlsFiles.certFile, subject: next.tls.subject, notAfter: next.tls.notAfter };
    state.lastReload = { ok: true, at: new Date(), trigger: request.trigger, message, configVersion: next.configVersion };
    this.logger.info('configuration reloaded', {
      trigger: request.trigger,
      version: next.configVersion,
      previous: previous === next.configVersion ? undefined : previous,
      rules: next.config.rules.length,
      warnings: next.warnings,
    });
    this.rewatch(next.config.files, fingerprint);
    return state.lastReload;
  }

  /**
   * Watches `configFiles` and the certificate files from now on (re-armed after every reload: the file list may
   * change). `fingerprint` is the content a reload attempt started from; it only counts for the same file list.
   */
  private rewatch(configFiles: readonly string[], fingerprint: string): void {
    const files = this.watchFilesOf(configFiles);
    const same = files.length === this.watchedFiles.length && files.every((f, i) => f === this.watchedFiles[i]);
    this.watchedFingerprint = same ? fingerprint : '';
    this.watchedFiles = files;
    if (this.watcher && !this.closing) this.watcher.watch(files);
  }

  private watchFilesOf(configFiles: readonly string[]): string[] {
    const tlsFiles = this.tlsFiles ? [this.tlsFiles.certFile, this.tlsFiles.keyFile] : [];
    return [...new Set([...configFiles, ...tlsFiles])];
  }

  /** Starts a new access log file at the same path (SIGUSR1 after logrotate). False when the log is not a file. */
  reopenLogs(): Promise<boolean> {
    return this.ctx.accessLog.reopen();
  }

  private release(config: RemapConfig): void {
    const n = (this.active.get(config) ?? 1) - 1;
    // The configuration in force keeps its entry at 0: deleting and re-adding it between requests churned the
    // map's table on every request (issue 6, 4% of a 1 KiB hit's JS time).
    if (n > 0 || !this.retired.has(config)) {
      this.active.set(config, n);
      return;
    }
    this.active.delete(config);
    void this.closeConfig(config);
  }

  private async closeConfig(config: RemapConfig): Promise<void> {
    this.retired.delete(config);
    this.active.delete(config);
    await config.close();
  }

  private closeIdleConnections(): void {
    this.http?.closeIdleConnections();
    this.https?.closeIdleConnections();
  }

  /**
   * Stops accepting, lets requests in flight finish for up to `drainMs`, then cuts what is left (client
   * connections and origin requests) and releases the origin pools, the access log and the configuration.
   */
  async close(drainMs = this.settings.drainTimeoutMs): Promise<void> {
    this.closing = true;
    const deadline = Date.now() + drainMs;
    this.watcher?.close();
    const listeners = [this.http, this.https].filter((s): s is Server | HttpsServer => s !== null);
    const closed = Promise.all(listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const s of listeners) s.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    }, drainMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
    // A reload still loading (a plugin fetching credentials) is not waited for past the deadline; when it ends it
    // sees `closing` and retires what it loaded.
    await within(this.reloads.idle(), deadline - Date.now());
    // An origin request may outlive its client (a cache fill whose client left before the head runs on, up to
    // --response-timeout, to store the object): it gets what is left of the drain time, then it is cut.
    // (undici's close() stays pending after a destroy(), hence the race.)
    const origin = this.ctx.origin;
    if (!(await within(origin.close().then(() => true, () => true), deadline - Date.now()))) await origin.agent.destroy().catch(() => undefined);
    await this.ctx.accessLog.close();
    await this.ctx.config.close();
  }
}

/** A complete response remapd writes on a raw socket (no ServerResponse): short text body, code, Connection: close. */
function rawAnswer(code: ErrorCode, message: string): string {
  const status = ERROR_STATUS[code];
  const body = `${status} ${STATUS_CODES[status]}: ${message}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n` +
    `X-Remapd-Error: ${code}\r\nConnection: close\r\n\r\n${body}`
  );
}

const BAD_REQUEST_ANSWER = rawAnswer('ERR_BAD_REQUEST', 'the request is not valid HTTP/1.1');
/** Parser errors that are not "malformed" (Node's default handler tells them apart the same way). */
const CLIENT_ERROR_ANSWERS: ReadonlyMap<string, string> = new Map([
  ['HPE_HEADER_OVERFLOW', rawAnswer('ERR_HEADERS_TOO_LARGE', 'the request line and headers are too large')],
  ['HPE_CHUNK_EXTENSIONS_OVERFLOW', rawAnswer('ERR_PAYLOAD_TOO_LARGE', 'the chunk extensions are too large')],
  ['ERR_HTTP_REQUEST_TIMEOUT', rawAnswer('ERR_CLIENT_TIMEOUT', 'the request head did not arrive in time')],
]);

/** Connections answered after a parse error: bytes that follow may make the parser report again. */
const answered = new WeakSet<Duplex>();

/** How long a refused connection may take to take its answer before it is cut. */
const CLOSE_GRACE_MS = 2_000;

/** Writes `answer` and closes: once it is flushed, or after CLOSE_GRACE_MS from a client that does not read. */
function closeWith(socket: Duplex, answer: string): void {
  const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end(answer, () => socket.destroy());
}

function listenOn(server: Server | HttpsServer, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Resolves to the promise's value, or to undefined after `ms` (never later). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, ms));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A worker's PURGE: every worker removes the key from its own cache (src/cluster/worker.ts answers 'purge'). */
async function purgeInEveryWorker(key: string): Promise<{ removed: number; unanswered: string[] }> {
  let answers: Awaited<ReturnType<typeof collectFromCluster>>;
  try {
    answers = await collectFromCluster('purge', { arg: key });
  } catch {
    // The supervisor itself did not answer: no worker is known to have purged anything (503, retry).
    return { removed: 0, unanswered: ['the supervisor'] };
  }
  let removed = 0;
  const unanswered: string[] = [];
  for (const a of answers) {
    if (a.ok && typeof a.value === 'number') removed += a.value;
    else unanswered.push(`worker ${a.worker}`);
  }
  return { removed, unanswered };
}
