/**
 * Byte ranges served from a stored body (RFC 9110 §14): one range → 206 with Content-Range; several → 206
 * multipart/byteranges; none satisfiable → 416 with an unsatisfied-range Content-Range (`bytes *` + `/size`). A
 * malformed Range is ignored
 * (the whole 200), as §14.2 allows.
 */
import { randomBytes } from 'node:crypto';

export interface ByteRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

/** The satisfiable ranges of a `bytes=` Range for a body of `size`; null when the header is malformed or not bytes. */
export function parseRange(value: string, size: number): ByteRange[] | null {
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(value);
  if (!m) return null;
  const out: ByteRange[] = [];
  const specs = m[1]!.split(',');
  // A flood of tiny ranges is an amplification attack (RFC 9110 §14.2 security note); refuse to honour it.
  if (specs.length > 32) return null;
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === '') continue;
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return null;
    if (r[1] === '') {
      const suffix = Number(r[2]);
      if (suffix === 0 || size === 0) continue;
      out.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(r[1]);
    const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
    if (r[2] !== '' && Number(r[2]) < start) return null;
    if (start >= size) continue;
    out.push({ start, end });
  }
  return out;
}

export interface RangedBody {
  readonly status: 206 | 416;
  /** Headers to set (Content-Range or Content-Type for multipart). */
  readonly headers: [string, string][];
  readonly body: Buffer;
}

// Builds the 206 or 416 for `ranges` (from parseRange) over `body`.
export function rangedBody(ranges: readonly ByteRange[], body: Buffer, contentType: string | undefined): RangedBody {
  const size = body.length;
  if (ranges.length === 0) return { status: 416, headers: [['Content-Range', `bytes */${size}`]], body: Buffer.alloc(0) };
  if (ranges.length === 1) {
    const r = ranges[0]!;
    return { status: 206, headers: [['Content-Range', `bytes ${r.start}-${r.end}/${size}`]], body: body.subarray(r.start, r.end + 1) };
  }
  const boundary = `remapd-${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const r of ranges) {
    let head = `\r\n--${boundary}\r\n`;
    if (contentType !== undefined) head += `Content-Type: ${contentType}\r\n`;
    head += `Content-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`;
    parts.push(Buffer.from(head), body.subarray(r.start, r.end + 1));
  }
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return { status: 206, headers: [['Content-Type', `multipart/byteranges; boundary=${boundary}`]], body: Buffer.concat(parts) };
}
