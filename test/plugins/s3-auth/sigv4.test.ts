/**
 * sigv4.ts and sign-v4-request.ts against AWS's published S3 examples ("Signature Calculations for the
 * Authorization Header: Transferring Payload in a Single Chunk", Amazon S3 API Reference), byte for byte, through
 * signV4Request: the function the plugin's sendRequest hook and `remapd sign` both call.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RemapdError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { PluginContext } from '../../../src/plugins/api.js';
import { EMPTY_SHA256 } from '../../../src/plugins/s3-auth/constants.js';
import { readOptions } from '../../../src/plugins/s3-auth/options.js';
import { RegionResolver } from '../../../src/plugins/s3-auth/region.js';
import { buildV4Signer } from '../../../src/plugins/s3-auth/s3-auth.js';
import { SIGN_ALL } from '../../../src/plugins/s3-auth/select-headers.js';
import { type SignableRequest, signV4Request, type V4Signer } from '../../../src/plugins/s3-auth/sign-v4-request.js';
import { SecretKeySource } from '../../../src/plugins/s3-auth/signing-keys.js';
import { deriveSigningKey, formatAmzDate, scopeString, sha256Hex } from '../../../src/plugins/s3-auth/sigv4.js';
import { HeaderList } from '../../../src/proxy/header-list.js';

const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const HOST = 'examplebucket.s3.amazonaws.com';
const AMZ_DATE = '20130524T000000Z';
const NOW = new Date('2013-05-24T00:00:00Z');
const PUT_PAYLOAD_HASH = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072';

/** The signer the AWS examples use, built by hand: region from the host (us-east-1), every field signed. */
function exampleSigner(): V4Signer {
  return {
    accessKey: ACCESS_KEY,
    keys: new SecretKeySource(SECRET_KEY),
    sessionToken: null,
    regions: new RegionResolver({}),
    service: 's3',
    selection: SIGN_ALL,
    plusIsSpace: true,
  };
}

function request(method: string, path: string, search: string, headers: string[]): SignableRequest {
  return { method, host: HOST, path, search, headers: new HeaderList(headers) };
}

const silentContext: PluginContext = {
  file: '/etc/remapd/remap.config',
  line: 1,
  configDir: '/etc/remapd',
  warn: () => {},
  dependsOn: () => {},
  logger: createLogger({ level: 'error', write: () => {} }),
};

describe('AWS S3 example: GET Object (first 10 bytes of test.txt)', () => {
  const canonicalRequest = [
    'GET',
    '/test.txt',
    '',
    `host:${HOST}`,
    'range:bytes=0-9',
    `x-amz-content-sha256:${EMPTY_SHA256}`,
    `x-amz-date:${AMZ_DATE}`,
    '',
    'host;range;x-amz-content-sha256;x-amz-date',
    EMPTY_SHA256,
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    AMZ_DATE,
    '20130524/us-east-1/s3/aws4_request',
    '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
  ].join('\n');
  const signature = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';

  test('gives the canonical request, string to sign and signature AWS documents', () => {
    const req = request('GET', '/test.txt', '', ['Host', HOST, 'Range', 'bytes=0-9', 'x-amz-content-sha256', EMPTY_SHA256, 'x-amz-date', AMZ_DATE]);
    const r = signV4Request(req, exampleSigner(), NOW, EMPTY_SHA256);
    assert.equal(r.canonicalRequest, canonicalRequest);
    assert.equal(r.stringToSign, stringToSign);
    assert.equal(r.signedHeaders, 'host;range;x-amz-content-sha256;x-amz-date');
    assert.equal(r.signature, signature);
    assert.deepEqual(r.scope, { date: '20130524', region: 'us-east-1', service: 's3' });
  });

  test('sets the Authorization field it returns', () => {
    const req = request('GET', '/test.txt', '', ['Host', HOST, 'Range', 'bytes=0-9', 'x-amz-content-sha256', EMPTY_SHA256, 'x-amz-date', AMZ_DATE]);
    const r = signV4Request(req, exampleSigner(), NOW, EMPTY_SHA256);
    const expected =
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/20130524/us-east-1/s3/aws4_request, ` +
      `SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=${signature}`;
    assert.equal(r.authorization, expected);
    assert.deepEqual(req.headers.getAll('authorization'), [expected]);
  });

  test('fills in x-amz-date from the clock and x-amz-content-sha256 from the payload hash when they are missing', () => {
    const req = request('GET', '/test.txt', '', ['Host', HOST, 'Range', 'bytes=0-9']);
    const r = signV4Request(req, exampleSigner(), NOW, EMPTY_SHA256);
    assert.equal(req.headers.get('x-amz-date'), AMZ_DATE);
    assert.equal(req.headers.get('x-amz-content-sha256'), EMPTY_SHA256);
    assert.equal(r.canonicalRequest, canonicalRequest);
    assert.equal(r.signature, signature);
  });

  test('gives the same signature through buildV4Signer, the plugin\'s own signer', () => {
    const read = readOptions(['--version=4', `--access_key=${ACCESS_KEY}`, `--secret_key=${SECRET_KEY}`], silentContext);
    assert.ok('options' in read, JSON.stringify(read));
    const req = request('GET', '/test.txt', '', ['Host', HOST, 'Range', 'bytes=0-9']);
    assert.equal(signV4Request(req, buildV4Signer(read.options, silentContext), NOW, EMPTY_SHA256).signature, signature);
  });
});

describe('AWS S3 example: PUT Object (test$file.text, reduced redundancy)', () => {
  test('the payload is "Welcome to Amazon S3."', () => {
    assert.equal(sha256Hex('Welcome to Amazon S3.'), PUT_PAYLOAD_HASH);
  });

  test('encodes `$` in the key and signs Date and x-amz-storage-class as AWS documents', () => {
    const req = request('PUT', '/test$file.text', '', [
      'Host', HOST,
      'Date', 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-date', AMZ_DATE,
      'x-amz-storage-class', 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256', PUT_PAYLOAD_HASH,
    ]);
    const r = signV4Request(req, exampleSigner(), NOW, 'UNSIGNED-PAYLOAD');
    assert.equal(
      r.canonicalRequest,
      [
        'PUT',
        '/test%24file.text',
        '',
        'date:Fri, 24 May 2013 00:00:00 GMT',
        `host:${HOST}`,
        `x-amz-content-sha256:${PUT_PAYLOAD_HASH}`,
        `x-amz-date:${AMZ_DATE}`,
        'x-amz-storage-class:REDUCED_REDUNDANCY',
        '',
        'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
        PUT_PAYLOAD_HASH,
      ].join('\n'),
    );
    assert.equal(r.stringToSign.split('\n')[3], '9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d');
    assert.equal(r.signature, '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
    assert.equal(req.path, '/test%24file.text', 'the request goes out with the path it was signed with');
  });

  test('a client that already encoded `$` gets the same signature', () => {
    const req = request('PUT', '/test%24file.text', '', ['Host', HOST, 'Date', 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class', 'REDUCED_REDUNDANCY']);
    assert.equal(signV4Request(req, exampleSigner(), NOW, PUT_PAYLOAD_HASH).signature, '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
  });
});

describe('AWS S3 example: GET Bucket Lifecycle', () => {
  test('signs the bare `lifecycle` parameter as `lifecycle=` and sends it bare', () => {
    const req = request('GET', '/', '?lifecycle', ['Host', HOST]);
    const r = signV4Request(req, exampleSigner(), NOW, EMPTY_SHA256);
    assert.equal(
      r.canonicalRequest,
      ['GET', '/', 'lifecycle=', `host:${HOST}`, `x-amz-content-sha256:${EMPTY_SHA256}`, `x-amz-date:${AMZ_DATE}`, '', 'host;x-amz-content-sha256;x-amz-date', EMPTY_SHA256].join('\n'),
    );
    assert.equal(r.stringToSign.split('\n')[3], '9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca');
    assert.equal(r.signature, 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
    assert.equal(req.search, '?lifecycle');
  });
});

describe('AWS S3 example: GET Bucket (List Objects)', () => {
  test('signs ?max-keys=2&prefix=J', () => {
    const req = request('GET', '/', '?max-keys=2&prefix=J', ['Host', HOST]);
    const r = signV4Request(req, exampleSigner(), NOW, EMPTY_SHA256);
    assert.equal(
      r.canonicalRequest,
      ['GET', '/', 'max-keys=2&prefix=J', `host:${HOST}`, `x-amz-content-sha256:${EMPTY_SHA256}`, `x-amz-date:${AMZ_DATE}`, '', 'host;x-amz-content-sha256;x-amz-date', EMPTY_SHA256].join('\n'),
    );
    assert.equal(r.stringToSign.split('\n')[3], 'df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7');
    assert.equal(r.signature, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  });

  test('gives the same signature when the client sent the parameters in the other order', () => {
    const req = request('GET', '/', '?prefix=J&max-keys=2', ['Host', HOST]);
    assert.equal(signV4Request(req, exampleSigner(), NOW, EMPTY_SHA256).signature, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
    assert.equal(req.search, '?prefix=J&max-keys=2', 'the wire keeps the client order');
  });
});

describe('AWS example: deriving the signing key', () => {
  test('derives f4780e2d… for 20120215/us-east-1/iam', () => {
    const key = deriveSigningKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', { date: '20120215', region: 'us-east-1', service: 'iam' });
    assert.equal(key.toString('hex'), 'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });
});

describe('signV4Request details', () => {
  test('formats the clock as ISO 8601 basic, UTC, without milliseconds', () => {
    assert.equal(formatAmzDate(new Date('2013-05-24T00:00:00.999Z')), '20130524T000000Z');
    assert.equal(formatAmzDate(new Date('2015-08-30T12:36:00Z')), '20150830T123600Z');
  });

  test('scopes by date/region/service/aws4_request', () => {
    assert.equal(scopeString({ date: '20130524', region: 'eu-west-1', service: 's3' }), '20130524/eu-west-1/s3/aws4_request');
  });

  test('takes the region from the Host field, without its port', () => {
    const req: SignableRequest = { method: 'GET', host: '10.0.0.1', path: '/k', search: '', headers: new HeaderList(['Host', 'b.s3.eu-west-1.amazonaws.com:443']) };
    assert.equal(signV4Request(req, exampleSigner(), NOW, EMPTY_SHA256).scope.region, 'eu-west-1');
  });

  test('refuses an x-amz-date that is not YYYYMMDDTHHMMSSZ', () => {
    const req = request('GET', '/k', '', ['Host', HOST, 'x-amz-date', 'Fri, 24 May 2013 00:00:00 GMT']);
    assert.throws(
      () => signV4Request(req, exampleSigner(), NOW, EMPTY_SHA256),
      (err: unknown) => err instanceof RemapdError && err.code === 'ERR_PLUGIN' && /YYYYMMDDTHHMMSSZ/.test(err.detail ?? ''),
    );
  });

  test('adds x-amz-security-token when a session token is configured, and signs it', () => {
    const req = request('GET', '/k', '', ['Host', HOST]);
    const r = signV4Request(req, { ...exampleSigner(), sessionToken: 'TOKEN/+=' }, NOW, EMPTY_SHA256);
    assert.equal(req.headers.get('x-amz-security-token'), 'TOKEN/+=');
    assert.equal(r.signedHeaders, 'host;x-amz-content-sha256;x-amz-date;x-amz-security-token');
    assert.match(r.canonicalRequest, /\nx-amz-security-token:TOKEN\/\+=\n/);
  });
});
