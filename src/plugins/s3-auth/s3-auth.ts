/**
 * s3_auth.so (also origin_server_auth.so, its newer ATS name): signs every origin request for S3 and
 * S3-compatible stores, with Signature V4 (sign-v4-request.ts) or V2 (sign-v2-request.ts).
 *
 *   map http://cdn.example.com/ https://my-bucket.s3.eu-west-1.amazonaws.com/ \
 *       @plugin=s3_auth.so @pparam=--version=4 @pparam=--config @pparam=s3_auth_v4.config
 *
 * Signing happens on the sendRequest hook, on the final origin request, so every retry and revalidation is
 * signed afresh. Client-sent Authorization and x-amz-date / -content-sha256 / -security-token, and a presigned
 * URL's query authentication, are removed first: a client can neither override our signature nor have its own
 * forwarded — unless --client-signed=passthrough, which forwards a request the client signed itself untouched.
 *
 * The credentials come from a CredentialSource chosen at load (credential-source.ts): the options (static, or
 * re-read from the --config file ahead of ATS's `expiration=`), the environment (--credentials=env) or the AWS
 * SDK's provider chain (--credentials=aws). Each request signs with whatever set the source holds at that moment.
 */
import { PluginArgumentError } from '../../errors.js';
import { pipeline, type Readable } from 'node:stream';
import type { OriginRequest, PluginContext, PluginFactory, PluginHealth, RemapPlugin, ResponseHead, Transaction } from '../api.js';
import { normalizeQuery } from './canonical-query.js';
import { systemClock } from './clock.js';
import { hasClientAuth, stripQueryAuth } from './client-auth.js';
import { errorBodyFilter } from './error-body.js';
import { CLIENT_AUTH_HEADERS, S3_SERVICE, UNSIGNED_PAYLOAD } from './constants.js';
import { type CredentialDependencies, credentialSource, optionCredentials } from './credential-source.js';
import type { CredentialSource, Credentials } from './credentials.js';
import { normalizeGenericPath, normalizeS3Path } from './uri-encode.js';
import { type S3AuthOptions, readOptions } from './options.js';
import { hashPayload } from './payload.js';
import { readListFile } from './read-list-file.js';
import { parseRegionMap, type RegionMap, RegionResolver } from './region.js';
import { parseHeaderNames } from './select-headers.js';
import { httpDate, signV2Request, type V2Signer } from './sign-v2-request.js';
import { signV4Request, type V4Signer } from './sign-v4-request.js';
import type { ScopedKey } from './signing-keys.js';

const CLIENT_AUTH = new Set(CLIENT_AUTH_HEADERS);
/** Methods whose requests undici writes a `Content-Length: 0` for (it expects a payload for them). */
const PAYLOAD_METHODS: ReadonlySet<string> = new Set(['PUT', 'POST', 'PATCH']);

/**
 * The origin's 400/403 answers (SignatureDoesNotMatch and kin) lose the elements that show what remapd signed
 * (error-body.ts): the client is not the signer, and they hold the session token.
 */
function redactErrorBody(_txn: Transaction, head: ResponseHead): void {
  if (head.status !== 400 && head.status !== 403) return;
  head.headers.delete('content-length');
  const previous = head.filterBody;
  // pipeline, not pipe: an origin body that fails must fail the filtered one too, not leave it waiting.
  const redact = (body: Readable): Readable => pipeline(body, errorBodyFilter(), () => {});
  head.filterBody = previous ? (body) => redact(previous(body)) : redact;
}

/**
 * Takes the client's own authentication off the request; returns false when the request is to go out as the client
 * signed it (--client-signed=passthrough and it carries a signature), and must not be signed by us.
 */
function removeClientAuth(req: OriginRequest, passthrough: boolean): boolean {
  if (passthrough && hasClientAuth(req.headers, req.search)) return false;
  req.headers.deleteWhere((name) => CLIENT_AUTH.has(name));
  // `Content-Length: 0` on a bodyless DELETE/GET/HEAD (the aws CLI sends it): undici leaves it out of what it writes
  // (RFC 9110 §8.6: not sent when the method anticipates no content), so signing it would sign a header the
  // origin never sees — SignatureDoesNotMatch. Dropped before signing.
  if (req.body === null && !PAYLOAD_METHODS.has(req.method) && req.headers.get('content-length') === '0') req.headers.delete('content-length');
  if (req.search.length > 1) req.search = stripQueryAuth(req.search);
  return true;
}

/** The one value all scoped keys agree on, or null. */
function common(scoped: readonly ScopedKey[], field: 'region' | 'service'): string | null {
  const values = new Set(scoped.map((k) => k.scope[field]));
  return values.size === 1 ? [...values][0]! : null;
}

/** Everything a V4 signer needs but the credentials. */
type V4Settings = Omit<V4Signer, 'accessKey' | 'keys' | 'sessionToken'>;

function v4Settings(o: S3AuthOptions, scoped: readonly ScopedKey[], problems: string[], context: PluginContext): V4Settings {
  let map: RegionMap | null = null;
  if (o.regionMapFile !== null) {
    map = readListFile(o.regionMapFile, 'region map', (t) => {
      const r = parseRegionMap(t, o.regionMapFile!);
      return { value: r.map, problems: r.problems };
    }, problems, context);
  }
  let region = o.region;
  if (scoped.length > 0) {
    // A scoped key is only good for its scope's region and service: with one region among the keys and nothing
    // else naming one, that region is the answer (an S3-compatible origin's host says nothing about it).
    const keyRegion = common(scoped, 'region');
    if (region === null && map === null && keyRegion !== null) region = keyRegion;
    const keyService = common(scoped, 'service');
    if (keyService !== null && keyService !== o.service) {
      problems.push(`the signing key is scoped to service "${keyService}" but --service is "${o.service}"`);
    }
  }
  return {
    regions: new RegionResolver({ region, map }),
    service: o.service,
    selection: {
      include: o.includeHeaders !== null ? parseHeaderNames(o.includeHeaders) : null,
      exclude: o.excludeHeaders !== null ? parseHeaderNames(o.excludeHeaders) : new Set(),
    },
    plusIsSpace: !o.literalPlus,
  };
}

function withV4Credentials(settings: V4Settings, c: Credentials): V4Signer {
  return { ...settings, accessKey: c.accessKey, keys: c.keys, sessionToken: c.sessionToken };
}

/** Builds the V4 signer from checked options with credentials in them (`remapd sign` and tests). */
export function buildV4Signer(o: S3AuthOptions, context: PluginContext, now: () => Date = () => new Date()): V4Signer {
  if (o.credentials !== 'options') throw new PluginArgumentError(`--credentials=${o.credentials}: give the credentials as options here`);
  const problems: string[] = [];
  const fromOptions = optionCredentials(o, problems, context, () => now().getTime());
  const settings = v4Settings(o, fromOptions?.scoped ?? [], problems, context);
  if (problems.length > 0 || !fromOptions) throw new PluginArgumentError(problems.join('; '));
  return withV4Credentials(settings, fromOptions.credentials);
}

/** Everything a V2 signer needs but the credentials. */
type V2Settings = Omit<V2Signer, 'accessKey' | 'secretKey' | 'sessionToken'>;

function v2Settings(o: S3AuthOptions): V2Settings {
  return { virtualHost: o.virtualHost, endpoint: o.v2Endpoint, plusIsSpace: !o.literalPlus };
}

/** Builds the V2 signer from checked options (`remapd sign --version 2` and tests). */
export function buildV2Signer(o: S3AuthOptions): V2Signer {
  if (o.secretKey === null) throw new PluginArgumentError('Signature V2 needs --secret_key');
  return { ...v2Settings(o), accessKey: o.accessKey, secretKey: o.secretKey, sessionToken: o.sessionToken };
}

/** S3 reads paths and queries this way whatever the signature version (see s3-auth's README section). */
function s3KeyNormalizer(plusIsSpace: boolean): NonNullable<RemapPlugin['normalizeForKey']> {
  return (path, search) => ({ path: normalizeS3Path(path, plusIsSpace), search: normalizeQuery(search, plusIsSpace).search });
}

/** `make(c)` for the credentials `c`, rebuilt only when the source hands out a new set. */
function perCredentials<T>(make: (c: Credentials) => T): (c: Credentials) => T {
  let last: Credentials | null = null;
  let value: T;
  return (c) => {
    if (c !== last) {
      value = make(c);
      last = c;
    }
    return value;
  };
}

function v2Plugin(settings: V2Settings, source: CredentialSource, now: () => Date, passthrough: boolean): RemapPlugin {
  // Every source V2 can be given holds a secret: options without one are refused (scoped keys are V4 only).
  const signerFor = perCredentials((c): V2Signer => ({ ...settings, accessKey: c.accessKey, secretKey: c.secretKey!, sessionToken: c.sessionToken }));
  const sign = (req: OriginRequest, c: Credentials) => {
    // V2 signs Date; a fresh one per attempt, so a retried request is not signed with a stale time.
    const t = now();
    req.headers.set('Date', httpDate(t));
    signV2Request(req, signerFor(c), t);
  };
  return {
    normalizeForKey: s3KeyNormalizer(settings.plusIsSpace),
    sendRequest(_txn, req) {
      if (!removeClientAuth(req, passthrough)) return undefined;
      const c = source.get();
      if (c instanceof Promise) return c.then((fetched) => sign(req, fetched));
      sign(req, c);
      return undefined;
    },
  };
}

export interface S3AuthPlugin extends RemapPlugin {
  /**
   * Settles once the first credentials are held: at once, except with --credentials=aws (the first fetch from the
   * chain). Rejects with a PluginArgumentError when none can be had; `s3AuthPlugin` then fails the rule.
   */
  readonly loaded: Promise<void>;
  health(): PluginHealth;
  close(): void;
}

export interface S3AuthDependencies extends CredentialDependencies {
  /** The clock signatures are dated by (tests pin it); also the credentials' clock unless `clock` is given. */
  now?: () => Date;
}

export function createS3AuthPlugin(argv: readonly string[], context: PluginContext, deps: S3AuthDependencies = {}): S3AuthPlugin {
  const args = argv.slice(2);
  const read = readOptions(args, context);
  if ('problems' in read) throw new PluginArgumentError(read.problems.join('; '));
  const o = read.options;
  const pinned = deps.now;
  const clock = deps.clock ?? systemClock(pinned ? () => pinned().getTime() : Date.now);
  const now = pinned ?? (() => new Date(clock.now()));
  if (!o.versionExplicit) {
    context.warn(
      's3_auth: no --version given, so it signs with AWS Signature V2 as ATS does; V2 is legacy (AWS regions opened ' +
        'since 2014 refuse it) — set --version=4 unless the origin only speaks V2',
    );
  }
  const problems: string[] = [];
  const credentials = credentialSource(o, args, problems, context, clock, deps);
  const settings = o.version === 4 ? v4Settings(o, credentials?.scoped ?? [], problems, context) : null;
  if (problems.length > 0 || credentials === null) {
    credentials?.source.close();
    throw new PluginArgumentError(problems.join('; '));
  }
  const { source, initial, loaded } = credentials;
  if (initial !== null && initial.expiresAt !== null && initial.expiresAt <= clock.now()) {
    context.warn(`s3_auth: the credentials' expiration (${new Date(initial.expiresAt).toISOString()}) has passed`);
  }
  const lifecycle = { loaded, health: () => source.health(), close: () => source.close(), signsOrigin: true, readResponse: redactErrorBody };
  const passthrough = o.clientSigned === 'passthrough';
  if (settings === null) return { ...v2Plugin(v2Settings(o), source, now, passthrough), ...lifecycle };

  const signerFor = perCredentials((c) => withV4Credentials(settings, c));
  const signed = o.payload === 'signed';
  const max = o.payloadMax;
  return {
    normalizeForKey:
      o.service === S3_SERVICE
        ? s3KeyNormalizer(settings.plusIsSpace)
        : (path, search) => ({ path: normalizeGenericPath(path), search: normalizeQuery(search, false).search }),
    sendRequest(txn, req) {
      if (!removeClientAuth(req, passthrough)) return undefined;
      if (signed) {
        return hashPayload(txn, req, max).then(async (hash) => {
          signV4Request(req, signerFor(await source.get()), now(), hash);
        });
      }
      const c = source.get();
      if (c instanceof Promise) {
        return c.then((fetched) => {
          signV4Request(req, signerFor(fetched), now(), UNSIGNED_PAYLOAD);
        });
      }
      signV4Request(req, signerFor(c), now(), UNSIGNED_PAYLOAD);
      return undefined;
    },
    ...lifecycle,
  };
}

/** The registered factory: fails the rule when the first credentials cannot be had (--credentials=aws). */
export const s3AuthPlugin: PluginFactory = async (argv, context) => {
  const plugin = createS3AuthPlugin(argv, context);
  try {
    await plugin.loaded;
  } catch (err) {
    plugin.close();
    throw err;
  }
  return plugin;
};
