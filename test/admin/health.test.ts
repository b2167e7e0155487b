/**
 * Readiness checks (admin/health.ts): config, credentials through the plugins' health(), and origin reachability
 * probed over TCP against real listeners on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  configCheck,
  credentialExpiries,
  credentialsCheck,
  OriginProbe,
  originTargets,
  readiness,
  tcpReachable,
} from '../../src/admin/health.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { PluginHealth, RemapPlugin } from '../../src/plugins/api.js';
import { loadRemapConfig, type RemapConfig } from '../../src/remap/load.js';
import { LOOPBACK, refusedPort, tempDir } from '../support/harness.js';

const STEP = { timeout: 10_000 };
const NOW = Date.UTC(2026, 10, 23, 10);

/** A configuration whose rules hold plugin instances reporting the given health (only what the checks read). */
function configWith(healths: (PluginHealth | null)[]): RemapConfig {
  const rules = healths.map((h, i) => {
    const instance: RemapPlugin = h === null ? {} : { health: () => h };
    return { id: `remap.config:${i + 1}`, instances: [instance] };
  });
  return { rules, loadedAt: new Date(NOW) } as unknown as RemapConfig;
}

async function listening(t: { after(fn: () => Promise<void>): void }): Promise<number> {
  const server = createServer((_req, res) => res.end());
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on (harness.ts refusedPort: never one another test file can be given). */
const closedPort = refusedPort;

describe('readiness', () => {
  test('is ready only when every check passes', () => {
    assert.equal(readiness([]).ready, true);
    assert.equal(readiness([{ name: 'a', ok: true, detail: '' }]).ready, true);
    assert.equal(readiness([{ name: 'a', ok: true, detail: '' }, { name: 'b', ok: false, detail: 'no' }]).ready, false);
  });

  test('config: loaded, with its rule count and load time', () => {
    assert.deepEqual(configCheck(configWith([null, null])), { name: 'config', ok: true, detail: '2 rule(s), loaded 2026-11-23T10:00:00.000Z' });
    assert.equal(configCheck(null).ok, false);
  });

  test('credentials: every plugin that reports health must be ready and unexpired; the reason names the rule', () => {
    assert.deepEqual(credentialsCheck(configWith([null]), NOW), { name: 'credentials', ok: true, detail: 'no rule signs requests' });
    assert.deepEqual(credentialsCheck(configWith([{ ready: true, credentialsExpireAt: NOW + 60_000 }, null]), NOW), {
      name: 'credentials',
      ok: true,
      detail: '1 signer(s) ready',
    });
    const expired = credentialsCheck(configWith([{ ready: true, credentialsExpireAt: NOW - 1 }]), NOW);
    assert.equal(expired.ok, false);
    assert.equal(expired.detail, 'remap.config:1: credentials expired at 2026-11-23T09:59:59.999Z');
    const refused = credentialsCheck(configWith([{ ready: true }, { ready: false, reason: 'credential refresh failing since 09:00' }]), NOW);
    assert.deepEqual(refused, { name: 'credentials', ok: false, detail: 'remap.config:2: credential refresh failing since 09:00' });
  });

  test('credential expiries per rule, for the metrics, leaving out credentials that do not expire', () => {
    assert.deepEqual(credentialExpiries(configWith([{ ready: true, credentialsExpireAt: NOW }, { ready: true, credentialsExpireAt: null }, null])), [
      { rule: 'remap.config:1', expiresAt: NOW },
    ]);
  });
});

describe('origins', () => {
  test('the probe targets are the map rules’ to-URLs, once each, with default ports; capture hosts left out', async (t) => {
    const dir = tempDir();
    t.after(() => dir.remove());
    writeFileSync(
      join(dir.dir, 'remap.config'),
      [
        'map http://a.test/ http://origin.test/',
        'map http://b.test/ http://origin.test:80/b/',
        'map https://c.test/ https://s3.example/',
        'regex_map http://(.*)\\.d\\.test/ http://$1.origin.test/',
        'redirect http://e.test/ https://elsewhere.test/',
        '',
      ].join('\n'),
    );
    const { config, diagnostics } = await loadRemapConfig(join(dir.dir, 'remap.config'), { logger: silentLogger });
    assert.ok(config, JSON.stringify(diagnostics));
    assert.deepEqual(originTargets(config), [
      { host: 'origin.test', port: 80 },
      { host: 's3.example', port: 443 },
    ]);
    await config.close();
  });

  test('a TCP connect tells a listening port from a closed one', STEP, async (t) => {
    assert.equal(await tcpReachable({ host: LOOPBACK, port: await listening(t) }, 2_000), true);
    assert.equal(await tcpReachable({ host: LOOPBACK, port: await closedPort() }, 2_000), false);
  });

  test('not ready before the first probe; by default ready while at least one origin is reachable', STEP, async (t) => {
    const up = { host: LOOPBACK, port: await listening(t) };
    const down = { host: LOOPBACK, port: await closedPort() };
    let targets = [up, down];
    const probe = new OriginProbe({ targets: () => targets, timeoutMs: 2_000 });
    assert.deepEqual(probe.check(), { name: 'origins', ok: false, detail: 'not probed yet' });
    await probe.probe();
    assert.deepEqual(probe.check(), { name: 'origins', ok: true, detail: `1 of 2 origin(s) unreachable: ${LOOPBACK}:${down.port}` });
    targets = [down];
    await probe.probe();
    assert.equal(probe.check().ok, false);
    targets = [];
    await probe.probe();
    assert.deepEqual(probe.check(), { name: 'origins', ok: true, detail: 'no fixed origin to probe' });
  });

  test('requireAll: one unreachable origin is enough to be not ready', STEP, async (t) => {
    const up = { host: LOOPBACK, port: await listening(t) };
    const down = { host: LOOPBACK, port: await closedPort() };
    const probe = new OriginProbe({ targets: () => [up, down], timeoutMs: 2_000, requireAll: true });
    await probe.probe();
    assert.equal(probe.check().ok, false);
    const allUp = new OriginProbe({ targets: () => [up], requireAll: true });
    await allUp.probe();
    assert.deepEqual(allUp.check(), { name: 'origins', ok: true, detail: '1 origin(s) reachable' });
  });

  test('start() probes at once and then on its interval until stop()', STEP, async (t) => {
    const up = { host: LOOPBACK, port: await listening(t) };
    let rounds = 0;
    const probe = new OriginProbe({ targets: () => (rounds++, [up]), intervalMs: 30 });
    probe.start();
    await new Promise((r) => setTimeout(r, 150));
    probe.stop();
    assert.ok(rounds >= 3, `${rounds} rounds`);
    assert.equal(probe.check().ok, true);
  });
});
