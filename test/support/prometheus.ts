/**
 * A strict reader of the Prometheus text format 0.0.4, for tests: it throws on anything the format does not
 * allow (a sample before its TYPE, a repeated HELP/TYPE, a bad escape, an unquoted label value, a histogram whose
 * buckets are not cumulative or do not end with +Inf = _count), so a test that parses /metrics checks the format
 * as well as the numbers.
 */

export interface ParsedSample {
  /** The sample's own name (with _bucket/_sum/_count for histograms). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  help: string | null;
  type: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function unescapeHelp(s: string, line: number): string {
  return s.replace(/\\(.)?/g, (_m, c: string | undefined) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`line ${line}: bad escape in HELP`);
  });
}

function parseValue(s: string, line: number): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: "${s}" is not a sample value`);
  return Number(s);
}

function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let s = text.slice(1);
  for (;;) {
    if (s.startsWith('}')) return { labels, rest: s.slice(1) };
    const m = LABEL.exec(s);
    if (!m) throw new Error(`line ${line}: bad label name at "${s}"`);
    const name = m[0];
    s = s.slice(name.length);
    if (!s.startsWith('="')) throw new Error(`line ${line}: label ${name} has no quoted value`);
    s = s.slice(2);
    let value = '';
    for (;;) {
      const c = s[0];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === '\n') throw new Error(`line ${line}: raw line feed in a label value`);
      if (c === '\\') {
        const e = s[1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`line ${line}: bad escape \\${e} in label ${name}`);
        s = s.slice(2);
        continue;
      }
      value += c;
      s = s.slice(1);
    }
    s = s.slice(1);
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`);
    labels[name] = value;
    if (s.startsWith(',')) s = s.slice(1);
    else if (!s.startsWith('}')) throw new Error(`line ${line}: expected , or } after label ${name}`);
  }
}

function familyOf(sample: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix)) {
      const f = families.get(sample.slice(0, -suffix.length));
      if (f && f.type === 'histogram') return f;
    }
  }
  return undefined;
}

export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const helps = new Map<string, string>();
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((l, i) => {
    const line = i + 1;
    if (l === '') throw new Error(`line ${line}: empty line`);
    if (l.startsWith('# HELP ')) {
      const rest = l.slice(7);
      const name = NAME.exec(rest)?.[0];
      if (!name || rest[name.length] !== ' ') throw new Error(`line ${line}: bad HELP line`);
      if (helps.has(name)) throw new Error(`line ${line}: second HELP for ${name}`);
      helps.set(name, unescapeHelp(rest.slice(name.length + 1), line));
      return;
    }
    if (l.startsWith('# TYPE ')) {
      const [name, type, extra] = l.slice(7).split(' ');
      if (!name || !NAME.test(name) || extra !== undefined) throw new Error(`line ${line}: bad TYPE line`);
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? '')) throw new Error(`line ${line}: unknown type ${type}`);
      if (families.has(name)) throw new Error(`line ${line}: second TYPE for ${name}`);
      families.set(name, { name, help: helps.get(name) ?? null, type: type!, samples: [] });
      return;
    }
    if (l.startsWith('#')) return;
    const name = NAME.exec(l)?.[0];
    if (!name) throw new Error(`line ${line}: bad sample line "${l}"`);
    let rest = l.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    if (!rest.startsWith(' ')) throw new Error(`line ${line}: no space before the value`);
    const parts = rest.slice(1).split(' ');
    if (parts.length > 2) throw new Error(`line ${line}: too many fields`);
    const family = familyOf(name, families);
    if (!family) throw new Error(`line ${line}: sample ${name} before its TYPE line`);
    family.samples.push({ name, labels, value: parseValue(parts[0]!, line) });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** Per label set: le ascending, counts never decreasing, ending with +Inf equal to _count, and a _sum. */
function checkHistogram(f: ParsedFamily): void {
  const groups = new Map<string, { buckets: ParsedSample[]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { buckets: [] }));
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push(s);
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else if (s.name === `${f.name}_count`) g.count = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name}`);
  }
  for (const [key, g] of groups) {
    const les = g.buckets.map((b) => parseValue(b.labels.le!, 0));
    for (let i = 1; i < les.length; i++) {
      if (!(les[i]! > les[i - 1]!)) throw new Error(`${f.name}${key}: le not ascending`);
      if (g.buckets[i]!.value < g.buckets[i - 1]!.value) throw new Error(`${f.name}${key}: buckets not cumulative`);
    }
    if (les.at(-1) !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    if (g.count === undefined || g.sum === undefined) throw new Error(`${f.name}${key}: _sum or _count missing`);
    if (g.buckets.at(-1)!.value !== g.count) throw new Error(`${f.name}${key}: +Inf bucket differs from _count`);
  }
}

/** The value of the one sample of `name` with exactly these labels (undefined when there is none). */
export function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = familyOf(name, families);
  const want = JSON.stringify(Object.entries(labels).sort());
  return f?.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
