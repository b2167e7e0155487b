/**
 * ATS's `expiration=EPOCH` in an s3_auth --config file: the file is re-read on ATS's schedule (1 h before, 15 min
 * before, at expiry, then every minute), new credentials sign the next request with no restart, a file that cannot
 * be read is retried with back-off while the last good credentials stay in use, and the approach of expiry is
 * logged loudly — never with a secret in it. Time is a ManualClock; one test runs on real (short) timers.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createS3AuthPlugin, type S3AuthPlugin } from '../../../src/plugins/s3-auth/s3-auth.js';
import { rereadDelay } from '../../../src/plugins/s3-auth/credentials-expiring.js';
import { ManualClock } from '../../support/manual-clock.js';
import { assertNoSecretsLogged, assertSignedWith, FROM, type LoggedContext, logged, loggedContext, sign, tempFolder, TO } from './credentials-support.js';

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

const FIRST = { accessKeyId: 'AKIDFIRST', secretAccessKey: 'first-secret-wJalrXUtnFEMI', sessionToken: 'first-token-FwoGZXIvYXdz' };
const SECOND = { accessKeyId: 'AKIDSECOND', secretAccessKey: 'second-secret-K7MDENGbPxRf', sessionToken: 'second-token-EB0aDFw' };
const SECRETS = [FIRST.secretAccessKey, FIRST.sessionToken, SECOND.secretAccessKey, SECOND.sessionToken];

function configText(c: typeof FIRST, expiresAtMs: number | null): string {
  const lines = ['# written by the rotation job', `access_key=${c.accessKeyId}`, `secret_key=${c.secretAccessKey}`, `session_token=${c.sessionToken}`];
  if (expiresAtMs !== null) lines.push(`expiration=${Math.floor(expiresAtMs / 1000)}`);
  return `${lines.join('\n')}\n`;
}

interface Setup {
  dir: string;
  file: string;
  clock: ManualClock;
  context: LoggedContext;
  plugin: S3AuthPlugin;
  write(c: typeof FIRST, expiresAtMs: number | null): void;
}

function setup(t: { after(fn: () => void): void }, expiresAtMs: number | null, extra: string[] = []): Setup {
  const dir = tempFolder(t);
  const file = join(dir, 's3_auth_v4.config');
  const write = (c: typeof FIRST, at: number | null) => writeFileSync(file, configText(c, at));
  write(FIRST, expiresAtMs);
  const clock = new ManualClock(T0);
  const context = loggedContext(dir);
  const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--config', 's3_auth_v4.config', ...extra], context, { clock });
  t.after(() => {
    plugin.close();
    assertNoSecretsLogged(context, SECRETS);
  });
  return { dir, file, clock, context, plugin, write };
}

describe('rereadDelay: ATS\'s cal_reload_delay', () => {
  test('more than an hour left: wakes an hour before expiry', () => {
    assert.equal(rereadDelay(3 * HOUR), 2 * HOUR);
    assert.equal(rereadDelay(HOUR + 1), 1);
  });

  test('inside the last hour: 15 minutes before; inside the last 15 minutes: at expiry', () => {
    assert.equal(rereadDelay(HOUR), 45 * MIN);
    assert.equal(rereadDelay(30 * MIN), 15 * MIN);
    assert.equal(rereadDelay(15 * MIN), 15 * MIN);
    assert.equal(rereadDelay(1), 1);
  });
});

describe('s3_auth --config with expiration=: re-read ahead of expiry', () => {
  test('re-reads the file one hour before expiry; the next request signs with what it holds', async (t) => {
    const s = setup(t, T0 + 3 * HOUR);
    assert.deepEqual(s.clock.pendingDelays(), [2 * HOUR], 'the first re-read is armed an hour before expiry');
    await assertSignedWith(await sign(s.plugin), FIRST);

    s.write(SECOND, T0 + 9 * HOUR);
    s.clock.advance(2 * HOUR - 1);
    await assertSignedWith(await sign(s.plugin), FIRST);
    s.clock.advance(1);
    await assertSignedWith(await sign(s.plugin), SECOND);

    assert.equal(logged(s.context, 'INFO', 's3_auth: new credentials in force').length, 1);
    assert.match(logged(s.context, 'INFO', 'new credentials')[0]!, /rule=.*remap\.config:4 .*expires="2026-11-23T17:00:00\.000Z \(in 420 min\)"/);
    assert.deepEqual(s.clock.pendingDelays(), [6 * HOUR], 'the next re-read: an hour before the new expiry');
    assert.deepEqual(s.plugin.health(), { ready: true, credentialsExpireAt: T0 + 9 * HOUR });
  });

  test('a file not renewed: re-read at 1 h, 15 min and at expiry, a warning then errors, then every minute', async (t) => {
    const s = setup(t, T0 + 2 * HOUR);
    s.clock.advance(HOUR);
    assert.equal(logged(s.context, 'WARN', 'expire within the hour').length, 1);
    assert.match(logged(s.context, 'WARN', 'expire within the hour')[0]!, /remedy="write new credentials and expiration= to .*s3_auth_v4\.config"/);
    assert.deepEqual(s.clock.pendingDelays(), [45 * MIN]);

    s.clock.advance(45 * MIN);
    assert.equal(logged(s.context, 'ERROR', 'expire within 15 minutes').length, 1);
    assert.deepEqual(s.clock.pendingDelays(), [15 * MIN]);
    assert.equal(s.plugin.health().ready, true);

    s.clock.advance(15 * MIN);
    assert.equal(logged(s.context, 'ERROR', 'credentials have expired').length, 1);
    assert.deepEqual(s.clock.pendingDelays(), [MIN], 'once expired: every minute, as ATS');
    assert.deepEqual(s.plugin.health(), {
      ready: false,
      reason: `credentials from config file ${s.file} expired at 2026-11-23T10:00:00.000Z`,
      credentialsExpireAt: T0 + 2 * HOUR,
    });
    // As ATS: the last credentials still sign (the origin decides); /readyz says not ready.
    await assertSignedWith(await sign(s.plugin), FIRST);

    s.clock.advance(9 * MIN);
    assert.equal(logged(s.context, 'ERROR', 'credentials have expired').length, 1, 'not every minute');
    s.clock.advance(MIN);
    assert.equal(logged(s.context, 'ERROR', 'credentials have expired').length, 2, 'again after 10 minutes');
    assert.equal(logged(s.context, 'WARN', 'expire within the hour').length, 1, 'each approaching stage is logged once');

    s.write(SECOND, T0 + 8 * HOUR);
    s.clock.advance(MIN);
    await assertSignedWith(await sign(s.plugin), SECOND);
    assert.deepEqual(s.plugin.health(), { ready: true, credentialsExpireAt: T0 + 8 * HOUR });
  });

  test('an unreadable file is retried with back-off (1 s doubling to 60 s) and the last good credentials stay in use', async (t) => {
    const s = setup(t, T0 + 2 * HOUR);
    rmSync(s.file);
    s.clock.advance(HOUR);
    const failures = () => logged(s.context, 'WARN', 'cannot re-read credentials; the current ones stay in use');
    assert.equal(failures().length, 1);
    assert.match(failures()[0]!, /reason="cannot read config file .*s3_auth_v4\.config: ENOENT[;"]/);
    assert.match(failures()[0]!, /retryInSeconds=1\b/);
    await assertSignedWith(await sign(s.plugin), FIRST);

    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const [next] = s.clock.pendingDelays();
      delays.push(next!);
      s.clock.advance(next!);
    }
    assert.deepEqual(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60].map((x) => x * 1000));
    assert.equal(failures().length, 10);
    await assertSignedWith(await sign(s.plugin), FIRST);
    assert.equal(s.plugin.health().ready, true, 'still valid: ready');

    s.write(SECOND, T0 + 6 * HOUR);
    s.clock.advance(s.clock.pendingDelays()[0]!);
    await assertSignedWith(await sign(s.plugin), SECOND);
    assert.equal(s.clock.pendingDelays().length, 1);
    assert.equal(s.clock.now() + s.clock.pendingDelays()[0]!, T0 + 5 * HOUR, 'back on the expiry schedule');
  });

  test('failures inside the last 15 minutes are logged as errors', (t) => {
    const s = setup(t, T0 + 10 * MIN);
    rmSync(s.file);
    s.clock.advance(10 * MIN);
    assert.equal(logged(s.context, 'ERROR', 'cannot re-read credentials').length, 1);
    assert.equal(logged(s.context, 'ERROR', 'credentials have expired').length, 1);
  });

  test('a file that does not check out counts as unreadable: the old credentials stay', async (t) => {
    const s = setup(t, T0 + 2 * HOUR);
    writeFileSync(s.file, `access_key=AKIDBROKEN\nversion=5\nexpiration=${Math.floor((T0 + 9 * HOUR) / 1000)}\n`);
    s.clock.advance(HOUR);
    const [line] = logged(s.context, 'WARN', 'cannot re-read credentials');
    assert.ok(line, s.context.logs.join('\n'));
    assert.match(line, /s3_auth_v4\.config:2: unknown --version \\"5\\"/);
    await assertSignedWith(await sign(s.plugin), FIRST);
  });

  test('close() stops every timer', (t) => {
    const s = setup(t, T0 + 2 * HOUR);
    assert.equal(s.clock.pendingDelays().length, 1);
    s.plugin.close();
    assert.deepEqual(s.clock.pendingDelays(), []);
    s.clock.advance(5 * HOUR);
    assert.deepEqual(s.context.logs, [], 'nothing ran after close');
  });

  test('expiration=0 means no expiry, as in ATS: no timer, nothing logged', async (t) => {
    const dir = tempFolder(t);
    writeFileSync(join(dir, 's3.config'), `${configText(FIRST, null)}expiration=0\n`);
    const clock = new ManualClock(T0);
    const context = loggedContext(dir);
    const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--config=s3.config'], context, { clock });
    t.after(() => plugin.close());
    assert.deepEqual(clock.pendingDelays(), []);
    assert.deepEqual(plugin.health(), { ready: true, credentialsExpireAt: null });
    await assertSignedWith(await sign(plugin), FIRST);
    assert.deepEqual([...context.logs, ...context.warnings], []);
  });

  test('credentials without expiration= are static: no timer', (t) => {
    const s = setup(t, null);
    assert.deepEqual(s.clock.pendingDelays(), []);
    assert.deepEqual(s.plugin.health(), { ready: true, credentialsExpireAt: null });
  });

  test('--expiration as an @pparam with no --config: nothing to re-read, but the warnings come', async (t) => {
    const clock = new ManualClock(T0);
    const context = loggedContext();
    const plugin = createS3AuthPlugin(
      [FROM, TO, '--version=4', `--access_key=${FIRST.accessKeyId}`, `--secret_key=${FIRST.secretAccessKey}`, `--expiration=${(T0 + 2 * HOUR) / 1000}`],
      context,
      { clock },
    );
    t.after(() => plugin.close());
    clock.advance(HOUR);
    assert.match(logged(context, 'WARN', 'expire within the hour')[0] ?? '', /from="the rule's --expiration"/);
    clock.advance(HOUR);
    assert.equal(logged(context, 'ERROR', 'credentials have expired').length, 1);
    await assertSignedWith(await sign(plugin), { accessKeyId: FIRST.accessKeyId, secretAccessKey: FIRST.secretAccessKey });
    assertNoSecretsLogged(context, SECRETS);
  });

  test('with real timers: a file rewritten before its expiration is picked up by itself', async (t) => {
    const dir = tempFolder(t);
    const file = join(dir, 's3.config');
    // Inside the last 15 minutes ATS re-reads at expiry: here, in one to two seconds.
    const expiresAt = (Math.floor(Date.now() / 1000) + 2) * 1000;
    writeFileSync(file, configText(FIRST, expiresAt));
    const context = loggedContext(dir);
    const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--config=s3.config'], context);
    t.after(() => plugin.close());
    await assertSignedWith(await sign(plugin), FIRST);
    const renewed = Date.now() + 6 * HOUR;
    writeFileSync(file, configText(SECOND, renewed));

    const deadline = Date.now() + 6_000;
    let signed = await sign(plugin);
    for (let i = 0; i < 200 && signed.accessKey !== SECOND.accessKeyId && Date.now() < deadline; i++) {
      await new Promise((r) => setTimeout(r, 50));
      signed = await sign(plugin);
    }
    await assertSignedWith(signed, SECOND);
    assert.deepEqual(plugin.health(), { ready: true, credentialsExpireAt: Math.floor(renewed / 1000) * 1000 });
    assertNoSecretsLogged(context, SECRETS);
  });
});
