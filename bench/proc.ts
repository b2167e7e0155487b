/**
 * What the bench and the soak need of the processes they start and watch, on loopback: a free port, waiting for a
 * listener, stopping a child (bounded), and reading a process's memory and sockets from /proc (Linux).
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export const LOOPBACK = '127.0.0.1';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, LOOPBACK, r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves once an HTTP server answers on the port (any status); rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = httpRequest({ host: LOOPBACK, port, path: '/', method: 'HEAD', timeout: 500 }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${LOOPBACK}:${port} after ${timeoutMs} ms`);
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the child has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A field of /proc/PID/status in MiB (VmRSS: resident now; VmHWM: the peak), NaN when unreadable. */
export function statusMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) return NaN;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Open sockets of a process (its /proc/PID/fd entries that are sockets: listeners, clients, origins, IPC). */
export function socketCount(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  let n = 0;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return NaN;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed between the listing and the read
    }
  }
  return n;
}

/** The soft open-files limit of a process, from /proc/PID/limits. */
export function openFilesLimit(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export interface TcpSocket {
  localPort: number;
  remotePort: number;
  /** The kernel's TCP state: 'LISTEN', 'ESTABLISHED', 'TIME_WAIT'… */
  state: string;
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

/**
 * The TCP sockets a process holds open, with their ports: its socket fds (/proc/PID/fd) matched by inode against
 * /proc/PID/net/tcp and tcp6. Tells client connections (local port = the listener's) from origin ones (remote port
 * = the origin's).
 */
export function tcpSockets(pid: number | undefined): TcpSocket[] {
  if (pid === undefined) return [];
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const out: TcpSocket[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      out.push({
        localPort: parseInt(f[1]!.split(':')[1]!, 16),
        remotePort: parseInt(f[2]!.split(':')[1]!, 16),
        state: TCP_STATES[f[3]!] ?? f[3]!,
      });
    }
  }
  return out;
}

/** The system's count of connections dropped because a listen queue was full (TcpExt ListenOverflows). */
export function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      if (!lines[i]!.startsWith('TcpExt:')) continue;
      const names = lines[i]!.split(/\s+/);
      const values = lines[i + 1]!.split(/\s+/);
      const k = names.indexOf('ListenOverflows');
      return k > 0 ? Number(values[k]) : NaN;
    }
  } catch {
    // not Linux
  }
  return NaN;
}

/**
 * Both ends of the TCP connections to `port` on this machine (/proc/net/tcp and tcp6: the system's, not one
 * process's), by state: the server's side (local port = `port`; for the listener, its accept queue length) and the
 * clients' side (remote port = `port`). Tells a connection the client thinks is open from one the server took.
 */
export function connectionsTo(port: number): { server: Record<string, number>; clients: Record<string, number>; acceptQueue: number } {
  const server: Record<string, number> = {};
  const clients: Record<string, number> = {};
  let acceptQueue = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = parseInt(f[1]!.split(':')[1]!, 16);
      const remote = parseInt(f[2]!.split(':')[1]!, 16);
      const state = TCP_STATES[f[3]!] ?? f[3]!;
      if (local === port) {
        if (state === 'LISTEN') acceptQueue += parseInt(f[4]!.split(':')[1]!, 16);
        else server[state] = (server[state] ?? 0) + 1;
      } else if (remote === port) {
        clients[state] = (clients[state] ?? 0) + 1;
      }
    }
  }
  return { server, clients, acceptQueue };
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux this runs on). */
const CLOCK_TICKS = 100;

/** A process and its descendants (node:cluster workers, ATS's), from /proc/PID/task/TID/children. */
function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length && i < 256; i++) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        for (const c of readFileSync(`/proc/${all[i]}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim() !== '') all.push(Number(c));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return all;
}

/**
 * CPU time (user and system, ms) used so far by a process and every live descendant, from /proc/PID/stat
 * (fields 14 and 15, in clock ticks). Differences over a load run, divided by its requests, give the CPU cost of
 * one request. NaN when the process is gone.
 */
export function cpuTimeMs(pid: number | undefined): { user: number; system: number } {
  if (pid === undefined) return { user: NaN, system: NaN };
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(f[11]);
      system += Number(f[12]);
    } catch {
      if (p === pid) return { user: NaN, system: NaN };
    }
  }
  return { user: (user * 1000) / CLOCK_TICKS, system: (system * 1000) / CLOCK_TICKS };
}
