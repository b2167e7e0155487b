/**
 * Metrics (observability/metrics.ts, metric-registry.ts, prometheus-text.ts, history.ts): the text exposition
 * format read back by a strict parser, the JSON snapshot, the merge of several processes' snapshots, what the
 * request path records, and the 15-minute history.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cache } from '../../src/cache/cache.js';
import { HistoryRing, mergeHistories, type HistoryPoint } from '../../src/observability/history.js';
import { Counter, type MetricFamily, Registry } from '../../src/observability/metric-registry.js';
import { formatPrometheus, LATENCY_BUCKETS, METRIC, Metrics, mergeSnapshots, type MetricsSnapshot } from '../../src/observability/metrics.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

const KiB = 1024;

/** A Metrics on a clock the test moves. */
function clocked(start = Date.UTC(2026, 10, 23, 10, 0, 0)) {
  let now = start;
  const metrics = new Metrics({ now: () => now });
  return { metrics, advance: (ms: number) => (now += ms), now: () => now };
}

function get<T extends MetricFamily['type']>(families: MetricFamily[], name: string, type: T): Extract<MetricFamily, { type: T }> {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `family ${name} exists`);
  assert.equal(f.type, type);
  return f as Extract<MetricFamily, { type: T }>;
}

describe('text exposition format 0.0.4', () => {
  test('writes HELP then TYPE once per family, before its samples, and ends with a line feed', () => {
    const r = new Registry();
    r.counter('x_requests_total', 'Requests.', ['code']).labels('200').inc(3);
    r.gauge('x_temperature_celsius', 'A gauge.').set(21.5);
    r.histogram('x_latency_seconds', 'Latency.', [0.1, 1]).observe(0.05);
    const text = formatPrometheus(r.collect());
    assert.equal(
      text,
      [
        '# HELP x_requests_total Requests.',
        '# TYPE x_requests_total counter',
        'x_requests_total{code="200"} 3',
        '# HELP x_temperature_celsius A gauge.',
        '# TYPE x_temperature_celsius gauge',
        'x_temperature_celsius 21.5',
        '# HELP x_latency_seconds Latency.',
        '# TYPE x_latency_seconds histogram',
        'x_latency_seconds_bucket{le="0.1"} 1',
        'x_latency_seconds_bucket{le="1"} 1',
        'x_latency_seconds_bucket{le="+Inf"} 1',
        'x_latency_seconds_sum 0.05',
        'x_latency_seconds_count 1',
        '',
      ].join('\n'),
    );
    const parsed = parsePrometheus(text);
    assert.deepEqual([...parsed.keys()], ['x_requests_total', 'x_temperature_celsius', 'x_latency_seconds']);
    assert.equal(parsed.get('x_requests_total')!.help, 'Requests.');
    assert.equal(parsed.get('x_latency_seconds')!.type, 'histogram');
  });

  test('escapes backslash, double quote and line feed in label values, and backslash and line feed in HELP', () => {
    const r = new Registry();
    const nasty = 'C:\\dir "quoted"\nnext line }{,=';
    r.counter('x_total', 'Help with \\ a backslash\nand a second line "quotes stay".', ['rule']).labels(nasty).inc();
    const text = formatPrometheus(r.collect());
    assert.ok(text.includes('# HELP x_total Help with \\\\ a backslash\\nand a second line "quotes stay".\n'));
    assert.ok(text.includes('x_total{rule="C:\\\\dir \\"quoted\\"\\nnext line }{,="} 1\n'));
    const parsed = parsePrometheus(text);
    assert.equal(parsed.get('x_total')!.help, 'Help with \\ a backslash\nand a second line "quotes stay".');
    assert.deepEqual(parsed.get('x_total')!.samples[0]!.labels, { rule: nasty });
  });

  test('histogram buckets are cumulative, `le` is inclusive, and the +Inf bucket equals _count', () => {
    const r = new Registry();
    const h = r.histogram('x_seconds', 'h', [0.5, 1, 2], ['rule']);
    for (const v of [0.1, 0.5, 0.7, 1, 3, 100]) h.labels('a').observe(v);
    h.labels('b').observe(2);
    const text = formatPrometheus(r.collect());
    const parsed = parsePrometheus(text); // throws unless cumulative and +Inf = _count
    const bucket = (rule: string, le: string) => sampleValue(parsed, 'x_seconds_bucket', { rule, le });
    assert.deepEqual(['0.5', '1', '2', '+Inf'].map((le) => bucket('a', le)), [2, 4, 4, 6]);
    assert.deepEqual(['0.5', '1', '2', '+Inf'].map((le) => bucket('b', le)), [0, 0, 1, 1]);
    assert.equal(sampleValue(parsed, 'x_seconds_sum', { rule: 'a' }), 0.1 + 0.5 + 0.7 + 1 + 3 + 100);
    assert.equal(sampleValue(parsed, 'x_seconds_count', { rule: 'a' }), 6);
    // The label order is the declared one, with le last.
    assert.ok(text.includes('x_seconds_bucket{rule="a",le="+Inf"} 6\n'));
  });

  test('special values are written as Go reads them', () => {
    const r = new Registry();
    r.gauge('x_g', 'g', { labelNames: ['k'] }).labels('big').set(1e21);
    r.gauge('x_small', 'g').set(-0.000001);
    const text = formatPrometheus(r.collect());
    assert.ok(text.includes('x_g{k="big"} 1e+21\n'));
    assert.equal(sampleValue(parsePrometheus(text), 'x_small'), -0.000001);
  });

  test('a labelled family with no series yet still has its HELP and TYPE', () => {
    const r = new Registry();
    r.counter('x_total', 'nothing yet', ['rule']);
    assert.equal(formatPrometheus(r.collect()), '# HELP x_total nothing yet\n# TYPE x_total counter\n');
  });
});

describe('registry', () => {
  test('refuses bad names, reserved and repeated labels, and buckets that do not increase, with the reason', () => {
    const r = new Registry();
    assert.throws(() => r.counter('1bad', 'h'), /"1bad" is not a valid metric name/);
    assert.throws(() => r.counter('x_total', 'h', ['bad-label']), /"bad-label" is not a valid label name/);
    assert.throws(() => r.counter('x_total', 'h', ['__reserved']), /not a valid label name/);
    assert.throws(() => r.counter('x_total', 'h', ['a', 'a']), /label "a" is given twice/);
    assert.throws(() => r.histogram('x_seconds', 'h', [1], ['le']), /the label name "le" is reserved/);
    assert.throws(() => r.histogram('x_seconds', 'h', [1, 1]), /buckets must increase \(1 then 1\)/);
    assert.throws(() => r.histogram('x_seconds', 'h', [1, Infinity]), /\+Inf is implicit/);
    r.counter('x_total', 'h');
    assert.throws(() => r.counter('x_total', 'h'), /already registered/);
    assert.throws(() => r.counter('y_total', 'h', ['a']).labels('1', '2'), /takes 1 label value\(s\) \(a\), got 2/);
  });

  test('a counter only goes up: negative and NaN amounts are ignored', () => {
    const c = new Registry().counter('x_total', 'h');
    c.inc(2);
    c.inc(-5);
    c.inc(NaN);
    assert.equal(c.collect().samples[0]!.value, 2);
  });

  test('callback gauges: a number, labelled samples; non-finite values are left out; bad label names refused', () => {
    const r = new Registry();
    r.gaugeFunc('x_one', 'h', () => 7);
    r.gaugeFunc('x_many', 'h', () => [{ labels: { rule: 'a' }, value: 1 }, { labels: { rule: 'b' }, value: NaN }, { labels: { rule: 'c' }, value: Infinity }]);
    const families = r.collect();
    assert.deepEqual(get(families, 'x_one', 'gauge').samples, [{ labels: {}, value: 7 }]);
    assert.deepEqual(get(families, 'x_many', 'gauge').samples, [{ labels: { rule: 'a' }, value: 1 }]);
    const bad = new Registry();
    bad.gaugeFunc('x_bad', 'h', () => [{ labels: { 'no-dash': 'x' }, value: 1 }]);
    assert.throws(() => bad.collect(), /"no-dash" is not a valid label name/);
  });
});

describe('snapshots and their merge', () => {
  test('a snapshot is plain JSON: it survives JSON.stringify/parse unchanged', () => {
    const { metrics } = clocked();
    metrics.watchCache(new Cache({ maxBytes: 64 * KiB, maxObjectBytes: 16 * KiB, maxEntries: 10 }));
    metrics.observeRequest({ rule: 'remap.config:1', method: 'GET', status: 200, cache: 'miss', durationMs: 3, bytesIn: 0, bytesOut: 10 });
    metrics.observeOrigin('remap.config:1', 2, 200);
    metrics.sample();
    const s = metrics.snapshot();
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });

  test('counters and histograms are summed per label set, whatever order the label sets come in', () => {
    const one = clocked();
    const two = clocked();
    one.metrics.observeRequest({ rule: 'r:1', method: 'GET', status: 200, cache: 'miss', durationMs: 0.2, bytesIn: 0, bytesOut: 100 });
    one.metrics.observeRequest({ rule: 'r:2', method: 'GET', status: 200, cache: 'hit-fresh', durationMs: 40, bytesIn: 0, bytesOut: 5 });
    two.metrics.observeRequest({ rule: 'r:2', method: 'GET', status: 200, cache: 'hit-fresh', durationMs: 0.2, bytesIn: 0, bytesOut: 7 });
    two.metrics.observeRequest({ rule: 'r:1', method: 'GET', status: 200, cache: 'miss', durationMs: 2000, bytesIn: 0, bytesOut: 1 });
    const merged = mergeSnapshots([one.metrics.snapshot(), two.metrics.snapshot()]);
    const parsed = parsePrometheus(formatPrometheus(merged.families));
    assert.equal(sampleValue(parsed, METRIC.requests, { rule: 'r:1', method: 'GET', code: '200', cache: 'miss' }), 2);
    assert.equal(sampleValue(parsed, METRIC.requests, { rule: 'r:2', method: 'GET', code: '200', cache: 'hit-fresh' }), 2);
    assert.equal(sampleValue(parsed, METRIC.responseBodyBytes, { rule: 'r:1' }), 101);
    assert.equal(sampleValue(parsed, `${METRIC.requestDuration}_count`, { rule: 'r:1' }), 2);
    assert.equal(sampleValue(parsed, `${METRIC.requestDuration}_bucket`, { rule: 'r:1', le: '0.0005' }), 1);
    assert.equal(sampleValue(parsed, `${METRIC.requestDuration}_bucket`, { rule: 'r:1', le: '2.5' }), 2);
    assert.equal(sampleValue(parsed, `${METRIC.requestDuration}_sum`, { rule: 'r:1' }), 2.0002);
    // One process per snapshot.
    assert.equal(sampleValue(parsed, METRIC.processes), 2);
  });

  test('gauges combine by their rule: sum, min, max, and a mean weighted by each sample', () => {
    const family = (merge: 'sum' | 'min' | 'max' | 'mean', value: number, weight?: number): MetricsSnapshot => ({
      time: 1,
      history: [],
      families: [{ type: 'gauge', name: `g_${merge}`, help: 'h', merge, samples: [{ labels: { k: 'v' }, value, ...(weight === undefined ? {} : { weight }) }] }],
    });
    const value = (s: MetricsSnapshot) => (s.families[0]!.samples[0] as { value: number }).value;
    assert.equal(value(mergeSnapshots([family('sum', 2), family('sum', 3)])), 5);
    assert.equal(value(mergeSnapshots([family('min', 2), family('min', 3)])), 2);
    assert.equal(value(mergeSnapshots([family('max', 2), family('max', 3)])), 3);
    // A hit ratio of 0.5 over 10 lookups and 1.0 over 30 lookups is 35/40.
    assert.equal(value(mergeSnapshots([family('mean', 0.5, 10), family('mean', 1, 30)])), 35 / 40);
    // A worker with no lookups yet does not drag the ratio to its 0.
    assert.equal(value(mergeSnapshots([family('mean', 0, 0), family('mean', 0.8, 10)])), 0.8);
  });

  test('histories add up slot by slot; a slot only one worker has is kept as it is', () => {
    const p = (t: number, requests: number, cacheBytes: number): HistoryPoint => ({
      t, requests, hits: 0, lookups: 0, originRequests: requests, originErrors: 0, cacheBytes, cacheObjects: 1,
    });
    const merged = mergeHistories([[p(5000, 1, 100), p(10000, 2, 100)], [p(10000, 3, 50), p(15000, 4, 50)]]);
    assert.deepEqual(merged.map((x) => [x.t, x.requests, x.cacheBytes, x.cacheObjects]), [
      [5000, 1, 100, 1],
      [10000, 5, 150, 2],
      [15000, 4, 50, 1],
    ]);
  });

  test('histograms of one name with different buckets cannot be merged', () => {
    const a = new Registry();
    a.histogram('h_seconds', 'h', [1]).observe(1);
    const b = new Registry();
    b.histogram('h_seconds', 'h', [2]).observe(1);
    assert.throws(() => mergeSnapshots([{ time: 0, families: a.collect(), history: [] }, { time: 0, families: b.collect(), history: [] }]), /different buckets/);
  });
});

describe('what the request path records', () => {
  test('requests by rule, method, status code and cache result; latency by rule; body bytes in and out', () => {
    const { metrics } = clocked();
    metrics.observeRequest({ rule: 'remap.config:3', method: 'GET', status: 200, cache: 'hit-fresh', durationMs: 0.4, bytesIn: 0, bytesOut: 512 });
    metrics.observeRequest({ rule: 'remap.config:3', method: 'PUT', status: 200, cache: 'skipped', durationMs: 30, bytesIn: 2048, bytesOut: 0 });
    metrics.observeRequest({ rule: '-', method: 'GET', status: 404, cache: '-', durationMs: 0.1, bytesIn: 0, bytesOut: 40 });
    metrics.observeRequest({ rule: 'remap.config:3', method: 'MKCOL', status: 499, cache: '-', durationMs: 5, bytesIn: 0, bytesOut: 0 });
    const parsed = parsePrometheus(metrics.prometheus());
    const req = (labels: Record<string, string>) => sampleValue(parsed, METRIC.requests, labels);
    assert.equal(req({ rule: 'remap.config:3', method: 'GET', code: '200', cache: 'hit-fresh' }), 1);
    assert.equal(req({ rule: 'remap.config:3', method: 'PUT', code: '200', cache: 'skipped' }), 1);
    assert.equal(req({ rule: '-', method: 'GET', code: '404', cache: '-' }), 1);
    assert.equal(req({ rule: 'remap.config:3', method: 'other', code: '499', cache: '-' }), 1, 'unknown methods are "other"');
    assert.equal(sampleValue(parsed, METRIC.requestBodyBytes, { rule: 'remap.config:3' }), 2048);
    assert.equal(sampleValue(parsed, METRIC.responseBodyBytes, { rule: 'remap.config:3' }), 512);
    assert.equal(sampleValue(parsed, `${METRIC.requestDuration}_count`, { rule: 'remap.config:3' }), 3);
    assert.equal(sampleValue(parsed, `${METRIC.requestDuration}_bucket`, { rule: 'remap.config:3', le: '0.0005' }), 1);
    assert.equal(parsed.get(METRIC.requestDuration)!.samples.filter((s) => s.name.endsWith('_bucket')).length, 2 * (LATENCY_BUCKETS.length + 1));
  });

  test('origin attempts by outcome, failures by code, latency by rule; a client abort is not an origin error', () => {
    const { metrics } = clocked();
    metrics.observeOrigin('r:1', 12, 200);
    metrics.observeOrigin('r:1', 20, 503);
    metrics.observeOrigin('r:1', 2000, 'ERR_ORIGIN_TIMEOUT');
    metrics.observeOrigin('r:1', 1, 'ERR_ORIGIN_CONNECT');
    metrics.observeOrigin('r:1', 5, 'aborted');
    metrics.observeOrigin('r:2', 3, 304);
    const parsed = parsePrometheus(metrics.prometheus());
    const outcome = (rule: string, o: string) => sampleValue(parsed, METRIC.originRequests, { rule, outcome: o });
    assert.equal(outcome('r:1', '2xx'), 1);
    assert.equal(outcome('r:1', '5xx'), 1);
    assert.equal(outcome('r:1', 'error'), 2);
    assert.equal(outcome('r:1', 'aborted'), 1);
    assert.equal(outcome('r:2', '3xx'), 1);
    assert.equal(sampleValue(parsed, METRIC.originErrors, { rule: 'r:1', code: 'ERR_ORIGIN_TIMEOUT' }), 1);
    assert.equal(sampleValue(parsed, METRIC.originErrors, { rule: 'r:1', code: 'ERR_ORIGIN_CONNECT' }), 1);
    assert.equal(sampleValue(parsed, `${METRIC.originDuration}_count`, { rule: 'r:1' }), 4, 'aborted attempts have no latency');
    assert.equal(sampleValue(parsed, `${METRIC.originDuration}_bucket`, { rule: 'r:1', le: '2.5' }), 4);
  });

  test('signing failures by rule and code; reloads; config version and load time', () => {
    const { metrics, advance, now } = clocked();
    metrics.signingFailure('r:1');
    metrics.signingFailure('r:1', 'ERR_PLUGIN');
    metrics.signingFailure('r:1', 'ERR_PLUGIN');
    let parsed = parsePrometheus(metrics.prometheus());
    assert.equal(sampleValue(parsed, METRIC.lastReloadSuccessful), undefined, 'no reload yet: no sample');
    metrics.configLoaded({ version: '0123abcd4567', loadedAt: new Date(now()) });
    advance(60_000);
    metrics.reload(true);
    advance(60_000);
    metrics.reload(false);
    parsed = parsePrometheus(metrics.prometheus());
    assert.equal(sampleValue(parsed, METRIC.signingFailures, { rule: 'r:1', code: 'ERR_SIGNING_KEY' }), 1);
    assert.equal(sampleValue(parsed, METRIC.signingFailures, { rule: 'r:1', code: 'ERR_PLUGIN' }), 2);
    assert.equal(sampleValue(parsed, METRIC.reloads, { result: 'success' }), 1);
    assert.equal(sampleValue(parsed, METRIC.reloads, { result: 'failure' }), 1);
    assert.equal(sampleValue(parsed, METRIC.lastReloadSuccessful), 0);
    assert.equal(sampleValue(parsed, METRIC.lastReloadTime), now() / 1000);
    assert.equal(sampleValue(parsed, METRIC.configInfo, { version: '0123abcd4567' }), 1);
    assert.equal(sampleValue(parsed, METRIC.configLoadedTime), (now() - 120_000) / 1000);
  });

  test("watchReloads reads the server's own reload bookkeeping (ReloadState) instead", () => {
    const { metrics } = clocked();
    const state = {
      reloadsOk: 4,
      reloadsFailed: 1,
      lastReload: { ok: true, at: new Date(Date.UTC(2026, 10, 23, 9)), trigger: 'SIGHUP', message: '3 rule(s)', configVersion: 'v9' },
      configVersion: 'v9',
      loadedAt: new Date(Date.UTC(2026, 10, 23, 9)),
      rules: 3,
    };
    metrics.watchReloads(() => state);
    state.reloadsOk++;
    const parsed = parsePrometheus(metrics.prometheus());
    assert.equal(sampleValue(parsed, METRIC.reloads, { result: 'success' }), 5);
    assert.equal(sampleValue(parsed, METRIC.reloads, { result: 'failure' }), 1);
    assert.equal(sampleValue(parsed, METRIC.lastReloadSuccessful), 1);
    assert.equal(sampleValue(parsed, METRIC.lastReloadTime), Date.UTC(2026, 10, 23, 9) / 1000);
    assert.equal(sampleValue(parsed, METRIC.configInfo, { version: 'v9' }), 1);
    assert.ok(!metrics.prometheus().includes('3 rule(s)'), 'reload messages are not metrics');
  });

  test('cache occupancy, hit ratio and the store counters are read from the cache when asked', () => {
    const { metrics } = clocked();
    const cache = new Cache({ maxBytes: 64 * KiB, maxObjectBytes: 16 * KiB, maxEntries: 10 });
    metrics.watchCache(cache);
    const s = cache.store.stats;
    s.hits = 3;
    s.misses = 1;
    s.coalesced = 4;
    s.staleServed = 2;
    const parsed = parsePrometheus(metrics.prometheus());
    assert.equal(sampleValue(parsed, METRIC.cacheHitRatio), 0.75);
    assert.equal(sampleValue(parsed, METRIC.cacheLookups, { result: 'hit' }), 3);
    assert.equal(sampleValue(parsed, METRIC.cacheCoalesced), 4);
    assert.equal(sampleValue(parsed, METRIC.cacheStaleServed), 2);
    assert.equal(sampleValue(parsed, METRIC.cacheCapacity), 64 * KiB);
    assert.equal(sampleValue(parsed, METRIC.cacheBytes), 0);
    assert.equal(sampleValue(parsed, METRIC.cacheObjects), 0);
    assert.equal(parsed.get(METRIC.cacheCoalesced)!.type, 'counter');
  });

  test('credential expiry per rule, in seconds; credentials that do not expire have no sample', () => {
    const { metrics } = clocked();
    metrics.watchCredentials(() => [
      { rule: 'r:1', expiresAt: new Date(Date.UTC(2026, 10, 23, 12)) },
      { rule: 'r:2', expiresAt: null },
      { rule: 'r:3', expiresAt: 1_800_000_000_000 },
    ]);
    const family = get(metrics.snapshot().families, METRIC.credentialsExpiry, 'gauge');
    assert.deepEqual(family.samples, [
      { labels: { rule: 'r:1' }, value: Date.UTC(2026, 10, 23, 12) / 1000 },
      { labels: { rule: 'r:3' }, value: 1_800_000_000 },
    ]);
    assert.equal(family.merge, 'min');
  });

  test('after the first request of a combination, no label series is looked up by values again', (t) => {
    const { metrics } = clocked();
    const o = { rule: 'remap.config:1', method: 'GET', status: 200, cache: 'hit-fresh', durationMs: 0.3, bytesIn: 0, bytesOut: 1024 };
    metrics.observeRequest(o);
    metrics.observeOrigin('remap.config:1', 3, 200);
    const labels = t.mock.method(Counter.prototype, 'labels');
    for (let i = 0; i < 1000; i++) {
      metrics.observeRequest({ ...o, durationMs: i / 100 });
      metrics.observeOrigin('remap.config:1', 3, 200);
    }
    assert.equal(labels.mock.callCount(), 0);
    assert.equal(sampleValue(parsePrometheus(metrics.prometheus()), METRIC.requests, { rule: 'remap.config:1', method: 'GET', code: '200', cache: 'hit-fresh' }), 1001);
  });

  test('metric names follow the conventions: remapd_ prefix, _total counters, units in the name', () => {
    const { metrics } = clocked();
    metrics.watchCache(new Cache({ maxBytes: KiB, maxObjectBytes: KiB, maxEntries: 1 }));
    for (const f of metrics.snapshot().families) {
      assert.match(f.name, /^remapd_/);
      if (f.type === 'counter') assert.match(f.name, /_total$/);
      else assert.doesNotMatch(f.name, /_total$/);
      if (f.type === 'histogram') assert.match(f.name, /_seconds$/);
      assert.doesNotMatch(f.name, /_(ms|milliseconds|kb|mb)(_|$)/);
    }
  });
});

describe('history: the last 15 minutes in 5-second slots', () => {
  test('each point holds what happened since the previous one, and the cache occupancy at its end', () => {
    const { metrics, advance } = clocked();
    const cache = new Cache({ maxBytes: 64 * KiB, maxObjectBytes: 16 * KiB, maxEntries: 10 });
    metrics.watchCache(cache);
    const obs = (cache_: string) => metrics.observeRequest({ rule: 'r', method: 'GET', status: 200, cache: cache_, durationMs: 1, bytesIn: 0, bytesOut: 1 });
    obs('hit-fresh');
    obs('miss');
    obs('skipped');
    metrics.observeOrigin('r', 1, 200);
    metrics.observeOrigin('r', 1, 502);
    metrics.observeOrigin('r', 1, 'aborted');
    metrics.sample();
    advance(5_000);
    obs('hit-stale');
    metrics.sample();
    const [a, b] = metrics.snapshot().history;
    assert.deepEqual({ ...a, t: 0 }, { t: 0, requests: 3, hits: 1, lookups: 2, originRequests: 2, originErrors: 1, cacheBytes: 0, cacheObjects: 0 });
    assert.deepEqual({ ...b, t: 0 }, { t: 0, requests: 1, hits: 1, lookups: 1, originRequests: 0, originErrors: 0, cacheBytes: 0, cacheObjects: 0 });
    assert.equal(b!.t - a!.t, 5_000);
    assert.equal(a!.t % 5_000, 0, 'slots start on multiples of the interval');
  });

  test('two ticks in one slot fold into one point', () => {
    const { metrics, advance } = clocked();
    metrics.observeRequest({ rule: 'r', method: 'GET', status: 200, cache: '-', durationMs: 1, bytesIn: 0, bytesOut: 1 });
    metrics.sample();
    advance(1_000);
    metrics.observeRequest({ rule: 'r', method: 'GET', status: 200, cache: '-', durationMs: 1, bytesIn: 0, bytesOut: 1 });
    metrics.sample();
    const h = metrics.snapshot().history;
    assert.equal(h.length, 1);
    assert.equal(h[0]!.requests, 2);
  });

  test('keeps 180 points (15 minutes), dropping the oldest', () => {
    const { metrics, advance } = clocked();
    for (let i = 0; i < 200; i++) {
      metrics.sample();
      advance(5_000);
    }
    const h = metrics.snapshot().history;
    assert.equal(h.length, 180);
    assert.equal(h.at(-1)!.t - h[0]!.t, 179 * 5_000);
    const ring = new HistoryRing(3);
    for (const t of [1, 2, 3, 4, 5]) ring.push({ t, requests: 0, hits: 0, lookups: 0, originRequests: 0, originErrors: 0, cacheBytes: 0, cacheObjects: 0 });
    assert.deepEqual(ring.points().map((p) => p.t), [3, 4, 5]);
    assert.equal(ring.last!.t, 5);
  });

  test('startSampling ticks on its interval and stopSampling stops it', async () => {
    const metrics = new Metrics({ historyIntervalMs: 20 });
    metrics.startSampling();
    await new Promise((r) => setTimeout(r, 110));
    metrics.stopSampling();
    const n = metrics.snapshot().history.length;
    assert.ok(n >= 2, `sampled ${n} times in 110 ms at a 20 ms interval`);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(metrics.snapshot().history.length, n);
  });
});
