#!/usr/bin/env node
/**
 * remapd's command line: `serve` runs the proxy, `check` validates a configuration like `nginx -t`, `sign` shows how
 * s3_auth signs a request, `signing-key` derives scoped V4 keys.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { purgeCommand } from './commands/purge.js';
import { signCommand } from './commands/sign.js';
import { signingKeyCommand } from './commands/signing-key.js';
import { formatDiagnostic } from './errors.js';
import { parseSize } from './units.js';
import { createLogger, type LogLevel } from './observability/logger.js';
import { loadRemapConfig } from './remap/load.js';
import { RemapdServer } from './server.js';
import { resolveSettings, type Settings } from './settings.js';

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
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'remap.config to load', 'remap.config')
    .option('-l, --listen <addr>', 'address to listen on, HOST:PORT (default 127.0.0.1:8080)', listenAddress)
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
  };
  if (o.listen) {
    overrides.listenHost = o.listen.host;
    overrides.listenPort = o.listen.port;
  }
  return resolveSettings(overrides);
}

export function buildProgram(): Command {
  const program = new Command('remapd')
    .description('Caching reverse proxy for S3 and S3-compatible object stores, driven by an ATS-style remap.config')
    .version(pkg.version, '-V, --version')
    // `remapd sign --version 4` is the sign command's option, not the program's: options are positional.
    .enablePositionalOptions()
    .showHelpAfterError();

  addCommonOptions(program.command('serve').description('run the proxy')).action(async (o: CommonOptions) => {
    const logger = createLogger({ level: o.logLevel });
    const settings = toSettings(o);
    const { config, diagnostics } = await loadRemapConfig(o.config, { logger });
    for (const d of diagnostics) (d.severity === 'error' ? logger.error : logger.warn)(formatDiagnostic(d));
    if (!config) {
      logger.error(`not starting: ${o.config} has errors`);
      process.exitCode = 1;
      return;
    }
    const server = new RemapdServer({ config, settings, logger });
    const addr = await server.listen();
    logger.info('remapd listening', { address: `${addr.address}:${addr.port}`, config: config.path, rules: config.rules.length });

    let reloading = false;
    process.on('SIGHUP', () => {
      if (reloading) return;
      reloading = true;
      void loadRemapConfig(o.config, { logger })
        .then(({ config: next, diagnostics: ds }) => {
          for (const d of ds) (d.severity === 'error' ? logger.error : logger.warn)(formatDiagnostic(d));
          if (!next) {
            logger.error('reload failed; the previous configuration stays in force');
            return;
          }
          server.swapConfig(next);
          logger.info('configuration reloaded', { rules: next.rules.length });
        })
        .finally(() => {
          reloading = false;
        });
    });
    const stop = (signal: string) => {
      logger.info('shutting down', { signal });
      void server.close().then(() => process.exit(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });

  addCommonOptions(
    program.command('check').description('load and validate the configuration, print every problem, exit non-zero on any error'),
  ).action(async (o: CommonOptions) => {
    let ok = true;
    try {
      toSettings(o);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      ok = false;
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
