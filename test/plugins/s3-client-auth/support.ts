/**
 * Shared by the s3_client_auth verification tests: a client signing as AWS's own SDK signs (@smithy/signature-v4),
 * requests as the proxy receives them, S3-error assertions and a bounded stream reader.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { S3AuthError, type S3ErrorCode } from '../../../src/plugins/s3-client-auth/s3-error.js';
import type { AuthRequest, ClientSecret, Verified, VerifyOptions } from '../../../src/plugins/s3-client-auth/verify.js';
import { verifyRequest } from '../../../src/plugins/s3-client-auth/verify.js';
import { HeaderList } from '../../../src/proxy/header-list.js';

// AWS's documentation credentials, and a second client whose secret has every awkward character.
export const DOC_KEY = 'AKIAIOSFODNN7EXAMPLE';
export const DOC_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
export const ALICE: ClientSecret = { accessKey: 'ALICEKEY0000000000001', secretKey: 'alice/secret+key=with/odd chars', sessionToken: null };
export const TOKEN_USER: ClientSecret = { accessKey: 'TOKENKEY000000000001', secretKey: 'token-user-secret', sessionToken: 'FwoGZXIvYXdzEBYa+token/with=chars' };
export const DOC_CLIENT: ClientSecret = { accessKey: DOC_KEY, secretKey: DOC_SECRET, sessionToken: null };

const CLIENTS = new Map([ALICE, TOKEN_USER, DOC_CLIENT].map((c) => [c.accessKey, c]));

export const SIGNING_DATE = new Date(Date.UTC(2024, 4, 17, 12, 30, 0));

export function options(over: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    now: SIGNING_DATE.getTime(),
    lookup: (k) => CLIENTS.get(k) ?? null,
    region: null,
    allowUnsignedPayload: true,
    virtualHostSuffixes: ['s3.example.com', 's3.amazonaws.com'],
    ...over,
  };
}

/** AWS's URI escaping, as the SDK applies it to a key (every byte but A-Za-z0-9-._~ encoded; '/' kept in paths). */
export function awsEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function awsPath(key: string): string {
  return key.split('/').map(awsEscape).join('/');
}

export type Query = Record<string, string | string[]>;

/** Sub-resources the SDK puts on the wire bare (`?acl`) when their value is ''. */
const BARE = new Set(['acl', 'uploads', 'tagging', 'versioning', 'delete']);

/** The query as the SDK's HTTP handler puts it on the wire (same escaping, its own order). */
export function wireQuery(query: Query): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) parts.push(v === '' && BARE.has(name) ? awsEscape(name) : `${awsEscape(name)}=${awsEscape(v)}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

export interface ClientRequest {
  method?: string;
  host?: string;
  /** The path as the client signs it (already AWS-escaped). */
  path: string;
  /** The path as it goes on the wire, when different from `path` (a client that encodes differently). */
  wirePath?: string;
  query?: Query;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface SignAs {
  client?: ClientSecret;
  region?: string;
  date?: Date;
  /** Extra header names the SDK would not sign by default. */
  signableHeaders?: Set<string>;
  /** Names the SDK must not sign (to send a header unsigned). */
  unsignableHeaders?: Set<string>;
}

export function signerFor(client: ClientSecret, region = 'us-east-1'): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: client.accessKey, secretAccessKey: client.secretKey, ...(client.sessionToken !== null ? { sessionToken: client.sessionToken } : {}) },
    region,
    service: 's3',
    sha256: Hash.bind(null, 'sha256'),
    // S3: the path is signed as the SDK escaped it, once.
    uriEscapePath: false,
    applyChecksum: true,
  });
}

function headerList(headers: Record<string, string | undefined>): HeaderList {
  const list = new HeaderList();
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) list.add(name, value);
  return list;
}

/** Signs like the SDK (Authorization header) and returns the request as the proxy receives it. */
export async function signHeader(req: ClientRequest, as: SignAs = {}): Promise<AuthRequest> {
  const host = req.host ?? 's3.example.com';
  const signed = await signerFor(as.client ?? ALICE, as.region).sign(
    {
      method: req.method ?? 'GET',
      protocol: 'https:',
      hostname: host.replace(/:\d+$/, ''),
      path: req.path,
      query: req.query ?? {},
      headers: { host, ...req.headers },
      body: req.body,
    },
    { signingDate: as.date ?? SIGNING_DATE, signableHeaders: as.signableHeaders, unsignableHeaders: as.unsignableHeaders },
  );
  return {
    method: req.method ?? 'GET',
    path: req.wirePath ?? req.path,
    search: wireQuery(req.query ?? {}),
    headers: headerList(signed.headers as Record<string, string>),
  };
}

/** Presigns like the SDK (AWS's S3 presigner marks the payload UNSIGNED-PAYLOAD, hoisted into the query). */
export async function presign(req: ClientRequest, as: SignAs & { expiresIn?: number } = {}): Promise<AuthRequest> {
  const host = req.host ?? 's3.example.com';
  const signed = await signerFor(as.client ?? ALICE, as.region).presign(
    {
      method: req.method ?? 'GET',
      protocol: 'https:',
      hostname: host.replace(/:\d+$/, ''),
      path: req.path,
      query: req.query ?? {},
      headers: { host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD', ...req.headers },
    },
    { signingDate: as.date ?? SIGNING_DATE, expiresIn: as.expiresIn ?? 3600, signableHeaders: as.signableHeaders, unsignableHeaders: as.unsignableHeaders },
  );
  return {
    method: req.method ?? 'GET',
    path: req.wirePath ?? req.path,
    search: wireQuery(signed.query as Query),
    headers: headerList(signed.headers as Record<string, string>),
  };
}

/** A copy of `req` with some of its parts changed. */
export function altered(req: AuthRequest, change: { method?: string; path?: string; search?: string; headers?: (h: HeaderList) => void }): AuthRequest {
  const headers = req.headers.clone();
  change.headers?.(headers);
  return { method: change.method ?? req.method, path: change.path ?? req.path, search: change.search ?? req.search, headers };
}

export function accepted(req: AuthRequest, opts: VerifyOptions = options()): Verified {
  const v = verifyRequest(req, opts);
  assert.ok(v !== null, 'the request carries authentication');
  return v;
}

/**
 * Asserts verification refuses `req` with S3 code `code` (and HTTP `status` when given); returns the error. Every
 * refusal is also checked for what it must never hold: a client's secret, or the signature the proxy computed.
 */
export function refused(req: AuthRequest, code: S3ErrorCode, opts: VerifyOptions = options(), status?: number, forbidden: readonly string[] = []): S3AuthError {
  let caught: unknown;
  try {
    verifyRequest(req, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof S3AuthError, `expected S3AuthError ${code}, got ${caught === undefined ? 'acceptance' : String(caught)}`);
  assert.equal(caught.s3Code, code, `expected ${code}, got ${caught.s3Code}: ${caught.message} (${caught.detail ?? ''})`);
  if (status !== undefined) assert.equal(caught.status, status);
  assertNoSecrets(caught, forbidden);
  return caught;
}

export function assertNoSecrets(err: S3AuthError, forbidden: readonly string[] = []): void {
  const text = `${err.message}\n${err.detail ?? ''}\n${err.body?.text ?? ''}`;
  for (const secret of [ALICE.secretKey, TOKEN_USER.secretKey, DOC_SECRET, TOKEN_USER.sessionToken!, ...forbidden]) {
    assert.ok(!text.includes(secret), `the error must not contain "${secret}"`);
  }
}

/** The signature an Authorization header or presigned query carries. */
export function signatureOf(req: AuthRequest): string {
  const fromHeader = /Signature=([0-9a-f]+)/.exec(req.headers.get('authorization') ?? '')?.[1];
  return fromHeader ?? /X-Amz-Signature=([0-9a-f]+)/.exec(req.search)?.[1] ?? '';
}

/** Reads a stream to its end or its error, giving up after `ms`. */
export function collect(stream: Readable, ms = 5_000): Promise<{ data: Buffer; error: Error | null }> {
  return new Promise((resolve) => {
    const pieces: Buffer[] = [];
    const timer = setTimeout(() => resolve({ data: Buffer.concat(pieces), error: new Error(`stream did not end within ${ms} ms`) }), ms);
    stream.on('data', (d: Buffer) => pieces.push(d));
    stream.once('end', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(pieces), error: null });
    });
    stream.once('error', (error: Error) => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(pieces), error });
    });
  });
}

/** A source that delivers `body` in pieces of `size` bytes (the last may be shorter). */
export function pieces(body: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) parts.push(body.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}
