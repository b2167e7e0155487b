/**
 * `remapd sign --version 2` and `remapd check` on a V2 rule, as a user runs them: a real `node dist/src/cli.js`
 * process. The expected values are AWS's published ones ("Signing and Authenticating REST Requests", Amazon S3
 * Developer Guide: object GET, object PUT, list, fetch ?acl, upload, unicode keys); a Date given with --header is
 * signed verbatim, which is what lets them reproduce.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tempDir } from '../support/harness.js';
import { runCli as run } from '../support/cli.js';


const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const V2 = ['sign', '--version', '2', '--json', '--access-key', ACCESS_KEY, '--secret-key', SECRET_KEY];



interface SignV2Json {
  version: number;
  method: string;
  url: string;
  headers: [string, string][];
  stringToSign: string;
  signature: string;
  authorization: string;
  resource: string;
}

async function signV2(args: string[]): Promise<SignV2Json> {
  const r = await run([...V2, ...args]);
  assert.equal(r.code, 0, `remapd sign ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as SignV2Json;
}

function assertSigned(out: SignV2Json, stringToSign: string, signature: string): void {
  assert.equal(out.version, 2);
  assert.equal(out.stringToSign, stringToSign);
  assert.equal(out.signature, signature);
  assert.equal(out.authorization, `AWS ${ACCESS_KEY}:${signature}`);
}

function values(out: SignV2Json, name: string): string[] {
  return out.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

describe("remapd sign --version 2 reproduces AWS's V2 examples", () => {
  test('object GET', async () => {
    const out = await signV2(['--url', 'https://johnsmith.s3.amazonaws.com/photos/puppy.jpg', '-H', 'Date: Tue, 27 Mar 2007 19:36:42 +0000']);
    assertSigned(out, 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg', 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=');
    assert.equal(out.resource, '/johnsmith/photos/puppy.jpg');
    assert.equal(out.method, 'GET');
    assert.equal(out.url, 'https://johnsmith.s3.amazonaws.com/photos/puppy.jpg');
  });

  test('object PUT', async () => {
    const out = await signV2([
      '-X', 'PUT',
      '--url', 'https://johnsmith.s3.amazonaws.com/photos/puppy.jpg',
      '-H', 'Content-Type: image/jpeg',
      '-H', 'Content-Length: 94328',
      '-H', 'Date: Tue, 27 Mar 2007 21:15:45 +0000',
    ]);
    assertSigned(out, 'PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg', 'MyyxeRY7whkBe+bq8fHCL/2kKUg=');
  });

  test('list', async () => {
    const out = await signV2([
      '--url', 'https://johnsmith.s3.amazonaws.com/?prefix=photos&max-keys=50&marker=puppy',
      '-H', 'User-Agent: Mozilla/5.0',
      '-H', 'Date: Tue, 27 Mar 2007 19:42:41 +0000',
    ]);
    assertSigned(out, 'GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/', 'htDYFYduRNen8P9ZfE/s9SuKy0U=');
    assert.equal(out.url, 'https://johnsmith.s3.amazonaws.com/?prefix=photos&max-keys=50&marker=puppy');
  });

  test('fetch ?acl', async () => {
    const out = await signV2(['--url', 'https://johnsmith.s3.amazonaws.com/?acl', '-H', 'Date: Tue, 27 Mar 2007 19:44:46 +0000']);
    assertSigned(out, 'GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl', 'c2WLPFtWHVgbEmeEG93a4cG37dM=');
    assert.equal(out.resource, '/johnsmith/?acl');
  });

  test('upload to a CNAME bucket with --virtual-host and a repeated --header X-Amz-Meta-ReviewedBy', async () => {
    const out = await signV2([
      '-X', 'PUT',
      '--virtual-host',
      '--url', 'http://static.johnsmith.net:8080/db-backup.dat.gz',
      '-H', 'User-Agent: curl/7.15.5',
      '-H', 'Date: Tue, 27 Mar 2007 21:06:08 +0000',
      '-H', 'x-amz-acl: public-read',
      '-H', 'content-type: application/x-download',
      '-H', 'Content-MD5: 4gJE4saaMU4BqNR0kLY+lw==',
      '-H', 'X-Amz-Meta-ReviewedBy: joe@johnsmith.net',
      '-H', 'X-Amz-Meta-ReviewedBy: jane@johnsmith.net',
      '-H', 'X-Amz-Meta-FileChecksum: 0x02661779',
      '-H', 'X-Amz-Meta-ChecksumAlgorithm: crc32',
      '-H', 'Content-Disposition: attachment; filename=database.dat',
      '-H', 'Content-Encoding: gzip',
      '-H', 'Content-Length: 5913339',
    ]);
    assertSigned(
      out,
      'PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n' +
        'x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n' +
        'x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz',
      'ilyl83RwaSoYIEdixDQcA4OnAnc=',
    );
    assert.deepEqual(values(out, 'x-amz-meta-reviewedby'), ['joe@johnsmith.net', 'jane@johnsmith.net'], 'sent as two fields');
    assert.deepEqual(values(out, 'host'), ['static.johnsmith.net:8080']);
  });

  test('the same upload without --virtual-host is path style and signs a different resource', async () => {
    const out = await signV2(['-X', 'PUT', '--url', 'http://static.johnsmith.net:8080/db-backup.dat.gz', '-H', 'Date: Tue, 27 Mar 2007 21:06:08 +0000']);
    assert.equal(out.resource, '/db-backup.dat.gz');
  });

  test('unicode keys: the path is signed as given', async () => {
    const out = await signV2(['--url', 'https://s3.amazonaws.com/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re', '-H', 'Date: Wed, 28 Mar 2007 01:49:49 +0000']);
    assertSigned(out, 'GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re', 'DNEZGsoieTZ92F3bUfSPQcbGmlM=');
    assert.equal(out.url, 'https://s3.amazonaws.com/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re');
  });
});

describe('remapd sign --version 2: dates', () => {
  test('--date accepts an RFC 1123 date and fills Date (as GMT) when no Date or x-amz-date is given', async () => {
    const out = await signV2(['--url', 'https://johnsmith.s3.amazonaws.com/photos/puppy.jpg', '--date', 'Tue, 27 Mar 2007 19:36:42 GMT']);
    const stringToSign = 'GET\n\n\nTue, 27 Mar 2007 19:36:42 GMT\n/johnsmith/photos/puppy.jpg';
    assertSigned(out, stringToSign, createHmac('sha1', SECRET_KEY).update(stringToSign).digest('base64'));
    assert.deepEqual(values(out, 'date'), ['Tue, 27 Mar 2007 19:36:42 GMT']);
  });

  test('--date with a +0000 offset is the same instant, sent as GMT', async () => {
    const out = await signV2(['--url', 'https://johnsmith.s3.amazonaws.com/photos/puppy.jpg', '--date', 'Tue, 27 Mar 2007 19:36:42 +0000']);
    assert.deepEqual(values(out, 'date'), ['Tue, 27 Mar 2007 19:36:42 GMT']);
  });

  test('--date also accepts the V4 forms', async () => {
    const basic = await signV2(['--url', 'https://johnsmith.s3.amazonaws.com/k', '--date', '20070327T193642Z']);
    const iso = await signV2(['--url', 'https://johnsmith.s3.amazonaws.com/k', '--date', '2007-03-27T19:36:42Z']);
    assert.deepEqual(values(basic, 'date'), ['Tue, 27 Mar 2007 19:36:42 GMT']);
    assert.deepEqual(values(iso, 'date'), ['Tue, 27 Mar 2007 19:36:42 GMT']);
  });

  test('a Date header is signed verbatim and wins over --date', async () => {
    const out = await signV2([
      '--url', 'https://johnsmith.s3.amazonaws.com/photos/puppy.jpg',
      '-H', 'Date: Tue, 27 Mar 2007 19:36:42 +0000',
      '--date', 'Wed, 01 Jan 2031 00:00:00 GMT',
    ]);
    assertSigned(out, 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg', 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=');
    assert.deepEqual(values(out, 'date'), ['Tue, 27 Mar 2007 19:36:42 +0000']);
  });

  test('an x-amz-date header leaves the Date line empty, is signed among the amz headers, and no Date is added', async () => {
    const out = await signV2([
      '-X', 'DELETE',
      '--url', 'https://s3.amazonaws.com/johnsmith/photos/puppy.jpg',
      '-H', 'User-Agent: dotnet',
      '-H', 'x-amz-date: Tue, 27 Mar 2007 21:20:26 +0000',
      '--date', 'Wed, 01 Jan 2031 00:00:00 GMT',
    ]);
    assert.equal(out.stringToSign, 'DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg');
    assert.deepEqual(values(out, 'date'), []);
  });

  test('a --date that is no date at all is refused in one line', async () => {
    const r = await run([...V2, '--url', 'https://johnsmith.s3.amazonaws.com/k', '--date', 'yesterday']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--date "yesterday"/);
  });
});

describe('remapd check on a rule without --version', () => {
  test('exits 0 and warns at the rule\'s file:line that it signs with V2, which is legacy', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const file = join(tmp.dir, 'remap.config');
    writeFileSync(
      file,
      '# a legacy store\n' +
        'map http://legacy.test/ http://127.0.0.1:7480/ @plugin=s3_auth.so @pparam=--access_key=AK @pparam=--secret_key=SK\n',
    );
    const r = await run(['check', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${file}:2: warning: s3_auth\\.so: .*V2.*legacy`));
    assert.match(r.stdout, /OK, 1 rule\(s\), 1 warning\(s\)/);
  });

  test('an explicit --version=2 passes without a warning', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const file = join(tmp.dir, 'remap.config');
    writeFileSync(
      file,
      'map http://legacy.test/ http://127.0.0.1:7480/ @plugin=s3_auth.so @pparam=--version=2 @pparam=--access_key=AK @pparam=--secret_key=SK\n',
    );
    const r = await run(['check', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK, 1 rule\(s\), 0 warning\(s\)/);
  });
});
