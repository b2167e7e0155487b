/**
 * ACL filters (acl.ts): building a filter from @options, and `deniedBy`'s conjunctive semantics, pinned to the
 * results of ATS's tests/gold_tests/remap/all_acl_combinations.py with ip_allow allowing GET and POST from anywhere
 * (remapd has no ip_allow.yaml: everything is allowed unless a filter denies it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AclFilter, type AclSubject, buildFilter, deniedBy } from '../../src/remap/acl.js';
import { parseAddress } from '../../src/remap/ip-range.js';
import { dump, errorsOf, parseText } from './virtual-config.js';

type Option = { key: string; value: string | null };

/** Parses `@k=v @k2` as written on a rule line, for buildFilter. */
function options(text: string): Option[] {
  return text
    .split(/\s+/)
    .filter((t) => t !== '')
    .map((t) => {
      const eq = t.indexOf('=');
      return eq >= 0 ? { key: t.slice(1, eq), value: t.slice(eq + 1) } : { key: t.slice(1), value: null };
    });
}

function filter(text: string, name: string | null = null): AclFilter {
  const { filter: f, errors } = buildFilter(options(text), name, 'remap.config', 1);
  assert.deepEqual(errors, []);
  assert.ok(f);
  return f;
}

function subject(method: string, remote = '127.0.0.1', extra: Partial<AclSubject> = {}): AclSubject {
  return { method, remote: parseAddress(remote), local: parseAddress('127.0.0.1'), internal: false, ...extra };
}

const passes = (filters: AclFilter[], s: AclSubject) => deniedBy(filters, s) === null;

test('a filter without @action allows (ATS acl_filter_rule default)', () => {
  const f = filter('@method=GET');
  assert.equal(f.allow, true);
  assert.equal(passes([f], subject('GET')), true);
  assert.equal(passes([f], subject('PUT')), false);
});

test('every ATS spelling of allow and deny is understood, case-insensitively', () => {
  for (const word of ['allow', 'ALLOW', 'add_allow', 'set_allow', '1', 'on', 'enable']) {
    assert.equal(filter(`@action=${word}`).allow, true, word);
  }
  for (const word of ['deny', 'Deny', 'add_deny', 'set_deny', '0', 'off', 'disable']) {
    assert.equal(filter(`@action=${word}`).allow, false, word);
  }
});

test('methods are collected upper-cased and repeated @src_ip/@in_ip values accumulate', () => {
  const f = filter('@action=deny @method=get @method=Post @src_ip=10.0.0.1 @src_ip=::1 @in_ip=192.0.2.1 @internal', 'named');
  assert.deepEqual([...f.methods!], ['GET', 'POST']);
  assert.deepEqual(
    f.srcIp!.map((e) => e.text),
    ['10.0.0.1', '::1'],
  );
  assert.deepEqual(
    f.inIp!.map((e) => e.text),
    ['192.0.2.1'],
  );
  assert.equal(f.internal, true);
  assert.equal(f.name, 'named');
  assert.equal(f.file, 'remap.config');
  assert.equal(f.line, 1);
});

test('a filter with no @method, @src_ip or @in_ip has null lists, not empty ones', () => {
  const f = filter('@action=deny');
  assert.equal(f.methods, null);
  assert.equal(f.srcIp, null);
  assert.equal(f.inIp, null);
});

test('every problem of a filter is reported, not only the first, and no filter is built', () => {
  const { filter: f, errors } = buildFilter(
    options('@action=maybe @action=deny @method=G(T @src_ip=10.0.0.0/33 @in_ip=nope @method= @colour=red'),
    null,
    'remap.config',
    3,
  );
  assert.equal(f, null);
  assert.deepEqual(errors, [
    '@action=maybe is not allow or deny',
    // the first @action was refused, so the second one is not a duplicate
    '@method=G(T is not an HTTP method token',
    '@src_ip: "/33" is not a prefix length for IPv4 (0-32) in "10.0.0.0/33"',
    '@in_ip: "nope" is not an IP address, range (a-b), CIDR (a/n) or "all"',
    '@method needs a value (e.g. @method=GET)',
    '@colour is not a filter option',
  ]);
});

test('a second @action in one filter is refused', () => {
  const { errors } = buildFilter(options('@action=allow @action=deny'), null, 'remap.config', 1);
  assert.deepEqual(errors, ['only one @action= is allowed per filter']);
});

test('@action, @src_ip and @in_ip without a value are refused with an example', () => {
  const { errors } = buildFilter(options('@action @src_ip= @in_ip'), null, 'remap.config', 1);
  assert.deepEqual(errors, [
    '@action needs a value (e.g. @action=deny)',
    '@src_ip needs a value (e.g. @src_ip=10.0.0.0/8)',
    '@in_ip needs a value (e.g. @in_ip=10.0.0.0/8)',
  ]);
});

test('an allow filter with @src_ip lets through only those sources', () => {
  const f = [filter('@action=allow @src_ip=10.0.0.0/8')];
  assert.equal(passes(f, subject('GET', '10.1.2.3')), true);
  assert.equal(passes(f, subject('GET', '192.0.2.1')), false);
  assert.equal(passes(f, subject('GET', '::1')), false);
});

test('an allow filter refuses a request whose source address is unknown', () => {
  assert.equal(passes([filter('@action=allow @src_ip=10.0.0.0/8')], { ...subject('GET'), remote: null }), false);
});

test('a deny filter stops exactly the requests matching all of its conditions', () => {
  const f = [filter('@action=deny @method=DELETE @src_ip=192.0.2.0/24')];
  assert.equal(passes(f, subject('DELETE', '192.0.2.5')), false);
  assert.equal(passes(f, subject('GET', '192.0.2.5')), true);
  assert.equal(passes(f, subject('DELETE', '198.51.100.5')), true);
});

test('an IPv4-mapped client address is matched against IPv4 filters', () => {
  const f = [filter('@action=allow @src_ip=127.0.0.1')];
  assert.equal(passes(f, subject('GET', '::ffff:127.0.0.1')), true);
  const d = [filter('@action=deny @src_ip=127.0.0.0/8')];
  assert.equal(passes(d, subject('GET', '::ffff:127.0.0.2')), false);
});

test('a negated @src_ip allows everyone outside the range', () => {
  const f = [filter('@action=allow @src_ip=~10.0.0.0/8')];
  assert.equal(passes(f, subject('GET', '10.0.0.1')), false);
  assert.equal(passes(f, subject('GET', '192.0.2.1')), true);
});

test('@in_ip matches the local address the request arrived on', () => {
  const f = [filter('@action=deny @in_ip=192.0.2.10')];
  assert.equal(passes(f, subject('GET', '127.0.0.1', { local: parseAddress('192.0.2.10') })), false);
  assert.equal(passes(f, subject('GET', '192.0.2.10', { local: parseAddress('192.0.2.11') })), true);
});

test('@internal restricts a filter to internal requests', () => {
  const allowInternal = [filter('@action=allow @internal')];
  assert.equal(passes(allowInternal, subject('GET', '127.0.0.1', { internal: true })), true);
  assert.equal(passes(allowInternal, subject('GET')), false);
  const denyInternal = [filter('@action=deny @internal')];
  assert.equal(passes(denyInternal, subject('GET', '127.0.0.1', { internal: true })), false);
  assert.equal(passes(denyInternal, subject('GET')), true);
});

test('deniedBy names the first filter that refuses, in filter order', () => {
  const a = filter('@action=allow @method=GET', 'first');
  const b = filter('@action=deny @method=GET', 'second');
  assert.equal(deniedBy([a, b], subject('GET')), b);
  assert.equal(deniedBy([a, b], subject('POST')), a);
  assert.equal(deniedBy([], subject('POST')), null);
});

/**
 * all_acl_combinations.py, the rows with ip_allow = ALLOW_GET_AND_POST (row index kept). The request comes from
 * 127.0.0.1; the in-line ACL is on the rule and the named one is defined with .definefilter and activated before it.
 */
const ATS_ROWS: { index: number; inline: string; named: string; get: 200 | 403; post: 200 | 403 }[] = [
  { index: 0, inline: '', named: '', get: 200, post: 200 },
  { index: 4, inline: '', named: '@action=allow @method=GET', get: 200, post: 403 },
  { index: 8, inline: '', named: '@action=deny  @method=GET', get: 403, post: 200 },
  { index: 12, inline: '@action=allow @method=GET', named: '', get: 200, post: 403 },
  { index: 16, inline: '@action=allow @method=GET', named: '@action=allow @method=GET', get: 200, post: 403 },
  { index: 20, inline: '@action=allow @method=GET', named: '@action=deny  @method=GET', get: 403, post: 403 },
  { index: 24, inline: '@action=allow @method=GET', named: '@action=allow @method=POST', get: 403, post: 403 },
  { index: 28, inline: '@action=allow @method=GET', named: '@action=deny  @method=POST', get: 200, post: 403 },
  { index: 32, inline: '@action=deny  @method=GET', named: '', get: 403, post: 200 },
  { index: 36, inline: '@action=deny  @method=GET', named: '@action=allow @method=GET', get: 403, post: 403 },
  { index: 40, inline: '@action=deny  @method=GET', named: '@action=deny  @method=GET', get: 403, post: 200 },
  { index: 44, inline: '@action=deny  @method=GET', named: '@action=allow @method=POST', get: 403, post: 200 },
  { index: 48, inline: '@action=deny  @method=GET', named: '@action=deny  @method=POST', get: 403, post: 403 },
  { index: 52, inline: '@action=allow @src_ip=127.0.0.1 @src_ip=::1', named: '', get: 200, post: 200 },
  { index: 56, inline: '@action=deny  @src_ip=127.0.0.1 @src_ip=::1', named: '', get: 403, post: 403 },
  { index: 60, inline: '@action=allow @src_ip=192.0.2.1/24', named: '', get: 403, post: 403 },
  { index: 64, inline: '@action=deny  @src_ip=192.0.2.1/24', named: '', get: 200, post: 200 },
  { index: 68, inline: '@action=allow @src_ip=127.0.0.1 @src_ip=::1', named: '@action=deny @method=POST', get: 200, post: 403 },
  { index: 72, inline: '@action=deny  @method=POST', named: '@action=allow @src_ip=127.0.0.1 @src_ip=::1', get: 200, post: 403 },
];

test('ATS all_acl_combinations rows with ip_allow allowing GET and POST: deniedBy gives the same answers', () => {
  for (const row of ATS_ROWS) {
    const lines = row.named === '' ? [] : [`.definefilter named ${row.named}`, '.activatefilter named'];
    lines.push(`map http://a.test/ http://origin.test/ ${row.inline}`);
    const parsed = parseText(lines.join('\n'));
    assert.deepEqual(errorsOf(parsed), [], `row ${row.index}:\n${dump(parsed)}`);
    assert.equal(parsed.rules.length, 1, `row ${row.index}`);
    const filters = parsed.rules[0]!.filters;
    // In-line filter first, then the named one.
    assert.deepEqual(
      filters.map((f) => f.name),
      [...(row.inline ? [null] : []), ...(row.named ? ['named'] : [])],
      `row ${row.index}`,
    );
    for (const [method, want] of [
      ['GET', row.get],
      ['POST', row.post],
    ] as const) {
      for (const remote of ['127.0.0.1', '::ffff:127.0.0.1']) {
        const got = deniedBy(filters, subject(method, remote)) === null ? 200 : 403;
        assert.equal(got, want, `row ${row.index} (inline "${row.inline}", named "${row.named}"): ${method} from ${remote}`);
      }
    }
  }
});
