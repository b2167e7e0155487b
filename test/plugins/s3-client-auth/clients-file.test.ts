/** s3_client_auth's clients file: parsing with file:line problems, and the allow list / methods decision. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAllowed, parseClients } from '../../../src/plugins/s3-client-auth/clients-file.js';

const FILE = '/etc/remapd/clients.config';

const GOOD = `# clients
[AKIDALL]
secret_key = all/Secret+Key=
allow = *

[AKIDPHOTOS]
secret_key = photos-secret
session_token = tok==
expires = 2027-01-31T00:00:00Z
allow = photos, logs/2026/*
methods = get, HEAD
`;

describe('parseClients', () => {
  test('reads keys, secrets, tokens, expiry, allow lists and methods', () => {
    const { clients, problems } = parseClients(GOOD, FILE);
    assert.deepEqual(problems, []);
    assert.equal(clients.size, 2);
    const all = clients.get('AKIDALL')!;
    assert.equal(all.secretKey, 'all/Secret+Key=');
    assert.deepEqual(all.allow, [{ bucket: '*', prefix: '' }]);
    assert.deepEqual([...all.methods], ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);
    const photos = clients.get('AKIDPHOTOS')!;
    assert.equal(photos.sessionToken, 'tok==');
    assert.equal(photos.expiresAt, Date.parse('2027-01-31T00:00:00Z'));
    assert.deepEqual(photos.allow, [{ bucket: 'photos', prefix: '' }, { bucket: 'logs', prefix: '2026/' }]);
    assert.deepEqual([...photos.methods], ['GET', 'HEAD']);
  });

  test('every problem names the file and line', () => {
    const text = `orphan = 1
[AKIDNOSECRET]
allow = *
[AKIDNOALLOW]
secret_key = s
[AKIDBAD]
secret_key = s
allow = photos/a*b
methods = GET, 12
expires = soon
colour = blue
[AKIDBAD]
secret_key = again
`;
    const { problems } = parseClients(text, FILE);
    assert.ok(problems.includes(`${FILE}:1: "orphan" is outside any [ACCESS_KEY] section`), problems.join('\n'));
    assert.ok(problems.includes(`${FILE}:2: AKIDNOSECRET has no secret_key`), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith(`${FILE}:4: AKIDNOALLOW has no allow list`)), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith(`${FILE}:8: allow of AKIDBAD`)), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith(`${FILE}:9: methods of AKIDBAD`)), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith(`${FILE}:10: expires "soon"`)), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith(`${FILE}:11: unknown key "colour"`)), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith(`${FILE}:12: access key "AKIDBAD" is listed twice`)), problems.join('\n'));
  });

  test('an empty file is a problem, not a gateway that lets no one in without saying so', () => {
    assert.deepEqual(parseClients('# nothing\n', FILE).problems, [`${FILE}: no clients ([ACCESS_KEY] sections with a secret_key)`]);
  });
});

describe('isAllowed', () => {
  const { clients } = parseClients(GOOD, FILE);
  const photos = clients.get('AKIDPHOTOS')!;
  const all = clients.get('AKIDALL')!;
  test('whole bucket, prefix, and methods', () => {
    assert.equal(isAllowed(photos, 'GET', 'photos', 'cats/1.jpg', null), true);
    assert.equal(isAllowed(photos, 'GET', 'logs', '2026/01.log', null), true);
    assert.equal(isAllowed(photos, 'GET', 'logs', '2025/01.log', null), false);
    assert.equal(isAllowed(photos, 'PUT', 'photos', 'cats/1.jpg', null), false);
    assert.equal(isAllowed(photos, 'GET', 'other', 'x', null), false);
  });
  test('bucket-level requests: the whole bucket, or a listing inside the prefix; the service root needs *', () => {
    assert.equal(isAllowed(photos, 'GET', 'photos', '', null), true);
    assert.equal(isAllowed(photos, 'GET', 'logs', '', '2026/03/'), true);
    assert.equal(isAllowed(photos, 'GET', 'logs', '', '2025/'), false);
    assert.equal(isAllowed(photos, 'GET', 'logs', '', null), false);
    assert.equal(isAllowed(photos, 'GET', '', '', null), false);
    assert.equal(isAllowed(all, 'GET', '', '', null), true);
  });
});
