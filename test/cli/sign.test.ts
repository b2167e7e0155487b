/**
 * `remapd sign`, `remapd signing-key` and `remapd check` on s3_auth rules, as a user runs them: a real
 * `node dist/src/cli.js` process. The expected values are AWS's published ones — "Signature Calculations for the
 * Authorization Header: Transferring Payload in a Single Chunk" (S3 API Reference, examples GET Object, PUT Object,
 * GET Bucket Lifecycle, Get Bucket (List Objects)), "Examples of how to derive a signing key for Signature
 * Version 4" (IAM) and the signed-request example of "Create a signed AWS API request" (IAM ListUsers).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { deriveSigningKey } from '../../src/plugins/s3-auth/sigv4.js';
import { tempDir } from '../support/harness.js';
import { type RunOptions, type RunResult, runCli as run } from '../support/cli.js';





interface SignJson {
  method: string;
  url: string;
  headers: [string, string][];
  canonicalRequest: string;
  stringToSign: string;
  signedHeaders: string;
  signature: string;
  authorization: string;
}

/** Runs `remapd sign --json …`, asserting success, and returns the parsed object. */
async function signJson(args: string[], options: RunOptions = {}): Promise<SignJson> {
  const r = await run(['sign', '--json', ...args], options);
  assert.equal(r.code, 0, `remapd sign ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as SignJson;
}

/** A failure is one line naming the problem: no stack trace, no help text. */
function assertOneLineError(r: RunResult, problem: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got stdout ${r.stdout}`);
  assert.equal(r.stdout, '');
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, problem);
}

/** The value of the last header named `name` (any case) in the JSON output, or undefined. */
function header(out: SignJson, name: string): string | undefined {
  return out.headers.filter(([n]) => n.toLowerCase() === name).pop()?.[1];
}

// AWS's example credentials and request time for the S3 examples.
const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AMZ_DATE = '20130524T000000Z';
const BUCKET = 'https://examplebucket.s3.amazonaws.com';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const CREDENTIALS = ['--access-key', ACCESS_KEY, '--secret-key', SECRET_KEY];
const AWS_EXAMPLE = [...CREDENTIALS, '--date', AMZ_DATE];

/** AWS's "GET Object" example: the one most tests vary. */
const GET_OBJECT = [...AWS_EXAMPLE, '--url', `${BUCKET}/test.txt`, '-H', 'Range: bytes=0-9', '--payload-hash', EMPTY_SHA256];
const GET_OBJECT_SIGNATURE = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';

/** The credential scope in an Authorization value. */
function scopeOf(out: SignJson): string {
  const m = /Credential=[^/]+\/([^,]+),/.exec(out.authorization);
  assert.ok(m, out.authorization);
  return m[1]!;
}

describe('remapd sign reproduces AWS S3 SigV4 examples', () => {
  test('GET Object with a Range header', async () => {
    const out = await signJson(GET_OBJECT);
    assert.equal(
      out.canonicalRequest,
      [
        'GET',
        '/test.txt',
        '',
        'host:examplebucket.s3.amazonaws.com',
        'range:bytes=0-9',
        `x-amz-content-sha256:${EMPTY_SHA256}`,
        'x-amz-date:20130524T000000Z',
        '',
        'host;range;x-amz-content-sha256;x-amz-date',
        EMPTY_SHA256,
      ].join('\n'),
    );
    assert.equal(
      out.stringToSign,
      ['AWS4-HMAC-SHA256', AMZ_DATE, SCOPE, '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972'].join('\n'),
    );
    assert.equal(out.signedHeaders, 'host;range;x-amz-content-sha256;x-amz-date');
    assert.equal(out.signature, GET_OBJECT_SIGNATURE);
    assert.equal(
      out.authorization,
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${SCOPE}, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ` +
        `Signature=${GET_OBJECT_SIGNATURE}`,
    );
    assert.equal(header(out, 'authorization'), out.authorization);
  });

  test('PUT Object with a Date header, a storage class and a $ in the key', async () => {
    const payload = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072';
    const out = await signJson([
      ...AWS_EXAMPLE,
      '--method',
      'PUT',
      '--url',
      `${BUCKET}/test$file.text`,
      '-H',
      'Date: Fri, 24 May 2013 00:00:00 GMT',
      '-H',
      'x-amz-storage-class: REDUCED_REDUNDANCY',
      '--payload-hash',
      payload,
    ]);
    assert.equal(
      out.canonicalRequest,
      [
        'PUT',
        '/test%24file.text',
        '',
        'date:Fri, 24 May 2013 00:00:00 GMT',
        'host:examplebucket.s3.amazonaws.com',
        `x-amz-content-sha256:${payload}`,
        'x-amz-date:20130524T000000Z',
        'x-amz-storage-class:REDUCED_REDUNDANCY',
        '',
        'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
        payload,
      ].join('\n'),
    );
    assert.equal(
      out.stringToSign,
      ['AWS4-HMAC-SHA256', AMZ_DATE, SCOPE, '9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d'].join('\n'),
    );
    assert.equal(out.signedHeaders, 'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class');
    assert.equal(out.signature, '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
    assert.equal(
      out.authorization,
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${SCOPE}, ` +
        'SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, ' +
        'Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    );
  });

  test('GET Bucket Lifecycle: a bare query name is signed as "lifecycle="', async () => {
    const out = await signJson([...AWS_EXAMPLE, '--url', `${BUCKET}/?lifecycle`, '--payload-hash', EMPTY_SHA256]);
    assert.equal(
      out.canonicalRequest,
      [
        'GET',
        '/',
        'lifecycle=',
        'host:examplebucket.s3.amazonaws.com',
        `x-amz-content-sha256:${EMPTY_SHA256}`,
        'x-amz-date:20130524T000000Z',
        '',
        'host;x-amz-content-sha256;x-amz-date',
        EMPTY_SHA256,
      ].join('\n'),
    );
    assert.equal(
      out.stringToSign,
      ['AWS4-HMAC-SHA256', AMZ_DATE, SCOPE, '9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca'].join('\n'),
    );
    assert.equal(out.signature, 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  });

  test('Get Bucket (List Objects) with two query parameters', async () => {
    const out = await signJson([...AWS_EXAMPLE, '--url', `${BUCKET}/?max-keys=2&prefix=J`, '--payload-hash', EMPTY_SHA256]);
    assert.equal(out.canonicalRequest.split('\n')[2], 'max-keys=2&prefix=J');
    assert.equal(
      out.stringToSign,
      ['AWS4-HMAC-SHA256', AMZ_DATE, SCOPE, 'df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7'].join('\n'),
    );
    assert.equal(out.signedHeaders, 'host;x-amz-content-sha256;x-amz-date');
    assert.equal(out.signature, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  });

  test('--service iam reproduces the IAM ListUsers example and adds no x-amz-content-sha256 header', async () => {
    const out = await signJson([
      '--access-key',
      'AKIDEXAMPLE',
      '--secret-key',
      'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      '--service',
      'iam',
      '--url',
      'https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08',
      '-H',
      'Content-Type: application/x-www-form-urlencoded; charset=utf-8',
      '--date',
      '20150830T123600Z',
    ]);
    assert.equal(
      out.canonicalRequest,
      [
        'GET',
        '/',
        'Action=ListUsers&Version=2010-05-08',
        'content-type:application/x-www-form-urlencoded; charset=utf-8',
        'host:iam.amazonaws.com',
        'x-amz-date:20150830T123600Z',
        '',
        'content-type;host;x-amz-date',
        // No body: the payload hash still ends the canonical request, as the SigV4 test suite has it.
        EMPTY_SHA256,
      ].join('\n'),
    );
    assert.equal(
      out.stringToSign,
      [
        'AWS4-HMAC-SHA256',
        '20150830T123600Z',
        '20150830/us-east-1/iam/aws4_request',
        'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59',
      ].join('\n'),
    );
    assert.equal(out.signature, '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7');
    assert.equal(header(out, 'x-amz-content-sha256'), undefined);
  });
});

describe('remapd sign: headers, dates and payload hashes', () => {
  test('an x-amz-date header is signed verbatim and wins over --date', async () => {
    const otherDate = GET_OBJECT.map((a) => (a === AMZ_DATE ? '20200101T120000Z' : a));
    const out = await signJson([...otherDate, '-H', 'X-Amz-Date: 20130524T000000Z']);
    assert.equal(out.signature, GET_OBJECT_SIGNATURE);
    assert.deepEqual(
      out.headers.filter(([n]) => n.toLowerCase() === 'x-amz-date'),
      [['X-Amz-Date', '20130524T000000Z']],
      'the given field is kept, not joined by a second one',
    );
  });

  test('an x-amz-content-sha256 header is signed verbatim and wins over --payload-hash', async () => {
    const out = await signJson([
      ...AWS_EXAMPLE,
      '--url',
      `${BUCKET}/test.txt`,
      '-H',
      'Range: bytes=0-9',
      '-H',
      `x-amz-content-sha256: ${EMPTY_SHA256}`,
      '--payload-hash',
      'UNSIGNED-PAYLOAD',
    ]);
    assert.equal(out.signature, GET_OBJECT_SIGNATURE);
    assert.equal(out.canonicalRequest.split('\n').pop(), EMPTY_SHA256);
  });

  test('without --payload-hash an S3 request is signed as UNSIGNED-PAYLOAD', async () => {
    const out = await signJson([...AWS_EXAMPLE, '--url', `${BUCKET}/test.txt`]);
    assert.equal(header(out, 'x-amz-content-sha256'), 'UNSIGNED-PAYLOAD');
    assert.equal(out.canonicalRequest.split('\n').pop(), 'UNSIGNED-PAYLOAD');
  });

  test('--date accepts ISO 8601 (and RFC 1123) and signs the same instant', async () => {
    const sameInstant = ['2013-05-24T00:00:00Z', '2013-05-24T00:00:00.000Z', '2013-05-24T02:00:00+02:00'];
    sameInstant.push('Fri, 24 May 2013 00:00:00 GMT'); // RFC 1123, as --help says
    for (const date of sameInstant) {
      const args = GET_OBJECT.map((a) => (a === AMZ_DATE ? date : a));
      const out = await signJson(args);
      assert.equal(out.signature, GET_OBJECT_SIGNATURE, date);
      assert.equal(header(out, 'x-amz-date'), AMZ_DATE, date);
    }
  });

  test('--date without a UTC offset signs the same instant whatever the machine time zone', async () => {
    // AWS dates are UTC. A date-time with no offset must not be read as the local time of whoever runs the
    // command, or the same command line signs differently on two machines. Rejecting it is equally fine.
    const args = [...CREDENTIALS, '--url', `${BUCKET}/test.txt`, '--date', '2013-05-24T00:00:00'];
    const results = await Promise.all(
      ['UTC', 'Asia/Tokyo', 'America/New_York'].map((tz) => run(['sign', '--json', ...args], { env: { ...process.env, TZ: tz } })),
    );
    const seen = results.map((r) => (r.code === 0 ? header(JSON.parse(r.stdout) as SignJson, 'x-amz-date') : `exit ${r.code}`));
    assert.deepEqual(new Set(seen).size, 1, `x-amz-date per time zone: ${seen.join(', ')}`);
    if (results[0]!.code === 0) assert.equal(seen[0], AMZ_DATE);
  });

  test('a key with a space or a + is signed as %20 (S3 reads + as a space); --literal-plus keeps the plus', async () => {
    const base = [...AWS_EXAMPLE, '--url', `${BUCKET}/my dir/a+b.txt`];
    assert.equal((await signJson(base)).canonicalRequest.split('\n')[1], '/my%20dir/a%20b.txt');
    assert.equal((await signJson([...base, '--literal-plus'])).canonicalRequest.split('\n')[1], '/my%20dir/a%2Bb.txt');
  });

  test('the text output shows the canonical request, string to sign, signed headers, signature and Authorization', async () => {
    const out = await signJson(GET_OBJECT);
    const r = await run(['sign', ...GET_OBJECT]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`Canonical request:\n${out.canonicalRequest}\n`), r.stdout);
    assert.ok(r.stdout.includes(`String to sign:\n${out.stringToSign}\n`), r.stdout);
    assert.match(r.stdout, /^Signed headers: host;range;x-amz-content-sha256;x-amz-date$/m);
    assert.match(r.stdout, new RegExp(`^Signature: ${GET_OBJECT_SIGNATURE}$`, 'm'));
    assert.ok(r.stdout.includes(`\nAuthorization: ${out.authorization}\n`), r.stdout);
    assert.match(r.stdout, /^GET https:\/\/examplebucket\.s3\.amazonaws\.com\/test\.txt$/m);
  });
});

describe('remapd sign: credentials, region and header selection', () => {
  test('--signing-key + --key-scope from `remapd signing-key` gives the same signature as --secret-key', async () => {
    const keyLine = await run(['signing-key', '--secret-key', SECRET_KEY, '--region', 'us-east-1', '--date', '20130524']);
    assert.equal(keyLine.code, 0, keyLine.stderr);
    const [scope, key] = keyLine.stdout.trim().split(' ');
    assert.equal(scope, SCOPE);
    const scoped = GET_OBJECT.filter((a, i) => a !== SECRET_KEY && GET_OBJECT[i + 1] !== SECRET_KEY);
    const out = await signJson([...scoped, '--signing-key', key!, '--key-scope', scope!]);
    assert.equal(out.signature, GET_OBJECT_SIGNATURE);
  });

  test('a scoped key derived in the test with deriveSigningKey signs for its own region', async () => {
    const key = deriveSigningKey(SECRET_KEY, { date: '20130524', region: 'eu-west-1', service: 's3' }).toString('base64');
    const bySecret = await signJson([...AWS_EXAMPLE, '--url', 'https://s3.example.net/bucket/k', '--region', 'eu-west-1']);
    // The key's scope names the region, so an S3-compatible host that says nothing about one needs no --region.
    const byKey = await signJson([
      '--access-key',
      ACCESS_KEY,
      '--signing-key',
      key,
      '--key-scope',
      '20130524/eu-west-1/s3/aws4_request',
      '--date',
      AMZ_DATE,
      '--url',
      'https://s3.example.net/bucket/k',
    ]);
    assert.equal(scopeOf(byKey), '20130524/eu-west-1/s3/aws4_request');
    assert.equal(byKey.signature, bySecret.signature);
  });

  test('a scoped key for another day fails with a message naming the scope needed', async () => {
    const key = deriveSigningKey(SECRET_KEY, { date: '20130524', region: 'us-east-1', service: 's3' }).toString('base64');
    const r = await run([
      'sign',
      '--access-key',
      ACCESS_KEY,
      '--signing-key',
      key,
      '--key-scope',
      SCOPE,
      '--date',
      '20130525T000000Z',
      '--url',
      `${BUCKET}/test.txt`,
    ]);
    // A command has no error log to point at: the message itself must say which key is missing.
    assertOneLineError(r, /20130525\/us-east-1\/s3\/aws4_request/);
    assert.doesNotMatch(r.stderr, /error log/);
  });

  test('--session-token adds a signed x-amz-security-token', async () => {
    const out = await signJson([...GET_OBJECT, '--session-token', 'FQoGZXIvYXdzE//token+=']);
    assert.equal(out.signedHeaders, 'host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token');
    assert.equal(header(out, 'x-amz-security-token'), 'FQoGZXIvYXdzE//token+=');
    assert.ok(out.canonicalRequest.includes('\nx-amz-security-token:FQoGZXIvYXdzE//token+=\n'), out.canonicalRequest);
    assert.notEqual(out.signature, GET_OBJECT_SIGNATURE);
  });

  test('the region comes from the endpoint host, and --region overrides it', async () => {
    const url = ['--url', 'https://examplebucket.s3.eu-west-1.amazonaws.com/test.txt'];
    const fromHost = await signJson([...AWS_EXAMPLE, ...url]);
    assert.equal(scopeOf(fromHost), '20130524/eu-west-1/s3/aws4_request');
    assert.ok(fromHost.stringToSign.includes('\n20130524/eu-west-1/s3/aws4_request\n'));
    const pathStyle = await signJson([...AWS_EXAMPLE, '--url', 'https://s3.eu-west-1.amazonaws.com/examplebucket/test.txt']);
    assert.equal(scopeOf(pathStyle), '20130524/eu-west-1/s3/aws4_request');
    const forced = await signJson([...AWS_EXAMPLE, ...url, '--region', 'ap-southeast-2']);
    assert.equal(scopeOf(forced), '20130524/ap-southeast-2/s3/aws4_request');
    const unknownHost = await signJson([...AWS_EXAMPLE, '--url', 'http://127.0.0.1:9000/bucket/k']);
    assert.equal(scopeOf(unknownHost), SCOPE, 'us-east-1 when nothing names a region');
    assert.equal(header(unknownHost, 'host'), '127.0.0.1:9000', 'the port is part of the signed Host');
  });

  test('--region-map FILE is honoured: most specific entry, then endpoint form, then the default line', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    writeFileSync(
      join(tmp.dir, 'region_map.config'),
      ['# ATS format', 'example.net : eu-central-1', 'special.example.net : ap-south-1', ': sa-east-1', ''].join('\n'),
    );
    const withMap = (url: string) => signJson([...AWS_EXAMPLE, '--url', url, '--region-map', 'region_map.config'], { cwd: tmp.dir });
    assert.equal(scopeOf(await withMap('https://store.example.net/b/k')), '20130524/eu-central-1/s3/aws4_request');
    assert.equal(scopeOf(await withMap('https://x.special.example.net/b/k')), '20130524/ap-south-1/s3/aws4_request');
    assert.equal(scopeOf(await withMap('https://b.s3.us-west-2.amazonaws.com/k')), '20130524/us-west-2/s3/aws4_request');
    assert.equal(scopeOf(await withMap('https://storage.other.org/b/k')), '20130524/sa-east-1/s3/aws4_request');
  });

  test('--region-map with a malformed line fails naming the map file and line', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const map = join(tmp.dir, 'region_map.config');
    writeFileSync(map, ['example.net : eu-central-1', 'no colon here', ''].join('\n'));
    const r = await run(['sign', ...AWS_EXAMPLE, '--url', 'https://store.example.net/b/k', '--region-map', map]);
    assertOneLineError(r, new RegExp(`${map}:2`));
  });

  test('--v4-include-headers signs only those plus host, content-type and x-amz-*', async () => {
    const headers = ['-H', 'Range: bytes=0-9', '-H', 'X-Custom: 1', '-H', 'Content-Type: text/plain', '-H', 'x-amz-meta-a: b'];
    const all = await signJson([...AWS_EXAMPLE, '--url', `${BUCKET}/k`, ...headers]);
    assert.equal(all.signedHeaders, 'content-type;host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-custom');
    const included = await signJson([...AWS_EXAMPLE, '--url', `${BUCKET}/k`, ...headers, '--v4-include-headers', 'Range']);
    assert.equal(included.signedHeaders, 'content-type;host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-a');
  });

  test('--v4-exclude-headers drops those, but never host, content-type or x-amz-*', async () => {
    const headers = ['-H', 'Range: bytes=0-9', '-H', 'X-Custom: 1', '-H', 'Content-Type: text/plain'];
    const out = await signJson([
      ...AWS_EXAMPLE,
      '--url',
      `${BUCKET}/k`,
      ...headers,
      '--v4-exclude-headers',
      'x-custom,content-type,host,x-amz-date',
    ]);
    assert.equal(out.signedHeaders, 'content-type;host;range;x-amz-content-sha256;x-amz-date');
    const both = await signJson([
      ...AWS_EXAMPLE,
      '--url',
      `${BUCKET}/k`,
      ...headers,
      '--v4-include-headers',
      'range,x-custom',
      '--v4-exclude-headers',
      'range',
    ]);
    assert.equal(both.signedHeaders, 'content-type;host;x-amz-content-sha256;x-amz-date;x-custom');
  });

  test('Via, X-Forwarded-For and hop-by-hop headers are never signed, even when included', async () => {
    const out = await signJson([
      ...AWS_EXAMPLE,
      '--url',
      `${BUCKET}/k`,
      '-H',
      'Via: 1.1 remapd',
      '-H',
      'X-Forwarded-For: 192.0.2.1',
      '-H',
      'Connection: keep-alive',
      '--v4-include-headers',
      'via,x-forwarded-for,connection',
    ]);
    assert.equal(out.signedHeaders, 'host;x-amz-content-sha256;x-amz-date');
  });
});

describe('remapd sign: errors are one line naming the problem', () => {
  const URL_ARGS = ['--url', `${BUCKET}/test.txt`];

  test('missing --url', async () => {
    assertOneLineError(await run(['sign', ...AWS_EXAMPLE]), /--url/);
  });

  test('a URL that is not http(s)', async () => {
    assertOneLineError(await run(['sign', ...AWS_EXAMPLE, '--url', 'examplebucket/test.txt']), /--url "examplebucket\/test\.txt"/);
    assertOneLineError(await run(['sign', ...AWS_EXAMPLE, '--url', 'ftp://examplebucket/test.txt']), /--url/);
  });

  test('a --date that is not a date', async () => {
    assertOneLineError(await run(['sign', ...CREDENTIALS, ...URL_ARGS, '--date', 'yesterday']), /--date "yesterday"/);
    assertOneLineError(await run(['sign', ...CREDENTIALS, ...URL_ARGS, '--date', '20131301T000000Z']), /--date "20131301T000000Z"/);
  });

  test('a --date on a day that does not exist is refused, not rolled over', async () => {
    // 30 February would otherwise be signed silently as 2 March.
    for (const date of ['20130230T000000Z', '2013-02-30T00:00:00Z', 'Sat, 30 Feb 2013 00:00:00 GMT']) {
      assertOneLineError(await run(['sign', ...CREDENTIALS, ...URL_ARGS, '--date', date]), new RegExp(`--date "${date}"`));
    }
  });

  test('an x-amz-date header not in the basic format names the header', async () => {
    const r = await run(['sign', ...AWS_EXAMPLE, ...URL_ARGS, '-H', 'x-amz-date: 2013-05-24']);
    assertOneLineError(r, /x-amz-date "2013-05-24"/);
  });

  test('both --secret-key and --signing-key', async () => {
    const key = deriveSigningKey(SECRET_KEY, { date: '20130524', region: 'us-east-1', service: 's3' }).toString('base64');
    const r = await run(['sign', ...AWS_EXAMPLE, ...URL_ARGS, '--signing-key', key, '--key-scope', SCOPE]);
    assertOneLineError(r, /only one of --secret[-_]key, --signing[-_]key/);
  });

  test('no secret at all', async () => {
    assertOneLineError(await run(['sign', '--access-key', ACCESS_KEY, '--date', AMZ_DATE, ...URL_ARGS]), /no credentials/);
  });

  test('a --signing-key that is not a 32-byte base64 key, or a bad --key-scope', async () => {
    const key = deriveSigningKey(SECRET_KEY, { date: '20130524', region: 'us-east-1', service: 's3' }).toString('base64');
    const base = ['sign', '--access-key', ACCESS_KEY, '--date', AMZ_DATE, ...URL_ARGS];
    assertOneLineError(await run([...base, '--signing-key', 'abcd', '--key-scope', SCOPE]), /signing[-_]key.*32/);
    assertOneLineError(await run([...base, '--signing-key', key, '--key-scope', '20130524/us-east-1/s3']), /key[-_]scope/);
    assertOneLineError(await run([...base, '--signing-key', key]), /key[-_]scope/);
  });

  test('a header without "Name: value" syntax', async () => {
    assertOneLineError(await run(['sign', ...AWS_EXAMPLE, ...URL_ARGS, '-H', 'Range bytes=0-9']), /--header "Range bytes=0-9"/);
    assertOneLineError(await run(['sign', ...AWS_EXAMPLE, ...URL_ARGS, '-H', ': no name']), /--header ": no name"/);
  });

  test('--version 3', async () => {
    assertOneLineError(await run(['sign', ...AWS_EXAMPLE, ...URL_ARGS, '--version', '3']), /--version 3/);
  });

  test('a bad --region, an unreadable --region-map and an unknown option', async () => {
    assertOneLineError(await run(['sign', ...AWS_EXAMPLE, ...URL_ARGS, '--region', 'EU West']), /--region "EU West"/);
    const noMap = await run(['sign', ...AWS_EXAMPLE, ...URL_ARGS, '--region-map', '/nonexistent/region_map']);
    assertOneLineError(noMap, /\/nonexistent\/region_map/);
    assertOneLineError(await run(['sign', ...AWS_EXAMPLE, ...URL_ARGS, '--frobnicate']), /--frobnicate/);
  });
});

describe('remapd signing-key', () => {
  const IAM_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  const AWS_DERIVE = ['--secret-key', IAM_SECRET, '--region', 'us-east-1', '--service', 'iam', '--date', '20120215'];
  const AWS_DERIVED_HEX = 'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d';

  test("reproduces AWS's derive-signing-key example with --no-base64", async () => {
    const r = await run(['signing-key', ...AWS_DERIVE, '--no-base64']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `20120215/us-east-1/iam/aws4_request ${AWS_DERIVED_HEX}\n`);
  });

  test('prints base64 by default', async () => {
    const r = await run(['signing-key', ...AWS_DERIVE]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `20120215/us-east-1/iam/aws4_request ${Buffer.from(AWS_DERIVED_HEX, 'hex').toString('base64')}\n`);
  });

  test('--days 7 prints seven consecutive days across a month and year end', async () => {
    const r = await run(['signing-key', '--secret-key', SECRET_KEY, '--region', 'eu-west-1', '--date', '20261229', '--days', '7']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const dates = ['20261229', '20261230', '20261231', '20270101', '20270102', '20270103', '20270104'];
    assert.deepEqual(
      lines.map((l) => l.split(' ')[0]),
      dates.map((d) => `${d}/eu-west-1/s3/aws4_request`),
    );
    lines.forEach((l, i) => {
      const expected = deriveSigningKey(SECRET_KEY, { date: dates[i]!, region: 'eu-west-1', service: 's3' }).toString('base64');
      assert.equal(l.split(' ')[1], expected, l);
    });
  });

  test("--secret-key - reads the secret from standard input", async () => {
    const r = await run(['signing-key', ...AWS_DERIVE.map((a) => (a === IAM_SECRET ? '-' : a)), '--no-base64'], {
      input: `${IAM_SECRET}\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `20120215/us-east-1/iam/aws4_request ${AWS_DERIVED_HEX}\n`);
  });

  test('an empty secret on standard input is refused', async () => {
    assertOneLineError(await run(['signing-key', '--secret-key', '-', '--region', 'us-east-1'], { input: '' }), /secret/);
  });

  test('a bad --date, --days 0 or a bad region exits non-zero with one line', async () => {
    const base = ['signing-key', '--secret-key', SECRET_KEY, '--region', 'us-east-1'];
    assertOneLineError(await run([...base, '--date', '2012-02-15']), /--date "2012-02-15"/);
    assertOneLineError(await run([...base, '--date', '20120230']), /--date "20120230"/);
    assertOneLineError(await run([...base, '--days', '0']), /--days/);
    assertOneLineError(await run([...base, '--days', '367']), /--days/);
    assertOneLineError(await run(['signing-key', '--secret-key', SECRET_KEY, '--region', 'EU/West']), /--region "EU\/West"/);
    assertOneLineError(await run(['signing-key', '--secret-key', SECRET_KEY]), /--region/);
  });

  test("its lines, written to a file, load as s3_auth's --signing_key_file", async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const r = await run(['signing-key', '--secret-key', SECRET_KEY, '--region', 'us-east-1', '--days', '7']);
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(join(tmp.dir, 'keys.txt'), r.stdout);
    writeFileSync(
      join(tmp.dir, 'remap.config'),
      'map http://cdn.test/ https://examplebucket.s3.amazonaws.com/ @plugin=s3_auth.so @pparam=--version=4 ' +
        '@pparam=--access_key=AK @pparam=--signing_key_file=keys.txt\n',
    );
    const c = await run(['check', '-c', join(tmp.dir, 'remap.config')]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /OK, 1 rule\(s\), 0 warning\(s\)/);
  });
});

describe('remapd check on s3_auth rules', () => {
  const RULE = 'map http://cdn.test/ https://examplebucket.s3.amazonaws.com/ @plugin=s3_auth.so';
  const V4 = `${RULE} @pparam=--version=4`;

  /** Writes remap.config (and other files) to a fresh folder and runs `remapd check` on it. */
  async function check(t: { after(fn: () => void): void }, lines: string[], files: Record<string, string> = {}) {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    for (const [name, text] of Object.entries(files)) writeFileSync(join(tmp.dir, name), text);
    const file = join(tmp.dir, 'remap.config');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return { ...(await run(['check', '-c', file])), file, dir: tmp.dir };
  }

  test('a valid V4 rule passes', async (t) => {
    const r = await check(t, ['# private bucket', `${V4} @pparam=--access_key=AK @pparam=--secret_key=SK`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK, 1 rule\(s\), 0 warning\(s\)/);
  });

  test('a V4 rule reading a --config file (`--config FILE` form) passes', async (t) => {
    const r = await check(t, [`${V4} @pparam=--config @pparam=s3_auth_v4.config`], {
      's3_auth_v4.config': '# credentials\naccess_key=AK\nsecret_key=SK\nv4-region-map=region_map.config\n',
      'region_map.config': 'example.net : eu-central-1\n: s3.amazonaws.com\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK, 1 rule\(s\), 0 warning\(s\)/);
  });

  const BAD: [string, string, RegExp][] = [
    ['no credentials', `${V4} @pparam=--access_key=AK`, /no credentials/],
    [
      'both a secret and a signing key',
      `${V4} @pparam=--access_key=AK @pparam=--secret_key=SK ` +
        `@pparam=--signing_key=${Buffer.alloc(32).toString('base64')} @pparam=--key_scope=${SCOPE}`,
      /only one of --secret_key, --signing_key/,
    ],
    ['--version 5', `${RULE} @pparam=--version=5 @pparam=--access_key=AK @pparam=--secret_key=SK`, /--version "5"/],
    ['an unknown option', `${V4} @pparam=--access_key=AK @pparam=--secret_key=SK @pparam=--frobnicate=1`, /unknown option --frobnicate/],
  ];
  for (const [what, rule, message] of BAD) {
    test(`${what} is an error at the rule's file:line`, async (t) => {
      const r = await check(t, ['# comment', rule]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`${r.file}:2: error: s3_auth\\.so: .*${message.source}`));
      assert.match(r.stderr, /1 error\(s\)/);
    });
  }

  test('an unreadable --config file is an error naming the rule and the file', async (t) => {
    const r = await check(t, [`${V4} @pparam=--config=missing.config`]);
    assert.equal(r.code, 1, r.stdout);
    const missing = join(r.dir, 'missing.config');
    assert.match(r.stderr, new RegExp(`${r.file}:1: error: s3_auth\\.so: cannot read config file ${missing}: ENOENT`));
  });

  test('a --config line without a value is an error at the rule and at the config file:line', async (t) => {
    const r = await check(t, [`${V4} @pparam=--config=s3.config`], { 's3.config': '# creds\naccess_key=AK\nsecret_key=\n' });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`${r.file}:1: error: s3_auth\\.so: .*${join(r.dir, 's3.config')}:3: secret_key needs a value`));
  });

  test('a region map with a malformed line is an error at the rule and at the map file:line', async (t) => {
    const r = await check(t, [`${V4} @pparam=--access_key=AK @pparam=--secret_key=SK @pparam=--v4-region-map=region_map.config`], {
      'region_map.config': '# map\nexample.net : eu-central-1\nthis line has no colon\n',
    });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`${r.file}:1: error: s3_auth\\.so: .*${join(r.dir, 'region_map.config')}:3: `));
  });

  test('an unknown key in a --config file is a warning with that file:line, and the rule still passes', async (t) => {
    const r = await check(t, [`${V4} @pparam=--config=s3.config`], { 's3.config': 'access_key=AK\nsecret_key=SK\n\nbogus_key=1\n' });
    assert.equal(r.code, 0, r.stderr);
    const configFile = join(r.dir, 's3.config');
    assert.match(r.stderr, new RegExp(`${r.file}:1: warning: s3_auth\\.so: ${configFile}:4: unknown key "bogus_key" ignored`));
    assert.match(r.stdout, /OK, 1 rule\(s\), 1 warning\(s\)/);
  });

  test('an expiration in a --config file that has passed is a warning', async (t) => {
    const r = await check(t, [`${V4} @pparam=--config=s3.config`], {
      's3.config': 'access_key=AK\nsecret_key=SK\nexpiration=1000000000\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${r.file}:1: warning: s3_auth\\.so: .*expiration.*2001-09-09T01:46:40\\.000Z.*passed`));
    assert.match(r.stdout, /OK, 1 rule\(s\), 1 warning\(s\)/);
  });

  test('an expiration in the future is no warning', async (t) => {
    const future = Math.floor(Date.now() / 1000) + 86_400;
    const r = await check(t, [`${V4} @pparam=--config=s3.config`], {
      's3.config': `access_key=AK\nsecret_key=SK\nexpiration=${future}\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK, 1 rule\(s\), 0 warning\(s\)/);
  });
});
