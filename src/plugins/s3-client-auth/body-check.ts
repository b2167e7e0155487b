/**
 * The body half of verification: the stream that is forwarded instead of the client's body, checked against what
 * the signature covered while it streams (no whole-body buffering, back-pressure kept).
 *
 * - sha256: hashed as it passes, with the most recent piece held back; the last piece is released only once the
 *   digest equals the signed x-amz-content-sha256. On a mismatch the stream errors instead, so the origin never
 *   receives the complete body (the forwarder aborts its request on a body error) — S3's own guarantee that a body
 *   whose hash does not match is not stored.
 * - chunked: the aws-chunked decoder (aws-chunked.ts), which releases verified data only.
 * - none / unsigned: nothing is checked; the body is forwarded as it is.
 *
 * On a failure the client's stream is unpiped, not destroyed: the S3 error can still be written to the client.
 */
import { createHash, type Hash } from 'node:crypto';
import { finished, type Readable, Transform, type TransformCallback } from 'node:stream';
import { EMPTY_SHA256 } from '../s3-auth/constants.js';
import { awsChunkedDecoder } from './aws-chunked.js';
import { S3AuthError } from './s3-error.js';
import type { PayloadCheck } from './verify.js';
import { MSG } from './verify-constants.js';

/** Holds back the latest piece until the next arrives or, at the end, until the whole body's SHA-256 matched. */
export class Sha256Check extends Transform {
  readonly #expected: string;
  readonly #hash: Hash = createHash('sha256');
  #held: Buffer | null = null;

  constructor(expectedHex: string) {
    super();
    this.#expected = expectedHex.toLowerCase();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    const previous = this.#held;
    this.#held = chunk;
    callback(null, previous ?? undefined);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#hash.digest('hex') !== this.#expected) {
      this.#held = null;
      callback(new S3AuthError('XAmzContentSHA256Mismatch', MSG.sha256Mismatch, { detail: 'the body does not hash to the signed x-amz-content-sha256' }));
      return;
    }
    const last = this.#held;
    this.#held = null;
    callback(null, last ?? undefined);
  }
}

/**
 * Pipes `source` into `check` and turns the source's failure (an error, or a client that went away before the
 * end) into the check's error, which pipe() alone would not do.
 */
function feed(source: Readable, check: Transform): Transform {
  source.pipe(check);
  const stop = finished(source, { writable: false }, (err) => {
    stop();
    if (err === undefined || err === null) return;
    const premature = (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
    check.destroy(premature ? new S3AuthError('IncompleteBody', MSG.incompleteBody, { detail: 'the client closed the request before its body ended', cause: err }) : err);
  });
  check.once('close', stop);
  return check;
}

/**
 * Wraps a request body so that it is checked against `payload` while it streams; returns the stream to forward
 * and its length (the decoded length for aws-chunked bodies). A null body (none was sent) stays null; if a body
 * was signed for, that is refused here: a non-empty SHA-256 or an aws-chunked upload with nothing in it.
 */
export function checkedBody(body: Readable, payload: PayloadCheck, contentLength: number | null): { body: Readable; length: number | null };
export function checkedBody(body: Readable | null, payload: PayloadCheck, contentLength: number | null): { body: Readable | null; length: number | null };
export function checkedBody(body: Readable | null, payload: PayloadCheck, contentLength: number | null): { body: Readable | null; length: number | null } {
  switch (payload.kind) {
    case 'none':
    case 'unsigned':
      return { body, length: contentLength };
    case 'sha256':
      if (body === null) {
        if (payload.hash !== EMPTY_SHA256) throw new S3AuthError('XAmzContentSHA256Mismatch', MSG.sha256Mismatch, { detail: 'no body, but a non-empty body was signed' });
        return { body: null, length: contentLength };
      }
      return { body: feed(body, new Sha256Check(payload.hash)), length: contentLength };
    case 'chunked':
      if (body === null) throw new S3AuthError('IncompleteBody', MSG.incompleteBody, { detail: 'an aws-chunked upload without a body' });
      return { body: feed(body, awsChunkedDecoder(payload)), length: payload.decodedLength };
  }
}
