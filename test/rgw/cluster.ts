/**
 * A throwaway one-node Ceph cluster running the RADOS Gateway (RGW), Ceph's S3 server, on 127.0.0.1 — the real-S3
 * judge of the RGW tier (`npm run test:rgw`). RGW verifies SigV4 and SigV2, header and presigned, clock skew,
 * presign expiry, `x-amz-content-sha256` and `Content-MD5` as S3 does, so it judges what s3rver cannot.
 *
 * One monitor, one OSD on `memstore` (objects in RAM, nothing on disk but logs and the monitor's small store), no
 * mgr, radosgw with the beast frontend; everything under one temporary folder removed on close. Daemons talk to
 * each other without cephx (`auth … required = none`): that is RADOS's own authentication, not S3's, which RGW
 * keeps fully on. Debian bookworm's Ceph (16.2 Pacific) starts this in about 1.5 s and ~150 MB of RSS.
 *
 * Settings that matter (each tried without; the reason is what happened):
 * - `osd pool default size = 1` and `min size = 1`: one OSD holds one copy; with the defaults (3, min 2) no PG goes
 *   active, radosgw's first writes time out (`rados osd op timeout`) and it exits. PGs peer and go active without a
 *   mgr; only the statistics `ceph -s` shows need one, and nothing here reads them. (`mon allow pool size one` is
 *   not needed: it guards `ceph osd pool set … size 1`, not pools created with size 1 by default.)
 * - `paxos propose interval = 0.05` (default 1 s): each pool RGW creates (four at its start, two more with the first
 *   bucket and the first object) waits for monitor proposals; the start takes 11.5 s and the first bucket and the
 *   first PUT 2.7 s and 2 s each with the default, 1.2 s and 0.2 s with this.
 * - radosgw's `ms mon client mode = crc secure`: its default `secure crc` picks the secure mode first, which needs
 *   a cephx session key; with auth `none` its monitor connection fails with EACCES (-13) and radosgw retries until
 *   `rgw init timeout` (300 s). The other daemons and the CLI tools connect with the default.
 * - beast's `tcp_nodelay=1`: without it every GET on a kept-alive connection waits about 45 ms (Nagle: RGW writes
 *   the head and the body separately, and the second waits for the client's delayed ACK).
 * - `endpoint=127.0.0.1:0`: beast binds a port the kernel chooses (no race); radosgw does not log which, so it is
 *   read from /proc (the listening socket among the process's file descriptors).
 * - `osd pool default pg num = 8` (default 32): not needed today — RGW's seven pools of 32 PGs stay under
 *   `mon max pg per osd` (250) — but it leaves room, and fewer PGs to peer.
 * - The monitor's address must be in the monmap before it starts, so its port is found by binding 127.0.0.1:0 and
 *   releasing it: another process could take it in between. The monitor then fails to bind and start() fails with
 *   its log, naming the port; the suite fails, it does not retry behind your back.
 * - `client mount timeout`, `rados mon/osd op timeout`, `rgw init timeout`: every wait on the cluster is bounded
 *   (defaults are 300 s or forever).
 *
 * Missing tools are an error naming them and the Debian packages, never a skip: a tier that silently does not run
 * proves nothing. Each daemon runs under `setpriv --pdeathsig KILL` in a process group of its own, so it dies with
 * the test process even when that is killed; close() kills the groups and removes the folder. A folder left by a
 * test process that was killed (and so could not remove it) is removed by the next start.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const RGW_PACKAGES = 'ceph-mon ceph-osd radosgw ceph-common';

/** Binaries the cluster needs, and the Debian package each comes from. */
const TOOLS: Record<string, string> = {
  'ceph-mon': 'ceph-mon',
  'ceph-osd': 'ceph-osd',
  radosgw: 'radosgw',
  'radosgw-admin': 'radosgw',
  monmaptool: 'ceph-base',
  ceph: 'ceph-common',
  setpriv: 'util-linux',
};

const LOOPBACK = '127.0.0.1';
/** The whole start, from the first tool run to the users created. */
const START_DEADLINE_MS = 90_000;
/** One run of a command-line tool (monmaptool, ceph, radosgw-admin …). */
const TOOL_TIMEOUT_MS = 30_000;
const POLL_MS = 200;
/** Checks of one readiness condition, at most (with POLL_MS between them, more than the deadline allows). */
const MAX_CHECKS = 500;
/** How long close() waits for a killed daemon to be reaped. */
const EXIT_WAIT_MS = 5_000;

export interface RgwUser {
  uid: string;
  accessKey: string;
  secretKey: string;
}

/** Two S3 users: the one the tests sign with, and another, whose buckets the first may not touch. */
export const RGW_USERS: { main: RgwUser; other: RgwUser } = {
  // Secrets with `/` and `+`, as real AWS secrets have: they only ever enter an HMAC key.
  main: { uid: 'remapd-test', accessKey: 'AKIDRGWREMAPDMAIN01', secretKey: 'rgw/Test+Secret/wJalrXUtnFEMI/K7MDENG+bPxRfiCY' },
  other: { uid: 'remapd-other', accessKey: 'AKIDRGWREMAPDOTHER1', secretKey: 'other+Secret/0123456789/abcdefghij+KLMNOPQRS' },
};

export interface RgwCluster {
  /** radosgw's port on 127.0.0.1. */
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  dir: string;
  users: typeof RGW_USERS;
  /** Kills every daemon and removes the folder. Safe to call twice. */
  close(): Promise<void>;
}

/** Names of the required binaries not found on PATH, with their packages. */
export function missingTools(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(TOOLS)) {
    const found = dirs.some((d) => {
      try {
        accessSync(join(d, tool), fsConstants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) missing.push(`${tool} (Debian package ${pkg})`);
  }
  return missing;
}

/** A port on 127.0.0.1 free a moment ago (bound to 0, then released: see the race in the header). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, LOOPBACK, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function cephConf(dir: string, fsid: string, monPort: number): string {
  return `# written by test/rgw/cluster.ts: a throwaway one-node cluster (see the settings' reasons there)
[global]
fsid = ${fsid}
mon host = v2:${LOOPBACK}:${monPort}
public addr = ${LOOPBACK}
cluster addr = ${LOOPBACK}
auth cluster required = none
auth service required = none
auth client required = none
run dir = ${dir}/run
crash dir = ${dir}/crash
log file = ${dir}/$name.log
mon cluster log file = ${dir}/cluster.log
mon data = ${dir}/$name
osd data = ${dir}/$name
osd objectstore = memstore
memstore device bytes = 1073741824
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
paxos propose interval = 0.05
client mount timeout = 20
rados mon op timeout = 30
rados osd op timeout = 30

[client.rgw]
ms mon client mode = crc secure
rgw frontends = beast endpoint=${LOOPBACK}:0 tcp_nodelay=1
rgw data = ${dir}/rgw
rgw init timeout = 60
`;
}

interface Daemon {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  /** Set once the process has exited (code or signal). */
  exit?: string;
}

/**
 * Runs a daemon in the foreground (`-f`) in its own process group, killed with the test process
 * (`setpriv --pdeathsig KILL`).
 */
function startDaemon(name: string, bin: string, args: string[]): Daemon {
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args, '-f'], { detached: true, stdio: 'ignore' });
  const d: Daemon = { name, child, exited: Promise.resolve() };
  d.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      d.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      d.exit = `could not start: ${err.message}`;
      resolve();
    });
  });
  return d;
}

function killGroup(d: Daemon): void {
  if (d.exit !== undefined || d.child.pid === undefined) return;
  try {
    process.kill(-d.child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** A daemon's log for an error message: its error lines (Ceph's level -1), else its last lines. */
function tail(file: string, lines = 30): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trimEnd();
  } catch {
    return `(no ${file})`;
  }
  const all = text.split('\n');
  const errors = all.filter((l) => / -1 /.test(l));
  return (errors.length ? errors : all).slice(-lines).join('\n');
}

/** Runs a tool, bounded in time; rejects with its output when it fails. */
function run(bin: string, args: string[], timeoutMs = TOOL_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(' ')} failed (${err.killed ? `no answer in ${timeoutMs} ms` : err.message}):\n${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

/** The TCP port `pid` listens on at 127.0.0.1, from /proc: its socket inodes matched against /proc/PID/net/tcp. */
function listeningPort(pid: number): number | undefined {
  let inodes: Set<string>;
  let table: string;
  try {
    inodes = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter((i): i is string => i !== undefined),
    );
    table = readFileSync(`/proc/${pid}/net/tcp`, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st … inode (field 9); st 0A is LISTEN; 0100007F is 127.0.0.1.
    if (f.length > 9 && f[3] === '0A' && f[1]!.startsWith('0100007F:') && inodes.has(f[9]!)) return parseInt(f[1]!.slice(9), 16);
  }
  return undefined;
}

/** GET / (anonymous ListBuckets) answers 200 once radosgw serves requests. */
function rgwAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: LOOPBACK, port, path: '/', agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DIR_PREFIX = 'remapd-rgw-';
/** The file in a cluster's folder naming the test process that owns it. */
const OWNER_FILE = 'owner.pid';

/** Removes cluster folders whose owning test process is gone (it was killed before it could remove them). */
function removeOrphanedDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // Being created, or not ours to judge.
    }
    try {
      process.kill(owner, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * Starts the cluster and creates the two users. Throws, naming what failed (with the daemon's log), when a tool is
 * missing, a daemon exits or anything takes longer than its bound; whatever had started is stopped first.
 */
export async function startRgwCluster(): Promise<RgwCluster> {
  const missing = missingTools();
  if (missing.length) {
    throw new Error(`RGW tier: not installed: ${missing.join(', ')}. Install with: apt-get install -y ${RGW_PACKAGES}`);
  }
  removeOrphanedDirs();
  const started = Date.now();
  const deadline = started + START_DEADLINE_MS;
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  const conf = join(dir, 'ceph.conf');
  const daemons: Daemon[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const d of daemons) killGroup(d);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(daemons.map((d) => d.exited)), new Promise((r) => (timer = setTimeout(r, EXIT_WAIT_MS)))]);
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  // A test process that ends without close() still takes its daemons with it (pdeathsig); this also removes the
  // folder when it exits normally.
  const onExit = () => {
    for (const d of daemons) killGroup(d);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  /**
   * Polls `ready` until it returns a value (a throw counts as not yet, and is reported if it never is), failing when
   * the watched daemon has exited, its log shows `giveUp`, after MAX_CHECKS checks or at the deadline.
   */
  async function waitFor<T>(what: string, watch: Daemon, log: string, ready: () => Promise<T | undefined> | T | undefined, giveUp?: RegExp): Promise<T> {
    let last = '';
    for (let check = 1; ; check++) {
      try {
        const value = await ready();
        if (value !== undefined) return value;
      } catch (err) {
        last = `\nlast error: ${(err as Error).message}`;
      }
      const why =
        watch.exit !== undefined
          ? `${watch.name} ${watch.exit} while waiting for ${what}`
          : giveUp && existsSync(log) && giveUp.test(readFileSync(log, 'utf8'))
            ? `${what}: ${watch.name}'s log says ${giveUp.source}`
            : check >= MAX_CHECKS || Date.now() > deadline
              ? `${what}: not ready after ${Date.now() - started} ms (${check} checks)`
              : undefined;
      if (why) throw new Error(`RGW tier: ${why}${last}\n${watch.name}'s log:\n${tail(log)}`);
      await sleep(POLL_MS);
    }
  }

  try {
    for (const sub of ['run', 'crash', 'mon.a', 'osd.0', 'rgw']) mkdirSync(join(dir, sub));
    const fsid = randomUUID();
    const monPort = await freePort();
    writeFileSync(conf, cephConf(dir, fsid, monPort));

    await run('monmaptool', ['--create', '--add', 'a', `v2:${LOOPBACK}:${monPort}`, '--fsid', fsid, join(dir, 'monmap')]);
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    const mon = startDaemon('ceph-mon', 'ceph-mon', ['-c', conf, '-i', 'a']);
    daemons.push(mon);

    // Listening, by its own process (the port was free a moment ago: see the race in the header); a monitor that
    // cannot bind retries for 10 s before it exits, so its log is read to fail at once.
    const monLog = join(dir, 'mon.a.log');
    await waitFor(`the monitor to listen on port ${monPort}`, mon, monLog, () => (listeningPort(mon.child.pid!) === monPort ? true : undefined), /unable to bind/);
    const osdUuid = randomUUID();
    await waitFor(`the monitor on port ${monPort} to register the OSD`, mon, monLog, () =>
      run('ceph', ['-c', conf, '--connect-timeout', '5', 'osd', 'new', osdUuid, '0']).then(() => true),
    );
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    const osd = startDaemon('ceph-osd', 'ceph-osd', ['-c', conf, '-i', '0']);
    daemons.push(osd);

    // radosgw waits for the OSD by itself (its pool creation blocks until the PGs are active).
    const rgw = startDaemon('radosgw', 'radosgw', ['-c', conf, '-n', 'client.rgw']);
    daemons.push(rgw);
    const rgwLog = join(dir, 'client.rgw.log');
    const port = await waitFor('radosgw to listen', rgw, rgwLog, () => listeningPort(rgw.child.pid!));
    await waitFor(`radosgw to answer on port ${port}`, rgw, rgwLog, () => rgwAnswers(port).then((ok) => (ok ? true : undefined)));
    if (osd.exit !== undefined) throw new Error(`RGW tier: ceph-osd ${osd.exit}; its log:\n${tail(join(dir, 'osd.0.log'))}`);

    for (const u of Object.values(RGW_USERS)) {
      await run('radosgw-admin', ['-c', conf, 'user', 'create', `--uid=${u.uid}`, `--display-name=${u.uid}`, `--access-key=${u.accessKey}`, `--secret-key=${u.secretKey}`]);
    }
    return {
      port,
      url: `http://${LOOPBACK}:${port}`,
      dir,
      users: RGW_USERS,
      close: async () => {
        await close();
        process.removeListener('exit', onExit);
      },
    };
  } catch (err) {
    await close();
    process.removeListener('exit', onExit);
    throw err;
  }
}
