/**
 * Resolves `@plugin=NAME` to a factory. Built-ins are registered under ATS's file names so an ATS remap.config
 * loads unchanged: `s3_auth.so`, `/usr/lib/trafficserver/plugins/s3_auth.so` and `s3_auth` all name the same
 * plugin. A name ending in `.js` or `.mjs` is a user's plugin module (default export or `createPlugin`).
 */
import { isAbsolute, resolve, basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginArgumentError } from '../errors.js';
import type { PluginFactory } from './api.js';
import { cachePlugin } from './cache/cache-plugin.js';
import { confRemapPlugin } from './conf-remap/conf-remap.js';
import { headerRewritePlugin } from './header-rewrite/header-rewrite.js';
import { s3AuthPlugin } from './s3-auth/s3-auth.js';
import { s3ClientAuthPlugin } from './s3-client-auth/s3-client-auth.js';

/** Built-in plugins by ATS name without `.so`. */
const BUILTINS: ReadonlyMap<string, PluginFactory> = new Map<string, PluginFactory>([
  ['header_rewrite', headerRewritePlugin],
  ['conf_remap', confRemapPlugin],
  ['s3_auth', s3AuthPlugin],
  ['cache', cachePlugin],
  // remapd's S3 gateway: verifies the client's own S3 signature before s3_auth re-signs for the origin (issue 8).
  ['s3_client_auth', s3ClientAuthPlugin],
  // ATS 10 renamed s3_auth to origin_server_auth; both names load the same plugin.
  ['origin_server_auth', s3AuthPlugin],
]);

export function builtinNames(): string[] {
  return [...BUILTINS.keys()].map((n) => `${n}.so`).sort();
}

function builtinKey(name: string): string | null {
  const base = basename(name);
  if (base.endsWith('.so')) return base.slice(0, -3);
  if (!base.includes('.') && base === name) return base;
  return null;
}

export function isUserPluginName(name: string): boolean {
  return name.endsWith('.js') || name.endsWith('.mjs');
}

/** Finds the factory for a plugin name; throws PluginArgumentError with the reason when there is none. */
export async function resolvePlugin(name: string, configDir: string): Promise<{ factory: PluginFactory; file: string | null }> {
  if (isUserPluginName(name)) {
    const file = isAbsolute(name) ? name : resolve(configDir, name);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw new PluginArgumentError(`cannot load plugin module ${file}: ${(err as Error).message}`, { cause: err });
    }
    const factory = (mod.default ?? mod.createPlugin) as unknown;
    if (typeof factory !== 'function') {
      throw new PluginArgumentError(`plugin module ${file} must export a factory function as default or as createPlugin`);
    }
    return { factory: factory as PluginFactory, file };
  }
  const key = builtinKey(name);
  const factory = key ? BUILTINS.get(key) : undefined;
  if (!factory) {
    throw new PluginArgumentError(
      `unknown plugin "${name}" (built-in: ${builtinNames().join(', ')}; or a path to a .js/.mjs module)`,
    );
  }
  return { factory, file: null };
}
