/**
 * Non-ASCII header values are signed as the bytes that go on the wire. Node hands header bytes to us as latin1
 * characters and undici writes them back as latin1, so a UTF-8 `é` arrives as the two characters "Ã©" and must be
 * hashed as the two bytes C3 A9 — not UTF-8-encoded again into four bytes, which S3 (hashing what it received)
 * would never match.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { RegionResolver } from '../../../src/plugins/s3-auth/region.js';
import { SIGN_ALL } from '../../../src/plugins/s3-auth/select-headers.js';
import { signV2Request } from '../../../src/plugins/s3-auth/sign-v2-request.js';
import { signV4Request } from '../../../src/plugins/s3-auth/sign-v4-request.js';
import { SecretKeySource } from '../../../src/plugins/s3-auth/signing-keys.js';
import { HeaderList } from '../../../src/proxy/header-list.js';

/** What Node's parser gives for the UTF-8 bytes of `text`. */
const asReceived = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
const NOW = new Date('2013-05-24T00:00:00Z');

test('V4 hashes a non-ASCII header value as its wire bytes', () => {
  const headers = new HeaderList(['Host', 'bucket.s3.amazonaws.com', 'x-amz-meta-title', asReceived('Café ☃')]);
  const req = { method: 'GET', host: 'bucket.s3.amazonaws.com', path: '/k', search: '', headers };
  const signer = {
    accessKey: 'AK',
    keys: new SecretKeySource('SK'),
    sessionToken: null,
    regions: new RegionResolver({}),
    service: 's3',
    selection: SIGN_ALL,
    plusIsSpace: true,
  };
  const out = signV4Request(req, signer, NOW, 'UNSIGNED-PAYLOAD');
  const wire = Buffer.from(out.canonicalRequest, 'latin1');
  assert.ok(wire.includes(Buffer.from('x-amz-meta-title:Café ☃', 'utf8')), 'the canonical request holds the received bytes');
  const hash = out.stringToSign.split('\n')[3];
  assert.equal(hash, createHash('sha256').update(wire).digest('hex'));
});

test('V2 hashes a non-ASCII x-amz-meta value as its wire bytes', () => {
  const headers = new HeaderList(['Host', 's3.amazonaws.com', 'Date', 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-meta-name', asReceived('日本')]);
  const req = { method: 'GET', host: 's3.amazonaws.com', path: '/bucket/k', search: '', headers };
  const out = signV2Request(req, { accessKey: 'AK', secretKey: 'SK', sessionToken: null, virtualHost: false, endpoint: null, plusIsSpace: true }, NOW);
  const expected = createHmac('sha1', 'SK')
    .update(Buffer.from('GET\n\n\nFri, 24 May 2013 00:00:00 GMT\nx-amz-meta-name:日本\n/bucket/k', 'utf8'))
    .digest('base64');
  assert.equal(out.signature, expected);
});
