/**
 * Judge 2: a real S3 server that verifies V4 and V2 signatures, `@20minutes/s3rver` (a dev dependency; NOT
 * `s3rver` 3.x, which accepts any V4 signature at all), started on 127.0.0.1 port 0 with a temporary directory, the
 * given buckets, and credentials of its own (so a test proves that remapd signed with the keys it was configured
 * with, not with the built-in S3RVER/S3RVER pair).
 *
 * What it verifies (lib/middleware/authentication.js, lib/signature/v4.js of 4.0.4): the Credential's access key
 * must be registered; it rebuilds the canonical request from the request it parsed — method, the resource path
 * re-encoded segment by segment with RFC 3986 encoding, the query, every header named in SignedHeaders with Node's
 * value, SignedHeaders, and x-amz-content-sha256 — and compares the HMAC with the one sent (403
 * SignatureDoesNotMatch when they differ, with its StringToSign in the body). x-amz-content-sha256 must be present
 * and be UNSIGNED-PAYLOAD, STREAMING-… or 64 hex digits; it never hashes the body to compare (so a signed
 * payload's hash is checked against the body by judge 1 only).
 *
 * Where it disagrees with AWS's documented rules ("Signature Calculations for the Authorization Header", S3 API
 * reference), AWS wins: those cases are tested with judge 1 (test/support/sigv4-judge.ts, the AWS SDK's own signer)
 * only, never by bending remapd towards this server. The fork's known bugs:
 *
 * - Clock skew: issue 3 says it never enforces V4 clock skew. In 4.0.4 as installed it does, for header
 *   authentication — parseHeader() compares x-amz-date with its clock (15 minutes,
 *   RequestTimeTooSkewed) through parseDate()'s fallback to the ISO 8601 basic form — and not for presigned
 *   URLs (S3 does not either; they have X-Amz-Expires). s3-auth-s3rver.test.ts pins this so a version change is
 *   noticed; remapd always signs with the current time, so nothing else depends on it.
 * - Canonical query: names and values go through encodeURIComponent, which leaves `!'()*` unencoded (AWS encodes
 *   every byte but `A-Za-z0-9-._~`), and it sorts the joined `k=v` strings instead of sorting by name then value,
 *   so `a-b=1&a=2` (its order) differs from AWS's `a=2&a-b=1` when one name is a prefix of another. Workaround:
 *   queries sent to it avoid `!'()*` and names that are prefixes of each other; those cases are judge 1's.
 * - Repeated query names cannot be verified at all: Object.entries(ctx.query) gives an array for `?a=2&a=1`, which
 *   encodeURIComponent stringifies as `2%2C1` (one parameter `a=2,1`). Workaround: repeated names are judged by
 *   judge 1 only.
 * - `/bucket/?…` (a bucket request with a trailing slash) is canonicalised as `/bucket`: its resource is rebuilt
 *   from the route's parameters, and an empty key adds no slash. AWS signs the path as sent. Workaround: bucket
 *   requests to it (listing) are made as `/bucket?…`, which remapd's rule must produce (a to-URL without trailing
 *   slash, the client asking for the root with no extra slash), or virtual-host style (see next point); judge 1
 *   checks that `/bucket/?…` is signed with its slash. Since the AWS SDK lists with `/bucket/?…` (gateway tests),
 *   the V4 fix below also puts the slash back when the path as sent had it.
 * - Virtual-host style: when the Host is `BUCKET.s3(-website)(.REGION).<serviceEndpoint>` (default serviceEndpoint
 *   `amazonaws.com`) it rewrites the path to `/BUCKET/key` for its router and then canonicalises THAT path,
 *   `/BUCKET/key` (V2's CanonicalizedResource rule, applied to V4 by mistake), whereas AWS V4 signs the path on the
 *   wire, `/key` ("CanonicalURI"). A correct virtual-host signature is therefore refused. Workaround, in the
 *   harness: fixVirtualHostCanonicalUri() below strips the bucket the vhost middleware added from the canonical
 *   URI, for requests whose Host is a virtual-host name, before s3rver hashes it. Everything else (key, date,
 *   Host field, every signed header, the query) is still verified by s3rver. Its `vhostBuckets` option (on by
 *   default: any non-IP Host other than localhost names a bucket) is turned off so that only the AWS form counts.
 * - Header values: it takes each signed header's value from Node's parsed headers, so repeated fields are joined
 *   with ", " (AWS: ","), some repeated fields are dropped by Node (content-type, user-agent…), and inner runs of
 *   spaces are not squeezed (AWS squeezes them). Workaround: repeated fields and odd whitespace are judge 1 only.
 * - Anonymous requests (no Authorization, no query signature) are accepted like signed ones. So a test proving
 *   that remapd signs must check a WRONG signature is refused, not that a right one is accepted. The tests also
 *   use this hole on purpose, to look at the bucket behind remapd's back (anonymousRequest()).
 * - Listing XML is escaped twice (see listedKeys()).
 * - x-amz-security-token is signed like any x-amz-* field but never checked against the credentials: any token
 *   value is accepted with a good signature.
 * - Paths: its router decodes the key with decodeURIComponent, which keeps a `+` a plus; S3 reads a `+` in the path
 *   as a space (s3-auth-s3rver.test.ts pins that remapd's V4 writes it out as %20 for that reason). V2 sends the
 *   client's path untouched, so s3rver would look up another key than S3 does. Workaround, in the harness:
 *   readPlusAsSpace() below rewrites a raw `+` in the path to `%20` for its router only (the signature is checked
 *   against the path as it arrived).
 *
 * Signature V2 (lib/signature/v2.js, and authentication.js, which builds V2's "canonical request"): the access
 * key must be registered, and it compares HMAC-SHA1 over the string to sign it rebuilt (403 SignatureDoesNotMatch,
 * with its StringToSign and the string's bytes in hex). Its clock-skew check (15 minutes) reads x-amz-date, else
 * Date. Where it disagrees with AWS ("Signing and Authenticating REST Requests"), AWS wins:
 *
 * - The Date line is always empty with header authentication: canonicalRequest.timestamp is set from the
 *   query's `Expires`, which a header-signed request has not, so it is undefined and joins as ''. AWS puts the
 *   Date header there, and leaves the line empty only when x-amz-date is present (x-amz-date is then signed among
 *   the amz headers, which s3rver does). A correct signer is refused unless it sends x-amz-date. Workaround, in the
 *   harness: fixV2DateLine() below puts the request's Date there when the request has no x-amz-date.
 * - CanonicalizedResource: it rebuilds the path from the router's decoded parameters, re-encoding each segment
 *   with RFC 3986 (`colon:x` becomes `colon%3Ax`, `caf%c3%a9` becomes `caf%C3%A9`, `with+space` becomes
 *   `with%2Bspace`), and drops the slash of `/bucket/` (as for V4, above), also for a virtual-hosted `/` (AWS:
 *   `/bucket/`). AWS signs `/bucket` (virtual-hosted) followed by the HTTP Request-URI as sent, un-decoded (AWS's
 *   own signers sign the path they send: botocore's HmacV1Auth uses the request's path as is). Workaround, in the
 *   harness: fixV2CanonicalizedResource() below signs the path as it arrived (Koa's originalUrl, remembered by
 *   rememberRequestTarget()), after `/BUCKET` when the Host is a virtual-host name. Everything else is still its
 *   own.
 * - Sub-resources: values are signed decoded (AWS: "When signing, you do not encode these values"), names too;
 *   the rest of the query is left out. But `name=value` strings are sorted as wholes, not by name (harmless for its
 *   own list, where no name is a prefix of another), an empty value is signed as `name` where AWS signs `name=`
 *   (so `?versionId=` is refused), a repeated name is signed `name=v1,v2` (ctx.query's array), and a raw `+` in a
 *   value is read as a space (querystring.parse; remapd reads it so too, AWS's SDKs never send one).
 *   Its list (SUBRESOURCES) lacks sub-resources S3 added later that botocore's V2 signer (HmacV1Auth.QSAOfInterest)
 *   and remapd sign: `select`, `select-type`, `object-lock` (remapd also signs `encryption`, `legal-hold`,
 *   `retention`, … which botocore does not), so a request with one of those is refused by s3rver alone; s3rver
 *   implements none of them. Its response-* list (RESPONSE_HEADERS) is AWS's six. Workaround: the tests use only
 *   sub-resources both lists have, with non-empty, unrepeated values.
 * - CanonicalizedAmzHeaders: values are Node's (repeated fields joined with ", ", AWS: ","), runs of spaces inside
 *   a value are squeezed (AWS only unfolds folded lines and trims), and the string to sign is hashed as UTF-8 of
 *   Node's latin1 reading, so a non-ASCII x-amz-meta-* value is hashed double-encoded. Workaround: x-amz-* fields
 *   sent to it are single, ASCII and singly spaced (remapd's handling of the others is judged by unit tests).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from '@20minutes/s3rver';
import { LOOPBACK } from './harness.js';
import { registerRequestSecrets, registerSecretKey } from './secrets.js';

interface AWSAccountClass {
  new (id: string, displayName: string): { createKeyPair(accessKey: string, secret: string): void; revokeAccessKey(accessKey: string): void };
}

interface CanonicalRequest {
  uri: string;
  headers: Record<string, string | undefined>;
}

interface V4Module {
  getStringToSign(canonicalRequest: CanonicalRequest, request: unknown): string;
}

/** What authentication.js hands v2.getStringToSign (the fields the V2 fixes read or replace). */
interface V2CanonicalRequest {
  /** The request's headers object (Node's req.headers, which Koa's ctx.headers is). */
  headers: Record<string, string | string[] | undefined>;
  /** The query's Expires for a V2 presigned URL; undefined for header authentication (the bug). */
  timestamp: string | number | undefined;
  uri: string;
}

interface V2Module {
  getStringToSign(canonicalRequest: V2CanonicalRequest): string;
}

/** The part of Koa's context the harness middleware uses. */
interface KoaContext {
  method: string;
  /** The request-target as it arrived; Koa keeps it when middleware rewrites the path. */
  originalUrl: string;
  /** The raw path; setting it rewrites the URL the router sees. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

const requireS3rver = createRequire(import.meta.url);
/** The fork's account model: createKeyPair registers the pair in a process-wide registry the verifier reads. */
const AWSAccount = requireS3rver('@20minutes/s3rver/lib/models/account') as AWSAccountClass;
/** The fork's V4 module; authentication.js calls `v4.getStringToSign(…)` through this same exports object. */
const v4 = requireS3rver('@20minutes/s3rver/lib/signature/v4') as V4Module;
/** The fork's V2 module; authentication.js calls `v2.getStringToSign(…)` through this same exports object. */
const v2 = requireS3rver('@20minutes/s3rver/lib/signature/v2') as V2Module;

/** s3rver's own vhost pattern (lib/middleware/vhost.js) for serviceEndpoint `amazonaws.com`. */
const VHOST = /^(?:(.+)\.)?s3(-website)?([-.].+)?\.amazonaws\.com$/;

let vhostFixed = false;

/**
 * The harness workaround for s3rver's virtual-host canonical URI (see the header comment): for a request whose
 * Host is `BUCKET.s3….amazonaws.com`, the canonical URI s3rver built, `/BUCKET/key`, becomes AWS's `/key` (and
 * `/BUCKET` becomes `/`) before the string to sign is computed. Path-style requests (an IP Host) are untouched.
 */
function fixVirtualHostCanonicalUri(): void {
  if (vhostFixed) return;
  vhostFixed = true;
  const original = v4.getStringToSign;
  v4.getStringToSign = function getStringToSignAwsVhost(canonicalRequest, request) {
    const hostname = (canonicalRequest.headers.host ?? '').replace(/:\d+$/, '');
    const bucket = VHOST.exec(hostname)?.[1];
    if (bucket !== undefined) {
      const prefix = `/${encodeSegment(bucket)}`;
      const uri = canonicalRequest.uri;
      if (uri === prefix || uri.startsWith(`${prefix}/`)) {
        return original.call(this, { ...canonicalRequest, uri: uri.slice(prefix.length) || '/' }, request);
      }
    }
    // `/bucket/?…` (what the SDK sends for a listing): s3rver rebuilds `/bucket`, AWS signs the path as sent.
    const target = requestTargets.get(canonicalRequest.headers);
    if (target !== undefined) {
      const q = target.indexOf('?');
      const sent = q < 0 ? target : target.slice(0, q);
      if (sent === `${canonicalRequest.uri}/`) return original.call(this, { ...canonicalRequest, uri: sent }, request);
    }
    return original.call(this, canonicalRequest, request);
  };
}

let v2Fixed = false;

/** A request's headers object → its request-target as it arrived (rememberRequestTarget() fills it). */
const requestTargets = new WeakMap<object, string>();

/**
 * Remembers each request's target as it arrived, under its headers object: that object is what s3rver later
 * hands v2.getStringToSign as canonicalRequest.headers, so fixV2CanonicalizedResource() can find the path as sent.
 */
function rememberRequestTarget(ctx: KoaContext): void {
  requestTargets.set(ctx.headers, ctx.originalUrl);
}

/**
 * S3 reads a raw `+` in the path as a space; s3rver's router (decodeURIComponent) as a plus. Rewritten to `%20`
 * for the router only: the signature is checked against the target as it arrived (see the header comment).
 */
function readPlusAsSpace(ctx: KoaContext): void {
  if (ctx.path.includes('+')) ctx.path = ctx.path.replace(/\+/g, '%20');
}

function headerValue(headers: V2CanonicalRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The harness workaround for s3rver's empty V2 Date line (see the header comment): with header authentication
 * (no Expires, so no timestamp) and no x-amz-date, the Date line is the request's Date, as AWS defines it.
 */
function fixV2DateLine(): void {
  const original = v2.getStringToSign;
  v2.getStringToSign = function getStringToSignAwsDate(canonicalRequest) {
    const { headers, timestamp } = canonicalRequest;
    if (timestamp === undefined && headers['x-amz-date'] === undefined) {
      return original.call(this, { ...canonicalRequest, timestamp: headerValue(headers, 'date') ?? '' });
    }
    return original.call(this, canonicalRequest);
  };
}

/**
 * The harness workaround for s3rver's re-encoded V2 resource (see the header comment): AWS's CanonicalizedResource
 * is `/BUCKET` when the Host names the bucket (the Host lower-cased), then the Request-URI's path exactly as it
 * arrived; s3rver's sub-resources are appended after it unchanged. Requests it has no target for are left alone.
 */
function fixV2CanonicalizedResource(): void {
  const original = v2.getStringToSign;
  v2.getStringToSign = function getStringToSignAwsResource(canonicalRequest) {
    const target = requestTargets.get(canonicalRequest.headers);
    if (target === undefined) return original.call(this, canonicalRequest);
    const query = target.indexOf('?');
    const path = query < 0 ? target : target.slice(0, query);
    const hostname = (headerValue(canonicalRequest.headers, 'host') ?? '').replace(/:\d+$/, '').toLowerCase();
    const bucket = VHOST.exec(hostname)?.[1];
    return original.call(this, { ...canonicalRequest, uri: bucket === undefined ? path : `/${bucket}${path}` });
  };
}

/** Both V2 fixes, once per process (they wrap the module's shared exports object). */
function fixV2(): void {
  if (v2Fixed) return;
  v2Fixed = true;
  fixV2DateLine();
  fixV2CanonicalizedResource();
}

export interface S3rverHandle {
  port: number;
  url: string;
  accessKey: string;
  secretKey: string;
  /** `METHOD target` of every request the server received, in order (to prove a refused request never got here). */
  readonly seen: string[];
  /** The bodies of its 4xx/5xx answers, in order (the XML with its StringToSign, as the server sent it). */
  readonly errors: string[];
  /** Stops the server, forgets the credentials and removes its directory. */
  close(): Promise<void>;
}

/** RFC 3986 encoding of one path segment, as the AWS SDKs send keys (and s3rver's encodeURIComponentRFC3986). */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function encodeKey(key: string): string {
  return key.split('/').map(encodeSegment).join('/');
}

export interface KeyCase {
  /** What the test is about. */
  what: string;
  /** The S3 key the object must be stored under. */
  key: string;
  /** The client's path for the PUT (after the rule's from-path), default: the key RFC 3986 encoded. */
  put?: string;
  /** Another spelling of the same key a client may use for the GET (default: the PUT's). */
  get?: string;
}

/**
 * The keys both judges sign (s3-auth-s3rver.test.ts, s3-auth-judge.test.ts): every character peers get wrong.
 * `put` is how an SDK writes the key; `get` is another spelling the proxy must read as the same key (raw reserved
 * characters, lower-case hex, encoded unreserved characters).
 */
export const KEY_CASES: readonly KeyCase[] = [
  { what: 'a space (GET spelled with a raw +, S3 reads it as a space)', key: 'with space.txt', get: 'with+space.txt' },
  { what: 'a literal + (sent as %2B)', key: 'a+b.txt', put: 'a%2Bb.txt' },
  { what: 'a % (sent as %25)', key: '100%.txt', put: '100%25.txt' },
  { what: 'a ~ (GET spelled %7E)', key: 'tilde~x', get: 'tilde%7Ex' },
  { what: 'a :', key: 'colon:x', get: 'colon:x' },
  { what: 'a =', key: 'eq=x', get: 'eq=x' },
  { what: 'an @', key: 'at@x', get: 'at@x' },
  { what: 'a !', key: 'bang!x', get: 'bang!x' },
  { what: 'a *', key: 'star*x', get: 'star*x' },
  { what: "a '", key: "quote'x", get: "quote'x" },
  { what: 'a (', key: 'paren(x', get: 'paren(x' },
  { what: 'a )', key: 'paren)x', get: 'paren)x' },
  { what: 'a ,', key: 'comma,x', get: 'comma,x' },
  { what: 'a ;', key: 'semi;x', get: 'semi;x' },
  { what: 'an &', key: 'amp&x', get: 'amp&x' },
  { what: 'a $', key: 'dollar$x', get: 'dollar$x' },
  { what: 'a [', key: 'bracket[x', get: 'bracket[x' },
  { what: 'a ]', key: 'bracket]x', get: 'bracket]x' },
  { what: 'an é (GET spelled with lower-case hex)', key: 'café.txt', get: 'caf%c3%a9.txt' },
  { what: 'a ü', key: 'über', get: '%c3%bcber' },
  { what: 'a ☃', key: 'snow☃man' },
  { what: 'CJK characters', key: '日本/語.txt' },
  { what: 'an emoji (a surrogate pair)', key: 'smile😀.txt' },
  { what: 'nested folders with spaces and reserved characters', key: 'a/b c/d(e)/f&g=h/i.txt', get: 'a/b+c/d(e)/f&g=h/i.txt' },
];

let started = 0;

/**
 * Starts s3rver on 127.0.0.1:0 with `buckets` created and a fresh key pair registered (unique per call, so
 * parallel test files never share credentials).
 */
export async function startS3rver(buckets: readonly string[]): Promise<S3rverHandle> {
  fixVirtualHostCanonicalUri();
  fixV2();
  const dir = mkdtempSync(join(tmpdir(), 'remapd-s3rver-'));
  const n = ++started;
  const accessKey = `AKIDREMAPD${process.pid}X${n}`;
  // A secret with `/` and `+` as real AWS secrets have: it only ever enters an HMAC key.
  const secretKey = `remapd/Test+Secret/${process.pid}/${n}/wJalrXUtnFEMI`;
  registerSecretKey(secretKey);
  const account = new AWSAccount(`${process.pid}${n}`, `remapd-test-${n}`);
  account.createKeyPair(accessKey, secretKey);
  const s3 = new S3rver({
    address: LOOPBACK,
    port: 0,
    silent: true,
    directory: dir,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  // First in Koa's chain (composed when it starts listening): before its vhost middleware and router.
  const seen: string[] = [];
  const errors: string[] = [];
  s3.middleware.unshift(async (ctx, next) => {
    const koa = ctx as unknown as KoaContext;
    if (seen.length < 100_000) seen.push(`${koa.method} ${koa.originalUrl}`);
    const auth = koa.headers.authorization;
    const token = koa.headers['x-amz-security-token'];
    registerRequestSecrets([...(typeof auth === 'string' ? ['authorization', auth] : []), ...(typeof token === 'string' ? ['x-amz-security-token', token] : [])]);
    rememberRequestTarget(koa);
    readPlusAsSpace(koa);
    await next();
  });
  let address: { port: number };
  try {
    address = await s3.run();
  } catch (err) {
    account.revokeAccessKey(accessKey);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Its error documents as it wrote them (remapd removes the signing details before a client sees them).
  s3.httpServer.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    const end = res.end;
    const write = res.write;
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      if (res.statusCode >= 400 && (typeof chunk === 'string' || chunk instanceof Uint8Array)) chunks.push(Buffer.from(chunk));
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as ServerResponse['write'];
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (res.statusCode >= 400 && errors.length < 10_000) {
        if (typeof chunk === 'string' || chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
        errors.push(Buffer.concat(chunks).toString());
      }
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } as ServerResponse['end'];
  });
  return {
    port: address.port,
    url: `http://${LOOPBACK}:${address.port}`,
    accessKey,
    secretKey,
    seen,
    errors,
    close: async () => {
      s3.httpServer.closeAllConnections();
      await s3.close();
      account.revokeAccessKey(accessKey);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An unsigned request straight to s3rver, using its acceptance of anonymous requests (a bug, see above) to look
 * at the bucket behind remapd's back: which key did a PUT through remapd really create?
 */
export function anonymousRequest(port: number, method: string, path: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port, method, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('s3rver did not answer in time')));
    req.on('error', reject);
    req.end();
  });
}

const XML_ENTITY = /&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXmlEntities(text: string): string {
  return text.replace(XML_ENTITY, (_, e: string) => {
    if (e[0] !== '#') return NAMED[e.toLowerCase()]!;
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

/**
 * Keys listed by s3rver's ListObjects XML (`<Key>` elements). s3rver escapes XML twice (he.escape in its
 * tagValueProcessor, then fast-xml-parser's builder again: `amp&x` is listed as `amp&amp;amp;x`, `quote'x` as
 * `quote&amp;#x27;x`), so entities are decoded twice here; real S3 escapes once.
 */
export function listedKeys(xml: string): string[] {
  return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => decodeXmlEntities(decodeXmlEntities(m[1]!)));
}
