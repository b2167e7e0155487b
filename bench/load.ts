/**
 * The load generator: wrk when installed (much lighter than a Node generator on a 2-core box), else autocannon.
 * Same connections, threads and duration for every target.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface LoadOptions {
  url: string;
  connections: number;
  threads: number;
  durationS: number;
  headers?: Record<string, string>;
}

export interface LoadResult {
  tool: 'wrk' | 'autocannon';
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  mibPerSec: number;
  /** Socket errors, timeouts and non-2xx responses: any makes the run invalid. */
  errors: number;
}

export function wrkPath(): string | null {
  for (const p of ['/usr/bin/wrk', '/usr/local/bin/wrk']) if (existsSync(p)) return p;
  return null;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

function toMiB(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'GB' ? n * 1024 : unit === 'MB' ? n : unit === 'KB' ? n / 1024 : n / 1024 / 1024;
}

/** Parses `wrk --latency` output. */
export function parseWrk(out: string): Omit<LoadResult, 'tool'> {
  const num = (re: RegExp) => re.exec(out);
  const rps = num(/Requests\/sec:\s+([\d.]+)/);
  const total = num(/(\d+) requests in/);
  const p50 = num(/50%\s+([\d.]+)(us|ms|s|m)/);
  const p99 = num(/99%\s+([\d.]+)(us|ms|s|m)/);
  const transfer = num(/Transfer\/sec:\s+([\d.]+)(GB|MB|KB|B)/);
  const socket = num(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/);
  const errors = (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return {
    requests: total ? Number(total[1]) : 0,
    reqPerSec: rps ? Number(rps[1]) : 0,
    p50Ms: p50 ? toMs(p50[1]!, p50[2]!) : NaN,
    p99Ms: p99 ? toMs(p99[1]!, p99[2]!) : NaN,
    mibPerSec: transfer ? toMiB(transfer[1]!, transfer[2]!) : 0,
    errors: rps ? errors : 1,
  };
}

function runWrk(wrk: string, o: LoadOptions): Promise<LoadResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--latency', '--timeout', '10s'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (o.durationS + 30) * 1000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ tool: 'wrk', ...parseWrk(out) });
    });
  });
}

async function runAutocannon(o: LoadOptions): Promise<LoadResult> {
  const { default: autocannon } = (await import('autocannon')) as unknown as {
    default: (opts: Record<string, unknown>) => Promise<{
      requests: { total: number; average: number };
      latency: { p50: number; p99: number };
      throughput: { average: number };
      errors: number;
      timeouts: number;
      non2xx: number;
    }>;
  };
  const r = await autocannon({ url: o.url, connections: o.connections, workers: 0, duration: o.durationS, headers: o.headers ?? {} });
  return {
    tool: 'autocannon',
    requests: r.requests.total,
    reqPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    mibPerSec: r.throughput.average / 1024 / 1024,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

export function load(o: LoadOptions): Promise<LoadResult> {
  const wrk = wrkPath();
  return wrk ? runWrk(wrk, o) : runAutocannon(o);
}
