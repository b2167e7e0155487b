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
  /**
   * The `host[:port]` the request named, as sent: the absolute-form target's authority, else the Host header's
   * value ('' when neither). What pristine_host_hdr forwards.
   */
  authority: string;
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
 * Why a raw path must not be forwarded, or null when it may be. The path is read the way a lenient origin behind
 * a rule might read it, so that no reading of it climbs out of the rule's path prefix:
 * - every `%` starts a `%XX` triplet (`%zz`, `%4` are refused, not passed on for each origin to guess at);
 * - no space, control character, DEL or non-ASCII character (Node's parser refuses them first on the wire);
 * - no literal backslash: it is not a URI character (RFC 3986 §2), and Windows-style servers read it as `/`.
 *   Encoded (`%5C`) it is an ordinary S3 key character and is forwarded;
 * - the percent-encoded bytes decode to UTF-8 (`decodeURIComponent` is strict): overlong forms such as `%c0%af`
 *   and `%e0%80%af` are `/` to some old decoders (CVE-2000-0884), and S3 keys are UTF-8 anyway;
 * - no encoded NUL (`%00`): C-string origins cut the path there;
 * - no `.` or `..` segment once decoded, with `%2F` counted as `/` (s3_auth sends `%2F` as `/`, and RFC 3986
 *   §5.2.4 then removes what precedes the `..`).
 */
export function pathProblem(path: string): string | null {
  let encoded = false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 /* % */) {
      if (!isHex(path.charCodeAt(i + 1)) || !isHex(path.charCodeAt(i + 2))) return 'malformed percent-encoding in the path';
      encoded = true;
      i += 2;
    } else if (c <= 0x20 || c >= 0x7f) {
      return 'the path contains a space, a control or a non-ASCII character';
    } else if (c === 0x5c /* backslash */) {
      return 'the path contains a backslash';
    }
  }
  let plain = path;
  if (encoded) {
    try {
      plain = decodeURIComponent(path);
    } catch {
      return 'the path has percent-encoded bytes that are not UTF-8';
    }
    if (plain.includes('\0')) return 'the path contains an encoded NUL (%00)';
  }
  if (!plain.includes('.')) return null;
  for (const segment of plain.split('/')) {
    if (segment === '.' || segment === '..') return 'the path contains a "." or ".." segment';
  }
  return null;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * The longest request-target remapd forwards (414 beyond). Below Node's header limit (settings.maxHeaderBytes,
 * 16 KiB by default), which counts the request line too: a target longer than that never reaches here and is
 * answered 431 by the parser. 8 KiB is what common servers and CDNs accept (RFC 9112 §3 asks for at least 8000).
 */
export const MAX_TARGET_LENGTH = 8192;

/**
 * Parses the request-target (origin-form or absolute-form) and the Host header. In absolute-form the target's
 * authority wins over Host (RFC 9112 §3.2.2) and its scheme must be the listener's: a plain-HTTP request may not
 * pose as an https one to reach https rules. The asterisk-form (`OPTIONS *`) is the handler's, not a path's.
 */
export function parseRequestTarget(target: string, hostHeader: string | undefined, scheme: Scheme): RequestTarget {
  if (target.length > MAX_TARGET_LENGTH) {
    throw new RemapdError('ERR_URI_TOO_LONG', `the request target is longer than ${MAX_TARGET_LENGTH} bytes`);
  }
  let rest = target;
  let authority: string | undefined = hostHeader;
  const absolute = target.charCodeAt(0) !== 0x2f; /* / */
  if (absolute) {
    const m = /^(https?):\/\/([^/?#]*)/i.exec(target);
    if (!m) throw new RemapdError('ERR_BAD_REQUEST', 'the request target must be a path (/…) or an absolute http(s) URL');
    if (m[1]!.toLowerCase() !== scheme) {
      throw new RemapdError('ERR_BAD_REQUEST', `an absolute ${m[1]!.toLowerCase()}: URL cannot be requested on this ${scheme} listener`);
    }
    // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid and must be rejected.
    if (m[2] === '') throw new RemapdError('ERR_BAD_REQUEST', 'the absolute URL of the request has no host');
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

  if (authority === undefined || authority === '') return { host: '', port: DEFAULT_PORT[scheme], path, search, authority: '' };
  const parsed = parseAuthority(authority, scheme);
  if (!parsed) throw new RemapdError('ERR_BAD_REQUEST', `the ${absolute ? "URL's authority" : 'Host header'} is not a valid host[:port]`);
  const host = parsed.host.endsWith('.') ? parsed.host.slice(0, -1) : parsed.host;
  return { host, port: parsed.port, path, search, authority };
}
