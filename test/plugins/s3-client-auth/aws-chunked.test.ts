/**
 * The aws-chunked decoder (aws-chunked.ts, reached through checkedBody): AWS's two documented chunked uploads as
 * fixed vectors, bodies framed and signed by an independent encoder written here from the same documentation, and
 * every way a body can be wrong. The guarantee under test throughout: whatever fails, the consumer (the origin)
 * never receives the whole body.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { checkedBody } from '../../../src/plugins/s3-client-auth/body-check.js';
import { S3AuthError, type S3ErrorCode } from '../../../src/plugins/s3-client-auth/s3-error.js';
import type { PayloadCheck } from '../../../src/plugins/s3-client-auth/verify.js';
import { collect, DOC_SECRET, pieces } from './support.js';

const T = { timeout: 10_000 };
type Chunked = Extract<PayloadCheck, { kind: 'chunked' }>;

// --- An independent encoder, from "Transferring Payload in Multiple Chunks" and "…trailing headers". ---

const AMZ_DATE = '20130524T000000Z';
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const EMPTY = createHash('sha256').digest('hex');

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const KEY = hmac(hmac(hmac(hmac(`AWS4${DOC_SECRET}`, '20130524'), 'us-east-1'), 's3'), 'aws4_request');

function chunkSignature(previous: string, data: Buffer): string {
  const sha = createHash('sha256').update(data).digest('hex');
  return hmac(KEY, ['AWS4-HMAC-SHA256-PAYLOAD', AMZ_DATE, SCOPE, previous, EMPTY, sha].join('\n')).toString('hex');
}

function trailerSignature(previous: string, lines: string): string {
  return hmac(KEY, ['AWS4-HMAC-SHA256-TRAILER', AMZ_DATE, SCOPE, previous, createHash('sha256').update(lines).digest('hex')].join('\n')).toString('hex');
}

/** CRC-32 (IEEE 802.3, reflected 0xEDB88320), bit by bit: a second implementation to check zlib's against. */
function crc32Base64(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

interface Encode {
  signed?: boolean;
  seed?: string;
  trailer?: [string, string];
  /** The zero-length chunk's own CRLF before the trailers (AWS's trailer example sends it). */
  blankBeforeTrailer?: boolean;
  /** The empty line that ends the trailers (several SDKs omit it at the very end). */
  finalBlank?: boolean;
}

function encode(data: Buffer, sizes: number[], e: Encode = {}): Buffer {
  const signed = e.signed ?? true;
  let previous = e.seed ?? 'f'.repeat(64);
  const out: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, 0]) {
    const chunk = data.subarray(at, at + size);
    at += size;
    if (signed) {
      previous = chunkSignature(previous, chunk);
      out.push(Buffer.from(`${size.toString(16)};chunk-signature=${previous}\r\n`));
    } else {
      out.push(Buffer.from(`${size.toString(16)}\r\n`));
    }
    if (size > 0) out.push(chunk, Buffer.from('\r\n'));
  }
  assert.equal(at, data.length, 'the sizes cover the data');
  if (e.trailer === undefined) {
    out.push(Buffer.from('\r\n'));
    return Buffer.concat(out);
  }
  if (e.blankBeforeTrailer) out.push(Buffer.from('\r\n'));
  const line = `${e.trailer[0]}:${e.trailer[1]}\n`;
  out.push(Buffer.from(line.replace('\n', '\r\n')));
  if (signed) out.push(Buffer.from(`x-amz-trailer-signature:${trailerSignature(previous, line)}\r\n`));
  if (e.finalBlank ?? true) out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

function check(over: Partial<Chunked> = {}): Chunked {
  return {
    kind: 'chunked',
    signed: true,
    trailer: false,
    seedSignature: 'f'.repeat(64),
    signingKey: KEY,
    amzDate: AMZ_DATE,
    scope: SCOPE,
    decodedLength: null,
    trailerHeader: null,
    ...over,
  };
}

/** Runs `body` (in pieces of `size`) through the decoder. */
async function decode(body: Buffer, payload: Chunked, size = 4096): Promise<{ data: Buffer; error: Error | null; length: number | null }> {
  const checked = checkedBody(pieces(body, size), payload, body.length);
  const { data, error } = await collect(checked.body);
  return { data, error, length: checked.length };
}

function assertRefused(result: { data: Buffer; error: Error | null }, code: S3ErrorCode, whole: Buffer): void {
  assert.ok(result.error instanceof S3AuthError, `expected S3AuthError ${code}, got ${String(result.error)}`);
  assert.equal(result.error.s3Code, code, `${result.error.message} (${result.error.detail ?? ''})`);
  assert.ok(result.data.length < whole.length, `the consumer got ${result.data.length} of ${whole.length} bytes: never all of them`);
  assert.ok(whole.subarray(0, result.data.length).equals(result.data), 'what was released is a verified prefix');
}

// --- AWS's documented examples ---

/** The documentation's object: 65 KiB of 'a', sent as a 64 KiB chunk and a 1 KiB chunk. */
const DOC_DATA = Buffer.alloc(66560, 'a');

function docBody(signatures: [string, string, string], tail: string): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`),
    DOC_DATA.subarray(0, 65536),
    Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`),
    DOC_DATA.subarray(65536),
    Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n${tail}`),
  ]);
}

const DOC_SIGNED: [string, string, string] = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
const DOC_SIGNED_SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const DOC_SIGNED_BODY = docBody(DOC_SIGNED, '\r\n');

const DOC_TRAILER: [string, string, string] = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
];
const DOC_TRAILER_SEED = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';
const DOC_TRAILER_LINES = 'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n';

describe('AWS\'s documented chunked uploads', () => {
  const signedCheck = check({ seedSignature: DOC_SIGNED_SEED, decodedLength: 66560 });

  test('the 66560-byte PUT (seed 4f232c43…) decodes to its data, length 66560', T, async () => {
    assert.equal(DOC_SIGNED_BODY.length, 66824, 'the documented Content-Length');
    // The independent encoder produces the documented chunk signatures too.
    assert.ok(encode(DOC_DATA, [65536, 1024], { seed: DOC_SIGNED_SEED }).equals(DOC_SIGNED_BODY));
    for (const size of [1, 777, 65536, 1 << 20]) {
      const r = await decode(DOC_SIGNED_BODY, signedCheck, size);
      assert.equal(r.error, null, `pieces of ${size}: ${String(r.error)}`);
      assert.ok(r.data.equals(DOC_DATA));
      assert.equal(r.length, 66560);
    }
  });

  test('the trailer example (seed 106e2a8a…, crc32c trailer and its signature) decodes, in each framing SDKs use', T, async () => {
    const trailerCheck = check({ seedSignature: DOC_TRAILER_SEED, trailer: true, trailerHeader: 'x-amz-checksum-crc32c', decodedLength: 66560 });
    // As AWS's page prints it: the zero chunk's CRLF, the trailers, the closing empty line; and without the extras.
    for (const tail of [`\r\n${DOC_TRAILER_LINES}\r\n`, `${DOC_TRAILER_LINES}\r\n`, `\r\n${DOC_TRAILER_LINES}`, DOC_TRAILER_LINES]) {
      const r = await decode(docBody(DOC_TRAILER, tail), trailerCheck, 1000);
      assert.equal(r.error, null, String(r.error));
      assert.ok(r.data.equals(DOC_DATA));
    }
  });

  test('the trailer example with its checksum value changed: SignatureDoesNotMatch (the trailer is signed)', T, async () => {
    const trailerCheck = check({ seedSignature: DOC_TRAILER_SEED, trailer: true, trailerHeader: 'x-amz-checksum-crc32c', decodedLength: 66560 });
    const r = await decode(docBody(DOC_TRAILER, `\r\n${DOC_TRAILER_LINES.replace('sOO8/Q==', 'sOO8/A==')}\r\n`), trailerCheck);
    assertRefused(r, 'SignatureDoesNotMatch', DOC_DATA);
  });

  test('a tampered data byte in the first chunk: SignatureDoesNotMatch, nothing released', T, async () => {
    const body = Buffer.from(DOC_SIGNED_BODY);
    body[200] = 'b'.charCodeAt(0);
    const r = await decode(body, signedCheck);
    assertRefused(r, 'SignatureDoesNotMatch', DOC_DATA);
    assert.equal(r.data.length, 0);
  });

  test('a tampered signature of the second or the final chunk: the verified first chunk is still held back', T, async () => {
    for (const i of [1, 2] as const) {
      const sigs: [string, string, string] = [...DOC_SIGNED];
      sigs[i] = sigs[i].replace(/^./, (c) => (c === '0' ? '1' : '0'));
      const r = await decode(docBody(sigs, '\r\n'), signedCheck);
      assertRefused(r, 'SignatureDoesNotMatch', DOC_DATA);
      assert.ok(r.data.length <= (i === 2 ? 65536 : 0), `released ${r.data.length}`);
    }
  });

  test('chunks swapped or replayed (the chain of signatures): SignatureDoesNotMatch', T, async () => {
    const swapped = docBody([DOC_SIGNED[1], DOC_SIGNED[0], DOC_SIGNED[2]], '\r\n');
    assertRefused(await decode(swapped, signedCheck), 'SignatureDoesNotMatch', DOC_DATA);
    const otherSeed = await decode(DOC_SIGNED_BODY, check({ seedSignature: DOC_TRAILER_SEED }));
    assertRefused(otherSeed, 'SignatureDoesNotMatch', DOC_DATA);
  });

  test('a stream cut anywhere (mid-chunk, before the final chunk, before the end): IncompleteBody, never all the data', T, async () => {
    for (const cut of [100, 65536 + 90, 66000, DOC_SIGNED_BODY.length - 90, DOC_SIGNED_BODY.length - 2, DOC_SIGNED_BODY.length - 1]) {
      const r = await decode(DOC_SIGNED_BODY.subarray(0, cut), signedCheck);
      assertRefused(r, 'IncompleteBody', DOC_DATA);
    }
  });

  test('a decoded length other than x-amz-decoded-content-length: IncompleteBody', T, async () => {
    assertRefused(await decode(DOC_SIGNED_BODY, check({ seedSignature: DOC_SIGNED_SEED, decodedLength: 66561 })), 'IncompleteBody', DOC_DATA);
    assertRefused(await decode(DOC_SIGNED_BODY, check({ seedSignature: DOC_SIGNED_SEED, decodedLength: 66559 })), 'IncompleteBody', DOC_DATA);
    assertRefused(await decode(DOC_SIGNED_BODY, check({ seedSignature: DOC_SIGNED_SEED, decodedLength: 0 })), 'IncompleteBody', DOC_DATA);
  });
});

describe('signed uploads from the independent encoder', () => {
  const data = createHash('sha512').update('seed').digest();
  const payload = Buffer.concat(Array.from({ length: 600 }, (_, i) => Buffer.concat([data, Buffer.from([i & 255])])));

  test('many chunks of varying sizes, fed in odd pieces', T, async () => {
    const sizes = [8192, 1, 10000, 12000, payload.length - 8192 - 1 - 10000 - 12000];
    const body = encode(payload, sizes);
    for (const size of [3, 4096, 100_000]) {
      const r = await decode(body, check({ decodedLength: payload.length }), size);
      assert.equal(r.error, null, String(r.error));
      assert.ok(r.data.equals(payload));
    }
  });

  test('a signed crc32, sha1 or sha256 trailer is verified against the data', T, async () => {
    const sums: [string, string][] = [
      ['x-amz-checksum-crc32', crc32Base64(payload)],
      ['x-amz-checksum-sha1', createHash('sha1').update(payload).digest('base64')],
      ['x-amz-checksum-sha256', createHash('sha256').update(payload).digest('base64')],
    ];
    for (const [name, value] of sums) {
      const good = encode(payload, [20000, payload.length - 20000], { trailer: [name, value] });
      const r = await decode(good, check({ trailer: true, trailerHeader: name }));
      assert.equal(r.error, null, `${name}: ${String(r.error)}`);
      assert.ok(r.data.equals(payload));
      // A wrong checksum, correctly signed (the client's own mistake): refused, nothing complete released.
      const wrong = encode(payload, [20000, payload.length - 20000], { trailer: [name, createHash('md5').update(name).digest('base64')] });
      assertRefused(await decode(wrong, check({ trailer: true, trailerHeader: name })), 'BadDigest', payload);
    }
  });

  test('a trailer without its signature, or one that was not declared in x-amz-trailer: refused', T, async () => {
    const withSig = encode(payload, [payload.length], { trailer: ['x-amz-checksum-crc32', crc32Base64(payload)] });
    const noSig = Buffer.from(withSig.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]+\r\n/, ''), 'latin1');
    assertRefused(await decode(noSig, check({ trailer: true, trailerHeader: 'x-amz-checksum-crc32' })), 'IncompleteBody', payload);
    assertRefused(await decode(withSig, check({ trailer: true, trailerHeader: 'x-amz-checksum-sha256' })), 'InvalidRequest', payload);
    assertRefused(await decode(withSig, check({ trailer: true, trailerHeader: null })), 'InvalidRequest', payload);
  });

  test('a declared trailer that never comes: IncompleteBody', T, async () => {
    const body = encode(payload, [payload.length], { signed: true });
    // Framed for trailers (no data CRLF after the zero chunk is needed), but the trailer is missing.
    assertRefused(await decode(body, check({ trailer: true, trailerHeader: 'x-amz-checksum-crc32' })), 'IncompleteBody', payload);
  });
});

describe('unsigned uploads with a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  const payload = Buffer.from('hello world, '.repeat(5000));
  const unsigned = (over: Partial<Chunked> = {}) => check({ signed: false, trailer: true, trailerHeader: 'x-amz-checksum-crc32', decodedLength: payload.length, ...over });

  test('the AWS SDK for JavaScript\'s framing: "size\\r\\n data \\r\\n … 0\\r\\n x-amz-checksum-crc32:… \\r\\n\\r\\n"', T, async () => {
    const body = encode(payload, [30000, payload.length - 30000], { signed: false, trailer: ['x-amz-checksum-crc32', crc32Base64(payload)] });
    const r = await decode(body, unsigned(), 999);
    assert.equal(r.error, null, String(r.error));
    assert.ok(r.data.equals(payload));
  });

  test('a wrong checksum: refused, and the consumer never had the whole body', T, async () => {
    const corrupt = Buffer.from(payload);
    corrupt[5] = 0x21;
    const body = encode(corrupt, [30000, payload.length - 30000], { signed: false, trailer: ['x-amz-checksum-crc32', crc32Base64(payload)] });
    const r = await decode(body, unsigned());
    assert.ok(r.error instanceof S3AuthError && r.error.s3Code === 'BadDigest', String(r.error));
    assert.ok(r.data.length < payload.length);
  });

  test('crc32c and crc64nvme cannot be computed here: accepted unchecked', T, async () => {
    for (const name of ['x-amz-checksum-crc32c', 'x-amz-checksum-crc64nvme']) {
      const body = encode(payload, [payload.length], { signed: false, trailer: [name, 'AAAAAA=='] });
      const r = await decode(body, unsigned({ trailerHeader: name }));
      assert.equal(r.error, null, String(r.error));
    }
  });

  test('a chunk-signature or a trailer signature in an unsigned upload: InvalidRequest', T, async () => {
    const signedFraming = encode(payload, [payload.length], { signed: true, trailer: ['x-amz-checksum-crc32', crc32Base64(payload)] });
    assertRefused(await decode(signedFraming, unsigned()), 'InvalidRequest', payload);
  });
});

describe('malformed framing: refused with a clear error, bounded memory', () => {
  const payload = Buffer.alloc(10000, 'z');
  const body = encode(payload, [payload.length]);

  test('a size that is not hexadecimal, or no chunk-signature in a signed upload', T, async () => {
    assertRefused(await decode(Buffer.from(body.toString('latin1').replace(/^2710/, '27g0'), 'latin1'), check()), 'InvalidRequest', payload);
    assertRefused(await decode(Buffer.from(body.toString('latin1').replace(/^2710;chunk-signature=[0-9a-f]+/, '2710'), 'latin1'), check()), 'InvalidRequest', payload);
    assertRefused(await decode(Buffer.from(body.toString('latin1').replace(/^2710/, ' 2710'), 'latin1'), check()), 'InvalidRequest', payload);
  });

  test('a chunk longer than its size says (no CRLF where one must be): InvalidRequest', T, async () => {
    const longer = Buffer.from(body.toString('latin1').replace(/^2710/, '270f'), 'latin1');
    assertRefused(await decode(longer, check()), 'InvalidRequest', payload);
  });

  test('a line without CR before its LF: InvalidRequest', T, async () => {
    assertRefused(await decode(Buffer.from(body.toString('latin1').replace('\r\n', '\n'), 'latin1'), check()), 'InvalidRequest', payload);
  });

  test('a header line longer than 4 KiB is refused as soon as it is seen, not buffered', T, async () => {
    const endless = new Readable({
      read() {
        this.push(Buffer.alloc(64 * 1024, '1'));
      },
    });
    const checked = checkedBody(endless, check(), null);
    const r = await collect(checked.body);
    assert.ok(r.error instanceof S3AuthError && r.error.s3Code === 'InvalidRequest', String(r.error));
    assert.match(r.error.detail!, /longer than 4096 bytes/);
    endless.destroy();
  });

  test('a chunk larger than 16 MiB: InvalidRequest before its data is read', T, async () => {
    const huge = Buffer.from(`1000001;chunk-signature=${'a'.repeat(64)}\r\n`);
    assertRefused(await decode(huge, check()), 'InvalidRequest', payload);
  });

  test('data after the end of the body: InvalidRequest', T, async () => {
    assertRefused(await decode(Buffer.concat([body, Buffer.from('extra')]), check()), 'InvalidRequest', payload);
  });

  test('an empty body: IncompleteBody; no body at all: refused up front', T, async () => {
    assertRefused(await decode(Buffer.alloc(0), check()), 'IncompleteBody', payload);
    assert.throws(() => checkedBody(null, check(), null), (err: unknown) => err instanceof S3AuthError && err.s3Code === 'IncompleteBody');
  });
});

describe('streaming', () => {
  test('back-pressure: a consumer that does not read stops the decoder from reading its source', T, async () => {
    const chunkSize = 256 * 1024;
    const count = 64;
    const data = Buffer.alloc(chunkSize * count, 7);
    const body = encode(data, Array.from({ length: count }, () => chunkSize));
    let pulled = 0;
    let offset = 0;
    const source = new Readable({
      read() {
        if (offset >= body.length) {
          this.push(null);
          return;
        }
        const piece = body.subarray(offset, offset + 64 * 1024);
        offset += piece.length;
        pulled += piece.length;
        this.push(piece);
      },
    });
    const checked = checkedBody(source, check({ decodedLength: data.length }), body.length);
    // Let it run with nobody reading.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(pulled < 4 * chunkSize, `pulled ${pulled} of ${body.length} bytes while nobody was reading`);
    const r = await collect(checked.body);
    assert.equal(r.error, null);
    assert.ok(r.data.equals(data));
  });
});
