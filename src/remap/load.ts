/**
 * Loads a complete remap configuration: parse (with includes), instantiate every rule's plugins, build the lookup
 * table. Either everything is valid and a `RemapConfig` comes back, or nothing does and the diagnostics say every
 * problem with its file:line — a reload that fails keeps the old configuration in force.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Diagnostic } from '../errors.js';
import { PluginArgumentError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { RemapPlugin, RuleInfo } from '../plugins/api.js';
import { resolvePlugin } from '../plugins/registry.js';
import { buildPool } from '../pool/build-pools.js';
import { STRATEGIES_FILE } from '../pool/defaults.js';
import { memberHooks, type OriginPool, type RulePool } from '../pool/origin-pool.js';
import { parseStrategiesFile, type StrategiesFile } from '../pool/strategies-file.js';
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
  /** `@strategy=`: the origin pool the rule forwards to, and its sendRequest hooks per member; else null. */
  pool: RulePool | null;
}

export interface RemapConfig {
  /** Absolute path of the top remap.config. */
  path: string;
  dir: string;
  rules: Rule[];
  table: RuleTable<Rule>;
  /** Every file the configuration depends on (includes, plugin config files), for reload watching. */
  files: string[];
  /** The origin pools of the strategies its rules name (strategies.yaml), one per strategy. */
  pools: OriginPool[];
  warnings: Diagnostic[];
  loadedAt: Date;
  /** Retires the configuration: calls every plugin instance's close() and closes the pools (their timers). */
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
  const pools = await loadPools(parsed.rules, dir, options.logger, diagnostics, files);

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
    if (spec.strategy !== null && !pools.has(spec.strategy)) failed = true;
    if (failed) continue;
    const hooks: RuleHooks = {
      remap: instances.filter((i) => typeof i.remap === 'function'),
      sendRequest: instances.filter((i) => typeof i.sendRequest === 'function'),
      readResponse: instances.filter((i) => typeof i.readResponse === 'function'),
      sendResponse: instances.filter((i) => typeof i.sendResponse === 'function'),
    };
    const pool = spec.strategy !== null ? pools.get(spec.strategy)! : null;
    rules.push({ ...spec, id, info, instances, hooks, pool: pool ? { pool, sendRequest: memberHooks(hooks.sendRequest, pool) } : null });
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
    for (const p of pools.values()) {
      try {
        await p.close();
      } catch (err) {
        options.logger.warn('origin pool close failed', { strategy: p.name, error: (err as Error).message });
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
      pools: [...pools.values()],
      warnings: diagnostics,
      loadedAt: new Date(),
      close,
    },
    diagnostics,
  };
}

/**
 * Reads strategies.yaml (ATS's file, in the folder of remap.config) when a rule names a strategy or the file
 * exists (so `remapd check` validates it either way), and builds a pool for each strategy a rule names. A rule
 * naming a strategy the file does not define gets the error at its own line; the file's errors are at theirs.
 */
async function loadPools(
  specs: readonly RuleSpec[],
  dir: string,
  logger: Logger,
  diagnostics: Diagnostic[],
  files: string[],
): Promise<Map<string, OriginPool>> {
  const pools = new Map<string, OriginPool>();
  const users = specs.filter((s) => s.strategy !== null);
  const path = join(dir, STRATEGIES_FILE);
  const exists = existsSync(path);
  if (users.length === 0 && !exists) return pools;
  if (!exists) {
    for (const s of users) {
      diagnostics.push({ severity: 'error', file: s.file, line: s.line, message: `@strategy=${s.strategy}: there is no ${STRATEGIES_FILE} in ${dir}` });
    }
    return pools;
  }
  const read: StrategiesFile = parseStrategiesFile(path);
  diagnostics.push(...read.diagnostics);
  for (const f of read.files) if (!files.includes(f)) files.push(f);
  for (const s of users) {
    if (!read.readable || read.names.has(s.strategy!)) continue;
    const known = [...read.names];
    const defined = known.length > 0 ? `defined: ${known.join(', ')}` : 'it defines none';
    diagnostics.push({ severity: 'error', file: s.file, line: s.line, message: `@strategy=${s.strategy}: no strategy "${s.strategy}" in ${path} (${defined})` });
  }
  // A configuration with errors is never used: build nothing that would start timers or fetch credentials.
  if (read.diagnostics.some((d) => d.severity === 'error')) return pools;
  for (const s of users) {
    const name = s.strategy!;
    const def = read.strategies.get(name);
    if (def === undefined || pools.has(name)) continue;
    const argv01: [string, string] = [s.hostRegex ? s.from.text : formatRemapUrl(s.from), s.hostRegex ? s.to.text : formatRemapUrl(s.to)];
    const pool = await buildPool(def, argv01, {
      configDir: dir,
      logger,
      diagnostics,
      dependsOn: (f) => {
        if (!files.includes(f)) files.push(f);
      },
    });
    if (pool) pools.set(name, pool);
  }
  return pools;
}
