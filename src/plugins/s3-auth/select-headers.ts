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

/**
 * Canonical headers ("CanonicalHeaders", AWS SigV4 docs): names lower-cased; values trimmed with inner runs of
 * whitespace squeezed to one space; repeated fields joined with ',' in the order received.
 */
export function canonicalHeaders(headers: HeaderList, selection: HeaderSelection): CanonicalHeaders {
  const byName = new Map<string, string>();
  const raw = headers.raw;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!isSigned(name, selection)) continue;
    const value = raw[i + 1]!.replace(SPACE_RUNS, ' ').replace(EDGE_SPACE, '');
    const prev = byName.get(name);
    byName.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  const names = [...byName.keys()].sort();
  let canonical = '';
  for (const n of names) canonical += `${n}:${byName.get(n)!}\n`;
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
