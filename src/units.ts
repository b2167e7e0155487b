/**
 * Sizes and durations as written in options and config files. Sizes: bytes, or with K, M or G (powers of 1024;
 * `KiB`, `MB` accepted). Durations: `500ms`, `5s`, `2m`, `1h`, `1d`, or a bare number of seconds (as ATS's records).
 */

const SIZE = /^(\d+)\s*([kmg]?)(?:i?b)?$/i;
const FACTOR: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** The number of bytes, or null when `text` is not a size. */
export function parseSize(text: string): number | null {
  const m = SIZE.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]) * FACTOR[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(n) ? n : null;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in milliseconds (rounded), or null when `text` is not one (or has a fraction and `fractions` is off). */
export function parseDurationMs(text: string, fractions = true): number | null {
  const m = DURATION.exec(text.trim());
  if (!m || (!fractions && m[1]!.includes('.'))) return null;
  const ms = Math.round(Number(m[1]) * DURATION_MS[(m[2] ?? 's').toLowerCase()]!);
  return Number.isSafeInteger(ms) ? ms : null;
}
