/**
 * The worker side of `--workers N`: which slot this process fills, log lines that say so, and the answers a
 * server gives the supervisor (reload, reopen the access log, its reload state).
 */
import cluster from 'node:cluster';
import type { Logger } from '../observability/logger.js';
import type { RemapdServer } from '../server.js';
import { registerHandler } from './ipc.js';
import { WORKER_SLOT_ENV } from './supervisor.js';

/** This worker's slot (1..N), or null in a single process. */
export function workerSlot(): number | null {
  if (!cluster.isWorker) return null;
  const n = Number(process.env[WORKER_SLOT_ENV]);
  return Number.isInteger(n) && n > 0 ? n : cluster.worker!.id;
}

/** A logger that adds `fields` to every line (e.g. `worker=2`), so interleaved workers' lines can be told apart. */
export function withFields(logger: Logger, fields: Record<string, unknown>): Logger {
  return {
    error: (m, f) => logger.error(m, { ...f, ...fields }),
    warn: (m, f) => logger.warn(m, { ...f, ...fields }),
    info: (m, f) => logger.info(m, { ...f, ...fields }),
    debug: (m, f) => logger.debug(m, { ...f, ...fields }),
  };
}

/**
 * What this process answers when the supervisor (or `collectFromCluster`) asks: 'reload' runs a reload and
 * answers its outcome, 'reopen-logs' reopens the access log, 'reload-state' is the server's ReloadState, 'purge'
 * removes a cache key from this process's cache and answers how many stored responses went.
 */
export function registerServerHandlers(server: RemapdServer): () => void {
  const removers = [
    registerHandler('reload', () => server.reload('supervisor')),
    registerHandler('reopen-logs', () => server.reopenLogs()),
    registerHandler('reload-state', () => server.reloadState),
    // PURGE through any worker removes the key from every worker's cache (each has its own).
    registerHandler('purge', (key) => (typeof key === 'string' ? server.purgeLocal(key) : 0)),
  ];
  return () => {
    for (const remove of removers) remove();
  };
}
