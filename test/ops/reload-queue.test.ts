import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReloadQueue, type ReloadRequest } from '../../src/reload.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('runs one reload at a time; requests made during it share one more run, forced if any of them was', async () => {
  const runs: ReloadRequest[] = [];
  const gates = [gate(), gate(), gate()];
  let active = 0;
  const queue = new ReloadQueue(async (r: ReloadRequest) => {
    active++;
    assert.equal(active, 1, 'two reloads ran at once');
    runs.push(r);
    await gates[runs.length - 1]!.opened;
    active--;
    return runs.length;
  });
  const first = queue.run({ trigger: 'file-change', force: false });
  const second = queue.run({ trigger: 'file-change', force: false });
  const third = queue.run({ trigger: 'SIGHUP', force: true });
  const fourth = queue.run({ trigger: 'file-change', force: false });
  gates[0]!.open();
  assert.equal(await first, 1);
  gates[1]!.open();
  assert.deepEqual(await Promise.all([second, third, fourth]), [2, 2, 2]);
  assert.deepEqual(runs, [
    { trigger: 'file-change', force: false },
    { trigger: 'SIGHUP', force: true },
  ]);
  await queue.idle();
  gates[2]!.open();
  assert.equal(await queue.run({ trigger: 'test', force: true }), 3);
});

test('a reload that rejects does not stop the next one', async () => {
  let n = 0;
  const queue = new ReloadQueue(async () => {
    if (++n === 1) throw new Error('first fails');
    return n;
  });
  const first = queue.run({ trigger: 'test', force: true });
  const second = queue.run({ trigger: 'test', force: true });
  await assert.rejects(first, /first fails/);
  assert.equal(await second, 2);
});
