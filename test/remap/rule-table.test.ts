/**
 * The lookup table (rule-table.ts): ATS's precedence (remap.config.en.rst "Precedence"), shadowed-rule warnings,
 * reverse_map Location rewriting and the path seam.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RuleSpec } from '../../src/remap/parser.js';
import { joinPath, type MatchRequest, remapPath, RuleTable, splitAuthority } from '../../src/remap/rule-table.js';
import { dump, errorsOf, parseText, VIRTUAL_TOP } from './virtual-config.js';

function tableOf(lines: string[]): RuleTable<RuleSpec> {
  const parsed = parseText(lines.join('\n'));
  assert.deepEqual(errorsOf(parsed), [], dump(parsed));
  return new RuleTable(parsed.rules);
}

function req(host: string, path = '/', more: Partial<MatchRequest> = {}): MatchRequest {
  const scheme = more.scheme ?? 'http';
  const port = more.port ?? (scheme === 'https' ? 443 : 80);
  return { scheme, host, port, recvPort: more.recvPort ?? port, path };
}

/** The line of the rule chosen for the request, or null. */
function lineFor(t: RuleTable<RuleSpec>, r: MatchRequest): number | null {
  return t.lookup(r)?.rule.line ?? null;
}

// ---- host, port, scheme ----

test('a host rule matches its host, whatever the case it was written in', () => {
  const t = tableOf(['map http://WWW.Example.com/ http://o.test/']);
  assert.equal(lineFor(t, req('www.example.com')), 1);
  assert.equal(lineFor(t, req('example.com')), null);
  assert.equal(lineFor(t, req('www.example.com.evil')), null);
});

test('the port is significant, with the scheme default when the rule has none', () => {
  const t = tableOf(['map http://a.test/ http://o.test/', 'map http://b.test:8080/ http://o.test/', 'map https://c.test/ http://o.test/']);
  assert.equal(lineFor(t, req('a.test', '/', { port: 80 })), 1);
  assert.equal(lineFor(t, req('a.test', '/', { port: 8080 })), null);
  assert.equal(lineFor(t, req('b.test', '/', { port: 8080 })), 2);
  assert.equal(lineFor(t, req('b.test', '/', { port: 80 })), null);
  assert.equal(lineFor(t, req('c.test', '/', { scheme: 'https' })), 3);
  assert.equal(lineFor(t, req('c.test', '/', { scheme: 'https', port: 80 })), null);
});

test('a rule written with the default port is the same as one without', () => {
  const t = tableOf(['map http://a.test:80/ http://o.test/']);
  assert.equal(lineFor(t, req('a.test')), 1);
});

test('the scheme of the from-URL must match the request', () => {
  const t = tableOf(['map http://a.test:443/ http://o.test/', 'map https://b.test:80/ http://o.test/']);
  assert.equal(lineFor(t, req('a.test', '/', { scheme: 'https', port: 443 })), null);
  assert.equal(lineFor(t, req('a.test', '/', { scheme: 'http', port: 443 })), 1);
  assert.equal(lineFor(t, req('b.test', '/', { scheme: 'http', port: 80 })), null);
  assert.equal(lineFor(t, req('b.test', '/', { scheme: 'https', port: 80 })), 2);
});

test('an IPv6 literal host rule matches the unbracketed address and its port', () => {
  const t = tableOf(['map http://[::1]:8080/ http://o.test/']);
  assert.equal(lineFor(t, req('::1', '/', { port: 8080 })), 1);
  assert.equal(lineFor(t, req('::1', '/', { port: 80 })), null);
});

test('no matching rule gives null', () => {
  const t = tableOf(['map http://a.test/x/ http://o.test/']);
  assert.equal(t.lookup(req('a.test', '/y')), null);
  assert.equal(t.lookup(req('b.test', '/x/')), null);
  assert.equal(new RuleTable([]).lookup(req('a.test')), null);
});

// ---- host-less rules ----

test('host rules are chosen before host-less rules, whatever the file order', () => {
  const t = tableOf(['map / http://fallback.test/', 'map http://a.test/ http://o.test/']);
  assert.equal(lineFor(t, req('a.test', '/x')), 2);
  assert.equal(lineFor(t, req('b.test', '/x')), 1);
});

test('a host-less rule matches any host, port and scheme, and a request without a host', () => {
  const t = tableOf(['map /images/ http://img.test/']);
  assert.equal(lineFor(t, req('anything.test', '/images/a.png')), 1);
  assert.equal(lineFor(t, req('anything.test', '/images/a.png', { scheme: 'https', port: 8443 })), 1);
  assert.equal(lineFor(t, req('', '/images/a.png')), 1);
  assert.equal(lineFor(t, req('anything.test', '/other')), null);
});

test('a request without a host only ever matches host-less rules', () => {
  const t = tableOf(['map http://a.test/ http://o.test/', 'regex_map http://(.*)/ http://o.test/']);
  assert.equal(lineFor(t, req('')), null);
});

// ---- path prefix and file order ----

test('among rules whose from-path is a prefix of the path, the earliest in the file wins (ATS doc example)', () => {
  const t = tableOf(['map http://www.g.com/ http://server1.g.com/', 'map http://www.g.com/stuff/ http://server2.g.com/']);
  assert.equal(lineFor(t, req('www.g.com', '/stuff/a.gif')), 1);
  assert.equal(lineFor(t, req('www.g.com', '/other')), 1);
});

test('a more specific rule written first wins for its paths and leaves the rest to the general one', () => {
  const t = tableOf(['map http://www.g.com/stuff/ http://server2.g.com/', 'map http://www.g.com/ http://server1.g.com/']);
  assert.equal(lineFor(t, req('www.g.com', '/stuff/a.gif')), 1);
  assert.equal(lineFor(t, req('www.g.com', '/stuffing')), 2);
  assert.equal(lineFor(t, req('www.g.com', '/')), 2);
});

test('the from-path is a plain string prefix, as in ATS', () => {
  const t = tableOf(['map http://a.test/img http://o.test/']);
  assert.equal(lineFor(t, req('a.test', '/img')), 1);
  assert.equal(lineFor(t, req('a.test', '/imgs/x')), 1);
  assert.equal(lineFor(t, req('a.test', '/images/x')), null);
  assert.equal(lineFor(t, req('a.test', '/im')), null);
});

test('a later rule for the same host is used when the earlier one\'s port or path does not fit', () => {
  const t = tableOf(['map http://a.test:8080/ http://o.test/', 'map http://a.test/x/ http://o.test/', 'map http://a.test/ http://o.test/']);
  assert.equal(lineFor(t, req('a.test', '/x/1')), 2);
  assert.equal(lineFor(t, req('a.test', '/y')), 3);
  assert.equal(lineFor(t, req('a.test', '/x/1', { port: 8080 })), 1);
});

// ---- regex rules ----

test('a regex rule returns its host captures', () => {
  const t = tableOf(['regex_map http://(.*)\\.(cdn)\\.test/ http://$1.origin.test/']);
  const m = t.lookup(req('img.cdn.test', '/a'));
  assert.ok(m);
  assert.equal(m.rule.line, 1);
  assert.deepEqual([...m.captures!], ['img.cdn.test', 'img', 'cdn']);
  assert.equal(t.lookup(req('img.cdn.example')), null);
});

test('an exact-host match has no captures', () => {
  const t = tableOf(['map http://a.test/ http://o.test/']);
  assert.equal(t.lookup(req('a.test'))!.captures, null);
});

test('regex rules compete with exact-host rules in file order', () => {
  const regexFirst = tableOf(['regex_map http://(.*)\\.a\\.test/ http://re.test/', 'map http://www.a.test/ http://exact.test/']);
  assert.equal(lineFor(regexFirst, req('www.a.test')), 1);
  const exactFirst = tableOf(['map http://www.a.test/ http://exact.test/', 'regex_map http://(.*)\\.a\\.test/ http://re.test/']);
  assert.equal(lineFor(exactFirst, req('www.a.test')), 1);
  assert.equal(lineFor(exactFirst, req('img.a.test')), 2);
});

test('a later regex rule is used when the earlier exact rule\'s path does not fit', () => {
  const t = tableOf(['map http://www.a.test/x/ http://exact.test/', 'regex_map http://(.*)\\.a\\.test/ http://re.test/']);
  assert.equal(lineFor(t, req('www.a.test', '/x/1')), 1);
  assert.equal(lineFor(t, req('www.a.test', '/y')), 2);
});

test('a regex rule checks scheme, port and path like any other', () => {
  const t = tableOf(['regex_map https://(.*)\\.a\\.test:8443/api/ http://re.test/']);
  assert.equal(lineFor(t, req('x.a.test', '/api/1', { scheme: 'https', port: 8443 })), 1);
  assert.equal(lineFor(t, req('x.a.test', '/api/1', { scheme: 'https', port: 443 })), null);
  assert.equal(lineFor(t, req('x.a.test', '/api/1', { scheme: 'http', port: 8443 })), null);
  assert.equal(lineFor(t, req('x.a.test', '/web/1', { scheme: 'https', port: 8443 })), null);
});

test('a regex host pattern matches case-insensitively', () => {
  const t = tableOf(['regex_map http://WWW\\.(.*)\\.test/ http://$1.o.test/']);
  assert.equal(t.lookup(req('www.shop.test'))!.captures![1], 'shop');
});

// ---- precedence groups ----

test('map_with_recv_port rules come before map rules, whatever the file order', () => {
  const t = tableOf(['map http://a.test:8080/ http://map.test/', 'map_with_recv_port http://a.test:8080/ http://recv.test/']);
  assert.equal(lineFor(t, req('a.test', '/', { port: 8080, recvPort: 8080 })), 2);
});

test('map_with_recv_port matches the port the connection arrived on, not the Host header\'s', () => {
  const t = tableOf(['map_with_recv_port http://a.test:8080/ http://recv.test/', 'map http://a.test/ http://map.test/']);
  assert.equal(lineFor(t, req('a.test', '/', { port: 80, recvPort: 8080 })), 1);
  assert.equal(lineFor(t, req('a.test', '/', { port: 8080, recvPort: 80 })), null);
  assert.equal(lineFor(t, req('a.test', '/', { port: 80, recvPort: 80 })), 2);
});

test('regex_map_with_recv_port is in the first group too', () => {
  const t = tableOf(['map http://a.test/ http://map.test/', 'regex_map_with_recv_port http://(.*)\\.test:8000/ http://recv.test/']);
  assert.equal(lineFor(t, req('a.test', '/', { port: 80, recvPort: 8000 })), 2);
  assert.equal(lineFor(t, req('a.test', '/', { port: 80, recvPort: 80 })), 1);
});

test('map and regex_map rules come before redirect rules, which come before regex_redirect rules', () => {
  const t = tableOf([
    'regex_redirect http://(.*)\\.test/ http://rr.test/', // 1
    'redirect http://a.test/ http://r.test/', // 2
    'regex_map http://(b)\\.test/ http://m.test/', // 3
    'redirect_temporary http://c.test/ http://r.test/', // 4
    'regex_redirect_temporary http://(d)\\.test/ http://rr.test/', // 5
  ]);
  assert.equal(lineFor(t, req('a.test')), 2);
  assert.equal(lineFor(t, req('b.test')), 3);
  assert.equal(lineFor(t, req('c.test')), 4);
  assert.equal(lineFor(t, req('d.test')), 1);
  assert.equal(lineFor(t, req('e.test')), 1);
});

test('a host-less map rule comes before a host redirect rule (groups first, then host before host-less)', () => {
  const t = tableOf(['redirect http://a.test/ http://r.test/', 'map / http://m.test/']);
  assert.equal(lineFor(t, req('a.test')), 2);
});

test('reverse_map rules are never chosen for requests', () => {
  const t = tableOf(['reverse_map http://a.test/ http://www.test/']);
  assert.equal(t.lookup(req('a.test')), null);
});

// ---- shadow warnings ----

function shadowOf(lines: string[]) {
  return tableOf(lines).shadowWarnings();
}

test('a rule shadowed by an earlier one is warned about, naming both lines', () => {
  const w = shadowOf(['map http://www.g.com/ http://server1.g.com/', 'map http://www.g.com/stuff/ http://server2.g.com/']);
  assert.equal(w.length, 1);
  assert.equal(w[0]!.severity, 'warning');
  assert.equal(w[0]!.file, VIRTUAL_TOP);
  assert.equal(w[0]!.line, 2);
  assert.match(w[0]!.message, new RegExp(`this map rule is never used: the earlier rule at ${VIRTUAL_TOP}:1 \\(map http://www.g.com/\\)`));
  assert.match(w[0]!.message, /put the more specific rule first/);
});

test('a duplicate rule, or one differing only by an explicit default port, is shadowed', () => {
  assert.deepEqual(
    shadowOf(['map http://a.test/ http://o.test/', 'map http://a.test/ http://p.test/', 'map http://a.test:80/x http://q.test/']).map((w) => w.line),
    [2, 3],
  );
});

test('no warning for different hosts, ports, schemes, or a more specific rule first', () => {
  const lines = [
    'map http://a.test/x/ http://o.test/',
    'map http://a.test/ http://o.test/',
    'map http://b.test/x/ http://o.test/',
    'map http://a.test:8080/x/ http://o.test/',
    'map https://a.test/x/ http://o.test/',
    'map http://a.test:8080/y/ http://o.test/',
  ];
  assert.deepEqual(shadowOf(lines), []);
});

test('across groups only a redirect under a map is warned about; host and host-less rules never shadow each other', () => {
  const lines = [
    'map http://a.test/ http://o.test/',
    'map_with_recv_port http://a.test/ http://o.test/',
    'redirect http://a.test/ http://o.test/',
    'map / http://o.test/',
    'reverse_map http://a.test/ http://o.test/',
  ];
  assert.deepEqual(
    shadowOf(lines).map((w) => w.line),
    [3],
  );
});

test('an earlier regex rule shadows a later exact rule whose host it matches; an exact rule never shadows a regex', () => {
  assert.deepEqual(
    shadowOf(['regex_map http://(.*)\\.a\\.test/ http://o.test/', 'map http://www.a.test/x/ http://o.test/']).map((w) => w.line),
    [2],
  );
  assert.deepEqual(shadowOf(['regex_map http://(.*)\\.a\\.test/ http://o.test/', 'map http://www.b.test/ http://o.test/']), []);
  assert.deepEqual(shadowOf(['map http://www.a.test/ http://o.test/', 'regex_map http://(.*)\\.a\\.test/ http://o.test/']), []);
});

test('the same regex written twice is shadowed; different patterns are not', () => {
  assert.deepEqual(
    shadowOf(['regex_map http://(.*)\\.a\\.test/ http://o.test/', 'regex_map http://(.*)\\.a\\.test/x/ http://p.test/']).map((w) => w.line),
    [2],
  );
  assert.deepEqual(shadowOf(['regex_map http://(.*)\\.a\\.test/ http://o.test/', 'regex_map http://(.*)\\.b\\.test/ http://o.test/']), []);
});

test('host-less rules shadow later host-less rules under their path', () => {
  assert.deepEqual(
    shadowOf(['map / http://o.test/', 'map /x/ http://o.test/']).map((w) => w.line),
    [2],
  );
  assert.deepEqual(shadowOf(['map /x/ http://o.test/', 'map / http://o.test/']), []);
});

test('a rule shadowed by several earlier rules gets one warning, naming the first', () => {
  const w = shadowOf(['map http://a.test/ http://o.test/', 'map http://a.test/x/ http://o.test/', 'map http://a.test/x/y/ http://o.test/']);
  assert.deepEqual(
    w.map((d) => d.line),
    [2, 3],
  );
  assert.match(w[1]!.message, new RegExp(`${VIRTUAL_TOP}:1 `));
});

// ---- reverse_map ----

test('reverse() rewrites a URL under a reverse_map from-URL, keeping the rest of the path and the query', () => {
  const t = tableOf(['reverse_map http://origin.test:9000/bucket/ http://www.test/files/']);
  assert.equal(t.reverse('http://origin.test:9000/bucket/a/b.txt?x=1&y=2'), 'http://www.test/files/a/b.txt?x=1&y=2');
  assert.equal(t.reverse('http://origin.test:9000/bucket/'), 'http://www.test/files/');
  assert.equal(t.reverse('HTTP://Origin.TEST:9000/bucket/k#frag'), 'http://www.test/files/k#frag');
});

test('reverse() needs scheme, host, port and path prefix to match, else gives null', () => {
  const t = tableOf(['reverse_map http://origin.test:9000/bucket/ http://www.test/']);
  assert.equal(t.reverse('https://origin.test:9000/bucket/a'), null);
  assert.equal(t.reverse('http://other.test:9000/bucket/a'), null);
  assert.equal(t.reverse('http://origin.test/bucket/a'), null);
  assert.equal(t.reverse('http://origin.test:9001/bucket/a'), null);
  assert.equal(t.reverse('http://origin.test:9000/other/a'), null);
  assert.equal(t.reverse('/bucket/a'), null);
  assert.equal(t.reverse('ftp://origin.test:9000/bucket/a'), null);
});

test('reverse() treats a default port written or not alike', () => {
  const t = tableOf(['reverse_map http://origin.test/ https://www.test:443/']);
  assert.equal(t.reverse('http://origin.test:80/a'), 'https://www.test/a');
  assert.equal(t.reverse('http://origin.test/a'), 'https://www.test/a');
});

test('reverse() of a URL without a path, with or without a query, maps to the to-URL path', () => {
  const t = tableOf(['reverse_map http://origin.test/ http://www.test/x/']);
  assert.equal(t.reverse('http://origin.test'), 'http://www.test/x/');
  assert.equal(t.reverse('http://origin.test?list-type=2'), 'http://www.test/x/?list-type=2');
});

test('reverse() keeps a non-default port and brackets an IPv6 to-host', () => {
  const t = tableOf(['reverse_map http://[::1]:9000/ http://[2001:db8::1]:8080/']);
  assert.equal(t.reverse('http://[::1]:9000/k'), 'http://[2001:db8::1]:8080/k');
});

test('reverse() uses the first reverse_map rule that matches, and ignores map rules', () => {
  const t = tableOf([
    'map http://www.test/ http://origin.test/',
    'reverse_map http://origin.test/a/ http://first.test/',
    'reverse_map http://origin.test/ http://second.test/',
  ]);
  assert.equal(t.reverse('http://origin.test/a/x'), 'http://first.test/x');
  assert.equal(t.reverse('http://origin.test/b/x'), 'http://second.test/b/x');
  assert.equal(tableOf(['map http://www.test/ http://origin.test/']).reverse('http://origin.test/'), null);
});

test('reverse() joins paths with exactly one slash at the seam', () => {
  const t = tableOf(['reverse_map http://origin.test/customers/x/y/ http://www.h.com/a/b']);
  assert.equal(t.reverse('http://origin.test/customers/x/y/c/d/doc.html'), 'http://www.h.com/a/b/c/d/doc.html');
});

// ---- joinPath, splitAuthority ----

test('joinPath: ATS\'s example sends /a/b/c/d/doc.html under "/a/b/ -> /customers/x/y" to /customers/x/y/c/d/doc.html', () => {
  const fromPath = '/a/b/';
  const requestPath = '/a/b/c/d/doc.html';
  assert.equal(joinPath('/customers/x/y', requestPath.slice(fromPath.length)), '/customers/x/y/c/d/doc.html');
});

test('remapPath: after a from-path ending in /, the remainder is kept as sent (an empty key segment stays)', () => {
  assert.equal(remapPath('/public/', '/bucket/public/', '/public//a'), '/bucket/public//a');
  assert.equal(remapPath('/public/', '/bucket/public/', '/public/a'), '/bucket/public/a');
  assert.equal(remapPath('/public/', '/bucket/public', '/public/a'), '/bucket/public/a');
  assert.equal(remapPath('/public/', '/bucket/public', '/public/'), '/bucket/public');
  assert.equal(remapPath('/', '/bucket/', '//a'), '/bucket//a');
  assert.equal(remapPath('/a/b', '/x/y/', '/a/b/c'), '/x/y/c');
  assert.equal(remapPath('/a/b', '/x/y', '/a/bc'), '/x/y/c');
});

test('joinPath keeps exactly one slash at the seam and nothing is added to an empty remainder', () => {
  assert.equal(joinPath('/x/', '/c'), '/x/c');
  assert.equal(joinPath('/x/', 'c'), '/x/c');
  assert.equal(joinPath('/x', '/c'), '/x/c');
  assert.equal(joinPath('/x', 'c'), '/x/c');
  assert.equal(joinPath('/x', ''), '/x');
  assert.equal(joinPath('/x/', ''), '/x/');
  assert.equal(joinPath('/', '/'), '/');
  assert.equal(joinPath('/', 'a/b'), '/a/b');
  assert.equal(joinPath('/x/', '//c'), '/x//c');
});

test('splitAuthority separates host and port, with IPv6 brackets and the default port', () => {
  assert.deepEqual(splitAuthority('a.test:8080', 80), { host: 'a.test', port: 8080 });
  assert.deepEqual(splitAuthority('a.test', 80), { host: 'a.test', port: 80 });
  assert.deepEqual(splitAuthority('a.test:', 443), { host: 'a.test', port: 443 });
  assert.deepEqual(splitAuthority('[::1]:9000', 80), { host: '::1', port: 9000 });
  assert.deepEqual(splitAuthority('[::1]', 443), { host: '::1', port: 443 });
  assert.deepEqual(splitAuthority('::1', 80), { host: '::1', port: 80 });
});

test('a redirect that a map rule always beats is warned about, even when the map comes later in the file', () => {
  const w = shadowOf(['redirect http://a.test/old/ http://b.test/', 'map http://a.test/ http://o.test/']);
  assert.deepEqual(
    w.map((d) => d.line),
    [1],
  );
  assert.match(w[0]!.message, /the rule at .*:2 \(map http:\/\/a\.test\/\).*map rules are matched before redirect rules/);
  assert.deepEqual(shadowOf(['redirect http://a.test/ http://b.test/', 'map http://a.test/x/ http://o.test/']), []);
});

test('a literal redirect shadows a later regex redirect only when its host pattern is the same', () => {
  assert.deepEqual(shadowOf(['redirect http://a.test/ http://b.test/', 'regex_redirect http://(.*)\\.a\\.test/ http://$1.b.test/']), []);
  assert.deepEqual(
    shadowOf(['regex_map http://(.*)\\.a\\.test/ http://o.test/', 'regex_redirect http://(.*)\\.a\\.test/x/ http://b.test/']).map((d) => d.line),
    [2],
  );
});

test('map_with_recv_port rules neither shadow nor are shadowed by map rules (they compare another port)', () => {
  assert.deepEqual(shadowOf(['map_with_recv_port http://a.test:8081/ http://o.test/', 'map http://a.test:8081/ http://p.test/']), []);
});
