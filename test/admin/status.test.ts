/**
 * What the status page shows (admin/status.ts), worked out from a metrics snapshot: per-rule hit ratios, origin
 * health and latency quantiles, the request rate of the last minute, config and reload, credentials, history.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildStatus, histogramQuantile } from '../../src/admin/status.js';
import { jsonForScript } from '../../src/admin/status-page.js';
import { Metrics, mergeSnapshots } from '../../src/observability/metrics.js';

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

function clocked() {
  let now = T0;
  return { metrics: new Metrics({ now: () => now }), advance: (ms: number) => (now += ms) };
}

const request = (rule: string, cache: string, status = 200, durationMs = 1) =>
  ({ rule, method: 'GET', status, cache, durationMs, bytesIn: 0, bytesOut: 100 }) as const;

describe('histogram quantiles (as histogram_quantile)', () => {
  const buckets = [1, 2, 4];
  test('interpolates linearly inside the bucket the rank falls in', () => {
    // 10 observations: 4 ≤ 1, 4 in (1,2], 2 in (2,4].
    assert.equal(histogramQuantile(0.5, buckets, [4, 8, 10, 10]), 1.25);
    assert.equal(histogramQuantile(0.2, buckets, [4, 8, 10, 10]), 0.5);
    assert.equal(histogramQuantile(0.9, buckets, [4, 8, 10, 10]), 3);
  });
  test('the highest finite bound when the rank is in the +Inf bucket; null with no observations', () => {
    assert.equal(histogramQuantile(0.99, buckets, [0, 0, 1, 10]), 4);
    assert.equal(histogramQuantile(0.5, buckets, [0, 0, 0, 0]), null);
  });
});

describe('status from metrics', () => {
  test('per rule: requests, hits and misses, hit ratio over lookups only, 5xx, latency quantiles', () => {
    const { metrics } = clocked();
    for (let i = 0; i < 3; i++) metrics.observeRequest(request('remap.config:10', 'hit-fresh', 200, 0.3));
    metrics.observeRequest(request('remap.config:10', 'hit-stale'));
    metrics.observeRequest(request('remap.config:10', 'miss', 200, 40));
    metrics.observeRequest(request('remap.config:10', 'skipped', 502, 40));
    metrics.observeRequest(request('remap.config:9', '-', 404));
    metrics.signingFailure('remap.config:2');
    const s = buildStatus(metrics.snapshot());
    assert.deepEqual(s.rules.map((r) => r.rule), ['remap.config:2', 'remap.config:9', 'remap.config:10'], 'in file:line order');
    const r = s.rules[2]!;
    assert.equal(r.requests, 6);
    assert.equal(r.hits, 4);
    assert.equal(r.misses, 1);
    assert.equal(r.hitRatio, 4 / 5);
    assert.equal(r.errors5xx, 1);
    assert.ok(r.p50Ms! > 0.25 && r.p50Ms! <= 1, `p50 ${r.p50Ms}`);
    assert.ok(r.p99Ms! > 25 && r.p99Ms! <= 50, `p99 ${r.p99Ms}`);
    assert.equal(s.rules[1]!.hitRatio, null, 'a rule that never looked up has no hit ratio');
    assert.equal(s.rules[0]!.signingFailures, 1);
    assert.equal(s.totals.requests, 7);
    assert.equal(s.totals.hitRatio, 4 / 5);
    assert.equal(s.totals.signingFailures, 1);
  });

  test('origin health: error rate counts failures and 5xx, not aborted attempts; p50/p99 over all rules', () => {
    const { metrics } = clocked();
    for (let i = 0; i < 8; i++) metrics.observeOrigin('r:1', 20, 200);
    metrics.observeOrigin('r:1', 20, 503);
    metrics.observeOrigin('r:2', 3000, 'ERR_ORIGIN_TIMEOUT');
    metrics.observeOrigin('r:2', 1, 'aborted');
    const s = buildStatus(metrics.snapshot());
    assert.equal(s.origin.requests, 10);
    assert.equal(s.origin.errors, 2);
    assert.equal(s.origin.errorRate, 0.2);
    assert.ok(s.origin.p50Ms! > 10 && s.origin.p50Ms! <= 25);
    assert.ok(s.origin.p99Ms! > 2500 && s.origin.p99Ms! <= 5000);
    assert.deepEqual(s.origins.map((o) => [o.rule, o.requests, o.errors]), [['r:1', 9, 1], ['r:2', 1, 1]]);
  });

  test('origin pools: every member with its strategy and state', () => {
    const { metrics } = clocked();
    metrics.watchOriginPools(() => [
      { strategy: 'eu', origin: '10.0.0.1:9000', up: true },
      { strategy: 'eu', origin: '10.0.0.2:9000', up: false },
    ]);
    const s = buildStatus(metrics.snapshot());
    assert.deepEqual(s.pools, [
      { strategy: 'eu', origin: '10.0.0.1:9000', up: true },
      { strategy: 'eu', origin: '10.0.0.2:9000', up: false },
    ]);
    assert.deepEqual(buildStatus(clocked().metrics.snapshot()).pools, []);
  });

  test('the request rate is over the last minute of history; history points become rates and ratios', () => {
    const { metrics, advance } = clocked();
    for (let slot = 0; slot < 30; slot++) {
      for (let i = 0; i < slot; i++) metrics.observeRequest(request('r', i % 2 ? 'hit-fresh' : 'miss'));
      metrics.sample();
      advance(5_000);
    }
    const s = buildStatus(metrics.snapshot());
    assert.equal(s.history.points.length, 30);
    assert.equal(s.history.intervalMs, 5_000);
    const last12 = Array.from({ length: 12 }, (_, i) => 29 - i).reduce((a, b) => a + b, 0);
    assert.equal(s.totals.requestRate, last12 / 60);
    const p = s.history.points[29]!;
    assert.equal(p.requestRate, 29 / 5);
    assert.equal(p.hitRatio, 14 / 29);
    assert.equal(s.history.points[0]!.hitRatio, null);
    assert.equal(s.history.points[0]!.originErrorRate, null);
  });

  test('config versions, load time, reloads and the last result; credentials sorted by rule', () => {
    const { metrics, advance } = clocked();
    metrics.configLoaded({ version: 'v1', loadedAt: T0 });
    let s = buildStatus(metrics.snapshot());
    assert.deepEqual(s.config, { versions: ['v1'], loadedAt: '2026-11-23T10:00:00.000Z' });
    assert.deepEqual(s.reload, { successes: 0, failures: 0, last: null });
    advance(1_000);
    metrics.reload(false);
    metrics.watchCredentials(() => [
      { rule: 'remap.config:12', expiresAt: T0 + 3_600_000 },
      { rule: 'remap.config:3', expiresAt: T0 + 60_000 },
    ]);
    s = buildStatus(metrics.snapshot());
    assert.deepEqual(s.reload, { successes: 0, failures: 1, last: { ok: false, at: '2026-11-23T10:00:01.000Z' } });
    assert.deepEqual(s.credentials, [
      { rule: 'remap.config:3', expiresAt: '2026-11-23T10:01:00.000Z' },
      { rule: 'remap.config:12', expiresAt: '2026-11-23T11:00:00.000Z' },
    ]);
    assert.equal(s.startedAt, '2026-11-23T10:00:00.000Z');
  });

  test('workers between two configurations show both versions; a failed reload anywhere shows as failed', () => {
    const a = clocked();
    const b = clocked();
    a.metrics.configLoaded({ version: 'v1', loadedAt: T0 });
    b.metrics.configLoaded({ version: 'v2', loadedAt: T0 + 5_000 });
    a.metrics.reload(false);
    b.metrics.reload(true);
    const s = buildStatus(mergeSnapshots([a.metrics.snapshot(), b.metrics.snapshot()]), {
      workers: [{ worker: 1, pid: 10, ok: true }, { worker: 2, pid: 11, ok: true }],
    });
    assert.deepEqual(s.config.versions, ['v1', 'v2']);
    assert.equal(s.config.loadedAt, '2026-11-23T10:00:05.000Z');
    assert.equal(s.reload.last!.ok, false);
    assert.equal(s.reload.successes, 1);
    assert.equal(s.processes, 2);
    assert.equal(s.workers!.length, 2);
  });
});

describe('JSON embedded in the page', () => {
  test('cannot close its script element or start a comment, and reads back the same', () => {
    const value = { rule: '</script><!-- <script>&\u2028\u2029' };
    const text = jsonForScript(value);
    assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
    assert.deepEqual(JSON.parse(text), value);
  });
});
