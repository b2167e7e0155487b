/**
 * RGW tier: the cluster itself (test/rgw/cluster.ts) — a missing tool fails loudly instead of skipping, and a
 * cluster leaves no daemon and no folder behind, whether it is closed or its test process is killed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { RGW_PACKAGES, startRgwCluster } from './cluster.js';
import { HOOK_TIMEOUT } from './support.js';

/** Pids of processes whose command line mentions `text` (the cluster's folder is in every daemon's). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

/** Polls until no process mentions `text`, at most `ms`. */
async function waitGone(text: string, ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  for (;;) {
    const left = processesMentioning(text);
    if (left.length === 0 || Date.now() > until) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a missing tool fails the tier, naming the binary and the packages to install', HOOK_TIMEOUT, async () => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(startRgwCluster(), (err: Error) => {
      assert.match(err.message, /not installed: ceph-mon \(Debian package ceph-mon\), .*radosgw \(Debian package radosgw\)/);
      assert.ok(err.message.includes(`apt-get install -y ${RGW_PACKAGES}`), err.message);
      return true;
    });
  } finally {
    process.env.PATH = path;
  }
});

test('close() stops every daemon and removes the folder', HOOK_TIMEOUT, async () => {
  const cluster = await startRgwCluster();
  assert.equal(processesMentioning(cluster.dir).length, 3, 'ceph-mon, ceph-osd and radosgw run');
  await cluster.close();
  assert.deepEqual(await waitGone(cluster.dir, 5_000), []);
  assert.equal(existsSync(cluster.dir), false);
  await cluster.close();
});

test('a test process killed without close() takes its daemons with it; the next start removes its folder', HOOK_TIMEOUT, async () => {
  const script = `import { startRgwCluster } from ${JSON.stringify(new URL('./cluster.js', import.meta.url).href)};
const c = await startRgwCluster();
process.stdout.write(c.dir + '\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the child did not start a cluster in time')), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.trim());
      }
    });
    child.once('exit', (code) => reject(new Error(`the child exited with ${code} before starting a cluster`)));
  });
  assert.equal(processesMentioning(dir).filter((p) => p !== child.pid).length, 3);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  assert.deepEqual(await waitGone(dir, 5_000), [], 'no daemon outlives its test process');
  assert.ok(existsSync(dir), 'a killed process cannot remove its folder');
  const next = await startRgwCluster();
  await next.close();
  assert.equal(existsSync(dir), false, 'the next start removed the orphaned folder');
});
