/**
 * The admin endpoints of a supervisor: every worker's answers (collected over IPC, one per worker, each a value
 * or the reason it is missing) combined into one snapshot and one readiness.
 *
 * A worker that did not answer is left out of the numbers for that scrape (its counters come back on the next
 * one) and makes the whole process not ready: connections to the shared listener may land on it.
 */
import { type MetricsSnapshot, mergeSnapshots } from '../observability/metrics.js';
import type { HealthCheck, Readiness } from './health.js';
import type { WorkerStatus } from './status.js';

/** One worker's answer to a collect request (the shape cluster/ipc.ts's WorkerValue has). */
export interface WorkerAnswer {
  worker: number;
  pid: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

function workersOf(answers: readonly WorkerAnswer[]): WorkerStatus[] {
  return answers.map((a) => (a.ok ? { worker: a.worker, pid: a.pid, ok: true } : { worker: a.worker, pid: a.pid, ok: false, error: a.error ?? 'no answer' }));
}

/** The sum of the workers' snapshots (answers that are MetricsSnapshots), and which workers answered. */
export function mergeWorkerMetrics(answers: readonly WorkerAnswer[]): { snapshot: MetricsSnapshot; workers: WorkerStatus[] } {
  const snapshots = answers.filter((a) => a.ok).map((a) => a.value as MetricsSnapshot);
  return { snapshot: mergeSnapshots(snapshots), workers: workersOf(answers) };
}

/** Ready when at least one worker answered and every worker answered ready; checks are named by worker. */
export function mergeWorkerReadiness(answers: readonly WorkerAnswer[]): Readiness {
  const checks: HealthCheck[] = [];
  if (answers.length === 0) checks.push({ name: 'workers', ok: false, detail: 'no worker is serving' });
  for (const a of answers) {
    if (!a.ok) {
      checks.push({ name: `worker ${a.worker}`, ok: false, detail: `did not answer: ${a.error ?? 'no answer'}` });
      continue;
    }
    for (const c of (a.value as Readiness).checks) checks.push({ ...c, name: `worker ${a.worker} ${c.name}` });
  }
  return { ready: checks.every((c) => c.ok), checks };
}
