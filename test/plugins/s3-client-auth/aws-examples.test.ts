/**
 * AWS's published example requests, verified exactly as printed in the documentation (fixed vectors: the request
 * as the client sends it and the signature AWS computed for it, with AKIAIOSFODNN7EXAMPLE /
 * wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY):
 *
 * - "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk" — GET Object,
 *   PUT Object, GET Bucket Lifecycle, Get Bucket (List Objects);
 * - "Authenticating Requests: Using Query Parameters" — the presigned GET;
 * - "Transferring Payload in Multiple Chunks" and "Signature calculations for trailing headers" — the seed
 *   signatures of the chunked PUT examples (the chunks are in aws-chunked.test.ts);
 * - "Signing and Authenticating REST Requests" (Signature Version 2) — Object GET/PUT, List, Fetch ACL, Delete
 *   with x-amz-date, List all buckets, Unicode keys, and the query-string example.
 *
 * The V2 Delete example's signature in AWS's page is known to be wrong (its string to sign has one newline too few);
 * R4dJ53KECjStyBO5iTBJZ4XVOaI= is the signature of the string to sign the page describes, as every independent
 * implementation computes it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EMPTY_SHA256 } from '../../../src/plugins/s3-auth/constants.js';
import type { AuthRequest, VerifyOptions } from '../../../src/plugins/s3-client-auth/verify.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { accepted, DOC_KEY, options, refused } from './support.js';

const T = { timeout: 10_000 };
const MAY_24_2013 = Date.UTC(2013, 4, 24);

function request(method: string, target: string, headers: string[]): AuthRequest {
  const q = target.indexOf('?');
  return { method, path: q < 0 ? target : target.slice(0, q), search: q < 0 ? '' : target.slice(q), headers: new HeaderList(headers) };
}

function v4Auth(signedHeaders: string, signature: string, scope = '20130524/us-east-1/s3/aws4_request'): string {
  return `AWS4-HMAC-SHA256 Credential=${DOC_KEY}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
}

const AT_2013: VerifyOptions = options({ now: MAY_24_2013, region: 'us-east-1' });
const HOST = ['Host', 'examplebucket.s3.amazonaws.com'];

describe('SigV4: AWS\'s single-chunk examples', () => {
  test('GET Object with Range', T, () => {
    const req = request('GET', '/test.txt', [
      ...HOST,
      'Range', 'bytes=0-9',
      'x-amz-content-sha256', EMPTY_SHA256,
      'x-amz-date', '20130524T000000Z',
      'Authorization', v4Auth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
    ]);
    const v = accepted(req, AT_2013);
    assert.deepEqual([v.accessKey, v.bucket, v.key, v.form], [DOC_KEY, 'examplebucket', 'test.txt', 'header']);
  });

  test('PUT Object: a raw "$" in the key is canonicalised as %24, Date is signed alongside x-amz-date', T, () => {
    const hash = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072';
    const req = request('PUT', '/test$file.text', [
      ...HOST,
      'Date', 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-date', '20130524T000000Z',
      'x-amz-storage-class', 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256', hash,
      'Authorization', v4Auth('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
    ]);
    const v = accepted(req, AT_2013);
    assert.equal(v.key, 'test$file.text');
    assert.deepEqual(v.payload, { kind: 'sha256', hash });
  });

  test('GET Bucket Lifecycle: a bare ?lifecycle is signed as "lifecycle="', T, () => {
    const req = request('GET', '/?lifecycle', [
      ...HOST,
      'x-amz-date', '20130524T000000Z',
      'x-amz-content-sha256', EMPTY_SHA256,
      'Authorization', v4Auth('host;x-amz-content-sha256;x-amz-date', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'),
    ]);
    const v = accepted(req, AT_2013);
    assert.deepEqual([v.bucket, v.key], ['examplebucket', '']);
  });

  test('Get Bucket (List Objects): the query is sorted whatever its order on the wire', T, () => {
    const headers = [
      ...HOST,
      'x-amz-date', '20130524T000000Z',
      'x-amz-content-sha256', EMPTY_SHA256,
      'Authorization', v4Auth('host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'),
    ];
    accepted(request('GET', '/?max-keys=2&prefix=J', headers), AT_2013);
    accepted(request('GET', '/?prefix=J&max-keys=2', headers), AT_2013);
    refused(request('GET', '/?prefix=K&max-keys=2', headers), 'SignatureDoesNotMatch', AT_2013);
  });

  test('a day later the same requests are RequestTimeTooSkewed', T, () => {
    const req = request('GET', '/?lifecycle', [
      ...HOST,
      'x-amz-date', '20130524T000000Z',
      'x-amz-content-sha256', EMPTY_SHA256,
      'Authorization', v4Auth('host;x-amz-content-sha256;x-amz-date', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'),
    ]);
    refused(req, 'RequestTimeTooSkewed', options({ now: MAY_24_2013 + 86_400_000 }));
  });
});

describe('SigV4: AWS\'s presigned URL example', () => {
  const url =
    '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';

  test('verifies during its 24 hours, and not after', T, () => {
    const v = accepted(request('GET', url, HOST), options({ now: MAY_24_2013 + 3_600_000 }));
    assert.deepEqual([v.form, v.payload, v.bucket, v.key], ['query', { kind: 'none' }, 'examplebucket', 'test.txt']);
    accepted(request('GET', url, HOST), options({ now: MAY_24_2013 + 86_400_000 }));
    refused(request('GET', url, HOST), 'AccessDenied', options({ now: MAY_24_2013 + 86_400_001 }));
  });
});

describe('SigV4: the seed signatures of AWS\'s chunked PUT examples', () => {
  const common = [
    ...HOST.slice(0, 1), 's3.amazonaws.com',
    'x-amz-date', '20130524T000000Z',
    'x-amz-storage-class', 'REDUCED_REDUNDANCY',
    'Content-Encoding', 'aws-chunked',
    'x-amz-decoded-content-length', '66560',
  ];

  test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: seed 4f232c43…, a chunked check chained from it', T, () => {
    const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
    const req = request('PUT', '/examplebucket/chunkObject.txt', [
      ...common,
      'Content-Length', '66824',
      'x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'Authorization', v4Auth('content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class', seed),
    ]);
    const v = accepted(req, AT_2013);
    assert.deepEqual([v.bucket, v.key], ['examplebucket', 'chunkObject.txt']);
    assert.equal(v.payload.kind, 'chunked');
    if (v.payload.kind !== 'chunked') return;
    assert.equal(v.payload.signed, true);
    assert.equal(v.payload.trailer, false);
    assert.equal(v.payload.seedSignature, seed);
    assert.equal(v.payload.amzDate, '20130524T000000Z');
    assert.equal(v.payload.scope, '20130524/us-east-1/s3/aws4_request');
    assert.equal(v.payload.decodedLength, 66560);
    assert.equal(v.payload.trailerHeader, null);
  });

  test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: seed 106e2a8a…, trailer x-amz-checksum-crc32c', T, () => {
    const seed = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';
    const req = request('PUT', '/examplebucket/chunkObject.txt', [
      ...common,
      'x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'x-amz-trailer', 'x-amz-checksum-crc32c',
      'Authorization', v4Auth('content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer', seed),
    ]);
    const v = accepted(req, AT_2013);
    assert.equal(v.payload.kind, 'chunked');
    if (v.payload.kind !== 'chunked') return;
    assert.deepEqual([v.payload.signed, v.payload.trailer, v.payload.trailerHeader], [true, true, 'x-amz-checksum-crc32c']);
  });
});

describe('SigV2: AWS\'s "Signing and Authenticating REST Requests" examples', () => {
  const v2 = (date: number) => options({ now: date });
  const at = (s: string) => Date.parse(s);

  test('Object GET, virtual-host style', T, () => {
    const req = request('GET', '/photos/puppy.jpg', [
      'Host', 'johnsmith.s3.amazonaws.com',
      'Date', 'Tue, 27 Mar 2007 19:36:42 +0000',
      'Authorization', `AWS ${DOC_KEY}:bWq2s1WEIj+Ydj0vQ697zp+IXMU=`,
    ]);
    const v = accepted(req, v2(at('Tue, 27 Mar 2007 19:36:42 +0000')));
    assert.deepEqual(v, { accessKey: DOC_KEY, version: 2, form: 'header', payload: { kind: 'none' }, bucket: 'johnsmith', key: 'photos/puppy.jpg' });
  });

  test('Object PUT, with Content-Type signed', T, () => {
    const req = request('PUT', '/photos/puppy.jpg', [
      'Content-Type', 'image/jpeg',
      'Content-Length', '94328',
      'Host', 'johnsmith.s3.amazonaws.com',
      'Date', 'Tue, 27 Mar 2007 21:15:45 +0000',
      'Authorization', `AWS ${DOC_KEY}:MyyxeRY7whkBe+bq8fHCL/2kKUg=`,
    ]);
    accepted(req, v2(at('Tue, 27 Mar 2007 21:15:45 +0000')));
    refused(request('PUT', '/photos/puppy.jpg', req.headers.clone().set('Content-Type', 'text/html').raw), 'SignatureDoesNotMatch', v2(at('Tue, 27 Mar 2007 21:15:45 +0000')));
  });

  test('List: prefix, max-keys and marker are not sub-resources, so they are not signed', T, () => {
    const req = request('GET', '/?prefix=photos&max-keys=50&marker=puppy', [
      'User-Agent', 'Mozilla/5.0',
      'Host', 'johnsmith.s3.amazonaws.com',
      'Date', 'Tue, 27 Mar 2007 19:42:41 +0000',
      'Authorization', `AWS ${DOC_KEY}:htDYFYduRNen8P9ZfE/s9SuKy0U=`,
    ]);
    const v = accepted(req, v2(at('Tue, 27 Mar 2007 19:42:41 +0000')));
    assert.deepEqual([v.bucket, v.key], ['johnsmith', '']);
  });

  test('Fetch: the ?acl sub-resource is signed', T, () => {
    const headers = ['Host', 'johnsmith.s3.amazonaws.com', 'Date', 'Tue, 27 Mar 2007 19:44:46 +0000', 'Authorization', `AWS ${DOC_KEY}:c2WLPFtWHVgbEmeEG93a4cG37dM=`];
    accepted(request('GET', '/?acl', headers), v2(at('Tue, 27 Mar 2007 19:44:46 +0000')));
    refused(request('GET', '/?policy', headers), 'SignatureDoesNotMatch', v2(at('Tue, 27 Mar 2007 19:44:46 +0000')));
  });

  test('Delete: path style, x-amz-date replaces Date (the Date line is empty)', T, () => {
    const req = request('DELETE', '/johnsmith/photos/puppy.jpg', [
      'User-Agent', 'dotnet',
      'Host', 's3.amazonaws.com',
      'Date', 'Tue, 27 Mar 2007 21:20:27 +0000',
      'x-amz-date', 'Tue, 27 Mar 2007 21:20:26 +0000',
      'Authorization', `AWS ${DOC_KEY}:R4dJ53KECjStyBO5iTBJZ4XVOaI=`,
    ]);
    const v = accepted(req, v2(at('Tue, 27 Mar 2007 21:20:26 +0000')));
    assert.deepEqual([v.bucket, v.key], ['johnsmith', 'photos/puppy.jpg']);
  });

  test('List all my buckets: the service root', T, () => {
    const req = request('GET', '/', ['Host', 's3.amazonaws.com', 'Date', 'Wed, 28 Mar 2007 01:29:59 +0000', 'Authorization', `AWS ${DOC_KEY}:qGdzdERIC03wnaRNKh6OqZehG9s=`]);
    const v = accepted(req, v2(at('Wed, 28 Mar 2007 01:29:59 +0000')));
    assert.deepEqual([v.bucket, v.key], ['', '']);
  });

  test('Unicode keys: the path is signed exactly as sent, lower-case escapes and all', T, () => {
    const req = request('GET', '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re', [
      'Host', 's3.amazonaws.com',
      'Date', 'Wed, 28 Mar 2007 01:49:49 +0000',
      'Authorization', `AWS ${DOC_KEY}:DNEZGsoieTZ92F3bUfSPQcbGmlM=`,
    ]);
    const v = accepted(req, v2(at('Wed, 28 Mar 2007 01:49:49 +0000')));
    assert.deepEqual([v.bucket, v.key], ['dictionary', 'français/préfère']);
    // The same key with its escapes in upper case is another string to sign.
    refused({ ...req, path: '/dictionary/fran%C3%A7ais/pr%C3%A9f%C3%A8re' }, 'SignatureDoesNotMatch', v2(at('Wed, 28 Mar 2007 01:49:49 +0000')));
  });

  test('Query string authentication: valid until Expires, then AccessDenied "Request has expired"', T, () => {
    const req = request('GET', '/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620', [
      'Host', 'johnsmith.s3.amazonaws.com',
    ]);
    const v = accepted(req, v2(1175139620_000));
    assert.deepEqual([v.version, v.form, v.bucket, v.key], [2, 'query', 'johnsmith', 'photos/puppy.jpg']);
    const err = refused(req, 'AccessDenied', v2(1175139621_000), 403);
    assert.equal(err.message, 'Request has expired');
  });
});
