/**
 * Loads a complete remap configuration: parse (with includes), instantiate every rule's plugins, build the lookup
 * table. Either everything is valid and a `RemapConfig` comes back, or nothing does and the diagnostics say every
 * problem with its file:line — a reload that fails keeps the old configuration in force.
 */
import { dirname, relative, resolve } from 'node:path';
import type { Diagnostic } from '../errors.js';
import { PluginArgumentError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { RemapPlugin, RuleInfo } from '../plugins/api.js';
import { resolvePlugin } from '../plugins/registry.js';
import { parseRemapConfig, type RuleSpec } from './parser.js';
import { formatRemapUrl } from './remap-url.js';
import { RuleTable } from './rule-table.js';

export interface RuleHooks {
  remap: RemapPlugin[];
  sendRequest: RemapPlugin[];
  readResponse: RemapPlugin[];
  sendResponse: RemapPlugin[];
}

export interface Rule extends RuleSpec {
  /** `file:line` relative to the config folder: how logs and messages name the rule. */
  id: string;
  info: RuleInfo;
  /** Plugin instances in chain order, and per hook the instances that implement it (no per-request filtering). */
  instances: RemapPlugin[];
  hooks: RuleHooks;
}

export interface RemapConfig {
  /** Absolute path of the top remap.config. */
  path: string;
  dir: string;
  rules: Rule[];
  table: RuleTable<Rule>;
  /** Every file the configuration depends on (includes, plugin config files), for reload watching. */
  files: string[];
  warnings: Diagnostic[];
  loadedAt: Date;
  /** Retires the configuration: calls every plugin instance's close(). */
  close(): Promise<void>;
}

export interface LoadResult {
  config: RemapConfig | null;
  /** Errors and warnings, in file order; `config` is null when any is an error. */
  diagnostics: Diagnostic[];
}

export async function loadRemapConfig(path: string, options: { logger: Logger }): Promise<LoadResult> {
  const top = resolve(path);
  const dir = dirname(top);
  const parsed = parseRemapConfig(top);
  const diagnostics = [...parsed.diagnostics];
  const files = [...parsed.files];
  const rules: Rule[] = [];
  const allInstances: RemapPlugin[] = [];

  for (const spec of parsed.rules) {
    const id = `${relative(dir, spec.file) || spec.file}:${spec.line}`;
    const info: RuleInfo = {
      type: spec.type,
      file: spec.file,
      line: spec.line,
      id,
      fromUrl: spec.hostRegex ? spec.from.text : formatRemapUrl(spec.from),
      toUrl: spec.hostRegex ? spec.to.text : formatRemapUrl(spec.to),
    };
    const instances: RemapPlugin[] = [];
    let failed = false;
    for (const p of spec.plugins) {
      const context = {
        file: spec.file,
        line: spec.line,
        configDir: dir,
        logger: options.logger,
        warn: (message: string) =>
          diagnostics.push({ severity: 'warning', file: spec.file, line: spec.line, message: `${p.name}: ${message}` }),
        dependsOn: (f: string) => {
          if (!files.includes(f)) files.push(f);
        },
      };
      try {
        const { factory, file } = await resolvePlugin(p.name, dir);
        if (file) context.dependsOn(file);
        const instance = await factory([info.fromUrl, info.toUrl, ...p.params], context);
        instances.push(instance);
        allInstances.push(instance);
      } catch (err) {
        failed = true;
        const message = err instanceof PluginArgumentError ? err.message : `plugin failed to load: ${(err as Error).message}`;
        diagnostics.push({ severity: 'error', file: spec.file, line: spec.line, message: `${p.name}: ${message}` });
      }
    }
    if (failed) continue;
    const hooks: RuleHooks = {
      remap: instances.filter((i) => typeof i.remap === 'function'),
      sendRequest: instances.filter((i) => typeof i.sendRequest === 'function'),
      readResponse: instances.filter((i) => typeof i.readResponse === 'function'),
      sendResponse: instances.filter((i) => typeof i.sendResponse === 'function'),
    };
    rules.push({ ...spec, id, info, instances, hooks });
  }

  const table = new RuleTable(rules);
  diagnostics.push(...table.shadowWarnings());
  // File order (top file, then includes as met), then line: the order a reader scans the config in.
  const fileOrder = new Map(files.map((f, i) => [f, i]));
  const rankOf = (f: string) => fileOrder.get(f) ?? files.length;
  diagnostics.sort((a, b) => rankOf(a.file) - rankOf(b.file) || a.line - b.line);

  const close = async () => {
    for (const i of allInstances) {
      try {
        await i.close?.();
      } catch (err) {
        options.logger.warn('plugin close failed', { error: (err as Error).message });
      }
    }
  };

  if (diagnostics.some((d) => d.severity === 'error')) {
    await close();
    return { config: null, diagnostics };
  }
  return {
    config: {
      path: top,
      dir,
      rules,
      table,
      files,
      warnings: diagnostics,
      loadedAt: new Date(),
      close,
    },
    diagnostics,
  };
}
