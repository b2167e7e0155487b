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
const NEEDS_TRIM = /\t| {2}|^ | $/;

/**
 * Canonical headers ("CanonicalHeaders", AWS SigV4 docs): names lower-cased; values trimmed with inner runs of
 * whitespace squeezed to one space; repeated fields joined with ',' in the order received.
 */
export function canonicalHeaders(headers: HeaderList, selection: HeaderSelection): CanonicalHeaders {
  // A plain object keyed by name: a handful of fields, on the signing hot path.
  const byName: Record<string, string> = Object.create(null) as Record<string, string>;
  const names: string[] = [];
  const raw = headers.raw;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!isSigned(name, selection)) continue;
    const v = raw[i + 1]!;
    const value = NEEDS_TRIM.test(v) ? v.replace(SPACE_RUNS, ' ').replace(EDGE_SPACE, '') : v;
    const prev = byName[name];
    if (prev === undefined) {
      names.push(name);
      byName[name] = value;
    } else {
      byName[name] = `${prev},${value}`;
    }
  }
  names.sort();
  let canonical = '';
  for (const n of names) canonical += `${n}:${byName[n]!}\n`;
  return { canonical, signedHeaders: names.join(';') };
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
