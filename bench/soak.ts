/**
 * `npm run soak`: remapd under a long mixed load on loopback, to find what only time and many connections show —
 * errors under pressure, memory that grows past the cache's bound, sockets that do not come back. Not a speed
 * contest (that is `npm run bench`); the run fails (exit 1) when any check fails.
 *
 * Starts a Node origin (KEYS objects of OBJECT_KIB, cacheable for an hour), remapd as a separate process (the
 * production build, NODE_ENV=production, its open-files limit raised through `sh -c 'ulimit -n …; exec …'`) with a
 * caching rule (hit.soak) and a `cache.so --off` rule (miss.soak), fills the cache with every key once, then drives
 * CONNECTIONS concurrent keep-alive connections for DURATION seconds: each request picks a random key, HIT_SHARE of
 * them on the caching rule, the rest on the non-caching one (wrk with a Lua script when installed, else autocannon).
 * wrk opens every connection at once and starts sending on each as soon as it is open; the first WARMUP_S seconds
 * of its run hold every connection's first request back, so that the load starts on CONNECTIONS open connections
 * (wrk has no ramp). Without it the soak measured a connection storm against a saturated server instead: Node 20's
 * libuv accepts one connection per event-loop turn, and with the first ~500 connections' requests a turn took
 * 30-50 ms, so the rest waited up to 20 s in the accept queue (see bench/README.md). --timeout stays 10 s.
 *
 * Checks: no socket error, timeout or non-2xx response; remapd's resident memory (VmRSS, /proc/PID/status) grows by
 * at most the configured --cache-size plus RSS_MARGIN_MIB from start to the end of the load; its open sockets
 * (/proc/PID/fd) are back to their number before the load within SETTLE_S seconds after it stops. Prints the
 * figures and writes bench/results/soak-<time>.json.
 *
 * Options: --duration S (60), --connections N (1000), --threads N (2, wrk's), --keys N (1000), --object-kib N (16),
 * --hit-share F (0.9), --cache-size SIZE (64M), --rss-margin-mib N (192), --settle S (15), --warmup S (3).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseSize } from '../src/units.js';
import { wrkPath } from './load.js';
import { connectionsTo, freePort, listenOverflows, LOOPBACK, openFilesLimit, socketCount, statusMiB, stopChild, tcpSockets, waitForPort } from './proc.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const DURATION_S = Number(arg('duration', '60'));
const CONNECTIONS = Number(arg('connections', '1000'));
const THREADS = Number(arg('threads', '2'));
const KEYS = Number(arg('keys', '1000'));
const OBJECT_KIB = Number(arg('object-kib', '16'));
const HIT_SHARE = Number(arg('hit-share', '0.9'));
const CACHE_SIZE = arg('cache-size', '64M');
/**
 * Memory beyond the cache's bound that a process serving this many connections may use: per-connection parser
 * and socket buffers, V8's heap headroom after a minute of allocation, undici's origin connections.
 */
const RSS_MARGIN_MIB = Number(arg('rss-margin-mib', '192'));
const SETTLE_S = Number(arg('settle', '15'));
/**
 * Seconds at the start of wrk's run during which connections are opened and no request is sent: long enough for
 * a SYN dropped by a full accept queue to be sent again (Linux retries after 1 s, then 2 s more).
 */
const WARMUP_S = Number(arg('warmup', '3'));
/** Open files asked for remapd and wrk: 1,000 client connections, as many origin ones, and headroom. */
const NOFILE = 65_536;

const POSITIVE = { duration: DURATION_S, connections: CONNECTIONS, threads: THREADS, keys: KEYS, 'object-kib': OBJECT_KIB, 'rss-margin-mib': RSS_MARGIN_MIB, settle: SETTLE_S, warmup: WARMUP_S };
for (const [name, v] of Object.entries(POSITIVE)) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
}
if (!(HIT_SHARE >= 0 && HIT_SHARE <= 1)) throw new Error('--hit-share must be between 0 and 1');
const CACHE_BYTES = parseSize(CACHE_SIZE) ?? NaN;
if (!(CACHE_BYTES > 0)) throw new Error(`--cache-size: "${CACHE_SIZE}" is not a size (64M, 1G…)`);

/** The origin: KEYS fixed objects at /obj/<n>, cacheable for an hour; it counts the requests it gets. */
async function startOrigin(): Promise<{ server: Server; port: number; requests: () => number }> {
  const objects = Array.from({ length: KEYS }, (_, i) => Buffer.alloc(OBJECT_KIB * 1024, String.fromCharCode(97 + (i % 26))));
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const m = /^\/obj\/(\d+)$/.exec(req.url ?? '');
    const body = m ? objects[Number(m[1])] : undefined;
    if (!body) {
      res.writeHead(404, { 'Content-Length': '0' }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), 'Cache-Control': 'max-age=3600', ETag: `"${m![1]}"` });
    res.end(body);
  });
  // Node's default keep-alive (5 s, sent as a hint undici follows): idle origin connections close soon after the load.
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  return { server, port: (server.address() as AddressInfo).port, requests: () => requests };
}

/** `sh -c 'ulimit -n …; exec "$0" "$@"'`: the child runs with the raised limit (or the hard one, if lower), same PID. */
function spawnWithNofile(cmd: string, args: string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  const script = `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  return spawn('sh', ['-c', script, cmd, ...args], options);
}

async function startRemapd(dir: string, originPort: number): Promise<{ child: ChildProcess; port: number; adminPort: number }> {
  const conf = join(dir, 'remap.config');
  writeFileSync(
    conf,
    `map http://hit.soak/ http://${LOOPBACK}:${originPort}/\n` + `map http://miss.soak/ http://${LOOPBACK}:${originPort}/ @plugin=cache.so @pparam=--off\n`,
  );
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawnWithNofile(
    process.execPath,
    [
      join(ROOT, 'dist/src/cli.js'), 'serve', '-c', conf, '--listen', `${LOOPBACK}:${port}`, '--admin-listen', `${LOOPBACK}:${adminPort}`,
      '--access-log', 'off', '--log-level', 'warn', '--no-watch', '--cache-size', CACHE_SIZE,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  child.stderr!.on('data', (d: Buffer) => stderrLines.push(...d.toString().split('\n').filter(Boolean)));
  await waitForPort(port);
  return { child, port, adminPort };
}

/** remapd's error log lines (warnings and errors only, --log-level warn). */
const stderrLines: string[] = [];

/** GET on a new connection; resolves with the status and body length (or -1 on an error), bounded. */
function get(port: number, path: string, host: string): Promise<{ status: number; bytes: number; text: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: LOOPBACK, port, path, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, bytes: body.length, text: body.toString() });
      });
      res.on('error', () => resolve({ status: -1, bytes: 0, text: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: -1, bytes: 0, text: '' }));
    req.end();
  });
}

/** Every key once through the caching rule (50 at a time), so the load's hits are hits. */
async function fillCache(port: number): Promise<void> {
  let next = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < KEYS) {
        const key = next++;
        const r = await get(port, `/obj/${key}`, 'hit.soak');
        if (r.status !== 200 || r.bytes !== OBJECT_KIB * 1024) failures.push(`/obj/${key}: ${r.status}`);
      }
    }),
  );
  if (failures.length > 0) throw new Error(`filling the cache failed: ${failures.slice(0, 5).join(', ')}`);
}

interface LoadFigures {
  tool: 'wrk' | 'autocannon';
  requests: number;
  /** The load's duration, without the warm-up. */
  durationS: number;
  /** Seconds at the start during which the connections were opened and no request sent (0: none). */
  warmupS: number;
  /** Socket errors (connect, read, write) and timeouts. */
  socketErrors: number;
  timeouts: number;
  non2xx: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/**
 * wrk's script: every request built once per thread in init() (keys × two hosts), one picked at random per request;
 * done() prints the figures as one JSON line. delay() holds each connection's first request back WARMUP_S: a
 * thread's first `perThread` calls are its connections' first requests (a connection's next call follows its first
 * response). wrk starts a request's latency clock after its delay, so the warm-up is in no latency.
 */
function wrkScript(): string {
  return `
local keys, hitShare = ${KEYS}, ${HIT_SHARE}
local perThread, warmupMs = ${Math.floor(CONNECTIONS / THREADS)}, ${Math.round(WARMUP_S * 1000)}
local delayed = 0
local hits, misses = {}, {}
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
end
init = function(args)
  math.randomseed(os.time() * 1000 + (id or 0) * 7919)
  for k = 0, keys - 1 do
    hits[k + 1] = wrk.format("GET", "/obj/" .. k, { Host = "hit.soak" })
    misses[k + 1] = wrk.format("GET", "/obj/" .. k, { Host = "miss.soak" })
  end
end
delay = function()
  if delayed < perThread then
    delayed = delayed + 1
    return warmupMs
  end
  return 0
end
request = function()
  local k = math.random(keys)
  if math.random() < hitShare then return hits[k] end
  return misses[k]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('SOAK-JSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`;
}

async function runWrk(wrk: string, dir: string, port: number): Promise<LoadFigures> {
  const script = join(dir, 'soak.lua');
  writeFileSync(script, wrkScript());
  const args = ['-t', String(THREADS), '-c', String(CONNECTIONS), '-d', `${DURATION_S + WARMUP_S}s`, '--timeout', '10s', '-s', script, `http://${LOOPBACK}:${port}/`];
  const child = spawnWithNofile(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), (DURATION_S + 60) * 1000);
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve());
  });
  clearTimeout(timer);
  const line = /SOAK-JSON (\{.*\})/.exec(out);
  if (!line) throw new Error(`wrk printed no figures:\n${out}`);
  const r = JSON.parse(line[1]!) as Record<string, number>;
  return {
    tool: 'wrk',
    requests: r.requests!,
    durationS: r.durationUs! / 1e6 - WARMUP_S,
    warmupS: WARMUP_S,
    socketErrors: r.connect! + r.read! + r.write!,
    timeouts: r.timeout!,
    non2xx: r.status!,
    p50Ms: r.p50Us! / 1000,
    p90Ms: r.p90Us! / 1000,
    p99Ms: r.p99Us! / 1000,
    p999Ms: r.p999Us! / 1000,
    maxMs: r.maxUs! / 1000,
  };
}

async function runAutocannon(port: number): Promise<LoadFigures> {
  const { default: autocannon } = (await import('autocannon')) as unknown as {
    default: (opts: Record<string, unknown>) => Promise<{
      requests: { total: number };
      duration: number;
      latency: { p50: number; p90: number; p99: number; p99_9: number; max: number };
      errors: number;
      timeouts: number;
      non2xx: number;
    }>;
  };
  const r = await autocannon({
    url: `http://${LOOPBACK}:${port}`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    workers: 0,
    timeout: 10,
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => {
          const k = Math.floor(Math.random() * KEYS);
          return { ...req, method: 'GET', path: `/obj/${k}`, headers: { host: Math.random() < HIT_SHARE ? 'hit.soak' : 'miss.soak' } };
        },
      },
    ],
  });
  return {
    tool: 'autocannon',
    requests: r.requests.total,
    durationS: r.duration,
    warmupS: 0,
    socketErrors: r.errors - r.timeouts,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    p50Ms: r.latency.p50,
    p90Ms: r.latency.p90,
    p99Ms: r.latency.p99,
    p999Ms: r.latency.p99_9,
    maxMs: r.latency.max,
  };
}

/**
 * A quantile of remapd's own request durations (remapd_request_duration_seconds, every rule's buckets added up),
 * interpolated linearly inside its bucket, in ms. Measured inside remapd: from the request's arrival to its
 * response's end, so time a connection spent waiting to be accepted is not in it.
 */
function histogramQuantileMs(metrics: string, q: number, name = 'remapd_request_duration_seconds'): number {
  const buckets = new Map<number, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const m = /[{,]le="([^"]+)".*\} (\S+)$/.exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
  }
  const sorted = [...buckets.entries()].sort((x, y) => x[0] - y[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= q * total) {
      if (le === Infinity) return prevLe * 1000;
      const share = count === prevCount ? 0 : (q * total - prevCount) / (count - prevCount);
      return (prevLe + (le - prevLe) * share) * 1000;
    }
    prevLe = le;
    prevCount = count;
  }
  return NaN;
}

/** A few of remapd's own counters, from its admin /metrics (summed over label sets), and its latency quantiles. */
async function remapdCounters(adminPort: number): Promise<Record<string, number>> {
  const r = await get(adminPort, '/metrics', LOOPBACK);
  const sum = (name: string, labels = ''): number => {
    let total = 0;
    for (const line of r.text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (labels && !line.includes(labels)) continue;
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  };
  return {
    requests: sum('remapd_requests_total'),
    responses5xx: sum('remapd_requests_total', 'code="5'),
    cacheHits: sum('remapd_cache_lookups_total', 'result="hit"'),
    cacheMisses: sum('remapd_cache_lookups_total', 'result="miss"'),
    originRequests: sum('remapd_origin_requests_total'),
    originErrors: sum('remapd_origin_errors_total'),
    originBodyFailures: sum('remapd_origin_body_failures_total'),
    cacheBytes: sum('remapd_cache_size_bytes'),
    cacheObjects: sum('remapd_cache_objects'),
    cacheEvictions: sum('remapd_cache_evictions_total'),
    serverP50Ms: histogramQuantileMs(r.text, 0.5),
    serverP99Ms: histogramQuantileMs(r.text, 0.99),
    serverOver1s: sum('remapd_request_duration_seconds_count') - sum('remapd_request_duration_seconds_bucket', 'le="1"'),
    serverOver10s: sum('remapd_request_duration_seconds_count') - sum('remapd_request_duration_seconds_bucket', 'le="10"'),
    originP99Ms: histogramQuantileMs(r.text, 0.99, 'remapd_origin_request_duration_seconds'),
    originOver1s: sum('remapd_origin_request_duration_seconds_count') - sum('remapd_origin_request_duration_seconds_bucket', 'le="1"'),
  };
}

/** remapd's TCP sockets by kind: connections from clients, connections to the origin, and the rest (listeners, admin). */
function socketKinds(pid: number, port: number, originPort: number): { clients: number; origin: number; other: number } {
  let clients = 0;
  let origin = 0;
  let other = 0;
  for (const s of tcpSockets(pid)) {
    if (s.state !== 'LISTEN' && s.localPort === port) clients++;
    else if (s.remotePort === originPort) origin++;
    else other++;
  }
  return { clients, origin, other };
}

/**
 * Polls remapd's open sockets every 250 ms until they are back to `baseline`: client connections close when the
 * load generator's do, idle origin connections when undici's keep-alive (the origin's hint: Node's 5 s) runs out.
 */
async function socketsBackWithin(pid: number, baseline: number, limitS: number): Promise<{ afterMs: number | null; last: number }> {
  const started = Date.now();
  let last = socketCount(pid);
  for (let i = 0; i <= limitS * 4; i++) {
    last = socketCount(pid);
    if (last <= baseline) return { afterMs: Date.now() - started, last };
    await new Promise((r) => setTimeout(r, 250));
  }
  return { afterMs: null, last };
}

function machine(wrk: string | null): Record<string, unknown> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? '-',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    wrk: wrk ? `${spawnSync(wrk, ['-v'], { encoding: 'utf8', timeout: 5_000 }).stdout?.split('\n')[0] ?? '-'}` : 'not installed (autocannon used)',
  };
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/src/cli.js'))) throw new Error('build first: npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'remapd-soak-'));
  const origin = await startOrigin();
  let remapd: Awaited<ReturnType<typeof startRemapd>> | null = null;
  try {
    remapd = await startRemapd(dir, origin.port);
    const pid = remapd.child.pid!;
    const wrk = wrkPath();
    process.stderr.write(
      `soak: ${wrk ? 'wrk' : 'autocannon'}, ${CONNECTIONS} connections, ${DURATION_S} s, ${KEYS} keys × ${OBJECT_KIB} KiB, ` +
        `${Math.round(HIT_SHARE * 100)}% on the caching rule; remapd pid ${pid}, open files ${openFilesLimit(pid)}, cache ${CACHE_SIZE}\n`,
    );
    await new Promise((r) => setTimeout(r, 500));
    const rssStart = statusMiB(pid, 'VmRSS');
    const socketsBefore = socketCount(pid);
    await fillCache(remapd.port);
    const rssFilled = statusMiB(pid, 'VmRSS');
    const originBefore = origin.requests();
    const overflowsBefore = listenOverflows();

    // Resident memory and sockets every second while the load runs.
    const samples: { t: number; rssMiB: number; sockets: number; tcp: ReturnType<typeof connectionsTo> }[] = [];
    const started = Date.now();
    const sampler = setInterval(
      () =>
        samples.push({
          t: Math.round((Date.now() - started) / 100) / 10,
          rssMiB: statusMiB(pid, 'VmRSS'),
          sockets: socketCount(pid),
          // Connections the load generator holds against those remapd has: a gap is a client left waiting.
          tcp: connectionsTo(remapd!.port),
        }),
      1_000,
    );
    const figures = wrk ? await runWrk(wrk, dir, remapd.port) : await runAutocannon(remapd.port);
    clearInterval(sampler);
    const rssEnd = statusMiB(pid, 'VmRSS');
    const rssPeak = statusMiB(pid, 'VmHWM');
    const socketsAtEnd = socketCount(pid);
    const kindsAtEnd = socketKinds(pid, remapd.port, origin.port);
    const overflows = listenOverflows() - overflowsBefore;
    const back = await socketsBackWithin(pid, socketsBefore, SETTLE_S);
    const rssSettled = statusMiB(pid, 'VmRSS');
    const kindsSettled = socketKinds(pid, remapd.port, origin.port);
    // A leak grows on: the second half of the run against the first (the cache was full before either).
    const half = samples.filter((x) => x.t >= DURATION_S / 2)[0]?.rssMiB ?? NaN;
    // Node 20's libuv accepts one connection per event-loop turn (libuv PR 3696): a loop busy with 1,000
    // connections' requests takes seconds to accept the rest of a burst, and their first requests wait meanwhile.
    const acceptQueuePeak = Math.max(0, ...samples.map((x) => x.tcp.acceptQueue));
    const peakAt = samples.findIndex((x) => x.tcp.acceptQueue === acceptQueuePeak);
    const drained = samples.slice(Math.max(0, peakAt)).find((x) => x.tcp.acceptQueue === 0);
    const acceptQueueEmptyAtS = acceptQueuePeak === 0 ? 0 : (drained?.t ?? null);
    // The last sample of the warm-up: were the connections all open and accepted when the first request went out?
    const atLoadStart = samples.filter((x) => x.t <= figures.warmupS).at(-1);
    const warmup = {
      s: figures.warmupS,
      acceptedAtLoadStart: atLoadStart?.tcp.server.ESTABLISHED ?? null,
      acceptQueueAtLoadStart: atLoadStart?.tcp.acceptQueue ?? null,
    };
    const counters = await remapdCounters(remapd.adminPort);
    const alive = remapd.child.exitCode === null && remapd.child.signalCode === null;

    const growth = rssEnd - rssStart;
    const bound = CACHE_BYTES / 2 ** 20 + RSS_MARGIN_MIB;
    const errors = figures.socketErrors + figures.timeouts + figures.non2xx;
    const checks = [
      { check: 'requests were made', ok: figures.requests > 0, measured: `${figures.requests}` },
      { check: 'no socket error, timeout or non-2xx response', ok: errors === 0, measured: `${figures.socketErrors} socket errors, ${figures.timeouts} timeouts, ${figures.non2xx} non-2xx` },
      ...(figures.warmupS > 0
        ? [{
            check: `all ${CONNECTIONS} connections accepted by the end of the ${figures.warmupS} s warm-up`,
            ok: warmup.acceptedAtLoadStart !== null && warmup.acceptedAtLoadStart >= CONNECTIONS && warmup.acceptQueueAtLoadStart === 0,
            measured: `${warmup.acceptedAtLoadStart ?? '-'} accepted, ${warmup.acceptQueueAtLoadStart ?? '-'} waiting`,
          }]
        : []),
      { check: 'remapd still running', ok: alive, measured: alive ? 'yes' : `exited ${remapd.child.exitCode ?? remapd.child.signalCode}` },
      { check: `RSS growth ≤ cache size ${CACHE_SIZE} + ${RSS_MARGIN_MIB} MiB`, ok: growth <= bound, measured: `${fmt(growth)} MiB (${fmt(rssStart)} → ${fmt(rssEnd)} MiB, peak ${fmt(rssPeak)})` },
      {
        check: `open sockets back to ${socketsBefore} within ${SETTLE_S} s`,
        ok: back.afterMs !== null,
        measured: back.afterMs !== null ? `${socketsAtEnd} at the end, ${back.last} after ${fmt(back.afterMs / 1000)} s` : `still ${back.last}`,
      },
    ];

    const result = {
      date: new Date().toISOString(),
      machine: machine(wrk),
      options: { durationS: DURATION_S, connections: CONNECTIONS, threads: THREADS, keys: KEYS, objectKiB: OBJECT_KIB, hitShare: HIT_SHARE, cacheSize: CACHE_SIZE, rssMarginMiB: RSS_MARGIN_MIB, settleS: SETTLE_S },
      remapd: { openFilesLimit: openFilesLimit(pid), nodeEnv: 'production', workers: 1 },
      load: {
        ...figures,
        reqPerSec: figures.requests / figures.durationS,
        // Every connection has one request outstanding at a time: the mean latency the throughput implies.
        littleMeanMs: (CONNECTIONS / (figures.requests / figures.durationS)) * 1000,
      },
      originRequestsDuringLoad: origin.requests() - originBefore,
      remapdCounters: counters,
      rssMiB: { start: rssStart, afterCacheFill: rssFilled, end: rssEnd, peak: rssPeak, settled: rssSettled, growth, bound },
      rssSecondHalfGrowthMiB: rssEnd - half,
      sockets: {
        before: socketsBefore,
        peakDuringLoad: Math.max(...samples.map((x) => x.sockets)),
        atEnd: socketsAtEnd,
        atEndByKind: kindsAtEnd,
        settled: back.last,
        settledByKind: kindsSettled,
        backAfterMs: back.afterMs,
      },
      warmup,
      listenOverflowsDuringLoad: overflows,
      acceptQueue: { peak: acceptQueuePeak, emptyAtS: acceptQueueEmptyAtS },
      samples,
      remapdLog: stderrLines.slice(0, 50),
      checks,
      ok: checks.every((c) => c.ok),
    };

    process.stdout.write(
      (figures.warmupS > 0
        ? `\nwarm-up: ${figures.warmupS} s with every connection's first request held back; at its end remapd had accepted ` +
          `${warmup.acceptedAtLoadStart ?? '-'} connections, ${warmup.acceptQueueAtLoadStart ?? '-'} waiting (wrk --timeout 10s throughout)`
        : '') +
      `\nrequests ${figures.requests} in ${fmt(figures.durationS)} s (${fmt(result.load.reqPerSec, 0)} req/s), ` +
        `p50 ${fmt(figures.p50Ms, 2)} ms, p90 ${fmt(figures.p90Ms, 2)}, p99 ${fmt(figures.p99Ms, 2)}, p99.9 ${fmt(figures.p999Ms, 0)}, max ${fmt(figures.maxMs, 0)} ms\n` +
        `  (${figures.tool === 'wrk' ? "wrk's percentiles, corrected for coordinated omission: a slow response adds samples for the requests it held back" : 'autocannon'}; ` +
        `mean by Little's law ${fmt(result.load.littleMeanMs, 1)} ms)\n` +
        `inside remapd (arrival to end of response, its histogram): p50 ${fmt(counters.serverP50Ms!, 2)} ms, p99 ${fmt(counters.serverP99Ms!, 2)} ms\n` +
        `listen queue overflows during the load (system-wide): ${overflows}; connections waiting to be accepted: ` +
        `${acceptQueuePeak} at the most, none from ${acceptQueueEmptyAtS === null ? 'never' : `${acceptQueueEmptyAtS} s`}\n` +
        `cache: ${counters.cacheHits} hits, ${counters.cacheMisses} misses; origin requests during the load ${result.originRequestsDuringLoad}\n` +
        `RSS ${fmt(rssStart)} MiB at start, ${fmt(rssFilled)} after the fill, ${fmt(half)} half-way, ${fmt(rssEnd)} at the end (peak ${fmt(rssPeak)}), ${fmt(rssSettled)} settled\n` +
        `sockets ${socketsBefore} before, peak ${result.sockets.peakDuringLoad}, ${socketsAtEnd} at the end ` +
        `(clients ${kindsAtEnd.clients}, origin ${kindsAtEnd.origin}, other ${kindsAtEnd.other}), ${back.last} settled\n` +
        `remapd log lines (warn+): ${stderrLines.length}\n\n` +
        checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'}  ${c.check}: ${c.measured}`).join('\n') +
        '\n',
    );
    const results = join(ROOT, 'bench/results');
    mkdirSync(results, { recursive: true });
    const file = join(results, `soak-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`results: ${file}\n`);
    if (!result.ok) process.exitCode = 1;
  } finally {
    if (remapd) await stopChild(remapd.child);
    origin.server.closeAllConnections();
    origin.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${(err as Error).message}\n`);
  process.exit(1);
});
