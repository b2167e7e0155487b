/**
 * s3_auth.so with Signature V2 (createS3AuthPlugin, its sendRequest hook) on hand-built origin requests and a
 * pinned clock: what the origin receives, and what the options are allowed to say. Expected signatures are
 * recomputed here with node:crypto from the expected string to sign, so the test does not trust the signer.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { PluginArgumentError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { ClientRequestInfo, OriginRequest, PluginContext, RemapPlugin, RuleInfo } from '../../../src/plugins/api.js';
import { readOptions } from '../../../src/plugins/s3-auth/options.js';
import { buildV2Signer, createS3AuthPlugin } from '../../../src/plugins/s3-auth/s3-auth.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { Txn } from '../../../src/proxy/transaction.js';

const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const FROM = 'http://cdn.test/';
const TO = 'https://johnsmith.s3.amazonaws.com/';
const CREDENTIALS = [`--access_key=${ACCESS_KEY}`, `--secret_key=${SECRET_KEY}`];

/** The pinned clock: Tue, 27 Mar 2007 19:36:42 GMT. */
const T0 = new Date(Date.UTC(2007, 2, 27, 19, 36, 42));
const T0_HTTP = 'Tue, 27 Mar 2007 19:36:42 GMT';

function hmacSha1(stringToSign: string): string {
  return createHmac('sha1', SECRET_KEY).update(stringToSign, 'utf8').digest('base64');
}

/** A plugin context that records warnings. */
function recordingContext(): { context: PluginContext; warnings: string[] } {
  const warnings: string[] = [];
  const context: PluginContext = {
    file: '/etc/remapd/remap.config',
    line: 7,
    configDir: '/etc/remapd',
    warn: (m) => warnings.push(m),
    dependsOn: () => {},
    logger: createLogger({ level: 'error', write: () => {} }),
  };
  return { context, warnings };
}

function plugin(params: string[], now: () => Date = () => T0): { plugin: RemapPlugin; warnings: string[] } {
  const { context, warnings } = recordingContext();
  return { plugin: createS3AuthPlugin([FROM, TO, ...params], context, { now }), warnings };
}

const RULE: RuleInfo = { type: 'map', file: '/etc/remapd/remap.config', line: 7, id: 'remap.config:7', fromUrl: FROM, toUrl: TO };

/** An origin request as the proxy hands it to sendRequest. */
function originRequest(parts: { method?: string; host?: string; path: string; search?: string; headers?: string[] }): OriginRequest {
  const host = parts.host ?? 'johnsmith.s3.amazonaws.com';
  return {
    method: parts.method ?? 'GET',
    scheme: 'https',
    host: host.replace(/:\d+$/, ''),
    port: 443,
    path: parts.path,
    search: parts.search ?? '',
    headers: new HeaderList(['Host', host, ...(parts.headers ?? [])]),
    body: null,
    bodyLength: null,
  };
}

async function send(p: RemapPlugin, req: OriginRequest): Promise<OriginRequest> {
  const client: ClientRequestInfo = {
    method: req.method,
    target: req.path + req.search,
    httpVersion: '1.1',
    headers: new HeaderList(),
    scheme: 'http',
    host: 'cdn.test',
    port: 80,
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
  };
  assert.ok(p.sendRequest, 'the plugin signs on sendRequest');
  await p.sendRequest(new Txn(1, RULE, client, req), req);
  return req;
}

function assertAuthorization(req: OriginRequest, stringToSign: string): void {
  assert.deepEqual(req.headers.getAll('authorization'), [`AWS ${ACCESS_KEY}:${hmacSha1(stringToSign)}`]);
}

describe('s3_auth --version=2 on the origin request', () => {
  test('sets Date to the signing time in RFC 1123 with GMT and signs it', async () => {
    const { plugin: p } = plugin(['--version=2', ...CREDENTIALS]);
    const req = await send(p, originRequest({ path: '/photos/puppy.jpg' }));
    assert.deepEqual(req.headers.getAll('date'), [T0_HTTP]);
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\n/johnsmith/photos/puppy.jpg`);
  });

  test('Authorization is "AWS AccessKeyId:Signature" with a base64 HMAC-SHA1', async () => {
    const { plugin: p } = plugin(['--version=2', ...CREDENTIALS]);
    const req = await send(p, originRequest({ path: '/k' }));
    assert.match(req.headers.get('authorization')!, /^AWS AKIAIOSFODNN7EXAMPLE:[A-Za-z0-9+/]{27}=$/);
  });

  test("replaces the client's Date, however many it sent, keeping the field's position", async () => {
    const { plugin: p } = plugin(['--version=2', ...CREDENTIALS]);
    const req = await send(
      p,
      originRequest({ path: '/k', headers: ['Date', 'Mon, 01 Jan 2001 00:00:00 GMT', 'Accept', '*/*', 'date', 'Tue, 02 Jan 2001 00:00:00 GMT'] }),
    );
    assert.deepEqual(req.headers.getAll('date'), [T0_HTTP]);
    assert.deepEqual(
      req.headers.entries().map(([n]) => n.toLowerCase()),
      ['host', 'date', 'accept', 'authorization'],
    );
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\n/johnsmith/k`);
  });

  test("removes the client's Authorization, x-amz-date, x-amz-security-token and x-amz-content-sha256", async () => {
    const { plugin: p } = plugin(['--version=2', ...CREDENTIALS]);
    const req = await send(
      p,
      originRequest({
        path: '/k',
        headers: [
          'Authorization', 'AWS CLIENTKEY:forged=',
          'X-Amz-Date', 'Mon, 01 Jan 2001 00:00:00 GMT',
          'x-amz-security-token', 'client-token',
          'X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD',
          'x-amz-meta-kept', 'yes',
        ],
      }),
    );
    assert.equal(req.headers.has('x-amz-date'), false);
    assert.equal(req.headers.has('x-amz-security-token'), false);
    assert.equal(req.headers.has('x-amz-content-sha256'), false);
    assert.deepEqual(req.headers.getAll('date'), [T0_HTTP], 'with the client x-amz-date gone, Date is set and signed');
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\nx-amz-meta-kept:yes\n/johnsmith/k`);
  });

  test('signs each attempt afresh: a retry gets a new Date and a new signature', async () => {
    let now = T0;
    const { plugin: p } = plugin(['--version=2', ...CREDENTIALS], () => now);
    const req = originRequest({ path: '/k' });
    await send(p, req);
    const first = req.headers.get('authorization');
    now = new Date(T0.getTime() + 61_000);
    await send(p, req);
    assert.deepEqual(req.headers.getAll('date'), ['Tue, 27 Mar 2007 19:37:43 GMT']);
    assert.notEqual(req.headers.get('authorization'), first);
    assertAuthorization(req, 'GET\n\n\nTue, 27 Mar 2007 19:37:43 GMT\n/johnsmith/k');
  });

  test('the path and query go out and are signed exactly as sent, not re-encoded', async () => {
    const { plugin: p } = plugin(['--version=2', ...CREDENTIALS]);
    const path = "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re/a+b/%41/it's(1)";
    const search = '?versionId=a%2Bb%20c&prefix=x%2Fy';
    const req = await send(p, originRequest({ path, search }));
    assert.equal(req.path, path);
    assert.equal(req.search, search);
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\n/johnsmith${path}?versionId=a+b c`);
  });

  test('a path-style origin keeps the bucket in the path', async () => {
    const { plugin: p } = plugin(['--version=2', ...CREDENTIALS]);
    const req = await send(p, originRequest({ host: 's3.amazonaws.com', path: '/johnsmith/photos/puppy.jpg', search: '?acl' }));
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\n/johnsmith/photos/puppy.jpg?acl`);
  });

  test('--virtual_host: a CNAME Host (port dropped) is the bucket', async () => {
    const { plugin: p } = plugin(['--version=2', '--virtual_host', ...CREDENTIALS]);
    const req = await send(p, originRequest({ method: 'PUT', host: 'static.johnsmith.net:8080', path: '/db-backup.dat.gz', headers: ['Content-Type', 'application/x-download'] }));
    assertAuthorization(req, `PUT\n\napplication/x-download\n${T0_HTTP}\n/static.johnsmith.net/db-backup.dat.gz`);
  });

  test('--v2-endpoint: BUCKET.endpoint is virtual-hosted', async () => {
    const { plugin: p } = plugin(['--version=2', '--v2-endpoint=rgw.example.net', ...CREDENTIALS]);
    const req = await send(p, originRequest({ host: 'media.rgw.example.net:7480', path: '/a.jpg' }));
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\n/media/a.jpg`);
  });

  test('--session_token: our token is sent and signed, the client\'s is not', async () => {
    const { plugin: p } = plugin(['--version=2', ...CREDENTIALS, '--session_token=OUR-TOKEN']);
    const req = await send(p, originRequest({ path: '/k', headers: ['X-Amz-Security-Token', 'client-token'] }));
    assert.deepEqual(req.headers.getAll('x-amz-security-token'), ['OUR-TOKEN']);
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\nx-amz-security-token:OUR-TOKEN\n/johnsmith/k`);
  });

  test('--version=awsv2 is V2 too', async () => {
    const { plugin: p, warnings } = plugin(['--version=awsv2', ...CREDENTIALS]);
    const req = await send(p, originRequest({ path: '/k' }));
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\n/johnsmith/k`);
    assert.deepEqual(warnings, []);
  });
});

describe('s3_auth V2 options', () => {
  test('no --version means V2, as in ATS, with a warning that V2 is legacy', async () => {
    const { plugin: p, warnings } = plugin([...CREDENTIALS]);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /V2/);
    assert.match(warnings[0]!, /legacy/);
    assert.match(warnings[0]!, /--version=4/);
    const req = await send(p, originRequest({ path: '/k' }));
    assertAuthorization(req, `GET\n\n\n${T0_HTTP}\n/johnsmith/k`);
  });

  test('an explicit --version=2 is not warned about', () => {
    const { warnings } = plugin(['--version=2', ...CREDENTIALS]);
    assert.deepEqual(warnings, []);
  });

  test('V4-only options with --version=2 are a warning naming each of them', () => {
    const { warnings } = plugin([
      '--version=2',
      ...CREDENTIALS,
      '--region=eu-west-1',
      '--v4-include-headers=range',
      '--v4_exclude_headers=user-agent',
      '--service=s3',
      '--v4-payload=signed',
      '--v4-payload-max=1M',
    ]);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    for (const name of ['--v4-include-headers', '--v4-exclude-headers', '--region', '--service', '--v4-payload', '--v4-payload-max']) {
      assert.ok(warnings[0]!.includes(name), `${name} in: ${warnings[0]}`);
    }
    assert.match(warnings[0]!, /only affect Signature V4 and are ignored with --version=2/);
  });

  test('scoped signing keys with V2 are a configuration error', () => {
    const { context } = recordingContext();
    const key = Buffer.alloc(32, 1).toString('base64');
    assert.throws(
      () =>
        createS3AuthPlugin(
          [FROM, TO, '--version=2', `--access_key=${ACCESS_KEY}`, `--signing_key=${key}`, '--key_scope=20130524/us-east-1/s3/aws4_request'],
          context,
        ),
      (err: unknown) => err instanceof PluginArgumentError && /scoped signing keys exist only in Signature V4/.test(err.message),
    );
    assert.throws(
      () => createS3AuthPlugin([FROM, TO, '--version=2', `--access_key=${ACCESS_KEY}`, '--signing_key_file=keys.txt'], context),
      (err: unknown) => err instanceof PluginArgumentError && /scoped signing keys exist only in Signature V4/.test(err.message),
    );
  });

  test('a missing secret is an error', () => {
    const { context } = recordingContext();
    assert.throws(
      () => createS3AuthPlugin([FROM, TO, '--version=2', `--access_key=${ACCESS_KEY}`], context),
      (err: unknown) => err instanceof PluginArgumentError && /no credentials/.test(err.message),
    );
  });

  test('a missing access key is an error', () => {
    const { context } = recordingContext();
    assert.throws(
      () => createS3AuthPlugin([FROM, TO, '--version=2', `--secret_key=${SECRET_KEY}`], context),
      (err: unknown) => err instanceof PluginArgumentError && /no --access_key given/.test(err.message),
    );
  });

  test('buildV2Signer refuses options without a secret', () => {
    const { context } = recordingContext();
    const read = readOptions(['--version=2', ...CREDENTIALS], context);
    assert.ok('options' in read);
    assert.throws(() => buildV2Signer({ ...read.options, secretKey: null }), (err: unknown) => err instanceof PluginArgumentError && /Signature V2 needs --secret_key/.test(err.message));
  });
});
