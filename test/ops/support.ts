/**
 * Helpers for the operations tests: a remapd process run through the real CLI whose error log can be awaited
 * line by line, a free port for listeners shared by workers, bounded polling, self-signed certificates.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { formatDiagnostic } from '../../src/errors.js';
import { AccessLog } from '../../src/observability/access-log.js';
import { createLogger } from '../../src/observability/logger.js';
import { loadRemapConfig } from '../../src/remap/load.js';
import { RemapdServer } from '../../src/server.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { CLI } from '../support/cli.js';
import { LOOPBACK } from '../support/harness.js';
import { recordTranscript, registerConfigSecrets, registerConfigFolder } from '../support/secrets.js';

export interface CliProcess {
  child: ChildProcess;
  /** Everything written to stderr (the error log) so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves with the first match of `pattern` in stderr at or after `from` (a character offset). */
  waitForLog(pattern: RegExp, options?: { timeoutMs?: number; from?: number }): Promise<RegExpExecArray>;
  /** Resolves with the exit code (null when killed by a signal), bounded. */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `remapd serve …args` and kills it (SIGKILL) when the test ends, if still running. */
export function startCli(t: { after(fn: () => void | Promise<void>): void }, args: string[]): CliProcess {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const waiters = new Set<() => void>();
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d;
    for (const w of waiters) w();
  });
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  registerConfigSecrets(args.join(' '));
  registerConfigFolder(args);
  recordTranscript(`the error log of remapd serve ${args.join(' ')}`, () => stderr);
  recordTranscript(`the access log of remapd serve ${args.join(' ')}`, () => stdout);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    waitForLog(pattern, options = {}) {
      const timeoutMs = options.timeoutMs ?? 10_000;
      const from = options.from ?? 0;
      const flags = pattern.flags.replace('g', '');
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = new RegExp(pattern.source, flags).exec(stderr.slice(from));
          if (!m) return false;
          finish();
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; stderr:\n${stderr}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(onData);
        };
        const onData = () => void check();
        if (check()) return;
        waiters.add(onData);
        void exit.then(() => setImmediate(() => {
          if (waiters.has(onData) && !check()) {
            finish();
            reject(new Error(`remapd exited before logging ${pattern}; stderr:\n${stderr}`));
          }
        }));
      });
    },
    exited(timeoutMs = 15_000) {
      return Promise.race([
        exit,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`remapd did not exit within ${timeoutMs} ms`)), timeoutMs).unref()),
      ]);
    },
  };
}

/** A port free on 127.0.0.1 right now (for listeners that cannot be given port 0, e.g. shared by workers). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `probe` every `intervalMs` until it returns a truthy value; rejects after `timeoutMs`. */
export async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 5_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Writes a self-signed certificate for CN=localhost (valid one day) into `dir`; returns the file paths. */
export function selfSignedCert(dir: string, name = 'server'): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert],
    { stdio: 'ignore', timeout: 30_000 },
  );
  return { cert, key };
}

/** True when a process with this pid runs (a zombie waiting to be reaped does not count). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/PID/stat: "pid (comm) STATE …"
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export interface InProcess {
  server: RemapdServer;
  url: string;
  /** Error-log lines. */
  logs: string[];
  /** Access-log lines. */
  access: string[];
}

/**
 * Loads `dir/remap.config` and starts a RemapdServer on 127.0.0.1:0 in this process (closed when the test
 * ends); unlike the harness it can watch the files and serve HTTPS.
 */
export async function startInProcess(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  options: { watch?: boolean; settings?: Partial<Settings> } = {},
): Promise<InProcess> {
  const logs: string[] = [];
  const access: string[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  const { config, diagnostics } = await loadRemapConfig(join(dir, 'remap.config'), { logger });
  if (!config) throw new Error(`test config failed to load:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  const settings = resolveSettings({ listenHost: LOOPBACK, listenPort: 0, tlsListenHost: LOOPBACK, tlsListenPort: 0, ...options.settings });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) access.push(line);
      done();
    },
  });
  const server = new RemapdServer({ config, settings, logger, accessLog: new AccessLog(sink), watch: options.watch });
  const addr = await server.listen();
  t.after(() => server.close(1000));
  return { server, url: `http://${LOOPBACK}:${addr.port}`, logs, access };
}
