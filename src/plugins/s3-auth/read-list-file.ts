/**
 * Reads a file an s3_auth option names (region map, signing key file) at load: what cannot be read or parsed
 * becomes a problem naming the file (and line), and the file is declared so that a change to it reloads the rule.
 */
import { readFileSync } from 'node:fs';
import type { PluginContext } from '../api.js';

/** Reads a file the options name; problems carry the file and line. */
export function readListFile<T>(
  path: string,
  what: string,
  parse: (text: string) => { value: T; problems: { line: number; message: string }[] },
  problems: string[],
  context: PluginContext,
): T | null {
  context.dependsOn(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return null;
  }
  const { value, problems: found } = parse(text);
  for (const p of found) problems.push(`${path}:${p.line}: ${p.message}`);
  return value;
}
