/**
 * An origin's SignatureDoesNotMatch shows what was signed — the canonical request with the session token, the
 * string to sign, the signature — to whoever signed. Behind remapd that is remapd: s3_auth removes those elements
 * from the origin's 400/403 bodies before any client (or the cache) gets them. Issue 9: nothing leaked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorBodyFilter, MAX_ERROR_BODY, redactSigningDetails } from '../../src/plugins/s3-auth/error-body.js';
import { request, startOrigin, startRemapd } from '../support/harness.js';
import { Readable } from 'node:stream';

const TOKEN = 'FwoGZXIvYXdzEJr//////////wEaDOrigin+Session/Token==';
const SECRET = 'origin/Secret+Key=abcdefghij';

function s3Error(signature: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
    '<Message>The request signature we calculated does not match the signature you provided.</Message>' +
    '<AWSAccessKeyId>AKIDORIGIN</AWSAccessKeyId>' +
    `<StringToSign>AWS4-HMAC-SHA256\n20261123T100000Z\n20261123/us-east-1/s3/aws4_request\n${'ab'.repeat(32)}</StringToSign>` +
    `<SignatureProvided>${signature}</SignatureProvided>` +
    '<StringToSignBytes>41 57 53 34</StringToSignBytes>' +
    `<CanonicalRequest>GET\n/x\n\nhost:h\nx-amz-security-token:${TOKEN}\n\nhost;x-amz-security-token\nUNSIGNED-PAYLOAD</CanonicalRequest>` +
    '<CanonicalRequestBytes>47 45 54</CanonicalRequestBytes>' +
    '<RequestId>4442587FB7D0A2F9</RequestId></Error>'
  );
}

test('redactSigningDetails keeps the code, message, key id and request id, and drops what was signed', () => {
  const out = redactSigningDetails(s3Error('f'.repeat(64)));
  assert.equal(
    out,
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
      '<Message>The request signature we calculated does not match the signature you provided.</Message>' +
      '<AWSAccessKeyId>AKIDORIGIN</AWSAccessKeyId><RequestId>4442587FB7D0A2F9</RequestId></Error>',
  );
});

test("redactSigningDetails drops the session token S3 echoes in ExpiredToken/InvalidToken errors (<Token-0>)", () => {
  const out = redactSigningDetails(
    '<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message>' +
      `<Token-0>${TOKEN}</Token-0><RequestId>R1</RequestId><HostId>H1</HostId></Error>`,
  );
  assert.equal(out, '<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message><RequestId>R1</RequestId><HostId>H1</HostId></Error>');
});

test('the filter refuses an error body it cannot hold whole', { timeout: 5_000 }, async () => {
  const filtered = Readable.from([Buffer.alloc(MAX_ERROR_BODY + 1, 'x')]).pipe(errorBodyFilter());
  await assert.rejects(async () => {
    for await (const _ of filtered) void _;
  }, /larger than/);
});

test("through remapd, cached or not, an origin's 403 reaches the client without the session token or the signature", { timeout: 10_000 }, async (t) => {
  let signature = '';
  const origin = await startOrigin((req, res) => {
    signature = /Signature=([0-9a-f]{64})/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const body = s3Error(signature);
    res.writeHead(403, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  t.after(() => origin.close());
  const creds = `@pparam=--version=4 @pparam=--access_key=AKIDORIGIN @pparam=--secret_key=${SECRET} @pparam=--session_token=${TOKEN}`;
  const proxy = await startRemapd(
    [
      // Through the cache's fill (a 403 is not stored, but it goes the cache's way to the client).
      `map http://cached.test/ ${origin.url}/ @plugin=s3_auth.so ${creds}`,
      `map http://direct.test/ ${origin.url}/ @plugin=s3_auth.so ${creds} @plugin=cache.so @pparam=--off`,
      '',
    ].join('\n'),
  );
  t.after(() => proxy.close());
  for (const [host, xCache] of [['cached.test', 'miss'], ['cached.test', 'miss'], ['direct.test', 'skipped']] as const) {
    const res = await request(proxy.url, { path: '/x', headers: { host } });
    assert.equal(res.headers['x-cache'], xCache, `${host}: ${res.headers['cache-status']}`);
    assert.equal(res.status, 403);
    assert.match(res.text, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.ok(signature.length === 64);
    for (const secret of [TOKEN, signature, 'CanonicalRequest', 'StringToSign', 'SignatureProvided']) assert.ok(!res.text.includes(secret), `${host}: ${secret}`);
    const length = res.headers['content-length'];
    if (length !== undefined) assert.equal(length, String(res.body.length), 'a length, if any, is the redacted one');
  }
});
