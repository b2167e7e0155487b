/**
 * s3_auth's options, ATS-compatible: each as `--k=v` or `--k v` (from @pparam), or as `k=v` lines of a
 * `--config` file (ini; `#` comments; values from the file win over @pparam, as in ATS). Names may be spelled
 * with `-` or `_` (`--access_key`, `--access-key`). Everything is checked here, at load, and every problem is
 * reported at once; nothing is validated per request.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as ini from 'ini';
import { parseSize } from '../../units.js';
import { DEFAULT_SIGNED_PAYLOAD_MAX, S3_SERVICE } from './constants.js';

/** Option kinds: a flag takes no value (`--virtual_host`); every other option takes one. */
const OPTIONS = {
  config: 'value',
  access_key: 'value',
  secret_key: 'value',
  session_token: 'value',
  version: 'value',
  virtual_host: 'flag',
  v4_include_headers: 'value',
  v4_exclude_headers: 'value',
  v4_region_map: 'value',
  signing_key: 'value',
  key_scope: 'value',
  signing_key_file: 'value',
  region: 'value',
  service: 'value',
  v4_payload: 'value',
  v4_payload_max: 'value',
  literal_plus: 'flag',
  v2_endpoint: 'value',
  // ATS: epoch seconds after which the credentials in a config file stop working (re-read before; issue 7).
  expiration: 'value',
  // remapd: where the credentials come from instead of the options: `env` or `aws` (credentials-*.ts).
  credentials: 'value',
  // remapd: what to do with a request that arrives already signed by its client (issue 8; CloudFront OAC's
  // "signing behavior"): `resign` (default) or `passthrough`.
  client_signed: 'value',
} as const;

type OptionName = keyof typeof OPTIONS;
export type CredentialsFrom = 'options' | 'env' | 'aws';
type RawOptions = Partial<Record<OptionName, string | true>>;

export interface S3AuthOptions {
  version: 2 | 4;
  /** False when --version was not given (ATS's default, V2, applies; `remapd check` warns). */
  versionExplicit: boolean;
  accessKey: string;
  secretKey: string | null;
  sessionToken: string | null;
  /** --signing_key + --key_scope, as given (validated by the plugin). */
  signingKey: string | null;
  keyScope: string | null;
  /** Absolute path of --signing_key_file. */
  signingKeyFile: string | null;
  virtualHost: boolean;
  includeHeaders: string | null;
  excludeHeaders: string | null;
  /** Absolute path of --v4-region-map. */
  regionMapFile: string | null;
  region: string | null;
  /** --service, defaulting to s3; given explicitly or not. */
  service: string;
  payload: 'unsigned' | 'signed';
  payloadMax: number;
  /** Read `+` in paths and queries as a literal plus rather than S3's space. */
  literalPlus: boolean;
  /** Absolute path of the --config file, or null. */
  configFile: string | null;
  /** Epoch seconds, or null (also for ATS's `expiration=0`, "no expiry"). */
  expiration: number | null;
  /**
   * Where the credentials come from: `options` (--access_key and --secret_key or a scoped key, from @pparams and
   * the --config file), `env` (the AWS_* variables) or `aws` (the AWS SDK's default provider chain).
   */
  credentials: CredentialsFrom;
  /** V2: the service host of an S3-compatible store; `BUCKET.endpoint` is virtual-hosted bucket BUCKET. */
  v2Endpoint: string | null;
  /**
   * A request that already carries its client's S3 authentication (Authorization, or a presigned URL's query):
   * `resign` removes it and signs with these credentials (CloudFront OAC's "always sign"); `passthrough` forwards
   * it untouched, unsigned by us ("do not override authorization header").
   */
  clientSigned: 'resign' | 'passthrough';
}

export interface OptionsContext {
  readonly configDir: string;
  warn(message: string): void;
  dependsOn(path: string): void;
}

function optionName(raw: string): OptionName | null {
  const name = raw.replace(/-/g, '_');
  return Object.hasOwn(OPTIONS, name) ? (name as OptionName) : null;
}

const FLAG_VALUES: Record<string, boolean> = { true: true, yes: true, on: true, 1: true, false: false, no: false, off: false, 0: false };

/** Reads @pparam values the way getopt_long does for ATS: `--k=v`, `--k v`, and bare flags. */
function parseArgv(args: readonly string[], problems: string[]): RawOptions {
  const out: RawOptions = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument "${arg}" (options look like --name=value)`);
      continue;
    }
    const eq = arg.indexOf('=');
    const rawName = arg.slice(2, eq < 0 ? undefined : eq);
    const name = optionName(rawName);
    if (!name) {
      problems.push(`unknown option --${rawName}`);
      continue;
    }
    if (eq >= 0) {
      out[name] = arg.slice(eq + 1);
    } else if (OPTIONS[name] === 'flag') {
      out[name] = true;
    } else if (i + 1 < args.length && !args[i + 1]!.startsWith('--')) {
      out[name] = args[++i]!;
    } else {
      problems.push(`option --${rawName} needs a value`);
    }
  }
  return out;
}

function resolvePath(file: string, configDir: string): string {
  return isAbsolute(file) ? file : resolve(configDir, file);
}

/** Reads a --config file; its values override `into`. Problems name the file and line. */
function readConfigFile(path: string, into: RawOptions, problems: string[], context: OptionsContext, origin: Map<OptionName, string>): void {
  context.dependsOn(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return;
  }
  // ini gives values, not line numbers; find each key's line for messages.
  const lineOf = new Map<string, number>();
  text.split(/\r?\n/).forEach((l, i) => {
    const m = /^\s*([^=\s#;[]+)/.exec(l);
    if (m && !lineOf.has(m[1]!)) lineOf.set(m[1]!, i + 1);
  });
  const parsed = ini.parse(text) as Record<string, unknown>;
  for (const [rawKey, value] of Object.entries(parsed)) {
    const where = `${path}:${lineOf.get(rawKey) ?? 0}`;
    const name = optionName(rawKey.replace(/^--/, ''));
    if (!name || name === 'config' || typeof value === 'object') {
      context.warn(`${where}: unknown key "${rawKey}" ignored`);
      continue;
    }
    origin.set(name, where);
    if (OPTIONS[name] === 'flag') {
      into[name] = value === true ? true : String(value);
    } else if (value === true || value === '') {
      problems.push(`${where}: ${rawKey} needs a value`);
    } else {
      into[name] = String(value);
    }
  }
}

function flag(value: string | true | undefined, name: string, problems: string[]): boolean {
  if (value === undefined) return false;
  if (value === true) return true;
  const b = FLAG_VALUES[value.toLowerCase()];
  if (b === undefined) {
    problems.push(`--${name} takes no value, or true/false (got "${value}")`);
    return false;
  }
  return b;
}

/**
 * Reads and checks s3_auth's options. Returns the options, or the list of every problem found (each a complete
 * sentence; the loader adds the rule's file:line).
 */
export function readOptions(args: readonly string[], context: OptionsContext): { options: S3AuthOptions } | { problems: string[] } {
  const problems: string[] = [];
  const raw = parseArgv(args, problems);
  // Where a value came from, for values read from the --config file: its problems name that file's line.
  const origin = new Map<OptionName, string>();
  if (typeof raw.config === 'string') readConfigFile(resolvePath(raw.config, context.configDir), raw, problems, context, origin);
  const at = (name: OptionName): string => (origin.has(name) ? `${origin.get(name)!}: ` : '');

  const str = (name: OptionName): string | null => {
    const v = raw[name];
    if (v === undefined) return null;
    if (v === true) {
      problems.push(`--${name} needs a value`);
      return null;
    }
    return v.trim();
  };

  let version: 2 | 4 = 2;
  const versionText = str('version');
  if (versionText !== null) {
    const v = versionText.toLowerCase();
    if (v === '2' || v === 'awsv2') version = 2;
    else if (v === '4' || v === 'awsv4') version = 4;
    else problems.push(`${at('version')}unknown --version "${versionText}" (use 2, 4, awsv2 or awsv4)`);
  }

  const accessKey = str('access_key');
  const secretKey = str('secret_key');
  const signingKey = str('signing_key');
  const keyScope = str('key_scope');
  const signingKeyFileText = str('signing_key_file');
  const sessionToken = str('session_token');
  const expirationText = str('expiration');
  // null: an unknown --credentials, reported alone (what else is missing depends on what was meant).
  let credentials: CredentialsFrom | null = 'options';
  const credentialsText = str('credentials');
  if (credentialsText !== null) {
    if (credentialsText === 'env' || credentialsText === 'aws') credentials = credentialsText;
    else {
      problems.push(`${at('credentials')}--credentials must be "env" or "aws" (got "${credentialsText}")`);
      credentials = null;
    }
  }
  if (credentials === 'env' || credentials === 'aws') {
    const given = [
      accessKey && '--access_key',
      secretKey && '--secret_key',
      sessionToken && '--session_token',
      signingKey && '--signing_key',
      keyScope && '--key_scope',
      signingKeyFileText && '--signing_key_file',
      expirationText && 'expiration',
    ].filter(Boolean);
    const from = credentials === 'env' ? 'the AWS_* environment variables' : "the AWS SDK's default provider chain";
    if (given.length > 0) problems.push(`--credentials=${credentials} takes the credentials from ${from}; do not also give ${given.join(', ')}`);
  } else if (credentials === 'options') {
    if (!accessKey) problems.push('no --access_key given');
    const keySources = [secretKey && '--secret_key', signingKey && '--signing_key', signingKeyFileText && '--signing_key_file'].filter(Boolean);
    if (keySources.length === 0) problems.push('no credentials: give --secret_key, or a scoped key (--signing_key with --key_scope, or --signing_key_file), or --credentials=env|aws');
    if (keySources.length > 1) problems.push(`give only one of ${keySources.join(', ')}: they are alternative ways to sign`);
  }
  if (signingKey !== null && keyScope === null) problems.push('--signing_key needs --key_scope YYYYMMDD/region/service/aws4_request');
  if (keyScope !== null && signingKey === null) problems.push('--key_scope is only used with --signing_key');
  if (version === 2 && (signingKey !== null || signingKeyFileText !== null)) {
    problems.push('scoped signing keys exist only in Signature V4 (set --version 4)');
  }

  const region = str('region');
  if (region !== null && !/^[a-z0-9-]+$/.test(region)) problems.push(`${at('region')}--region "${region}" is not a region name`);
  const service = str('service') ?? S3_SERVICE;
  if (!/^[a-z0-9-]+$/.test(service)) problems.push(`${at('service')}--service "${service}" is not a service name`);

  const payloadText = str('v4_payload');
  let payload: 'unsigned' | 'signed' = service === S3_SERVICE ? 'unsigned' : 'signed';
  if (payloadText !== null) {
    if (payloadText === 'unsigned' || payloadText === 'signed') payload = payloadText;
    else problems.push(`${at('v4_payload')}--v4-payload must be "unsigned" or "signed" (got "${payloadText}")`);
  }
  if (payload === 'unsigned' && service !== S3_SERVICE) {
    problems.push(`--v4-payload=unsigned is an S3 feature; service "${service}" needs signed payloads`);
  }
  let payloadMax = DEFAULT_SIGNED_PAYLOAD_MAX;
  const payloadMaxText = str('v4_payload_max');
  if (payloadMaxText !== null) {
    const n = parseSize(payloadMaxText);
    if (n === null || n === 0) problems.push(`${at('v4_payload_max')}--v4-payload-max "${payloadMaxText}" is not a size (bytes, or with K/M/G)`);
    else payloadMax = n;
  }

  let expiration: number | null = null;
  if (expirationText !== null) {
    if (!/^\d+$/.test(expirationText)) problems.push(`${at('expiration')}expiration "${expirationText}" is not epoch seconds`);
    // ATS reads 0 as "no expiry" (s3_auth.cc: `expiration() == 0` disables the automatic re-read).
    else if (Number(expirationText) > 0) expiration = Number(expirationText);
  }

  const v2Endpoint = str('v2_endpoint');
  if (v2Endpoint !== null && !/^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/i.test(v2Endpoint)) problems.push(`${at('v2_endpoint')}--v2-endpoint "${v2Endpoint}" is not a host name`);
  if (version === 2) {
    const v4Only = (['v4_include_headers', 'v4_exclude_headers', 'v4_region_map', 'region', 'service', 'v4_payload', 'v4_payload_max'] as const)
      .filter((n) => raw[n] !== undefined)
      .map((n) => `--${n.replace(/_/g, '-')}`);
    if (v4Only.length > 0) context.warn(`s3_auth: ${v4Only.join(', ')} only affect Signature V4 and are ignored with --version=2`);
  }

  const clientSignedText = str('client_signed');
  let clientSigned: 'resign' | 'passthrough' = 'resign';
  if (clientSignedText !== null) {
    if (clientSignedText === 'resign' || clientSignedText === 'passthrough') clientSigned = clientSignedText;
    else problems.push(`${at('client_signed')}--client-signed must be "resign" or "passthrough" (got "${clientSignedText}")`);
  }

  const regionMapText = str('v4_region_map');
  const options: S3AuthOptions = {
    version,
    versionExplicit: versionText !== null,
    accessKey: accessKey ?? '',
    secretKey,
    sessionToken: sessionToken || null,
    signingKey,
    keyScope,
    signingKeyFile: signingKeyFileText ? resolvePath(signingKeyFileText, context.configDir) : null,
    virtualHost: flag(raw.virtual_host, 'virtual_host', problems),
    includeHeaders: str('v4_include_headers'),
    excludeHeaders: str('v4_exclude_headers'),
    regionMapFile: regionMapText ? resolvePath(regionMapText, context.configDir) : null,
    region,
    service,
    payload,
    payloadMax,
    literalPlus: flag(raw.literal_plus, 'literal_plus', problems),
    configFile: typeof raw.config === 'string' ? resolvePath(raw.config, context.configDir) : null,
    expiration,
    credentials: credentials ?? 'options',
    v2Endpoint,
    clientSigned,
  };
  return problems.length > 0 ? { problems } : { options };
}
