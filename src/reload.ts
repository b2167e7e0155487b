/**
 * Reloading, the parts that are not the listener: what a reload reads (a complete configuration and the TLS
 * certificate, checked together: all or nothing), the counters operators and metrics read, and running reloads
 * one at a time.
 */
import { formatDiagnostic } from './errors.js';
import type { Logger } from './observability/logger.js';
import { loadRemapConfig, type RemapConfig } from './remap/load.js';
import { contentFingerprint } from './remap/watch.js';
import { expiryWarning, loadTlsCredentials, type TlsCredentials, type TlsFiles } from './tls.js';

/** What asked for a reload (logged, and kept in ReloadState.lastReload). */
export type ReloadTrigger = 'SIGHUP' | 'file-change' | 'supervisor' | 'admin' | 'test';

/** The result of one reload attempt. */
export interface ReloadOutcome {
  ok: boolean;
  at: Date;
  trigger: ReloadTrigger;
  /** "N rule(s), W warning(s)", or the first error with file:line (and how many more). */
  message: string;
  /** The version in force after the attempt (the old one when it failed). */
  configVersion: string;
}

/**
 * Reload counters of one server (one worker), for the error log, metrics and the status page. Mutated in place;
 * read it, do not write it.
 */
export interface ReloadState {
  reloadsOk: number;
  reloadsFailed: number;
  /** null until the first reload after start. */
  lastReload: ReloadOutcome | null;
  /** contentFingerprint of the configuration's files (RemapConfig.files): equal versions, equal configuration. */
  configVersion: string;
  /** When the configuration in force was loaded. */
  loadedAt: Date;
  rules: number;
  /** The HTTPS listener's certificate, when there is one. */
  tls: { certFile: string; subject: string; notAfter: Date } | null;
}

export function initialReloadState(config: RemapConfig, tls: { files: TlsFiles; creds: TlsCredentials } | null): ReloadState {
  return {
    reloadsOk: 0,
    reloadsFailed: 0,
    lastReload: null,
    configVersion: contentFingerprint(config.files),
    loadedAt: config.loadedAt,
    rules: config.rules.length,
    tls: tls && { certFile: tls.files.certFile, subject: tls.creds.subject, notAfter: tls.creds.notAfter },
  };
}

/** A configuration (and certificate) ready to be swapped in, or why there is none. */
export type Generation =
  | { ok: true; config: RemapConfig; tls: TlsCredentials | null; configVersion: string; warnings: number }
  | { ok: false; message: string; /** Files the failed attempt read, to keep watching them. */ files: string[] };

/**
 * Loads everything a reload puts in force, logging every diagnostic with file:line. Nothing is swapped here: a
 * failure leaves no trace but the log lines.
 */
export async function loadGeneration(configPath: string, tlsFiles: TlsFiles | null, logger: Logger): Promise<Generation> {
  const { config, diagnostics } = await loadRemapConfig(configPath, { logger });
  for (const d of diagnostics) (d.severity === 'error' ? logger.error : logger.warn)(formatDiagnostic(d));
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const files = [...new Set(diagnostics.map((d) => d.file))];
  if (!config) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error(s))` : '';
    return { ok: false, message: `${errors[0] ? formatDiagnostic(errors[0]) : `${configPath}: errors`}${more}`, files };
  }
  if (config.rules.length === 0) {
    // What a full disk, an interrupted `>` redirection or a half-done deployment leaves: an empty file parses, to
    // no rules, and would answer every request 404. A reload never puts that in force; stopping remapd does it.
    await config.close();
    const message = `${configPath}: no rules (an empty or truncated file?); a reload to no rules at all is refused`;
    logger.error(message);
    return { ok: false, message, files: [...config.files, ...files] };
  }
  let tls: TlsCredentials | null = null;
  if (tlsFiles) {
    try {
      tls = loadTlsCredentials(tlsFiles);
    } catch (err) {
      await config.close();
      const message = (err as Error).message;
      logger.error(message);
      return { ok: false, message, files: [...config.files, ...files] };
    }
    const warning = expiryWarning(tls, tlsFiles);
    if (warning) logger.warn(warning);
  }
  return { ok: true, config, tls, configVersion: contentFingerprint(config.files), warnings: diagnostics.length };
}

/** One request for a reload. `force`: reload even when no file changed (SIGHUP: the operator asked). */
export interface ReloadRequest {
  trigger: ReloadTrigger;
  force: boolean;
}

/**
 * Runs reloads one at a time. A request made while one runs is run once after it; further requests made
 * meanwhile join that one run (forced if any of them was), so a burst of signals costs at most two reloads.
 */
export class ReloadQueue<T> {
  private running: Promise<T> | null = null;
  private queued: { request: ReloadRequest; promise: Promise<T> } | null = null;

  constructor(private readonly task: (request: ReloadRequest) => Promise<T>) {}

  run(request: ReloadRequest): Promise<T> {
    if (this.running === null) return this.start(request);
    if (this.queued !== null) {
      const q = this.queued.request;
      if (request.force && !q.force) this.queued.request = { ...request };
      else if (!q.force) q.trigger = request.trigger;
      return this.queued.promise;
    }
    const queued = {
      request: { ...request },
      promise: this.running.then(
        () => this.startQueued(),
        () => this.startQueued(),
      ),
    };
    this.queued = queued;
    return queued.promise;
  }

  private startQueued(): Promise<T> {
    const { request } = this.queued!;
    this.queued = null;
    return this.start(request);
  }

  private start(request: ReloadRequest): Promise<T> {
    const p: Promise<T> = this.task(request).finally(() => {
      if (this.running === p) this.running = null;
    });
    this.running = p;
    return p;
  }

  /** Resolves when no reload runs or waits. */
  async idle(): Promise<void> {
    while (this.running !== null || this.queued !== null) {
      await (this.queued?.promise ?? this.running)!.catch(() => undefined);
    }
  }
}
