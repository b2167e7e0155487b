/**
 * Shared by the credentials-*.test.ts files: a plugin context whose error log is kept, a signed request through the
 * plugin's sendRequest hook, and what the AWS SDK's own signer (judge 1) says about it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/observability/logger.js';
import type { ClientRequestInfo, OriginRequest, PluginContext, RemapPlugin, RuleInfo } from '../../../src/plugins/api.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { Txn } from '../../../src/proxy/transaction.js';
import { judgeV4, type JudgeCredentials } from '../../support/sigv4-judge.js';

export const FROM = 'http://cdn.example.com/';
export const HOST = 'examplebucket.s3.amazonaws.com';
export const TO = `http://${HOST}/`;

export interface LoggedContext extends PluginContext {
  /** Error-log lines, `LEVEL message key=value…` (without the timestamp). */
  readonly logs: string[];
  readonly warnings: string[];
}

export function loggedContext(configDir = '/etc/remapd'): LoggedContext {
  const logs: string[] = [];
  const warnings: string[] = [];
  return {
    file: join(configDir, 'remap.config'),
    line: 4,
    configDir,
    warn: (m) => warnings.push(m),
    dependsOn: () => {},
    logger: createLogger({ level: 'debug', write: (l) => logs.push(l.replace(/^\S+ /, '').trimEnd()) }),
    logs,
    warnings,
  };
}

/** Log lines at `level` (ERROR, WARN, INFO, DEBUG) that contain `text`. */
export function logged(context: LoggedContext, level: string, text: string | RegExp): string[] {
  return context.logs.filter((l) => l.startsWith(`${level} `) && (typeof text === 'string' ? l.includes(text) : text.test(l)));
}

/** Fails when any log line or warning holds one of `secrets`. */
export function assertNoSecretsLogged(context: LoggedContext, secrets: readonly string[]): void {
  for (const line of [...context.logs, ...context.warnings]) {
    for (const s of secrets) assert.ok(!line.includes(s), `a log line holds a secret: ${line}`);
  }
}

/** A fresh folder under the OS temp dir, removed after the test. */
export function tempFolder(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'remapd-creds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const rule: RuleInfo = { type: 'map', file: '/etc/remapd/remap.config', line: 4, id: 'remap.config:4', fromUrl: FROM, toUrl: TO };

function originRequest(): OriginRequest {
  return {
    method: 'GET',
    scheme: 'http',
    host: HOST,
    port: 80,
    path: '/photos/a b.jpg',
    search: '',
    headers: new HeaderList(['host', HOST]),
    body: null,
    bodyLength: null,
  };
}

function txnFor(req: OriginRequest): Txn {
  const client: ClientRequestInfo = {
    method: req.method,
    target: req.path,
    httpVersion: '1.1',
    headers: new HeaderList(['Host', 'cdn.example.com']),
    scheme: 'http',
    host: 'cdn.example.com',
    port: 80,
    remoteAddress: '192.0.2.7',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
  };
  return new Txn(1, rule, client, req);
}

export interface Signed {
  req: OriginRequest;
  /** The access key in Authorization's Credential=. */
  accessKey: string;
  /** x-amz-security-token, or null. */
  token: string | null;
}

/** Runs the plugin's sendRequest hook on a GET and returns what it set. */
export async function sign(plugin: RemapPlugin): Promise<Signed> {
  const req = originRequest();
  await plugin.sendRequest!(txnFor(req), req);
  const authorization = req.headers.get('authorization') ?? '';
  const accessKey = /Credential=([^/]+)\//.exec(authorization)?.[1] ?? /^AWS ([^:]+):/.exec(authorization)?.[1] ?? '(none)';
  return { req, accessKey, token: req.headers.get('x-amz-security-token') ?? null };
}

/** Asserts the AWS SDK's signer, given `credentials`, computes exactly the Authorization the plugin sent. */
export async function assertSignedWith(signed: Signed, credentials: JudgeCredentials): Promise<void> {
  assert.equal(signed.accessKey, credentials.accessKeyId);
  assert.equal(signed.token, credentials.sessionToken ?? null);
  const captured = { method: signed.req.method, url: signed.req.path + signed.req.search, rawHeaders: signed.req.headers.raw.slice() };
  const { expected, actual } = await judgeV4(captured, credentials, { region: 'us-east-1', service: 's3' });
  assert.equal(actual, expected);
}
