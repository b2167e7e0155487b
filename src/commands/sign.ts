/**
 * `remapd sign`: signs one request exactly as the s3_auth plugin would (V4, or V2 with --version 2) and prints
 * every intermediate string.
 * When S3 answers SignatureDoesNotMatch it returns its own canonical request and string to sign; this prints
 * ours, so a user can diff the two. Options are handed to the plugin's own option reader, so validation and
 * signing are the same code path as the proxy's.
 */
import { Command, Option } from 'commander';
import { RemapdError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import type { PluginContext } from '../plugins/api.js';
import { EMPTY_SHA256, S3_SERVICE, UNSIGNED_PAYLOAD } from '../plugins/s3-auth/constants.js';
import { readOptions } from '../plugins/s3-auth/options.js';
import { buildV2Signer, buildV4Signer } from '../plugins/s3-auth/s3-auth.js';
import { signV2Request } from '../plugins/s3-auth/sign-v2-request.js';
import { signV4Request, type SignableRequest } from '../plugins/s3-auth/sign-v4-request.js';
import { HeaderList } from '../proxy/header-list.js';

interface SignOptions {
  version: string;
  method: string;
  url: string;
  header: string[];
  date?: string;
  accessKey: string;
  secretKey?: string;
  signingKey?: string;
  keyScope?: string;
  sessionToken?: string;
  region?: string;
  service?: string;
  payloadHash?: string;
  v4IncludeHeaders?: string;
  v4ExcludeHeaders?: string;
  regionMap?: string;
  literalPlus?: boolean;
  virtualHost?: boolean;
  v2Endpoint?: string;
  json?: boolean;
}

/**
 * Signing-date forms accepted by --date: `20130524T000000Z`, ISO 8601 (`2013-05-24T00:00:00Z`) or RFC 1123
 * (`Fri, 24 May 2013 00:00:00 GMT`).
 */
export function parseSignDate(text: string): Date | null {
  const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;
  const rfc1123 = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (?:GMT|[+-]\d{4})$/;
  let d: Date;
  if (basic) d = new Date(`${basic[1]}-${basic[2]}-${basic[3]}T${basic[4]}:${basic[5]}:${basic[6]}Z`);
  else if (iso.test(text) || rfc1123.test(text)) d = new Date(text);
  else return null;
  if (Number.isNaN(d.getTime())) return null;
  // Date rolls 30 February over to 2 March: a signing date must name a real day.
  const ymd = basic ? basic.slice(1, 4) : /^(\d{4})-(\d{2})-(\d{2})/.exec(text)?.slice(1, 4);
  if (ymd) {
    const [y, m, day] = ymd.map(Number) as [number, number, number];
    const t = new Date(Date.UTC(y, m - 1, day));
    if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== day) return null;
  } else if (text.endsWith('GMT') && d.toUTCString() !== text) {
    return null;
  }
  return d;
}

/** Splits a URL without normalising it (WHATWG URL would re-encode the path and drop dot segments). */
export function splitUrl(url: string): { scheme: string; authority: string; host: string; path: string; search: string } | null {
  const m = /^(https?):\/\/([^/?#]+)([^?#]*)(\?[^#]*)?(?:#.*)?$/i.exec(url);
  if (!m) return null;
  const authority = m[2]!;
  const host = authority.startsWith('[') ? authority.slice(1, authority.indexOf(']')) : authority.replace(/:\d+$/, '');
  return { scheme: m[1]!.toLowerCase(), authority, host, path: m[3] || '/', search: m[4] ?? '' };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function fail(message: string): never {
  throw new RemapdError('ERR_BAD_REQUEST', message);
}

export interface SignOutput {
  version: 2 | 4;
  method: string;
  url: string;
  headers: [string, string][];
  /** V4 only. */
  canonicalRequest?: string;
  stringToSign: string;
  /** V4 only. */
  signedHeaders?: string;
  signature: string;
  authorization: string;
  /** V4: the credential scope. */
  scope?: string;
  /** V2: the CanonicalizedResource. */
  resource?: string;
}

/** Runs the command's work; returns what it prints (tests call this directly too). */
export function runSign(o: SignOptions, warn: (m: string) => void = () => {}): SignOutput {
  const url = splitUrl(o.url);
  if (!url) fail(`--url "${o.url}" is not an http(s) URL`);
  const versionText = o.version.toLowerCase();
  if (!['2', '4', 'awsv2', 'awsv4'].includes(versionText)) fail(`--version ${o.version}: use 2 or 4`);
  const version = versionText.endsWith('2') ? 2 : 4;

  const argv = [`--version=${version}`, `--access_key=${o.accessKey}`];
  if (o.secretKey !== undefined) argv.push(`--secret_key=${o.secretKey}`);
  if (o.signingKey !== undefined) argv.push(`--signing_key=${o.signingKey}`);
  if (o.keyScope !== undefined) argv.push(`--key_scope=${o.keyScope}`);
  if (o.sessionToken !== undefined) argv.push(`--session_token=${o.sessionToken}`);
  if (o.region !== undefined) argv.push(`--region=${o.region}`);
  if (o.service !== undefined) argv.push(`--service=${o.service}`);
  if (o.v4IncludeHeaders !== undefined) argv.push(`--v4-include-headers=${o.v4IncludeHeaders}`);
  if (o.v4ExcludeHeaders !== undefined) argv.push(`--v4-exclude-headers=${o.v4ExcludeHeaders}`);
  if (o.regionMap !== undefined) argv.push(`--v4-region-map=${o.regionMap}`);
  if (o.literalPlus) argv.push('--literal_plus');
  if (o.virtualHost) argv.push('--virtual_host');
  if (o.v2Endpoint !== undefined) argv.push(`--v2-endpoint=${o.v2Endpoint}`);
  const context: PluginContext = {
    file: '(command line)',
    line: 0,
    configDir: process.cwd(),
    warn,
    dependsOn: () => {},
    logger: createLogger({ level: 'error' }),
  };
  const read = readOptions(argv, context);
  if ('problems' in read) fail(read.problems.join('; '));

  const headers = new HeaderList();
  for (const h of o.header) {
    const colon = h.indexOf(':');
    if (colon <= 0) fail(`--header "${h}" is not "Name: value"`);
    headers.add(h.slice(0, colon).trim(), h.slice(colon + 1).replace(/^[ \t]+/, ''));
  }
  if (!headers.has('host')) headers.raw.unshift('host', url.authority);
  let date = new Date();
  if (o.date !== undefined) {
    const d = parseSignDate(o.date);
    if (!d) fail(`--date "${o.date}" is not YYYYMMDDTHHMMSSZ, an ISO 8601 date or an RFC 1123 date`);
    date = d;
  }
  const req: SignableRequest = { method: o.method.toUpperCase(), host: url.host, path: url.path, search: url.search, headers };
  if (version === 2) {
    const v2 = signV2Request(req, buildV2Signer(read.options), date);
    return {
      version,
      method: req.method,
      url: `${url.scheme}://${url.authority}${req.path}${req.search}`,
      headers: headers.entries(),
      stringToSign: v2.stringToSign,
      signature: v2.signature,
      authorization: v2.authorization,
      resource: v2.resource,
    };
  }
  const signer = buildV4Signer(read.options, context);
  // The plugin's defaults: S3 unsigned, other services the hash of an empty body.
  const payloadHash = o.payloadHash ?? (signer.service === S3_SERVICE ? UNSIGNED_PAYLOAD : EMPTY_SHA256);
  let result: ReturnType<typeof signV4Request>;
  try {
    result = signV4Request(req, signer, date, payloadHash);
  } catch (err) {
    // The proxy answers with `message` and logs `detail`; a command has no error log, so the detail is the message.
    if (err instanceof RemapdError && err.detail !== undefined) fail(err.detail);
    throw err;
  }
  return {
    version,
    method: req.method,
    url: `${url.scheme}://${url.authority}${req.path}${req.search}`,
    headers: headers.entries(),
    canonicalRequest: result.canonicalRequest,
    stringToSign: result.stringToSign,
    signedHeaders: result.signedHeaders,
    signature: result.signature,
    authorization: result.authorization,
    scope: `${result.scope.date}/${result.scope.region}/${result.scope.service}/aws4_request`,
  };
}

export function formatSignOutput(out: SignOutput): string {
  const lines = [`Request:\n${out.method} ${out.url}`, ...out.headers.map(([n, v]) => `${n}: ${v}`), ''];
  if (out.canonicalRequest !== undefined) lines.push(`Canonical request:\n${out.canonicalRequest}`, '');
  lines.push(`String to sign:\n${out.stringToSign}`, '');
  if (out.signedHeaders !== undefined) lines.push(`Signed headers: ${out.signedHeaders}`);
  if (out.resource !== undefined) lines.push(`Canonicalized resource: ${out.resource}`);
  lines.push(`Signature: ${out.signature}`, `Authorization: ${out.authorization}`, '');
  return lines.join('\n');
}

export function signCommand(): Command {
  return new Command('sign')
    .description('sign one request as s3_auth would and print the canonical request, string to sign and signature')
    .addOption(new Option('--version <n>', 'signature version: 4 or 2').default('4'))
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .requiredOption('--url <url>', 'full origin URL, e.g. https://bucket.s3.amazonaws.com/key?query')
    .option('-H, --header <field>', "header 'Name: value' (repeatable; signed verbatim)", collect, [])
    .option('--date <date>', 'signing time: 20130524T000000Z, ISO 8601 or RFC 1123 (default now; a given x-amz-date/Date header wins)')
    .requiredOption('--access-key <id>', 'access key id')
    .option('--secret-key <secret>', 'secret access key')
    .option('--signing-key <base64>', 'a scoped V4 signing key (from `remapd signing-key`)')
    .option('--key-scope <scope>', 'scope of --signing-key: YYYYMMDD/region/service/aws4_request')
    .option('--session-token <token>', 'session token (sent as x-amz-security-token)')
    .option('--region <region>', 'region (default: from the host)')
    .option('--service <service>', 'service (default s3)')
    .option('--payload-hash <hex>', 'x-amz-content-sha256 value when no such header is given (default UNSIGNED-PAYLOAD)')
    .option('--v4-include-headers <list>', 'sign only these headers (plus the always-signed ones)')
    .option('--v4-exclude-headers <list>', 'do not sign these headers')
    .option('--region-map <file>', 'ATS-format region map')
    .option('--literal-plus', "read '+' in the path and query as a plus, not S3's space")
    .option('--virtual-host', 'V2: a host that is not an S3 endpoint is a CNAME naming the bucket')
    .option('--v2-endpoint <host>', 'V2: service host of an S3-compatible store (BUCKET.host is virtual-hosted)')
    .option('--json', 'print one JSON object')
    .action((o: SignOptions) => {
      const out = runSign(o, (m) => process.stderr.write(`remapd sign: warning: ${m}\n`));
      process.stdout.write(o.json ? `${JSON.stringify(out, null, 2)}\n` : formatSignOutput(out));
    });
}
