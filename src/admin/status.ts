/**
 * What the status page shows, worked out from a metrics snapshot (one process's, or the merge of every worker's):
 * per-rule requests and hit ratios, origin health with latency quantiles, cache occupancy, config version and the
 * last reload, and the last 15 minutes as rates. Served as /status.json and drawn by the page's script.
 *
 * Everything here comes from metric families, so it carries nothing the metrics do not: no URLs, no headers, no
 * credentials.
 */
import { HISTORY_INTERVAL_MS, type HistoryPoint } from '../observability/history.js';
import type { CounterFamily, GaugeFamily, HistogramFamily, MetricFamily } from '../observability/metric-registry.js';
import { METRIC, type MetricsSnapshot } from '../observability/metrics.js';

export interface RuleStatus {
  /** `file:line`, or '-' for requests no rule matched. */
  rule: string;
  requests: number;
  /** Served from the cache (fresh or stale). */
  hits: number;
  misses: number;
  /** hits / (hits + misses); null before the first lookup. */
  hitRatio: number | null;
  /** Responses with a 5xx status. */
  errors5xx: number;
  /** Client request latency, from the histogram (null before the first request). */
  p50Ms: number | null;
  p99Ms: number | null;
  signingFailures: number;
}

export interface OriginStatus {
  /** `file:line`, or '*' for all rules together. */
  rule: string;
  /** Attempts that got a response or failed (aborted ones not counted). */
  requests: number;
  /** Failures to get a response, and 5xx responses. */
  errors: number;
  errorRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface WorkerStatus {
  worker: number;
  pid: number;
  ok: boolean;
  /** Why its numbers are missing (it did not answer in time). */
  error?: string;
}

export interface StatusPoint {
  /** Start of the slot, ms since the epoch. */
  t: number;
  requestRate: number;
  hitRatio: number | null;
  cacheBytes: number;
  originErrorRate: number | null;
}

export interface StatusInfo {
  generatedAt: string;
  startedAt: string | null;
  /** Processes whose numbers are included. */
  processes: number;
  /** Per worker, when the caller collected from several; null in a single process. */
  workers: WorkerStatus[] | null;
  /** Versions in force (more than one while workers are between configurations). */
  config: { versions: string[]; loadedAt: string | null };
  reload: { successes: number; failures: number; last: { ok: boolean; at: string } | null };
  totals: {
    requests: number;
    /** Requests per second over the last minute of history. */
    requestRate: number;
    hitRatio: number | null;
    bytesOut: number;
    errors5xx: number;
    signingFailures: number;
  };
  cache: {
    bytes: number;
    capacityBytes: number;
    objects: number;
    hitRatio: number | null;
    coalesced: number;
    staleServed: number;
    evictions: number;
  };
  origin: OriginStatus;
  origins: OriginStatus[];
  /** Origin pool members (strategies.yaml) and whether each is up (with workers: up in every worker). */
  pools: { strategy: string; origin: string; up: boolean }[];
  rules: RuleStatus[];
  credentials: { rule: string; expiresAt: string }[];
  history: { intervalMs: number; points: StatusPoint[] };
}

/** The last minute of history is what "now" means for the request rate. */
const RATE_WINDOW_MS = 60_000;

function family<T extends MetricFamily['type']>(snapshot: MetricsSnapshot, name: string, type: T): Extract<MetricFamily, { type: T }> | undefined {
  const f = snapshot.families.find((x) => x.name === name);
  return f && f.type === type ? (f as Extract<MetricFamily, { type: T }>) : undefined;
}

function counterSum(f: CounterFamily | undefined, where: (labels: Record<string, string>) => boolean = () => true): number {
  let n = 0;
  for (const s of f?.samples ?? []) if (where(s.labels)) n += s.value;
  return n;
}

function gaugeValue(f: GaugeFamily | undefined): number | null {
  return f && f.samples.length > 0 ? f.samples[0]!.value : null;
}

/**
 * The q-quantile of a histogram's cumulative bucket counts, interpolating linearly inside the bucket it falls
 * in, as Prometheus's histogram_quantile does; the highest finite bound when it falls in the +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: readonly number[], counts: readonly number[]): number | null {
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  for (let i = 0; i < buckets.length; i++) {
    if (counts[i]! >= rank) {
      const lower = i === 0 ? 0 : buckets[i - 1]!;
      const below = i === 0 ? 0 : counts[i - 1]!;
      const inBucket = counts[i]! - below;
      return inBucket === 0 ? buckets[i]! : lower + (buckets[i]! - lower) * ((rank - below) / inBucket);
    }
  }
  return buckets[buckets.length - 1]!;
}

/** Cumulative counts of the samples of `f` for which `where` holds, added up. */
function addedCounts(f: HistogramFamily | undefined, where: (labels: Record<string, string>) => boolean): number[] {
  const out = new Array<number>((f?.buckets.length ?? 0) + 1).fill(0);
  for (const s of f?.samples ?? []) {
    if (!where(s.labels)) continue;
    for (let i = 0; i < out.length; i++) out[i]! += s.counts[i] ?? 0;
  }
  return out;
}

function quantilesMs(f: HistogramFamily | undefined, where: (labels: Record<string, string>) => boolean): { p50Ms: number | null; p99Ms: number | null } {
  if (!f) return { p50Ms: null, p99Ms: null };
  const counts = addedCounts(f, where);
  const ms = (q: number) => {
    const v = histogramQuantile(q, f.buckets, counts);
    return v === null ? null : v * 1000;
  };
  return { p50Ms: ms(0.5), p99Ms: ms(0.99) };
}

const ratio = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);
const iso = (seconds: number | null): string | null => (seconds === null ? null : new Date(seconds * 1000).toISOString());

/** Rule ids in reading order: file, then line as a number. */
function byRuleId(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function originStatus(rule: string, requests: CounterFamily | undefined, duration: HistogramFamily | undefined): OriginStatus {
  const mine = (l: Record<string, string>) => rule === '*' || l.rule === rule;
  const counted = counterSum(requests, (l) => mine(l) && l.outcome !== 'aborted');
  const errors = counterSum(requests, (l) => mine(l) && (l.outcome === 'error' || l.outcome === '5xx'));
  return { rule, requests: counted, errors, errorRate: ratio(errors, counted), ...quantilesMs(duration, mine) };
}

function statusPoints(points: readonly HistoryPoint[], intervalMs: number): StatusPoint[] {
  return points.map((p) => ({
    t: p.t,
    requestRate: p.requests / (intervalMs / 1000),
    hitRatio: ratio(p.hits, p.lookups),
    cacheBytes: p.cacheBytes,
    originErrorRate: ratio(p.originErrors, p.originRequests),
  }));
}

export interface StatusOptions {
  workers?: WorkerStatus[] | null;
  historyIntervalMs?: number;
}

export function buildStatus(snapshot: MetricsSnapshot, options: StatusOptions = {}): StatusInfo {
  const intervalMs = options.historyIntervalMs ?? HISTORY_INTERVAL_MS;
  const requests = family(snapshot, METRIC.requests, 'counter');
  const duration = family(snapshot, METRIC.requestDuration, 'histogram');
  const originRequests = family(snapshot, METRIC.originRequests, 'counter');
  const originDuration = family(snapshot, METRIC.originDuration, 'histogram');
  const signing = family(snapshot, METRIC.signingFailures, 'counter');

  const ruleIds = new Set<string>();
  for (const s of requests?.samples ?? []) ruleIds.add(s.labels.rule!);
  for (const s of signing?.samples ?? []) ruleIds.add(s.labels.rule!);
  const rules: RuleStatus[] = [...ruleIds].sort(byRuleId).map((rule) => {
    const mine = (l: Record<string, string>) => l.rule === rule;
    const hits = counterSum(requests, (l) => mine(l) && (l.cache === 'hit-fresh' || l.cache === 'hit-stale'));
    const misses = counterSum(requests, (l) => mine(l) && l.cache === 'miss');
    return {
      rule,
      requests: counterSum(requests, mine),
      hits,
      misses,
      hitRatio: ratio(hits, hits + misses),
      errors5xx: counterSum(requests, (l) => mine(l) && l.code!.startsWith('5')),
      ...quantilesMs(duration, mine),
      signingFailures: counterSum(signing, mine),
    };
  });

  const originRules = [...new Set((originRequests?.samples ?? []).map((s) => s.labels.rule!))].sort(byRuleId);
  const points = statusPoints(snapshot.history, intervalMs);
  const recent = snapshot.history.filter((p) => p.t > snapshot.time - RATE_WINDOW_MS - intervalMs).slice(-RATE_WINDOW_MS / intervalMs);
  const recentRequests = recent.reduce((n, p) => n + p.requests, 0);
  const lastReloadOk = gaugeValue(family(snapshot, METRIC.lastReloadSuccessful, 'gauge'));
  const lastReloadAt = gaugeValue(family(snapshot, METRIC.lastReloadTime, 'gauge'));
  const totalHits = rules.reduce((n, r) => n + r.hits, 0);
  const totalLookups = rules.reduce((n, r) => n + r.hits + r.misses, 0);
  const cacheLookups = family(snapshot, METRIC.cacheLookups, 'counter');
  const cacheHits = counterSum(cacheLookups, (l) => l.result === 'hit');

  return {
    generatedAt: new Date(snapshot.time).toISOString(),
    startedAt: iso(gaugeValue(family(snapshot, METRIC.startTime, 'gauge'))),
    processes: gaugeValue(family(snapshot, METRIC.processes, 'gauge')) ?? 1,
    workers: options.workers ?? null,
    config: {
      versions: (family(snapshot, METRIC.configInfo, 'gauge')?.samples ?? []).map((s) => s.labels.version!),
      loadedAt: iso(gaugeValue(family(snapshot, METRIC.configLoadedTime, 'gauge'))),
    },
    reload: {
      successes: counterSum(family(snapshot, METRIC.reloads, 'counter'), (l) => l.result === 'success'),
      failures: counterSum(family(snapshot, METRIC.reloads, 'counter'), (l) => l.result === 'failure'),
      last: lastReloadOk === null || lastReloadAt === null ? null : { ok: lastReloadOk === 1, at: iso(lastReloadAt)! },
    },
    totals: {
      requests: counterSum(requests),
      requestRate: recent.length > 0 ? recentRequests / ((recent.length * intervalMs) / 1000) : 0,
      hitRatio: ratio(totalHits, totalLookups),
      bytesOut: counterSum(family(snapshot, METRIC.responseBodyBytes, 'counter')),
      errors5xx: rules.reduce((n, r) => n + r.errors5xx, 0),
      signingFailures: counterSum(signing),
    },
    cache: {
      bytes: gaugeValue(family(snapshot, METRIC.cacheBytes, 'gauge')) ?? 0,
      capacityBytes: gaugeValue(family(snapshot, METRIC.cacheCapacity, 'gauge')) ?? 0,
      objects: gaugeValue(family(snapshot, METRIC.cacheObjects, 'gauge')) ?? 0,
      hitRatio: ratio(cacheHits, counterSum(cacheLookups)),
      coalesced: counterSum(family(snapshot, METRIC.cacheCoalesced, 'counter')),
      staleServed: counterSum(family(snapshot, METRIC.cacheStaleServed, 'counter')),
      evictions: counterSum(family(snapshot, METRIC.cacheEvictions, 'counter')),
    },
    origin: originStatus('*', originRequests, originDuration),
    origins: originRules.map((rule) => originStatus(rule, originRequests, originDuration)),
    pools: (family(snapshot, METRIC.originUp, 'gauge')?.samples ?? [])
      .map((s) => ({ strategy: s.labels.strategy ?? '-', origin: s.labels.origin ?? '-', up: s.value === 1 }))
      .sort((a, b) => (a.strategy < b.strategy ? -1 : a.strategy > b.strategy ? 1 : 0)),
    rules,
    credentials: (family(snapshot, METRIC.credentialsExpiry, 'gauge')?.samples ?? [])
      .map((s) => ({ rule: s.labels.rule ?? '-', expiresAt: iso(s.value)! }))
      .sort((a, b) => byRuleId(a.rule, b.rule)),
    history: { intervalMs, points },
  };
}
