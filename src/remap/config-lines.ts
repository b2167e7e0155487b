/**
 * Splits remap.config text into logical lines: a trailing backslash joins the next physical line, blank lines and
 * lines whose first non-blank character is `#` are dropped, and each logical line keeps the number of its first
 * physical line so every message can name it.
 */

export interface LogicalLine {
  /** 1-based number of the first physical line. */
  line: number;
  /** Whitespace-separated tokens. */
  tokens: string[];
}

export function splitLogicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const physical = text.split(/\r?\n/);
  let pending = '';
  let start = 0;
  for (let i = 0; i < physical.length; i++) {
    const raw = physical[i]!;
    if (pending === '') start = i + 1;
    const trimmedEnd = raw.replace(/[ \t]+$/, '');
    if (trimmedEnd.endsWith('\\')) {
      pending += trimmedEnd.slice(0, -1) + ' ';
      if (i < physical.length - 1) continue;
    } else {
      pending += trimmedEnd;
    }
    const logical = pending.trim();
    pending = '';
    if (logical === '' || logical.startsWith('#')) continue;
    out.push({ line: start, tokens: logical.split(/[ \t]+/) });
  }
  return out;
}
