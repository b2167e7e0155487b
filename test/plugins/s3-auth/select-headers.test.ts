/**
 * select-headers.ts: which fields are signed (ATS's include/exclude rule, composed with the always-signed and
 * never-signed sets) and their canonical form (names lower-cased and sorted, values trimmed and squeezed,
 * repeated fields joined with ',' in order).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { canonicalHeaders, type HeaderSelection, isSigned, parseHeaderNames, SIGN_ALL } from '../../../src/plugins/s3-auth/select-headers.js';

function selection(include: string | null, exclude: string | null): HeaderSelection {
  return { include: include === null ? null : parseHeaderNames(include), exclude: exclude === null ? new Set() : parseHeaderNames(exclude) };
}

/** The signed names of a request carrying one field of each name in `names`. */
function signedNames(names: readonly string[], sel: HeaderSelection): string {
  const raw: string[] = [];
  for (const n of names) raw.push(n, 'v');
  return canonicalHeaders(new HeaderList(raw), sel).signedHeaders;
}

const ORDINARY = ['Host', 'Accept', 'Range', 'X-Custom', 'Content-Type', 'x-amz-date', 'If-None-Match'];

describe('ATS include/exclude rule', () => {
  test('no include and no exclude list: every field is signed', () => {
    assert.equal(signedNames(ORDINARY, selection(null, null)), 'accept;content-type;host;if-none-match;range;x-amz-date;x-custom');
  });

  test('exclude list only: every field except the excluded ones', () => {
    assert.equal(signedNames(ORDINARY, selection(null, 'Accept, x-custom')), 'content-type;host;if-none-match;range;x-amz-date');
  });

  test('include list only: only the included fields (and the always-signed ones)', () => {
    assert.equal(signedNames(ORDINARY, selection('range,if-none-match', null)), 'content-type;host;if-none-match;range;x-amz-date');
  });

  test('include and exclude lists: the included fields minus the excluded ones', () => {
    assert.equal(signedNames(ORDINARY, selection('range, if-none-match, accept', 'accept,range')), 'content-type;host;if-none-match;x-amz-date');
  });

  test('list names are case-insensitive and blanks in the lists are ignored', () => {
    assert.deepEqual(parseHeaderNames(' Range ,, IF-None-Match,'), new Set(['range', 'if-none-match']));
  });
});

describe('always-signed fields', () => {
  const always = ['Host', 'Content-Type', 'x-amz-date', 'X-Amz-Content-Sha256', 'x-amz-meta-owner', 'X-Amz-Security-Token'];

  test('host, content-type and every x-amz-* are signed even when excluded', () => {
    const excludeAll = always.join(',');
    assert.equal(
      signedNames([...always, 'Range'], selection(null, excludeAll)),
      'content-type;host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-owner;x-amz-security-token',
    );
  });

  test('host, content-type and every x-amz-* are signed even when an include list leaves them out', () => {
    assert.equal(
      signedNames([...always, 'Range'], selection('accept', null)),
      'content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-owner;x-amz-security-token',
    );
  });

  test('isSigned agrees for each of them', () => {
    const sel = selection('accept', always.join(','));
    for (const n of always) assert.equal(isSigned(n.toLowerCase(), sel), true, n);
  });
});

describe('never-signed fields', () => {
  // Proxies on the way add to or rewrite these, and hop-by-hop fields are not end-to-end (RFC 9110 §7.6.1).
  const never = [
    'Via',
    'X-Forwarded-For',
    'Forwarded',
    'Connection',
    'Keep-Alive',
    'TE',
    'Trailer',
    'Transfer-Encoding',
    'Upgrade',
    'Proxy-Authorization',
    'Proxy-Authenticate',
    'Proxy-Connection',
    // Issue 3 says `proxy-*`: any field of that prefix, not only the three RFC-named ones.
    'Proxy-Client-IP',
    'Proxy-Status',
  ];

  test('are not signed with the default selection', () => {
    assert.equal(signedNames([...never, 'Host'], SIGN_ALL), 'host');
  });

  test('are not signed even when the include list names them', () => {
    const sel = selection(never.join(','), null);
    assert.equal(signedNames([...never, 'Host'], sel), 'host');
    for (const n of never) assert.equal(isSigned(n.toLowerCase(), sel), false, n);
  });

  test('Authorization itself is never signed', () => {
    assert.equal(signedNames(['Authorization', 'Host'], selection('authorization', null)), 'host');
  });
});

describe('canonical form', () => {
  test('lower-cases names and sorts them, whatever the wire order and case', () => {
    const h = new HeaderList(['X-Amz-Date', '20130524T000000Z', 'HOST', 'example.com', 'range', 'bytes=0-9', 'Accept', '*/*']);
    assert.deepEqual(canonicalHeaders(h, SIGN_ALL), {
      canonical: 'accept:*/*\nhost:example.com\nrange:bytes=0-9\nx-amz-date:20130524T000000Z\n',
      signedHeaders: 'accept;host;range;x-amz-date',
    });
  });

  test('joins repeated fields with `,` in the order received, whatever their name case', () => {
    const h = new HeaderList(['My-Header1', 'value2', 'Host', 'h', 'my-header1', 'value2', 'MY-HEADER1', 'value1']);
    assert.equal(canonicalHeaders(h, SIGN_ALL).canonical, 'host:h\nmy-header1:value2,value2,value1\n');
  });

  test('trims values and squeezes inner runs of spaces and tabs to one space', () => {
    const h = new HeaderList(['My-Header1', '  value1  ', 'My-Header2', '"a   b \t c"', 'My-Header3', '\t\tx\t', 'Host', 'h']);
    assert.equal(canonicalHeaders(h, SIGN_ALL).canonical, 'host:h\nmy-header1:value1\nmy-header2:"a b c"\nmy-header3:x\n');
  });

  test('trims each repeated value before joining', () => {
    const h = new HeaderList(['A', ' one ', 'A', '  two  three ']);
    assert.equal(canonicalHeaders(h, SIGN_ALL).canonical, 'a:one,two three\n');
  });

  test('keeps an empty value as `name:`', () => {
    const h = new HeaderList(['X-Empty', '', 'X-Blank', '   ']);
    assert.equal(canonicalHeaders(h, SIGN_ALL).canonical, 'x-blank:\nx-empty:\n');
  });

  test('does not treat a non-breaking space as HTTP whitespace', () => {
    const h = new HeaderList(['X-Nbsp', 'a\u00a0\u00a0b']);
    assert.equal(canonicalHeaders(h, SIGN_ALL).canonical, 'x-nbsp:a\u00a0\u00a0b\n');
  });

  test('no fields at all is empty', () => {
    assert.deepEqual(canonicalHeaders(new HeaderList(), SIGN_ALL), { canonical: '', signedHeaders: '' });
  });
});
