/**
 * Builds the origin pools a configuration's rules name: one OriginPool per strategy used, with a signer for each
 * member that has its own `s3_auth:` (created as the s3_auth plugin is for a rule, with the member's arguments,
 * and waited for like the plugin registry's factory waits: --credentials=aws fetches its first credentials here).
 * Problems are reported at the strategies.yaml line that causes them.
 */
import { PluginArgumentError } from '../errors.js';
import type { Diagnostic } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { PluginContext, RemapPlugin } from '../plugins/api.js';
import { createS3AuthPlugin } from '../plugins/s3-auth/s3-auth.js';
import { OriginPool } from './origin-pool.js';
import type { StrategyDef } from './strategies-file.js';

export interface BuildContext {
  configDir: string;
  logger: Logger;
  diagnostics: Diagnostic[];
  /** Declares a file read (an s3_auth --config), for reload watching. */
  dependsOn(path: string): void;
}

/**
 * The pool of `def`, or null when a member's signer cannot be made (the diagnostics say why). `argv01` is the
 * from- and to-URL handed to the signers as argv[0] and argv[1] (s3_auth reads neither).
 */
export async function buildPool(def: StrategyDef, argv01: readonly [string, string], ctx: BuildContext): Promise<OriginPool | null> {
  const signers: (RemapPlugin | null)[] = [];
  let failed = false;
  for (const m of def.groups.flat()) {
    if (m.s3Auth === null) {
      signers.push(null);
      continue;
    }
    const at = m.s3Auth.at;
    const context: PluginContext = {
      file: at.file,
      line: at.line,
      configDir: ctx.configDir,
      logger: ctx.logger,
      warn: (message) => ctx.diagnostics.push({ severity: 'warning', file: at.file, line: at.line, message: `${m.id} s3_auth: ${message}` }),
      dependsOn: ctx.dependsOn,
    };
    try {
      const signer = createS3AuthPlugin([argv01[0], argv01[1], ...m.s3Auth.args], context);
      try {
        await signer.loaded;
      } catch (err) {
        signer.close();
        throw err;
      }
      signers.push(signer);
    } catch (err) {
      failed = true;
      const message = err instanceof PluginArgumentError ? err.message : `failed to load: ${(err as Error).message}`;
      ctx.diagnostics.push({ severity: 'error', file: at.file, line: at.line, message: `${m.id} s3_auth: ${message}` });
      signers.push(null);
    }
  }
  if (failed) {
    for (const s of signers) await s?.close?.();
    return null;
  }
  return new OriginPool(def, { logger: ctx.logger, signers });
}
