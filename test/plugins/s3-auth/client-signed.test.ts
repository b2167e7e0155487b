/**
 * A request that arrives already signed by its client (issue 8): s3_auth removes the client's authentication —
 * header or presigned query — and signs with its own keys (`--client-signed=resign`, the default), or forwards it
 * untouched (`--client-signed=passthrough`). Every other query parameter is kept byte for byte.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../../src/observability/logger.js';
import type { ClientRequestInfo, OriginRequest, PluginContext, RemapPlugin, RuleInfo } from '../../../src/plugins/api.js';
import { hasClientAuth, hasQueryAuth, stripQueryAuth } from '../../../src/plugins/s3-auth/client-auth.js';
import { createS3AuthPlugin } from '../../../src/plugins/s3-auth/s3-auth.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { Txn } from '../../../src/proxy/transaction.js';
import { judgeV4 } from '../../support/sigv4-judge.js';

const ACCESS_KEY = 'AKIDORIGIN';
const SECRET_KEY = 'origin-secret-key';
const HOST = 'bucket.s3.amazonaws.com';
const NOW = new Date('2026-11-23T10:00:00Z');

const context: PluginContext = {
  file: '/etc/remapd/remap.config',
  line: 1,
  configDir: '/etc/remapd',
  warn: () => {},
  dependsOn: () => {},
  logger: createLogger({ level: 'error', write: () => {} }),
};
const rule: RuleInfo = { type: 'map', file: context.file, line: 1, id: 'remap.config:1', fromUrl: 'http://s3.mydomain.test/', toUrl: `http://${HOST}/` };

function plugin(...params: string[]): RemapPlugin {
  return createS3AuthPlugin([rule.fromUrl, rule.toUrl, '--version=4', `--access_key=${ACCESS_KEY}`, `--secret_key=${SECRET_KEY}`, ...params], context, {
    now: () => NOW,
  });
}

function originRequest(search: string, extra: string[] = []): OriginRequest {
  return {
    method: 'GET',
    scheme: 'http',
    host: HOST,
    port: 80,
    path: '/photos/cat.jpg',
    search,
    headers: new HeaderList(['host', HOST, ...extra]),
    body: null,
    bodyLength: null,
  };
}

function txnFor(req: OriginRequest): Txn {
  const client: ClientRequestInfo = {
    method: req.method,
    target: req.path + req.search,
    httpVersion: '1.1',
    headers: new HeaderList(['Host', 's3.mydomain.test']),
    scheme: 'http',
    host: 's3.mydomain.test',
    port: 80,
    remoteAddress: '192.0.2.7',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
  };
  return new Txn(1, rule, client, req);
}

const PRESIGNED_V4 =
  '?response-content-type=image%2Fjpeg&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDCLIENT%2F20261123%2Fus-east-1%2Fs3%2Faws4_request' +
  '&X-Amz-Date=20261123T095900Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok&X-Amz-Signature=abcdef&versionId=3';
const PRESIGNED_V2 = '?AWSAccessKeyId=AKIDCLIENT&Expires=1795000000&Signature=abc%2Bdef%3D&partNumber=2&uploadId=u1';

describe('query authentication is recognised and removed, everything else kept', () => {
  test('V4 presigned parameters go, response-* and versionId stay in order and spelling', () => {
    assert.equal(hasQueryAuth(PRESIGNED_V4), true);
    assert.equal(stripQueryAuth(PRESIGNED_V4), '?response-content-type=image%2Fjpeg&versionId=3');
  });
  test('V2 query auth goes with its Expires; partNumber and uploadId stay', () => {
    assert.equal(hasQueryAuth(PRESIGNED_V2), true);
    assert.equal(stripQueryAuth(PRESIGNED_V2), '?partNumber=2&uploadId=u1');
  });
  test('half of V2 query auth is still removed, with its Expires', () => {
    assert.equal(stripQueryAuth('?Signature=abc&Expires=1&keep=1'), '?keep=1');
    assert.equal(stripQueryAuth('?AWSAccessKeyId=AKID&keep=1'), '?keep=1');
    assert.equal(hasQueryAuth('?AWSAccessKeyId=AKID'), true);
  });

  test('a plain Expires parameter without a V2 signature is not authentication and stays', () => {
    assert.equal(hasQueryAuth('?Expires=5&list-type=2'), false);
    assert.equal(stripQueryAuth('?Expires=5&list-type=2'), '?Expires=5&list-type=2');
  });
  test('encoded or differently cased names are still caught; a query of auth only becomes empty', () => {
    assert.equal(stripQueryAuth('?X%2DAmz%2DSignature=1&x-amz-credential=2'), '');
    assert.equal(stripQueryAuth('?acl'), '?acl');
  });
  test('hasClientAuth: Authorization header or a signed query', () => {
    assert.equal(hasClientAuth(new HeaderList(['Authorization', 'AWS4-HMAC-SHA256 x']), ''), true);
    assert.equal(hasClientAuth(new HeaderList(['Host', 'h']), '?uploads'), false);
  });
});

describe('--client-signed', () => {
  test('resign (default): a presigned client request goes out header-signed with our keys, other parameters kept', async () => {
    const req = originRequest(PRESIGNED_V4);
    await plugin().sendRequest!(txnFor(req), req);
    assert.equal(req.search, '?response-content-type=image%2Fjpeg&versionId=3');
    const auth = req.headers.get('authorization')!;
    assert.match(auth, /^AWS4-HMAC-SHA256 Credential=AKIDORIGIN\//);
    const { expected, actual } = await judgeV4(
      { method: req.method, url: req.path + req.search, rawHeaders: req.headers.raw.slice() },
      { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      { region: 'us-east-1', service: 's3' },
    );
    assert.equal(actual, expected);
  });

  test('resign: the client Authorization header and its x-amz-date/-content-sha256/-security-token are replaced', async () => {
    const req = originRequest('', [
      'Authorization', 'AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00',
      'x-amz-date', '20200101T000000Z',
      'x-amz-security-token', 'client-token',
    ]);
    await plugin().sendRequest!(txnFor(req), req);
    assert.equal(req.headers.getAll('authorization').length, 1);
    assert.match(req.headers.get('authorization')!, /Credential=AKIDORIGIN\//);
    assert.equal(req.headers.get('x-amz-date'), '20261123T100000Z');
    assert.equal(req.headers.has('x-amz-security-token'), false);
  });

  test('passthrough: a client-signed request is forwarded untouched, header or query', async () => {
    const p = plugin('--client-signed=passthrough');
    const q = originRequest(PRESIGNED_V4);
    await p.sendRequest!(txnFor(q), q);
    assert.equal(q.search, PRESIGNED_V4);
    assert.equal(q.headers.has('authorization'), false);
    const h = originRequest('', ['Authorization', 'AWS AKIDCLIENT:sig=', 'Date', 'Mon, 23 Nov 2026 10:00:00 GMT']);
    await p.sendRequest!(txnFor(h), h);
    assert.equal(h.headers.get('authorization'), 'AWS AKIDCLIENT:sig=');
  });

  test('passthrough: an unsigned request is still signed with our keys', async () => {
    const req = originRequest('?versionId=3');
    await plugin('--client-signed=passthrough').sendRequest!(txnFor(req), req);
    assert.match(req.headers.get('authorization')!, /Credential=AKIDORIGIN\//);
  });

  test('V2 resign drops V2 query auth and signs with Date', async () => {
    const p = createS3AuthPlugin([rule.fromUrl, rule.toUrl, '--version=2', `--access_key=${ACCESS_KEY}`, `--secret_key=${SECRET_KEY}`], context, { now: () => NOW });
    const req = originRequest(PRESIGNED_V2);
    await p.sendRequest!(txnFor(req), req);
    assert.equal(req.search, '?partNumber=2&uploadId=u1');
    assert.match(req.headers.get('authorization')!, /^AWS AKIDORIGIN:/);
  });

  test('Content-Length: 0 on a bodyless DELETE is neither signed nor sent (undici does not write it; the aws CLI sends it)', async () => {
    const req = { ...originRequest('', ['Content-Length', '0']), method: 'DELETE' };
    await plugin().sendRequest!(txnFor(req), req);
    assert.equal(req.headers.has('content-length'), false);
    assert.doesNotMatch(req.headers.get('authorization')!, /content-length/);
    const put = { ...originRequest('', ['Content-Length', '0']), method: 'PUT' };
    await plugin().sendRequest!(txnFor(put), put);
    assert.equal(put.headers.get('content-length'), '0', 'a PUT of nothing keeps its length');
  });

  test('an unknown value is refused at load', () => {
    assert.throws(() => plugin('--client-signed=sometimes'), /--client-signed must be "resign" or "passthrough"/);
  });
});
