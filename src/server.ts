/**
 * The listener and the lifecycle around the request pipeline: start on a loaded configuration, swap in a new one
 * atomically (requests in flight finish on the one they started with, which is closed once they are done), and
 * shut down gracefully.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessLog } from './observability/access-log.js';
import type { Logger } from './observability/logger.js';
import { Cache } from './cache/cache.js';
import { handleRequest, type ProxyContext } from './proxy/handler.js';
import { parseIpEntry } from './remap/ip-range.js';
import { OriginClient } from './proxy/origin-client.js';
import type { RemapConfig } from './remap/load.js';
import type { Settings } from './settings.js';

export interface RemapdServerOptions {
  config: RemapConfig;
  settings: Settings;
  logger: Logger;
  /** Defaults to the destination named by settings.accessLog. */
  accessLog?: AccessLog;
}

export class RemapdServer {
  readonly server: Server;
  readonly settings: Settings;
  readonly logger: Logger;
  private readonly ctx: ProxyContext;
  private readonly active = new Map<RemapConfig, number>();
  private readonly retired = new Set<RemapConfig>();
  private closing = false;

  constructor(options: RemapdServerOptions) {
    const { settings, logger } = options;
    this.settings = settings;
    this.logger = logger;
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
      accessLog: options.accessLog ?? new AccessLog(settings.accessLog),
      logger,
      scheme: 'http',
      nextId: 1,
      onDone: (config) => {
        this.release(config);
        // While shutting down, a kept-alive connection that just became idle is closed at once.
        if (this.closing) setImmediate(() => this.server.closeIdleConnections());
      },
    };
    this.server = createServer(
      {
        maxHeaderSize: settings.maxHeaderBytes,
        keepAliveTimeout: settings.keepAliveTimeoutMs,
        // Uploads may be long: there is no deadline for a whole request, only for idleness (clientIdleTimeoutMs).
        requestTimeout: 0,
        headersTimeout: Math.min(60_000, settings.clientIdleTimeoutMs),
        joinDuplicateHeaders: false,
      },
      (req, res) => {
        const config = this.ctx.config;
        this.active.set(config, (this.active.get(config) ?? 0) + 1);
        handleRequest(this.ctx, req, res);
      },
    );
    this.server.setTimeout(settings.clientIdleTimeoutMs);
    // Node hands CONNECT to a 'connect' listener (and drops the socket when there is none): answer it properly.
    this.server.on('connect', (req, socket) => {
      const body = 'CONNECT is not supported: remapd is a reverse proxy\n';
      socket.end(
        `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n` +
          `X-Remapd-Error: ERR_METHOD_NOT_ALLOWED\r\nConnection: close\r\n\r\n${body}`,
      );
      logger.debug('CONNECT refused', { client: req.socket.remoteAddress });
    });
    logger.debug('origin TLS trust', { ca: origin.caSource });
  }

  get config(): RemapConfig {
    return this.ctx.config;
  }

  async listen(): Promise<AddressInfo> {
    const { listenHost, listenPort } = this.settings;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(listenPort, listenHost, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /** Puts `next` in force for new requests; the old configuration is closed when its last request ends. */
  swapConfig(next: RemapConfig): void {
    const old = this.ctx.config;
    if (old === next) return;
    this.ctx.config = next;
    this.retired.add(old);
    if (!this.active.get(old)) void this.closeConfig(old);
  }

  private release(config: RemapConfig): void {
    const n = (this.active.get(config) ?? 1) - 1;
    if (n > 0) {
      this.active.set(config, n);
      return;
    }
    this.active.delete(config);
    if (this.retired.has(config)) void this.closeConfig(config);
  }

  private async closeConfig(config: RemapConfig): Promise<void> {
    this.retired.delete(config);
    await config.close();
  }

  /**
   * Stops accepting, lets requests in flight finish for up to `drainMs`, then cuts what is left and releases the
   * origin pools, the access log and the configuration.
   */
  async close(drainMs = 10_000): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), drainMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
    await this.ctx.origin.close();
    await this.ctx.accessLog.close();
    await this.ctx.config.close();
  }
}
