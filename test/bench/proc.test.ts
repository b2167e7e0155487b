/**
 * The bench's measuring helpers that the README's figures rest on: CPU time per process tree (the CPU column) and
 * the origin's request counter (the "origin req" column, nginx's access log read incrementally).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LogCounter } from '../../bench/origin.js';
import { cpuTimeMs } from '../../bench/proc.js';

/**
 * A process that burns `ms` of CPU time (in itself, or in a child it spawns), then waits to be killed. CPU time,
 * not wall time: on a loaded machine a wall-clock spin gets descheduled and burns less (seen in CI: 160 of 300 ms).
 * Bounded by 8 s of wall time whatever happens.
 */
function burner(ms: number, inChild: boolean) {
  const spin =
    `const deadline = Date.now() + 8000; const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };` +
    `const start = cpu(); while (cpu() - start < ${ms} && Date.now() < deadline); process.stdout.write('done\\n'); setInterval(() => {}, 1000);`;
  const code = inChild
    ? `const c = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(spin)}], { stdio: 'inherit' }); process.on('SIGTERM', () => { c.kill(); process.exit(0); }); setInterval(() => {}, 1000);`
    : spin;
  return spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
}

function doneSpinning(child: ReturnType<typeof burner>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the burner did not finish within 10 s')), 10_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('bench: cpuTimeMs', () => {
  test("counts a process's CPU time", { timeout: 15_000 }, async () => {
    const child = burner(300, false);
    try {
      await doneSpinning(child);
      const t = cpuTimeMs(child.pid);
      assert.ok(t.user + t.system >= 280, `expected ≥ 280 ms of CPU, got ${JSON.stringify(t)}`);
    } finally {
      child.kill();
    }
  });

  test('counts the CPU time of descendants too (remapd workers, ATS threads are in it)', { timeout: 15_000 }, async () => {
    const parent = burner(300, true);
    try {
      await doneSpinning(parent);
      const t = cpuTimeMs(parent.pid);
      assert.ok(t.user + t.system >= 280, `the grandchild's spin is missing: ${JSON.stringify(t)}`);
    } finally {
      parent.kill('SIGTERM');
    }
  });

  test('is NaN for a process that does not exist', () => {
    const t = cpuTimeMs(2 ** 22 + 12345);
    assert.ok(Number.isNaN(t.user) && Number.isNaN(t.system));
    assert.ok(Number.isNaN(cpuTimeMs(undefined).user));
  });
});

describe('bench: LogCounter (origin requests from the access log)', () => {
  test('counts lines by content, reads only what was appended, and waits for a line to be whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'remapd-logcounter-'));
    try {
      const log = join(dir, 'access.log');
      writeFileSync(log, '/obj/1k\n/obj/1k\n/obj/10m?storm=a\n');
      const c = new LogCounter(log);
      assert.equal(c.count('/obj/1k'), 2);
      assert.equal(c.count('/obj/10m?storm=a'), 1);
      assert.equal(c.count('/obj/10m'), 0, 'a URL with a query is not its path');
      appendFileSync(log, '/obj/1k\n/obj/1');
      assert.equal(c.count('/obj/1k'), 3, 'the half-written line is not counted yet');
      appendFileSync(log, 'm\n');
      assert.equal(c.count('/obj/1m'), 1);
      assert.equal(c.count('/obj/1k'), 3);
      c.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
