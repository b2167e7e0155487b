/**
 * signing-keys.ts: where the V4 signing key comes from. From a secret it is derived once per (date, region,
 * service); scoped keys (--signing_key + --key_scope, or a key file of dated keys) let the proxy sign without the
 * secret, picking the key for the request's scope, and a key file rewritten by a cron is picked up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RemapdError } from '../../../src/errors.js';
import { EMPTY_SHA256 } from '../../../src/plugins/s3-auth/constants.js';
import { RegionResolver } from '../../../src/plugins/s3-auth/region.js';
import { SIGN_ALL } from '../../../src/plugins/s3-auth/select-headers.js';
import { signV4Request } from '../../../src/plugins/s3-auth/sign-v4-request.js';
import { parseKey, parseKeyFile, parseScope, type ScopedKey, ScopedKeySource, SecretKeySource } from '../../../src/plugins/s3-auth/signing-keys.js';
import { type CredentialScope, deriveSigningKey, scopeString } from '../../../src/plugins/s3-auth/sigv4.js';
import { HeaderList } from '../../../src/proxy/header-list.js';

const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function scope(date: string, region = 'us-east-1', service = 's3'): CredentialScope {
  return { date, region, service };
}

function scopedKey(date: string, region = 'us-east-1', service = 's3'): ScopedKey {
  const s = scope(date, region, service);
  return { scope: s, key: deriveSigningKey(SECRET_KEY, s) };
}

/** A key file line as `remapd signing-key` prints it. */
function keyLine(k: ScopedKey): string {
  return `${scopeString(k.scope)} ${k.key.toString('base64')}`;
}

function isSigningKeyError(err: unknown): err is RemapdError {
  return err instanceof RemapdError && err.code === 'ERR_SIGNING_KEY' && err.status === 500;
}

describe('SecretKeySource', () => {
  test('derives the AWS key for a scope', () => {
    const keys = new SecretKeySource('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY');
    assert.equal(keys.keyFor(scope('20120215', 'us-east-1', 'iam')).toString('hex'), 'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });

  test('derives once per (date, region, service): asking again returns the same Buffer', () => {
    const keys = new SecretKeySource(SECRET_KEY);
    const first = keys.keyFor(scope('20130524'));
    assert.equal(keys.keyFor(scope('20130524')), first);
    assert.equal(keys.keyFor({ date: '20130524', region: 'us-east-1', service: 's3' }), first, 'equal scopes, not the same object');
  });

  test('a different date, region or service is a different key', () => {
    const keys = new SecretKeySource(SECRET_KEY);
    const base = keys.keyFor(scope('20130524'));
    for (const other of [scope('20130525'), scope('20130524', 'eu-west-1'), scope('20130524', 'us-east-1', 'iam')]) {
      const k = keys.keyFor(other);
      assert.notEqual(k, base);
      assert.deepEqual(k, deriveSigningKey(SECRET_KEY, other));
      assert.equal(keys.keyFor(other), k);
    }
  });

  test('each set of credentials has its own cache', () => {
    const a = new SecretKeySource(SECRET_KEY).keyFor(scope('20130524'));
    const b = new SecretKeySource('another-secret').keyFor(scope('20130524'));
    assert.notDeepEqual(a, b);
  });

  test('stays correct after many days roll through its bounded cache', () => {
    const keys = new SecretKeySource(SECRET_KEY);
    for (let d = 1; d <= 28; d++) keys.keyFor(scope(`201305${String(d).padStart(2, '0')}`));
    assert.deepEqual(keys.keyFor(scope('20130501')), deriveSigningKey(SECRET_KEY, scope('20130501')));
  });
});

describe('parseScope', () => {
  test('reads YYYYMMDD/region/service/aws4_request', () => {
    assert.deepEqual(parseScope('20130524/eu-west-1/s3/aws4_request'), scope('20130524', 'eu-west-1'));
  });

  test('refuses every other shape, naming the text', () => {
    for (const bad of [
      '',
      '20130524',
      '20130524/us-east-1/s3',
      '2013052/us-east-1/s3/aws4_request',
      '2013-05-24/us-east-1/s3/aws4_request',
      '20130524/US-EAST-1/s3/aws4_request',
      '20130524/us-east-1/s3/aws4_request/extra',
      '20130524/us-east-1/s3/aws5_request',
      '20130524//s3/aws4_request',
      ' 20130524/us-east-1/s3/aws4_request',
    ]) {
      const r = parseScope(bad);
      assert.equal(typeof r, 'string', JSON.stringify(bad));
      assert.ok((r as string).includes(`"${bad}"`), `${JSON.stringify(bad)}: ${String(r)}`);
    }
  });

  test('refuses dates that do not exist', () => {
    for (const bad of ['20130230', '20131301', '20130000', '20130532', '20130229']) {
      assert.match(String(parseScope(`${bad}/us-east-1/s3/aws4_request`)), /invalid date/, bad);
    }
    assert.deepEqual(parseScope('20120229/us-east-1/s3/aws4_request'), scope('20120229'), 'a leap day exists');
  });
});

describe('parseKey', () => {
  test('decodes a base64 32-byte key', () => {
    const key = deriveSigningKey(SECRET_KEY, scope('20130524'));
    assert.deepEqual(parseKey(key.toString('base64')), key);
  });

  test('refuses text that is not base64', () => {
    for (const bad of ['', 'not base64!', 'abc def', 'é']) assert.equal(parseKey(bad), 'signing key is not base64', JSON.stringify(bad));
  });

  test('refuses base64 of the wrong length, saying how long it is', () => {
    assert.equal(parseKey('AAAA'), 'signing key decodes to 3 bytes; a V4 signing key has 32');
    assert.match(String(parseKey(Buffer.alloc(33).toString('base64'))), /33 bytes/);
  });
});

describe('parseKeyFile', () => {
  test('reads one SCOPE KEY pair per line, skipping comments and blank lines', () => {
    const a = scopedKey('20130524');
    const b = scopedKey('20130525');
    const { keys, problems } = parseKeyFile(`# written by remapd signing-key\n\n${keyLine(a)}\r\n   ${keyLine(b)}\t\n`);
    assert.deepEqual(problems, []);
    assert.deepEqual(keys, [a, b]);
  });

  test('reports every bad line with its number and keeps the good ones', () => {
    const good = scopedKey('20130524');
    const text = [
      keyLine(good), // 1
      scopeString(good.scope), // 2: no key
      `${keyLine(good)} extra`, // 3: three fields
      `20130524/us-east-1/s3 ${good.key.toString('base64')}`, // 4: bad scope
      `20130230/us-east-1/s3/aws4_request ${good.key.toString('base64')}`, // 5: no such date
      '20130524/us-east-1/s3/aws4_request not-base64!', // 6: bad key
      '20130524/us-east-1/s3/aws4_request AAAA', // 7: short key
      '# 8 is a comment',
    ].join('\n');
    const { keys, problems } = parseKeyFile(text);
    assert.deepEqual(keys, [good]);
    assert.deepEqual(
      problems.map((p) => p.line),
      [2, 3, 4, 5, 6, 7],
    );
    assert.match(problems[0]!.message, /expected "YYYYMMDD\/region\/service\/aws4_request BASE64KEY"/);
    assert.match(problems[1]!.message, /expected/);
    assert.match(problems[2]!.message, /is not YYYYMMDD/);
    assert.match(problems[3]!.message, /invalid date/);
    assert.match(problems[4]!.message, /not base64/);
    assert.match(problems[5]!.message, /3 bytes/);
  });
});

describe('ScopedKeySource', () => {
  const keys = [scopedKey('20130523'), scopedKey('20130524'), scopedKey('20130525'), scopedKey('20130524', 'eu-west-1')];

  test('picks the key of the scope asked for', () => {
    const source = new ScopedKeySource(keys);
    assert.equal(source.keyFor(scope('20130524')), keys[1]!.key);
    assert.equal(source.keyFor(scope('20130524', 'eu-west-1')), keys[3]!.key);
    assert.deepEqual(source.scopes(), keys.map((k) => scopeString(k.scope)).sort());
  });

  test('signs with today\'s key: the AWS GET Object example signature, without the secret', () => {
    const req = {
      method: 'GET',
      host: 'examplebucket.s3.amazonaws.com',
      path: '/test.txt',
      search: '',
      headers: new HeaderList(['Host', 'examplebucket.s3.amazonaws.com', 'Range', 'bytes=0-9']),
    };
    const signer = {
      accessKey: 'AKIAIOSFODNN7EXAMPLE',
      keys: new ScopedKeySource(keys),
      sessionToken: null,
      regions: new RegionResolver({}),
      service: 's3',
      selection: SIGN_ALL,
      plusIsSpace: true,
    };
    const r = signV4Request(req, signer, new Date('2013-05-24T00:00:00Z'), EMPTY_SHA256);
    assert.equal(r.signature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  test('with no key for the scope, fails with ERR_SIGNING_KEY (500) naming the scope needed, never a key', () => {
    const source = new ScopedKeySource(keys);
    assert.throws(
      () => source.keyFor(scope('20130526')),
      (err: unknown) => {
        assert.ok(isSigningKeyError(err), String(err));
        assert.ok(err.detail?.includes('20130526/us-east-1/s3/aws4_request'), err.detail);
        assert.ok(err.detail?.includes('20130524/us-east-1/s3/aws4_request'), 'lists the scopes held');
        for (const k of keys) {
          for (const encoding of ['base64', 'hex'] as const) {
            assert.ok(!err.detail?.includes(k.key.toString(encoding)), `detail leaks a key (${encoding})`);
            assert.ok(!err.message.includes(k.key.toString(encoding)), `message leaks a key (${encoding})`);
          }
        }
        return true;
      },
    );
  });

  test('a key of the right date but another region or service is no key', () => {
    const source = new ScopedKeySource(keys);
    assert.throws(() => source.keyFor(scope('20130523', 'eu-west-1')), isSigningKeyError);
    assert.throws(() => source.keyFor(scope('20130524', 'us-east-1', 'iam')), isSigningKeyError);
  });

  test('with no keys at all, says so', () => {
    assert.throws(
      () => new ScopedKeySource([]).keyFor(scope('20130524')),
      (err: unknown) => isSigningKeyError(err) && /no keys held/.test(err.detail ?? ''),
    );
  });

  test('picks up a rewritten key file, looking again at most every 10 s', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'remapd-keys-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'signing-keys');
    const day1 = scopedKey('20130524');
    const day2 = scopedKey('20130525');
    writeFileSync(file, `${keyLine(day1)}\n`);
    utimesSync(file, 1_000_000, 1_000_000);

    let now = 5_000_000;
    const source = new ScopedKeySource(parseKeyFile(`${keyLine(day1)}\n`).keys, file, () => now);
    assert.deepEqual(source.keyFor(day1.scope), day1.key);
    assert.throws(() => source.keyFor(day2.scope), (err: unknown) => isSigningKeyError(err) && err.detail!.includes(file));

    // A cron installs the next day's key.
    writeFileSync(file, `${keyLine(day1)}\n${keyLine(day2)}\n`);
    utimesSync(file, 1_000_100, 1_000_100);

    now += 9_999;
    assert.throws(() => source.keyFor(day2.scope), isSigningKeyError, 'not looked at again within 10 s');
    now += 1;
    assert.deepEqual(source.keyFor(day2.scope), day2.key);
    assert.deepEqual(source.keyFor(day1.scope), day1.key);
  });

  test('keeps its keys when the key file vanishes', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'remapd-keys-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'signing-keys');
    const day1 = scopedKey('20130524');
    writeFileSync(file, `${keyLine(day1)}\n`);
    let now = 0;
    const source = new ScopedKeySource([day1], file, () => now);
    rmSync(file);
    now += 60_000;
    assert.throws(() => source.keyFor(scope('20130525')), isSigningKeyError);
    assert.equal(source.keyFor(day1.scope), day1.key);
  });
});
