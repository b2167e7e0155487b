/**
 * Header rules for forwarding (RFC 9110 §7.6): what a proxy removes, and what it adds.
 */
import { HeaderList } from './header-list.js';

/**
 * Hop-by-hop fields: meaningful only for one connection, never forwarded (RFC 9110 §7.6.1). `proxy-connection`
 * is the pre-standard spelling some clients still send.
 */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Field names listed in Connection headers (lower-cased): the sender declared them hop-by-hop too. */
export function connectionTokens(raw: readonly string[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length !== 10 || n.toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1]!.split(',')) {
      const tok = t.trim().toLowerCase();
      if (tok !== '' && tok !== 'close' && tok !== 'keep-alive') (tokens ??= new Set()).add(tok);
    }
  }
  return tokens;
}

/** Fields of the client request that are rebuilt, not copied, for the origin. */
const REBUILT_REQUEST = new Set(['host', 'expect', 'via', 'x-forwarded-for']);

export interface OriginHeaderOptions {
  /** The Host value to send. */
  host: string;
  /** `1.1 remapd`-style Via entry to append. */
  via: string;
  /** Client address to append to X-Forwarded-For, or null to leave the header alone. */
  forwardedFor: string | null;
}

/**
 * Builds the origin request's fields from the client's raw fields in one pass: Host first, then the client's
 * fields in order minus hop-by-hop ones (and those named in Connection) and Expect (Node answers 100-continue
 * itself), then Via and X-Forwarded-For with remapd's entries appended.
 */
export function buildOriginHeaders(clientRaw: readonly string[], options: OriginHeaderOptions): HeaderList {
  const tokens = connectionTokens(clientRaw);
  const out: string[] = ['host', options.host];
  let via: string | null = null;
  let xff: string | null = null;
  for (let i = 0; i < clientRaw.length; i += 2) {
    const name = clientRaw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (tokens !== null && tokens.has(lower))) continue;
    if (REBUILT_REQUEST.has(lower)) {
      if (lower === 'via') via = via === null ? clientRaw[i + 1]! : `${via}, ${clientRaw[i + 1]}`;
      else if (lower === 'x-forwarded-for') xff = xff === null ? clientRaw[i + 1]! : `${xff}, ${clientRaw[i + 1]}`;
      continue;
    }
    out.push(name, clientRaw[i + 1]!);
  }
  out.push('via', via === null ? options.via : `${via}, ${options.via}`);
  if (options.forwardedFor !== null) {
    out.push('x-forwarded-for', xff === null ? options.forwardedFor : `${xff}, ${options.forwardedFor}`);
  } else if (xff !== null) {
    out.push('x-forwarded-for', xff);
  }
  return new HeaderList(out);
}

/** Removes hop-by-hop fields (and those the Connection header names) from a response before it is forwarded. */
export function stripHopByHop(headers: HeaderList): void {
  const tokens = connectionTokens(headers.raw);
  headers.deleteWhere((lower) => HOP_BY_HOP.has(lower) || (tokens !== null && tokens.has(lower)));
}

/** Appends remapd's Via entry to a response (RFC 9110 §7.6.3: a proxy MUST send Via in forwarded messages). */
export function appendVia(headers: HeaderList, entry: string): void {
  const existing = headers.getAll('via');
  if (existing.length === 0) headers.add('Via', entry);
  else headers.set('Via', `${existing.join(', ')}, ${entry}`);
}
