/**
 * checkedBody (body-check.ts) for single-chunk payloads: a body is forwarded byte for byte when it hashes to the
 * signed x-amz-content-sha256, and when it does not the consumer errors before it has the whole body.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { EMPTY_SHA256 } from '../../../src/plugins/s3-auth/constants.js';
import { checkedBody } from '../../../src/plugins/s3-client-auth/body-check.js';
import { S3AuthError } from '../../../src/plugins/s3-client-auth/s3-error.js';
import { collect, pieces } from './support.js';

const T = { timeout: 10_000 };

const BODY = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 255));
const HASH = createHash('sha256').update(BODY).digest('hex');

describe('sha256: the signed hash of the whole body', () => {
  test('a body that matches passes byte-identical, in any piece size; the length is Content-Length', T, async () => {
    for (const size of [1, 1000, 65536, BODY.length]) {
      const checked = checkedBody(pieces(BODY, size === 1 ? 997 : size), { kind: 'sha256', hash: HASH }, BODY.length);
      assert.equal(checked.length, BODY.length);
      const r = await collect(checked.body);
      assert.equal(r.error, null);
      assert.ok(r.data.equals(BODY));
    }
  });

  test('the signed hash may be upper-case hex', T, async () => {
    const r = await collect(checkedBody(pieces(BODY, 4096), { kind: 'sha256', hash: HASH.toUpperCase() }, null).body);
    assert.equal(r.error, null);
  });

  test('one changed byte: XAmzContentSHA256Mismatch, and the consumer received less than the whole body', T, async () => {
    for (const at of [0, 50_000, BODY.length - 1]) {
      const tampered = Buffer.from(BODY);
      tampered[at] ^= 1;
      const r = await collect(checkedBody(pieces(tampered, 4096), { kind: 'sha256', hash: HASH }, BODY.length).body);
      assert.ok(r.error instanceof S3AuthError, String(r.error));
      assert.equal(r.error.s3Code, 'XAmzContentSHA256Mismatch');
      assert.equal(r.error.status, 400);
      assert.equal(r.error.message, "The provided 'x-amz-content-sha256' header does not match what was computed.");
      assert.ok(r.data.length < BODY.length, `released ${r.data.length} of ${BODY.length}`);
      assert.equal(r.data.length, BODY.length - 4096 + ((BODY.length % 4096) === 0 ? 0 : 4096 - (BODY.length % 4096)), 'all but the last piece');
    }
  });

  test('a body sent in one piece is not released at all when it does not match', T, async () => {
    const r = await collect(checkedBody(Readable.from([Buffer.from('evil')]), { kind: 'sha256', hash: HASH }, 4).body);
    assert.equal(r.data.length, 0);
    assert.ok(r.error instanceof S3AuthError);
  });

  test('a longer or shorter body than the one signed does not match either', T, async () => {
    for (const body of [BODY.subarray(0, BODY.length - 1), Buffer.concat([BODY, Buffer.from('x')])]) {
      const r = await collect(checkedBody(pieces(body, 4096), { kind: 'sha256', hash: HASH }, null).body);
      assert.ok(r.error instanceof S3AuthError && r.error.s3Code === 'XAmzContentSHA256Mismatch');
      assert.ok(r.data.length < body.length);
    }
  });

  test('an empty body with the empty hash passes; no body at all stays null', T, async () => {
    const r = await collect(checkedBody(Readable.from([]), { kind: 'sha256', hash: EMPTY_SHA256 }, 0).body);
    assert.equal(r.error, null);
    assert.equal(r.data.length, 0);
    assert.deepEqual(checkedBody(null, { kind: 'sha256', hash: EMPTY_SHA256 }, null), { body: null, length: null });
  });

  test('no body when a non-empty one was signed: refused up front', T, () => {
    assert.throws(() => checkedBody(null, { kind: 'sha256', hash: HASH }, null), (err: unknown) => err instanceof S3AuthError && err.s3Code === 'XAmzContentSHA256Mismatch');
  });

  test('a body refused mid-stream leaves the client\'s stream unpiped, not destroyed (the error answer can still be written)', T, async () => {
    const source = new PassThrough();
    const chunked = { kind: 'chunked', signed: false, trailer: true, seedSignature: '', signingKey: Buffer.alloc(32), amzDate: '', scope: '', decodedLength: null, trailerHeader: null } as const;
    const checked = checkedBody(source, chunked, null);
    const done = collect(checked.body);
    source.write('zz\r\n');
    const r = await done;
    assert.ok(r.error instanceof S3AuthError && r.error.s3Code === 'InvalidRequest', String(r.error));
    assert.equal(source.destroyed, false);
    assert.equal(source.listenerCount('data'), 0, 'nothing reads the client any more');
    source.destroy();
  });

  test('a client that goes away mid-body: IncompleteBody; a source error is passed on', T, async () => {
    const gone = new PassThrough();
    const checkedGone = checkedBody(gone, { kind: 'sha256', hash: HASH }, BODY.length);
    const doneGone = collect(checkedGone.body);
    gone.write(BODY.subarray(0, 1000));
    setImmediate(() => gone.destroy());
    const r1 = await doneGone;
    assert.ok(r1.error instanceof S3AuthError && r1.error.s3Code === 'IncompleteBody', String(r1.error));
    assert.equal(r1.data.length, 0);

    const failing = new PassThrough();
    const checkedFailing = checkedBody(failing, { kind: 'sha256', hash: HASH }, BODY.length);
    const doneFailing = collect(checkedFailing.body);
    failing.write(BODY.subarray(0, 1000));
    setImmediate(() => failing.destroy(new Error('socket reset')));
    const r2 = await doneFailing;
    assert.equal(r2.error?.message, 'socket reset');
  });
});

describe('nothing to check', () => {
  test('none and unsigned forward the body itself, with its length', T, () => {
    const body = Readable.from([BODY]);
    assert.equal(checkedBody(body, { kind: 'none' }, 5).body, body);
    assert.deepEqual(checkedBody(body, { kind: 'unsigned' }, 5), { body, length: 5 });
    assert.deepEqual(checkedBody(null, { kind: 'none' }, null), { body: null, length: null });
  });
});
