/**
 * What Node's parser (llhttp, strict: insecureHTTPParser stays off, server.ts) lets through about a request's
 * framing and version that remapd still refuses. llhttp already answers 400 for Content-Length together with
 * Transfer-Encoding, repeated or malformed Content-Length, a Transfer-Encoding whose last coding is not `chunked`,
 * obs-fold, bare LF, bad chunk sizes and stray characters (see README, "How requests are forwarded"); the checks
 * here cover what it accepts, and repeat the two smuggling classics so that no parser setting can reopen them.
 *
 * The origin request is always framed anew by undici (Content-Length or chunked, never the client's bytes), so a
 * request accepted here is forwarded with one reading only.
 */
import type { IncomingMessage } from 'node:http';
import { RemapdError } from '../errors.js';
import { sameName } from './header-list.js';

/**
 * The most header fields a request may have. Node drops the fields past its `maxHeadersCount` without a word, so
 * a second Host or a Transfer-Encoding hidden past them would be invisible here while llhttp still acted on it:
 * server.ts sets the count one above this, and a request that reaches it is refused instead.
 */
export const MAX_HEADER_FIELDS = 2000;

/**
 * The reason a request's framing or version is refused, or null. A refused request's connection must be closed
 * (its body, if any, cannot be told from the next request).
 */
export function framingProblem(req: Pick<IncomingMessage, 'httpVersionMajor' | 'httpVersionMinor' | 'rawHeaders'>): RemapdError | null {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor > 1) {
    return new RemapdError('ERR_HTTP_VERSION', `HTTP/${req.httpVersionMajor}.${req.httpVersionMinor} is not supported: use HTTP/1.1`);
  }
  const raw = req.rawHeaders;
  if (raw.length > 2 * MAX_HEADER_FIELDS) {
    return new RemapdError('ERR_HEADERS_TOO_LARGE', `the request has more than ${MAX_HEADER_FIELDS} header fields`);
  }
  let lengths = 0;
  let codings: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (sameName(name, 'content-length')) lengths++;
    else if (sameName(name, 'transfer-encoding')) {
      codings ??= [];
      for (const c of raw[i + 1]!.split(',')) codings.push(c.trim().toLowerCase());
    }
  }
  if (lengths > 1) return new RemapdError('ERR_BAD_REQUEST', 'the request has more than one Content-Length');
  if (codings === null) return null;
  // RFC 9112 §6.1: Transfer-Encoding and Content-Length together is a smuggling attempt; in an HTTP/1.0 request
  // Transfer-Encoding means the framing is faulty.
  if (lengths > 0) return new RemapdError('ERR_BAD_REQUEST', 'the request has both Content-Length and Transfer-Encoding');
  if (req.httpVersionMinor === 0) return new RemapdError('ERR_BAD_REQUEST', 'an HTTP/1.0 request cannot have Transfer-Encoding');
  // Only `chunked`: the body is forwarded decoded and framed anew, so any other coding (`gzip, chunked`) would reach
  // the origin still applied with nothing saying so (RFC 9112 §6.1: a server answers 501 to a transfer coding it does not understand).
  if (codings.length !== 1 || codings[0] !== 'chunked') {
    return new RemapdError('ERR_TRANSFER_CODING', 'only the chunked transfer coding is supported');
  }
  return null;
}
