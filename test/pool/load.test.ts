/**
 * `@strategy=` in a loaded configuration (src/remap/load.ts): strategies.yaml next to remap.config, the rule's
 * pool and per-member hooks, errors at the line that causes them, the files watched for reload, the readiness
 * checks over pools, and `remapd check` failing on a bad strategies file or an unknown strategy.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { credentialsCheck, originTargets, poolsCheck } from '../../src/admin/health.js';
import type { Diagnostic } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadRemapConfig } from '../../src/remap/load.js';
import { runCli } from '../support/cli.js';
import { LOOPBACK, tempDir } from '../support/harness.js';

const STEP = { timeout: 20_000 };

function folder(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const { dir, remove } = tempDir();
  t.after(remove);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const errorsOf = (d: readonly Diagnostic[]) => d.filter((x) => x.severity === 'error');

const STRATEGIES = `hosts:
  - &eu
    host: 127.0.0.1
    protocol: [{ scheme: http, port: 9001 }]
    s3_auth: --config=eu_s3_auth.config --region=eu-west-1
  - &us
    host: 127.0.0.1
    protocol: [{ scheme: http, port: 9002 }]
strategies:
  - strategy: regions
    policy: first_live
    groups: [[*eu, *us]]
`;

const EU_CONFIG = 'version=4\naccess_key=AKIDEU\nsecret_key=eu-secret\n';

test('a rule with @strategy gets the pool; a member with s3_auth gets its own signer in place of the rule\'s', STEP, async (t) => {
  const dir = folder(t, {
    'remap.config': 'map http://a.test/ http://origin.invalid/bucket/ @plugin=s3_auth.so @pparam=--version=4 @pparam=--access_key=RULE @pparam=--secret_key=s @strategy=regions\n',
    'strategies.yaml': STRATEGIES,
    'eu_s3_auth.config': EU_CONFIG,
  });
  const { config, diagnostics } = await loadRemapConfig(join(dir, 'remap.config'), { logger: silentLogger });
  t.after(() => config?.close());
  assert.deepEqual(errorsOf(diagnostics), []);
  const rule = config!.rules[0]!;
  assert.equal(rule.pool!.pool.name, 'regions');
  assert.deepEqual(config!.pools.map((p) => p.name), ['regions']);
  const [eu, us] = rule.pool!.pool.members;
  assert.ok(eu!.signer);
  assert.equal(us!.signer, null);
  assert.deepEqual(rule.pool!.sendRequest[0], [eu!.signer], "the member's signer replaced the rule's");
  assert.deepEqual(rule.pool!.sendRequest[1], rule.hooks.sendRequest, "the rule's signer signs for a member without one");
  // Reload watching covers strategies.yaml and the member's s3_auth --config file.
  assert.ok(config!.files.includes(join(dir, 'strategies.yaml')));
  assert.ok(config!.files.includes(join(dir, 'eu_s3_auth.config')));
  // Readiness: members are probed instead of the to-URL (never contacted), their signers are asked too.
  assert.deepEqual(originTargets(config!), [{ host: '127.0.0.1', port: 9001 }, { host: '127.0.0.1', port: 9002 }]);
  assert.equal(credentialsCheck(config!).detail, '2 signer(s) ready');
  assert.deepEqual(poolsCheck(config!), { name: 'pools', ok: true, detail: '2 member(s) of 1 pool(s) up' });
});

test('readiness fails only when every member of a pool is down', STEP, async (t) => {
  const dir = folder(t, { 'remap.config': 'map http://a.test/ http://origin.invalid/ @strategy=regions\n', 'strategies.yaml': STRATEGIES, 'eu_s3_auth.config': EU_CONFIG });
  const { config } = await loadRemapConfig(join(dir, 'remap.config'), { logger: silentLogger });
  t.after(() => config?.close());
  const pool = config!.pools[0]!;
  for (let i = 0; i < 3; i++) pool.failed(pool.members[0]!, 'ERR_ORIGIN_CONNECT');
  assert.equal(poolsCheck(config!).ok, true);
  for (let i = 0; i < 3; i++) pool.failed(pool.members[1]!, '503');
  const check = poolsCheck(config!);
  assert.equal(check.ok, false);
  assert.match(check.detail, /^every member of regions is down; 2 of 2 member\(s\) down: regions 127\.0\.0\.1:9001 \(down for 0 s, last failure ERR_ORIGIN_CONNECT\); regions 127\.0\.0\.1:9002/);
});

test('an unknown strategy name is an error at the rule, naming the strategies defined', STEP, async (t) => {
  const dir = folder(t, { 'remap.config': '# pools\nmap http://a.test/ http://o.test/ @strategy=nope\n', 'strategies.yaml': STRATEGIES, 'eu_s3_auth.config': EU_CONFIG });
  const { config, diagnostics } = await loadRemapConfig(join(dir, 'remap.config'), { logger: silentLogger });
  assert.equal(config, null);
  assert.deepEqual(
    errorsOf(diagnostics).map((d) => [d.file, d.line]),
    [[join(dir, 'remap.config'), 2]],
  );
  assert.match(errorsOf(diagnostics)[0]!.message, /@strategy=nope: no strategy "nope" in .*strategies\.yaml \(defined: regions\)/);
});

test('a strategies.yaml that is not readable YAML gives its own error, not a second one at every rule', STEP, async (t) => {
  const dir = folder(t, { 'remap.config': 'map http://a.test/ http://o.test/ @strategy=regions\n', 'strategies.yaml': `${STRATEGIES}    scheme http\n` });
  const { config, diagnostics } = await loadRemapConfig(join(dir, 'remap.config'), { logger: silentLogger });
  assert.equal(config, null);
  const errors = errorsOf(diagnostics);
  assert.ok(errors.length > 0 && errors.every((d) => d.file === join(dir, 'strategies.yaml')), JSON.stringify(errors));
  assert.equal(errors[0]!.line, 13);
});

test('@strategy without a strategies.yaml is an error at the rule', STEP, async (t) => {
  const dir = folder(t, { 'remap.config': 'map http://a.test/ http://o.test/ @strategy=regions\n' });
  const { config, diagnostics } = await loadRemapConfig(join(dir, 'remap.config'), { logger: silentLogger });
  assert.equal(config, null);
  assert.match(errorsOf(diagnostics)[0]!.message, /@strategy=regions: there is no strategies\.yaml in /);
});

test("a member's bad s3_auth arguments are an error at their strategies.yaml line", STEP, async (t) => {
  const dir = folder(t, {
    'remap.config': 'map http://a.test/ http://o.test/ @strategy=regions\n',
    'strategies.yaml': STRATEGIES.replace('--config=eu_s3_auth.config', '--config=missing.config'),
  });
  const { config, diagnostics } = await loadRemapConfig(join(dir, 'remap.config'), { logger: silentLogger });
  assert.equal(config, null);
  const [e] = errorsOf(diagnostics);
  assert.deepEqual([e!.file, e!.line], [join(dir, 'strategies.yaml'), 5]);
  assert.match(e!.message, /^127\.0\.0\.1:9001 s3_auth: .*missing\.config/);
});

test('strategies.yaml is checked even when no rule uses it', STEP, async (t) => {
  const dir = folder(t, { 'remap.config': 'map http://a.test/ http://o.test/\n', 'strategies.yaml': 'strategies:\n  - strategy: s\n    policy: fastest\n    groups: [[{ host: a.example }]]\n' });
  const { config, diagnostics } = await loadRemapConfig(join(dir, 'remap.config'), { logger: silentLogger });
  assert.equal(config, null);
  assert.deepEqual(errorsOf(diagnostics).map((d) => [d.file, d.line]), [[join(dir, 'strategies.yaml'), 3]]);
});

test('remapd check: OK with a good strategies.yaml; exit 1 naming file:line for a bad one or an unknown strategy', STEP, async (t) => {
  const good = folder(t, { 'remap.config': 'map http://a.test/ http://o.test/ @strategy=regions\n', 'strategies.yaml': STRATEGIES, 'eu_s3_auth.config': EU_CONFIG });
  const ok = await runCli(['check', '-c', join(good, 'remap.config')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /OK, 1 rule\(s\)/);

  const bad = folder(t, {
    'remap.config': 'map http://a.test/ http://o.test/ @strategy=regions\n',
    'strategies.yaml': STRATEGIES.replace('port: 9002', 'port: 0'),
    'eu_s3_auth.config': EU_CONFIG,
  });
  const broken = await runCli(['check', '-c', join(bad, 'remap.config')]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, new RegExp(`${join(bad, 'strategies.yaml')}:8: error: port must be a port number from 1 to 65535, found 0`));

  const unknown = folder(t, { 'remap.config': 'map http://a.test/ http://o.test/ @strategy=other\n', 'strategies.yaml': STRATEGIES, 'eu_s3_auth.config': EU_CONFIG });
  const missing = await runCli(['check', '-c', join(unknown, 'remap.config')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /remap\.config:1: error: @strategy=other: no strategy "other"/);
});

test('active checks start with the configuration and stop when it is retired (close: reload or shutdown)', STEP, async (t) => {
  let checks = 0;
  const server = createServer((_req, res) => {
    checks++;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const dir = folder(t, {
    'remap.config': 'map http://a.test/ http://o.test/ @strategy=checked\n',
    'strategies.yaml': `strategies:\n  - strategy: checked\n    policy: first_live\n    groups: [[{ host: ${LOOPBACK}, protocol: [{ scheme: http, port: ${port} }] }]]\n    failover: { health_check: [passive, active] }\n    health_check: { path: /health, interval: 30ms, timeout: 20ms }\n`,
  });
  const { config } = await loadRemapConfig(join(dir, 'remap.config'), { logger: silentLogger });
  const deadline = Date.now() + 5_000;
  while (checks < 3 && Date.now() < deadline) await sleep(10);
  assert.ok(checks >= 3, `${checks} checks`);
  await config!.close();
  await sleep(60);
  const after = checks;
  await sleep(150);
  assert.equal(checks, after, 'no check after the configuration was retired');
});
