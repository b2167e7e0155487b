/**
 * The lookup table: which rule handles a request, by ATS's precedence (remap.config.en.rst, "Precedence"):
 *
 *   groups, in order: map_with_recv_port (+regex) → map (+regex_map) → redirect/redirect_temporary →
 *   regex_redirect/regex_redirect_temporary;
 *   in each group, phase 1 considers only rules with a host (exact host or host pattern), phase 2 only host-less
 *   rules (`map / …`); within a phase the earliest rule in the file whose from-path is a prefix of the request
 *   path wins.
 *
 * Built once per configuration; a lookup is a Map get plus short scans, no allocation but the result.
 */
import type { Diagnostic } from '../errors.js';
import type { RuleSpec } from './parser.js';
import { DEFAULT_PORT, effectivePort, type Scheme } from './remap-url.js';

export interface MatchRequest {
  scheme: Scheme;
  /** Lower-cased host from the absolute URL or Host header, without port or IPv6 brackets; '' when absent. */
  host: string;
  /** Port from the Host header, or the scheme's default. */
  port: number;
  /** Port the connection arrived on (map_with_recv_port). */
  recvPort: number;
  /** Raw request path, starting with '/'. */
  path: string;
}

export interface Match<R extends RuleSpec> {
  rule: R;
  /** Host-pattern captures ($0..$9) of regex rules, else null. */
  captures: RegExpExecArray | null;
}

interface Group<R extends RuleSpec> {
  exact: Map<string, R[]>;
  regex: R[];
  hostless: R[];
}

function newGroup<R extends RuleSpec>(): Group<R> {
  return { exact: new Map(), regex: [], hostless: [] };
}

function groupIndex(r: RuleSpec): number {
  if (r.kind === 'map') return r.withRecvPort ? 0 : 1;
  return r.hostRegex ? 3 : 2;
}

function portMatches(r: RuleSpec, req: MatchRequest): boolean {
  const want = effectivePort(r.from);
  return r.withRecvPort ? want === req.recvPort : want === req.port;
}

function schemeMatches(r: RuleSpec, req: MatchRequest): boolean {
  return r.from.scheme === null || r.from.scheme === req.scheme;
}

export class RuleTable<R extends RuleSpec> {
  private readonly groups: Group<R>[] = [newGroup(), newGroup(), newGroup(), newGroup()];
  private readonly reverseRules: R[] = [];
  readonly rules: readonly R[];

  constructor(rules: readonly R[]) {
    this.rules = rules;
    for (const r of rules) {
      if (r.kind === 'reverse') {
        this.reverseRules.push(r);
        continue;
      }
      const g = this.groups[groupIndex(r)]!;
      if (r.hostRegex) g.regex.push(r);
      else if (r.from.scheme === null) g.hostless.push(r);
      else {
        const list = g.exact.get(r.from.host);
        if (list) list.push(r);
        else g.exact.set(r.from.host, [r]);
      }
    }
  }

  lookup(req: MatchRequest): Match<R> | null {
    for (const g of this.groups) {
      const m = this.lookupGroup(g, req);
      if (m) return m;
    }
    return null;
  }

  private lookupGroup(g: Group<R>, req: MatchRequest): Match<R> | null {
    let best: R | null = null;
    if (req.host !== '') {
      const list = g.exact.get(req.host);
      if (list) {
        for (const r of list) {
          if (schemeMatches(r, req) && portMatches(r, req) && req.path.startsWith(r.from.path)) {
            best = r;
            break;
          }
        }
      }
      for (const r of g.regex) {
        if (best && r.rank > best.rank) break;
        if (!schemeMatches(r, req) || !portMatches(r, req) || !req.path.startsWith(r.from.path)) continue;
        const m = r.hostRegex!.exec(req.host);
        if (m) return { rule: r, captures: m };
      }
      if (best) return { rule: best, captures: null };
    }
    for (const r of g.hostless) {
      if (schemeMatches(r, req) && req.path.startsWith(r.from.path)) return { rule: r, captures: null };
    }
    return null;
  }

  /**
   * reverse_map: rewrites an absolute URL from a response header (Location, Content-Location, Refresh) whose
   * scheme, authority and path start match a reverse rule's from-URL. Returns null when no rule applies.
   */
  reverse(url: string): string | null {
    if (this.reverseRules.length === 0) return null;
    const sep = url.indexOf('://');
    if (sep <= 0) return null;
    const scheme = url.slice(0, sep).toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') return null;
    const rest = url.slice(sep + 3);
    let end = rest.length;
    for (const c of ['/', '?', '#']) {
      const i = rest.indexOf(c);
      if (i >= 0 && i < end) end = i;
    }
    const authority = rest.slice(0, end).toLowerCase();
    // "http://origin?x=1" has an empty path, which is "/" (RFC 9110 section 4.2.3); without this the query would
    // stop the from-path prefix match and the origin's name would leak to the client.
    const tail = rest.slice(end);
    const pathAndMore = tail.startsWith('/') ? tail : `/${tail}`;
    const { host, port } = splitAuthority(authority, DEFAULT_PORT[scheme]);
    for (const r of this.reverseRules) {
      if (r.from.scheme !== scheme || r.from.host !== host || effectivePort(r.from) !== port) continue;
      if (!pathAndMore.startsWith(r.from.path)) continue;
      return joinUrl(r.to, pathAndMore.slice(r.from.path.length));
    }
    return null;
  }

  /**
   * Warnings for rules that can never be chosen: an earlier rule of the same group and phase, or any rule of a
   * group tried before it (maps before redirects, whatever the file order), matches every request they would.
   * map_with_recv_port rules compare a different port, so they are only compared among themselves.
   */
  shadowWarnings(): Diagnostic[] {
    const out: Diagnostic[] = [];
    const phases = (g: Group<R>): R[][] => [[...[...g.exact.values()].flat(), ...g.regex].sort((a, b) => a.rank - b.rank), g.hostless];
    const byGroup = this.groups.map(phases);
    for (let gi = 0; gi < byGroup.length; gi++) {
      for (let phase = 0; phase < 2; phase++) {
        const list = byGroup[gi]![phase]!;
        const before = gi === 0 ? [] : byGroup.slice(1, gi).flatMap((p) => p[phase]!);
        for (let i = 0; i < list.length; i++) {
          const later = list[i]!;
          const by = before.find((e) => covers(e, later)) ?? list.slice(0, i).find((e) => covers(e, later));
          if (by) out.push(shadowed(later, by));
        }
      }
    }
    return out;
  }
}

/** Does `earlier` match every request `later` matches (same phase and group, earlier rank)? */
function covers(earlier: RuleSpec, later: RuleSpec): boolean {
  if (earlier.from.scheme !== null && earlier.from.scheme !== later.from.scheme) return false;
  if (earlier.from.scheme !== null && effectivePort(earlier.from) !== effectivePort(later.from)) return false;
  if (!later.from.path.startsWith(earlier.from.path)) return false;
  if (later.from.scheme === null) return earlier.from.scheme === null;
  if (earlier.hostRegex) {
    if (later.hostRegex) return earlier.hostRegex.source === later.hostRegex.source;
    return earlier.hostRegex.test(later.from.host);
  }
  return !later.hostRegex && earlier.from.host === later.from.host;
}

function shadowed(rule: RuleSpec, by: RuleSpec): Diagnostic {
  const why =
    groupIndex(by) === groupIndex(rule)
      ? 'the earliest matching rule wins; put the more specific rule first'
      : `${by.kind} rules are matched before ${rule.hostRegex ? 'regex_' : ''}${rule.kind} rules, whatever their order in the file`;
  return {
    severity: 'warning',
    file: rule.file,
    line: rule.line,
    message:
      `this ${rule.type} rule is never used: the ${by.rank < rule.rank ? 'earlier ' : ''}rule at ${by.file}:${by.line} ` +
      `(${by.type} ${by.from.text}) matches every request it would (${why})`,
  };
}

export function splitAuthority(authority: string, defaultPort: number): { host: string; port: number } {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close > 0) {
      const host = authority.slice(1, close);
      const rest = authority.slice(close + 1);
      const port = rest.startsWith(':') && rest.length > 1 ? Number(rest.slice(1)) : defaultPort;
      return { host, port };
    }
    return { host: authority, port: defaultPort };
  }
  const colon = authority.lastIndexOf(':');
  if (colon >= 0 && authority.indexOf(':') === colon) {
    const p = authority.slice(colon + 1);
    return { host: authority.slice(0, colon), port: p === '' ? defaultPort : Number(p) };
  }
  return { host: authority, port: defaultPort };
}

/**
 * Joins a rule's to-URL path with what is left of the request path after the from-path, keeping exactly one
 * '/' at the seam (ATS: `map http://h/a/b/ http://o/x/y` sends /a/b/c to /x/y/c).
 */
export function joinPath(toPath: string, remainder: string): string {
  if (remainder === '') return toPath;
  const toSlash = toPath.endsWith('/');
  const remSlash = remainder.startsWith('/');
  if (toSlash && remSlash) return toPath + remainder.slice(1);
  if (!toSlash && !remSlash) return `${toPath}/${remainder}`;
  return toPath + remainder;
}

/**
 * The origin path of `requestPath` under a rule: the to-path, then what follows the from-path. When the from-path
 * ends with '/', what follows it is kept exactly — a '/' right after the prefix is an empty segment of the key,
 * and for S3 `public//a` and `public/a` are different objects (ATS appends the remainder as it is, too). Otherwise
 * joinPath's one slash at the seam (`/a/b` → `/x/y/` sends `/a/b/c` to `/x/y/c`).
 */
export function remapPath(fromPath: string, toPath: string, requestPath: string): string {
  const remainder = requestPath.slice(fromPath.length);
  if (remainder !== '' && fromPath.endsWith('/')) return (toPath.endsWith('/') ? toPath : `${toPath}/`) + remainder;
  return joinPath(toPath, remainder);
}

function joinUrl(to: RuleSpec['to'], remainder: string): string {
  const host = to.host.includes(':') ? `[${to.host}]` : to.host;
  const port = to.port !== null && to.port !== DEFAULT_PORT[to.scheme ?? 'http'] ? `:${to.port}` : '';
  let path = remainder;
  let tail = '';
  const q = remainder.search(/[?#]/);
  if (q >= 0) {
    path = remainder.slice(0, q);
    tail = remainder.slice(q);
  }
  return `${to.scheme}://${host}${port}${joinPath(to.path, path)}${tail}`;
}
