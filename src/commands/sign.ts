/**
 * `remapd sign`: signs one request exactly as the s3_auth plugin would and prints every intermediate string.
 * When S3 answers SignatureDoesNotMatch it returns its own canonical request and string to sign; this prints
 * ours, so a user can diff the two. Options are handed to the plugin's own option reader, so validation and
 * signing are the same code path as the proxy's.
 */
import { Command, Option } from 'commander';
import { RemapdError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import type { PluginContext } from '../plugins/api.js';
import { readOptions } from '../plugins/s3-auth/options.js';
import { buildV4Signer } from '../plugins/s3-auth/s3-auth.js';
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
  json?: boolean;
}

/** Signing-date forms accepted by --date: `20130524T000000Z` or ISO 8601 (`2013-05-24T00:00:00Z`). */
export function parseSignDate(text: string): Date | null {
  const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  const d = basic ? new Date(`${basic[1]}-${basic[2]}-${basic[3]}T${basic[4]}:${basic[5]}:${basic[6]}Z`) : new Date(text);
  return Number.isNaN(d.getTime()) || !/\d{4}/.test(text) ? null : d;
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
  method: string;
  url: string;
  headers: [string, string][];
  canonicalRequest: string;
  stringToSign: string;
  signedHeaders: string;
  signature: string;
  authorization: string;
  scope: string;
}

/** Runs the command's work; returns what it prints (tests call this directly too). */
export function runSign(o: SignOptions, warn: (m: string) => void = () => {}): SignOutput {
  const url = splitUrl(o.url);
  if (!url) fail(`--url "${o.url}" is not an http(s) URL`);
  const version = o.version.toLowerCase();
  if (version !== '4' && version !== 'awsv4') fail(`--version ${o.version}: only Signature V4 is available in this build`);

  const argv = ['--version=4', `--access_key=${o.accessKey}`];
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
  const signer = buildV4Signer(read.options, context);

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
    if (!d) fail(`--date "${o.date}" is not YYYYMMDDTHHMMSSZ or an ISO 8601 date`);
    date = d;
  }
  const payloadHash = o.payloadHash ?? (signer.service === 's3' ? 'UNSIGNED-PAYLOAD' : undefined);
  const req: SignableRequest = { method: o.method.toUpperCase(), host: url.host, path: url.path, search: url.search, headers };
  const result = signV4Request(req, signer, date, payloadHash ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  return {
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
  return [
    `Request:\n${out.method} ${out.url}`,
    ...out.headers.map(([n, v]) => `${n}: ${v}`),
    '',
    `Canonical request:\n${out.canonicalRequest}`,
    '',
    `String to sign:\n${out.stringToSign}`,
    '',
    `Signed headers: ${out.signedHeaders}`,
    `Signature: ${out.signature}`,
    `Authorization: ${out.authorization}`,
    '',
  ].join('\n');
}

export function signCommand(): Command {
  return new Command('sign')
    .description('sign one request as s3_auth would and print the canonical request, string to sign and signature')
    .addOption(new Option('--version <n>', 'signature version').default('4'))
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .requiredOption('--url <url>', 'full origin URL, e.g. https://bucket.s3.amazonaws.com/key?query')
    .option('-H, --header <field>', "header 'Name: value' (repeatable; signed verbatim)", collect, [])
    .option('--date <date>', 'signing time: 20130524T000000Z or ISO 8601 (default now; an x-amz-date header wins)')
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
    .option('--json', 'print one JSON object')
    .action((o: SignOptions) => {
      const out = runSign(o, (m) => process.stderr.write(`remapd sign: warning: ${m}\n`));
      process.stdout.write(o.json ? `${JSON.stringify(out, null, 2)}\n` : formatSignOutput(out));
    });
}
