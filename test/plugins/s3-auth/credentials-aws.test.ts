/**
 * --credentials=aws, the refresh logic on its own: a fetch function the test settles by hand stands in for the AWS
 * SDK's chain (credentials-aws-container.test.ts runs the real chain against a local container endpoint), and a
 * ManualClock stands in for time. Renewed 5 minutes before expiry, one fetch at a time, the last good credentials
 * kept while fetches fail, back-off, 503 only when nothing valid is held.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RemapdError } from '../../../src/errors.js';
import type { AwsIdentity } from '../../../src/plugins/s3-auth/credentials-aws.js';
import { createS3AuthPlugin, type S3AuthPlugin } from '../../../src/plugins/s3-auth/s3-auth.js';
import { ManualClock } from '../../support/manual-clock.js';
import { assertNoSecretsLogged, assertSignedWith, FROM, type LoggedContext, logged, loggedContext, sign, TO } from './credentials-support.js';

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const MIN = 60_000;

interface Call {
  resolve(identity: AwsIdentity): void;
  reject(err: Error): void;
}

/** A stand-in for the SDK's chain: every call waits until the test settles it. */
class FakeChain {
  readonly calls: Call[] = [];
  readonly fetch = (): Promise<AwsIdentity> => new Promise<AwsIdentity>((resolve, reject) => this.calls.push({ resolve, reject }));

  /** Settles the latest call with credentials number `n`, valid until `expiresAt`. */
  async give(n: number, expiresAt: number | null): Promise<void> {
    this.calls.at(-1)!.resolve(identity(n, expiresAt));
    await settled();
  }

  async fail(message = 'connect ECONNREFUSED 169.254.170.2:80'): Promise<void> {
    this.calls.at(-1)!.reject(new Error(message));
    await settled();
  }
}

function identity(n: number, expiresAt: number | null): AwsIdentity {
  return {
    accessKeyId: `ASIAROTATED${n}`,
    secretAccessKey: `rotated-secret-${n}-wJalrXUtnFEMI`,
    sessionToken: `rotated-token-${n}-IQoJb3JpZ2lu`,
    ...(expiresAt === null ? {} : { expiration: new Date(expiresAt) }),
  };
}

function judged(n: number) {
  const id = identity(n, null);
  return { accessKeyId: id.accessKeyId, secretAccessKey: id.secretAccessKey, sessionToken: id.sessionToken };
}

const SECRETS = [1, 2, 3].flatMap((n) => [identity(n, null).secretAccessKey, identity(n, null).sessionToken!]);

/** Lets pending promise callbacks run. */
function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Setup {
  chain: FakeChain;
  clock: ManualClock;
  context: LoggedContext;
  plugin: S3AuthPlugin;
}

/** A plugin whose first fetch got credentials 1, valid for an hour. */
async function loaded(t: { after(fn: () => void): void }, expiresIn: number | null = 60 * MIN): Promise<Setup> {
  const chain = new FakeChain();
  const clock = new ManualClock(T0);
  const context = loggedContext();
  const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--credentials=aws'], context, { clock, awsFetch: chain.fetch });
  t.after(() => {
    plugin.close();
    assertNoSecretsLogged(context, SECRETS);
  });
  assert.equal(chain.calls.length, 1, 'the first fetch starts at load');
  await chain.give(1, expiresIn === null ? null : T0 + expiresIn);
  await plugin.loaded;
  return { chain, clock, context, plugin };
}

function isUnavailable(err: unknown): boolean {
  return err instanceof RemapdError && err.code === 'ERR_CREDENTIALS' && err.status === 503;
}

describe('s3_auth --credentials=aws: refresh', () => {
  test('signs with the first credentials; health reports their expiry', async (t) => {
    const s = await loaded(t);
    await assertSignedWith(await sign(s.plugin), judged(1));
    assert.deepEqual(s.plugin.health(), { ready: true, credentialsExpireAt: T0 + 60 * MIN });
    assert.equal(logged(s.context, 'INFO', 'credentials from the AWS provider chain in force').length, 1);
  });

  test('a load whose first fetch fails rejects `loaded` with the reason, and arms no retry', async () => {
    const chain = new FakeChain();
    const clock = new ManualClock(T0);
    const context = loggedContext();
    const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--credentials=aws'], context, { clock, awsFetch: chain.fetch });
    await chain.fail('Could not load credentials from any providers');
    await assert.rejects(plugin.loaded, /^PluginArgumentError: --credentials=aws: no credentials from the AWS SDK's default provider chain \(.*\): Could not load credentials from any providers$/);
    assert.deepEqual(clock.pendingDelays(), []);
    assert.deepEqual(plugin.health(), { ready: false, reason: 'no credentials from the AWS provider chain; the last fetch failed: Could not load credentials from any providers', credentialsExpireAt: null });
    plugin.close();
  });

  test('a timer renews them 5 minutes before expiry, with no request needed', async (t) => {
    const s = await loaded(t);
    assert.deepEqual(s.clock.pendingDelays(), [55 * MIN]);
    s.clock.advance(55 * MIN);
    assert.equal(s.chain.calls.length, 2);
    await s.chain.give(2, T0 + 120 * MIN);
    await assertSignedWith(await sign(s.plugin), judged(2));
    assert.deepEqual(s.clock.pendingDelays(), [60 * MIN]);
  });

  test('inside the window a request signs at once with the still-valid ones and starts one background refresh', async (t) => {
    const s = await loaded(t);
    s.clock.jump(56 * MIN); // the timer has not fired yet
    const during = await Promise.all(Array.from({ length: 10 }, () => sign(s.plugin)));
    for (const signed of during) await assertSignedWith(signed, judged(1));
    assert.equal(s.chain.calls.length, 2, 'one refresh for ten requests');
    await s.chain.give(2, T0 + 120 * MIN);
    await assertSignedWith(await sign(s.plugin), judged(2));
    s.clock.advance(0);
    assert.equal(s.chain.calls.length, 2, 'the stale timer was replaced, not run');
  });

  test('with none valid, concurrent requests all wait for the same single fetch', async (t) => {
    const s = await loaded(t);
    s.clock.jump(61 * MIN);
    const waiting = Array.from({ length: 25 }, () => sign(s.plugin));
    await settled();
    assert.equal(s.chain.calls.length, 2, 'one fetch for 25 requests');
    await s.chain.give(2, T0 + 180 * MIN);
    for (const signed of await Promise.all(waiting)) await assertSignedWith(signed, judged(2));
    assert.equal(s.chain.calls.length, 2);
  });

  test('a failing refresh keeps the last good credentials, logs a warning, and retries with back-off', async (t) => {
    const s = await loaded(t);
    s.clock.advance(55 * MIN);
    await s.chain.fail();
    const warnings = () => logged(s.context, 'WARN', 'cannot refresh credentials from the AWS provider chain; the current ones stay in use');
    assert.equal(warnings().length, 1);
    assert.match(warnings()[0]!, /reason="connect ECONNREFUSED 169\.254\.170\.2:80" expires="2026-11-23T09:00:00\.000Z \(in 5 min\)" retryInSeconds=1/);
    await assertSignedWith(await sign(s.plugin), judged(1));
    assert.equal(s.chain.calls.length, 2, 'a request during the back-off does not fetch again');
    assert.equal(s.plugin.health().ready, true);

    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [next] = s.clock.pendingDelays();
      delays.push(next!);
      s.clock.advance(next!);
      await s.chain.fail();
    }
    assert.deepEqual(delays, [1, 2, 4, 8, 16, 32].map((x) => x * 1000));
    assert.equal(s.chain.calls.length, 8);
    await assertSignedWith(await sign(s.plugin), judged(1));

    s.clock.advance(s.clock.pendingDelays()[0]!);
    await s.chain.give(2, T0 + 120 * MIN);
    await assertSignedWith(await sign(s.plugin), judged(2));
    assert.equal(s.clock.pendingDelays()[0], T0 + 115 * MIN - s.clock.now(), 'back on the refresh schedule');
  });

  test('expired and still failing: requests fail with ERR_CREDENTIALS (503), health says why, and recovery is automatic', async (t) => {
    const s = await loaded(t);
    s.clock.jump(61 * MIN);
    const first = assert.rejects(
      sign(s.plugin),
      (err: unknown) =>
        isUnavailable(err) &&
        /credentials expired at 2026-11-23T09:00:00\.000Z; the AWS provider chain fails: Server responded with status: 500; next attempt in 1 s/.test((err as RemapdError).detail ?? ''),
    );
    await s.chain.fail('Server responded with status: 500');
    await first;
    assert.equal(logged(s.context, 'ERROR', 'no valid credentials: the AWS provider chain fails').length, 1);
    assert.deepEqual(s.plugin.health(), {
      ready: false,
      reason: 'credentials from the AWS provider chain expired at 2026-11-23T09:00:00.000Z; the last fetch failed: Server responded with status: 500',
      credentialsExpireAt: T0 + 60 * MIN,
    });

    // During the back-off a request fails at once instead of queueing on a source that is down.
    await assert.rejects(sign(s.plugin), isUnavailable);
    assert.equal(s.chain.calls.length, 2);

    s.clock.advance(1000);
    assert.equal(s.chain.calls.length, 3);
    await s.chain.give(2, T0 + 180 * MIN);
    await assertSignedWith(await sign(s.plugin), judged(2));
    assert.deepEqual(s.plugin.health(), { ready: true, credentialsExpireAt: T0 + 180 * MIN });
  });

  test('credentials without an expiry (a shared credentials file) are never refreshed', async (t) => {
    const s = await loaded(t, null);
    assert.deepEqual(s.clock.pendingDelays(), []);
    s.clock.jump(24 * 60 * MIN);
    await assertSignedWith(await sign(s.plugin), judged(1));
    assert.equal(s.chain.calls.length, 1);
    assert.deepEqual(s.plugin.health(), { ready: true, credentialsExpireAt: null });
  });

  test('a source that has not rotated yet is asked again with back-off, not in a loop', async (t) => {
    const s = await loaded(t);
    s.clock.advance(55 * MIN);
    await s.chain.give(1, T0 + 60 * MIN);
    for (let i = 0; i < 20; i++) await assertSignedWith(await sign(s.plugin), judged(1));
    assert.equal(s.chain.calls.length, 2, 'requests inside the back-off do not fetch');
    assert.deepEqual(s.clock.pendingDelays(), [1000]);
    s.clock.advance(1000);
    await s.chain.give(3, T0 + 120 * MIN);
    await assertSignedWith(await sign(s.plugin), judged(3));
  });

  test('credentials that arrive already expired count as a failure', async (t) => {
    const s = await loaded(t);
    s.clock.advance(55 * MIN);
    await s.chain.give(2, T0 + 30 * MIN);
    assert.match(logged(s.context, 'WARN', 'cannot refresh credentials')[0] ?? '', /the chain returned credentials that expired at 2026-11-23T08:30:00\.000Z/);
    await assertSignedWith(await sign(s.plugin), judged(1));
  });

  test('close() stops the timers; a fetch that settles afterwards arms nothing', async (t) => {
    const s = await loaded(t);
    s.clock.advance(55 * MIN);
    s.plugin.close();
    assert.deepEqual(s.clock.pendingDelays(), []);
    await s.chain.fail();
    assert.deepEqual(s.clock.pendingDelays(), []);
  });
});
