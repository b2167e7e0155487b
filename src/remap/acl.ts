/**
 * ACL filters of remap.config: in-line `@action/@method/@src_ip/@in_ip/@internal` on a rule and named filters
 * (`.definefilter`, `.activatefilter`).
 *
 * Semantics (matches the results ATS's own ACL test table expects, tests/gold_tests/remap/all_acl_combinations.py,
 * with ip_allow.yaml allowing everything, which is remapd's default):
 * a filter's predicate is "source address in @src_ip (if any) AND local address in @in_ip (if any) AND method in
 * @method (if any) AND internal (if @internal)". An `allow` filter lets through only requests that satisfy its
 * predicate; a `deny` filter stops exactly those. A request passes when EVERY filter on the rule lets it
 * through — so `@action=allow @src_ip=10.0.0.0/8` means "only 10/8", and deny always wins over allow.
 */
import { type IpEntry, listMatches, type ParsedAddress, parseIpEntry } from './ip-range.js';

export interface AclFilter {
  /** The named filter this came from, or null for an in-line filter. */
  name: string | null;
  allow: boolean;
  /** Upper-case method names; null when the filter has no @method. */
  methods: Set<string> | null;
  srcIp: IpEntry[] | null;
  inIp: IpEntry[] | null;
  internal: boolean;
  /** Where it was written, for messages. */
  file: string;
  line: number;
}

export interface AclSubject {
  method: string;
  remote: ParsedAddress | null;
  local: ParsedAddress | null;
  internal: boolean;
}

/** The filter-related option names this module owns (without the leading `@`). */
export const FILTER_OPTIONS = new Set(['action', 'method', 'src_ip', 'in_ip', 'internal']);

const ALLOW_WORDS = new Set(['allow', 'add_allow', 'set_allow', '1', 'on', 'enable']);
const DENY_WORDS = new Set(['deny', 'add_deny', 'set_deny', '0', 'off', 'disable']);

/**
 * Builds a filter from `name=value` options (already stripped of `@`). Returns the filter, or the list of
 * problems (every one, not just the first).
 */
export function buildFilter(
  options: readonly { key: string; value: string | null }[],
  name: string | null,
  file: string,
  line: number,
): { filter: AclFilter | null; errors: string[] } {
  const errors: string[] = [];
  let allow: boolean | null = null;
  let methods: Set<string> | null = null;
  let srcIp: IpEntry[] | null = null;
  let inIp: IpEntry[] | null = null;
  let internal = false;

  for (const { key, value } of options) {
    if (key === 'internal') {
      internal = true;
      continue;
    }
    if (value === null || value === '') {
      errors.push(`@${key} needs a value (e.g. @${key}=${example(key)})`);
      continue;
    }
    switch (key) {
      case 'action': {
        if (allow !== null) {
          errors.push('only one @action= is allowed per filter');
          break;
        }
        const v = value.toLowerCase();
        if (ALLOW_WORDS.has(v)) allow = true;
        else if (DENY_WORDS.has(v)) allow = false;
        else errors.push(`@action=${value} is not allow or deny`);
        break;
      }
      case 'method':
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
          errors.push(`@method=${value} is not an HTTP method token`);
          break;
        }
        (methods ??= new Set()).add(value.toUpperCase());
        break;
      case 'src_ip':
      case 'in_ip':
        try {
          const entry = parseIpEntry(value);
          if (key === 'src_ip') (srcIp ??= []).push(entry);
          else (inIp ??= []).push(entry);
        } catch (err) {
          errors.push(`@${key}: ${(err as Error).message}`);
        }
        break;
      default:
        errors.push(`@${key} is not a filter option`);
    }
  }
  if (errors.length > 0) return { filter: null, errors };
  // ATS's acl_filter_rule defaults to allow when no @action is given.
  return { filter: { name, allow: allow ?? true, methods, srcIp, inIp, internal, file, line }, errors };
}

function example(key: string): string {
  switch (key) {
    case 'action':
      return 'deny';
    case 'method':
      return 'GET';
    default:
      return '10.0.0.0/8';
  }
}

function predicate(f: AclFilter, s: AclSubject): boolean {
  if (f.srcIp && !listMatches(f.srcIp, s.remote)) return false;
  if (f.inIp && !listMatches(f.inIp, s.local)) return false;
  if (f.methods && !f.methods.has(s.method)) return false;
  if (f.internal && !s.internal) return false;
  return true;
}

/** Returns the filter that refuses the request, or null when every filter lets it through. */
export function deniedBy(filters: readonly AclFilter[], subject: AclSubject): AclFilter | null {
  for (const f of filters) {
    if (predicate(f, subject) !== f.allow) return f;
  }
  return null;
}
