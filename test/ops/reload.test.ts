import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { renameSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOOPBACK, request, startOrigin, tempDir } from '../support/harness.js';
import { selfSignedCert, startInProcess, until } from './support.js';

/** An origin that answers with the path it saw, after `?delay=MS` when asked. */
async function echoOrigin(t: { after(fn: () => Promise<void>): void }) {
  const origin = await startOrigin((req, res) => {
    const delay = Number(new URL(req.url!, 'http://x').searchParams.get('delay') ?? 0);
    setTimeout(() => res.end(`origin saw ${req.url!.split('?')[0]}`), delay);
  });
  t.after(() => origin.close());
  return origin;
}

/** One GET on a kept-alive connection of `agent`. */
function keptAliveGet(agent: Agent, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}: ${body}`))));
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('20 reloads alternating between two configurations under a client loop: no request fails, both answers seen', async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const configs = [`map / http://${LOOPBACK}:${origin.port}/a/\n`, `map / http://${LOOPBACK}:${origin.port}/b/\n`];
  writeFileSync(join(tmp.dir, 'remap.config'), configs[0]!);
  const r = await startInProcess(t, tmp.dir);
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  t.after(() => agent.destroy());

  let running = true;
  const seen = new Set<string>();
  const failures: string[] = [];
  let requests = 0;
  const loop = async (get: () => Promise<string>) => {
    while (running) {
      try {
        seen.add(await get());
        requests++;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const loops = [
    ...Array.from({ length: 4 }, () =>
      loop(async () => {
        const res = await request(`${r.url}/k`, { timeoutMs: 5_000 });
        if (res.status !== 200) throw new Error(`status ${res.status}: ${res.text}`);
        return res.text;
      }),
    ),
    ...Array.from({ length: 2 }, () => loop(() => keptAliveGet(agent, `${r.url}/k`))),
  ];

  try {
    for (let i = 1; i <= 20; i++) {
      writeFileSync(join(tmp.dir, 'remap.config'), configs[i % 2]!);
      const result = await r.server.reload('test');
      assert.equal(result.ok, true, JSON.stringify(result));
      // In force from the moment reload() resolves.
      assert.equal((await request(`${r.url}/k`)).text, `origin saw /${i % 2 ? 'b' : 'a'}/k`);
      await sleep(15);
    }
  } finally {
    running = false;
    await Promise.all(loops);
  }
  assert.deepEqual(failures, []);
  assert.ok(requests >= 40, `only ${requests} requests ran during the reloads`);
  assert.deepEqual([...seen].sort(), ['origin saw /a/k', 'origin saw /b/k']);
  assert.equal(r.server.reloadState.reloadsOk, 20);
  assert.equal(r.server.reloadState.reloadsFailed, 0);
});

test('a request in flight during a reload finishes on the configuration it started with', async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  writeFileSync(join(tmp.dir, 'remap.config'), `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir);
  const slow = request(`${r.url}/slow?delay=300`);
  await until(() => origin.requests.length === 1, 'the slow request to reach the origin');
  writeFileSync(join(tmp.dir, 'remap.config'), `map / http://${LOOPBACK}:${origin.port}/b/\n`);
  assert.equal((await r.server.reload('test')).ok, true);
  assert.equal((await request(`${r.url}/fast`)).text, 'origin saw /b/fast');
  assert.equal((await slow).text, 'origin saw /a/slow');
});

test('a configuration with an error is logged with file:line, counted, and the old one keeps serving', async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  writeFileSync(join(tmp.dir, 'remap.config'), '.include rules.config\n');
  writeFileSync(join(tmp.dir, 'rules.config'), `# rules\nmap / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir);
  const version = r.server.reloadState.configVersion;

  writeFileSync(join(tmp.dir, 'rules.config'), `# rules\nmap / http://${LOOPBACK}:${origin.port}/b/ @plugin=no_such_plugin.so\n`);
  const result = await r.server.reload('test');
  assert.equal(result.ok, false);
  assert.match('message' in result ? result.message : '', /rules\.config:2: error: no_such_plugin\.so: unknown plugin/);
  assert.ok(
    r.logs.some((l) => /ERROR .*rules\.config:2: error: no_such_plugin\.so/.test(l)),
    r.logs.join(''),
  );
  assert.ok(r.logs.some((l) => /ERROR reload failed; the previous configuration stays in force trigger=test/.test(l)));
  assert.equal((await request(`${r.url}/k`)).text, 'origin saw /a/k');
  const state = r.server.reloadState;
  assert.equal(state.reloadsFailed, 1);
  assert.equal(state.reloadsOk, 0);
  assert.equal(state.lastReload?.ok, false);
  assert.equal(state.configVersion, version);

  // Fixed: the next reload succeeds and the version moves on.
  writeFileSync(join(tmp.dir, 'rules.config'), `# rules\nmap / http://${LOOPBACK}:${origin.port}/b/\n`);
  assert.equal((await r.server.reload('test')).ok, true);
  assert.equal((await request(`${r.url}/k`)).text, 'origin saw /b/k');
  assert.notEqual(r.server.reloadState.configVersion, version);
  assert.equal(r.server.reloadState.reloadsOk, 1);
});

test('a bad TLS certificate fails the reload as a whole: neither the new configuration nor the certificate is used', async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const { cert, key } = selfSignedCert(tmp.dir);
  writeFileSync(join(tmp.dir, 'remap.config'), `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir, { settings: { tlsCertFile: cert, tlsKeyFile: key } });
  writeFileSync(join(tmp.dir, 'remap.config'), `map / http://${LOOPBACK}:${origin.port}/b/\n`);
  writeFileSync(key, 'not a key\n');
  const result = await r.server.reload('test');
  assert.equal(result.ok, false);
  assert.match('message' in result ? result.message : '', /TLS key .*server\.key cannot be used with certificate/);
  assert.equal((await request(`${r.url}/k`)).text, 'origin saw /a/k');
  assert.equal(r.server.reloadState.reloadsFailed, 1);
});

test('reloads run one at a time: requests made during a reload make one more run', async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  writeFileSync(join(tmp.dir, 'remap.config'), `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir);
  const results = await Promise.all(Array.from({ length: 5 }, () => r.server.reload('test')));
  assert.ok(results.every((x) => x.ok));
  assert.equal(r.server.reloadState.reloadsOk, 2);
});

test('editing an included file reloads, whether it is replaced by rename or written in place', async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const rules = join(tmp.dir, 'rules.config');
  writeFileSync(join(tmp.dir, 'remap.config'), '.include rules.config\n');
  writeFileSync(rules, `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir, { watch: true });
  const answer = async () => (await request(`${r.url}/k`)).text;

  // How editors and config management save: write a new file, rename it over the old one.
  writeFileSync(`${rules}.tmp`, `map / http://${LOOPBACK}:${origin.port}/b/\n`);
  renameSync(`${rules}.tmp`, rules);
  await until(async () => (await answer()) === 'origin saw /b/k', 'the renamed-over file to be loaded');
  assert.equal(r.server.reloadState.lastReload?.trigger, 'file-change');

  // Written in place, after the watch was re-armed by the reload.
  writeFileSync(rules, `map / http://${LOOPBACK}:${origin.port}/c/\n`);
  await until(async () => (await answer()) === 'origin saw /c/k', 'the file written in place to be loaded');
  assert.equal(r.server.reloadState.reloadsOk, 2);
});

test('a touched file with unchanged content does not reload; a newly included file is watched after the reload that added it', async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = join(tmp.dir, 'remap.config');
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir, { watch: true });

  const later = new Date(Date.now() + 5_000);
  utimesSync(top, later, later);
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  await sleep(800);
  assert.equal(r.server.reloadState.reloadsOk, 0);

  writeFileSync(join(tmp.dir, 'more.config'), `map /more/ http://${LOOPBACK}:${origin.port}/m1/\n`);
  writeFileSync(top, `.include more.config\nmap / http://${LOOPBACK}:${origin.port}/a/\n`);
  await until(async () => (await request(`${r.url}/more/k`)).text === 'origin saw /m1/k', 'the new include to be loaded');
  writeFileSync(join(tmp.dir, 'more.config'), `map /more/ http://${LOOPBACK}:${origin.port}/m2/\n`);
  await until(async () => (await request(`${r.url}/more/k`)).text === 'origin saw /m2/k', 'the new include to be watched');
});

test('a file change that breaks the configuration is logged with file:line and changes nothing; fixing it reloads', async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = join(tmp.dir, 'remap.config');
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir, { watch: true });
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/b/\nmap_nonsense / /\n`);
  await until(() => r.server.reloadState.reloadsFailed === 1, 'the failed reload');
  assert.ok(r.logs.some((l) => /remap\.config:2: error/.test(l)), r.logs.join(''));
  assert.equal((await request(`${r.url}/k`)).text, 'origin saw /a/k');
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/b/\n`);
  await until(async () => (await request(`${r.url}/k`)).text === 'origin saw /b/k', 'the fixed file to be loaded');
});

/** What a configuration file can turn into on disk between two good versions, and the reload error that names it. */
const BROKEN_FILES: { what: string; breakIt(file: string): void; error: RegExp }[] = [
  { what: 'deleted', breakIt: (f) => unlinkSync(f), error: /cannot read .*remap\.config: no such file/ },
  // A full disk or an interrupted `>` redirection leaves an empty file: it parses, to no rules at all.
  { what: 'emptied', breakIt: (f) => writeFileSync(f, ''), error: /remap\.config: no rules/ },
  { what: 'truncated mid-rule', breakIt: (f) => writeFileSync(f, 'map / '), error: /remap\.config:1: error: map needs a from-URL and a to-URL/ },
  { what: 'overwritten with binary garbage', breakIt: (f) => writeFileSync(f, Buffer.from([0x00, 0x9f, 0x92, 0x96, 0x20, 0xff, 0xfe, 0x0a, 0x7f, 0x01])), error: /remap\.config:1: error/ },
];

test('the configuration file deleted, emptied, truncated or overwritten with garbage: each reload fails naming the file, the old configuration serves on, a request in flight finishes', { timeout: 30_000 }, async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = join(tmp.dir, 'remap.config');
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir);
  const version = r.server.reloadState.configVersion;
  for (const [i, broken] of BROKEN_FILES.entries()) {
    const seen = origin.requests.length;
    const slow = request(`${r.url}/slow${i}?delay=300`);
    await until(() => origin.requests.length > seen, 'the slow request to reach the origin');
    broken.breakIt(top);
    const result = await r.server.reload('test');
    assert.equal(result.ok, false, broken.what);
    assert.match('message' in result ? result.message : '', broken.error, broken.what);
    assert.equal((await request(`${r.url}/k`)).text, 'origin saw /a/k', `${broken.what}: the old configuration serves`);
    assert.equal((await slow).text, `origin saw /a/slow${i}`, `${broken.what}: the request in flight finished`);
    assert.equal(r.server.reloadState.configVersion, version);
  }
  assert.equal(r.server.reloadState.reloadsFailed, BROKEN_FILES.length);
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/b/\n`);
  assert.equal((await r.server.reload('test')).ok, true);
  assert.equal((await request(`${r.url}/k`)).text, 'origin saw /b/k');
});

test('watched: the configuration file deleted or emptied changes nothing; written back, it reloads', { timeout: 30_000 }, async (t) => {
  const origin = await echoOrigin(t);
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = join(tmp.dir, 'remap.config');
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/a/\n`);
  const r = await startInProcess(t, tmp.dir, { watch: true });
  unlinkSync(top);
  await until(() => r.server.reloadState.reloadsFailed === 1, 'the failed reload after the deletion');
  assert.equal((await request(`${r.url}/k`)).text, 'origin saw /a/k');
  writeFileSync(top, '');
  await until(() => r.server.reloadState.reloadsFailed === 2, 'the failed reload of the empty file');
  assert.equal((await request(`${r.url}/k`)).text, 'origin saw /a/k');
  assert.equal(r.server.reloadState.reloadsOk, 0);
  writeFileSync(top, `map / http://${LOOPBACK}:${origin.port}/b/\n`);
  await until(async () => (await request(`${r.url}/k`)).text === 'origin saw /b/k', 'the file written back to be loaded');
});
