import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { test } from 'node:test';
import { addWorker, collectFromCluster, collectFromWorkers, isRemapdMessage, registerHandler, removeWorker } from '../../src/cluster/ipc.js';

test('a single process answers collectFromCluster itself, as worker 0', async () => {
  const remove = registerHandler('answer', async () => ({ n: 42 }));
  try {
    assert.deepEqual(await collectFromCluster('answer'), [{ worker: 0, pid: process.pid, ok: true, value: { n: 42 } }]);
  } finally {
    remove();
  }
  const [missing] = await collectFromCluster('answer');
  assert.equal(missing!.ok, false);
  assert.match((missing as { error: string }).error, /nothing answers "answer" in this process/);
});

test('collectFromWorkers asks every ready worker and reports each answer, failure and silence', async (t) => {
  cluster.setupPrimary({ exec: new URL('./fixtures/collect-worker.js', import.meta.url).pathname, silent: true });
  const workers: Worker[] = [];
  t.after(() => {
    for (const w of workers) w.process.kill('SIGKILL');
  });
  await Promise.all(
    [1, 2].map(
      (slot) =>
        new Promise<void>((resolve, reject) => {
          const w = cluster.fork({ REMAPD_WORKER: String(slot) });
          workers.push(w);
          const timer = setTimeout(() => reject(new Error(`worker ${slot} not ready`)), 10_000);
          w.on('message', (m: unknown) => {
            if (isRemapdMessage<{ remapd: string }>(m) && m.remapd === 'ready') {
              clearTimeout(timer);
              addWorker(slot, w);
              resolve();
            }
          });
        }),
    ),
  );
  const pids = workers.map((w) => w.process.pid);

  assert.deepEqual(await collectFromWorkers('pid'), [
    { worker: 1, pid: pids[0], ok: true, value: pids[0] },
    { worker: 2, pid: pids[1], ok: true, value: pids[1] },
  ]);
  const failed = await collectFromWorkers('boom');
  assert.deepEqual(failed.map((r) => (r.ok ? 'ok' : r.error)), ['boom in the handler', 'boom in the handler']);
  const started = Date.now();
  const silent = await collectFromWorkers('silent', { timeoutMs: 200 });
  assert.ok(Date.now() - started < 2_000);
  assert.deepEqual(silent.map((r) => (r.ok ? 'ok' : r.error)), ['no answer within 200 ms', 'no answer within 200 ms']);

  // A worker may ask the whole cluster through the supervisor.
  const everyone = await collectFromWorkers('everyone');
  for (const r of everyone) {
    assert.equal(r.ok, true);
    assert.deepEqual((r as { value: { pid: number }[] }).value.map((v) => v.pid), pids);
  }

  // A worker that exits while asked is reported, not waited for.
  const exited = collectFromWorkers('silent', { timeoutMs: 5_000 });
  workers[1]!.process.kill('SIGKILL');
  const results = await exited;
  assert.equal(results[1]!.ok, false);
  assert.match((results[1] as { error: string }).error, /exited before answering|not connected|cannot reach/);
  removeWorker(2, workers[1]!);
  assert.equal((await collectFromWorkers('pid')).length, 1);
});
