/**
 * IP address ranges for `@src_ip=` / `@in_ip=`: a single address, `first-last`, CIDR `addr/bits`, `all`, each
 * optionally negated with a leading `~` (ATS RemapConfig.cc: `src_ip=~`). IPv4 and IPv6; an IPv4-mapped IPv6
 * address (`::ffff:10.0.0.1`, what a dual-stack socket reports) is matched as the IPv4 address it carries.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

/** One `@src_ip` entry: a range (or every address), possibly inverted. */
export interface IpEntry {
  text: string;
  all: boolean;
  invert: boolean;
  range: IpRange | null;
}

export interface ParsedAddress {
  family: 4 | 6;
  value: bigint;
}

const V4_BITS = 32n;
const V6_BITS = 128n;

function parseV4(text: string): bigint {
  let value = 0n;
  for (const part of text.split('.')) value = (value << 8n) | BigInt(Number(part));
  return value;
}

function parseV6(text: string): bigint {
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const toGroups = (s: string): bigint[] => {
    if (s === '') return [];
    const out: bigint[] = [];
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const v4 = parseV4(part);
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else {
        out.push(BigInt(parseInt(part, 16)));
      }
    }
    return out;
  };
  const h = toGroups(head);
  const t = toGroups(tail);
  const groups = dbl >= 0 ? [...h, ...new Array<bigint>(8 - h.length - t.length).fill(0n), ...t] : h;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | g;
  return value;
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** Parses an address; returns null when it is not an IPv4 or IPv6 literal. Zone ids (`%eth0`) are ignored. */
export function parseAddress(text: string): ParsedAddress | null {
  const pct = text.indexOf('%');
  const bare = pct >= 0 ? text.slice(0, pct) : text;
  if (isIPv4(bare)) return { family: 4, value: parseV4(bare) };
  if (isIPv6(bare)) {
    const value = parseV6(bare);
    // ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket: match it against IPv4 ranges.
    if (value >> 32n === 0xffffn) return { family: 4, value: value - MAPPED_PREFIX };
    return { family: 6, value };
  }
  return null;
}

/** Parses one `@src_ip` value (without the `src_ip=` prefix); throws with a precise reason. */
export function parseIpEntry(raw: string): IpEntry {
  const invert = raw.startsWith('~');
  const text = invert ? raw.slice(1) : raw;
  if (text === '') throw new Error(`empty IP value in "${raw}"`);
  if (text.toLowerCase() === 'all') return { text: raw, all: true, invert, range: null };

  const slash = text.indexOf('/');
  if (slash >= 0) {
    const addr = parseAddress(text.slice(0, slash));
    const bitsText = text.slice(slash + 1);
    if (!addr) throw new Error(`"${text.slice(0, slash)}" is not an IP address (in "${raw}")`);
    const max = addr.family === 4 ? V4_BITS : V6_BITS;
    if (!/^\d{1,3}$/.test(bitsText) || BigInt(bitsText) > max) {
      throw new Error(`"/${bitsText}" is not a prefix length for IPv${addr.family} (0-${max}) in "${raw}"`);
    }
    const hostBits = max - BigInt(bitsText);
    const mask = (1n << hostBits) - 1n;
    // ATS accepts host bits in the network address (e.g. 192.0.2.1/24); so do we.
    const first = addr.value & ~mask;
    return { text: raw, all: false, invert, range: { family: addr.family, first, last: first | mask } };
  }

  const dash = text.indexOf('-');
  if (dash >= 0) {
    const a = parseAddress(text.slice(0, dash));
    const b = parseAddress(text.slice(dash + 1));
    if (!a) throw new Error(`"${text.slice(0, dash)}" is not an IP address (in "${raw}")`);
    if (!b) throw new Error(`"${text.slice(dash + 1)}" is not an IP address (in "${raw}")`);
    if (a.family !== b.family) throw new Error(`range "${raw}" mixes IPv4 and IPv6`);
    if (a.value > b.value) throw new Error(`range "${raw}" ends before it starts`);
    return { text: raw, all: false, invert, range: { family: a.family, first: a.value, last: b.value } };
  }

  const addr = parseAddress(text);
  if (!addr) throw new Error(`"${text}" is not an IP address, range (a-b), CIDR (a/n) or "all"`);
  return { text: raw, all: false, invert, range: { family: addr.family, first: addr.value, last: addr.value } };
}

/** True when `addr` is in the entry, taking `~` into account. */
export function entryMatches(entry: IpEntry, addr: ParsedAddress | null): boolean {
  let inside: boolean;
  if (entry.all) inside = true;
  else if (!addr || !entry.range) inside = false;
  else inside = addr.family === entry.range.family && addr.value >= entry.range.first && addr.value <= entry.range.last;
  return inside !== entry.invert;
}

/** A list of entries matches when any entry matches (ATS AclFiltering: the src_ip array is an OR). */
export function listMatches(entries: readonly IpEntry[], addr: ParsedAddress | null): boolean {
  for (const e of entries) if (entryMatches(e, addr)) return true;
  return false;
}
