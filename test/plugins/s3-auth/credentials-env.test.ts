/**
 * --credentials=env: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (and AWS_CREDENTIAL_EXPIRATION)
 * read at load; what is missing or malformed is a configuration error with the rule's file:line. process.env is
 * changed only inside a test and restored after it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PluginArgumentError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createS3AuthPlugin } from '../../../src/plugins/s3-auth/s3-auth.js';
import { loadRemapConfig } from '../../../src/remap/load.js';
import { ManualClock } from '../../support/manual-clock.js';
import { assertNoSecretsLogged, assertSignedWith, FROM, logged, loggedContext, sign, tempFolder, TO } from './credentials-support.js';

const ENV = { accessKeyId: 'AKIDFROMENV', secretAccessKey: 'env-secret-wJalrXUtnFEMI', sessionToken: 'env-token-IQoJb3JpZ2lu' };
const VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION'] as const;

/** Sets (string) or unsets (undefined) variables for this test only. */
function withEnv(t: { after(fn: () => void): void }, values: Partial<Record<(typeof VARS)[number], string | undefined>>): void {
  const saved = new Map<string, string | undefined>(VARS.map((name) => [name, process.env[name]]));
  t.after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  for (const name of VARS) {
    const value = values[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

const FULL = { AWS_ACCESS_KEY_ID: ENV.accessKeyId, AWS_SECRET_ACCESS_KEY: ENV.secretAccessKey, AWS_SESSION_TOKEN: ENV.sessionToken };

function refusal(params: string[]): string {
  try {
    createS3AuthPlugin([FROM, TO, ...params], loggedContext()).close();
  } catch (err) {
    assert.ok(err instanceof PluginArgumentError, String(err));
    return err.message;
  }
  assert.fail('the plugin accepted its arguments');
}

describe('s3_auth --credentials=env', () => {
  test('reads the key, secret and session token at load and signs with them', async (t) => {
    withEnv(t, FULL);
    const context = loggedContext();
    const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--credentials=env'], context);
    t.after(() => plugin.close());
    await assertSignedWith(await sign(plugin), ENV);
    assert.deepEqual(plugin.health(), { ready: true, credentialsExpireAt: null });

    process.env.AWS_ACCESS_KEY_ID = 'AKIDCHANGEDLATER';
    await assertSignedWith(await sign(plugin), ENV);
    assertNoSecretsLogged(context, [ENV.secretAccessKey, ENV.sessionToken]);
  });

  test('without AWS_SESSION_TOKEN no token is sent; V2 signs with the same variables', async (t) => {
    withEnv(t, { AWS_ACCESS_KEY_ID: ENV.accessKeyId, AWS_SECRET_ACCESS_KEY: ENV.secretAccessKey });
    const v4 = createS3AuthPlugin([FROM, TO, '--version=4', '--credentials=env'], loggedContext());
    await assertSignedWith(await sign(v4), { accessKeyId: ENV.accessKeyId, secretAccessKey: ENV.secretAccessKey });
    const v2 = createS3AuthPlugin([FROM, TO, '--version=2', '--credentials=env'], loggedContext());
    const signed = await sign(v2);
    assert.equal(signed.accessKey, ENV.accessKeyId);
    assert.match(signed.req.headers.get('authorization')!, /^AWS AKIDFROMENV:[A-Za-z0-9+/]+=*$/);
  });

  test('the variables can also be given through the test\'s env, and a --config file can ask for them', async (t) => {
    const dir = tempFolder(t);
    writeFileSync(join(dir, 's3.config'), 'version=4\ncredentials=env\n');
    const plugin = createS3AuthPlugin([FROM, TO, '--config=s3.config'], loggedContext(dir), { env: { ...FULL } });
    await assertSignedWith(await sign(plugin), ENV);
  });

  test('AWS_CREDENTIAL_EXPIRATION: health() reports it, its approach is logged, and once passed it is not ready', (t) => {
    const start = Date.UTC(2026, 10, 23, 8, 0, 0);
    withEnv(t, { ...FULL, AWS_CREDENTIAL_EXPIRATION: '2026-11-23T10:00:00Z' });
    const clock = new ManualClock(start);
    const context = loggedContext();
    const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--credentials=env'], context, { clock });
    t.after(() => plugin.close());
    assert.deepEqual(plugin.health(), { ready: true, credentialsExpireAt: Date.UTC(2026, 10, 23, 10) });
    clock.advance(60 * 60_000);
    const [warning] = logged(context, 'WARN', 'expire within the hour');
    assert.match(warning ?? '', /from="the environment \(AWS_CREDENTIAL_EXPIRATION\)".*remedy="restart remapd with new AWS_\* variables, or use --credentials=aws/);
    clock.advance(60 * 60_000);
    assert.equal(logged(context, 'ERROR', 'credentials have expired').length, 1);
    assert.equal(plugin.health().ready, false);
    assert.match(plugin.health().reason ?? '', /the environment \(AWS_CREDENTIAL_EXPIRATION\) expired at 2026-11-23T10:00:00\.000Z/);
    assertNoSecretsLogged(context, [ENV.secretAccessKey, ENV.sessionToken]);
  });

  test('an AWS_CREDENTIAL_EXPIRATION already passed at load is a warning, as an expiration= is', (t) => {
    withEnv(t, { ...FULL, AWS_CREDENTIAL_EXPIRATION: '2001-09-09T01:46:40Z' });
    const context = loggedContext();
    createS3AuthPlugin([FROM, TO, '--version=4', '--credentials=env'], context).close();
    assert.deepEqual(context.warnings, ["s3_auth: the credentials' expiration (2001-09-09T01:46:40.000Z) has passed"]);
  });

  test('missing variables are a configuration error naming the rule\'s file:line', async (t) => {
    withEnv(t, { AWS_SESSION_TOKEN: ENV.sessionToken });
    const dir = tempFolder(t);
    const config = join(dir, 'remap.config');
    writeFileSync(config, `# env credentials\nmap ${FROM} ${TO} @plugin=s3_auth.so @pparam=--version=4 @pparam=--credentials=env\n`);
    const { config: loaded, diagnostics } = await loadRemapConfig(config, { logger: silentLogger });
    assert.equal(loaded, null);
    assert.deepEqual(diagnostics, [
      { severity: 'error', file: config, line: 2, message: 's3_auth.so: --credentials=env: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set' },
    ]);
  });

  test('one missing variable, an empty one, or a bad AWS_CREDENTIAL_EXPIRATION is refused', (t) => {
    withEnv(t, { AWS_ACCESS_KEY_ID: ENV.accessKeyId, AWS_SECRET_ACCESS_KEY: ' ' });
    assert.equal(refusal(['--version=4', '--credentials=env']), '--credentials=env: AWS_SECRET_ACCESS_KEY is not set');
    process.env.AWS_SECRET_ACCESS_KEY = ENV.secretAccessKey;
    process.env.AWS_CREDENTIAL_EXPIRATION = 'next tuesday';
    assert.equal(refusal(['--version=4', '--credentials=env']), '--credentials=env: AWS_CREDENTIAL_EXPIRATION "next tuesday" is not an ISO 8601 date');
  });

  test('--credentials with credentials in the options too, or an unknown source, is refused', (t) => {
    withEnv(t, FULL);
    assert.equal(
      refusal(['--version=4', '--credentials=env', '--access_key=AK', '--secret_key=SK', '--expiration=2000000000']),
      '--credentials=env takes the credentials from the AWS_* environment variables; do not also give --access_key, --secret_key, expiration',
    );
    assert.equal(
      refusal(['--version=4', '--credentials=aws', '--session_token=T']),
      "--credentials=aws takes the credentials from the AWS SDK's default provider chain; do not also give --session_token",
    );
    assert.equal(refusal(['--version=4', '--credentials=vault']), '--credentials must be "env" or "aws" (got "vault")');
  });
});
