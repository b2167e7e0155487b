/**
 * remapd's metrics: the names, what the request path observes, and the gauges its owner registers. One source of
 * truth for every metric name (METRIC); README.md, "Metrics and admin endpoints", lists them with their meaning.
 *
 * Per request the pipeline calls `observeRequest` once (from the access-log record) and `observeOrigin` once per
 * origin attempt. Both find pre-made series through small maps keyed by values the request already holds (rule id,
 * status, cache result, method): no label strings are built and nothing is allocated after a combination's first
 * request.
 *
 * Several processes (workers): each keeps its own numbers; `snapshot()` is plain JSON (send it over IPC) and
 * `mergeSnapshots` adds them up — counters and histograms are summed, gauges combine by their merge rule.
 */
import type { Cache } from '../cache/cache.js';
import type { CacheStats } from '../cache/object-store.js';
import { HISTORY_INTERVAL_MS, HISTORY_LENGTH, type HistoryPoint, HistoryRing, mergeHistories } from './history.js';
import {
  type Collected,
  type CounterChild,
  type GaugeMerge,
  type HistogramChild,
  mergeFamilies,
  type MetricFamily,
  Registry,
} from './metric-registry.js';
import { formatPrometheus } from './prometheus-text.js';

export { formatPrometheus, PROMETHEUS_CONTENT_TYPE } from './prometheus-text.js';
export type { HistoryPoint } from './history.js';
export type { MetricFamily } from './metric-registry.js';

export const METRIC = {
  requests: 'remapd_requests_total',
  requestDuration: 'remapd_request_duration_seconds',
  requestBodyBytes: 'remapd_request_body_bytes_total',
  responseBodyBytes: 'remapd_response_body_bytes_total',
  originRequests: 'remapd_origin_requests_total',
  originErrors: 'remapd_origin_errors_total',
  originDuration: 'remapd_origin_request_duration_seconds',
  originBodyFailures: 'remapd_origin_body_failures_total',
  signingFailures: 'remapd_signing_failures_total',
  reloads: 'remapd_reloads_total',
  lastReloadSuccessful: 'remapd_config_last_reload_successful',
  lastReloadTime: 'remapd_config_last_reload_timestamp_seconds',
  configInfo: 'remapd_config_info',
  configLoadedTime: 'remapd_config_loaded_timestamp_seconds',
  cacheBytes: 'remapd_cache_size_bytes',
  cacheCapacity: 'remapd_cache_capacity_bytes',
  cacheObjects: 'remapd_cache_objects',
  cacheHitRatio: 'remapd_cache_hit_ratio',
  cacheLookups: 'remapd_cache_lookups_total',
  cacheCoalesced: 'remapd_cache_coalesced_total',
  cacheStaleServed: 'remapd_cache_stale_served_total',
  cacheRevalidations: 'remapd_cache_revalidations_total',
  cacheRevalidatedNotModified: 'remapd_cache_revalidated_not_modified_total',
  cacheStored: 'remapd_cache_stored_total',
  cacheEvictions: 'remapd_cache_evictions_total',
  cachePurges: 'remapd_cache_purges_total',
  cacheInvalidations: 'remapd_cache_invalidations_total',
  credentialsExpiry: 'remapd_credentials_expiry_timestamp_seconds',
  originUp: 'remapd_origin_up',
  originFailovers: 'remapd_origin_failovers_total',
  startTime: 'remapd_start_time_seconds',
  processes: 'remapd_processes',
  residentMemory: 'remapd_resident_memory_bytes',
} as const;

/**
 * Latency buckets in seconds, for client requests and origin requests alike: a cache hit takes well under a
 * millisecond, a large object from a distant region tens of seconds.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/**
 * Methods counted under their own name; anything else is `other`. (Node's parser accepts only a fixed list of
 * methods anyway, but the label set should not depend on that.)
 */
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH', 'PURGE']);

/** Cache results (X-Cache, access log) that count as served from the cache, and those that were looked up. */
const HIT_RESULTS = new Set(['hit-fresh', 'hit-stale']);
const LOOKUP_RESULTS = new Set(['hit-fresh', 'hit-stale', 'miss']);

/** The statistics of the object store exported as counters, with their metric names and help. */
const CACHE_COUNTERS: readonly [keyof CacheStats, string, string][] = [
  ['coalesced', METRIC.cacheCoalesced, 'Requests that joined an origin fetch already in flight for the same object instead of making their own.'],
  ['staleServed', METRIC.cacheStaleServed, 'Responses served stale (stale-while-revalidate, stale-if-error).'],
  ['revalidations', METRIC.cacheRevalidations, 'Conditional requests sent to revalidate a stale stored response.'],
  ['revalidatedNotModified', METRIC.cacheRevalidatedNotModified, 'Revalidations the origin answered 304 Not Modified.'],
  ['stored', METRIC.cacheStored, 'Responses stored in the cache.'],
  ['evictions', METRIC.cacheEvictions, 'Stored responses evicted to make room (least recently used first).'],
  ['purges', METRIC.cachePurges, 'Stored responses removed by PURGE requests.'],
  ['invalidations', METRIC.cacheInvalidations, 'Stored responses removed because an unsafe request (PUT, DELETE...) to their URL succeeded.'],
];

export interface RequestObservation {
  /** The rule id (`file:line`), or '-' when no rule matched. */
  rule: string;
  method: string;
  /** The status sent; 499 when the client went away before a response head was sent (nginx's convention). */
  status: number;
  /** The cache result as in X-Cache and the access log ('-' when the cache was not consulted). */
  cache: string;
  durationMs: number;
  /** Request body bytes received from the client. */
  bytesIn: number;
  /** Response body bytes sent to the client. */
  bytesOut: number;
}

/** An origin attempt's outcome: the response status, an error code (ERR_ORIGIN_*), or 'aborted' (the client left). */
export type OriginOutcome = number | string;

/** Everything a process's metrics hold right now: plain JSON, safe to send over IPC. */
export interface MetricsSnapshot {
  /** When it was taken, ms since the epoch. */
  time: number;
  families: MetricFamily[];
  /** Oldest first, one point per HISTORY_INTERVAL_MS. */
  history: HistoryPoint[];
}

export interface MetricsOptions {
  /** The clock (ms since the epoch); tests pin it. */
  now?: () => number;
  historyIntervalMs?: number;
  historyLength?: number;
}

interface RequestSeries {
  readonly counter: CounterChild;
  readonly hit: number;
  readonly lookup: number;
}

/** Origin outcome label per status class; index 0 is the label of an attempt without a response. */
const ORIGIN_CLASSES = ['error', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The pre-made series of one rule. */
interface RuleSeries {
  readonly rule: string;
  /** cache result → status → method → series. */
  readonly requests: Map<string, Map<number, Map<string, RequestSeries>>>;
  readonly duration: HistogramChild;
  readonly bytesIn: CounterChild;
  readonly bytesOut: CounterChild;
  /** Made on the rule's first origin request, so rules that never reach an origin export no empty histogram. */
  originDuration: HistogramChild | undefined;
  /** By ORIGIN_CLASSES index, made on first use. */
  readonly originOutcomes: (CounterChild | undefined)[];
  originAborted: CounterChild | undefined;
  readonly originErrors: Map<string, CounterChild>;
  originBodyFailures: CounterChild | undefined;
  readonly signingFailures: Map<string, CounterChild>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly historyIntervalMs: number;
  readonly #now: () => number;
  readonly #rules = new Map<string, RuleSeries>();
  readonly #history: HistoryRing;
  #timer: NodeJS.Timeout | null = null;

  readonly #requests = this.registry.counter(
    METRIC.requests,
    'Client requests completed, by rule (file:line, "-" when none matched), method, status code and cache result.',
    ['rule', 'method', 'code', 'cache'],
  );
  readonly #duration = this.registry.histogram(
    METRIC.requestDuration,
    'Time from a request arriving to its response being finished or cut, by rule.',
    LATENCY_BUCKETS,
    ['rule'],
  );
  readonly #bytesIn = this.registry.counter(
    METRIC.requestBodyBytes,
    'Request body bytes received from clients, by rule (from Content-Length of requests received whole).',
    ['rule'],
  );
  readonly #bytesOut = this.registry.counter(METRIC.responseBodyBytes, 'Response body bytes sent to clients, by rule.', ['rule']);
  readonly #originRequests = this.registry.counter(
    METRIC.originRequests,
    'Origin requests (each attempt, background revalidations included), by rule and outcome: status class, "error" (no response) or "aborted" (the client left).',
    ['rule', 'outcome'],
  );
  readonly #originErrors = this.registry.counter(
    METRIC.originErrors,
    'Origin requests that got no response, by rule and remapd error code (ERR_ORIGIN_CONNECT, ERR_ORIGIN_TIMEOUT, ...).',
    ['rule', 'code'],
  );
  readonly #originDuration = this.registry.histogram(
    METRIC.originDuration,
    'Time from sending an origin request to its response head (or its failure), by rule.',
    LATENCY_BUCKETS,
    ['rule'],
  );
  readonly #originBodyFailures = this.registry.counter(
    METRIC.originBodyFailures,
    'Origin response bodies that failed after the head (reset, cut short of their Content-Length, idle past --body-idle-timeout): the client connection was cut and nothing was stored. By rule; a client that left is not counted.',
    ['rule'],
  );
  readonly #signingFailures = this.registry.counter(
    METRIC.signingFailures,
    'Origin requests that could not be signed (sendRequest hook failures: ERR_SIGNING_KEY, ERR_CREDENTIALS, ERR_PLUGIN), by rule and code.',
    ['rule', 'code'],
  );
  readonly #originFailovers = this.registry.counter(
    METRIC.originFailovers,
    'Origin pool attempts that failed (connection error, timeout or a failover status) and were sent again to the next member, by strategy.',
    ['strategy'],
  );
  readonly #failoverSeries = new Map<string, CounterChild>();
  /** What reload() and configLoaded() record; replaced by the server's own state when watchReloads is used. */
  readonly #reloadsSeen: ReloadView = { reloadsOk: 0, reloadsFailed: 0, lastReload: null, configVersion: null, loadedAt: null };
  #readReloads: () => ReloadView = () => this.#reloadsSeen;
  #cache: Cache | null = null;
  #credentials: (() => readonly CredentialExpiry[]) | null = null;
  #poolMembers: (() => readonly PoolMemberState[]) | null = null;
  readonly #startedAt: number;

  /** Running totals since start, and their values at the last history sample. */
  readonly #totals = { requests: 0, hits: 0, lookups: 0, originRequests: 0, originErrors: 0 };
  readonly #sampled = { requests: 0, hits: 0, lookups: 0, originRequests: 0, originErrors: 0 };

  constructor(options: MetricsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.historyIntervalMs = options.historyIntervalMs ?? HISTORY_INTERVAL_MS;
    this.#history = new HistoryRing(options.historyLength ?? HISTORY_LENGTH);
    this.#startedAt = this.#now();
    this.#registerReloadMetrics();
    this.#registerCacheMetrics();
    this.#registerProcessMetrics();
    this.#registerPoolMetrics();
  }

  /**
   * Origin pool members up (1) or down (0), read from the configuration in force when a snapshot is taken. With
   * workers each has its own view of the members; `min` shows a member down when any worker has it down.
   */
  #registerPoolMetrics(): void {
    this.registry.gaugeFunc(METRIC.originUp, 'Whether an origin pool member (strategies.yaml) is up (1) or marked down (0), by strategy and origin (host:port).', () =>
      (this.#poolMembers?.() ?? []).map((m) => ({ labels: { strategy: m.strategy, origin: m.origin }, value: m.up ? 1 : 0 })), 'min');
  }

  /** Reloads and the configuration in force: from reload()/configLoaded(), or the server's state (watchReloads). */
  #registerReloadMetrics(): void {
    const r = this.registry;
    r.counterFunc(METRIC.reloads, 'Configuration reloads, by result (success, failure).', () => {
      const v = this.#readReloads();
      return [{ labels: { result: 'success' }, value: v.reloadsOk }, { labels: { result: 'failure' }, value: v.reloadsFailed }];
    });
    r.gaugeFunc(METRIC.lastReloadSuccessful, 'Whether the last configuration reload succeeded (1) or failed (0); absent before the first reload.', () => {
      const last = this.#readReloads().lastReload;
      return last ? [{ labels: {}, value: last.ok ? 1 : 0 }] : [];
    }, 'min');
    r.gaugeFunc(METRIC.lastReloadTime, 'When the last configuration reload was attempted, seconds since the epoch.', () => {
      const last = this.#readReloads().lastReload;
      return last ? [{ labels: {}, value: last.at.getTime() / 1000 }] : [];
    }, 'max');
    r.gaugeFunc(METRIC.configInfo, 'The configuration in force: always 1, its version (a hash of its files) in the version label.', () => {
      const version = this.#readReloads().configVersion;
      return version !== null ? [{ labels: { version }, value: 1 }] : [];
    }, 'max');
    r.gaugeFunc(METRIC.configLoadedTime, 'When the configuration in force was loaded, seconds since the epoch.', () => {
      const at = this.#readReloads().loadedAt;
      return at !== null ? [{ labels: {}, value: at.getTime() / 1000 }] : [];
    }, 'max');
  }

  /** Occupancy, hit ratio and the store's own counters, read from the watched cache when a snapshot is taken. */
  #registerCacheMetrics(): void {
    const r = this.registry;
    r.gaugeFunc(METRIC.cacheBytes, 'Bytes held by the object cache (bodies, headers and per-entry overhead).', () => this.#cache?.store.occupancy.bytes ?? [], 'sum');
    r.gaugeFunc(METRIC.cacheCapacity, 'Most bytes the object cache may hold (0: caching off).', () => this.#cache?.store.limits.maxBytes ?? [], 'sum');
    r.gaugeFunc(METRIC.cacheObjects, 'Responses held by the object cache (each Vary variant counts).', () => this.#cache?.store.occupancy.entries ?? [], 'sum');
    r.gaugeFunc(METRIC.cacheHitRatio, 'Cache lookups answered from the cache since start (hits / (hits + misses)).', () => {
      const s = this.#cache?.store.stats;
      if (!s) return [];
      const lookups = s.hits + s.misses;
      return [{ labels: {}, value: lookups > 0 ? s.hits / lookups : 0, weight: lookups }];
    }, 'mean');
    r.counterFunc(METRIC.cacheLookups, 'Cache lookups, by result (hit, miss).', () => {
      const s = this.#cache?.store.stats;
      return s ? [{ labels: { result: 'hit' }, value: s.hits }, { labels: { result: 'miss' }, value: s.misses }] : [];
    });
    for (const [field, name, help] of CACHE_COUNTERS) r.counterFunc(name, help, () => this.#cache?.store.stats[field] ?? []);
  }

  /** Credential expiry per rule, and the process itself. */
  #registerProcessMetrics(): void {
    const r = this.registry;
    r.gaugeFunc(METRIC.credentialsExpiry, 'When the credentials a rule signs with expire, seconds since the epoch, by rule; absent when they do not expire.', () => {
      const out: { labels: Record<string, string>; value: number }[] = [];
      for (const c of this.#credentials?.() ?? []) {
        if (c.expiresAt === null) continue;
        out.push({ labels: { rule: c.rule }, value: (typeof c.expiresAt === 'number' ? c.expiresAt : c.expiresAt.getTime()) / 1000 });
      }
      return out;
    }, 'min');
    r.gaugeFunc(METRIC.startTime, 'When the process started, seconds since the epoch (the earliest, over workers).', () => this.#startedAt / 1000, 'min');
    r.gaugeFunc(METRIC.processes, 'Processes whose numbers are included here (1 per worker).', () => 1, 'sum');
    r.gaugeFunc(METRIC.residentMemory, 'Resident memory of the process (summed over workers), bytes.', () => process.memoryUsage.rss(), 'sum');
  }

  /** One completed client request (called once, when its response closes). */
  observeRequest(o: RequestObservation): void {
    const r = this.#rules.get(o.rule) ?? this.#ruleSeries(o.rule);
    let byStatus = r.requests.get(o.cache);
    if (byStatus === undefined) r.requests.set(o.cache, (byStatus = new Map()));
    let byMethod = byStatus.get(o.status);
    if (byMethod === undefined) byStatus.set(o.status, (byMethod = new Map()));
    let series = byMethod.get(o.method);
    if (series === undefined) {
      series = {
        counter: this.#requests.labels(o.rule, METHODS.has(o.method) ? o.method : 'other', String(o.status), o.cache),
        hit: HIT_RESULTS.has(o.cache) ? 1 : 0,
        lookup: LOOKUP_RESULTS.has(o.cache) ? 1 : 0,
      };
      byMethod.set(o.method, series);
    }
    series.counter.inc();
    r.duration.observe(o.durationMs / 1000);
    r.bytesIn.inc(o.bytesIn);
    r.bytesOut.inc(o.bytesOut);
    const t = this.#totals;
    t.requests++;
    t.hits += series.hit;
    t.lookups += series.lookup;
  }

  /** One origin attempt: its time to the response head (or failure) and how it ended. */
  observeOrigin(rule: string, durationMs: number, outcome: OriginOutcome): void {
    const r = this.#rules.get(rule) ?? this.#ruleSeries(rule);
    if (outcome === 'aborted') {
      (r.originAborted ??= this.#originRequests.labels(rule, 'aborted')).inc();
      return;
    }
    (r.originDuration ??= this.#originDuration.labels(rule)).observe(durationMs / 1000);
    let failed: boolean;
    let index: number;
    if (typeof outcome === 'number') {
      index = Math.min(5, Math.max(1, Math.floor(outcome / 100)));
      failed = outcome >= 500;
    } else {
      index = 0;
      failed = true;
      let errors = r.originErrors.get(outcome);
      if (errors === undefined) r.originErrors.set(outcome, (errors = this.#originErrors.labels(rule, outcome)));
      errors.inc();
    }
    (r.originOutcomes[index] ??= this.#originRequests.labels(rule, ORIGIN_CLASSES[index]!)).inc();
    this.#totals.originRequests++;
    if (failed) this.#totals.originErrors++;
  }

  /** An origin response body of `rule` that failed mid-way (the origin's fault, not a client that left). */
  originBodyFailure(rule: string): void {
    const r = this.#rules.get(rule) ?? this.#ruleSeries(rule);
    (r.originBodyFailures ??= this.#originBodyFailures.labels(rule)).inc();
  }

  /** An origin request of `rule` that could not be signed. */
  signingFailure(rule: string, code = 'ERR_SIGNING_KEY'): void {
    const r = this.#rules.get(rule) ?? this.#ruleSeries(rule);
    let c = r.signingFailures.get(code);
    if (c === undefined) r.signingFailures.set(code, (c = this.#signingFailures.labels(rule, code)));
    c.inc();
  }

  /** An origin pool attempt failed and the request goes to the next member of `strategy`. */
  originFailover(strategy: string): void {
    let c = this.#failoverSeries.get(strategy);
    if (c === undefined) this.#failoverSeries.set(strategy, (c = this.#originFailovers.labels(strategy)));
    c.inc();
  }

  /** Reads the origin pools' members and their state when a snapshot is taken. */
  watchOriginPools(read: () => readonly PoolMemberState[]): void {
    this.#poolMembers = read;
  }

  /** A configuration reload was attempted. (Or let watchReloads read the server's own counters.) */
  reload(ok: boolean): void {
    const v = this.#reloadsSeen;
    if (ok) v.reloadsOk++;
    else v.reloadsFailed++;
    v.lastReload = { ok, at: new Date(this.#now()) };
  }

  /**
   * The configuration now in force (at start and after every successful reload): its version (a short hash of
   * its files — never anything secret) and when it was loaded.
   */
  configLoaded(config: { version: string; loadedAt: Date | number }): void {
    this.#reloadsSeen.configVersion = config.version;
    this.#reloadsSeen.loadedAt = typeof config.loadedAt === 'number' ? new Date(config.loadedAt) : config.loadedAt;
  }

  /**
   * Reads reload counters, the last result and the version in force from the server's own bookkeeping (its
   * ReloadState fits) whenever a snapshot is taken, instead of being told with reload() and configLoaded().
   */
  watchReloads(read: () => ReloadView): void {
    this.#readReloads = read;
  }

  /** Reads occupancy, hit ratio and the cache's counters from `cache` (the object cache outlives reloads). */
  watchCache(cache: Cache): void {
    this.#cache = cache;
  }

  /** Reads each rule's credential expiry when a snapshot is taken. */
  watchCredentials(read: () => readonly CredentialExpiry[]): void {
    this.#credentials = read;
  }

  /** A gauge of the owner's, computed when a snapshot is taken. */
  gauge(name: string, help: string, collect: () => Collected, merge: GaugeMerge = 'sum'): void {
    this.registry.gaugeFunc(name, help, collect, merge);
  }

  /** Records one history point for the slot `now` falls in (what happened since the previous point). */
  sample(now = this.#now()): void {
    const t = Math.floor(now / this.historyIntervalMs) * this.historyIntervalMs;
    const tot = this.#totals;
    const prev = this.#sampled;
    const occupancy = this.#cache?.store.occupancy;
    const p: HistoryPoint = {
      t,
      requests: tot.requests - prev.requests,
      hits: tot.hits - prev.hits,
      lookups: tot.lookups - prev.lookups,
      originRequests: tot.originRequests - prev.originRequests,
      originErrors: tot.originErrors - prev.originErrors,
      cacheBytes: occupancy?.bytes ?? 0,
      cacheObjects: occupancy?.entries ?? 0,
    };
    Object.assign(prev, tot);
    const last = this.#history.last;
    if (last !== undefined && t <= last.t) {
      // A second tick in one slot (timer drift) or a clock step back: fold it into the newest point.
      last.requests += p.requests;
      last.hits += p.hits;
      last.lookups += p.lookups;
      last.originRequests += p.originRequests;
      last.originErrors += p.originErrors;
      last.cacheBytes = p.cacheBytes;
      last.cacheObjects = p.cacheObjects;
      return;
    }
    this.#history.push(p);
  }

  /** Samples the history every interval until stopSampling (the timer does not keep the process alive). */
  startSampling(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.sample(), this.historyIntervalMs);
    this.#timer.unref();
  }

  stopSampling(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  snapshot(): MetricsSnapshot {
    return { time: this.#now(), families: this.registry.collect(), history: this.#history.points() };
  }

  /** This process's numbers in the Prometheus text format. */
  prometheus(): string {
    return formatPrometheus(this.registry.collect());
  }

  #ruleSeries(rule: string): RuleSeries {
    const r: RuleSeries = {
      rule,
      requests: new Map(),
      duration: this.#duration.labels(rule),
      bytesIn: this.#bytesIn.labels(rule),
      bytesOut: this.#bytesOut.labels(rule),
      originDuration: undefined,
      originOutcomes: [],
      originAborted: undefined,
      originErrors: new Map(),
      originBodyFailures: undefined,
      signingFailures: new Map(),
    };
    this.#rules.set(rule, r);
    return r;
  }
}

/** What the reload metrics read (RemapdServer's ReloadState has these fields). */
export interface ReloadView {
  reloadsOk: number;
  reloadsFailed: number;
  lastReload: { ok: boolean; at: Date } | null;
  /** null until a configuration is known. */
  configVersion: string | null;
  loadedAt: Date | null;
}

/** One origin pool member, as the remapd_origin_up gauge reads it. */
export interface PoolMemberState {
  strategy: string;
  origin: string;
  up: boolean;
}

export interface CredentialExpiry {
  rule: string;
  /** A Date, ms since the epoch, or null when the credentials do not expire. */
  expiresAt: Date | number | null;
}

/** Adds up the snapshots of several processes (see mergeFamilies for how each type combines). */
export function mergeSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  return {
    time: snapshots.reduce((t, s) => Math.max(t, s.time), 0),
    families: mergeFamilies(snapshots.map((s) => s.families)),
    history: mergeHistories(snapshots.map((s) => s.history)),
  };
}
