/**
 * Issue 9: no secret in any log line or error body the suite produces. Every test file that uses the harness
 * registers what must never be shown — secret keys and session tokens found in the configurations and files it
 * writes, the derived V4 signing keys of those secrets, and every signature an origin received — and records what
 * remapd showed — error-log and access-log lines, the bodies of its 4xx/5xx answers, the output of `remapd`
 * commands. A root `after` hook of the file scans it all and fails the file, naming where, if any of it appears.
 *
 * Values shorter than 8 characters are not registered (`s`, `S3RVER`): they would match by accident, and are no
 * one's real secret. `remapd sign` and `remapd signing-key` print a signature or a derived key on standard output
 * because the operator asked for one; that output is not scanned (their standard error is).
 */
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after } from 'node:test';

const MIN_LENGTH = 8;
const secrets = new Map<string, string>();
const transcripts: { where: string; text: () => string }[] = [];
/** Secret keys registered so far, for deriving signing keys at scan time. */
const secretKeys = new Set<string>();
const regions = new Set(['us-east-1', 'eu-west-1', 'us-west-2', 'eu-central-1']);

export function registerSecret(value: string | undefined | null, what: string): void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH || secrets.has(value)) return;
  secrets.set(value, what);
}

/** A secret access key: also its V4 signing keys (derived at scan time for the regions seen). */
export function registerSecretKey(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH) return;
  registerSecret(value, 'a secret key');
  secretKeys.add(value);
}

export function registerRegion(region: string): void {
  if (/^[a-z0-9-]+$/.test(region)) regions.add(region);
}

/** Registers the signature (V4 or V2) and session token carried by a request's raw header fields. */
export function registerRequestSecrets(rawHeaders: readonly string[]): void {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (name === 'authorization') {
      registerSecret(/Signature=([0-9a-f]{64})/.exec(value)?.[1], 'a V4 signature');
      registerSecret(/^AWS [^:]+:(\S+)$/.exec(value)?.[1], 'a V2 signature');
      const region = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\//.exec(value)?.[1];
      if (region) registerRegion(region);
    } else if (name === 'x-amz-security-token') {
      registerSecret(value, 'a session token');
    }
  }
}

const IN_CONFIG = /(?:^|[\s@"'=])-{0,2}(secret[_-]key|session[_-]token|signing[_-]key)(?:\s*=\s*|\s+)([^\s\\"'#;]+)/gim;

/** Registers the secrets a configuration text names (`--secret_key=…`, `secret_key = …`, `session_token=…`, …). */
export function registerConfigSecrets(text: string): void {
  for (const m of text.matchAll(IN_CONFIG)) {
    const kind = m[1]!.toLowerCase().replace('-', '_');
    if (kind === 'secret_key') registerSecretKey(m[2]);
    else registerSecret(m[2], kind === 'session_token' ? 'a session token' : 'a signing key');
  }
  for (const m of text.matchAll(/--region[= ]([a-z0-9-]+)/g)) registerRegion(m[1]!);
}

/** The files next to the remap.config a command line names (`-c FILE` / `--config FILE`): their secrets too. */
export function registerConfigFolder(args: readonly string[], cwd = process.cwd()): void {
  for (let i = 0; i + 1 < args.length; i++) {
    if (args[i] !== '-c' && args[i] !== '--config') continue;
    const dir = dirname(resolve(cwd, args[i + 1]!));
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.slice(0, 200)) {
      try {
        const file = join(dir, name);
        if (statSync(file).isFile() && statSync(file).size < 1_000_000) registerConfigSecrets(readFileSync(file, 'utf8'));
      } catch {
        // gone meanwhile, or unreadable: nothing to register
      }
    }
  }
}

/** Records something remapd showed; `text` may be a function read at scan time (a growing log). */
export function recordTranscript(where: string, text: string | (() => string)): void {
  transcripts.push({ where, text: typeof text === 'string' ? () => text : text });
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function derivedKeys(): Map<string, string> {
  const out = new Map<string, string>();
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
  const days = new Set([day(-1), day(0), day(1), '20130524', '20150830']);
  for (const secret of secretKeys) {
    for (const d of days) {
      for (const region of regions) {
        const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, d), region), 's3'), 'aws4_request');
        out.set(key.toString('hex'), `the signing key of a secret for ${d}/${region}`);
        out.set(key.toString('base64'), `the signing key of a secret for ${d}/${region}`);
      }
    }
  }
  return out;
}

/** Every (where, what) of a secret found in a transcript. Pure, for the scanner's own test. */
export function findLeaks(
  records: readonly { where: string; text: string }[],
  forbidden: ReadonlyMap<string, string>,
): { where: string; what: string }[] {
  const leaks: { where: string; what: string }[] = [];
  for (const r of records) {
    for (const [value, what] of forbidden) if (r.text.includes(value)) leaks.push({ where: r.where, what });
  }
  return leaks;
}

/** What this file registered and recorded (for the scanner's own test). */
export function registered(): { secrets: number; transcripts: number } {
  return { secrets: secrets.size, transcripts: transcripts.length };
}

/** Only inside the test runner (`node --test` runs each file in a child with NODE_TEST_CONTEXT set): a script that
 * imports the harness must not start a test run by registering a hook. */
if (process.env.NODE_TEST_CONTEXT !== undefined) after(scan);

function scan(): void {
  if (transcripts.length === 0 || secrets.size === 0) return;
  const forbidden = new Map([...secrets, ...derivedKeys()]);
  const leaks = findLeaks(transcripts.map((t) => ({ where: t.where, text: t.text() })), forbidden);
  if (leaks.length > 0) {
    const list = [...new Set(leaks.map((l) => `${l.what} in ${l.where}`))].join('\n  ');
    // Not thrown: a throwing root hook stops the file's own after hooks, and its servers would keep the process
    // alive. A non-zero exit fails the file in the runner just the same, with this message.
    process.exitCode = 1;
    process.stderr.write(`secrets appeared in what remapd showed:\n  ${list}\n`);
  }
}
