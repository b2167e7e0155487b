/**
 * The gateway under test: an s3rver origin with keys of its own, and remapd in front of it with s3_client_auth
 * (clients sign with client-facing keys) and s3_auth (remapd re-signs with the origin's keys). Path style, since the
 * clients reach remapd by address; the rule's from-URL needs remapd's port, so the config is rewritten with it and
 * reloaded once remapd listens on 127.0.0.1:0.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOOPBACK, type Remapd, startRemapd } from '../support/harness.js';
import { type S3rverHandle, startS3rver } from '../support/s3rver.js';

export const BUCKET = 'gw-bucket';
/** A client that may do anything, with a secret holding the characters real secrets have. */
export const CLIENT = { accessKeyId: 'AKIDGATEWAYCLIENT1', secretAccessKey: 'gateway/Client+Secret=Key/0123456789abcd' };
/** A client that may only read keys under public/ of the bucket. */
export const READER = { accessKeyId: 'AKIDGATEWAYREADER1', secretAccessKey: 'reader-secret-0123456789abcdefghijklmn' };
/** A client with a session token. */
export const TOKEN_CLIENT = {
  accessKeyId: 'ASIAGATEWAYTOKEN1',
  secretAccessKey: 'token-secret-0123456789abcdefghijklmn',
  sessionToken: 'FwoGZXIvYXdzEJr//////////wEaDGateway+Token/Value==',
};
export const REGION = 'us-east-1';

export interface Gateway {
  s3: S3rverHandle;
  proxy: Remapd;
  /** http://127.0.0.1:PORT, what clients are pointed at. */
  endpoint: string;
  close(): Promise<void>;
}

/** The domain under which `BUCKET.${VHOST_DOMAIN}` names a bucket (virtual-host style clients). */
export const VHOST_DOMAIN = 's3.gw.test';

function rules(port: number, s3: S3rverHandle, extra: string): string {
  const resign = `@plugin=s3_auth.so @pparam=--version=4 @pparam=--access_key=${s3.accessKey} @pparam=--secret_key=${s3.secretKey}`;
  return [
    `map http://${LOOPBACK}:${port}/ http://${LOOPBACK}:${s3.port}/ \\`,
    `    @plugin=s3_client_auth.so @pparam=--clients=clients.config ${extra} \\`,
    `    ${resign}`,
    // Virtual-host style, as README's gateway section shows it: the bucket goes back into the origin's path.
    `regex_map http://([a-z0-9.-]+)\\.s3\\.gw\\.test:${port}/ http://${LOOPBACK}:${s3.port}/$1/ \\`,
    `    @plugin=s3_client_auth.so @pparam=--clients=clients.config @pparam=--virtual-host-domain=${VHOST_DOMAIN} ${extra} \\`,
    `    ${resign}`,
    '',
  ].join('\n');
}

export const CLIENTS_FILE = [
  '# gateway test clients',
  `[${CLIENT.accessKeyId}]`,
  `secret_key = ${CLIENT.secretAccessKey}`,
  'allow = *',
  '',
  `[${READER.accessKeyId}]`,
  `secret_key = ${READER.secretAccessKey}`,
  `allow = ${BUCKET}/public/`,
  'methods = GET, HEAD',
  '',
  `[${TOKEN_CLIENT.accessKeyId}]`,
  `secret_key = ${TOKEN_CLIENT.secretAccessKey}`,
  `session_token = ${TOKEN_CLIENT.sessionToken}`,
  'allow = *',
  '',
].join('\n');

export async function startGateway(extraParams = ''): Promise<Gateway> {
  const s3 = await startS3rver([BUCKET]);
  let proxy: Remapd;
  try {
    proxy = await startRemapd(rules(1, s3, extraParams), {
      files: { 'clients.config': CLIENTS_FILE },
      settings: { connectTimeoutMs: 2_000, responseTimeoutMs: 10_000, bodyIdleTimeoutMs: 10_000 },
    });
  } catch (err) {
    await s3.close();
    throw err;
  }
  writeFileSync(join(proxy.dir, 'remap.config'), rules(proxy.port, s3, extraParams));
  const result = await proxy.server.reload('test');
  if (!result.ok) {
    await proxy.close();
    await s3.close();
    throw new Error(`gateway config did not load: ${JSON.stringify(result)}`);
  }
  return {
    s3,
    proxy,
    endpoint: proxy.url,
    close: async () => {
      await proxy.close();
      await s3.close();
    },
  };
}
