/**
 * --credentials=aws through the real AWS SDK default chain, pointed at a local ECS-style container credentials
 * endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI → 127.0.0.1, port 0) that serves rotating credentials. Every other
 * source of the chain is shut off for these tests (no AWS_* keys or profile, shared files that do not exist, instance
 * metadata disabled) and the environment is restored after each test. Signatures are checked by the AWS SDK's own
 * signer (judge 1); the endpoint counts its hits.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RemapdError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createS3AuthPlugin, type S3AuthPlugin } from '../../../src/plugins/s3-auth/s3-auth.js';
import { loadRemapConfig } from '../../../src/remap/load.js';
import { ManualClock } from '../../support/manual-clock.js';
import { assertNoSecretsLogged, assertSignedWith, FROM, type LoggedContext, logged, loggedContext, sign, type Signed, tempFolder, TO } from './credentials-support.js';

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const MIN = 60_000;
/** The container and metadata sources' per-try timeout and retries, kept small so a failing endpoint fails fast. */
const CHAIN_INIT = { timeout: 1000, maxRetries: 0 };

/** Variables that could make another source of the chain answer, or point it elsewhere. */
const CHAIN_VARS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
];

function isolateChain(t: { after(fn: () => void): void }, endpoint: string, dir: string): void {
  const saved = new Map(CHAIN_VARS.map((name) => [name, process.env[name]]));
  t.after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  for (const name of CHAIN_VARS) delete process.env[name];
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'no-such-credentials');
  process.env.AWS_CONFIG_FILE = join(dir, 'no-such-config');
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = endpoint;
}

function rotated(n: number) {
  return { accessKeyId: `ASIACONTAINER${n}`, secretAccessKey: `container-secret-${n}-wJalrXUtnFEMI`, sessionToken: `container-token-${n}-IQoJb3JpZ2lu` };
}
const SECRETS = [1, 2, 3, 4].flatMap((n) => [rotated(n).secretAccessKey, rotated(n).sessionToken]);

/** An ECS-style credentials endpoint: each hit may serve the next set (rotation), fail, or answer late. */
class ContainerEndpoint {
  hits = 0;
  /** The set served now. */
  serving = 1;
  /** When the set served now expires (epoch ms). */
  expiresAt = T0 + 60 * MIN;
  failing = false;
  delayMs = 0;
  readonly #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      this.hits++;
      const answer = () => {
        if (this.failing || req.url !== '/creds') {
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"Code":"InternalError","Message":"agent restarting"}');
          return;
        }
        const c = rotated(this.serving);
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({ RoleArn: 'arn:aws:iam::123456789012:role/remapd', AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: new Date(this.expiresAt).toISOString().replace('.000Z', 'Z') }),
        );
      };
      if (this.delayMs > 0) setTimeout(answer, this.delayMs);
      else answer();
    });
  }

  async start(t: { after(fn: () => Promise<void>): void }): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/creds`;
    t.after(
      () =>
        new Promise<void>((resolve) => {
          this.#server.closeAllConnections();
          this.#server.close(() => resolve());
        }),
    );
  }

  /** The next hit serves set `n`, valid until `expiresAt`. */
  rotate(n: number, expiresAt: number): void {
    this.serving = n;
    this.expiresAt = expiresAt;
  }
}

interface Setup {
  endpoint: ContainerEndpoint;
  clock: ManualClock;
  context: LoggedContext;
  plugin: S3AuthPlugin;
}

async function containerPlugin(t: { after(fn: () => void | Promise<void>): void }, options: { clock?: ManualClock } = {}): Promise<Setup> {
  const dir = tempFolder(t);
  const endpoint = new ContainerEndpoint();
  await endpoint.start(t);
  isolateChain(t, endpoint.url, dir);
  const clock = options.clock ?? new ManualClock(T0);
  const context = loggedContext(dir);
  const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--credentials=aws'], context, { clock, awsChainInit: CHAIN_INIT });
  t.after(() => {
    plugin.close();
    assertNoSecretsLogged(context, SECRETS);
  });
  await plugin.loaded;
  return { endpoint, clock, context, plugin };
}

/** Signs until the request carries `accessKey` (a refresh under way finishes over real HTTP): bounded in tries and time. */
async function signOnceRenewed(plugin: S3AuthPlugin, accessKey: string, timeoutMs = 5_000): Promise<Signed> {
  const deadline = Date.now() + timeoutMs;
  let signed = await sign(plugin);
  for (let i = 0; i < 500 && signed.accessKey !== accessKey && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 10));
    signed = await sign(plugin);
  }
  return signed;
}

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 500 && !condition(); i++) {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(condition(), `timed out waiting for ${what}`);
}

describe('s3_auth --credentials=aws with a container credentials endpoint', () => {
  test('loads the container\'s credentials at load, signs with them, and after rotation with the new ones', async (t) => {
    const s = await containerPlugin(t);
    assert.equal(s.endpoint.hits, 1, 'one fetch at load');
    await assertSignedWith(await sign(s.plugin), rotated(1));
    assert.deepEqual(s.plugin.health(), { ready: true, credentialsExpireAt: T0 + 60 * MIN });

    s.endpoint.rotate(2, T0 + 120 * MIN);
    s.clock.advance(55 * MIN); // the refresh timer: 5 minutes before expiry
    await assertSignedWith(await signOnceRenewed(s.plugin, rotated(2).accessKeyId), rotated(2));
    assert.equal(s.endpoint.hits, 2);
    assert.deepEqual(s.plugin.health(), { ready: true, credentialsExpireAt: T0 + 120 * MIN });
  });

  test('requests that find the credentials expired while a fetch is slow share that one fetch', async (t) => {
    const s = await containerPlugin(t);
    s.endpoint.rotate(3, T0 + 180 * MIN);
    s.endpoint.delayMs = 150;
    s.clock.jump(61 * MIN); // past expiry before the timer ran
    const signed = await Promise.all(Array.from({ length: 25 }, () => sign(s.plugin)));
    for (const one of signed) await assertSignedWith(one, rotated(3));
    assert.equal(s.endpoint.hits, 2, 'the load, then one fetch for 25 requests');
  });

  test('a failing endpoint: the last good credentials stay in use; once expired, 503 until it recovers', async (t) => {
    const s = await containerPlugin(t);
    s.endpoint.failing = true;
    s.clock.advance(55 * MIN);
    const stayInUse = () => logged(s.context, 'WARN', 'cannot refresh credentials from the AWS provider chain; the current ones stay in use');
    await until(() => stayInUse().length === 1, 'the failed refresh to be logged');
    assert.ok(s.endpoint.hits >= 2);
    await assertSignedWith(await sign(s.plugin), rotated(1));
    assert.equal(s.plugin.health().ready, true);

    s.clock.jump(6 * MIN); // expired; the retry timer has not run
    await assert.rejects(sign(s.plugin), (err: unknown) => err instanceof RemapdError && err.code === 'ERR_CREDENTIALS' && err.status === 503);
    assert.equal(s.plugin.health().ready, false);
    assert.match(s.plugin.health().reason ?? '', /expired at 2026-11-23T09:00:00\.000Z; the last fetch failed: /);
    assert.equal(logged(s.context, 'ERROR', 'no valid credentials').length, 1);

    s.endpoint.failing = false;
    s.endpoint.rotate(4, T0 + 240 * MIN);
    s.clock.advance(s.clock.pendingDelays()[0]!);
    await assertSignedWith(await signOnceRenewed(s.plugin, rotated(4).accessKeyId), rotated(4));
    assert.equal(s.plugin.health().ready, true);
  });

  test('with real timers: credentials due for renewal in about a second are renewed by themselves', async (t) => {
    const dir = tempFolder(t);
    const endpoint = new ContainerEndpoint();
    await endpoint.start(t);
    isolateChain(t, endpoint.url, dir);
    endpoint.rotate(1, Date.now() + 5 * MIN + 1_500);
    const context = loggedContext(dir);
    const plugin = createS3AuthPlugin([FROM, TO, '--version=4', '--credentials=aws'], context, { awsChainInit: CHAIN_INIT });
    t.after(() => plugin.close());
    await plugin.loaded;
    await assertSignedWith(await sign(plugin), rotated(1));
    endpoint.rotate(2, Date.now() + 60 * MIN);
    await until(() => endpoint.hits === 2, 'the refresh timer', 6_000);
    await assertSignedWith(await signOnceRenewed(plugin, rotated(2).accessKeyId), rotated(2));
    assertNoSecretsLogged(context, SECRETS);
  });

  test('through the loader: one fetch while the rule loads, and the instance reports its expiry', async (t) => {
    const dir = tempFolder(t);
    const endpoint = new ContainerEndpoint();
    await endpoint.start(t);
    isolateChain(t, endpoint.url, dir);
    endpoint.rotate(1, Date.now() + 60 * MIN);
    const config = join(dir, 'remap.config');
    writeFileSync(config, `map ${FROM} ${TO} @plugin=s3_auth.so @pparam=--version=4 @pparam=--credentials=aws\n`);
    const { config: loaded, diagnostics } = await loadRemapConfig(config, { logger: silentLogger });
    assert.deepEqual(diagnostics, []);
    assert.ok(loaded);
    t.after(() => loaded.close());
    assert.equal(endpoint.hits, 1);
    const [instance] = loaded.rules[0]!.instances;
    assert.deepEqual(instance!.health!(), { ready: true, credentialsExpireAt: endpoint.expiresAt });
    await assertSignedWith(await sign(instance!), rotated(1));
  });

  test('a rule whose first fetch gets nothing fails to load, naming its file:line', async (t) => {
    const dir = tempFolder(t);
    const endpoint = new ContainerEndpoint();
    await endpoint.start(t);
    endpoint.failing = true;
    isolateChain(t, endpoint.url, dir);
    const config = join(dir, 'remap.config');
    writeFileSync(config, `map ${FROM} ${TO} @plugin=s3_auth.so @pparam=--version=4 @pparam=--credentials=aws\n`);
    const { config: loaded, diagnostics } = await loadRemapConfig(config, { logger: silentLogger });
    assert.equal(loaded, null);
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]!.file, config);
    assert.equal(diagnostics[0]!.line, 1);
    assert.match(diagnostics[0]!.message, /^s3_auth\.so: --credentials=aws: no credentials from the AWS SDK's default provider chain \(.*\): /);
    assert.ok(endpoint.hits >= 1, 'the endpoint was asked');
  });
});
