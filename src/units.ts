/**
 * Sizes as written in options and config files: bytes, or with K, M or G (powers of 1024; `KiB`, `MB` accepted).
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
