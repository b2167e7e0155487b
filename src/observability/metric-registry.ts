/**
 * A small metric registry: counters, gauges and histograms with labels, their JSON snapshot, and the merge of
 * snapshots from several processes (workers send theirs over IPC; the admin endpoint shows the sum).
 *
 * Hot path: a labelled series is a "child" object created once per label combination (`counter.labels(...)`);
 * the request path keeps children and only adds to numbers, so observing builds no strings and allocates nothing.
 * Snapshots are built only when someone asks (a scrape, the status page), and are plain JSON: finite numbers,
 * strings, arrays and objects (the +Inf bucket is implicit, never a number in the snapshot).
 *
 * Naming and types follow https://prometheus.io/docs/practices/naming/ and the text format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * How a gauge of several processes adds up: `sum` (bytes held), `min` (earliest credential expiry, "did every
 * worker's last reload succeed"), `max` (most recent load time), `mean` (a ratio, weighted by each sample's
 * `weight`, e.g. a hit ratio weighted by lookups; weight 1 when absent).
 */
export type GaugeMerge = 'sum' | 'min' | 'max' | 'mean';

export type LabelValues = Record<string, string>;

export interface CounterSample {
  labels: LabelValues;
  value: number;
}

export interface GaugeSample {
  labels: LabelValues;
  value: number;
  /** For `mean` gauges: how much this sample counts (e.g. the lookups a hit ratio is over). */
  weight?: number;
}

export interface HistogramSample {
  labels: LabelValues;
  /** Cumulative counts per bucket of `buckets`, then the +Inf bucket (which equals `count`). */
  counts: number[];
  sum: number;
  count: number;
}

export interface CounterFamily {
  type: 'counter';
  name: string;
  help: string;
  samples: CounterSample[];
}

export interface GaugeFamily {
  type: 'gauge';
  name: string;
  help: string;
  merge: GaugeMerge;
  samples: GaugeSample[];
}

export interface HistogramFamily {
  type: 'histogram';
  name: string;
  help: string;
  /** Upper bounds, ascending, without +Inf. */
  buckets: number[];
  samples: HistogramSample[];
}

export type MetricFamily = CounterFamily | GaugeFamily | HistogramFamily;

/** What a callback-backed metric returns: one unlabelled value, or labelled samples. */
export type Collected = number | readonly GaugeSample[];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkLabelNames(metric: string, names: readonly string[], reserved: readonly string[] = []): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (!LABEL_NAME.test(n) || n.startsWith('__')) throw new Error(`metric ${metric}: "${n}" is not a valid label name`);
    if (reserved.includes(n)) throw new Error(`metric ${metric}: the label name "${n}" is reserved`);
    if (seen.has(n)) throw new Error(`metric ${metric}: label "${n}" is given twice`);
    seen.add(n);
  }
}

function labelObject(names: readonly string[], values: readonly string[]): LabelValues {
  const out: LabelValues = {};
  for (let i = 0; i < names.length; i++) out[names[i]!] = values[i]!;
  return out;
}

/** Callback samples must name labels the exposition can carry; a bad one is a programming error. */
function checkCollected(metric: string, samples: readonly GaugeSample[]): void {
  for (const s of samples) checkLabelNames(metric, Object.keys(s.labels));
}

export class CounterChild {
  value = 0;
  constructor(readonly labelValues: readonly string[]) {}

  /** Adds `n` (default 1). A counter only goes up: negative, zero and NaN amounts are ignored. */
  inc(n = 1): void {
    if (n > 0) this.value += n;
  }
}

export class GaugeChild {
  value = 0;
  constructor(readonly labelValues: readonly string[]) {}

  set(v: number): void {
    this.value = v;
  }
}

export class HistogramChild {
  /** Per bucket, NOT cumulative (cumulated when a snapshot is taken); the last slot is the +Inf bucket. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labelValues: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    if (Number.isNaN(v)) return;
    const b = this.bounds;
    let i = 0;
    // Buckets are `le` (less than or equal): a value on a bound counts in that bound's bucket.
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** Children by label values; the key is built only when a child is created or looked up by values. */
class Children<C> {
  readonly byKey = new Map<string, C>();

  constructor(
    readonly metric: string,
    readonly labelNames: readonly string[],
    private readonly make: (values: readonly string[]) => C,
  ) {}

  get(values: readonly string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`metric ${this.metric} takes ${this.labelNames.length} label value(s) (${this.labelNames.join(', ')}), got ${values.length}`);
    }
    const key = values.join('\u0000');
    let c = this.byKey.get(key);
    if (c === undefined) {
      c = this.make(values.map(String));
      this.byKey.set(key, c);
    }
    return c;
  }
}

interface Family {
  readonly name: string;
  readonly help: string;
  collect(): MetricFamily;
}

export class Counter implements Family {
  readonly #children: Children<CounterChild>;
  readonly #collect: (() => Collected) | null;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    collect: (() => Collected) | null = null,
  ) {
    this.#children = new Children(name, labelNames, (v) => new CounterChild(v));
    this.#collect = collect;
  }

  /** The series for these label values (in `labelNames` order); keep it where it is used often. */
  labels(...values: string[]): CounterChild {
    return this.#children.get(values);
  }

  inc(n = 1): void {
    this.labels().inc(n);
  }

  collect(): CounterFamily {
    const samples: CounterSample[] = [];
    for (const c of this.#children.byKey.values()) samples.push({ labels: labelObject(this.labelNames, c.labelValues), value: c.value });
    if (this.#collect) for (const s of collectSamples(this.name, this.#collect)) samples.push({ labels: s.labels, value: s.value });
    return { type: 'counter', name: this.name, help: this.help, samples };
  }
}

export class Gauge implements Family {
  readonly #children: Children<GaugeChild>;
  readonly #collect: (() => Collected) | null;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly merge: GaugeMerge,
    collect: (() => Collected) | null = null,
  ) {
    this.#children = new Children(name, labelNames, (v) => new GaugeChild(v));
    this.#collect = collect;
  }

  labels(...values: string[]): GaugeChild {
    return this.#children.get(values);
  }

  set(v: number): void {
    this.labels().set(v);
  }

  collect(): GaugeFamily {
    const samples: GaugeSample[] = [];
    for (const c of this.#children.byKey.values()) {
      if (Number.isFinite(c.value)) samples.push({ labels: labelObject(this.labelNames, c.labelValues), value: c.value });
    }
    if (this.#collect) samples.push(...collectSamples(this.name, this.#collect));
    return { type: 'gauge', name: this.name, help: this.help, merge: this.merge, samples };
  }
}

export class Histogram implements Family {
  readonly #children: Children<HistogramChild>;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    this.#children = new Children(name, labelNames, (v) => new HistogramChild(v, buckets));
  }

  labels(...values: string[]): HistogramChild {
    return this.#children.get(values);
  }

  observe(v: number): void {
    this.labels().observe(v);
  }

  collect(): HistogramFamily {
    const samples: HistogramSample[] = [];
    for (const c of this.#children.byKey.values()) {
      const counts: number[] = [];
      let running = 0;
      for (const n of c.counts) counts.push((running += n));
      samples.push({ labels: labelObject(this.labelNames, c.labelValues), counts, sum: c.sum, count: c.count });
    }
    return { type: 'histogram', name: this.name, help: this.help, buckets: [...this.buckets], samples };
  }
}

/** Runs a metric's callback; non-finite values are left out (a JSON snapshot cannot carry them). */
function collectSamples(name: string, collect: () => Collected): GaugeSample[] {
  const got = collect();
  if (typeof got === 'number') return Number.isFinite(got) ? [{ labels: {}, value: got }] : [];
  checkCollected(name, got);
  const out: GaugeSample[] = [];
  for (const s of got) {
    if (!Number.isFinite(s.value)) continue;
    const sample: GaugeSample = { labels: { ...s.labels }, value: s.value };
    if (s.weight !== undefined && Number.isFinite(s.weight)) sample.weight = s.weight;
    out.push(sample);
  }
  return out;
}

export class Registry {
  readonly #families = new Map<string, Family>();

  #add<F extends Family>(family: F): F {
    if (!METRIC_NAME.test(family.name)) throw new Error(`"${family.name}" is not a valid metric name`);
    if (this.#families.has(family.name)) throw new Error(`metric ${family.name} is already registered`);
    this.#families.set(family.name, family);
    return family;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    checkLabelNames(name, labelNames);
    return this.#add(new Counter(name, help, labelNames));
  }

  /** A counter whose value is read from elsewhere (e.g. the cache's own statistics) when a snapshot is taken. */
  counterFunc(name: string, help: string, collect: () => Collected): Counter {
    return this.#add(new Counter(name, help, [], collect));
  }

  gauge(name: string, help: string, options: { labelNames?: readonly string[]; merge?: GaugeMerge } = {}): Gauge {
    const labelNames = options.labelNames ?? [];
    checkLabelNames(name, labelNames);
    return this.#add(new Gauge(name, help, labelNames, options.merge ?? 'sum'));
  }

  /** A gauge computed when a snapshot is taken. */
  gaugeFunc(name: string, help: string, collect: () => Collected, merge: GaugeMerge = 'sum'): Gauge {
    return this.#add(new Gauge(name, help, [], merge, collect));
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    checkLabelNames(name, labelNames, ['le']);
    if (buckets.length === 0) throw new Error(`histogram ${name} needs at least one bucket`);
    for (let i = 0; i < buckets.length; i++) {
      if (!Number.isFinite(buckets[i]!)) throw new Error(`histogram ${name}: bucket ${buckets[i]} is not finite (+Inf is implicit)`);
      if (i > 0 && buckets[i]! <= buckets[i - 1]!) throw new Error(`histogram ${name}: buckets must increase (${buckets[i - 1]} then ${buckets[i]})`);
    }
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  has(name: string): boolean {
    return this.#families.has(name);
  }

  /** Every family's current numbers, in registration order. */
  collect(): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const f of this.#families.values()) out.push(f.collect());
    return out;
  }
}

function sampleKey(labels: LabelValues): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function mergeGauge(merge: GaugeMerge, into: GaugeSample, s: GaugeSample): void {
  switch (merge) {
    case 'sum':
      into.value += s.value;
      return;
    case 'min':
      into.value = Math.min(into.value, s.value);
      return;
    case 'max':
      into.value = Math.max(into.value, s.value);
      return;
    case 'mean': {
      const w0 = into.weight ?? 1;
      const w = s.weight ?? 1;
      const total = w0 + w;
      into.value = total > 0 ? (into.value * w0 + s.value * w) / total : (into.value + s.value) / 2;
      into.weight = total;
      return;
    }
  }
}

/**
 * Adds up the families of several processes: counters and histograms are summed per label set; gauges combine
 * by their `merge` rule. Families and samples keep the order they are first met in. Histograms of one name must
 * have the same buckets everywhere (they come from one build of remapd).
 */
export function mergeFamilies(lists: readonly (readonly MetricFamily[])[]): MetricFamily[] {
  const out = new Map<string, { family: MetricFamily; byKey: Map<string, CounterSample | GaugeSample | HistogramSample> }>();
  for (const list of lists) {
    for (const f of list) {
      let slot = out.get(f.name);
      if (!slot) {
        const family = (f.type === 'histogram' ? { ...f, buckets: [...f.buckets], samples: [] } : { ...f, samples: [] }) as MetricFamily;
        slot = { family, byKey: new Map() };
        out.set(f.name, slot);
      } else if (slot.family.type !== f.type) {
        throw new Error(`metric ${f.name} is a ${slot.family.type} in one snapshot and a ${f.type} in another`);
      }
      const target = slot.family;
      if (target.type === 'histogram' && f.type === 'histogram' && target.buckets.join(',') !== f.buckets.join(',')) {
        throw new Error(`histogram ${f.name} has different buckets in two snapshots`);
      }
      for (const s of f.samples) {
        const key = sampleKey(s.labels);
        const have = slot.byKey.get(key);
        if (!have) {
          const copy =
            'counts' in s
              ? { labels: { ...s.labels }, counts: [...s.counts], sum: s.sum, count: s.count }
              : { ...s, labels: { ...s.labels } };
          slot.byKey.set(key, copy);
          (target.samples as unknown[]).push(copy);
          continue;
        }
        if (target.type === 'counter') {
          (have as CounterSample).value += (s as CounterSample).value;
        } else if (target.type === 'gauge') {
          mergeGauge(target.merge, have as GaugeSample, s as GaugeSample);
        } else {
          const h = have as HistogramSample;
          const o = s as HistogramSample;
          for (let i = 0; i < h.counts.length; i++) h.counts[i]! += o.counts[i] ?? 0;
          h.sum += o.sum;
          h.count += o.count;
        }
      }
    }
  }
  return [...out.values()].map((s) => s.family);
}
