/**
 * The clients file is part of the configuration: an edit that revokes a key takes effect on reload, and an edit
 * with an error is refused whole, the clients in force staying as they were.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { BUCKET, CLIENT, CLIENTS_FILE, type Gateway, READER, REGION, startGateway } from './support.js';

const STEP = { timeout: 20_000 };
let gw: Gateway;

before(async () => {
  gw = await startGateway();
}, { timeout: 20_000 });

after(async () => {
  await gw?.close();
}, { timeout: 20_000 });

async function list(credentials: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
  const s3 = new S3Client({ endpoint: gw.endpoint, region: REGION, forcePathStyle: true, credentials, maxAttempts: 1 });
  try {
    await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'public/' }));
    return 'ok';
  } catch (err) {
    if (err instanceof S3ServiceException) return err.name;
    throw err;
  } finally {
    s3.destroy();
  }
}

test('revoking a key in the clients file takes effect on reload; a broken edit keeps the old clients', STEP, async () => {
  assert.equal(await list(READER), 'ok');
  const file = join(gw.proxy.dir, 'clients.config');
  const withoutReader = CLIENTS_FILE.replace(new RegExp(`\\[${READER.accessKeyId}\\][^[]*`), '');
  writeFileSync(file, withoutReader);
  assert.equal((await gw.proxy.server.reload('test')).ok, true);
  assert.equal(await list(READER), 'InvalidAccessKeyId');
  assert.equal(await list(CLIENT), 'ok');

  writeFileSync(file, `${CLIENTS_FILE}\n[AKIDBROKEN]\nallow = *\n`);
  const failed = await gw.proxy.server.reload('test');
  assert.equal(failed.ok, false);
  assert.match(failed.message, /clients\.config:\d+: AKIDBROKEN has no secret_key/);
  assert.equal(await list(READER), 'InvalidAccessKeyId', 'the failed reload changed nothing');
  assert.equal(await list(CLIENT), 'ok');
});
