/**
 * Which header fields are signed, and their canonical form.
 *
 * ATS's rule, kept for drop-in compatibility: with no --v4-include-headers every field is signed except the
 * --v4-exclude-headers list; with an include list only those, minus the exclude list. Composed with two fixed sets
 * from constants.ts: `host`, `content-type` and every `x-amz-*` are always signed (AWS requires them), and Via,
 * X-Forwarded-For, Forwarded and the hop-by-hop fields never are, whatever the lists say.
 */
import type { HeaderList } from '../../proxy/header-list.js';
import { isAlwaysSigned, NEVER_SIGNED } from './constants.js';

export interface HeaderSelection {
  /** Lower-case names from --v4-include-headers, or null when none was given (sign everything). */
  readonly include: ReadonlySet<string> | null;
  /** Lower-case names from --v4-exclude-headers. */
  readonly exclude: ReadonlySet<string>;
}

export const SIGN_ALL: HeaderSelection = { include: null, exclude: new Set() };

export function isSigned(lowerName: string, selection: HeaderSelection): boolean {
  if (NEVER_SIGNED.has(lowerName) || lowerName.startsWith('proxy-')) return false;
  if (isAlwaysSigned(lowerName)) return true;
  if (selection.include !== null && !selection.include.has(lowerName)) return false;
  return !selection.exclude.has(lowerName);
}

export interface CanonicalHeaders {
  /** `name:value\n` lines, sorted by name. */
  canonical: string;
  /** Sorted names joined with ';'. */
  signedHeaders: string;
}

/** Only space and tab are HTTP whitespace (RFC 9110 §5.6.3); JS's \s would also eat e.g. a 0xA0 byte. */
const SPACE_RUNS = /[ \t]+/g;
const EDGE_SPACE = /^ | $/g;

/** A tab, two spaces in a row, or a space at either end: only then is there anything to squeeze. */
function needsTrim(v: string): boolean {
  const last = v.length - 1;
  if (last < 0) return false;
  if (v.charCodeAt(0) === 0x20 || v.charCodeAt(last) === 0x20) return true;
  for (let i = 0; i <= last; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x09 || (c === 0x20 && v.charCodeAt(i + 1) === 0x20)) return true;
  }
  return false;
}

/**
 * Per selection, raw field name → its lower-case name when signed, '' when not. Names repeat from request to
 * request, so the lower-casing and set lookups happen once per name instead of once per request (issue 6).
 */
const decisions = new WeakMap<HeaderSelection, Map<string, string>>();
const MAX_DECISIONS = 512;

function signedName(raw: string, selection: HeaderSelection): string {
  let memo = decisions.get(selection);
  if (memo === undefined) {
    memo = new Map();
    decisions.set(selection, memo);
  }
  let lower = memo.get(raw);
  if (lower === undefined) {
    const l = raw.toLowerCase();
    lower = isSigned(l, selection) ? l : '';
    // Clients choose names: a bounded memo, so odd names cannot grow it without limit.
    if (memo.size >= MAX_DECISIONS) memo.clear();
    memo.set(raw, lower);
  }
  return lower;
}

/**
 * Canonical headers ("CanonicalHeaders", AWS SigV4 docs): names lower-cased; values trimmed with inner runs of
 * whitespace squeezed to one space; repeated fields joined with ',' in the order received.
 */
export function canonicalHeaders(headers: HeaderList, selection: HeaderSelection): CanonicalHeaders {
  // Parallel arrays and an insertion sort: a request has a handful of signed fields, and this is the signing
  // hot path (a keyed object and Array#sort measured slower for fewer than ~20 fields).
  const names: string[] = [];
  const values: string[] = [];
  const raw = headers.raw;
  for (let i = 0; i < raw.length; i += 2) {
    const name = signedName(raw[i]!, selection);
    if (name === '') continue;
    const v = raw[i + 1]!;
    const value = needsTrim(v) ? v.replace(SPACE_RUNS, ' ').replace(EDGE_SPACE, '') : v;
    const at = names.indexOf(name);
    if (at >= 0) {
      values[at] = `${values[at]!},${value}`;
      continue;
    }
    // Insert in order: names compare as UTF-16 code units, which is byte order for these ASCII tokens.
    let j = names.length;
    names.push(name);
    values.push(value);
    while (j > 0 && names[j - 1]! > name) {
      names[j] = names[j - 1]!;
      values[j] = values[j - 1]!;
      j--;
    }
    names[j] = name;
    values[j] = value;
  }
  let canonical = '';
  let signedHeaders = '';
  for (let i = 0; i < names.length; i++) {
    canonical += `${names[i]!}:${values[i]!}\n`;
    signedHeaders += i === 0 ? names[i]! : `;${names[i]!}`;
  }
  return { canonical, signedHeaders };
}

/** Parses a comma-separated header list option into lower-case names. */
export function parseHeaderNames(value: string): Set<string> {
  return new Set(
    value
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}
