/**
 * The messages between the supervisor and its workers (node:cluster IPC, JSON-serialised), and the one
 * request/reply mechanism built on them: the primary asks every ready worker for something by name ("kind"),
 * each worker answers with a JSON value or an error, and a worker that does not answer in time is reported as
 * such instead of holding the caller.
 *
 * Kinds are handlers a worker registered (`registerHandler`): the supervisor relays reloads and log reopening
 * this way ('reload', 'reopen-logs'), and other modules add their own (e.g. a metrics snapshot) to read every
 * worker's numbers with `collectFromWorkers(kind)` in the primary, or `collectFromCluster(kind)` anywhere.
 */
import cluster, { type Worker } from 'node:cluster';

/** Primary → worker. */
export type ToWorker =
  | { remapd: 'request'; id: number; kind: string; arg?: string }
  /** Stop accepting, finish requests in flight within drainMs, exit 0. */
  | { remapd: 'drain'; drainMs: number }
  /** The answer to a worker's collect-all. */
  | { remapd: 'reply'; id: number; ok: boolean; value?: unknown; error?: string };

/** Worker → primary. */
export type FromWorker =
  | { remapd: 'ready'; slot: number }
  | { remapd: 'reply'; id: number; ok: boolean; value?: unknown; error?: string }
  /** A worker asks the primary to collect `kind` from every worker (itself included) and send back the list. */
  | { remapd: 'collect-all'; id: number; kind: string; arg?: string; timeoutMs: number };

export function isRemapdMessage<T extends { remapd: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { remapd?: unknown }).remapd === 'string';
}

/** One worker's answer. `worker` is its slot (1..N, kept by a replacement); 0 in a single process. */
export type WorkerValue =
  | { worker: number; pid: number; ok: true; value: unknown }
  | { worker: number; pid: number; ok: false; error: string };

export const DEFAULT_COLLECT_TIMEOUT_MS = 5_000;

// ---- worker side (also a single process, which answers for itself) ----

/** `arg` is the caller's argument, when the kind takes one (e.g. the cache key of a 'purge'). */
export type Handler = (arg?: string) => unknown;
const handlers = new Map<string, Handler>();

/**
 * Makes this process answer `kind` requests with `handler()`'s value (awaited; must be JSON-serialisable).
 * Returns a function that removes the handler.
 */
export function registerHandler(kind: string, handler: Handler): () => void {
  handlers.set(kind, handler);
  return () => {
    if (handlers.get(kind) === handler) handlers.delete(kind);
  };
}

async function answer(kind: string, arg?: string): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const handler = handlers.get(kind);
  if (!handler) return { ok: false, error: `nothing answers "${kind}" in this process` };
  try {
    return { ok: true, value: await handler(arg) };
  } catch (err) {
    return { ok: false, error: (err as Error)?.message ?? String(err) };
  }
}

let workerListening = false;
let drainHandler: ((drainMs: number) => void) | null = null;
const workerPending = new Map<number, (reply: { ok: boolean; value?: unknown; error?: string }) => void>();
let nextWorkerRequest = 1;

/**
 * In a cluster worker: answers the primary's requests, calls `onDrain` when told to shut down, and tells the
 * primary that this worker (slot) serves.
 */
export function startWorkerIpc(slot: number, onDrain: (drainMs: number) => void): void {
  drainHandler = onDrain;
  if (!workerListening) {
    workerListening = true;
    process.on('message', (m: unknown) => {
      if (!isRemapdMessage<ToWorker>(m)) return;
      if (m.remapd === 'request') {
        void answer(m.kind, m.arg).then((r) => send({ remapd: 'reply', id: m.id, ...r }));
      } else if (m.remapd === 'drain') {
        drainHandler?.(m.drainMs);
      } else if (m.remapd === 'reply') {
        const resolve = workerPending.get(m.id);
        workerPending.delete(m.id);
        resolve?.(m);
      }
    });
  }
  send({ remapd: 'ready', slot });
}

function send(m: FromWorker): void {
  // The channel is gone when the primary died; the worker exits on 'disconnect' anyway (node:cluster).
  if (process.connected) process.send!(m, undefined, undefined, () => {});
}

/**
 * Every worker's answer to `kind`, from anywhere: in the primary, `collectFromWorkers`; in a worker, via the
 * primary (this worker answers too); in a single process, this process's own answer as worker 0.
 */
export async function collectFromCluster(kind: string, options: { timeoutMs?: number; arg?: string } = {}): Promise<WorkerValue[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COLLECT_TIMEOUT_MS;
  const arg = options.arg;
  if (cluster.isPrimary && supervising) return collectFromWorkers(kind, { timeoutMs, arg });
  if (cluster.isWorker && process.connected) {
    const id = nextWorkerRequest++;
    const reply = await new Promise<{ ok: boolean; value?: unknown; error?: string }>((resolve) => {
      // The primary bounds each worker by timeoutMs; this bounds the primary.
      const timer = setTimeout(() => {
        workerPending.delete(id);
        resolve({ ok: false, error: `the supervisor did not answer within ${timeoutMs + 1000} ms` });
      }, timeoutMs + 1000);
      workerPending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      send({ remapd: 'collect-all', id, kind, timeoutMs, ...(arg !== undefined ? { arg } : {}) });
    });
    if (!reply.ok) throw new Error(reply.error);
    return reply.value as WorkerValue[];
  }
  const r = await answer(kind, arg);
  return [r.ok ? { worker: 0, pid: process.pid, ok: true, value: r.value } : { worker: 0, pid: process.pid, ok: false, error: r.error }];
}

// ---- primary side ----

/** Ready workers by slot; kept by the supervisor. */
const primaryWorkers = new Map<number, Worker>();
/** This process is a supervisor (it had a worker): it answers for its workers, never for itself. */
let supervising = false;
const primaryPending = new Map<number, (reply: { ok: boolean; value?: unknown; error?: string }) => void>();
let nextPrimaryRequest = 1;

/** The supervisor: `worker` serves in `slot` (its messages are routed here from now on). */
export function addWorker(slot: number, worker: Worker): void {
  supervising = true;
  primaryWorkers.set(slot, worker);
  worker.on('message', (m: unknown) => {
    if (!isRemapdMessage<FromWorker>(m)) return;
    if (m.remapd === 'reply') {
      const resolve = primaryPending.get(m.id);
      primaryPending.delete(m.id);
      resolve?.(m);
    } else if (m.remapd === 'collect-all') {
      void collectFromWorkers(m.kind, { timeoutMs: m.timeoutMs, arg: m.arg }).then((value) => {
        if (worker.isConnected()) worker.send({ remapd: 'reply', id: m.id, ok: true, value } satisfies ToWorker, undefined, () => {});
      });
    }
  });
}

/** The supervisor: the worker in `slot` is gone or stopping; it is asked nothing more. */
export function removeWorker(slot: number, worker: Worker): void {
  if (primaryWorkers.get(slot) === worker) primaryWorkers.delete(slot);
}

/**
 * In the primary: asks every ready worker for `kind` and resolves, in slot order, to one answer per worker —
 * never rejects; a worker that exits or stays silent for `timeoutMs` is an `ok: false` entry.
 */
export function collectFromWorkers(kind: string, options: { timeoutMs?: number; arg?: string } = {}): Promise<WorkerValue[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COLLECT_TIMEOUT_MS;
  const targets = [...primaryWorkers].sort(([a], [b]) => a - b);
  return Promise.all(targets.map(([slot, worker]) => ask(slot, worker, kind, timeoutMs, options.arg)));
}

function ask(slot: number, worker: Worker, kind: string, timeoutMs: number, arg?: string): Promise<WorkerValue> {
  const pid = worker.process.pid ?? 0;
  const id = nextPrimaryRequest++;
  return new Promise<WorkerValue>((resolve) => {
    const done = (r: { ok: boolean; value?: unknown; error?: string }) => {
      clearTimeout(timer);
      primaryPending.delete(id);
      worker.off('exit', onExit);
      resolve(r.ok ? { worker: slot, pid, ok: true, value: r.value } : { worker: slot, pid, ok: false, error: r.error ?? 'failed' });
    };
    const onExit = () => done({ ok: false, error: 'the worker exited before answering' });
    const timer = setTimeout(() => done({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    primaryPending.set(id, done);
    worker.once('exit', onExit);
    if (!worker.isConnected()) {
      done({ ok: false, error: 'the worker is not connected' });
      return;
    }
    worker.send({ remapd: 'request', id, kind, ...(arg !== undefined ? { arg } : {}) } satisfies ToWorker, undefined, (err: Error | null) => {
      if (err) done({ ok: false, error: `cannot reach the worker: ${err.message}` });
    });
  });
}

/** The supervisor: tells a worker to drain and exit. False when it cannot be reached. */
export function sendDrain(worker: Worker, drainMs: number): boolean {
  if (!worker.isConnected()) return false;
  worker.send({ remapd: 'drain', drainMs } satisfies ToWorker, undefined, () => {});
  return true;
}
