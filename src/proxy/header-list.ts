/**
 * An ordered list of header fields that keeps repeated fields separate and names as received.
 *
 * Stored flat (`[name, value, name, value, …]`) because that is the shape of Node's `rawHeaders`, of undici's
 * request `headers` and of `res.writeHead(status, array)`: no conversion on the hot path. Node's joined
 * `req.headers` view is wrong for signing (it folds repeated fields and drops some), so nothing here uses it.
 */
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
      if (raw[i]!.length === lower.length && raw[i]!.toLowerCase() === lower) return raw[i + 1];
    }
    return undefined;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const raw = this.raw;
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i]!.length === lower.length && raw[i]!.toLowerCase() === lower) out.push(raw[i + 1]!);
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
    let placed = false;
    let w = 0;
    for (let r = 0; r < raw.length; r += 2) {
      const n = raw[r]!;
      if (n.length === lower.length && n.toLowerCase() === lower) {
        if (placed) continue;
        placed = true;
        raw[w] = name;
        raw[w + 1] = value;
        w += 2;
        continue;
      }
      if (w !== r) {
        raw[w] = n;
        raw[w + 1] = raw[r + 1]!;
      }
      w += 2;
    }
    raw.length = w;
    if (!placed) raw.push(name, value);
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
