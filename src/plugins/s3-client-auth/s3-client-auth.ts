/**
 * s3_client_auth.so: S3 gateway mode (issue 8). Verifies the S3 signature a client made with its own,
 * client-facing keys — SigV4 header or presigned, SigV2 header or query — for the Host and path the client actually
 * used, checks the client may do this (buckets/prefixes and methods from the clients file), checks the body against
 * what was signed while it streams, then takes the client's authentication off the origin request so that s3_auth
 * (next in the rule) signs it afresh for the real origin with the origin's keys.
 *
 *   map http://s3.mydomain.com/ http://127.0.0.1:9000/ \
 *       @plugin=s3_client_auth.so @pparam=--clients=gateway_clients.config \
 *       @plugin=s3_auth.so @pparam=--version=4 @pparam=--config=origin_s3_auth.config
 *
 * It works on the remap hook, so it runs before the cache: a cached object is only ever served to a client that
 * proved who it is and may read it. Refusals are S3's XML errors (s3-error.ts), logged at info with the access key
 * (never the secret, the signature or the string to sign).
 */
import { PluginArgumentError } from '../../errors.js';
import type { OriginRequest, PluginContext, PluginFactory, RemapPlugin, Transaction } from '../api.js';
import { isAbsolute, resolve } from 'node:path';
import { stripQueryAuth } from '../s3-auth/client-auth.js';
import { CLIENT_AUTH_HEADERS } from '../s3-auth/constants.js';
import { checkedBody } from './body-check.js';
import { type ClientEntry, isAllowed, readClientsFile } from './clients-file.js';
import { S3AuthError } from './s3-error.js';
import { type Verified, verifyRequest } from './verify.js';
import { parseQuery, Refusal, single } from './verify-common.js';

export interface ClientAuthOptions {
  /** Absolute path of the clients file. */
  readonly clientsFile: string;
  /** V4 credential-scope region clients must sign for; null accepts any (the proxy is not a region). */
  readonly region: string | null;
  readonly allowUnsignedPayload: boolean;
  /** Host suffixes under which `BUCKET.<suffix>` is a virtual-hosted bucket; else requests are path style. */
  readonly virtualHostSuffixes: readonly string[];
  /** Let requests without any authentication through (to a public origin, or one s3_auth signs for anyway). */
  readonly anonymous: boolean;
}

const OPTION_NAMES = new Set(['clients', 'region', 'unsigned_payload', 'virtual_host_domain', 'anonymous']);

function readArgs(args: readonly string[], configDir: string): ClientAuthOptions {
  const problems: string[] = [];
  const raw = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument "${arg}" (options look like --name=value)`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq).replace(/-/g, '_');
    if (!OPTION_NAMES.has(name)) {
      problems.push(`unknown option ${arg.slice(0, eq < 0 ? undefined : eq)} (known: ${[...OPTION_NAMES].map((n) => `--${n.replace(/_/g, '-')}`).join(', ')})`);
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1]!.startsWith('--')) value = args[++i]!;
    else {
      problems.push(`option --${name.replace(/_/g, '-')} needs a value`);
      continue;
    }
    raw.set(name, [...(raw.get(name) ?? []), value.trim()]);
  }
  const one = (name: string): string | null => {
    const v = raw.get(name);
    if (v === undefined) return null;
    if (v.length > 1 && name !== 'virtual_host_domain') problems.push(`--${name.replace(/_/g, '-')} is given ${v.length} times`);
    return v[v.length - 1]!;
  };
  const choice = (name: string, values: Record<string, boolean>, fallback: boolean): boolean => {
    const v = one(name);
    if (v === null) return fallback;
    if (!(v in values)) problems.push(`--${name.replace(/_/g, '-')} must be ${Object.keys(values).map((k) => `"${k}"`).join(' or ')} (got "${v}")`);
    return values[v] ?? fallback;
  };
  const clients = one('clients');
  if (clients === null || clients === '') problems.push('no --clients file given (access keys, secrets and what each may do)');
  const region = one('region');
  if (region !== null && !/^[a-z0-9-]+$/.test(region)) problems.push(`--region "${region}" is not a region name`);
  const suffixes = (raw.get('virtual_host_domain') ?? []).flatMap((v) => v.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const s of suffixes) if (!/^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/.test(s)) problems.push(`--virtual-host-domain "${s}" is not a host name`);
  const options: ClientAuthOptions = {
    clientsFile: clients ? (isAbsolute(clients) ? clients : resolve(configDir, clients)) : '',
    region,
    allowUnsignedPayload: choice('unsigned_payload', { allow: true, deny: false }, true),
    virtualHostSuffixes: suffixes,
    anonymous: choice('anonymous', { deny: false, allow: true }, false),
  };
  if (problems.length > 0) throw new PluginArgumentError(`s3_client_auth: ${problems.join('; ')}`);
  return options;
}

/** The request's raw path and query, as the client sent them (origin-form or absolute-form). */
function splitTarget(target: string): { path: string; search: string } {
  let start = 0;
  if (!target.startsWith('/')) {
    const scheme = target.indexOf('://');
    const slash = scheme < 0 ? -1 : target.indexOf('/', scheme + 3);
    const q = target.indexOf('?', scheme + 3);
    start = slash < 0 || (q >= 0 && q < slash) ? -1 : slash;
    if (start < 0) return { path: '/', search: q >= 0 ? target.slice(q) : '' };
  }
  const q = target.indexOf('?', start);
  return q < 0 ? { path: target.slice(start), search: '' } : { path: target.slice(start, q), search: target.slice(q) };
}

/** An OPTIONS request with Origin and Access-Control-Request-Method: a CORS preflight. */
function isPreflight(txn: Transaction): boolean {
  const h = txn.client.headers;
  return txn.client.method === 'OPTIONS' && h.has('origin') && h.has('access-control-request-method');
}

/**
 * The `prefix` of a listing, or null: decoded as the verifier reads every parameter (parseQuery, the same reading
 * the origin signer re-encodes), and refused when given twice — `prefix=ok/&pre%66ix=secret/` must not be checked
 * as "ok/" and then reach the origin as two prefixes.
 */
function listPrefix(search: string, resource: string): string | null {
  return single(parseQuery(search, true), 'prefix', 'InvalidArgument', new Refusal(resource)) ?? null;
}

const AUTH_HEADERS = new Set(CLIENT_AUTH_HEADERS);
/** Fields of aws-chunked uploads that describe the framing we remove (AWS "Transferring Payload in Multiple Chunks"). */
const CHUNKED_HEADERS = new Set(['x-amz-decoded-content-length', 'x-amz-trailer']);

/** Takes the client's authentication (and, for aws-chunked bodies, the framing) off the origin request. */
function rewriteForOrigin(req: OriginRequest, verified: Verified): void {
  req.headers.deleteWhere((name) => AUTH_HEADERS.has(name));
  if (req.search.length > 1) req.search = stripQueryAuth(req.search);
  // Also without a body: a signed hash of something non-empty with no body to match it is refused there.
  const checked = checkedBody(req.body, verified.payload, req.bodyLength);
  req.body = checked.body;
  req.bodyLength = checked.length;
  if (req.body === null) return;
  if (verified.payload.kind === 'chunked') {
    req.headers.deleteWhere((name) => CHUNKED_HEADERS.has(name));
    const encodings = (req.headers.get('content-encoding') ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked');
    if (encodings.length > 0) req.headers.set('Content-Encoding', encodings.join(', '));
    else req.headers.delete('content-encoding');
    // The decoded length when the client declared it (x-amz-decoded-content-length); otherwise the encoded
    // Content-Length would be wrong for what is sent, so the body goes out chunked.
    if (checked.length !== null) req.headers.set('Content-Length', String(checked.length));
    else req.headers.delete('content-length');
  }
}

export function createClientAuthPlugin(argv: readonly string[], context: PluginContext, now: () => number = Date.now): RemapPlugin {
  const o = readArgs(argv.slice(2), context.configDir);
  context.dependsOn(o.clientsFile);
  const { clients, problems } = readClientsFile(o.clientsFile);
  if (problems.length > 0) throw new PluginArgumentError(problems.join('; '));
  const lookup = (accessKey: string): ClientEntry | null => clients.get(accessKey) ?? null;

  const refuse = (txn: Transaction, err: S3AuthError, accessKey: string | null): never => {
    context.logger.info('client authentication refused', {
      rule: txn.rule.id,
      client: txn.client.remoteAddress,
      code: err.s3Code,
      accessKey: accessKey ?? '-',
      reason: err.detail ?? err.message,
    });
    throw err;
  };

  return {
    remap(txn) {
      const { path, search } = splitTarget(txn.client.target);
      const t = now();
      let verified: Verified | null;
      try {
        verified = verifyRequest(
          { method: txn.client.method, path, search, headers: txn.client.headers },
          { now: t, lookup, region: o.region, allowUnsignedPayload: o.allowUnsignedPayload, virtualHostSuffixes: o.virtualHostSuffixes },
        );
      } catch (err) {
        if (err instanceof S3AuthError) refuse(txn, err, null);
        throw err;
      }
      if (verified === null) {
        // A browser's CORS preflight carries no credentials by design (Fetch standard); S3 answers it from the
        // bucket's CORS configuration without authentication, so it goes through (signed by s3_auth as any other).
        if (o.anonymous || isPreflight(txn)) return;
        refuse(txn, new S3AuthError('AccessDenied', 'Access Denied', { resource: path, detail: 'the request carries no authentication' }), null);
        return;
      }
      const client = lookup(verified.accessKey)!;
      if (client.expiresAt !== null && t >= client.expiresAt) {
        refuse(txn, new S3AuthError('ExpiredToken', 'The provided token has expired.', { resource: path, detail: 'the key is past its expires time' }), client.accessKey);
      }
      let prefix: string | null = null;
      try {
        if (verified.key === '') prefix = listPrefix(search, path);
      } catch (err) {
        if (err instanceof S3AuthError) refuse(txn, err, client.accessKey);
        throw err;
      }
      if (!isAllowed(client, txn.client.method, verified.bucket, verified.key, prefix)) {
        refuse(
          txn,
          new S3AuthError('AccessDenied', 'Access Denied', {
            resource: path,
            detail: `${txn.client.method} on bucket "${verified.bucket}" key "${verified.key}" is outside the key's allow list or methods`,
          }),
          client.accessKey,
        );
      }
      txn.data.set(ClientAuthKey, verified.accessKey);
      try {
        rewriteForOrigin(txn.originRequest, verified);
      } catch (err) {
        // checkedBody refuses a body that cannot be what was signed (none where a non-empty one was signed, an
        // aws-chunked upload without a body): logged as any other refusal.
        if (err instanceof S3AuthError) refuse(txn, err, client.accessKey);
        throw err;
      }
    },
  };
}

/** Where the verified access key is kept on the transaction (for logs and plugins that follow). */
export const ClientAuthKey = Symbol('s3_client_auth.accessKey');

export const s3ClientAuthPlugin: PluginFactory = (argv, context) => createClientAuthPlugin(argv, context);
