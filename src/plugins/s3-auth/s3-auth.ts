/**
 * s3_auth.so (also origin_server_auth.so, its newer ATS name): signs every origin request for S3 and
 * S3-compatible stores, with Signature V4 (sign-v4-request.ts) or V2 (sign-v2-request.ts).
 *
 *   map http://cdn.example.com/ https://my-bucket.s3.eu-west-1.amazonaws.com/ \
 *       @plugin=s3_auth.so @pparam=--version=4 @pparam=--config @pparam=s3_auth_v4.config
 *
 * Signing happens on the sendRequest hook, on the final origin request, so every retry and revalidation is
 * signed afresh. Client-sent Authorization and x-amz-date / -content-sha256 / -security-token are removed first:
 * a client can neither override our signature nor have its own forwarded.
 */
import { readFileSync } from 'node:fs';
import { PluginArgumentError } from '../../errors.js';
import type { PluginContext, PluginFactory, RemapPlugin } from '../api.js';
import { normalizeQuery } from './canonical-query.js';
import { CLIENT_AUTH_HEADERS, S3_SERVICE, UNSIGNED_PAYLOAD } from './constants.js';
import { normalizeGenericPath, normalizeS3Path } from './uri-encode.js';
import { type S3AuthOptions, readOptions } from './options.js';
import { hashPayload } from './payload.js';
import { parseRegionMap, type RegionMap, RegionResolver } from './region.js';
import { parseHeaderNames } from './select-headers.js';
import { httpDate, signV2Request, type V2Signer } from './sign-v2-request.js';
import { signV4Request, type V4Signer } from './sign-v4-request.js';
import { parseKey, parseKeyFile, parseScope, type ScopedKey, ScopedKeySource, SecretKeySource, type SigningKeySource } from './signing-keys.js';

const CLIENT_AUTH = new Set(CLIENT_AUTH_HEADERS);

/** Reads a file the options name; problems carry the file and line. */
function readListFile<T>(
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

/** The one value all scoped keys agree on, or null. */
function common(scoped: readonly ScopedKey[], field: 'region' | 'service'): string | null {
  const values = new Set(scoped.map((k) => k.scope[field]));
  return values.size === 1 ? [...values][0]! : null;
}

/** Builds the V4 signer from checked options (the plugin and `remapd sign` share it). */
export function buildV4Signer(o: S3AuthOptions, context: PluginContext, now: () => Date = () => new Date()): V4Signer {
  const problems: string[] = [];
  const source = keySource(o, problems, context, () => now().getTime());
  let map: RegionMap | null = null;
  if (o.regionMapFile !== null) {
    map = readListFile(o.regionMapFile, 'region map', (t) => {
      const r = parseRegionMap(t, o.regionMapFile!);
      return { value: r.map, problems: r.problems };
    }, problems, context);
  }
  let region = o.region;
  if (source && source.scoped.length > 0) {
    // A scoped key is only good for its scope's region and service: with one region among the keys and nothing
    // else naming one, that region is the answer (an S3-compatible origin's host says nothing about it).
    const keyRegion = common(source.scoped, 'region');
    if (region === null && map === null && keyRegion !== null) region = keyRegion;
    const keyService = common(source.scoped, 'service');
    if (keyService !== null && keyService !== o.service) {
      problems.push(`the signing key is scoped to service "${keyService}" but --service is "${o.service}"`);
    }
  }
  if (problems.length > 0 || !source) throw new PluginArgumentError(problems.join('; '));
  return {
    accessKey: o.accessKey,
    keys: source.keys,
    sessionToken: o.sessionToken,
    regions: new RegionResolver({ region, map }),
    service: o.service,
    selection: {
      include: o.includeHeaders !== null ? parseHeaderNames(o.includeHeaders) : null,
      exclude: o.excludeHeaders !== null ? parseHeaderNames(o.excludeHeaders) : new Set(),
    },
    plusIsSpace: !o.literalPlus,
  };
}

/** Builds the V2 signer from checked options (the plugin and `remapd sign --version 2` share it). */
export function buildV2Signer(o: S3AuthOptions): V2Signer {
  if (o.secretKey === null) throw new PluginArgumentError('Signature V2 needs --secret_key');
  return {
    accessKey: o.accessKey,
    secretKey: o.secretKey,
    sessionToken: o.sessionToken,
    virtualHost: o.virtualHost,
    endpoint: o.v2Endpoint,
    plusIsSpace: !o.literalPlus,
  };
}

/** S3 reads paths and queries this way whatever the signature version (see s3-auth's README section). */
function s3KeyNormalizer(plusIsSpace: boolean): NonNullable<RemapPlugin['normalizeForKey']> {
  return (path, search) => ({ path: normalizeS3Path(path, plusIsSpace), search: normalizeQuery(search, plusIsSpace).search });
}

function v2Plugin(signer: V2Signer, now: () => Date): RemapPlugin {
  return {
    normalizeForKey: s3KeyNormalizer(signer.plusIsSpace),
    sendRequest(_txn, req) {
      req.headers.deleteWhere((name) => CLIENT_AUTH.has(name));
      // V2 signs Date; a fresh one per attempt, so a retried request is not signed with a stale time.
      const t = now();
      req.headers.set('Date', httpDate(t));
      signV2Request(req, signer, t);
    },
  };
}

export interface S3AuthDependencies {
  /** The clock signatures are dated by (tests pin it). */
  now?: () => Date;
}

export function createS3AuthPlugin(argv: readonly string[], context: PluginContext, deps: S3AuthDependencies = {}): RemapPlugin {
  const read = readOptions(argv.slice(2), context);
  if ('problems' in read) throw new PluginArgumentError(read.problems.join('; '));
  const o = read.options;
  const now = deps.now ?? (() => new Date());
  if (!o.versionExplicit) {
    context.warn(
      's3_auth: no --version given, so it signs with AWS Signature V2 as ATS does; V2 is legacy (AWS regions opened ' +
        'since 2014 refuse it) — set --version=4 unless the origin only speaks V2',
    );
  }
  if (o.expiration !== null && o.expiration * 1000 <= now().getTime()) {
    context.warn(`s3_auth: the credentials' expiration (${new Date(o.expiration * 1000).toISOString()}) has passed`);
  }
  if (o.version === 2) return v2Plugin(buildV2Signer(o), now);
  const signer = buildV4Signer(o, context, now);
  const signed = o.payload === 'signed';
  const max = o.payloadMax;

  return {
    normalizeForKey:
      o.service === S3_SERVICE
        ? s3KeyNormalizer(signer.plusIsSpace)
        : (path, search) => ({ path: normalizeGenericPath(path), search: normalizeQuery(search, false).search }),
    sendRequest(txn, req) {
      req.headers.deleteWhere((name) => CLIENT_AUTH.has(name));
      if (!signed) {
        signV4Request(req, signer, now(), UNSIGNED_PAYLOAD);
        return;
      }
      return hashPayload(txn, req, max).then((hash) => {
        signV4Request(req, signer, now(), hash);
      });
    },
  };
}

export const s3AuthPlugin: PluginFactory = (argv, context) => createS3AuthPlugin(argv, context);
