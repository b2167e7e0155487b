/**
 * `--workers N`: the primary process. It serves nothing itself; it forks N workers (node:cluster, which shares
 * the listening sockets among them), relays signals to them, restarts a worker that dies, and drains them all on
 * shutdown:
 *
 *   SIGHUP         every worker reloads; each one's result is logged here (ok + version, or the reason)
 *   SIGUSR1        every worker reopens its access log
 *   SIGTERM/SIGINT every worker drains (--drain-timeout) and exits; then the primary exits 0.
 *                  A second signal kills the workers and exits 1 at once.
 *
 * A worker that exits unexpectedly is restarted after a back-off (0.5 s doubling to 30 s; reset once a worker
 * has served a minute), never during shutdown. A worker that fails before the first start completed (bad
 * configuration, address in use) stops them all: the primary exits 1, as a single process would.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../observability/logger.js';
import { addWorker, collectFromWorkers, isRemapdMessage, removeWorker, sendDrain, type FromWorker } from './ipc.js';

/** The environment variable that tells a worker its slot (1..N). */
export const WORKER_SLOT_ENV = 'REMAPD_WORKER';

export interface SupervisorOptions {
  workers: number;
  drainTimeoutMs: number;
  logger: Logger;
  /** Longest wait for each worker's reload result (a reload may instantiate plugins that fetch credentials). */
  reloadTimeoutMs?: number;
  /** Called instead of process.exit (tests). */
  exit?: (code: number) => void;
}

/** After the drain timeout, how long workers get to close their pools and logs before they are killed. */
const SHUTDOWN_MARGIN_MS = 5_000;
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A worker that served this long is healthy: its slot's back-off starts over. */
const HEALTHY_AFTER_MS = 60_000;

interface Slot {
  index: number;
  worker: Worker | null;
  readyAt: number | null;
  /** Consecutive exits without a healthy run. */
  failures: number;
  restartTimer: NodeJS.Timeout | null;
}

export class Supervisor {
  private readonly slots: Slot[];
  private started = false;
  private stopping = false;
  private readonly exit: (code: number) => void;

  constructor(private readonly options: SupervisorOptions) {
    this.slots = Array.from({ length: options.workers }, (_, i) => ({ index: i + 1, worker: null, readyAt: null, failures: 0, restartTimer: null }));
    this.exit = options.exit ?? ((code) => process.exit(code));
  }

  /** Installs the signal handlers and forks the workers. */
  start(): void {
    const { logger } = this.options;
    process.on('SIGHUP', () => void this.relayReload());
    process.on('SIGUSR1', () => void this.relayReopen());
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        logger.error(`second ${signal}: killing the workers without waiting`, { workers: this.live().length });
        for (const w of this.live()) w.process.kill('SIGKILL');
        this.exit(1);
        return;
      }
      void this.shutdown(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    logger.info('remapd supervisor starting', { workers: this.slots.length, pid: process.pid });
    for (const slot of this.slots) this.fork(slot);
  }

  private live(): Worker[] {
    return this.slots.flatMap((s) => (s.worker ? [s.worker] : []));
  }

  private fork(slot: Slot): void {
    slot.restartTimer = null;
    slot.readyAt = null;
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.index) });
    slot.worker = worker;
    worker.on('message', (m: unknown) => {
      if (!isRemapdMessage<FromWorker>(m) || m.remapd !== 'ready') return;
      slot.readyAt = Date.now();
      addWorker(slot.index, worker);
      this.options.logger.info('worker ready', { worker: slot.index, pid: worker.process.pid });
      if (!this.started && this.slots.every((s) => s.readyAt !== null)) {
        this.started = true;
        this.options.logger.info('remapd started', { workers: this.slots.length, pids: this.slots.map((s) => s.worker?.process.pid).join(',') });
      }
    });
    // A worker's process can fail to spawn (EAGAIN) or to be signalled; cluster re-emits that as 'error', which would
    // end the supervisor — and every worker with it — if nobody listened. 'exit' (when it comes) restarts the slot.
    worker.on('error', (err) => this.options.logger.error('worker process error', { worker: slot.index, error: err.message }));
    worker.on('exit', (code, signal) => this.exited(slot, worker, code, signal));
  }

  private exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    removeWorker(slot.index, worker);
    if (slot.worker !== worker) return;
    slot.worker = null;
    const { logger } = this.options;
    if (this.stopping) {
      logger.info('worker exited', { worker: slot.index, pid: worker.process.pid, code, signal });
      if (this.live().length === 0) this.finish(0);
      return;
    }
    if (!this.started) {
      logger.error('worker failed to start; stopping', { worker: slot.index, pid: worker.process.pid, code, signal });
      void this.shutdown('startup failure', 1);
      return;
    }
    if (slot.readyAt !== null && Date.now() - slot.readyAt >= HEALTHY_AFTER_MS) slot.failures = 0;
    slot.failures++;
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (slot.failures - 1));
    logger.error('worker exited unexpectedly; restarting', { worker: slot.index, pid: worker.process.pid, code, signal, restartInMs: delay });
    slot.restartTimer = setTimeout(() => this.fork(slot), delay);
  }

  /** SIGHUP: every ready worker reloads; the result of each is logged. */
  async relayReload(): Promise<void> {
    if (this.stopping) return;
    const { logger } = this.options;
    const waiting = this.slots.filter((s) => s.worker && s.readyAt === null).map((s) => s.index);
    if (waiting.length > 0) logger.info('reload: workers still starting load the current configuration', { workers: waiting.join(',') });
    const results = await collectFromWorkers('reload', { timeoutMs: this.options.reloadTimeoutMs ?? 60_000 });
    let ok = 0;
    for (const r of results) {
      const outcome = r.ok ? (r.value as { ok: boolean; message: string; configVersion: string }) : null;
      if (outcome?.ok) {
        ok++;
        logger.info('worker reloaded', { worker: r.worker, pid: r.pid, version: outcome.configVersion, result: outcome.message });
      } else {
        logger.error('worker reload failed; it keeps its previous configuration', {
          worker: r.worker,
          pid: r.pid,
          reason: outcome ? outcome.message : (r as { error: string }).error,
        });
      }
    }
    (ok === results.length ? logger.info : logger.error)('reload done', { ok, workers: results.length });
  }

  /** SIGUSR1: every ready worker reopens its access log. */
  async relayReopen(): Promise<void> {
    if (this.stopping) return;
    const results = await collectFromWorkers('reopen-logs');
    for (const r of results) {
      if (!r.ok) this.options.logger.error('worker could not reopen its access log', { worker: r.worker, pid: r.pid, reason: r.error });
    }
    this.options.logger.info('access logs reopened', { workers: results.filter((r) => r.ok).length });
  }

  /** Tells every worker to drain and exit; exits once all have, or kills them after the drain timeout + margin. */
  async shutdown(reason: string, code = 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { logger, drainTimeoutMs } = this.options;
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = null;
    }
    const live = this.live();
    logger.info('shutting down', { reason, workers: live.length, drainTimeoutMs });
    this.exitCode = code;
    if (live.length === 0) {
      this.finish(code);
      return;
    }
    for (const s of this.slots) {
      const w = s.worker;
      if (!w) continue;
      removeWorker(s.index, w);
      // A worker still starting cannot be told yet (it listens for messages once it serves), and one whose
      // channel is gone cannot be told at all: they get SIGTERM, which drains the same way (or just ends a
      // worker that has not installed its handler yet).
      if (s.readyAt === null || !sendDrain(w, drainTimeoutMs)) w.process.kill('SIGTERM');
    }
    setTimeout(() => {
      const left = this.live();
      logger.error('workers did not exit within the drain timeout; killing them', { pids: left.map((w) => w.process.pid).join(',') });
      for (const w of left) w.process.kill('SIGKILL');
      this.finish(1);
    }, drainTimeoutMs + SHUTDOWN_MARGIN_MS);
  }

  private exitCode = 0;
  private finished = false;

  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    const exitCode = Math.max(code, this.exitCode);
    this.options.logger.info('remapd stopped', { code: exitCode });
    this.exit(exitCode);
  }
}
