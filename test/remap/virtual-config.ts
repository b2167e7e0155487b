/**
 * Helpers for the remap unit tests: parse remap.config text through the parser's injected reader (no files
 * written), and pick diagnostics out of the result.
 */
import type { Diagnostic } from '../../src/errors.js';
import { type ParsedRemap, parseRemapConfig } from '../../src/remap/parser.js';

/** A folder that does not exist, so every file of a virtual configuration comes from the injected reader. */
export const VIRTUAL_DIR = '/nonexistent-remapd-test-config';
export const VIRTUAL_TOP = `${VIRTUAL_DIR}/remap.config`;

/** Parses `text` as `${VIRTUAL_DIR}/remap.config`; `others` maps further file names (relative to the folder) to text. */
export function parseText(text: string, others: Record<string, string> = {}): ParsedRemap {
  const files = new Map<string, string>([[VIRTUAL_TOP, text]]);
  for (const [name, body] of Object.entries(others)) files.set(`${VIRTUAL_DIR}/${name}`, body);
  return parseRemapConfig(VIRTUAL_TOP, {
    readFile: (path) => {
      const body = files.get(path);
      if (body === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
      return body;
    },
  });
}

export function errorsOf(p: { diagnostics: readonly Diagnostic[] }): Diagnostic[] {
  return p.diagnostics.filter((d) => d.severity === 'error');
}

export function warningsOf(p: { diagnostics: readonly Diagnostic[] }): Diagnostic[] {
  return p.diagnostics.filter((d) => d.severity === 'warning');
}

/** `line: message` of every error, for assertion messages that show what the parser said. */
export function dump(p: { diagnostics: readonly Diagnostic[] }): string {
  return p.diagnostics.map((d) => `${d.file}:${d.line}: ${d.severity}: ${d.message}`).join('\n');
}
