/**
 * Origin pools in the metrics (src/observability/metrics.ts): remapd_origin_up per strategy and origin, merged over
 * workers by `min`; remapd_origin_failovers_total per strategy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRIC, Metrics, mergeSnapshots } from '../../src/observability/metrics.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

test('remapd_origin_up is 1 or 0 per member, and a member down in any worker is 0 in the sum', () => {
  const a = new Metrics();
  const b = new Metrics();
  a.watchOriginPools(() => [
    { strategy: 'regions', origin: 'eu:9000', up: true },
    { strategy: 'regions', origin: 'us:9000', up: true },
  ]);
  b.watchOriginPools(() => [
    { strategy: 'regions', origin: 'eu:9000', up: false },
    { strategy: 'regions', origin: 'us:9000', up: true },
  ]);
  const one = parsePrometheus(a.prometheus());
  assert.equal(sampleValue(one, METRIC.originUp, { strategy: 'regions', origin: 'eu:9000' }), 1);
  const merged = mergeSnapshots([a.snapshot(), b.snapshot()]).families.find((f) => f.name === METRIC.originUp);
  assert.equal(merged?.type, 'gauge');
  assert.deepEqual(
    (merged as Extract<typeof merged, { type: 'gauge' }>).samples.map((s) => [s.labels.origin, s.value]),
    [['eu:9000', 0], ['us:9000', 1]],
  );
});

test('remapd_origin_failovers_total counts per strategy; nothing is exported before a pool exists', () => {
  const m = new Metrics();
  assert.equal(sampleValue(parsePrometheus(m.prometheus()), METRIC.originUp, { strategy: 'x', origin: 'y' }), undefined);
  m.originFailover('regions');
  m.originFailover('regions');
  m.originFailover('other');
  const parsed = parsePrometheus(m.prometheus());
  assert.equal(sampleValue(parsed, METRIC.originFailovers, { strategy: 'regions' }), 2);
  assert.equal(sampleValue(parsed, METRIC.originFailovers, { strategy: 'other' }), 1);
});
