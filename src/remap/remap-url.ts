/**
 * The from- and to-URLs of a remap rule: `scheme://host[:port][/path]`, or a host-less `/path` (from-side only).
 * As in ATS (RemapConfig.cc UrlWhack), a URL without a path gets `/`.
 */
import { isIPv6 } from 'node:net';

export type Scheme = 'http' | 'https';

export interface RemapUrl {
  /** As written in the file. */
  text: string;
  /** null for a host-less from-URL (`/path`), which matches either scheme. */
  scheme: Scheme | null;
  /** Lower-cased host without brackets; '' for host-less; for regex rules the from-host is the pattern source. */
  host: string;
  /** The port written in the URL, or null. */
  port: number | null;
  /** Always starts with '/'. */
  path: string;
}

export const DEFAULT_PORT: Record<Scheme, number> = { http: 80, https: 443 };

export function effectivePort(u: RemapUrl): number {
  return u.port ?? DEFAULT_PORT[u.scheme ?? 'http'];
}

/** Authorities of rules' to-URLs, worked out once: every request through a rule needs it for Host (issue 6). */
const authorities = new WeakMap<RemapUrl, string>();

/** `host[:port]` as it belongs in a Host header (port only when not the scheme's default). */
export function authorityOf(u: RemapUrl): string {
  let authority = authorities.get(u);
  if (authority === undefined) {
    const host = isIPv6(u.host) ? `[${u.host}]` : u.host;
    const scheme = u.scheme ?? 'http';
    authority = u.port !== null && u.port !== DEFAULT_PORT[scheme] ? `${host}:${u.port}` : host;
    authorities.set(u, authority);
  }
  return authority;
}

/** A reg-name host (RFC 3986 §3.2.2: unreserved, sub-delims, pct-encoded), lower-cased. */
export const HOST_CHARS = /^[a-z0-9._~!$&'()*+,;=%-]+$/;
const PATH_CHARS = /^[\x21-\x7e]*$/;

/**
 * Parses one URL of a rule.
 * @param side 'from' allows a host-less `/path`; 'to' requires a host.
 * @param regexHost the host is a regular expression (regex_* rules, from-side) or may contain `$N`
 *   substitutions (regex_* rules, to-side), so it is not checked as a host name.
 */
export function parseRemapUrl(text: string, side: 'from' | 'to', regexHost: boolean): RemapUrl {
  if (text.startsWith('/')) {
    if (side === 'to') throw new Error(`to-URL "${text}" needs a scheme and host (e.g. http://origin.example.com/)`);
    return { text, scheme: null, host: '', port: null, path: checkPath(text, text) };
  }
  const sep = text.indexOf('://');
  if (sep <= 0) {
    throw new Error(`"${text}" is not a URL: expected scheme://host[:port]/path${side === 'from' ? ' or /path' : ''}`);
  }
  const schemeText = text.slice(0, sep).toLowerCase();
  if (schemeText !== 'http' && schemeText !== 'https') {
    throw new Error(`scheme "${schemeText}" in "${text}" is not supported (remapd proxies http and https only)`);
  }
  const scheme: Scheme = schemeText;
  const rest = text.slice(sep + 3);
  // The authority ends at the path, or at a query or fragment written without a path ("http://h?x"), which
  // checkPath then refuses by name. A from-side host pattern may use '?' as a quantifier, so only '/' ends it.
  const end = side === 'from' && regexHost ? rest.indexOf('/') : rest.search(/[/?#]/);
  const authority = end >= 0 ? rest.slice(0, end) : rest;
  const path = end >= 0 ? rest.slice(end) : '/';
  if (authority === '') throw new Error(`"${text}" has no host`);
  if (authority.includes('@')) throw new Error(`"${text}": user information (user@host) is not allowed in a rule URL`);

  let host: string;
  let portText: string | null = null;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw new Error(`"${text}": unterminated IPv6 literal`);
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw new Error(`"${text}": unexpected "${after}" after the IPv6 literal`);
      portText = after.slice(1);
    }
  } else {
    const m = /:(\d*)$/.exec(authority);
    if (m && !(regexHost && m[1] === '')) {
      host = authority.slice(0, m.index);
      portText = m[1]!;
    } else {
      host = authority;
    }
  }

  let port: number | null = null;
  if (portText !== null) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new Error(`"${text}": port "${portText}" is not a number from 1 to 65535`);
    }
    port = Number(portText);
  }
  if (!regexHost) {
    host = host.toLowerCase();
    // Brackets are for IPv6 literals only (RFC 3986 section 3.2.2): "[zzz]" or "[192.0.2.1]" is a typo, not a host.
    if (authority.startsWith('[')) {
      if (!/^[0-9a-f:.]+$/.test(host) || !isIPv6(host)) throw new Error(`"${text}": "[${host}]" is not a valid IPv6 address`);
    } else if (!HOST_CHARS.test(host)) {
      throw new Error(`"${text}": "${host}" is not a valid host name`);
    }
  } else if (host === '') {
    throw new Error(`"${text}" has no host`);
  }
  return { text, scheme, host, port, path: checkPath(path, text) };
}

function checkPath(path: string, text: string): string {
  if (path.includes('?')) throw new Error(`"${text}": a rule URL cannot have a query string`);
  if (path.includes('#')) throw new Error(`"${text}": a rule URL cannot have a fragment`);
  if (!PATH_CHARS.test(path)) throw new Error(`"${text}": the path has a space or a non-ASCII character; percent-encode it`);
  return path;
}

/**
 * Formats a parsed (non-regex) URL back to text: what plugins receive as argv[0]/argv[1], like ATS's
 * URL::string_get. Regex rules pass the URL as written.
 */
export function formatRemapUrl(u: RemapUrl): string {
  if (u.scheme === null && u.host === '') return u.path;
  const host = isIPv6(u.host) ? `[${u.host}]` : u.host;
  return `${u.scheme ?? 'http'}://${host}${u.port !== null ? `:${u.port}` : ''}${u.path}`;
}
