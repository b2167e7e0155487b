/**
 * Reads the request-target and Host of a client request (RFC 9112 §3.2) into the parts remap matches on, and
 * refuses targets that are unsafe to forward. A string scan: no URL object per request.
 */
import { RemapdError } from '../errors.js';
import type { Scheme } from '../plugins/api.js';
import { DEFAULT_PORT } from '../remap/remap-url.js';

export interface RequestTarget {
  /** Lower-cased host without port or brackets; '' when the request named none (HTTP/1.0 without Host). */
  host: string;
  port: number;
  /** Raw path, starting with '/'. */
  path: string;
  /** Raw query with its '?', or ''. */
  search: string;
}

const HOST_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$/;
const IPV6_LITERAL = /^[0-9a-f:.]+$/;

/**
 * Parses a Host header value (or the authority of an absolute-form target). Returns null when it is not a valid
 * `host[:port]`: such a value must never reach a regex rule's substitution or the origin.
 */
export function parseAuthority(value: string, scheme: Scheme): { host: string; port: number } | null {
  let host: string;
  let portText = '';
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return null;
    host = value.slice(1, close).toLowerCase();
    const rest = value.slice(close + 1);
    if (rest !== '') {
      if (rest[0] !== ':') return null;
      portText = rest.slice(1);
    }
    if (!IPV6_LITERAL.test(host)) return null;
  } else {
    const colon = value.indexOf(':');
    if (colon >= 0) {
      host = value.slice(0, colon).toLowerCase();
      portText = value.slice(colon + 1);
    } else {
      host = value.toLowerCase();
    }
    if (!HOST_NAME.test(host)) return null;
  }
  let port = DEFAULT_PORT[scheme];
  if (portText !== '') {
    if (!/^\d{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port < 1 || port > 65535) return null;
  }
  return { host, port };
}

/**
 * Checks a raw path for things that could escape a rule's path prefix or confuse an origin: dot segments (also
 * percent-encoded), NUL, and malformed percent-encoding. Returns the reason, or null when the path is acceptable.
 */
export function pathProblem(path: string): string | null {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const h = path.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) return 'malformed percent-encoding in the path';
      if (h === '00') return 'the path contains an encoded NUL (%00)';
    } else if (c <= 0x20 || c === 0x7f) {
      return 'the path contains a control character or space';
    }
  }
  // A segment that is "." or ".." (in any mix of literal and %2e) would let the path climb out of a rule's prefix
  // at any origin that normalises paths.
  let start = 1;
  for (let i = 1; i <= path.length; i++) {
    if (i === path.length || path.charCodeAt(i) === 0x2f) {
      const seg = path.slice(start, i);
      if (seg.length > 0 && seg.length <= 6 && /^(?:\.|%2e){1,2}$/i.test(seg)) return 'the path contains a "." or ".." segment';
      start = i + 1;
    }
  }
  return null;
}

/**
 * Parses the request-target (origin-form or absolute-form) and the Host header. In absolute-form the target's
 * authority wins over Host (RFC 9112 §3.2.2).
 */
export function parseRequestTarget(target: string, hostHeader: string | undefined, scheme: Scheme): RequestTarget {
  let rest = target;
  let authority: string | undefined = hostHeader;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const m = /^(https?):\/\/([^/?#]*)/i.exec(target);
    if (!m) {
      if (target === '*') throw new RemapdError('ERR_BAD_REQUEST', 'the asterisk-form request target (OPTIONS *) is not supported');
      throw new RemapdError('ERR_BAD_REQUEST', 'the request target must be a path (/…) or an absolute http(s) URL');
    }
    authority = m[2]!;
    rest = target.slice(m[0].length) || '/';
    if (rest.charCodeAt(0) !== 0x2f) rest = `/${rest}`;
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) throw new RemapdError('ERR_BAD_REQUEST', 'the request target must not contain a fragment (#)');
  const q = rest.indexOf('?');
  const path = q >= 0 ? rest.slice(0, q) : rest;
  const search = q >= 0 ? rest.slice(q) : '';
  const problem = pathProblem(path);
  if (problem) throw new RemapdError('ERR_BAD_REQUEST', problem);

  if (authority === undefined || authority === '') return { host: '', port: DEFAULT_PORT[scheme], path, search };
  const parsed = parseAuthority(authority, scheme);
  if (!parsed) throw new RemapdError('ERR_BAD_REQUEST', 'the Host header is not a valid host[:port]');
  const host = parsed.host.endsWith('.') ? parsed.host.slice(0, -1) : parsed.host;
  return { host, port: parsed.port, path, search };
}
