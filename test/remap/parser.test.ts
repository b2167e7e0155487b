/**
 * remap.config parser (parser.ts): every rule type, plugin parameters, ACL options, named filters, includes, and
 * the promise that every error in a configuration is reported with its file and line.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Diagnostic } from '../../src/errors.js';
import { parseRemapConfig } from '../../src/remap/parser.js';
import { tempDir } from '../support/harness.js';
import { dump, errorsOf, parseText, VIRTUAL_TOP, warningsOf } from './virtual-config.js';

/** Parses `text` and asserts it has no error; returns the rules. */
function rulesOf(text: string) {
  const parsed = parseText(text);
  assert.deepEqual(errorsOf(parsed), [], dump(parsed));
  return parsed.rules;
}

/** Asserts `text` gives exactly one error, on `line`, matching `message`, and no rule from that line. */
function assertOneError(text: string, line: number, message: RegExp): void {
  const parsed = parseText(text);
  const errors = errorsOf(parsed);
  assert.equal(errors.length, 1, `${JSON.stringify(text)} should give one error:\n${dump(parsed)}`);
  assert.equal(errors[0]!.file, VIRTUAL_TOP, text);
  assert.equal(errors[0]!.line, line, text);
  assert.match(errors[0]!.message, message, text);
  assert.ok(!parsed.rules.some((r) => r.line === line), `${text}: a rule with an error must not be kept`);
}

// ---- rule types ----

test('every rule type gives its kind, receive-port flag, redirect status and host pattern', () => {
  const cases = [
    ['map', 'map', false, 0, false],
    ['map_with_recv_port', 'map', true, 0, false],
    ['reverse_map', 'reverse', false, 0, false],
    ['redirect', 'redirect', false, 301, false],
    ['redirect_temporary', 'redirect', false, 307, false],
    ['regex_map', 'map', false, 0, true],
    ['regex_map_with_recv_port', 'map', true, 0, true],
    ['regex_redirect', 'redirect', false, 301, true],
    ['regex_redirect_temporary', 'redirect', false, 307, true],
  ] as const;
  for (const [type, kind, recv, status, regex] of cases) {
    const [rule] = rulesOf(`${type} http://www.example.com/ http://origin.example.com/`);
    assert.ok(rule, type);
    assert.equal(rule.type, type);
    assert.equal(rule.kind, kind, type);
    assert.equal(rule.withRecvPort, recv, type);
    assert.equal(rule.redirectStatus, status, type);
    assert.equal(rule.hostRegex !== null, regex, type);
  }
});

test('rule types are case-insensitive and recorded lower-cased', () => {
  const rules = rulesOf(['MAP http://a.test/ http://o.test/', 'Regex_Redirect_Temporary http://(.*)\\.b\\.test/ http://o.test/'].join('\n'));
  assert.deepEqual(
    rules.map((r) => [r.type, r.kind, r.redirectStatus]),
    [
      ['map', 'map', 0],
      ['regex_redirect_temporary', 'redirect', 307],
    ],
  );
});

test('a regex rule compiles its host pattern case-insensitively', () => {
  const [rule] = rulesOf('regex_map http://(.*)\\.cdn\\.test/ http://$1.origin.test/');
  assert.equal(rule!.hostRegex!.source, '(.*)\\.cdn\\.test');
  assert.equal(rule!.hostRegex!.flags, 'i');
  assert.equal(rule!.hostRegex!.exec('IMG.CDN.TEST')![1], 'IMG');
  assert.equal(rule!.to.host, '$1.origin.test');
});

test('a host-less "map /" rule has no scheme and no host', () => {
  const [rule] = rulesOf('map / http://origin.test/');
  assert.equal(rule!.from.scheme, null);
  assert.equal(rule!.from.host, '');
  assert.equal(rule!.from.path, '/');
});

test('a from-URL without a path gets "/"', () => {
  const [rule] = rulesOf('map http://a.test http://o.test');
  assert.equal(rule!.from.path, '/');
  assert.equal(rule!.to.path, '/');
});

test('ports on either URL are kept', () => {
  const [rule] = rulesOf('map https://a.test:8443/x/ http://o.test:9000/y/');
  assert.equal(rule!.from.scheme, 'https');
  assert.equal(rule!.from.port, 8443);
  assert.equal(rule!.to.port, 9000);
  assert.equal(rule!.to.path, '/y/');
});

test('IPv6 literal hosts are accepted on both sides', () => {
  const [rule] = rulesOf('map http://[::1]:8080/ http://[2001:db8::1]/');
  assert.equal(rule!.from.host, '::1');
  assert.equal(rule!.from.port, 8080);
  assert.equal(rule!.to.host, '2001:db8::1');
});

test('rules are ranked in file order and remember their file and line', () => {
  const rules = rulesOf(['# c', 'map http://a.test/ http://o.test/', '', 'redirect http://b.test/ http://o.test/'].join('\n'));
  assert.deepEqual(
    rules.map((r) => [r.rank, r.file, r.line]),
    [
      [0, VIRTUAL_TOP, 2],
      [1, VIRTUAL_TOP, 4],
    ],
  );
});

test('a rule with an error takes no rank: ranks stay dense', () => {
  const parsed = parseText(['map http://a.test/ http://o.test/', 'map http://b.test/ ftp://o.test/', 'map http://c.test/ http://o.test/'].join('\n'));
  assert.equal(errorsOf(parsed).length, 1);
  assert.deepEqual(
    parsed.rules.map((r) => [r.rank, r.line]),
    [
      [0, 1],
      [1, 3],
    ],
  );
});

// ---- plugins ----

test('each @pparam belongs to the @plugin before it, in order, across several chained plugins', () => {
  const [rule] = rulesOf(
    'map http://a.test/ http://o.test/ @plugin=first.so @pparam=one @pparam=two @plugin=second.so @pparam=three @plugin=third.so',
  );
  assert.deepEqual(rule!.plugins, [
    { name: 'first.so', params: ['one', 'two'] },
    { name: 'second.so', params: ['three'] },
    { name: 'third.so', params: [] },
  ]);
});

test('"@pparam=--k=v" and "@pparam=--k @pparam=v" are both kept exactly, one argv element each', () => {
  const [rule] = rulesOf('map http://a.test/ http://o.test/ @plugin=p.so @pparam=--k=v @pparam=--k @pparam=v @pparam=--Hdr=X=Y');
  assert.deepEqual(rule!.plugins[0]!.params, ['--k=v', '--k', 'v', '--Hdr=X=Y']);
});

test('option names are case-insensitive but plugin names and parameters keep their case', () => {
  const [rule] = rulesOf('map http://a.test/ http://o.test/ @PLUGIN=My_Plugin.so @PParam=CaseKept');
  assert.deepEqual(rule!.plugins, [{ name: 'My_Plugin.so', params: ['CaseKept'] }]);
});

test('a plugin spec spread over continuation lines is one rule', () => {
  const [rule] = rulesOf(['map http://a.test/ http://o.test/ \\', '    @plugin=p.so \\', '    @pparam=--config \\', '    @pparam=p.config'].join('\n'));
  assert.equal(rule!.line, 1);
  assert.deepEqual(rule!.plugins, [{ name: 'p.so', params: ['--config', 'p.config'] }]);
});

test('an empty @pparam= is dropped with a warning and the rule is kept', () => {
  const parsed = parseText('map http://a.test/ http://o.test/ @plugin=p.so @pparam=a @pparam= @pparam @pparam=b');
  assert.deepEqual(errorsOf(parsed), []);
  assert.deepEqual(parsed.rules[0]!.plugins[0]!.params, ['a', 'b']);
  const warnings = warningsOf(parsed);
  assert.equal(warnings.length, 2, dump(parsed));
  assert.match(warnings[0]!.message, /empty @pparam= ignored/);
  assert.match(warnings[1]!.message, /empty @pparam ignored/);
  assert.deepEqual(
    warnings.map((w) => w.line),
    [1, 1],
  );
});

test('a @pparam before any @plugin is an error', () => {
  assertOneError('map http://a.test/ http://o.test/ @pparam=x @plugin=p.so', 1, /@pparam=x comes before any @plugin=/);
});

test('@plugin= without a name is an error', () => {
  assertOneError('map http://a.test/ http://o.test/ @plugin=', 1, /@plugin= needs a plugin name/);
});

test('plugins on a redirect or reverse_map rule are dropped with a warning', () => {
  for (const type of ['redirect', 'reverse_map', 'regex_redirect']) {
    const parsed = parseText(`${type} http://a.test/ http://o.test/ @plugin=p.so @pparam=x`);
    assert.deepEqual(errorsOf(parsed), [], type);
    assert.deepEqual(parsed.rules[0]!.plugins, [], type);
    assert.match(warningsOf(parsed)[0]!.message, new RegExp(`plugins on a ${type} rule are ignored`));
  }
});

test('@strategy names the rule\'s origin pool; quotes as in ATS\'s docs are not part of the name', () => {
  const [plain, quoted, none] = rulesOf(
    ['map http://a.test/ http://o.test/ @strategy=s3-replicas', "map http://b.test/ http://o.test/ @strategy='mid-tier-north'", 'map http://c.test/ http://o.test/'].join('\n'),
  );
  assert.equal(plain!.strategy, 's3-replicas');
  assert.equal(quoted!.strategy, 'mid-tier-north');
  assert.equal(none!.strategy, null);
});

test('@strategy on a redirect rule is dropped with a warning', () => {
  const parsed = parseText('redirect http://a.test/ http://o.test/ @strategy=s1');
  assert.deepEqual(errorsOf(parsed), []);
  assert.equal(parsed.rules[0]!.strategy, null);
  assert.match(warningsOf(parsed)[0]!.message, /@strategy on a redirect rule is ignored/);
});

test('@mapid is accepted with a warning', () => {
  const parsed = parseText('map http://a.test/ http://o.test/ @mapid=7');
  assert.deepEqual(errorsOf(parsed), []);
  assert.equal(parsed.rules.length, 1);
  assert.match(warningsOf(parsed)[0]!.message, /@mapid=7 ignored/);
});

// ---- in-line ACL options ----

test('in-line @action/@method/@src_ip/@in_ip/@internal build one in-line filter', () => {
  const [rule] = rulesOf('map http://a.test/ http://o.test/ @action=deny @method=PUT @method=delete @src_ip=10.0.0.0/8 @in_ip=::1 @internal');
  assert.equal(rule!.filters.length, 1);
  const f = rule!.filters[0]!;
  assert.equal(f.name, null);
  assert.equal(f.allow, false);
  assert.deepEqual([...f.methods!], ['PUT', 'DELETE']);
  assert.deepEqual(
    f.srcIp!.map((e) => e.text),
    ['10.0.0.0/8'],
  );
  assert.deepEqual(
    f.inIp!.map((e) => e.text),
    ['::1'],
  );
  assert.equal(f.internal, true);
  assert.equal(f.line, 1);
});

test('@src_ip accepts single addresses, ranges, CIDR, ~ and all, IPv4 and IPv6', () => {
  const [rule] = rulesOf(
    'map http://a.test/ http://o.test/ @action=allow @src_ip=192.0.2.1 @src_ip=10.0.0.1-10.0.0.9 @src_ip=2001:db8::/32 @src_ip=~172.16.0.0/12 @src_ip=all @src_ip=::ffff:127.0.0.1',
  );
  assert.deepEqual(
    rule!.filters[0]!.srcIp!.map((e) => [e.text, e.invert, e.all, e.range?.family ?? null]),
    [
      ['192.0.2.1', false, false, 4],
      ['10.0.0.1-10.0.0.9', false, false, 4],
      ['2001:db8::/32', false, false, 6],
      ['~172.16.0.0/12', true, false, 4],
      ['all', false, true, null],
      ['::ffff:127.0.0.1', false, false, 4],
    ],
  );
});

// ---- named filters ----

test('a named filter activated before a rule applies to it and not after .deactivatefilter', () => {
  const rules = rulesOf(
    [
      '.definefilter deny_post @action=deny @method=POST',
      'map http://a.test/ http://o.test/',
      '.activatefilter deny_post',
      'map http://b.test/ http://o.test/',
      '.deactivatefilter deny_post',
      'map http://c.test/ http://o.test/',
    ].join('\n'),
  );
  assert.deepEqual(
    rules.map((r) => r.filters.map((f) => f.name)),
    [[], ['deny_post'], []],
  );
  const f = rules[1]!.filters[0]!;
  assert.equal(f.allow, false);
  assert.equal(f.line, 1);
});

test('named filters apply after the rule\'s in-line filter, in activation order; re-activating moves one last', () => {
  const rules = rulesOf(
    [
      '.definefilter one @action=deny @method=PUT',
      '.definefilter two @action=deny @method=DELETE',
      '.activatefilter two',
      '.activatefilter one',
      'map http://a.test/ http://o.test/ @action=deny @method=POST',
      '.activatefilter two',
      'map http://b.test/ http://o.test/',
    ].join('\n'),
  );
  assert.deepEqual(
    rules.map((r) => r.filters.map((f) => f.name)),
    [
      [null, 'two', 'one'],
      ['one', 'two'],
    ],
  );
});

test('.deletefilter deactivates the filter and frees its name for a new definition', () => {
  const rules = rulesOf(
    [
      '.definefilter f @action=deny @method=PUT',
      '.activatefilter f',
      'map http://a.test/ http://o.test/',
      '.deletefilter f',
      'map http://b.test/ http://o.test/',
      '.definefilter f @action=deny @method=POST',
      '.activatefilter f',
      'map http://c.test/ http://o.test/',
    ].join('\n'),
  );
  assert.deepEqual(
    rules.map((r) => r.filters.map((f) => [...f.methods!])),
    [[['PUT']], [], [['POST']]],
  );
});

test('defining a filter twice is an error naming the first definition', () => {
  assertOneError(
    ['', '.definefilter f @action=deny @method=PUT', '.definefilter f @action=deny @method=POST'].join('\n'),
    3,
    new RegExp(`filter "f" is already defined at ${VIRTUAL_TOP}:2`),
  );
});

test('activating or deactivating an undefined filter is an error', () => {
  assertOneError('.activatefilter nope', 1, /\.activatefilter: filter "nope" is not defined \(define it first with \.definefilter\)/);
  assertOneError('.deactivatefilter nope', 1, /\.deactivatefilter: filter "nope" is not defined/);
});

test('every ATS spelling of the filter directives works, in any case', () => {
  const defines = ['.definefilter', '.deffilter', '.defflt', '.DefineFilter'];
  const activates = ['.usefilter', '.activefilter', '.activatefilter', '.useflt', '.ACTIVATEFILTER'];
  const deactivates = ['.unusefilter', '.deactivatefilter', '.unactivefilter', '.deuseflt', '.unuseflt'];
  const deletes = ['.deletefilter', '.delfilter', '.delflt'];
  const longest = Math.max(defines.length, activates.length, deactivates.length, deletes.length);
  for (let i = 0; i < longest; i++) {
    const [def, act, deact, del] = [defines, activates, deactivates, deletes].map((l) => l[i % l.length]!);
    const text = [
      `${def} f @action=deny @method=PUT`,
      `${act} f`,
      'map http://a.test/ http://o.test/',
      `${deact} f`,
      'map http://b.test/ http://o.test/',
      `${act} f`,
      `${del} f`,
      'map http://c.test/ http://o.test/',
    ].join('\n');
    const rules = rulesOf(text);
    assert.deepEqual(
      rules.map((r) => r.filters.length),
      [1, 0, 0],
      text,
    );
  }
});

test('.activatefilter ip_allow is accepted with a warning (remapd has no ip_allow.yaml)', () => {
  const parsed = parseText(['.activatefilter ip_allow', 'map http://a.test/ http://o.test/'].join('\n'));
  assert.deepEqual(errorsOf(parsed), []);
  assert.deepEqual(parsed.rules[0]!.filters, []);
  assert.match(warningsOf(parsed)[0]!.message, /ip_allow" ignored/);
});

test('a named filter with a bad option is reported with its name and is not defined', () => {
  const parsed = parseText(['.definefilter f @action=maybe @src_ip=1.2.3', '.definefilter g @action=deny @plugin=x.so'].join('\n'));
  assert.deepEqual(
    errorsOf(parsed).map((d) => [d.line, d.message]),
    [
      [1, 'filter "f": @action=maybe is not allow or deny'],
      [1, 'filter "f": @src_ip: "1.2.3" is not an IP address, range (a-b), CIDR (a/n) or "all"'],
      [2, '@plugin=x.so is not a filter option (filters take @action, @method, @src_ip, @in_ip, @internal)'],
    ],
  );
});

test('activating a filter whose definition failed adds no second error', () => {
  const parsed = parseText(['.definefilter f @action=maybe', '.activatefilter f', 'map / http://o.test/', '.deactivatefilter f'].join('\n'));
  assert.deepEqual(
    errorsOf(parsed).map((d) => d.line),
    [1],
  );
});

test('directive mistakes are errors: unknown directive, missing name, missing options, extra words', () => {
  assertOneError('.frobfilter f', 1, /unknown directive "\.frobfilter"/);
  assertOneError('.definefilter', 1, /\.definefilter needs a filter name/);
  assertOneError('.definefilter f', 1, /\.definefilter f needs filter options/);
  assertOneError('.include', 1, /\.include needs at least one file name/);
  assertOneError(
    ['.definefilter f @action=deny', '.activatefilter f g'].join('\n'),
    2,
    /\.activatefilter takes one filter name; unexpected "g"/,
  );
  assertOneError(['.definefilter f @action=deny', '.activatefilter f @method=GET'].join('\n'), 2, /takes a filter name only, not @method=GET/);
});

// ---- lines ----

test('a continued rule is reported at its first physical line, and later lines keep their numbers', () => {
  const parsed = parseText(['# comment', '', 'map http://a.test/ \\', '    ftp://o.test/', 'mapp http://b.test/ http://o.test/'].join('\n'));
  assert.deepEqual(
    errorsOf(parsed).map((d) => d.line),
    [3, 5],
  );
});

test('a CRLF file parses to the same rules as its LF version', () => {
  const lf = ['# comment', '.definefilter f @action=deny @method=PUT', '.activatefilter f', 'map http://a.test/ \\', '  http://o.test/ @plugin=p.so @pparam=x', ''].join('\n');
  const a = rulesOf(lf);
  const b = rulesOf(lf.replace(/\n/g, '\r\n'));
  assert.deepEqual(b, a);
  assert.deepEqual(b[0]!.plugins, [{ name: 'p.so', params: ['x'] }]);
  assert.equal(b[0]!.to.path, '/');
});

test('a line of options without a rule (a missing backslash on the line before) is an error, not a crash', () => {
  assertOneError(
    ['map http://a.test/ http://o.test/', '    @plugin=p.so @pparam=x'].join('\n'),
    2,
    /options without a rule type.*backslash/,
  );
  assertOneError('@', 1, /without a rule type/);
});

// ---- errors ----

test('each kind of mistake in a rule is an error naming the file, the line and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['mapp http://a.test/ http://o.test/', /unknown rule type "mapp"/],
    ['map_with_referer http://a.test/ http://o.test/ http://a.test/denied', /map_with_referer is not supported/],
    ['regex_map_with_referer http://a.test/ http://o.test/', /regex_map_with_referer is not supported/],
    ['regex_reverse_map http://a.test/ http://o.test/', /regex_reverse_map does not exist/],
    ['map http://a.test/', /map needs a from-URL and a to-URL/],
    ['redirect', /redirect needs a from-URL and a to-URL/],
    ['map http://a.test/ ftp://o.test/', /^to-URL: scheme "ftp" .* is not supported/],
    ['map ws://a.test/ http://o.test/', /^from-URL: scheme "ws" .* is not supported/],
    ['map http://a.test/?x=1 http://o.test/', /^from-URL: .*cannot have a query string/],
    ['map http://a.test/ http://o.test/x?y', /^to-URL: .*cannot have a query string/],
    ['map http://a.test/ http://o.test/#top', /^to-URL: .*cannot have a fragment/],
    ['map http://a.test:0/ http://o.test/', /^from-URL: .*port "0" is not a number from 1 to 65535/],
    ['map http://a.test/ http://o.test:65536/', /^to-URL: .*port "65536"/],
    ['map / /x/', /^to-URL: .*needs a scheme and host/],
    ['regex_map http://(.*\\.a\\.test/ http://o.test/', /host pattern "\(\.\*\\\.a\\\.test" is not a valid regular expression/],
    ['regex_map http://(.*)\\.a\\.test/ http://$2.o.test/', /to-URL uses \$2 but the host pattern has only 1 capture group\(s\)/],
    ['regex_map http://a\\.test/ http://$1.o.test/', /to-URL uses \$1 but the host pattern has only 0 capture group\(s\)/],
    ['regex_map http://(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)/ http://o.test/', /has 10 capture groups; at most 9 are allowed/],
    ['regex_map /x/ http://o.test/', /regex_map needs a host pattern in the from-URL/],
    ['reverse_map /x/ http://o.test/', /reverse_map needs a host in its from-URL/],
    ['map http://a.test/ http://o.test/ @colour=red', /unknown option @colour=red \(known: @plugin, @pparam/],
    ['map http://a.test/ http://o.test/ @strategy=', /@strategy= needs a strategy name from strategies.yaml/],
    ['map http://a.test/ http://o.test/ @strategy=a @strategy=b', /@strategy=b: the rule already names @strategy=a \(one strategy per rule\)/],
    ['map http://a.test/ http://o.test/ @volume=2', /@volume=2: cache volumes do not exist/],
    ['map http://a.test/ http://o.test/ @action=maybe', /@action=maybe is not allow or deny/],
    ['map http://a.test/ http://o.test/ @src_ip=1.2.3', /@src_ip: "1.2.3" is not an IP address/],
    ['map http://a.test/ http://o.test/ @src_ip=10.0.0.1-::1', /@src_ip: range "10.0.0.1-::1" mixes IPv4 and IPv6/],
    ['map http://a.test/ http://o.test/ @in_ip=::1/200', /@in_ip: "\/200" is not a prefix length for IPv6/],
    ['map http://a.test/ http://o.test/ # the main site', /unexpected "# the main site" after the to-URL: comments must be on a line of their own/],
    ['map http://a.test/ http://o.test/ http://x.test/', /unexpected "http:\/\/x.test\/" after the to-URL \(options start with @/],
  ];
  for (const [text, message] of cases) assertOneError(`# line 1\n${text}`, 2, message);
});

test('$9 is allowed with nine capture groups and $0 always', () => {
  const [rule] = rulesOf('regex_map http://(a)(b)(c)(d)(e)(f)(g)(h)(i)/ http://$9.$0.o.test/');
  assert.ok(rule!.hostRegex);
});

test('every error of a file is reported with its own line, and the good rules around them are kept', () => {
  const text = [
    'map http://ok1.test/ http://o.test/', // 1
    'mapp http://a.test/ http://o.test/', // 2 unknown type
    'map http://b.test/ ftp://o.test/', // 3 bad scheme
    '# comment', // 4
    'map http://c.test/ http://o.test/ @plugin=p.so @bogus=1', // 5 unknown option
    'map http://d.test/ \\', // 6 continued; error is at 6
    '    http://o.test/ @action=perhaps', // 7
    'regex_map http://(.*)\\.e\\.test/ http://$3.o.test/', // 8 $3 beyond captures
    '.activatefilter undefined_one', // 9 undefined filter
    'map http://f.test/ http://o.test/ # trailing', // 10 trailing comment
    'map http://ok2.test/ http://o.test/', // 11
    'map http://g.test:99999/ http://o.test/', // 12 bad port
    'reverse_map /x/ http://o.test/', // 13 reverse_map without host
  ].join('\n');
  const parsed = parseText(text);
  const expected: [number, RegExp][] = [
    [2, /unknown rule type "mapp"/],
    [3, /scheme "ftp"/],
    [5, /unknown option @bogus=1/],
    [6, /@action=perhaps is not allow or deny/],
    [8, /uses \$3 but the host pattern has only 1/],
    [9, /filter "undefined_one" is not defined/],
    [10, /comments must be on a line of their own/],
    [12, /port "99999"/],
    [13, /reverse_map needs a host/],
  ];
  const errors = errorsOf(parsed);
  assert.equal(errors.length, expected.length, dump(parsed));
  expected.forEach(([line, message], i) => {
    const e: Diagnostic = errors[i]!;
    assert.equal(e.file, VIRTUAL_TOP);
    assert.equal(e.line, line, `error ${i}: ${e.message}`);
    assert.match(e.message, message);
  });
  assert.deepEqual(
    parsed.rules.map((r) => r.from.host),
    ['ok1.test', 'ok2.test'],
  );
});

// ---- files and includes ----

function write(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

test('a missing top file is one error about the file as a whole (line 0)', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const parsed = parseRemapConfig(join(tmp.dir, 'remap.config'));
  assert.deepEqual(parsed.rules, []);
  assert.deepEqual(parsed.diagnostics, [
    { severity: 'error', file: join(tmp.dir, 'remap.config'), line: 0, message: `cannot read ${join(tmp.dir, 'remap.config')}: no such file` },
  ]);
});

test('.include names resolve against the top config\'s folder, also from a nested include', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = write(tmp.dir, 'remap.config', ['map http://top.test/ http://o.test/', '.include conf.d/a.config', 'map http://last.test/ http://o.test/'].join('\n'));
  const a = write(tmp.dir, 'conf.d/a.config', ['map http://a.test/ http://o.test/', '.include b.config'].join('\n'));
  const b = write(tmp.dir, 'b.config', 'map http://b.test/ http://o.test/');
  write(tmp.dir, 'conf.d/b.config', 'map http://wrong.test/ http://o.test/');
  const parsed = parseRemapConfig(top);
  assert.deepEqual(errorsOf(parsed), [], dump(parsed));
  assert.deepEqual(
    parsed.rules.map((r) => [r.from.host, r.file, r.line, r.rank]),
    [
      ['top.test', top, 1, 0],
      ['a.test', a, 1, 1],
      ['b.test', b, 1, 2],
      ['last.test', top, 3, 3],
    ],
  );
  assert.deepEqual(parsed.files, [top, a, b]);
});

test('several files on one .include line are read in the order written; absolute paths work', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const z = write(tmp.dir, 'z.config', 'map http://z.test/ http://o.test/');
  write(tmp.dir, 'a.config', 'map http://a.test/ http://o.test/');
  const top = write(tmp.dir, 'remap.config', `.include z.config a.config ${z}`);
  const parsed = parseRemapConfig(top);
  // z.config twice is no cycle: only an include of a file that is still being read is.
  assert.deepEqual(errorsOf(parsed), [], dump(parsed));
  assert.deepEqual(
    parsed.rules.map((r) => r.from.host),
    ['z.test', 'a.test', 'z.test'],
  );
});

test('an included folder reads every regular file in name order, without descending into subfolders', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  write(tmp.dir, 'conf.d/20-b.config', 'map http://b.test/ http://o.test/');
  write(tmp.dir, 'conf.d/10-a.config', 'map http://a.test/ http://o.test/');
  write(tmp.dir, 'conf.d/30-c', 'map http://c.test/ http://o.test/');
  write(tmp.dir, 'conf.d/15-sub/x.config', 'map http://nested.test/ http://o.test/');
  const top = write(tmp.dir, 'remap.config', '.include conf.d');
  const parsed = parseRemapConfig(top);
  assert.deepEqual(errorsOf(parsed), [], dump(parsed));
  assert.deepEqual(
    parsed.rules.map((r) => r.from.host),
    ['a.test', 'b.test', 'c.test'],
  );
});

test('a missing include is an error at the including line, and the rest of the file is still read', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = write(tmp.dir, 'remap.config', ['map http://a.test/ http://o.test/', '.include missing.config', 'map http://b.test/ http://o.test/'].join('\n'));
  const parsed = parseRemapConfig(top);
  assert.deepEqual(parsed.diagnostics, [
    { severity: 'error', file: top, line: 2, message: `cannot read included file ${join(tmp.dir, 'missing.config')}: no such file` },
  ]);
  assert.equal(parsed.rules.length, 2);
});

test('an include cycle is refused with the chain of files, at the line that closes it', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = write(tmp.dir, 'remap.config', '.include a.config');
  write(tmp.dir, 'a.config', ['map http://a.test/ http://o.test/', '.include b.config'].join('\n'));
  const b = write(tmp.dir, 'b.config', ['# b', '.include a.config', 'map http://b.test/ http://o.test/'].join('\n'));
  const parsed = parseRemapConfig(top);
  const errors = errorsOf(parsed);
  assert.equal(errors.length, 1, dump(parsed));
  assert.equal(errors[0]!.file, b);
  assert.equal(errors[0]!.line, 2);
  const chain = /^include cycle: (.*)$/.exec(errors[0]!.message)?.[1];
  assert.ok(chain, errors[0]!.message);
  assert.deepEqual(
    chain.split(' -> ').map((p) => p.slice(p.lastIndexOf('/') + 1)),
    ['a.config', 'b.config', 'a.config'],
  );
  assert.deepEqual(
    parsed.rules.map((r) => r.from.host),
    ['a.test', 'b.test'],
  );
});

test('a file that includes itself is a cycle', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = write(tmp.dir, 'remap.config', ['map http://a.test/ http://o.test/', '.include remap.config'].join('\n'));
  const parsed = parseRemapConfig(top);
  const errors = errorsOf(parsed);
  assert.equal(errors.length, 1, dump(parsed));
  assert.equal(errors[0]!.line, 2);
  assert.match(errors[0]!.message, /^include cycle: .*remap\.config -> .*remap\.config$/);
  assert.equal(parsed.rules.length, 1);
});

test('errors inside an included file name that file and its line', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = write(tmp.dir, 'remap.config', ['mapp http://x.test/ http://o.test/', '.include a.config'].join('\n'));
  const a = write(tmp.dir, 'a.config', ['', '', 'map http://a.test/ ws://o.test/'].join('\n'));
  const parsed = parseRemapConfig(top);
  assert.deepEqual(
    errorsOf(parsed).map((d) => [d.file, d.line]),
    [
      [top, 1],
      [a, 3],
    ],
  );
});

test('named filters are one state for the whole configuration, across includes', (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const top = write(
    tmp.dir,
    'remap.config',
    ['.definefilter f @action=deny @method=PUT', '.activatefilter f', '.include a.config', 'map http://after.test/ http://o.test/'].join('\n'),
  );
  write(tmp.dir, 'a.config', ['map http://inside.test/ http://o.test/', '.deactivatefilter f'].join('\n'));
  const parsed = parseRemapConfig(top);
  assert.deepEqual(errorsOf(parsed), [], dump(parsed));
  assert.deepEqual(
    parsed.rules.map((r) => [r.from.host, r.filters.length]),
    [
      ['inside.test', 1],
      ['after.test', 0],
    ],
  );
});

test('the injected reader is used instead of the file system', () => {
  const parsed = parseText('.include extra.config\nmap http://a.test/ http://o.test/', { 'extra.config': 'map http://x.test/ http://o.test/' });
  assert.deepEqual(errorsOf(parsed), [], dump(parsed));
  assert.deepEqual(
    parsed.rules.map((r) => r.from.host),
    ['x.test', 'a.test'],
  );
});
