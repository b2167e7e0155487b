/**
 * --v4-payload=signed: the body is buffered (up to a limit) so its SHA-256 can be signed, then sent from the
 * buffer with an exact Content-Length. Above the limit the request is refused with 413 before anything reaches
 * the origin. The buffer is kept on the transaction so a second attempt sends the same bytes.
 */
import { Readable } from 'node:stream';
import { RemapdError } from '../../errors.js';
import type { OriginRequest, Transaction } from '../api.js';
import { EMPTY_SHA256 } from './constants.js';
import { sha256Hex } from './sigv4.js';

const BUFFERED_BODY = Symbol('s3_auth.bufferedBody');

function tooLarge(max: number): RemapdError {
  return new RemapdError(
    'ERR_PAYLOAD_TOO_LARGE',
    `request body is larger than ${max} bytes, the most s3_auth buffers to sign a payload`,
  );
}

/** Reads a stream into memory up to `max` bytes. Over the limit it stops reading (without destroying the
 * client's connection, so the 413 can still be written) and rejects. */
function readAtMost(body: Readable, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        body.pause();
        reject(tooLarge(max));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}

/** Buffers the request body (once per transaction), puts the buffer back as the body, returns its SHA-256. */
export async function hashPayload(txn: Transaction, req: OriginRequest, max: number): Promise<string> {
  let buf = txn.data.get(BUFFERED_BODY) as Buffer | undefined;
  if (buf === undefined) {
    if (req.body === null) return EMPTY_SHA256;
    if (req.bodyLength !== null && req.bodyLength > max) throw tooLarge(max);
    buf = await readAtMost(req.body, max);
    txn.data.set(BUFFERED_BODY, buf);
  }
  req.body = buf.length > 0 ? Readable.from([buf], { objectMode: false }) : null;
  req.bodyLength = buf.length;
  req.headers.set('Content-Length', String(buf.length));
  return buf.length > 0 ? sha256Hex(buf) : EMPTY_SHA256;
}
