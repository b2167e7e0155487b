/**
 * strategies.yaml (src/pool/strategies-file.ts): ATS's schema with anchors and merge keys, #include, remapd's
 * extensions, defaults, and every problem reported with its file and line. Files come from an injected reader.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Diagnostic } from '../../src/errors.js';
import { parseDurationMs, parseStrategiesFile, type StrategiesFile } from '../../src/pool/strategies-file.js';

const DIR = '/nonexistent-remapd-strategies';
const TOP = `${DIR}/strategies.yaml`;

function parse(text: string, others: Record<string, string> = {}): StrategiesFile {
  const files = new Map<string, string>([[TOP, text], ...Object.entries(others).map(([n, t]) => [`${DIR}/${n}`, t] as [string, string])]);
  return parseStrategiesFile(TOP, {
    readFile: (p) => {
      const t = files.get(p);
      if (t === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return t;
    },
  });
}

const errors = (r: StrategiesFile): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'error');
const warnings = (r: StrategiesFile): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'warning');
const dump = (r: StrategiesFile): string => r.diagnostics.map((d) => `${d.file}:${d.line}: ${d.severity}: ${d.message}`).join('\n');

/** Asserts exactly one error, at `file:line`, matching `message`. */
function oneError(r: StrategiesFile, line: number, message: RegExp, file = TOP): void {
  const e = errors(r);
  assert.equal(e.length, 1, dump(r));
  assert.equal(e[0]!.file, file, dump(r));
  assert.equal(e[0]!.line, line, dump(r));
  assert.match(e[0]!.message, message);
}

// As ATS's documentation writes them: hosts with anchors, groups merging them with a weight, strategies aliasing
// the groups. Line numbers matter to the tests below.
const ATS_STYLE = `hosts:
  - &p1
    host: eu.s3.example
    protocol:
      - scheme: http
        port: 8080
        health_check_url: http://eu.s3.example:8080/health
      - scheme: https
        port: 8443
  - &p2
    host: us.s3.example
    protocol:
      - scheme: http
        port: 80
groups:
  - &g1
    - <<: *p1
      weight: 1.5
    - <<: *p2
      weight: 0.5
strategies:
  - strategy: 'replicas'
    policy: consistent_hash
    hash_key: path
    go_direct: false
    parent_is_proxy: false
    groups:
      - *g1
    scheme: http
    failover:
      ring_mode: exhaust_ring
      response_codes: [404, 503]
      health_check: [passive]
`;

test('reads ATS-style hosts, groups and strategies with anchors and << merge keys', () => {
  const r = parse(ATS_STYLE);
  assert.deepEqual(r.diagnostics, []);
  const s = r.strategies.get('replicas')!;
  assert.equal(s.policy, 'consistent_hash');
  assert.equal(s.hashKey, 'path');
  assert.equal(s.ringMode, 'exhaust_ring');
  assert.deepEqual([...s.responseCodes], [404, 503]);
  assert.equal(s.groups.length, 1);
  const [eu, us] = s.groups[0]!;
  assert.deepEqual(
    { id: eu!.id, scheme: eu!.scheme, port: eu!.port, weight: eu!.weight, authority: eu!.authority },
    { id: 'eu.s3.example:8080', scheme: 'http', port: 8080, weight: 1.5, authority: 'eu.s3.example:8080' },
  );
  assert.deepEqual({ id: us!.id, port: us!.port, weight: us!.weight, authority: us!.authority }, { id: 'us.s3.example:80', port: 80, weight: 0.5, authority: 'us.s3.example' });
  // A member is where the group lists it; its merged fields keep the anchor's lines (see the port error below).
  assert.equal(eu!.at.line, 17);
  assert.deepEqual([...r.names], ['replicas']);
  assert.deepEqual(r.files, [TOP]);
});

test("the strategy's scheme picks each host's protocol entry; without one the first entry counts", () => {
  const https = parse(ATS_STYLE.replace('    groups:\n      - *g1\n    scheme: http', '    groups:\n      - [*p1]\n    scheme: https'));
  assert.deepEqual(errors(https), [], dump(https));
  assert.equal(https.strategies.get('replicas')!.groups[0]![0]!.id, 'eu.s3.example:8443');
  const none = parse(ATS_STYLE.replace('    scheme: http\n', ''));
  assert.equal(none.strategies.get('replicas')!.groups[0]![0]!.id, 'eu.s3.example:8080');
  // us.s3.example speaks only http: asking it for https is an error where the group lists it.
  oneError(parse(ATS_STYLE.replace('    scheme: http\n', '    scheme: https\n')), 19, /us\.s3\.example has no protocol entry for scheme https/);
  // A bad field inside the anchor is reported at the anchor's line.
  oneError(parse(ATS_STYLE.replace('port: 8080', 'port: http')), 6, /port must be a port number from 1 to 65535, found "http"/);
});

test('defaults: first group primary, exhaust_ring, 502/503/504 fail over, fall 3, rise 2, retry 30 s, checks every 5 s within 2 s', () => {
  const r = parse('strategies:\n  - strategy: s\n    policy: first_live\n    groups:\n      - - host: a.example\n        - host: b.example\n');
  assert.deepEqual(r.diagnostics, [], dump(r));
  const s = r.strategies.get('s')!;
  assert.deepEqual([...s.responseCodes], [502, 503, 504]);
  assert.deepEqual([...s.markdownCodes], []);
  assert.equal(s.ringMode, 'exhaust_ring');
  assert.deepEqual(s.health, { active: false, path: null, intervalMs: 5000, timeoutMs: 2000, rise: 2, fall: 3, retryTimeMs: 30_000 });
  assert.deepEqual(s.groups[0]!.map((m) => m.id), ['a.example:80', 'b.example:80']);
  assert.equal(s.groups[0]![0]!.weight, 1);
  assert.equal(s.maxSimpleRetries, null);
});

test('policies: first_live, rr_strict (and round_robin, its remapd alias), rr_ip, latched, consistent_hash', () => {
  const cases: [string, string][] = [
    ['first_live', 'first_live'],
    ['rr_strict', 'rr_strict'],
    ['round_robin', 'rr_strict'],
    ['rr_ip', 'rr_ip'],
    ['latched', 'latched'],
    ['consistent_hash', 'consistent_hash'],
  ];
  for (const [written, policy] of cases) {
    const r = parse(`strategies:\n  - strategy: s\n    policy: ${written}\n    groups: [[{ host: a.example }]]\n`);
    assert.deepEqual(errors(r), [], dump(r));
    assert.equal(r.strategies.get('s')!.policy, policy);
  }
});

test('remapd extensions: per-host s3_auth arguments (a string or a list) and per-strategy health_check settings', () => {
  const r = parse(`groups:
  - &g
    - host: 127.0.0.1
      protocol: [{ scheme: http, port: 9000 }]
      s3_auth: --config=eu_s3_auth.config --version=4
    - host: ::1
      protocol: [{ scheme: http, port: 9001, health_check_url: "http://[::1]:9001/ready" }]
      s3_auth: ["--config", "us_s3_auth.config", "--version=4"]
strategies:
  - strategy: s
    policy: first_live
    groups: [*g]
    failover:
      health_check: [passive, active]
    health_check:
      path: /minio/health/live
      interval: 500ms
      timeout: 0.2s
      rise: 1
      fall: 2
      retry_time: 1m
`);
  assert.deepEqual(r.diagnostics, [], dump(r));
  const s = r.strategies.get('s')!;
  const [a, b] = s.groups[0]!;
  assert.deepEqual(a!.s3Auth, { args: ['--config=eu_s3_auth.config', '--version=4'], at: { file: TOP, line: 5 } });
  assert.deepEqual(b!.s3Auth!.args, ['--config', 'us_s3_auth.config', '--version=4']);
  assert.equal(a!.checkUrl, 'http://127.0.0.1:9000/minio/health/live');
  assert.equal(b!.checkUrl, 'http://[::1]:9001/ready', "a host's health_check_url wins over the path");
  assert.equal(b!.id, '[::1]:9001');
  assert.deepEqual(s.health, { active: true, path: '/minio/health/live', intervalMs: 500, timeoutMs: 200, rise: 1, fall: 2, retryTimeMs: 60_000 });
});

test('#include FILE reads the file in at that line, as ATS does; its problems name the included file and line', () => {
  const hosts = 'hosts:\n  - &p1\n    host: a.example\n    protocol: [{ scheme: http, port: 81 }]\n';
  const strategies = '#include hosts.yaml\n# a comment\nstrategies:\n  - strategy: s\n    policy: first_live\n    groups: [[*p1]]\n';
  const r = parse(strategies, { 'hosts.yaml': hosts });
  assert.deepEqual(r.diagnostics, [], dump(r));
  assert.equal(r.strategies.get('s')!.groups[0]![0]!.id, 'a.example:81');
  assert.deepEqual(r.files, [TOP, `${DIR}/hosts.yaml`]);

  const bad = parse(strategies, { 'hosts.yaml': hosts.replace('port: 81', 'port: 99999') });
  oneError(bad, 4, /port must be a port number from 1 to 65535, found 99999/, `${DIR}/hosts.yaml`);
  oneError(parse(strategies), 1, /cannot read included file .*hosts\.yaml: no such file/);
});

test('every error names its line, the file is read to the end, and broken strategies are left out', () => {
  const text = [
    'strategies:', // 1
    '  - strategy: good', // 2
    '    policy: first_live', // 3
    '    groups: [[{ host: a.example }]]', // 4
    '  - strategy: bad-policy', // 5
    '    policy: fastest', // 6
    '    groups: [[{ host: a.example }]]', // 7
    '  - policy: first_live', // 8 (no name)
    '    groups: [[{ host: a.example }]]', // 9
    '  - strategy: good', // 10 (twice)
    '    policy: first_live', // 11
    '    groups: [[{ host: b.example }]]', // 12
    '  - strategy: no-groups', // 13
    '    policy: rr_strict', // 14
    '  - strategy: bad-host', // 15
    '    policy: rr_strict', // 16
    '    groups: [[{ host: "a b", weight: 0 }]]', // 17
  ].join('\n');
  const r = parse(text);
  assert.deepEqual(
    errors(r).map((d) => [d.line, d.message.replace(/ \(.*$/, '')]),
    [
      [6, 'unknown policy "fastest"'],
      [8, 'a strategy needs "strategy:"'],
      [10, 'strategy "good" is already defined at /nonexistent-remapd-strategies/strategies.yaml:2'],
      [13, 'strategy "no-groups" needs "groups:"'],
      [17, '"a b" is not a host name or address'],
      [17, 'weight must be a number above 0, found 0'],
    ],
  );
  assert.deepEqual([...r.strategies.keys()], ['good']);
  assert.deepEqual([...r.names].sort(), ['bad-host', 'bad-policy', 'good', 'no-groups']);
});

test('a policy named like an Object.prototype member (constructor, toString) is an unknown policy', () => {
  for (const name of ['constructor', 'toString', '__proto__']) {
    const r = parse(`strategies:\n  - strategy: s\n    policy: ${name}\n    groups: [[{ host: a.example }]]\n`);
    assert.deepEqual(
      errors(r).map((d) => [d.line, d.message.replace(/ \(.*$/, '')]),
      [[3, `unknown policy "${name}"`]],
      dump(r),
    );
    assert.equal(r.strategies.size, 0);
  }
});

test('a YAML syntax error is reported at its line (ATS\'s own doc example writes "scheme http" without a colon)', () => {
  const r = parse('strategies:\n  - strategy: s\n    policy: first_live\n    groups: [[{ host: a.example }]]\n    scheme http\n');
  assert.ok(errors(r).length >= 1, dump(r));
  assert.equal(errors(r)[0]!.line, 5, dump(r));
  assert.match(errors(r)[0]!.message, /^YAML: /);
  assert.equal(r.strategies.size, 0);
});

test('an unknown alias, a bad s3_auth, a duplicate member and active checks without a URL are errors at their lines', () => {
  oneError(parse('strategies:\n  - strategy: s\n    policy: first_live\n    groups: [*nope]\n'), 4, /unknown alias \*nope/);
  oneError(parse('strategies:\n  - strategy: s\n    policy: first_live\n    groups:\n      - - host: a.example\n          s3_auth: 7\n'), 6, /s3_auth must be the s3_auth plugin's arguments/);
  oneError(
    parse('strategies:\n  - strategy: s\n    policy: first_live\n    groups:\n      - - host: a.example\n      - - host: a.example\n'),
    6,
    /a\.example:80 is listed twice in strategy "s" \(also at .*strategies\.yaml:5\)/,
  );
  oneError(
    parse('strategies:\n  - strategy: s\n    policy: first_live\n    groups:\n      - - host: a.example\n    failover:\n      health_check: [active]\n'),
    5,
    /active health checks need its protocol's health_check_url or the strategy's health_check: path/,
  );
  oneError(parse('strategies:\n  - strategy: s\n    policy: consistent_hash\n    failover: { ring_mode: peering_ring }\n    groups: [[{ host: a.example }]]\n'), 4, /peering_ring is not supported/);
  oneError(parse('strategies:\n  - strategy: s\n    policy: first_live\n    groups: [[{ host: a.example }]]\n    health_check: { interval: soon }\n'), 5, /interval must be a duration such as 500ms, 5s or 2m, found "soon"/);
  oneError(parse('strategies:\n  - strategy: s\n    policy: first_live\n    groups: [[{ host: a.example }]]\n    failover: { response_codes: [503, 700] }\n'), 5, /response_codes: 700 is not an HTTP status code/);
});

test('unknown fields are warnings with their line, and the strategy is still used', () => {
  const r = parse(
    'colour: red\nstrategies:\n  - strategy: s\n    policy: first_live\n    speed: fast\n    groups: [[{ host: a.example, rack: 7 }]]\n    failover: { retry_budget: 2 }\n',
  );
  assert.deepEqual(errors(r), [], dump(r));
  assert.deepEqual(
    warnings(r).map((d) => [d.line, d.message]),
    [
      [1, 'unknown top-level field "colour" ignored (expected hosts, groups, strategies)'],
      [5, 'unknown field "speed" in a strategy ignored'],
      [6, 'unknown field "rack" in a host ignored'],
      [7, 'unknown field "retry_budget" in failover ignored'],
    ],
  );
  assert.ok(r.strategies.has('s'));
});

test('parent_is_proxy: true and active-check settings without active checks are warned about', () => {
  const r = parse('strategies:\n  - strategy: s\n    policy: first_live\n    parent_is_proxy: true\n    groups: [[{ host: a.example }]]\n    health_check: { path: /health }\n');
  assert.deepEqual(errors(r), [], dump(r));
  assert.deepEqual(
    warnings(r).map((d) => d.line),
    [4, 6],
  );
  assert.match(warnings(r)[1]!.message, /only used by active checks, which are off/);
});

test('a missing or empty file is an error naming the file', () => {
  const missing = parseStrategiesFile(`${DIR}/none.yaml`, { readFile: () => { throw Object.assign(new Error('x'), { code: 'ENOENT' }); } });
  assert.match(errors(missing)[0]!.message, /cannot read .*none\.yaml: no such file/);
  assert.match(errors(parse('# nothing\n'))[0]!.message, /the file is empty/);
});

test('durations: ms, s, m, h, or a bare number of seconds', () => {
  assert.equal(parseDurationMs('500ms'), 500);
  assert.equal(parseDurationMs('5s'), 5000);
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('2m'), 120_000);
  assert.equal(parseDurationMs('1h'), 3_600_000);
  assert.equal(parseDurationMs(3), 3000);
  assert.equal(parseDurationMs('3'), 3000);
  assert.equal(parseDurationMs('soon'), null);
});
