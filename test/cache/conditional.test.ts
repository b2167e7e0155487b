/**
 * Client preconditions against a stored response (RFC 9110 §13.2.2, in its order) and If-Range (§13.1.5).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluatePreconditions, ifRangeHolds } from '../../src/cache/conditional.js';
import { HeaderList } from '../../src/proxy/header-list.js';

const LM = Date.UTC(2024, 0, 10, 8, 0, 0);
const DATE = Date.UTC(2024, 2, 1, 12, 0, 0);
const S = 1000;
const httpDate = (ms: number) => new Date(ms).toUTCString();
const h = (...raw: string[]) => new HeaderList(raw);

const strong = h('ETag', '"v1"', 'Last-Modified', httpDate(LM), 'Date', httpDate(DATE));
const weak = h('ETag', 'W/"v1"', 'Last-Modified', httpDate(LM), 'Date', httpDate(DATE));
const noValidators = h('Date', httpDate(DATE));

describe('If-None-Match', () => {
  test('a matching tag is 304', () => {
    assert.equal(evaluatePreconditions(h('If-None-Match', '"v1"'), strong), 304);
  });

  test('a tag in a list is 304', () => {
    assert.equal(evaluatePreconditions(h('If-None-Match', '"v0", "v1"'), strong), 304);
  });

  test('uses the weak comparison: W/ on either side still matches', () => {
    assert.equal(evaluatePreconditions(h('If-None-Match', 'W/"v1"'), strong), 304);
    assert.equal(evaluatePreconditions(h('If-None-Match', '"v1"'), weak), 304);
    assert.equal(evaluatePreconditions(h('If-None-Match', 'W/"v1"'), weak), 304);
  });

  test('a different tag is 200', () => {
    assert.equal(evaluatePreconditions(h('If-None-Match', '"v2"'), strong), 200);
    assert.equal(evaluatePreconditions(h('If-None-Match', '"V1"'), strong), 200);
  });

  test('* matches any stored representation', () => {
    assert.equal(evaluatePreconditions(h('If-None-Match', '*'), strong), 304);
    assert.equal(evaluatePreconditions(h('If-None-Match', '*'), noValidators), 304);
  });

  test('a tag against a response without ETag is 200', () => {
    assert.equal(evaluatePreconditions(h('If-None-Match', '"v1"'), noValidators), 200);
  });
});

describe('If-Modified-Since', () => {
  test('not modified since (equal or later date) is 304', () => {
    assert.equal(evaluatePreconditions(h('If-Modified-Since', httpDate(LM)), strong), 304);
    assert.equal(evaluatePreconditions(h('If-Modified-Since', httpDate(LM + 60 * S)), strong), 304);
  });

  test('modified since (earlier date) is 200', () => {
    assert.equal(evaluatePreconditions(h('If-Modified-Since', httpDate(LM - S)), strong), 200);
  });

  test('an invalid date is ignored', () => {
    assert.equal(evaluatePreconditions(h('If-Modified-Since', 'last tuesday'), strong), 200);
  });
});

describe('If-None-Match takes precedence over If-Modified-Since (§13.1.3)', () => {
  test('a non-matching tag is 200 even though the date says not modified', () => {
    assert.equal(evaluatePreconditions(h('If-None-Match', '"v2"', 'If-Modified-Since', httpDate(LM + 60 * S)), strong), 200);
  });

  test('a matching tag is 304 even though the date says modified', () => {
    assert.equal(evaluatePreconditions(h('If-Modified-Since', httpDate(LM - 60 * S), 'If-None-Match', '"v1"'), strong), 304);
  });
});

describe('If-Match and If-Unmodified-Since', () => {
  test('If-Match with the strong tag is 200', () => {
    assert.equal(evaluatePreconditions(h('If-Match', '"v1"'), strong), 200);
    assert.equal(evaluatePreconditions(h('If-Match', '"v0", "v1"'), strong), 200);
  });

  test('If-Match with another tag is 412', () => {
    assert.equal(evaluatePreconditions(h('If-Match', '"v2"'), strong), 412);
  });

  test('If-Match uses the strong comparison: a weak tag on either side fails (412)', () => {
    assert.equal(evaluatePreconditions(h('If-Match', 'W/"v1"'), strong), 412);
    assert.equal(evaluatePreconditions(h('If-Match', '"v1"'), weak), 412);
    assert.equal(evaluatePreconditions(h('If-Match', 'W/"v1"'), weak), 412);
  });

  test('If-Match: * holds for a stored representation', () => {
    assert.equal(evaluatePreconditions(h('If-Match', '*'), strong), 200);
  });

  test('If-Match against a response without ETag is 412', () => {
    assert.equal(evaluatePreconditions(h('If-Match', '"v1"'), noValidators), 412);
  });

  test('If-Unmodified-Since before the last modification is 412', () => {
    assert.equal(evaluatePreconditions(h('If-Unmodified-Since', httpDate(LM - S)), strong), 412);
  });

  test('If-Unmodified-Since at or after the last modification is 200', () => {
    assert.equal(evaluatePreconditions(h('If-Unmodified-Since', httpDate(LM)), strong), 200);
    assert.equal(evaluatePreconditions(h('If-Unmodified-Since', httpDate(LM + S)), strong), 200);
  });

  test('If-Unmodified-Since is ignored without a Last-Modified, or when If-Match is present', () => {
    assert.equal(evaluatePreconditions(h('If-Unmodified-Since', httpDate(LM - S)), noValidators), 200);
    assert.equal(evaluatePreconditions(h('If-Match', '"v1"', 'If-Unmodified-Since', httpDate(LM - S)), strong), 200);
  });

  test('a failed If-Match is 412 before If-None-Match is looked at', () => {
    assert.equal(evaluatePreconditions(h('If-Match', '"v2"', 'If-None-Match', '"v1"'), strong), 412);
  });
});

describe('If-Range (§13.1.5)', () => {
  test('no If-Range: the Range applies', () => {
    assert.equal(ifRangeHolds(h('Range', 'bytes=0-1'), strong), true);
  });

  test('the stored strong ETag: the Range applies', () => {
    assert.equal(ifRangeHolds(h('If-Range', '"v1"'), strong), true);
  });

  test('another ETag: the Range does not apply', () => {
    assert.equal(ifRangeHolds(h('If-Range', '"v2"'), strong), false);
  });

  test('a weak ETag never matches, on either side', () => {
    assert.equal(ifRangeHolds(h('If-Range', 'W/"v1"'), strong), false);
    assert.equal(ifRangeHolds(h('If-Range', '"v1"'), weak), false);
    assert.equal(ifRangeHolds(h('If-Range', 'W/"v1"'), weak), false);
  });

  test('an ETag against a response without ETag: the Range does not apply', () => {
    assert.equal(ifRangeHolds(h('If-Range', '"v1"'), noValidators), false);
  });

  test('the exact Last-Modified date: the Range applies', () => {
    assert.equal(ifRangeHolds(h('If-Range', httpDate(LM)), strong), true);
  });

  test('another date, earlier or later: the Range does not apply', () => {
    assert.equal(ifRangeHolds(h('If-Range', httpDate(LM - S)), strong), false);
    assert.equal(ifRangeHolds(h('If-Range', httpDate(LM + S)), strong), false);
  });

  test('a date against a response without Last-Modified, or an unparsable value: the Range does not apply', () => {
    assert.equal(ifRangeHolds(h('If-Range', httpDate(LM)), noValidators), false);
    assert.equal(ifRangeHolds(h('If-Range', 'not a date'), strong), false);
  });

  test('a date only counts when Last-Modified is strong: at least 60 s before the stored Date (§8.8.2.2)', () => {
    const justModified = h('ETag', '"v1"', 'Last-Modified', httpDate(DATE - 10 * S), 'Date', httpDate(DATE));
    assert.equal(ifRangeHolds(h('If-Range', httpDate(DATE - 10 * S)), justModified), false);
  });
});

test('If-Modified-Since without a stored Last-Modified is compared with the stored Date (RFC 9111 §4.3.2)', () => {
  const stored = new HeaderList(['Date', 'Mon, 23 Nov 2026 10:00:00 GMT']);
  assert.equal(evaluatePreconditions(new HeaderList(['If-Modified-Since', 'Mon, 23 Nov 2026 10:00:00 GMT']), stored), 304);
  assert.equal(evaluatePreconditions(new HeaderList(['If-Modified-Since', 'Mon, 23 Nov 2026 09:59:59 GMT']), stored), 200);
});
