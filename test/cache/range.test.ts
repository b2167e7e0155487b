/**
 * Byte ranges from a stored body (RFC 9110 §14): parsing the Range field, the 206 with Content-Range, the 416
 * with an unsatisfied-range Content-Range, and several ranges as multipart/byteranges (§14.6).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRange, rangedBody } from '../../src/cache/range.js';

const BODY = Buffer.from('0123456789');
const SIZE = BODY.length;

describe('parseRange', () => {
  test('a single range', () => {
    assert.deepEqual(parseRange('bytes=0-4', SIZE), [{ start: 0, end: 4 }]);
    assert.deepEqual(parseRange('bytes=3-3', SIZE), [{ start: 3, end: 3 }]);
  });

  test('an open-ended range runs to the last byte', () => {
    assert.deepEqual(parseRange('bytes=5-', SIZE), [{ start: 5, end: 9 }]);
  });

  test('a suffix range is the last N bytes', () => {
    assert.deepEqual(parseRange('bytes=-3', SIZE), [{ start: 7, end: 9 }]);
  });

  test('a suffix larger than the body is the whole body', () => {
    assert.deepEqual(parseRange('bytes=-50', SIZE), [{ start: 0, end: 9 }]);
  });

  test('an end beyond the body is clamped to the last byte', () => {
    assert.deepEqual(parseRange('bytes=5-100', SIZE), [{ start: 5, end: 9 }]);
    assert.deepEqual(parseRange('bytes=0-99999999999999999999', SIZE), [{ start: 0, end: 9 }]);
  });

  test('the unit is case-insensitive and the list may carry optional whitespace', () => {
    assert.deepEqual(parseRange('Bytes=1-2 , 4-5', SIZE), [
      { start: 1, end: 2 },
      { start: 4, end: 5 },
    ]);
  });

  test('several ranges keep their order', () => {
    assert.deepEqual(parseRange('bytes=8-9,0-1,-2', SIZE), [
      { start: 8, end: 9 },
      { start: 0, end: 1 },
      { start: 8, end: 9 },
    ]);
  });

  test('unsatisfiable ranges are dropped; none left is an empty list', () => {
    assert.deepEqual(parseRange('bytes=10-20', SIZE), []);
    assert.deepEqual(parseRange('bytes=10-', SIZE), []);
    assert.deepEqual(parseRange('bytes=-0', SIZE), []);
    assert.deepEqual(parseRange('bytes=0-1,20-30', SIZE), [{ start: 0, end: 1 }]);
    assert.deepEqual(parseRange('bytes=0-0', 0), []);
    assert.deepEqual(parseRange('bytes=-5', 0), []);
  });

  for (const bad of ['bytes=abc', 'bytes=5-3', 'bytes=-', 'bytes=', 'bytes 0-1', 'bytes=1-2-3', 'bytes=0-1,x', 'bytes=1.5-2', '=0-1', '']) {
    test(`malformed ${JSON.stringify(bad)} is null (the Range is ignored)`, () => {
      assert.equal(parseRange(bad, SIZE), null);
    });
  }

  test('a unit other than bytes is null', () => {
    assert.equal(parseRange('items=0-1', SIZE), null);
    assert.equal(parseRange('bits=0-1', SIZE), null);
  });

  test('more than 32 ranges is null; 32 are served', () => {
    const specs = (n: number) => Array.from({ length: n }, () => '0-0').join(',');
    assert.equal(parseRange(`bytes=${specs(33)}`, SIZE), null);
    assert.equal(parseRange(`bytes=${specs(32)}`, SIZE)?.length, 32);
  });
});

describe('rangedBody', () => {
  test('one range: 206, Content-Range, that slice of the body', () => {
    const r = rangedBody([{ start: 2, end: 5 }], BODY, 'text/plain');
    assert.equal(r.status, 206);
    assert.deepEqual(r.headers, [['Content-Range', 'bytes 2-5/10']]);
    assert.equal(r.body.toString(), '2345');
  });

  test('one range over the whole body is still a 206', () => {
    const r = rangedBody(parseRange('bytes=-50', SIZE)!, BODY, undefined);
    assert.equal(r.status, 206);
    assert.deepEqual(r.headers, [['Content-Range', 'bytes 0-9/10']]);
    assert.equal(r.body.toString(), '0123456789');
  });

  test('nothing satisfiable: 416 with Content-Range bytes */size and no body', () => {
    const r = rangedBody(parseRange('bytes=10-20', SIZE)!, BODY, 'text/plain');
    assert.equal(r.status, 416);
    assert.deepEqual(r.headers, [['Content-Range', 'bytes */10']]);
    assert.equal(r.body.length, 0);
  });

  test('several ranges: 206 multipart/byteranges, one part per range with its Content-Type and Content-Range', () => {
    const r = rangedBody(parseRange('bytes=0-1,5-7,-1', SIZE)!, BODY, 'text/plain');
    assert.equal(r.status, 206);
    assert.equal(r.headers.length, 1);
    const [name, value] = r.headers[0]!;
    assert.equal(name, 'Content-Type');
    const m = /^multipart\/byteranges; boundary=([0-9A-Za-z'()+_,\-./:=?]{1,70})$/.exec(value);
    assert.ok(m, value);
    const parts = multipartParts(r.body, m[1]!);
    assert.deepEqual(parts, [
      { headers: ['Content-Type: text/plain', 'Content-Range: bytes 0-1/10'], body: '01' },
      { headers: ['Content-Type: text/plain', 'Content-Range: bytes 5-7/10'], body: '567' },
      { headers: ['Content-Type: text/plain', 'Content-Range: bytes 9-9/10'], body: '9' },
    ]);
  });

  test('several ranges of a body without Content-Type: the parts have none either', () => {
    const r = rangedBody(parseRange('bytes=0-0,9-9', SIZE)!, BODY, undefined);
    const boundary = /boundary=(.+)$/.exec(r.headers[0]![1])![1]!;
    assert.deepEqual(multipartParts(r.body, boundary), [
      { headers: ['Content-Range: bytes 0-0/10'], body: '0' },
      { headers: ['Content-Range: bytes 9-9/10'], body: '9' },
    ]);
  });

  test('the boundary is new for every response', () => {
    const a = rangedBody(parseRange('bytes=0-0,1-1', SIZE)!, BODY, undefined).headers[0]![1];
    const b = rangedBody(parseRange('bytes=0-0,1-1', SIZE)!, BODY, undefined).headers[0]![1];
    assert.notEqual(a, b);
  });
});

/**
 * Splits a multipart body by RFC 2046 §5.1.1: an optional preamble, `--boundary` lines (each delimiter preceded by
 * CRLF, except at the very start), part headers up to an empty line, and the close delimiter `--boundary--`.
 * Fails the test on any deviation.
 */
function multipartParts(body: Buffer, boundary: string): { headers: string[]; body: string }[] {
  // The CRLF before a delimiter belongs to the delimiter; one at the very start stands for an empty preamble.
  let text = body.toString('latin1');
  if (!text.startsWith('\r\n')) text = `\r\n${text}`;
  const pieces = text.split(`\r\n--${boundary}`);
  assert.equal(pieces[0], '', 'no preamble');
  const last = pieces[pieces.length - 1]!;
  assert.match(last, /^--(\r\n)?$/, 'ends with the close delimiter');
  const parts: { headers: string[]; body: string }[] = [];
  for (const piece of pieces.slice(1, -1)) {
    assert.ok(piece.startsWith('\r\n'), 'the delimiter line ends with CRLF');
    const blank = piece.indexOf('\r\n\r\n');
    assert.ok(blank >= 0, 'part headers end with an empty line');
    parts.push({ headers: piece.slice(2, blank).split('\r\n'), body: piece.slice(blank + 4) });
  }
  return parts;
}
