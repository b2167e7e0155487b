/**
 * A supervisor's admin view (admin/workers.ts): the workers' answers, some of them missing, combined into one
 * snapshot, one status and one readiness.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readiness } from '../../src/admin/health.js';
import { buildStatus } from '../../src/admin/status.js';
import { mergeWorkerMetrics, mergeWorkerReadiness } from '../../src/admin/workers.js';
import { Metrics } from '../../src/observability/metrics.js';

function worker(requests: number): Metrics {
  const m = new Metrics();
  for (let i = 0; i < requests; i++) {
    m.observeRequest({ rule: 'remap.config:1', method: 'GET', status: 200, cache: 'hit-fresh', durationMs: 1, bytesIn: 0, bytesOut: 1 });
  }
  return m;
}

test('the numbers are the sum of the workers that answered; the status lists every worker', () => {
  const { snapshot, workers } = mergeWorkerMetrics([
    { worker: 1, pid: 101, ok: true, value: JSON.parse(JSON.stringify(worker(3).snapshot())) },
    { worker: 2, pid: 102, ok: true, value: worker(4).snapshot() },
    { worker: 3, pid: 103, ok: false, error: 'no answer within 5000 ms' },
  ]);
  const status = buildStatus(snapshot, { workers });
  assert.equal(status.totals.requests, 7);
  assert.equal(status.processes, 2);
  assert.deepEqual(status.workers, [
    { worker: 1, pid: 101, ok: true },
    { worker: 2, pid: 102, ok: true },
    { worker: 3, pid: 103, ok: false, error: 'no answer within 5000 ms' },
  ]);
});

test('ready only when every worker answered ready; the failing checks name their worker', () => {
  const ok = readiness([{ name: 'config', ok: true, detail: '2 rule(s)' }]);
  assert.equal(mergeWorkerReadiness([{ worker: 1, pid: 1, ok: true, value: ok }, { worker: 2, pid: 2, ok: true, value: ok }]).ready, true);
  const r = mergeWorkerReadiness([
    { worker: 1, pid: 1, ok: true, value: ok },
    { worker: 2, pid: 2, ok: true, value: readiness([{ name: 'credentials', ok: false, detail: 'remap.config:3: expired' }]) },
    { worker: 3, pid: 3, ok: false, error: 'timed out' },
  ]);
  assert.equal(r.ready, false);
  assert.deepEqual(r.checks.filter((c) => !c.ok), [
    { name: 'worker 2 credentials', ok: false, detail: 'remap.config:3: expired' },
    { name: 'worker 3', ok: false, detail: 'did not answer: timed out' },
  ]);
  assert.deepEqual(mergeWorkerReadiness([]), { ready: false, checks: [{ name: 'workers', ok: false, detail: 'no worker is serving' }] });
});
