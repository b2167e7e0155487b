#!/usr/bin/env node
/**
 * remapd's command line: `serve` runs the proxy, `check` validates a configuration like `nginx -t`, `sign` shows how
 * s3_auth signs a request, `signing-key` derives scoped V4 keys.
 */
import cluster from 'node:cluster';
import { readFileSync, realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { startWorkerIpc } from './cluster/ipc.js';
import { Supervisor } from './cluster/supervisor.js';
import { registerServerHandlers, withFields, workerSlot } from './cluster/worker.js';
import { purgeCommand } from './commands/purge.js';
import { signCommand } from './commands/sign.js';
import { signingKeyCommand } from './commands/signing-key.js';
import { formatDiagnostic } from './errors.js';
import { parseSize } from './units.js';
import { AccessLog } from './observability/access-log.js';
import { createLogger, type Logger, type LogLevel } from './observability/logger.js';
import { loadRemapConfig } from './remap/load.js';
import { RemapdServer } from './server.js';
import { processObservability, startProcessAdmin, startSupervisorAdmin } from './admin/wiring.js';
import { type AccessLogFormat, resolveSettings, type Settings } from './settings.js';
import { loadTlsCredentials } from './tls.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError(`${name} must be a positive whole number`);
    return Number(value);
  };
}

/** A size: bytes, or with K/M/G (powers of 1024). */
export function size(name: string) {
  return (value: string): number => {
    const n = parseSize(value);
    if (n === null) throw new InvalidArgumentError(`${name} must be a size: bytes, or with K, M or G`);
    return n;
  };
}

function addressList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/** `--workers`: a count, or `auto` for one per CPU the process may use. */
function workerCount(value: string): number {
  if (value === 'auto') return availableParallelism();
  return positiveInt('--workers')(value);
}

function listenAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  if (!m || Number(m[3]) > 65535) throw new InvalidArgumentError('expected HOST:PORT, [IPv6]:PORT or PORT');
  return { host: m[1] || m[2] || '127.0.0.1', port: Number(m[3]) };
}

interface CommonOptions {
  config: string;
  listen?: { host: string; port: number };
  connectTimeout?: number;
  responseTimeout?: number;
  bodyIdleTimeout?: number;
  clientIdleTimeout?: number;
  pristineHostHdr?: boolean;
  viaName?: string;
  xForwardedFor?: boolean;
  originCa?: string;
  originMaxConnections?: number;
  accessLog?: string;
  logLevel?: LogLevel;
  cacheSize?: number;
  cacheMaxObject?: number;
  cacheMaxEntries?: number;
  purgeAllow?: string[];
  accessLogFormat?: AccessLogFormat;
  tlsCert?: string;
  tlsKey?: string;
  tlsListen?: { host: string; port: number };
  drainTimeout?: number;
  workers?: number;
  adminListen?: { host: string; port: number };
  adminAllow?: string[];
  /** false with --no-watch. */
  watch: boolean;
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'remap.config to load', 'remap.config')
    .option('-l, --listen <addr>', 'plain HTTP address, HOST:PORT (default 127.0.0.1:8080; with --tls-cert, only when given)', listenAddress)
    .option('--connect-timeout <ms>', 'origin connect timeout (default 10000)', positiveInt('--connect-timeout'))
    .option('--response-timeout <ms>', 'wait for origin response headers (default 30000)', positiveInt('--response-timeout'))
    .option('--body-idle-timeout <ms>', 'longest pause inside an origin body (default 30000)', positiveInt('--body-idle-timeout'))
    .option('--client-idle-timeout <ms>', 'close idle client connections after (default 120000)', positiveInt('--client-idle-timeout'))
    .option('--pristine-host-hdr', "send the client's Host to origins (ATS pristine_host_hdr)")
    .option('--via-name <token>', 'pseudonym in Via headers (default remapd)')
    .option('--no-x-forwarded-for', 'do not add the client address to X-Forwarded-For')
    .option('--origin-ca <file>', 'extra CA certificates (PEM) to trust for HTTPS origins')
    .option('--origin-max-connections <n>', 'most connections per origin (default unlimited)', positiveInt('--origin-max-connections'))
    .option('--access-log <dest>', "access log: file path, '-' for stdout, or 'off' (default -)")
    .addOption(new Option('--access-log-format <format>', 'access log line format (default text)').choices(['text', 'json']))
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate chain (re-read on reload)')
    .option('--tls-key <file>', "the certificate's PEM private key")
    .option('--tls-listen <addr>', 'HTTPS address, HOST:PORT (default 127.0.0.1:8443)', listenAddress)
    .option('--drain-timeout <ms>', 'on SIGTERM/SIGINT, time for requests in flight to finish (default 10000)', positiveInt('--drain-timeout'))
    .option('--admin-listen <addr>', 'serve /metrics, /metrics.json, /status, /healthz and /readyz on HOST:PORT (PORT alone: 127.0.0.1; default off)', listenAddress)
    .option('--admin-allow <addrs>', 'addresses allowed on the admin endpoints: IPs, ranges, CIDRs, comma-separated (default 127.0.0.1,::1)', addressList)
    .option('--workers <n>', "worker processes sharing the listeners, or 'auto' for one per CPU (default 1)", workerCount)
    .option('--no-watch', 'do not reload when a configuration file changes (SIGHUP still reloads)')
    .option('--cache-size <size>', 'object cache size, e.g. 256M; 0 turns caching off (default 256M)', size('--cache-size'))
    .option('--cache-max-object <size>', 'largest object stored; larger ones stream through (default 16M)', size('--cache-max-object'))
    .option('--cache-max-entries <n>', 'most objects stored (default 100000)', positiveInt('--cache-max-entries'))
    .option('--purge-allow <addrs>', 'addresses allowed to PURGE: IPs, ranges, CIDRs, comma-separated (default 127.0.0.1,::1)', addressList)
    .addOption(new Option('--log-level <level>', 'error log level').choices(['error', 'warn', 'info', 'debug']).default('info'));
}

function toSettings(o: CommonOptions): Settings {
  const overrides: Partial<Settings> = {
    connectTimeoutMs: o.connectTimeout,
    responseTimeoutMs: o.responseTimeout,
    bodyIdleTimeoutMs: o.bodyIdleTimeout,
    clientIdleTimeoutMs: o.clientIdleTimeout,
    pristineHostHdr: o.pristineHostHdr,
    viaName: o.viaName,
    xForwardedFor: o.xForwardedFor,
    originCaFile: o.originCa,
    originMaxConnections: o.originMaxConnections,
    accessLog: o.accessLog,
    cacheSize: o.cacheSize,
    cacheMaxObjectSize: o.cacheMaxObject,
    cacheMaxEntries: o.cacheMaxEntries,
    purgeAllow: o.purgeAllow,
    accessLogFormat: o.accessLogFormat,
    tlsCertFile: o.tlsCert !== undefined ? resolve(o.tlsCert) : undefined,
    tlsKeyFile: o.tlsKey !== undefined ? resolve(o.tlsKey) : undefined,
    // With a certificate, plain HTTP is served only when --listen asks for it too.
    httpEnabled: o.listen !== undefined || o.tlsCert === undefined,
    drainTimeoutMs: o.drainTimeout,
    workers: o.workers,
    adminListen: o.adminListen,
    adminAllow: o.adminAllow,
  };
  if (o.listen) {
    overrides.listenHost = o.listen.host;
    overrides.listenPort = o.listen.port;
  }
  if (o.tlsListen) {
    overrides.tlsListenHost = o.tlsListen.host;
    overrides.tlsListenPort = o.tlsListen.port;
  }
  return resolveSettings(overrides);
}

/**
 * `serve` in one process (workers: 1) or in one worker: load, listen, and handle the lifecycle signals until
 * stopped. In a worker the supervisor relays SIGHUP and SIGUSR1 over IPC (a direct one is ignored, so a signal
 * sent to the whole process group does not act twice); SIGTERM/SIGINT act directly, because systemd
 * (KillMode=control-group) and a terminal's Ctrl-C signal every process of the group.
 */
async function serve(o: CommonOptions, settings: Settings, logger: Logger, slot: number | null): Promise<void> {
  let server: RemapdServer | null = null;
  const fail = (message: string, fields?: Record<string, unknown>): void => {
    logger.error(message, fields);
    // A worker's IPC channel would keep it alive; a single process just ends with status 1.
    if (slot !== null) process.exit(1);
    process.exitCode = 1;
  };

  // Installed first: a SIGHUP's default action is to end the process, also while it is still starting.
  process.on('SIGHUP', () => {
    if (slot !== null) logger.debug('SIGHUP ignored in a worker: the supervisor relays reloads');
    else if (server) void server.reload('SIGHUP');
    else logger.warn('SIGHUP before the server started; the configuration being loaded stays');
  });
  // Also keeps Node from starting its inspector on SIGUSR1 (its default).
  process.on('SIGUSR1', () => {
    if (slot !== null || !server) return;
    server.reopenLogs().then(
      (reopened) => logger.info(reopened ? 'access log reopened' : 'SIGUSR1: the access log is not a file; nothing to reopen'),
      (err: Error) => logger.error('cannot reopen the access log; still writing to the old file', { error: err.message }),
    );
  });
  let stopping = false;
  const stop = (reason: string, drainMs = settings.drainTimeoutMs): void => {
    if (stopping) return;
    stopping = true;
    // Still loading: nothing is in flight.
    if (!server) process.exit(0);
    const s = server;
    logger.info('shutting down', { reason, inFlight: s.inFlight, drainTimeoutMs: drainMs });
    s.close(drainMs).then(
      () => {
        logger.info('stopped', { reason });
        process.exit(0);
      },
      (err: unknown) => {
        // Closing the pools, plugins or the access log failed: still stop, but say so and not with 0.
        logger.error('shutdown did not complete cleanly', { reason, error: (err as Error)?.message ?? String(err) });
        process.exit(1);
      },
    );
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1 && stopping) {
      logger.error(`second ${signal}: exiting without waiting`, { inFlight: server?.inFlight ?? 0 });
      process.exit(1);
    }
    stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const { config, diagnostics } = await loadRemapConfig(o.config, { logger });
  for (const d of diagnostics) (d.severity === 'error' ? logger.error : logger.warn)(formatDiagnostic(d));
  if (!config) return fail(`not starting: ${o.config} has errors`);
  let accessLog: AccessLog;
  try {
    accessLog = new AccessLog(settings.accessLog, {
      format: settings.accessLogFormat,
      // Workers share stdout: keep each write within PIPE_BUF so their lines never interleave.
      maxWriteBytes: slot !== null && settings.accessLog === '-' ? 4096 : undefined,
      onError: (err) => logger.error('access log write failed; lines are dropped until SIGUSR1 reopens it', { error: err.message }),
    });
  } catch (err) {
    await config.close();
    return fail('not starting: cannot open the access log', { path: settings.accessLog, error: (err as Error).message });
  }
  let s: RemapdServer;
  const obs = processObservability();
  try {
    s = new RemapdServer({ config, settings, logger, accessLog, watch: o.watch, metrics: obs.metrics });
    await s.listen();
  } catch (err) {
    await config.close();
    return fail('not starting', { error: (err as Error).message });
  }
  obs.attach(s);
  // One process: the admin endpoints beside the proxy. Workers answer their supervisor's instead.
  if (slot === null && settings.adminListen) {
    try {
      await startProcessAdmin(obs, settings.adminListen, settings.adminAllow, logger);
    } catch (err) {
      obs.stop();
      await s.close(0);
      const a = settings.adminListen;
      return fail('not starting: cannot serve the admin endpoints', { address: `${a.host}:${a.port}`, error: (err as Error).message });
    }
  }
  server = s;
  const { http, https } = s.addresses;
  const about = { config: config.path, rules: config.rules.length, version: s.reloadState.configVersion };
  if (http) logger.info('remapd listening', { address: `${http.address}:${http.port}`, scheme: 'http', ...about });
  if (https) logger.info('remapd listening', { address: `${https.address}:${https.port}`, scheme: 'https', ...about });
  registerServerHandlers(s);
  if (slot !== null) startWorkerIpc(slot, (drainMs) => stop('supervisor', drainMs));
}

export function buildProgram(): Command {
  const program = new Command('remapd')
    .description('Caching reverse proxy for S3 and S3-compatible object stores, driven by an ATS-style remap.config')
    .version(pkg.version, '-V, --version')
    // `remapd sign --version 4` is the sign command's option, not the program's: options are positional.
    .enablePositionalOptions()
    .showHelpAfterError();

  addCommonOptions(program.command('serve').description('run the proxy')).action(async (o: CommonOptions) => {
    const base = createLogger({ level: o.logLevel });
    const settings = toSettings(o);
    if (settings.workers > 1 && cluster.isPrimary) {
      new Supervisor({ workers: settings.workers, drainTimeoutMs: settings.drainTimeoutMs, logger: base }).start();
      // The admin endpoints live in the supervisor and answer from every worker's numbers (admin/wiring.ts).
      if (settings.adminListen) {
        startSupervisorAdmin(settings.adminListen, settings.adminAllow, base).catch((err: Error) => {
          base.error('cannot serve the admin endpoints', { address: `${settings.adminListen!.host}:${settings.adminListen!.port}`, error: err.message });
        });
      }
      return;
    }
    const slot = workerSlot();
    await serve(o, settings, slot === null ? base : withFields(base, { worker: slot }), slot);
  });

  addCommonOptions(
    program.command('check').description('load and validate the configuration, print every problem, exit non-zero on any error'),
  ).action(async (o: CommonOptions) => {
    let ok = true;
    let settings: Settings | null = null;
    try {
      settings = toSettings(o);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      ok = false;
    }
    if (settings?.tlsCertFile && settings.tlsKeyFile) {
      try {
        loadTlsCredentials({ certFile: settings.tlsCertFile, keyFile: settings.tlsKeyFile });
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        ok = false;
      }
    }
    const logger = createLogger({ level: 'error' });
    const { config, diagnostics } = await loadRemapConfig(o.config, { logger });
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = diagnostics.length - errors;
    if (config) await config.close();
    if (!config || !ok) {
      process.stderr.write(`remapd check: ${o.config}: ${errors} error(s), ${warnings} warning(s)\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`remapd check: ${o.config}: OK, ${config.rules.length} rule(s), ${warnings} warning(s)\n`);
  });

  program.addCommand(purgeCommand());
  program.addCommand(signCommand());
  program.addCommand(signingKeyCommand());
  return program;
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    process.stderr.write(`remapd: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
