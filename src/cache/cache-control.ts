/**
 * Cache-Control (RFC 9111 §5.2) parsed into directive → argument, for the few directives a shared cache acts on.
 * Names are case-insensitive; arguments may be quoted (`private="set-cookie"`); repeated fields are one list.
 */

export type Directives = ReadonlyMap<string, string | null>;

const EMPTY: Directives = new Map();

export function parseCacheControl(values: readonly string[]): Directives {
  if (values.length === 0) return EMPTY;
  const out = new Map<string, string | null>();
  for (const value of values) {
    // Split on commas outside quoted strings.
    for (const part of value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
      if (name === '' || out.has(name)) continue; // RFC 9111 §4.2.1: the first of duplicated directives counts
      let arg: string | null = eq < 0 ? null : part.slice(eq + 1).trim();
      if (arg !== null && arg.startsWith('"') && arg.endsWith('"') && arg.length >= 2) arg = arg.slice(1, -1).replace(/\\(.)/g, '$1');
      out.set(name, arg);
    }
  }
  return out;
}

/** A delta-seconds argument (RFC 9111 §1.2.2); null when absent or malformed (a malformed value is ignored). */
export function deltaSeconds(d: Directives, name: string): number | null {
  const v = d.get(name);
  if (v === undefined || v === null || !/^\d+$/.test(v)) return null;
  // Larger than 2^31 is taken as 2^31 (§1.2.2).
  return Math.min(Number(v), 2 ** 31);
}
