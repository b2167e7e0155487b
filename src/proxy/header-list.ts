/**
 * An ordered list of header fields that keeps repeated fields separate and names as received.
 *
 * Stored flat (`[name, value, name, value, …]`) because that is the shape of Node's `rawHeaders`, of undici's
 * request `headers` and of `res.writeHead(status, array)`: no conversion on the hot path. Node's joined
 * `req.headers` view is wrong for signing (it folds repeated fields and drops some), so nothing here uses it.
 */
/**
 * Whether header name `name` equals `lower` (already lower-case) ignoring ASCII case, without allocating a
 * lower-cased copy: every lookup on the hot path goes through here (issue 6).
 */
export function sameName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  if (name === lower) return true;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

export class HeaderList {
  /** Flat name/value pairs. Mutate through the methods so names stay paired with values. */
  readonly raw: string[];

  constructor(raw: string[] = []) {
    this.raw = raw;
  }

  /** Copies Node's `rawHeaders` (or any flat list). */
  static from(raw: readonly string[]): HeaderList {
    return new HeaderList(raw.slice());
  }

  /** Builds a list from an object whose values may be arrays (undici's response headers). */
  static fromObject(headers: Record<string, string | string[] | undefined>): HeaderList {
    const raw: string[] = [];
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) raw.push(name, v);
      else raw.push(name, value);
    }
    return new HeaderList(raw);
  }

  clone(): HeaderList {
    return new HeaderList(this.raw.slice());
  }

  get size(): number {
    return this.raw.length >> 1;
  }

  /** The first value of `name` (case-insensitive), or undefined. */
  get(name: string): string | undefined {
    const raw = this.raw;
    const lower = name.toLowerCase();
    for (let i = 0; i < raw.length; i += 2) {
      if (sameName(raw[i]!, lower)) return raw[i + 1];
    }
    return undefined;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const raw = this.raw;
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      if (sameName(raw[i]!, lower)) out.push(raw[i + 1]!);
    }
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Appends a field, keeping any existing fields of the same name. */
  add(name: string, value: string): this {
    this.raw.push(name, value);
    return this;
  }

  /**
   * Replaces every field of `name` with one field. The new field takes the position of the first old one, so
   * setting a header does not reorder the others.
   */
  set(name: string, value: string): this {
    const raw = this.raw;
    const lower = name.toLowerCase();
    let first = 0;
    while (first < raw.length && !sameName(raw[first]!, lower)) first += 2;
    if (first === raw.length) {
      raw.push(name, value);
      return this;
    }
    raw[first] = name;
    raw[first + 1] = value;
    // Later fields of the same name go; the array is only rewritten when there are any (the common case has none).
    let w = first + 2;
    for (let r = w; r < raw.length; r += 2) {
      if (sameName(raw[r]!, lower)) continue;
      if (w !== r) {
        raw[w] = raw[r]!;
        raw[w + 1] = raw[r + 1]!;
      }
      w += 2;
    }
    if (w !== raw.length) raw.length = w;
    return this;
  }

  /** Removes every field of `name`; returns how many were removed. */
  delete(name: string): number {
    const lower = name.toLowerCase();
    return this.deleteWhere((n) => n === lower);
  }

  /** Removes every field whose lower-cased name satisfies `predicate`; returns how many were removed. */
  deleteWhere(predicate: (lowerName: string, value: string) => boolean): number {
    const raw = this.raw;
    let w = 0;
    for (let r = 0; r < raw.length; r += 2) {
      if (predicate(raw[r]!.toLowerCase(), raw[r + 1]!)) continue;
      if (w !== r) {
        raw[w] = raw[r]!;
        raw[w + 1] = raw[r + 1]!;
      }
      w += 2;
    }
    const removed = (raw.length - w) >> 1;
    raw.length = w;
    return removed;
  }

  /** Calls `fn` for each field in order. */
  forEach(fn: (name: string, value: string) => void): void {
    const raw = this.raw;
    for (let i = 0; i < raw.length; i += 2) fn(raw[i]!, raw[i + 1]!);
  }

  /** `[name, value]` pairs, for tests and debugging. */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    this.forEach((n, v) => out.push([n, v]));
    return out;
  }
}
