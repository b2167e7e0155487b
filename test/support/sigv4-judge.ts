/**
 * Judge 1: the AWS SDK's own signer (@smithy/signature-v4) recomputes the signature of a request exactly as an
 * origin received it, and the test asserts it equals the Authorization remapd sent.
 *
 * Independent of remapd's canonicalisation: the path is decoded with decodeURIComponent and re-escaped by the
 * SDK's rules, the query is decoded into the SDK's query object (the SDK escapes and sorts it), and headers are
 * handed over by name. Only the choice of WHICH headers are signed is taken from remapd's SignedHeaders (that
 * policy is remapd's and is tested on its own); the values come from the captured request.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface CapturedRequest {
  method: string;
  /** Raw request-target as the origin received it: path plus '?query'. */
  url: string;
  /** Node's rawHeaders. */
  rawHeaders: string[];
}

export interface JudgeCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

function header(raw: string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/** S3 keys are single-encoded: decode the received path, re-escape each segment with the SDK's escaper. */
function s3Path(rawPath: string): string {
  return rawPath
    .split('/')
    .map((s) => encodeURIComponent(decodeURIComponent(s)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

function queryObject(search: string): Record<string, string | string[]> {
  const q: Record<string, string | string[]> = {};
  if (search === '') return q;
  for (const piece of search.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? piece : piece.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(piece.slice(eq + 1));
    const prev = q[name];
    q[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return q;
}

/** What the SDK's signer says the Authorization of `req` must be, and what remapd sent. */
export async function judgeV4(
  req: CapturedRequest,
  credentials: JudgeCredentials,
  scope: { region: string; service: string },
): Promise<{ expected: string; actual: string }> {
  const actual = header(req.rawHeaders, 'authorization') ?? '(no Authorization header)';
  const signed = /SignedHeaders=([^,]+)/.exec(actual)?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (!signed.includes(name)) continue;
    headers[name] = headers[name] === undefined ? req.rawHeaders[i + 1]! : `${headers[name]},${req.rawHeaders[i + 1]!}`;
  }
  const amzDate = header(req.rawHeaders, 'x-amz-date') ?? '';
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return { expected: `(no valid x-amz-date: "${amzDate}")`, actual };
  const signingDate = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const search = q < 0 ? '' : req.url.slice(q + 1);
  const s3 = scope.service === 's3';
  const signer = new SignatureV4({
    credentials,
    region: scope.region,
    service: scope.service,
    sha256: Hash.bind(null, 'sha256'),
    // S3 signs its single-encoded path as is; other services double-encode (SigV4 test suite).
    uriEscapePath: !s3,
    applyChecksum: s3,
  });
  const hostHeader = headers.host ?? '';
  const out = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: hostHeader.replace(/:\d+$/, ''),
      path: s3 ? s3Path(rawPath) : rawPath,
      query: queryObject(search),
      headers,
    },
    { signingDate, signableHeaders: new Set(signed) },
  );
  return { expected: String(out.headers.authorization), actual };
}
