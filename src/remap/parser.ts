/**
 * remap.config parser: ATS's grammar (doc/admin-guide/files/remap.config.en.rst, src/proxy/http/remap/RemapConfig.cc).
 *
 * It never stops at the first problem: every line is checked and every error is reported with file:line, so
 * `remapd check` shows everything wrong at once. The output is plain data (rules in file order with their filters
 * and plugin specs); instantiating plugins and building the lookup table happen later.
 */
import { readFileSync, realpathSync, statSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Diagnostic } from '../errors.js';
import { type AclFilter, buildFilter, FILTER_OPTIONS } from './acl.js';
import { splitLogicalLines } from './config-lines.js';
import { parseRemapUrl, type RemapUrl } from './remap-url.js';

export type RuleKind = 'map' | 'redirect' | 'reverse';

export interface PluginSpec {
  /** As written after `@plugin=`. */
  name: string;
  /** Each `@pparam=` value in order, exactly as written (ATS passes them one argv element each). */
  params: string[];
}

export interface RuleSpec {
  /** Position in the whole configuration (includes expanded in place); lower wins among matches. */
  rank: number;
  /** Lower-cased rule type as written, e.g. `map`, `regex_redirect_temporary`. */
  type: string;
  kind: RuleKind;
  /** `map_with_recv_port`: match on the port the connection arrived on instead of the Host header's port. */
  withRecvPort: boolean;
  /** 301 for redirect, 307 for redirect_temporary, 0 otherwise. */
  redirectStatus: 0 | 301 | 307;
  /** Compiled host pattern of regex_* rules. */
  hostRegex: RegExp | null;
  from: RemapUrl;
  to: RemapUrl;
  /** In-line filter first, then the named filters active at this line, in activation order. */
  filters: AclFilter[];
  plugins: PluginSpec[];
  /** `@strategy=NAME`: the origin pool of strategies.yaml this rule forwards to (map rules only), or null. */
  strategy: string | null;
  file: string;
  line: number;
}

export interface ParsedRemap {
  rules: RuleSpec[];
  diagnostics: Diagnostic[];
  /** Every file read (the top file and its includes), for reload watching. */
  files: string[];
}

interface NamedFilter {
  filter: AclFilter;
  file: string;
  line: number;
}

const RULE_TYPES: Record<string, { kind: RuleKind; recv: boolean; status: 0 | 301 | 307 }> = {
  map: { kind: 'map', recv: false, status: 0 },
  map_with_recv_port: { kind: 'map', recv: true, status: 0 },
  reverse_map: { kind: 'reverse', recv: false, status: 0 },
  redirect: { kind: 'redirect', recv: false, status: 301 },
  redirect_temporary: { kind: 'redirect', recv: false, status: 307 },
};

/** ATS's directive spellings (RemapConfig.cc `directives[]`), mapped to what they do. */
const DIRECTIVES: Record<string, 'define' | 'delete' | 'activate' | 'deactivate' | 'include'> = {
  '.definefilter': 'define',
  '.deffilter': 'define',
  '.defflt': 'define',
  '.deletefilter': 'delete',
  '.delfilter': 'delete',
  '.delflt': 'delete',
  '.usefilter': 'activate',
  '.activefilter': 'activate',
  '.activatefilter': 'activate',
  '.useflt': 'activate',
  '.unusefilter': 'deactivate',
  '.deactivatefilter': 'deactivate',
  '.unactivefilter': 'deactivate',
  '.deuseflt': 'deactivate',
  '.unuseflt': 'deactivate',
  '.include': 'include',
};

/** ATS options remapd recognises but does not implement: an error names them instead of "unknown". */
const UNSUPPORTED_OPTIONS: Record<string, string> = {
  volume: 'cache volumes do not exist in remapd (the cache is in memory)',
  src_ip_category: 'IP categories are not supported; list the addresses with @src_ip',
};

const MAX_CAPTURES = 9;

export interface ParseOptions {
  /** Reads a file as UTF-8; injectable for tests. */
  readFile?: (path: string) => string;
}

export function parseRemapConfig(path: string, options: ParseOptions = {}): ParsedRemap {
  const read = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const top = resolve(path);
  const state = {
    baseDir: dirname(top),
    rules: [] as RuleSpec[],
    diagnostics: [] as Diagnostic[],
    files: [] as string[],
    named: new Map<string, NamedFilter>(),
    broken: new Set<string>(),
    active: [] as string[],
    stack: [] as string[],
    read,
  };
  parseFile(top, state);
  return { rules: state.rules, diagnostics: state.diagnostics, files: state.files };
}

type State = {
  baseDir: string;
  rules: RuleSpec[];
  diagnostics: Diagnostic[];
  files: string[];
  named: Map<string, NamedFilter>;
  /** Filters whose definition had errors: already reported, so using them adds no second error. */
  broken: Set<string>;
  active: string[];
  stack: string[];
  read: (path: string) => string;
};

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function parseFile(path: string, st: State, includedFrom?: { file: string; line: number }): void {
  const key = canonical(path);
  if (st.stack.includes(key)) {
    const chain = [...st.stack.slice(st.stack.indexOf(key)), key].join(' -> ');
    const at = includedFrom ?? { file: path, line: 0 };
    st.diagnostics.push({ severity: 'error', file: at.file, line: at.line, message: `include cycle: ${chain}` });
    return;
  }
  let text: string;
  try {
    text = st.read(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    const at = includedFrom ?? { file: path, line: 0 };
    const message = includedFrom ? `cannot read included file ${path}: ${reason}` : `cannot read ${path}: ${reason}`;
    st.diagnostics.push({ severity: 'error', file: at.file, line: at.line, message });
    return;
  }
  st.files.push(path);
  st.stack.push(key);
  for (const { line, tokens } of splitLogicalLines(text)) {
    const err = (message: string) => st.diagnostics.push({ severity: 'error', file: path, line, message });
    const warn = (message: string) => st.diagnostics.push({ severity: 'warning', file: path, line, message });
    if (tokens[0]!.startsWith('.')) parseDirective(tokens, path, line, st, err, warn);
    else parseRule(tokens, path, line, st, err, warn);
  }
  st.stack.pop();
}

function splitOptions(tokens: readonly string[]): { params: string[]; options: { key: string; value: string | null; token: string }[] } {
  const params: string[] = [];
  const options: { key: string; value: string | null; token: string }[] = [];
  for (const t of tokens) {
    if (!t.startsWith('@')) {
      params.push(t);
      continue;
    }
    if (t.length === 1) continue; // ATS ignores a lone "@"
    const eq = t.indexOf('=');
    const key = (eq >= 0 ? t.slice(1, eq) : t.slice(1)).toLowerCase();
    options.push({ key, value: eq >= 0 ? t.slice(eq + 1) : null, token: t });
  }
  return { params, options };
}

function parseDirective(
  tokens: string[],
  file: string,
  line: number,
  st: State,
  err: (m: string) => void,
  warn: (m: string) => void,
): void {
  const name = tokens[0]!;
  const what = DIRECTIVES[name.toLowerCase()];
  if (!what) {
    err(`unknown directive "${name}" (expected .definefilter, .deletefilter, .activatefilter, .deactivatefilter or .include)`);
    return;
  }
  const { params, options } = splitOptions(tokens.slice(1));
  if (what === 'include') {
    if (params.length === 0) {
      err(`${name} needs at least one file name`);
      return;
    }
    if (options.length > 0) err(`${name} takes file names only, not ${options[0]!.token}`);
    for (const p of params) includePath(p, file, line, st, err);
    return;
  }
  const filterName = params[0];
  if (!filterName) {
    err(`${name} needs a filter name`);
    return;
  }
  if (params.length > 1) err(`${name} takes one filter name; unexpected "${params[1]}"`);
  switch (what) {
    case 'define': {
      if (options.length === 0) {
        err(`${name} ${filterName} needs filter options (e.g. @action=deny @method=PURGE)`);
        return;
      }
      const existing = st.named.get(filterName);
      if (existing) {
        err(`filter "${filterName}" is already defined at ${existing.file}:${existing.line}`);
        return;
      }
      const nonFilter = options.filter((o) => !FILTER_OPTIONS.has(o.key));
      for (const o of nonFilter) err(`${o.token} is not a filter option (filters take @action, @method, @src_ip, @in_ip, @internal)`);
      const { filter, errors } = buildFilter(
        options.filter((o) => FILTER_OPTIONS.has(o.key)),
        filterName,
        file,
        line,
      );
      for (const e of errors) err(`filter "${filterName}": ${e}`);
      if (filter && nonFilter.length === 0) st.named.set(filterName, { filter, file, line });
      else st.broken.add(filterName);
      return;
    }
    case 'delete':
      st.named.delete(filterName);
      st.active = st.active.filter((n) => n !== filterName);
      return;
    case 'activate':
    case 'deactivate':
      if (options.length > 0) err(`${name} takes a filter name only, not ${options[0]!.token}`);
      if (filterName === 'ip_allow') {
        warn(`"${name} ip_allow" ignored: remapd has no ip_allow.yaml (requests are allowed unless a filter denies them)`);
        return;
      }
      if (!st.named.has(filterName)) {
        if (!st.broken.has(filterName)) err(`${name}: filter "${filterName}" is not defined (define it first with .definefilter)`);
        return;
      }
      st.active = st.active.filter((n) => n !== filterName);
      if (what === 'activate') st.active.push(filterName);
      return;
  }
}

function includePath(p: string, file: string, line: number, st: State, err: (m: string) => void): void {
  // Relative names resolve against the folder of the top remap.config, as ATS resolves them against its config dir.
  const full = isAbsolute(p) ? p : join(st.baseDir, p);
  let isDir = false;
  try {
    isDir = statSync(full).isDirectory();
  } catch {
    // a missing file is reported by parseFile with this line as the place
  }
  if (!isDir) {
    parseFile(full, st, { file, line });
    return;
  }
  let names: string[];
  try {
    names = readdirSync(full).sort();
  } catch (e) {
    err(`cannot read included folder ${full}: ${(e as Error).message}`);
    return;
  }
  // ATS includes every regular file of a folder in name order, without recursing.
  for (const n of names) {
    const child = join(full, n);
    try {
      if (!statSync(child).isFile()) continue;
    } catch {
      continue;
    }
    parseFile(child, st, { file, line });
  }
}

function countCaptures(re: RegExp): number {
  return new RegExp(`${re.source}|`).exec('')!.length - 1;
}

function parseRule(
  tokens: string[],
  file: string,
  line: number,
  st: State,
  err: (m: string) => void,
  warn: (m: string) => void,
): void {
  const { params, options } = splitOptions(tokens);
  // Only options on a line (usually a continuation whose trailing backslash is missing): report it, do not crash.
  if (params.length === 0) {
    err(`options without a rule type ("${tokens.join(' ')}"); is a trailing backslash missing on the line before?`);
    return;
  }
  const typeText = params[0]!.toLowerCase();
  const regex = typeText.startsWith('regex_');
  const base = regex ? typeText.slice(6) : typeText;
  const shape = RULE_TYPES[base];
  if (base === 'map_with_referer') {
    err(`${typeText} is not supported by remapd (deep-link protection); use an ACL or a plugin`);
    return;
  }
  if (!shape) {
    err(`unknown rule type "${params[0]}" (expected map, map_with_recv_port, reverse_map, redirect, redirect_temporary, or regex_ versions of them)`);
    return;
  }
  if (regex && shape.kind === 'reverse') {
    err('regex_reverse_map does not exist (ATS has no regex reverse mapping); use reverse_map with a literal host');
    return;
  }
  if (params.length < 3) {
    err(`${typeText} needs a from-URL and a to-URL (${typeText} http://public.example.com/ http://origin.example.com/)`);
    return;
  }
  let bad = false;
  if (params.length > 3) {
    const extra = params.slice(3).join(' ');
    err(
      extra.startsWith('#')
        ? `unexpected "${extra}" after the to-URL: comments must be on a line of their own`
        : `unexpected "${extra}" after the to-URL (options start with @, e.g. @plugin=)`,
    );
    bad = true;
  }

  let from: RemapUrl | null = null;
  let to: RemapUrl | null = null;
  try {
    from = parseRemapUrl(params[1]!, 'from', regex);
  } catch (e) {
    err(`from-URL: ${(e as Error).message}`);
  }
  try {
    to = parseRemapUrl(params[2]!, 'to', regex);
  } catch (e) {
    err(`to-URL: ${(e as Error).message}`);
  }

  let hostRegex: RegExp | null = null;
  if (from && regex) {
    if (from.scheme === null) {
      err(`${typeText} needs a host pattern in the from-URL (e.g. http://(.*)\\.example\\.com/)`);
      from = null;
    } else {
      try {
        hostRegex = new RegExp(from.host, 'i');
        const captures = countCaptures(hostRegex);
        // Each of these marks the rule bad: a rule with an error is never kept (a kept one would count in
        // `remapd check` and, with an invalid pattern, would even be filed as an exact-host rule).
        if (captures > MAX_CAPTURES) {
          err(`host pattern "${from.host}" has ${captures} capture groups; at most ${MAX_CAPTURES} are allowed`);
          bad = true;
        }
        if (to) {
          for (const m of to.text.matchAll(/\$(\d)/g)) {
            if (Number(m[1]) > captures) {
              err(`to-URL uses $${m[1]} but the host pattern has only ${captures} capture group(s)`);
              bad = true;
            }
          }
        }
      } catch (e) {
        err(`host pattern "${from.host}" is not a valid regular expression: ${(e as Error).message}`);
        bad = true;
      }
    }
  }
  if (from && shape.kind === 'reverse' && from.scheme === null) {
    err('reverse_map needs a host in its from-URL (the origin URL to rewrite)');
    from = null;
  }

  // Options: plugins with their params, filter options, and ATS options we name explicitly.
  const plugins: PluginSpec[] = [];
  const filterOptions: { key: string; value: string | null }[] = [];
  let strategy: string | null = null;
  for (const o of options) {
    if (o.key === 'plugin') {
      if (!o.value) {
        err('@plugin= needs a plugin name (e.g. @plugin=s3_auth.so)');
        bad = true;
        continue;
      }
      plugins.push({ name: o.value, params: [] });
    } else if (o.key === 'pparam') {
      const last = plugins[plugins.length - 1];
      if (!last) {
        err(`${o.token} comes before any @plugin= (each @pparam belongs to the @plugin before it)`);
        bad = true;
      } else if (o.value === null || o.value === '') {
        warn(`empty ${o.token} ignored (ATS drops empty plugin parameters too)`);
      } else {
        last.params.push(o.value);
      }
    } else if (FILTER_OPTIONS.has(o.key)) {
      filterOptions.push({ key: o.key, value: o.value });
    } else if (o.key === 'strategy') {
      // ATS's own docs quote the name (@strategy='mid-tier-north'); the quotes are not part of it.
      const name = (o.value ?? '').replace(/^(['"])(.*)\1$/, '$2');
      if (name === '') {
        err('@strategy= needs a strategy name from strategies.yaml (e.g. @strategy=s3-replicas)');
        bad = true;
      } else if (strategy !== null) {
        err(`${o.token}: the rule already names @strategy=${strategy} (one strategy per rule)`);
        bad = true;
      } else {
        strategy = name;
      }
    } else if (o.key === 'mapid') {
      warn(`${o.token} ignored (remapd does not use map ids)`);
    } else if (UNSUPPORTED_OPTIONS[o.key]) {
      err(`${o.token}: ${UNSUPPORTED_OPTIONS[o.key]}`);
      bad = true;
    } else {
      err(`unknown option ${o.token} (known: @plugin, @pparam, @strategy, @action, @method, @src_ip, @in_ip, @internal)`);
      bad = true;
    }
  }
  if (plugins.length > 0 && shape.kind !== 'map') {
    warn(`plugins on a ${typeText} rule are ignored (plugins run only on map rules, as in ATS)`);
    plugins.length = 0;
  }
  if (strategy !== null && shape.kind !== 'map') {
    warn(`@strategy on a ${typeText} rule is ignored (a strategy chooses the origin of map rules only)`);
    strategy = null;
  }

  const filters: AclFilter[] = [];
  if (filterOptions.length > 0) {
    const { filter, errors } = buildFilter(filterOptions, null, file, line);
    for (const e of errors) err(e);
    if (filter) filters.push(filter);
    else bad = true;
  }
  for (const name of st.active) filters.push(st.named.get(name)!.filter);

  if (!from || !to || bad) return;
  st.rules.push({
    rank: st.rules.length,
    type: typeText,
    kind: shape.kind,
    withRecvPort: shape.recv,
    redirectStatus: shape.status,
    hostRegex,
    from,
    to,
    filters,
    plugins,
    strategy,
    file,
    line,
  });
}
