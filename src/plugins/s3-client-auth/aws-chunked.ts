/**
 * The aws-chunked body decoder: removes the framing of a chunked upload and verifies it while it streams.
 *
 *   signed:    hex-size;chunk-signature=SIG \r\n DATA \r\n … 0;chunk-signature=SIG \r\n [trailers] \r\n
 *   unsigned:  hex-size \r\n DATA \r\n … 0 \r\n trailers \r\n                 (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
 *
 * Each chunk signature is HMAC(signingKey, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" previous-signature
 * "\n" SHA256("") "\n" SHA256(data)), chained from the seed signature of the Authorization header ("Transferring
 * Payload in Multiple Chunks"); the trailer signature is HMAC(signingKey, "AWS4-HMAC-SHA256-TRAILER\n" date "\n"
 * scope "\n" final-chunk-signature "\n" SHA256(trailer lines as "name:value\n")) ("Signature calculations for
 * trailing headers").
 *
 * What the origin receives is only ever verified data, and never all of it until everything checked out: a chunk
 * is released only after its signature matched, and the last verified chunk is held back until the final chunk,
 * the trailers (signature and checksum), the end of the framing and the decoded length have all been checked, at
 * the end of the stream. A failure errors the stream, so the forwarder aborts an origin request that is short.
 *
 * Memory is bounded: a chunk (held whole until its data is hashed and its signature checked) is at most
 * MAX_CHUNK_SIZE, a header or trailer line at most MAX_LINE, and there are at most MAX_TRAILERS trailer lines.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { EMPTY_SHA256 } from '../s3-auth/constants.js';
import { hmacHex, sha256Hex } from '../s3-auth/sigv4.js';
import { S3AuthError } from './s3-error.js';
import type { PayloadCheck } from './verify.js';
import { sameSignature } from './verify-common.js';
import {
  CHUNK_ALGORITHM,
  CHUNK_SIGNATURE_EXT,
  MAX_CHUNK_SIZE,
  MAX_LINE,
  MAX_TRAILERS,
  MSG,
  TRAILER_ALGORITHM,
  TRAILER_SIGNATURE,
} from './verify-constants.js';

export type ChunkedCheck = Extract<PayloadCheck, { kind: 'chunked' }>;

const CR = 0x0d;
const LF = 0x0a;
const HEX_SIZE = /^[0-9a-fA-F]{1,8}$/;
const SIGNATURE = /^[0-9a-f]{64}$/;

/** The running checksum of the decoded data that a trailer will be compared with (base64 of the digest, as sent). */
interface Checksum {
  update(data: Buffer): void;
  digest(): string;
}

/**
 * crc32, sha1 and sha256 are verified. crc32c and crc64nvme have no implementation in Node's standard library, so
 * their trailer is accepted unchecked (null); in signed mode the chunk signatures still vouch for every byte.
 */
function checksumFor(trailer: string | null): Checksum | null {
  switch (trailer) {
    case 'x-amz-checksum-crc32': {
      let value = 0;
      return {
        update: (data) => {
          value = crc32(data, value);
        },
        digest: () => {
          const out = Buffer.alloc(4);
          out.writeUInt32BE(value >>> 0);
          return out.toString('base64');
        },
      };
    }
    case 'x-amz-checksum-sha1':
    case 'x-amz-checksum-sha256': {
      const hash = createHash(trailer === 'x-amz-checksum-sha1' ? 'sha1' : 'sha256');
      return { update: (data) => hash.update(data), digest: () => hash.digest('base64') };
    }
    default:
      return null;
  }
}

type State =
  /** Reading a chunk header line. */
  | 'header'
  /** Reading a chunk's data. */
  | 'data'
  /** The CR, then the LF, after a chunk's data. */
  | 'data-cr'
  | 'data-lf'
  /** After the final chunk (no trailers): the empty line that ends the body. */
  | 'end'
  /** After the final chunk (trailer mode): trailer lines up to an empty line. */
  | 'trailer'
  /** Everything checked; only the end of the stream may follow. */
  | 'done';

export class AwsChunkedDecoder extends Transform {
  readonly #check: ChunkedCheck;
  #state: State = 'header';
  readonly #line = Buffer.alloc(MAX_LINE);
  #lineLength = 0;
  /** Data bytes of the current chunk still to come. */
  #remaining = 0;
  #chunkSize = 0;
  #pieces: Buffer[] = [];
  #chunkHash: Hash | null = null;
  #chunkSignature = '';
  /** The signature the next one chains from: the seed, then each verified chunk's. */
  #previous: string;
  /** The last verified chunk, released when the next one verifies or, at the very end, when all checked out. */
  #held: Buffer[] = [];
  #decoded = 0;
  readonly #checksum: Checksum | null;
  readonly #trailers: [string, string][] = [];
  #trailerSignature: string | null = null;
  /** Trailer mode: an empty line before any trailer (the zero-length chunk's own CRLF, as AWS's example sends it). */
  #sawBlank = false;

  constructor(check: ChunkedCheck) {
    super();
    this.#check = check;
    this.#previous = check.seedSignature;
    this.#checksum = checksumFor(check.trailerHeader);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#finish();
      for (const piece of this.#held) this.push(piece);
      this.#held = [];
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  #consume(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) {
      switch (this.#state) {
        case 'data': {
          const n = Math.min(this.#remaining, buf.length - off);
          const piece = buf.subarray(off, off + n);
          this.#pieces.push(piece);
          this.#chunkHash?.update(piece);
          this.#checksum?.update(piece);
          this.#remaining -= n;
          off += n;
          if (this.#remaining === 0) this.#state = 'data-cr';
          break;
        }
        case 'data-cr':
        case 'data-lf': {
          const expected = this.#state === 'data-cr' ? CR : LF;
          if (buf[off] !== expected) throw malformed('a chunk\'s data is not followed by CRLF (the chunk is longer than its size says)');
          off++;
          if (this.#state === 'data-cr') this.#state = 'data-lf';
          else this.#chunkDone();
          break;
        }
        case 'done':
          throw malformed('data follows the end of the aws-chunked body');
        default: {
          const end = buf.indexOf(LF, off);
          const stop = end < 0 ? buf.length : end;
          if (this.#lineLength + (stop - off) > MAX_LINE) throw malformed(`a chunk header or trailer line is longer than ${MAX_LINE} bytes`);
          buf.copy(this.#line, this.#lineLength, off, stop);
          this.#lineLength += stop - off;
          off = stop;
          if (end >= 0) {
            off++;
            if (this.#lineLength === 0 || this.#line[this.#lineLength - 1] !== CR) throw malformed('a line does not end with CRLF');
            const line = this.#line.toString('latin1', 0, this.#lineLength - 1);
            this.#lineLength = 0;
            this.#onLine(line);
          }
        }
      }
    }
  }

  #onLine(line: string): void {
    switch (this.#state) {
      case 'header':
        return this.#onHeader(line);
      case 'end':
        if (line !== '') throw malformed('the final chunk is not followed by an empty line');
        this.#state = 'done';
        return;
      case 'trailer':
        return this.#onTrailer(line);
      default:
        throw new Error(`aws-chunked: line in state ${this.#state}`);
    }
  }

  #onHeader(line: string): void {
    let size: string;
    if (this.#check.signed) {
      const at = line.indexOf(CHUNK_SIGNATURE_EXT);
      if (at < 0) throw malformed('a chunk header has no chunk-signature');
      size = line.slice(0, at);
      this.#chunkSignature = line.slice(at + CHUNK_SIGNATURE_EXT.length);
      if (!SIGNATURE.test(this.#chunkSignature)) throw malformed('a chunk-signature is not 64 lower-case hex digits');
    } else {
      size = line;
    }
    if (!HEX_SIZE.test(size)) throw malformed(`chunk size "${size.slice(0, 20)}" is not hexadecimal`);
    const n = parseInt(size, 16);
    if (n > MAX_CHUNK_SIZE) throw malformed(`a chunk of ${n} bytes is larger than the ${MAX_CHUNK_SIZE} this proxy accepts`);
    const declared = this.#check.decodedLength;
    if (declared !== null && this.#decoded + n > declared) {
      throw new S3AuthError('IncompleteBody', `The decoded body is longer than x-amz-decoded-content-length (${declared}).`);
    }
    this.#chunkSize = n;
    this.#remaining = n;
    this.#pieces = [];
    this.#chunkHash = this.#check.signed ? createHash('sha256') : null;
    if (n > 0) {
      this.#state = 'data';
      return;
    }
    // The final chunk: its empty data is signed like any other.
    this.#verifyChunk();
    this.#state = this.#check.trailer ? 'trailer' : 'end';
  }

  /** A data chunk (size > 0) and its CRLF have been read. */
  #chunkDone(): void {
    this.#verifyChunk();
    this.#decoded += this.#chunkSize;
    // The previous chunk was held until this one verified; this one is held in turn.
    for (const piece of this.#held) this.push(piece);
    this.#held = this.#pieces;
    this.#pieces = [];
    this.#state = 'header';
  }

  #verifyChunk(): void {
    if (!this.#check.signed) return;
    const dataHash = this.#chunkSize === 0 ? EMPTY_SHA256 : this.#chunkHash!.digest('hex');
    const stringToSign = `${CHUNK_ALGORITHM}\n${this.#check.amzDate}\n${this.#check.scope}\n${this.#previous}\n${EMPTY_SHA256}\n${dataHash}`;
    if (!sameSignature(this.#chunkSignature, hmacHex(this.#check.signingKey, stringToSign))) {
      throw new S3AuthError('SignatureDoesNotMatch', MSG.signatureMismatch, { detail: `aws-chunked: the signature of the chunk after ${this.#decoded} decoded bytes does not match` });
    }
    this.#previous = this.#chunkSignature;
  }

  #onTrailer(line: string): void {
    if (line === '') {
      if (this.#trailers.length === 0 && this.#trailerSignature === null && !this.#sawBlank) {
        this.#sawBlank = true;
        return;
      }
      this.#endTrailers();
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('a trailer line is not "name:value"');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (this.#trailerSignature !== null) throw malformed('a trailer follows x-amz-trailer-signature');
    if (name === TRAILER_SIGNATURE) {
      if (!this.#check.signed) throw malformed('x-amz-trailer-signature in an unsigned upload');
      if (!SIGNATURE.test(value)) throw malformed('x-amz-trailer-signature is not 64 lower-case hex digits');
      this.#trailerSignature = value;
      return;
    }
    if (name !== this.#check.trailerHeader) {
      throw new S3AuthError('InvalidRequest', `The trailer ${name.slice(0, 64)} was not declared in x-amz-trailer.`);
    }
    if (this.#trailers.length >= MAX_TRAILERS || this.#trailers.some(([n]) => n === name)) throw malformed(`trailer ${name} is sent more than once`);
    this.#trailers.push([name, value]);
  }

  /** The trailer section is complete: its signature (signed mode) and the declared checksum are checked. */
  #endTrailers(): void {
    if (this.#check.trailerHeader !== null && this.#trailers.length === 0) {
      throw new S3AuthError('IncompleteBody', MSG.incompleteBody, { detail: `aws-chunked: the declared trailer ${this.#check.trailerHeader} was not sent` });
    }
    if (this.#check.signed && (this.#trailers.length > 0 || this.#trailerSignature !== null)) {
      if (this.#trailerSignature === null) throw new S3AuthError('IncompleteBody', MSG.incompleteBody, { detail: 'aws-chunked: trailers without x-amz-trailer-signature' });
      const canonical = this.#trailers.map(([n, v]) => `${n}:${v}\n`).join('');
      const stringToSign = `${TRAILER_ALGORITHM}\n${this.#check.amzDate}\n${this.#check.scope}\n${this.#previous}\n${sha256Hex(canonical)}`;
      if (!sameSignature(this.#trailerSignature, hmacHex(this.#check.signingKey, stringToSign))) {
        throw new S3AuthError('SignatureDoesNotMatch', MSG.signatureMismatch, { detail: 'aws-chunked: the trailer signature does not match' });
      }
    }
    const sent = this.#trailers[0]?.[1];
    if (sent !== undefined && this.#checksum !== null && sent !== this.#checksum.digest()) {
      // S3's answer to a trailing checksum that does not match.
      throw new S3AuthError('BadDigest', `The ${this.#check.trailerHeader} you specified did not match the calculated checksum.`);
    }
    this.#state = 'done';
  }

  /** The end of the stream: is the framing complete, and is the decoded length the one declared? */
  #finish(): void {
    if (this.#state === 'trailer' && this.#lineLength === 0 && (this.#trailers.length > 0 || this.#trailerSignature !== null || this.#sawBlank)) {
      // The empty line that ends the trailers is optional at the very end: several SDKs and AWS's example omit it.
      this.#endTrailers();
    }
    if (this.#state !== 'done') {
      throw new S3AuthError('IncompleteBody', MSG.incompleteBody, { detail: `aws-chunked: the body ended in state ${this.#state} after ${this.#decoded} decoded bytes` });
    }
    const declared = this.#check.decodedLength;
    if (declared !== null && this.#decoded !== declared) {
      throw new S3AuthError('IncompleteBody', MSG.incompleteBody, { detail: `aws-chunked: ${this.#decoded} decoded bytes, x-amz-decoded-content-length says ${declared}` });
    }
  }
}

function malformed(detail: string): S3AuthError {
  return new S3AuthError('InvalidRequest', 'The aws-chunked request body is malformed.', { detail: `aws-chunked: ${detail}` });
}

/** A decoder for one body. */
export function awsChunkedDecoder(check: ChunkedCheck): Transform {
  return new AwsChunkedDecoder(check);
}
