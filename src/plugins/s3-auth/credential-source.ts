/**
 * Which credentials a rule signs with, chosen once at load from its options:
 *
 * - the options themselves (--access_key with --secret_key or scoped keys, --session_token): static, or, with
 *   ATS's `expiration=`, re-read from the --config file ahead of expiry (credentials-expiring.ts);
 * - --credentials=env: the AWS_* variables (credentials-env.ts);
 * - --credentials=aws: the AWS SDK's default provider chain, refreshed before expiry (credentials-aws.ts).
 *
 * Problems go to `problems` (the loader reports them with the rule's file:line), never a secret in them.
 */
import { PluginArgumentError } from '../../errors.js';
import type { PluginContext } from '../api.js';
import type { Clock } from './clock.js';
import { type AwsChainInit, AwsChainCredentialSource, awsChainFetch, type AwsIdentity } from './credentials-aws.js';
import { ENV_EXPIRATION, readEnvCredentials } from './credentials-env.js';
import { ExpiringCredentialSource } from './credentials-expiring.js';
import { type CredentialSource, type Credentials, describeFailure, StaticCredentialSource } from './credentials.js';
import { readOptions, type S3AuthOptions } from './options.js';
import { readListFile } from './read-list-file.js';
import { parseKey, parseKeyFile, parseScope, type ScopedKey, ScopedKeySource, SecretKeySource, type SigningKeySource } from './signing-keys.js';

/** Where V4 keys come from with credentials in the options: the secret, one scoped key, or a key file. */
function keySource(o: S3AuthOptions, problems: string[], context: PluginContext, nowMs: () => number): { keys: SigningKeySource; scoped: readonly ScopedKey[] } | null {
  if (o.secretKey !== null) return { keys: new SecretKeySource(o.secretKey), scoped: [] };
  if (o.signingKey !== null && o.keyScope !== null) {
    const key = parseKey(o.signingKey);
    const scope = parseScope(o.keyScope);
    if (typeof key === 'string') problems.push(`--signing_key: ${key}`);
    if (typeof scope === 'string') problems.push(`--key_scope: ${scope}`);
    if (typeof key === 'string' || typeof scope === 'string') return null;
    const scoped = [{ scope, key }];
    return { keys: new ScopedKeySource(scoped), scoped };
  }
  if (o.signingKeyFile !== null) {
    const file = o.signingKeyFile;
    const scoped = readListFile(file, 'signing key file', (t) => {
      const r = parseKeyFile(t);
      return { value: r.keys, problems: r.problems };
    }, problems, context);
    if (scoped === null) return null;
    if (scoped.length === 0) problems.push(`${file}: holds no signing keys`);
    return { keys: new ScopedKeySource(scoped, file, nowMs), scoped };
  }
  return null;
}

/** The credentials the options give (--access_key, a secret or scoped keys, --session_token, expiration). */
export function optionCredentials(o: S3AuthOptions, problems: string[], context: PluginContext, nowMs: () => number): { credentials: Credentials; scoped: readonly ScopedKey[] } | null {
  const source = keySource(o, problems, context, nowMs);
  if (source === null) return null;
  return {
    credentials: {
      accessKey: o.accessKey,
      secretKey: o.secretKey,
      keys: source.keys,
      sessionToken: o.sessionToken,
      expiresAt: o.expiration === null ? null : o.expiration * 1000,
    },
    scoped: source.scoped,
  };
}

export interface CredentialDependencies {
  /** Time and timers of the credential lifecycle (tests move it ahead instead of waiting). */
  clock?: Clock;
  /** --credentials=env reads these (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** --credentials=aws fetches with this (default: the SDK's default chain, with `awsChainInit`). */
  awsFetch?: () => Promise<AwsIdentity>;
  awsChainInit?: AwsChainInit;
}

export interface ChosenSource {
  readonly source: CredentialSource;
  /** The credentials read at load; null with --credentials=aws until `loaded` settles. */
  readonly initial: Credentials | null;
  /** Scoped keys given in the options (their region and service inform the signer). */
  readonly scoped: readonly ScopedKey[];
  /** Settles once the first credentials are held; rejects with a PluginArgumentError when none can be had. */
  readonly loaded: Promise<void>;
}

/** Where the rule's credentials come from, checked and, but for --credentials=aws, already read. */
export function credentialSource(
  o: S3AuthOptions,
  args: readonly string[],
  problems: string[],
  context: PluginContext,
  clock: Clock,
  deps: CredentialDependencies,
): ChosenSource | null {
  const rule = `${context.file}:${context.line}`;
  const ready = Promise.resolve();
  if (o.credentials === 'aws') {
    const source = new AwsChainCredentialSource({ fetch: deps.awsFetch ?? awsChainFetch(deps.awsChainInit), rule, clock, logger: context.logger });
    const loaded = source.start().catch((err: unknown) => {
      throw new PluginArgumentError(
        '--credentials=aws: no credentials from the AWS SDK\'s default provider chain (environment, shared config and ' +
          `credentials files, SSO, credential_process, web identity, container, instance metadata): ${describeFailure(err)}`,
      );
    });
    loaded.catch(() => {}); // whoever loads the plugin awaits it; never an unhandled rejection
    return { source, initial: null, scoped: [], loaded };
  }
  if (o.credentials === 'env') {
    const read = readEnvCredentials(deps.env ?? process.env);
    if ('problems' in read) {
      problems.push(...read.problems);
      return null;
    }
    const initial = read.credentials;
    const source =
      initial.expiresAt === null
        ? new StaticCredentialSource(initial)
        : new ExpiringCredentialSource({
            initial,
            reread: null,
            origin: `the environment (${ENV_EXPIRATION})`,
            remedy: 'restart remapd with new AWS_* variables, or use --credentials=aws to have them renewed',
            rule,
            clock,
            logger: context.logger,
          });
    return { source, initial, scoped: [], loaded: ready };
  }
  const nowMs = () => clock.now();
  const fromOptions = optionCredentials(o, problems, context, nowMs);
  if (fromOptions === null) return null;
  const initial = fromOptions.credentials;
  if (initial.expiresAt === null) return { source: new StaticCredentialSource(initial), initial, scoped: fromOptions.scoped, loaded: ready };
  const file = o.configFile;
  // The re-read is the load's own option reading, quiet: the file's values over the @pparams, checked the same way.
  const reread = (): Credentials => {
    const quiet: PluginContext = { file: context.file, line: context.line, configDir: context.configDir, logger: context.logger, warn() {}, dependsOn() {} };
    const again = readOptions(args, quiet);
    if ('problems' in again) throw new Error(again.problems.join('; '));
    if (again.options.credentials !== 'options') throw new Error(`the file now asks for --credentials=${again.options.credentials}; reload the configuration to switch`);
    const found: string[] = [];
    const next = optionCredentials(again.options, found, quiet, nowMs);
    if (found.length > 0 || next === null) throw new Error(found.join('; ') || 'no credentials');
    return next.credentials;
  };
  const source = new ExpiringCredentialSource({
    initial,
    reread: file === null ? null : reread,
    origin: file === null ? 'the rule\'s --expiration' : `config file ${file}`,
    remedy: file === null ? 'put new credentials in the rule and reload' : `write new credentials and expiration= to ${file}`,
    rule,
    clock,
    logger: context.logger,
  });
  return { source, initial, scoped: fromOptions.scoped, loaded: ready };
}
