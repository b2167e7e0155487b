/**
 * `npm run bench`: remapd against its peers, side by side, on loopback, in one run (issue 6).
 *
 * Starts an origin with fixed objects and a 1 GiB one (nginx serving files when installed, else node:http;
 * bench/origin.ts), remapd (a separate process, production build) with an s3_auth-signing caching rule and a signing
 * non-caching rule, two ceilings (the raw node:http server for hits, a bare Node proxy in its own process for the
 * signed miss, bench/node-proxy.ts), and when installed nginx (proxy_cache + proxy_cache_lock, bench/run.ts) and
 * Apache Traffic Server (s3_auth.so V4 + RAM cache, bench/ats.ts), each configured equivalently; drives each with
 * the same load (wrk, else autocannon), scenario by scenario; prints a table, the issue's targets as MET/MISS, and
 * writes bench/results/<time>.json and a bar chart .svg beside it. A run with errors or non-2xx responses is marked
 * invalid, not reported as a speed.
 *
 * Options: --duration S (default 5), --runs N (default 3; medians reported), --connections N (50), --threads N (2),
 * --workers N (remapd's --workers, default 1; its cache is then per worker, and the peak RSS is the supervisor's),
 * --only TEXT (only the scenarios whose name contains TEXT, e.g. --only "hit 1 KiB"; the rest are not measured).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus as cpus_, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atsPath, startAts } from './ats.js';
import { barChartSvg } from './chart.js';
import { load, type LoadResult, wrkPath } from './load.js';
import { HUGE_BYTES, HUGE_PATH, OBJECTS, type Origin, startOrigin } from './origin.js';
import { cpuTimeMs, freePort, LOOPBACK, statusMiB, stopChild, waitForPort } from './proc.js';
import { RegionResolver } from '../src/plugins/s3-auth/region.js';
import { SIGN_ALL } from '../src/plugins/s3-auth/select-headers.js';
import { signV4Request } from '../src/plugins/s3-auth/sign-v4-request.js';
import { SecretKeySource } from '../src/plugins/s3-auth/signing-keys.js';
import { HeaderList } from '../src/proxy/header-list.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
/** Options this script reads (each takes a value); anything else is refused rather than ignored. */
const KNOWN_OPTIONS = new Set(['--duration', '--runs', '--connections', '--threads', '--workers', '--only']);
{
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'npm run bench -- [--duration S (5)] [--runs N (3)] [--connections N (50)] [--threads N (2)] [--workers N (1)] [--only TEXT]\n' +
        'Runs every scenario against remapd, nginx and ATS (when installed) and the Node ceilings; see bench/README.md.\n',
    );
    process.exit(0);
  }
  for (let i = 0; i < argv.length; i += 2) {
    if (!KNOWN_OPTIONS.has(argv[i]!) || argv[i + 1] === undefined) {
      process.stderr.write(`bench: unknown option or missing value: ${argv.slice(i, i + 2).join(' ')} (try --help)\n`);
      process.exit(2);
    }
  }
}
const DURATION = arg('duration', 5);
const RUNS = arg('runs', 3);
const CONNECTIONS = arg('connections', 50);
const THREADS = arg('threads', 2);
/** remapd's --workers (issue 6 allows it for the 1 KiB target; the cache and coalescing are then per worker). */
const WORKERS = arg('workers', 1);
/** --only: a part of a scenario's name; the other scenarios are skipped (and their targets reported n/a). */
const ONLY = ((i) => (i > 0 ? (process.argv[i + 1] ?? '') : ''))(process.argv.indexOf('--only'));
function selected(scenario: string): boolean {
  return scenario.includes(ONLY);
}

interface Target {
  name: string;
  port: number;
  /** Host header per rule kind. */
  hitHost: string;
  missHost: string;
  process: ChildProcess | null;
  /** A ceiling is measured only in the scenarios it is the ceiling of; the proxies in every one. */
  onlyIn?: ReadonlySet<string>;
  stop(): Promise<void>;
}

/** The raw ceiling of the hits: node:http answering a prepared buffer, no proxying at all. */
async function startRaw(): Promise<Target> {
  const server = createServer((req, res) => {
    const body = OBJECTS[(req.url ?? '/').split('?')[0]!] ?? Buffer.alloc(0);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  const stop = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  const port = (server.address() as AddressInfo).port;
  return { name: 'node:http (ceiling)', port, hitHost: 'x', missHost: 'x', process: null, onlyIn: new Set(['hit 1 KiB', 'hit 1 MiB']), stop };
}

/**
 * The miss ceiling: a bare Node proxy (bench/node-proxy.ts: node:http in, undici out, nothing in between) in its
 * own process, so it has a core of its own as remapd does — and as many processes as remapd's --workers.
 */
async function startNodeProxy(originPort: number): Promise<Target> {
  const port = await freePort();
  const script = fileURLToPath(new URL('./node-proxy.js', import.meta.url));
  const child = spawn(process.execPath, [script, String(port), String(originPort), String(WORKERS)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  // A proxy that never answers must not outlive the bench.
  await waitForPort(port).catch(async (err: unknown) => {
    await stopChild(child);
    throw err;
  });
  return { name: 'node proxy (ceiling)', port, hitHost: 'x', missHost: 'x', process: child, onlyIn: new Set(['signed miss 1 KiB']), stop: () => stopChild(child) };
}

async function startRemapd(dir: string, originPort: number): Promise<Target> {
  const conf = join(dir, 'remap.config');
  const sign = '@plugin=s3_auth.so @pparam=--version=4 @pparam=--access_key=AKIDBENCH @pparam=--secret_key=bench/secret @pparam=--region=us-east-1';
  writeFileSync(
    conf,
    `map http://hit.bench/ http://${LOOPBACK}:${originPort}/ ${sign}\n` +
      `map http://miss.bench/ http://${LOOPBACK}:${originPort}/ ${sign} @plugin=cache.so @pparam=--off\n`,
  );
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(ROOT, 'dist/src/cli.js'), 'serve', '-c', conf, '--listen', `${LOOPBACK}:${port}`, '--access-log', 'off', '--log-level', 'error', '--no-watch', '--workers', String(WORKERS)],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  await waitForPort(port);
  return { name: 'remapd', port, hitHost: 'hit.bench', missHost: 'miss.bench', process: child, stop: () => stopChild(child) };
}

function nginxPath(): string | null {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(p)) return p;
  return null;
}

async function startNginx(bin: string, dir: string, originPort: number): Promise<Target> {
  const port = await freePort();
  const prefix = join(dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  // Equivalent to remapd's rules: a cached location (proxy_cache + proxy_cache_lock) and an uncached one.
  writeFileSync(
    conf,
    `worker_processes 2;\nuser root;\ndaemon off;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/logs/error.log error;\n` +
      `events { worker_connections 4096; }\n` +
      `http {\n  access_log off;\n  proxy_cache_path ${prefix}/cache levels=1:2 keys_zone=shield:10m max_size=256m inactive=1h use_temp_path=off;\n` +
      `  upstream origin { server ${LOOPBACK}:${originPort}; keepalive 64; }\n` +
      `  server {\n    listen ${LOOPBACK}:${port};\n    server_name hit.bench;\n    location / {\n      proxy_pass http://origin;\n` +
      `      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n      proxy_cache shield;\n      proxy_cache_lock on;\n` +
      `      proxy_cache_valid 200 1h;\n    }\n  }\n` +
      `  server {\n    listen ${LOOPBACK}:${port};\n    server_name miss.bench;\n    location / {\n      proxy_pass http://origin;\n` +
      `      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n    }\n  }\n}\n`,
  );
  const child = spawn(bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs/error.log')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(port);
  return { name: 'nginx', port, hitHost: 'hit.bench', missHost: 'miss.bench', process: child, stop: () => stopChild(child) };
}

/** Peak resident memory of a process (VmHWM), MiB. */
function peakRssMiB(pid: number | undefined): number {
  return statusMiB(pid, 'VmHWM');
}

function median(values: number[]): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

interface Row {
  scenario: string;
  target: string;
  valid: boolean;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  mibPerSec: number;
  errors: number;
  originRequests: number;
  peakRssMiB: number;
  /**
   * CPU time of the target (its process and descendants: workers, ATS's threads) per request, µs, user and
   * system, median of the runs; NaN where not measured (storm, stream; the in-process ceiling under autocannon).
   */
  cpuUserUs: number;
  cpuSystemUs: number;
  tool: string;
}

/** CPU time so far of a target: its process tree, or the bench's own process for the in-process ceiling. */
function targetCpu(t: Target): { user: number; system: number } {
  if (t.process !== null) return cpuTimeMs(t.process.pid);
  // The node:http ceiling runs in this process; wrk is a child, so process.cpuUsage() (this process only) is it.
  const u = process.cpuUsage();
  return { user: u.user / 1000, system: u.system / 1000 };
}

async function measure(scenario: string, t: Target, path: string, host: string, origin: Origin, extra: Record<string, string> = {}): Promise<Row> {
  // Only this scenario's path counts: requests of the previous scenario may still be landing.
  const before = origin.count(path);
  // Warm-up: fills the cache and the connection pools; not measured.
  await load({ url: `http://${LOOPBACK}:${t.port}${path}`, connections: CONNECTIONS, threads: THREADS, durationS: 1, headers: { Host: host, ...extra } });
  const runs: LoadResult[] = [];
  const cpu: { user: number; system: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c0 = targetCpu(t);
    const r = await load({ url: `http://${LOOPBACK}:${t.port}${path}`, connections: CONNECTIONS, threads: THREADS, durationS: DURATION, headers: { Host: host, ...extra } });
    const c1 = targetCpu(t);
    runs.push(r);
    // autocannon generates load inside this process: the in-process ceiling's CPU would include it.
    const own = t.process !== null || r.tool === 'wrk';
    cpu.push(own && r.requests > 0 ? { user: ((c1.user - c0.user) * 1000) / r.requests, system: ((c1.system - c0.system) * 1000) / r.requests } : { user: NaN, system: NaN });
  }
  const after = origin.count(path);
  const errors = runs.reduce((a, r) => a + r.errors, 0);
  return {
    scenario,
    target: t.name,
    valid: errors === 0 && runs.every((r) => r.requests > 0),
    reqPerSec: median(runs.map((r) => r.reqPerSec)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    mibPerSec: median(runs.map((r) => r.mibPerSec)),
    errors,
    originRequests: after - before,
    peakRssMiB: peakRssMiB(t.process?.pid),
    cpuUserUs: median(cpu.map((c) => c.user)),
    cpuSystemUs: median(cpu.map((c) => c.system)),
    tool: runs[0]?.tool ?? '-',
  };
}

/**
 * One plain GET read to the end: stores the whole object in the target's cache before a scenario that needs it
 * there. A ranged request alone does not (remapd forwards a Range it cannot answer and stores no partial
 * response), so `--only ranged` would otherwise measure ranged misses.
 */
function getWhole(t: Target, path: string, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port: t.port, path, headers: { Host: host }, agent: false, timeout: 30_000 }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${t.name}: GET ${path} answered ${res.statusCode}`))));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`${t.name}: GET ${path} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

/** 500 concurrent requests for one uncached 10 MiB object: origin requests and time to the last byte. */
async function storm(t: Target, origin: Origin, n = 500): Promise<Row> {
  const path = `/obj/10m?storm=${t.name}-${Date.now()}`;
  const started = performance.now();
  let failures = 0;
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve) => {
        const req = httpRequest({ host: LOOPBACK, port: t.port, path, headers: { Host: t.hitHost }, agent: false, timeout: 60_000 }, (res) => {
          let size = 0;
          res.on('data', (c: Buffer) => (size += c.length));
          res.on('end', () => {
            if (res.statusCode !== 200 || size !== OBJECTS['/obj/10m']!.length) failures++;
            resolve();
          });
          res.on('error', () => {
            failures++;
            resolve();
          });
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => {
          failures++;
          resolve();
        });
        req.end();
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    scenario: 'cold-key storm 10 MiB ×500',
    target: t.name,
    valid: failures === 0,
    reqPerSec: n / seconds,
    p50Ms: NaN,
    p99Ms: seconds * 1000,
    mibPerSec: (n * 10) / seconds,
    errors: failures,
    originRequests: origin.count(path),
    cpuUserUs: NaN,
    cpuSystemUs: NaN,
    peakRssMiB: peakRssMiB(t.process?.pid),
    tool: 'node',
  };
}

/** Resident memory now (VmRSS), MiB; and resets the process's peak (VmHWM) to it (Linux: clear_refs 5). */
function resetPeakRss(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * One 1 GiB object streamed through by one client (too big for any cache here: it passes through). The row's
 * peak RSS is the GROWTH of the target's peak resident memory during the transfer, which must stay under 64 MiB.
 */
async function stream(t: Target, origin: Origin): Promise<Row> {
  const path = `${HUGE_PATH}?stream=${t.name}-${Date.now()}`;
  const before = resetPeakRss(t.process?.pid);
  const started = performance.now();
  const size = await new Promise<number>((resolve) => {
    const req = httpRequest({ host: LOOPBACK, port: t.port, path, headers: { Host: t.hitHost }, agent: false, timeout: 120_000 }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(res.statusCode === 200 ? n : -1));
      res.on('error', () => resolve(-1));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(-1));
    req.end();
  });
  const seconds = (performance.now() - started) / 1000;
  const ok = size === HUGE_BYTES;
  return {
    scenario: 'stream 1 GiB (RSS growth)',
    target: t.name,
    valid: ok,
    reqPerSec: 1 / seconds,
    p50Ms: NaN,
    p99Ms: seconds * 1000,
    mibPerSec: 1024 / seconds,
    errors: ok ? 0 : 1,
    originRequests: origin.count(path),
    cpuUserUs: NaN,
    cpuSystemUs: NaN,
    peakRssMiB: peakRssMiB(t.process?.pid) - before,
    tool: 'node',
  };
}

/** The V4 signer alone, on this core: signatures per second (derived key cached). */
function signerRate(): number {
  const signer = {
    accessKey: 'AKIDBENCH',
    keys: new SecretKeySource('bench/secret'),
    sessionToken: null,
    regions: new RegionResolver({}),
    service: 's3',
    selection: SIGN_ALL,
    plusIsSpace: true,
  };
  const now = new Date();
  const rates: number[] = [];
  // Round 0 warms the JIT up and is not counted; the median of the next five is reported.
  for (let round = 0; round < 6; round++) {
    const n = 100_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const headers = new HeaderList(['Host', 'bucket.s3.us-east-1.amazonaws.com', 'User-Agent', 'wrk', 'Via', '1.1 remapd', 'X-Forwarded-For', LOOPBACK]);
      signV4Request({ method: 'GET', host: 'bucket.s3.us-east-1.amazonaws.com', path: '/photos/img_0001.jpg', search: '', headers }, signer, now, 'UNSIGNED-PAYLOAD');
    }
    if (round > 0) rates.push(n / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

interface Verdict {
  target: string;
  measured: string;
  /** null when a peer or the measurement is missing. */
  met: boolean | null;
}

/** The issue's targets, checked against this run's medians (ratios against ATS, measured in the same run). */
function checkTargets(rows: Row[], signer: number): Verdict[] {
  const find = (scenario: string, target: string) => rows.find((r) => r.scenario === scenario && r.target === target && r.valid);
  const ratio = (scenario: string, min: number): Verdict => {
    const mine = find(scenario, 'remapd');
    const ats = find(scenario, 'ats');
    if (!mine || !ats) return { target: `${scenario} ≥ ${min}× ATS req/s`, measured: 'not measured', met: null };
    const r = mine.reqPerSec / ats.reqPerSec;
    return { target: `${scenario} ≥ ${min}× ATS req/s`, measured: `${fmt(r, 2)}× (${fmt(mine.reqPerSec)} vs ${fmt(ats.reqPerSec)})`, met: r >= min };
  };
  const p99 = (scenario: string): Verdict => {
    const mine = find(scenario, 'remapd');
    const ats = find(scenario, 'ats');
    if (!mine || !ats) return { target: `${scenario} p99 ≤ 1.5× ATS`, measured: 'not measured', met: null };
    const r = mine.p99Ms / ats.p99Ms;
    return { target: `${scenario} p99 ≤ 1.5× ATS`, measured: `${fmt(r, 2)}× (${fmt(mine.p99Ms, 2)} vs ${fmt(ats.p99Ms, 2)} ms)`, met: r <= 1.5 };
  };
  const storm = find('cold-key storm 10 MiB ×500', 'remapd');
  const stream = find('stream 1 GiB (RSS growth)', 'remapd');
  const ran = (scenario: string, v: Verdict): Verdict => (selected(scenario) ? v : { target: v.target, measured: 'not measured', met: null });
  return [
    ratio('hit 1 MiB', 1.0),
    ratio('hit 1 KiB', 0.65),
    ratio('signed miss 1 KiB', 1.0),
    p99('hit 1 KiB'),
    p99('hit 1 MiB'),
    ran('cold-key storm 10 MiB ×500', {
      target: 'cold-key storm: exactly 1 origin request',
      measured: storm ? `${storm.originRequests} origin request(s)` : 'invalid',
      met: storm ? storm.originRequests === 1 : false,
    }),
    ran('stream 1 GiB (RSS growth)', {
      target: '1 GiB stream: RSS growth < 64 MiB',
      measured: stream ? `${fmt(stream.peakRssMiB, 1)} MiB` : 'invalid',
      met: stream ? stream.peakRssMiB < 64 : false,
    }),
    { target: 'V4 signer ≥ 200,000 signatures/s on one core', measured: `${fmt(signer)}/s`, met: signer >= 200_000 },
  ];
}

/** The machine and the versions of everything measured, for the record. */
function machine(): Record<string, unknown> {
  const version = (cmd: string, args: string[]): string => {
    try {
      const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5_000 });
      return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '-';
    } catch {
      return '-';
    }
  };
  const cpus = cpus_();
  return {
    cpu: cpus[0]?.model ?? '-',
    cores: cpus.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    nginx: nginxPath() ? version(nginxPath()!, ['-v']) : 'not installed',
    trafficserver: atsPath() ? version(atsPath()!, ['--version']) : 'not installed',
    wrk: wrkPath() ? version(wrkPath()!, ['-v']) : 'not installed (autocannon used)',
  };
}

function fmt(n: number, digits = 0): string {
  return Number.isNaN(n) ? '-' : n.toFixed(digits);
}

/**
 * Starts the ceilings, remapd and the installed peers, each pushed to `started` as soon as it runs: a later start
 * that fails must not leave the earlier ones (separate processes) running after the bench exits.
 */
async function startTargets(dir: string, nginx: string | null, originPort: number, started: Target[]): Promise<void> {
  started.push(await startRaw());
  started.push(await startNodeProxy(originPort));
  started.push(await startRemapd(dir, originPort));
  if (nginx) started.push(await startNginx(nginx, dir, originPort));
  else process.stderr.write('nginx not installed (apt-get install nginx): not measured\n');
  const ats = atsPath();
  if (ats) {
    const atsPort = await freePort();
    const a = await startAts(ats, dir, originPort, atsPort);
    started.push({ name: 'ats', port: atsPort, hitHost: 'hit.bench', missHost: 'miss.bench', process: a.child, stop: () => a.stop() });
  } else {
    process.stderr.write('trafficserver not installed (apt-get install trafficserver): not measured\n');
  }
}

/** Scenario by scenario, every target in turn: a noisy minute on a shared machine then hurts all of them alike. */
async function runScenarios(targets: Target[], origin: Origin): Promise<Row[]> {
  const scenarios: [string, (t: Target) => Promise<Row>][] = [
    ['hit 1 KiB', (t) => measure('hit 1 KiB', t, '/obj/1k', t.hitHost, origin)],
    ['hit 1 MiB', (t) => measure('hit 1 MiB', t, '/obj/1m', t.hitHost, origin)],
    ['signed miss 1 KiB', (t) => measure('signed miss 1 KiB', t, '/obj/1k', t.missHost, origin)],
    [
      'ranged hit 1 MiB',
      async (t) => {
        // A new connection each: node:cluster deals them round-robin, so every remapd worker stores the object.
        for (let i = 0; i < 2 * WORKERS; i++) await getWhole(t, '/obj/1m', t.hitHost);
        return measure('ranged hit 1 MiB', t, '/obj/1m', t.hitHost, origin, { Range: 'bytes=1000-1999' });
      },
    ],
    ['cold-key storm 10 MiB ×500', (t) => storm(t, origin)],
    ['stream 1 GiB (RSS growth)', (t) => stream(t, origin)],
  ];
  const rows: Row[] = [];
  for (const [name, scenario] of scenarios) {
    if (!selected(name)) continue;
    for (const t of targets) if (!t.onlyIn || t.onlyIn.has(name)) rows.push(await scenario(t));
  }
  return rows;
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/src/cli.js'))) throw new Error('build first: npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'remapd-bench-'));
  const nginx = nginxPath();
  let origin: Origin | undefined;
  const targets: Target[] = [];
  let rows: Row[];
  let originName: string;
  try {
    origin = await startOrigin(dir, nginx);
    originName = origin.name;
    await startTargets(dir, nginx, origin.port, targets);
    process.stderr.write(`load: ${wrkPath() ? 'wrk' : 'autocannon'}, ${THREADS} threads, ${CONNECTIONS} connections, ${DURATION} s × ${RUNS} runs (medians); origin: ${originName}\n`);
    rows = await runScenarios(targets, origin);
  } finally {
    for (const t of targets) await t.stop();
    await origin?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const signer = signerRate();

  const header = ['scenario', 'target', 'req/s', 'p50 ms', 'p99 ms', 'MiB/s', 'errors', 'origin req', 'peak RSS MiB', 'CPU µs/req usr+sys', 'remapd ÷ this', 'p99 remapd ÷ this'];
  const table = [header];
  for (const r of rows) {
    const mine = rows.find((x) => x.scenario === r.scenario && x.target === 'remapd');
    const comparable = mine && r.target !== 'remapd' && r.valid && mine.valid;
    const ratio = comparable ? `${fmt(mine.reqPerSec / r.reqPerSec, 2)}×` : '';
    const p99Ratio = comparable && !Number.isNaN(r.p50Ms) ? `${fmt(mine.p99Ms / r.p99Ms, 2)}×` : '';
    table.push([
      r.scenario,
      r.target + (r.valid ? '' : ' (INVALID)'),
      r.valid ? fmt(r.reqPerSec) : '-',
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      r.valid ? fmt(r.mibPerSec, 1) : '-',
      String(r.errors),
      String(r.originRequests),
      fmt(r.peakRssMiB, 0),
      Number.isNaN(r.cpuUserUs) ? '-' : `${fmt(r.cpuUserUs, 1)}+${fmt(r.cpuSystemUs, 1)}`,
      ratio,
      p99Ratio,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  process.stdout.write(`\nV4 signer: ${fmt(signer)} signatures/s on one core\n`);
  const verdicts = checkTargets(rows, signer);
  process.stdout.write(`\nIssue 6 targets:\n${verdicts.map((v) => `  ${v.met === null ? 'n/a ' : v.met ? 'MET ' : 'MISS'}  ${v.target}: ${v.measured}`).join('\n')}\n`);

  const results = join(ROOT, 'bench/results');
  mkdirSync(results, { recursive: true });
  const stamp = new Date().toISOString();
  const file = join(results, `${stamp.replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      { date: stamp, machine: machine(), origin: originName, load: { tool: rows[0]?.tool, threads: THREADS, connections: CONNECTIONS, durationS: DURATION, runs: RUNS }, remapdWorkers: WORKERS, ...(ONLY !== '' ? { only: ONLY } : {}), rows, signerPerSec: signer, targets: verdicts },
      null,
      2,
    ),
  );
  const chart = file.replace(/\.json$/, '.svg');
  writeFileSync(chart, barChartSvg(rows, `remapd vs peers, req/s (${stamp.slice(0, 10)}, ${rows[0]?.tool ?? '-'} ${THREADS}×${CONNECTIONS})`));
  process.stdout.write(`results: ${file}\nchart:   ${chart}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
