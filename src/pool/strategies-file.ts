/**
 * strategies.yaml: ATS's NextHop strategies (doc/admin-guide/files/strategies.yaml.en.rst), the subset an origin
 * pool needs, read into plain data. Like the remap.config parser it never stops at the first problem: every error
 * and warning names its file and line, and the result is only used when there is no error.
 *
 *   hosts:        anchors for hosts (host, protocol: [{scheme, port, health_check_url}], weight)
 *   groups:       lists of hosts; the first group is the primary, the others are tried after it (ring_mode)
 *   strategies:   strategy (name), policy, hash_key, groups, scheme,
 *                 failover: {ring_mode, response_codes, markdown_codes, max_simple_retries,
 *                            max_unavailable_retries, health_check: [passive, active]}
 *
 * remapd extensions (ATS ignores neither silently, so a file using them is remapd's): per host `s3_auth:` (the
 * s3_auth plugin's arguments: that member's own credentials and region), and per strategy `health_check:`
 * (path, interval, timeout, rise, fall, retry_time of the active and passive checks). ATS's `#include FILE` lines
 * are honoured as ATS does: the file's text is read in at that point, once.
 *
 * Fields of ATS's schema that mean nothing for origins (go_direct, parent_is_proxy: false, cache_peer_result) are
 * accepted; unknown fields are warnings, not errors (a newer ATS field must not stop a proxy from starting).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { LineCounter, parseDocument } from 'yaml';
import type { Diagnostic } from '../errors.js';
import { DEFAULT_PORT, HOST_CHARS, type Scheme } from '../remap/remap-url.js';
import { parseDurationMs as parseText } from '../units.js';
import {
  DEFAULT_CHECK_INTERVAL_MS,
  DEFAULT_CHECK_TIMEOUT_MS,
  DEFAULT_FALL,
  DEFAULT_RESPONSE_CODES,
  DEFAULT_RETRY_TIME_MS,
  DEFAULT_RISE,
} from './defaults.js';
import { describe, toTree, type Where, type YMap, type YNode } from './yaml-tree.js';

/** `round_robin` is remapd's alias of `rr_strict`. */
export type PolicyName = 'first_live' | 'rr_strict' | 'rr_ip' | 'latched' | 'consistent_hash';
export type HashKey = 'path' | 'path+query' | 'path+fragment' | 'url' | 'hostname' | 'cache_key';
export type RingMode = 'exhaust_ring' | 'alternate_ring';

const POLICIES: Record<string, PolicyName> = {
  first_live: 'first_live',
  rr_strict: 'rr_strict',
  round_robin: 'rr_strict',
  rr_ip: 'rr_ip',
  latched: 'latched',
  consistent_hash: 'consistent_hash',
};
const HASH_KEYS: readonly HashKey[] = ['path', 'path+query', 'path+fragment', 'url', 'hostname', 'cache_key'];

/** One origin of a strategy, with the protocol the strategy uses resolved. */
export interface MemberDef {
  /** `host:port` (IPv6 in brackets): how logs, metrics and /readyz name it. */
  id: string;
  host: string;
  scheme: Scheme;
  port: number;
  /** `host[:port]` as it belongs in a Host header (the port only when not the scheme's default). */
  authority: string;
  /** Only consistent_hash uses it (ATS too). */
  weight: number;
  /** Absolute URL of the active check (health_check_url, else the strategy's health_check.path); null when off. */
  checkUrl: string | null;
  /** remapd extension: s3_auth arguments signing requests to this member. */
  s3Auth: { args: string[]; at: Where } | null;
  /** Index of its group in the strategy (0: primary). */
  group: number;
  at: Where;
}

export interface HealthSettings {
  /** Active checks run (failover.health_check lists `active`). */
  active: boolean;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  retryTimeMs: number;
}

export interface StrategyDef {
  name: string;
  at: Where;
  policy: PolicyName;
  hashKey: HashKey;
  /** Members by group, in the order written; every member appears once. */
  groups: MemberDef[][];
  ringMode: RingMode;
  /** Responses after which an idempotent request goes to the next member. */
  responseCodes: ReadonlySet<number>;
  /** Responses that also mark the member down at once (ATS's "unavailable retry"). */
  markdownCodes: ReadonlySet<number>;
  /** Most retries on responseCodes / markdownCodes; null: one try per member. */
  maxSimpleRetries: number | null;
  maxUnavailableRetries: number | null;
  health: HealthSettings;
}

export interface StrategiesFile {
  /** The strategies without errors, by name. */
  strategies: Map<string, StrategyDef>;
  /** Every strategy name written, with errors or not: a rule naming a broken one is told about its errors, not that it is missing. */
  names: Set<string>;
  /** False when the file could not be read as YAML with a strategies list: then `names` says nothing. */
  readable: boolean;
  diagnostics: Diagnostic[];
  /** The file and every #include it read, for reload watching. */
  files: string[];
}

export interface ReadOptions {
  readFile?: (path: string) => string;
}

/** Reads strategies.yaml (and its #includes) and checks it; relative includes resolve against its folder. */
export function parseStrategiesFile(path: string, options: ReadOptions = {}): StrategiesFile {
  const read = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const diagnostics: Diagnostic[] = [];
  const files: string[] = [];
  const names = new Set<string>();
  const text = assemble(path, read, diagnostics, files);
  const strategies = text === null ? null : parseAssembled(text, diagnostics, names);
  // In reading order: by file (as first read), then line.
  const order = (f: string) => (files.includes(f) ? files.indexOf(f) : files.length);
  const sorted = dedupe(diagnostics).sort((a, b) => order(a.file) - order(b.file) || a.line - b.line);
  return { strategies: strategies ?? new Map(), names, readable: strategies !== null, diagnostics: sorted, files };
}

/** The text of the file with its `#include`s read in, and where each of its lines came from. */
interface Assembled {
  text: string;
  lines: Where[];
}

/**
 * ATS (NextHopStrategyFactory::loadConfigFile): a line starting `#include FILE` is replaced by FILE's text, each
 * file at most once; other lines starting with `#` are comments.
 */
function assemble(path: string, read: (p: string) => string, diagnostics: Diagnostic[], files: string[]): Assembled | null {
  const out: Assembled = { text: '', lines: [] };
  const seen = new Set<string>();
  const add = (file: string, from: Where | null): boolean => {
    let content: string;
    try {
      content = read(file);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      const at = from ?? { file, line: 0 };
      diagnostics.push({ severity: 'error', ...at, message: from ? `cannot read included file ${file}: ${reason}` : `cannot read ${file}: ${reason}` });
      return false;
    }
    files.push(file);
    const lines = content.split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const m = /^#include[ \t]+(\S+)/.exec(line);
      if (m) {
        const target = isAbsolute(m[1]!) ? m[1]! : join(dirname(path), m[1]!);
        if (!seen.has(target)) {
          seen.add(target);
          // Without the included hosts every alias to them would be a second error: stop at the first.
          if (!add(target, { file, line: i + 1 })) return false;
        }
        continue;
      }
      out.text += `${line}\n`;
      out.lines.push({ file, line: i + 1 });
    }
    return true;
  };
  seen.add(path);
  return add(path, null) ? out : null;
}

function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const k = `${d.severity}\u0000${d.file}\u0000${d.line}\u0000${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Collects problems for one read of the file. */
class Problems {
  constructor(readonly list: Diagnostic[]) {}
  error(at: Where, message: string): void {
    this.list.push({ severity: 'error', file: at.file, line: at.line, message });
  }
  warn(at: Where, message: string): void {
    this.list.push({ severity: 'warning', file: at.file, line: at.line, message });
  }
}

/** The strategies without errors; null when there is no strategies list to read (YAML errors, wrong shape). */
function parseAssembled(assembled: Assembled, diagnostics: Diagnostic[], names: Set<string>): Map<string, StrategyDef> | null {
  const p = new Problems(diagnostics);
  const counter = new LineCounter();
  const doc = parseDocument(assembled.text, { merge: true, lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const first = assembled.lines[0] ?? { file: '', line: 0 };
  const where = (offset: number): Where => assembled.lines[counter.linePos(offset).line - 1] ?? assembled.lines.at(-1) ?? first;
  for (const e of doc.errors) p.error(where(e.pos[0]), `YAML: ${e.message.split('\n')[0]}`);
  for (const w of doc.warnings) p.warn(where(w.pos[0]), `YAML: ${w.message.split('\n')[0]}`);
  if (doc.errors.length > 0) return null;
  const root = toTree({ doc, where, problem: (at, m) => p.error(at, m) });
  if (root === null) {
    p.error({ ...first, line: 0 }, 'the file is empty: expected a "strategies" list');
    return null;
  }
  if (root.kind !== 'map') {
    p.error(root.at, `expected a map with hosts, groups and strategies, found ${describe(root)}`);
    return null;
  }
  for (const [key, e] of root.entries) {
    if (key !== 'hosts' && key !== 'groups' && key !== 'strategies') p.warn(e.at, `unknown top-level field "${key}" ignored (expected hosts, groups, strategies)`);
  }
  // Hosts and groups are checked even where no strategy uses them: a typo there is a typo.
  const hosts = root.entries.get('hosts');
  if (hosts) for (const h of listOf(hosts.value, 'hosts', p)) readHost(h, p);
  const groups = root.entries.get('groups');
  if (groups) for (const g of listOf(groups.value, 'groups', p)) for (const h of listOf(g, 'a group', p)) readHost(h, p);

  const out = new Map<string, StrategyDef>();
  const list = root.entries.get('strategies');
  if (!list || list.value.kind !== 'seq') {
    p.error(list?.at ?? root.at, list ? `strategies must be a list, found ${describe(list.value)}` : 'no "strategies" list');
    return null;
  }
  for (const node of listOf(list.value, 'strategies', p)) {
    const written = node.kind === 'map' ? node.entries.get('strategy')?.value : undefined;
    if (written?.kind === 'scalar' && written.value !== null) names.add(String(written.value));
    const s = readStrategy(node, p);
    if (s === null) continue;
    const existing = out.get(s.name);
    if (existing) p.error(s.at, `strategy "${s.name}" is already defined at ${existing.at.file}:${existing.at.line}`);
    else out.set(s.name, s);
  }
  return out;
}

/** Already reported (an unknown alias): no second error for the same mistake. */
function broken(node: YNode): boolean {
  return node.kind === 'scalar' && node.broken === true;
}

function listOf(node: YNode, what: string, p: Problems): YNode[] {
  if (node.kind === 'seq') return node.items;
  if (broken(node)) return [];
  p.error(node.at, `${what} must be a list, found ${describe(node)}`);
  return [];
}

function warnUnknown(map: YMap, known: readonly string[], what: string, p: Problems): void {
  for (const [key, e] of map.entries) {
    if (!known.includes(key)) p.warn(e.at, `unknown field "${key}" in ${what} ignored`);
  }
}

function str(map: YMap, key: string, p: Problems): { value: string; at: Where } | null {
  const e = map.entries.get(key);
  if (!e) return null;
  const v = e.value;
  if (v.kind !== 'scalar' || v.value === null || typeof v.value === 'boolean') {
    p.error(e.at, `${key} must be a string, found ${describe(v)}`);
    return null;
  }
  return { value: String(v.value), at: e.at };
}

/** A number written as a YAML number or a numeric string. */
function num(map: YMap, key: string, p: Problems, check: (n: number) => boolean, expect: string): number | null {
  const e = map.entries.get(key);
  if (!e) return null;
  const v = e.value;
  const n = v.kind === 'scalar' && (typeof v.value === 'number' || (typeof v.value === 'string' && v.value.trim() !== '')) ? Number(v.value) : NaN;
  if (!Number.isFinite(n) || !check(n)) {
    p.error(e.at, `${key} must be ${expect}, found ${describe(v)}`);
    return null;
  }
  return n;
}

function bool(map: YMap, key: string, p: Problems): boolean | null {
  const e = map.entries.get(key);
  if (!e) return null;
  const v = e.value;
  if (v.kind !== 'scalar' || typeof v.value !== 'boolean') {
    p.error(e.at, `${key} must be true or false, found ${describe(v)}`);
    return null;
  }
  return v.value;
}

/** A duration (units.ts: `500ms`, `5s`, `2m`, `1h`, `1d`), or a YAML number of seconds. Milliseconds, or null. */
export function parseDurationMs(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : null;
  return parseText(value);
}

function duration(map: YMap, key: string, p: Problems): number | null {
  const e = map.entries.get(key);
  if (!e) return null;
  const v = e.value;
  const ms = v.kind === 'scalar' && (typeof v.value === 'string' || typeof v.value === 'number') ? parseDurationMs(v.value) : null;
  if (ms === null || ms <= 0) {
    p.error(e.at, `${key} must be a duration such as 500ms, 5s or 2m, found ${describe(v)}`);
    return null;
  }
  return ms;
}

function statusList(map: YMap, key: string, p: Problems): number[] | null {
  const e = map.entries.get(key);
  if (!e) return null;
  const items = e.value.kind === 'seq' ? e.value.items : [e.value];
  const out: number[] = [];
  for (const item of items) {
    const n = item.kind === 'scalar' ? Number(item.value) : NaN;
    if (!Number.isInteger(n) || n < 100 || n > 599) p.error(item.at, `${key}: ${describe(item)} is not an HTTP status code`);
    else out.push(n);
  }
  return out;
}

/** The fields of one host as written (protocols not yet chosen for a strategy). */
interface HostEntry {
  host: string;
  protocols: { scheme: Scheme; port: number; healthCheckUrl: string | null; at: Where }[];
  weight: number;
  s3Auth: { args: string[]; at: Where } | null;
  at: Where;
}

const HOST_FIELDS = ['host', 'protocol', 'weight', 's3_auth'];
const PROTOCOL_FIELDS = ['scheme', 'port', 'health_check_url'];

function readHost(node: YNode, p: Problems): HostEntry | null {
  if (node.kind !== 'map') {
    if (broken(node)) return null;
    p.error(node.at, `a host must be a map (host, protocol, weight), found ${describe(node)}`);
    return null;
  }
  warnUnknown(node, HOST_FIELDS, 'a host', p);
  let ok = true;
  const host = str(node, 'host', p);
  if (host === null) {
    if (!node.entries.has('host')) p.error(node.at, 'a host needs "host:" (its name or address)');
    ok = false;
  } else if (!isIPv6(host.value) && !HOST_CHARS.test(host.value.toLowerCase())) {
    p.error(host.at, `"${host.value}" is not a host name or address`);
    ok = false;
  }
  const weight = num(node, 'weight', p, (n) => n > 0, 'a number above 0');
  if (weight === null && node.entries.has('weight')) ok = false;
  const protocols: HostEntry['protocols'] = [];
  const protocol = node.entries.get('protocol');
  if (protocol) {
    for (const item of listOf(protocol.value, 'protocol', p)) {
      if (item.kind !== 'map') {
        p.error(item.at, `a protocol entry must be a map (scheme, port, health_check_url), found ${describe(item)}`);
        ok = false;
        continue;
      }
      warnUnknown(item, PROTOCOL_FIELDS, 'a protocol entry', p);
      const scheme = str(item, 'scheme', p);
      if (scheme === null || (scheme.value !== 'http' && scheme.value !== 'https')) {
        if (scheme) p.error(scheme.at, `scheme must be http or https, not "${scheme.value}"`);
        else if (!item.entries.has('scheme')) p.error(item.at, 'a protocol entry needs "scheme:" (http or https)');
        ok = false;
        continue;
      }
      const s = scheme.value as Scheme;
      const port = num(item, 'port', p, (n) => Number.isInteger(n) && n >= 1 && n <= 65535, 'a port number from 1 to 65535');
      if (port === null && item.entries.has('port')) ok = false;
      const url = str(item, 'health_check_url', p);
      if (url !== null && !isHttpUrl(url.value)) {
        p.error(url.at, `health_check_url "${url.value}" is not an http:// or https:// URL`);
        ok = false;
      }
      protocols.push({ scheme: s, port: port ?? DEFAULT_PORT[s], healthCheckUrl: url?.value ?? null, at: item.at });
    }
  }
  const s3Auth = readS3Auth(node, p);
  if (s3Auth === false) ok = false;
  if (!ok || host === null) return null;
  return { host: host.value.toLowerCase(), protocols, weight: weight ?? 1, s3Auth: s3Auth || null, at: node.at };
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** `s3_auth: "--config=eu.config --version=4"` or a list of arguments; false when malformed. */
function readS3Auth(host: YMap, p: Problems): { args: string[]; at: Where } | null | false {
  const e = host.entries.get('s3_auth');
  if (!e) return null;
  const v = e.value;
  let args: string[] | null = null;
  if (v.kind === 'scalar' && typeof v.value === 'string') args = v.value.split(/\s+/).filter(Boolean);
  else if (v.kind === 'seq' && v.items.every((i) => i.kind === 'scalar' && typeof i.value === 'string')) {
    args = v.items.map((i) => String((i as { value: string }).value));
  }
  if (args === null || args.length === 0) {
    p.error(e.at, `s3_auth must be the s3_auth plugin's arguments, e.g. "--config=eu_s3_auth.config --version=4", found ${describe(v)}`);
    return false;
  }
  return { args, at: e.at };
}

const STRATEGY_FIELDS = ['strategy', 'policy', 'hash_key', 'groups', 'scheme', 'failover', 'go_direct', 'parent_is_proxy', 'cache_peer_result', 'health_check'];
const FAILOVER_FIELDS = ['ring_mode', 'response_codes', 'markdown_codes', 'max_simple_retries', 'max_unavailable_retries', 'health_check'];
const HEALTH_FIELDS = ['path', 'interval', 'timeout', 'rise', 'fall', 'retry_time'];

function readStrategy(node: YNode, p: Problems): StrategyDef | null {
  if (node.kind !== 'map') {
    if (broken(node)) return null;
    p.error(node.at, `a strategy must be a map (strategy, policy, groups, …), found ${describe(node)}`);
    return null;
  }
  warnUnknown(node, STRATEGY_FIELDS, 'a strategy', p);
  const errorsBefore = p.list.filter((d) => d.severity === 'error').length;
  const name = str(node, 'strategy', p);
  if (name === null && !node.entries.has('strategy')) p.error(node.at, 'a strategy needs "strategy:" (its name, used by @strategy= in remap.config)');
  const label = name ? `strategy "${name.value}"` : 'this strategy';

  const policyText = str(node, 'policy', p);
  let policy: PolicyName | null = null;
  if (policyText === null) {
    if (!node.entries.has('policy')) p.error(node.at, `${label} needs "policy:" (first_live, rr_strict, rr_ip, latched or consistent_hash)`);
  } else {
    policy = Object.hasOwn(POLICIES, policyText.value) ? POLICIES[policyText.value]! : null;
    if (policy === null) p.error(policyText.at, `unknown policy "${policyText.value}" (expected first_live, rr_strict (or round_robin), rr_ip, latched or consistent_hash)`);
  }

  const hashKeyText = str(node, 'hash_key', p);
  let hashKey: HashKey = 'path';
  if (hashKeyText !== null) {
    if ((HASH_KEYS as readonly string[]).includes(hashKeyText.value)) hashKey = hashKeyText.value as HashKey;
    else p.error(hashKeyText.at, `unknown hash_key "${hashKeyText.value}" (expected ${HASH_KEYS.join(', ')})`);
  }

  const schemeText = str(node, 'scheme', p);
  let scheme: Scheme | null = null;
  if (schemeText !== null) {
    if (schemeText.value === 'http' || schemeText.value === 'https') scheme = schemeText.value;
    else p.error(schemeText.at, `scheme must be http or https, not "${schemeText.value}"`);
  }

  bool(node, 'go_direct', p);
  bool(node, 'cache_peer_result', p);
  const parentIsProxy = bool(node, 'parent_is_proxy', p);
  if (parentIsProxy === true) {
    p.warn(node.entries.get('parent_is_proxy')!.at, 'parent_is_proxy: true ignored: remapd sends requests to the hosts as origins (as ATS does with parent_is_proxy: false)');
  }

  const failover = readFailover(node, p);
  const health = readHealth(node, failover.active, p);

  const groups: MemberDef[][] = [];
  const groupsEntry = node.entries.get('groups');
  if (!groupsEntry) p.error(node.at, `${label} needs "groups:" (a list of host groups, e.g. [*g1])`);
  else {
    const seen = new Map<string, MemberDef>();
    for (const g of listOf(groupsEntry.value, 'groups', p)) {
      const members: MemberDef[] = [];
      const hosts = listOf(g, 'a group', p);
      if (g.kind === 'seq' && hosts.length === 0) p.error(g.at, 'a group needs at least one host');
      for (const h of hosts) {
        const entry = readHost(h, p);
        if (entry === null) continue;
        const m = member(entry, scheme, groups.length, health, p, label);
        if (m === null) continue;
        const dup = seen.get(m.id);
        if (dup) {
          p.error(m.at, `${m.id} is listed twice in ${label} (also at ${dup.at.file}:${dup.at.line})`);
          continue;
        }
        seen.set(m.id, m);
        members.push(m);
      }
      groups.push(members);
    }
    if (groups.length === 0 && groupsEntry.value.kind === 'seq') p.error(groupsEntry.at, `${label} has no groups`);
  }

  const errors = p.list.filter((d) => d.severity === 'error').length;
  if (name === null || policy === null || errors > errorsBefore) return null;
  return {
    name: name.value,
    at: node.at,
    policy,
    hashKey,
    groups,
    ringMode: failover.ringMode,
    responseCodes: new Set(failover.responseCodes),
    markdownCodes: new Set(failover.markdownCodes),
    maxSimpleRetries: failover.maxSimpleRetries,
    maxUnavailableRetries: failover.maxUnavailableRetries,
    health,
  };
}

interface Failover {
  ringMode: RingMode;
  responseCodes: number[];
  markdownCodes: number[];
  maxSimpleRetries: number | null;
  maxUnavailableRetries: number | null;
  active: boolean;
}

function readFailover(strategy: YMap, p: Problems): Failover {
  const out: Failover = {
    ringMode: 'exhaust_ring',
    responseCodes: [...DEFAULT_RESPONSE_CODES],
    markdownCodes: [],
    maxSimpleRetries: null,
    maxUnavailableRetries: null,
    active: false,
  };
  const e = strategy.entries.get('failover');
  if (!e) return out;
  const f = e.value;
  if (f.kind !== 'map') {
    p.error(e.at, `failover must be a map (ring_mode, response_codes, health_check, …), found ${describe(f)}`);
    return out;
  }
  warnUnknown(f, FAILOVER_FIELDS, 'failover', p);
  const ring = str(f, 'ring_mode', p);
  if (ring !== null) {
    if (ring.value === 'exhaust_ring' || ring.value === 'alternate_ring') out.ringMode = ring.value;
    else if (ring.value === 'peering_ring') p.error(ring.at, 'ring_mode peering_ring is not supported by remapd (it needs a peer cache ring)');
    else p.error(ring.at, `unknown ring_mode "${ring.value}" (expected exhaust_ring or alternate_ring)`);
  }
  out.responseCodes = statusList(f, 'response_codes', p) ?? out.responseCodes;
  out.markdownCodes = statusList(f, 'markdown_codes', p) ?? [];
  const count = (n: number) => Number.isInteger(n) && n >= 0;
  out.maxSimpleRetries = num(f, 'max_simple_retries', p, count, 'a whole number');
  out.maxUnavailableRetries = num(f, 'max_unavailable_retries', p, count, 'a whole number');
  const checks = f.entries.get('health_check');
  if (checks) {
    const items = checks.value.kind === 'seq' ? checks.value.items : [checks.value];
    for (const item of items) {
      const v = item.kind === 'scalar' ? item.value : null;
      if (v === 'active') out.active = true;
      else if (v !== 'passive') p.error(item.at, `health_check: ${describe(item)} is not passive or active`);
    }
  }
  return out;
}

function readHealth(strategy: YMap, active: boolean, p: Problems): HealthSettings & { path: string | null } {
  const out = {
    active,
    path: null as string | null,
    intervalMs: DEFAULT_CHECK_INTERVAL_MS,
    timeoutMs: DEFAULT_CHECK_TIMEOUT_MS,
    rise: DEFAULT_RISE,
    fall: DEFAULT_FALL,
    retryTimeMs: DEFAULT_RETRY_TIME_MS,
  };
  const e = strategy.entries.get('health_check');
  if (!e) return out;
  const h = e.value;
  if (h.kind !== 'map') {
    p.error(e.at, `health_check (remapd) must be a map (path, interval, timeout, rise, fall, retry_time), found ${describe(h)}; ATS's list goes under failover:`);
    return out;
  }
  warnUnknown(h, HEALTH_FIELDS, 'health_check', p);
  const path = str(h, 'path', p);
  if (path !== null) {
    if (!path.value.startsWith('/') || /[\s#]/.test(path.value)) p.error(path.at, `health_check.path must start with / (e.g. /health), not "${path.value}"`);
    else out.path = path.value;
  }
  const count = (n: number) => Number.isInteger(n) && n >= 1;
  out.rise = num(h, 'rise', p, count, 'a whole number from 1') ?? out.rise;
  out.fall = num(h, 'fall', p, count, 'a whole number from 1') ?? out.fall;
  out.intervalMs = duration(h, 'interval', p) ?? out.intervalMs;
  const timeout = duration(h, 'timeout', p);
  // A check that outlasts its interval would overlap the next one.
  out.timeoutMs = timeout ?? Math.min(out.timeoutMs, out.intervalMs);
  if (timeout !== null && timeout > out.intervalMs) p.error(h.entries.get('timeout')!.at, `health_check.timeout (${timeout} ms) is longer than its interval (${out.intervalMs} ms)`);
  out.retryTimeMs = duration(h, 'retry_time', p) ?? out.retryTimeMs;
  if (!active) {
    for (const k of ['path', 'interval', 'timeout', 'rise'] as const) {
      const field = h.entries.get(k);
      if (field) p.warn(field.at, `health_check.${k} is only used by active checks, which are off (add "active" to failover: health_check: [passive, active])`);
    }
  }
  return out;
}

function member(
  entry: HostEntry,
  scheme: Scheme | null,
  group: number,
  health: HealthSettings & { path: string | null },
  p: Problems,
  label: string,
): MemberDef | null {
  // The strategy's scheme picks the host's protocol entry; without one, the host's first entry counts.
  const protocol = scheme === null ? entry.protocols[0] : entry.protocols.find((x) => x.scheme === scheme);
  if (protocol === undefined && scheme !== null && entry.protocols.length > 0) {
    p.error(entry.at, `${entry.host} has no protocol entry for scheme ${scheme} (${label} uses ${scheme})`);
    return null;
  }
  const s: Scheme = protocol?.scheme ?? scheme ?? 'http';
  const port = protocol?.port ?? DEFAULT_PORT[s];
  const authority = isIPv6(entry.host) ? `[${entry.host}]` : entry.host;
  let checkUrl: string | null = null;
  if (health.active) {
    checkUrl = protocol?.healthCheckUrl ?? (health.path !== null ? `${s}://${authority}:${port}${health.path}` : null);
    if (checkUrl === null) {
      p.error(entry.at, `${entry.host}: active health checks need its protocol's health_check_url or the strategy's health_check: path (${label})`);
      return null;
    }
  }
  return {
    id: `${authority}:${port}`,
    host: entry.host,
    scheme: s,
    port,
    authority: port === DEFAULT_PORT[s] ? authority : `${authority}:${port}`,
    weight: entry.weight,
    checkUrl,
    s3Auth: entry.s3Auth,
    group,
    at: entry.at,
  };
}
