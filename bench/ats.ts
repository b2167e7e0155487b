/**
 * Apache Traffic Server 9.2 as a bench peer (issue 6), configured like remapd's bench rules: `hit.bench` signs with
 * s3_auth V4 and caches, `miss.bench` signs and does not cache. Everything (config, runtime, logs, cache file) lives in a
 * private runroot under the caller's temp dir; the only listener is 127.0.0.1:<port>. traffic_server runs alone, in the
 * foreground, without traffic_manager.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { LOOPBACK, stopChild } from './proc.js';

const ATS_BIN = '/usr/bin/traffic_server';
/** The Debian package's build-time layout: binaries, libraries and plugins stay where the package put them. */
const PREFIX = '/usr';
const LIB_DIR = '/usr/lib/trafficserver';
const PLUGIN_DIR = '/usr/lib/trafficserver/modules';
/** The package's error-page templates (404 for an unmapped host, 502 ...), only read; the runroot has none of its own. */
const BODY_FACTORY = '/etc/trafficserver/body_factory';
const READY_TIMEOUT_MS = 20_000;
/** The query keeps the readiness probe out of the bench's per-path origin counts and out of the cache key of /obj/1k. */
const READY_PATH = '/obj/1k?ats-ready';

export function atsPath(): string | null {
  return existsSync(ATS_BIN) ? ATS_BIN : null;
}

type Setting = [name: string, type: 'INT' | 'FLOAT' | 'STRING', value: string | number];

/** records.config: every setting that differs from ATS's defaults or that the comparison depends on. */
function records(root: string, port: number): Setting[] {
  return [
    // The one listener: loopback, IPv4 (proxy.config.http.server_ports descriptor `port:ipv4:ip-in=addr`).
    ['proxy.config.http.server_ports', 'STRING', `${port}:ipv4:ip-in=${LOOPBACK}`],
    // We run as root and the runroot is root's: #-1 keeps the current user instead of switching to an unprivileged
    // one (proxy.config.admin.user_id), who could not write the temp dir.
    ['proxy.config.admin.user_id', 'STRING', '#-1'],
    // No crash-log helper: it would be started as user '#-1', which it cannot look up, and exit with an error that
    // only clutters the logs we show on failure (proxy.config.crash_log_helper NULL: "do nothing").
    ['proxy.config.crash_log_helper', 'STRING', 'NULL'],
    // Two worker threads on this 2-core machine, like nginx's `worker_processes 2` (proxy.config.exec_thread.*).
    ['proxy.config.exec_thread.autoconfig', 'INT', 0],
    ['proxy.config.exec_thread.limit', 'INT', 2],
    ['proxy.config.accept_threads', 'INT', 1],
    // Paths: everything under the runroot, plugins from the package (proxy.config.plugin.plugin_dir ...).
    ['proxy.config.plugin.plugin_dir', 'STRING', PLUGIN_DIR],
    ['proxy.config.bin_path', 'STRING', join(PREFIX, 'bin')],
    ['proxy.config.local_state_dir', 'STRING', join(root, 'run')],
    ['proxy.config.log.logfile_dir', 'STRING', join(root, 'log')],
    ['proxy.config.hostdb.storage_path', 'STRING', join(root, 'var')],
    ['proxy.config.body_factory.template_sets_dir', 'STRING', BODY_FACTORY],
    // No access logging, as nginx (`access_log off`) and remapd (`--access-log off`) in the bench.
    ['proxy.config.log.logging_enabled', 'INT', 0],
    // Reverse proxy only: a request that matches no remap rule is refused (proxy.config.url_remap.remap_required).
    ['proxy.config.reverse_proxy.enabled', 'INT', 1],
    ['proxy.config.url_remap.remap_required', 'INT', 1],
    // Same 256 MiB object cache as remapd's default, and objects up to remapd's 16 MiB limit stay in RAM
    // (proxy.config.cache.ram_cache.size, proxy.config.cache.ram_cache_cutoff; the ATS default cutoff is 4 MiB).
    ['proxy.config.cache.ram_cache.size', 'INT', 256 * 1024 * 1024],
    ['proxy.config.cache.ram_cache_cutoff', 'INT', 16 * 1024 * 1024],
    // Open the port only once the cache is up, and give up if it cannot come up (proxy.config.http.wait_for_cache 2):
    // otherwise the first responses would silently not be cached.
    ['proxy.config.http.wait_for_cache', 'INT', 2],
    // Caching on globally; the miss rule turns it off for itself with conf_remap (proxy.config.http.cache.http).
    ['proxy.config.http.cache.http', 'INT', 1],
    // Cache only responses with an explicit lifetime (proxy.config.http.cache.required_headers 2, ATS's default): the
    // origin sends `Cache-Control: max-age=3600`, so every object qualifies.
    ['proxy.config.http.cache.required_headers', 'INT', 2],
    // Ranges of a cached object are answered from cache (proxy.config.http.cache.range.lookup), and a 200 the origin
    // sends to a ranged miss is stored (proxy.config.http.cache.range.write), as remapd does.
    ['proxy.config.http.cache.range.lookup', 'INT', 1],
    ['proxy.config.http.cache.range.write', 'INT', 1],
    // Collapse concurrent misses of one key into one origin fetch, like remapd's coalescing and nginx's
    // proxy_cache_lock: read-while-writer with its four required settings (admin guide, "Reducing Origin Server
    // Requests"), plus open-read retries so followers wait for the writer's response headers instead of going to the
    // origin themselves, up to 500 × 10 ms = nginx's default proxy_cache_lock_timeout of 5 s
    // (proxy.config.http.cache.max_open_read_retries, proxy.config.http.cache.open_read_retry_time).
    ['proxy.config.cache.enable_read_while_writer', 'INT', 1],
    ['proxy.config.http.background_fill_active_timeout', 'INT', 0],
    ['proxy.config.http.background_fill_completed_threshold', 'FLOAT', '0.000000'],
    ['proxy.config.cache.max_doc_size', 'INT', 0],
    ['proxy.config.http.cache.max_open_read_retries', 'INT', 500],
    ['proxy.config.http.cache.open_read_retry_time', 'INT', 10],
    // Keep-alive to the origin, as nginx's `keepalive 64` upstream and remapd's pool (proxy.config.http.keep_alive_enabled_out).
    ['proxy.config.http.keep_alive_enabled_out', 'INT', 1],
    // No Via header on the way to the origin: not signed anyway, just bytes (proxy.config.http.insert_request_via_str).
    ['proxy.config.http.insert_request_via_str', 'INT', 0],
    ['proxy.config.http.insert_response_via_str', 'INT', 0],
    // No debug tracing, which costs per request (proxy.config.diags.debug.enabled); warnings and errors still go to
    // log/diags.log and stderr (log/traffic.out), which a failed start quotes.
    ['proxy.config.diags.debug.enabled', 'INT', 0],
  ];
}

/** Writes the runroot (runroot.yaml, etc/, run/, log/, var/, cache/) and ATS's configuration into `root`. */
function writeConfig(root: string, originPort: number, port: number): void {
  const etc = join(root, 'etc');
  for (const d of [etc, join(root, 'run'), join(root, 'log'), join(root, 'var'), join(root, 'cache')]) mkdirSync(d, { recursive: true });

  // runroot.yaml (traffic_layout's format, found through $TS_RUNROOT): the config dir, runtime dir, logs and cache
  // are ours; binaries and plugins are the package's.
  writeFileSync(
    join(root, 'runroot.yaml'),
    [
      `prefix: ${PREFIX}`,
      `exec_prefix: ${PREFIX}`,
      `bindir: ${join(PREFIX, 'bin')}`,
      `sbindir: ${join(PREFIX, 'sbin')}`,
      `sysconfdir: ${etc}`,
      `datadir: ${join(root, 'var')}`,
      `includedir: ${join(PREFIX, 'include')}`,
      `libdir: ${LIB_DIR}`,
      `libexecdir: ${PLUGIN_DIR}`,
      `localstatedir: ${join(root, 'var')}`,
      `runtimedir: ${join(root, 'run')}`,
      `logdir: ${join(root, 'log')}`,
      `cachedir: ${join(root, 'cache')}`,
      '',
    ].join('\n'),
  );

  writeFileSync(join(etc, 'records.config'), records(root, port).map(([n, t, v]) => `CONFIG ${n} ${t} ${v}\n`).join(''));

  // s3_auth V4 (plugin docs: --config file with access_key, secret_key, version, v4-region-map). The region is looked
  // up by the Host sent to the origin (127.0.0.1:<port>), which matches no entry, so the default entry (an empty
  // entry point) gives us-east-1 — remapd's --region=us-east-1.
  const s3Config = join(etc, 's3_auth_v4.config');
  const regionMap = join(etc, 's3_region_map.config');
  writeFileSync(regionMap, `# <s3-entry-point>:<s3-region>; an empty entry point is the default\n${LOOPBACK}: us-east-1\n: us-east-1\n`);
  writeFileSync(s3Config, `access_key=AKIDBENCH\nsecret_key=bench/secret\nversion=4\nv4-region-map=${regionMap}\n`);
  const sign = `@plugin=s3_auth.so @pparam=--config @pparam=${s3Config}`;
  const origin = `http://${LOOPBACK}:${originPort}/`;
  writeFileSync(
    join(etc, 'remap.config'),
    `map http://hit.bench/ ${origin} ${sign}\n` +
      // conf_remap overrides proxy.config.http.cache.http for this rule only: signed, never cached (remapd's cache.so --off).
      `map http://miss.bench/ ${origin} ${sign} @plugin=conf_remap.so @pparam=proxy.config.http.cache.http=0\n`,
  );

  // One file-backed cache span: a directory with a size makes ATS create its cache file there (storage.config,
  // `path size`); the RAM cache above sits in front of it.
  writeFileSync(join(etc, 'storage.config'), `${join(root, 'cache')} 512M\n`);
  // Only loopback clients, every method (ip_allow.yaml); anything else is denied by ATS's implicit rule.
  writeFileSync(
    join(etc, 'ip_allow.yaml'),
    `ip_allow:\n  - apply: in\n    ip_addrs: ${LOOPBACK}\n    action: allow\n    methods: ALL\n`,
  );
  // The remaining files ATS 9.2 reads at start: present and empty, so it uses its defaults and stays quiet.
  const empty = ['plugin.config', 'cache.config', 'hosting.config', 'parent.config', 'volume.config', 'splitdns.config', 'socks.config'];
  for (const f of [...empty, 'ssl_multicert.config', 'sni.yaml', 'strategies.yaml', 'logging.yaml']) writeFileSync(join(etc, f), '');
}

/** The last lines ATS wrote about itself: diags.log, error.log and its own stdout/stderr. */
function logTail(root: string, bytes = 3000): string {
  const parts: string[] = [];
  for (const f of ['diags.log', 'error.log', 'traffic.out']) {
    try {
      const text = readFileSync(join(root, 'log', f), 'utf8');
      if (text.length > 0) parts.push(`--- ${f} ---\n${text.slice(-bytes)}`);
    } catch {
      // not written (yet): nothing to show
    }
  }
  return parts.length > 0 ? parts.join('\n') : '(ATS wrote no logs)';
}

/** One GET of the hit rule's probe path: the status ATS answered, or why there was no answer. */
function probe(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: LOOPBACK, port, path: READY_PATH, headers: { Host: 'hit.bench' }, agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 'no status'));
      res.on('error', (err) => resolve(err.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(err.message));
    req.end();
  });
}


/**
 * Starts traffic_server for the bench and resolves once a request through the hit rule gets the origin's 200.
 * `dir` is the caller's temp dir (it deletes it); `port` a free loopback port the caller picked.
 */
export async function startAts(
  bin: string,
  dir: string,
  originPort: number,
  port: number,
): Promise<{ pid: number | undefined; stop(): Promise<void>; child: ChildProcess }> {
  const root = join(dir, 'ats');
  writeConfig(root, originPort, port);

  // stdout/stderr to a file, not a pipe: nobody drains a pipe during the load runs, and a full pipe would stall ATS.
  const out = openSync(join(root, 'log', 'traffic.out'), 'a');
  const child = spawn(bin, [], {
    cwd: root,
    stdio: ['ignore', out, out],
    // TS_RUNROOT points traffic_server at runroot.yaml (traffic_layout docs) instead of the package's /etc layout.
    env: { ...process.env, TS_RUNROOT: root },
  });
  closeSync(out);
  const stop = (): Promise<void> => stopChild(child);

  // Set if ATS dies before it serves (bad config, port taken): fail at once instead of polling out the 20 s.
  const state: { exited: string | null } = { exited: null };
  child.once('exit', (code, signal) => (state.exited = `exited (${signal ?? `code ${code}`})`));
  child.once('error', (err) => (state.exited = `failed to start: ${err.message}`));

  // Ready means a 200 from the origin through the hit rule: listening, remap loaded, s3_auth signing, origin reached.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: number | string = 'no probe yet';
  while (Date.now() < deadline && state.exited === null) {
    last = await probe(port);
    if (last === 200) return { pid: child.pid, stop, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = state.exited ?? `not serving ${LOOPBACK}:${port} through hit.bench after ${READY_TIMEOUT_MS} ms (last probe: ${last})`;
  await stop();
  throw new Error(`traffic_server ${why}\n${logTail(root)}`);
}
