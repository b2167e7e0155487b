/**
 * An origin pool over two real S3 servers that verify signatures (`@20minutes/s3rver`, test/support/s3rver.ts),
 * each with its own keys and region, on 127.0.0.1 port 0: one `@strategy=` rule, each member signed by its own
 * `s3_auth:` arguments from strategies.yaml, one server stopped in the middle of a client loop.
 *
 * The same keys are stored on both servers with bodies naming the server ("eu k3", "us k3"), so a response says
 * which member served it. The rule's own s3_auth has a key no server knows: every 200 below was signed by a
 * member's signer, never by the rule's.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { LOOPBACK, type Remapd, request, startRemapd } from '../support/harness.js';
import { type S3rverHandle, startS3rver } from '../support/s3rver.js';

const STEP = { timeout: 30_000 };
const HOOK = { timeout: 20_000 };
const BUCKET = 'pool-bucket';
const KEYS = Array.from({ length: 16 }, (_, i) => `k${i}`);

/** An unsigned PUT with a body straight to s3rver (it accepts anonymous requests, see test/support/s3rver.ts). */
function anonymousPut(port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: LOOPBACK, port, method: 'PUT', path, agent: false, timeout: 5_000, headers: { 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('timeout', () => req.destroy(new Error('s3rver did not answer in time')));
    req.on('error', reject);
    req.end(body);
  });
}

let eu: S3rverHandle;
let us: S3rverHandle;
let euClosed = false;
let proxy: Remapd;

before(async () => {
  eu = await startS3rver([BUCKET]);
  us = await startS3rver([BUCKET]);
  for (const key of KEYS) {
    assert.equal(await anonymousPut(eu.port, `/${BUCKET}/${key}`, `eu ${key}`), 200);
    assert.equal(await anonymousPut(us.port, `/${BUCKET}/${key}`, `us ${key}`), 200);
  }
  const strategies = `# two regions, each with its own credentials (remapd's s3_auth extension)
hosts:
  - &eu
    host: ${LOOPBACK}
    protocol: [{ scheme: http, port: ${eu.port} }]
    s3_auth: --config=eu_s3_auth.config --region=eu-west-1
  - &us
    host: ${LOOPBACK}
    protocol: [{ scheme: http, port: ${us.port} }]
    s3_auth: --config=us_s3_auth.config --region=us-east-1
groups:
  - &regions
    - *eu
    - *us
strategies:
  - strategy: regions
    policy: consistent_hash
    hash_key: path
    groups: [*regions]
    failover:
      ring_mode: exhaust_ring
      response_codes: [502, 503, 504]
      health_check: [passive]
  - strategy: wrong-keys
    policy: first_live
    groups:
      - - host: ${LOOPBACK}
          protocol: [{ scheme: http, port: ${us.port} }]
          s3_auth: --version=4 --access_key=${us.accessKey} --secret_key=not-the-secret
`;
  proxy = await startRemapd(
    [
      // The rule's own signer has a key no server knows: the members' signers must replace it.
      `map http://pool.test/ http://s3.invalid/${BUCKET}/ @plugin=s3_auth.so @pparam=--version=4 @pparam=--access_key=AKIDNOSUCHKEY @pparam=--secret_key=nope @strategy=regions`,
      `map http://wrong.test/ http://s3.invalid/${BUCKET}/ @strategy=wrong-keys`,
      '',
    ].join('\n'),
    {
      files: {
        'strategies.yaml': strategies,
        'eu_s3_auth.config': `version=4\naccess_key=${eu.accessKey}\nsecret_key=${eu.secretKey}\n`,
        'us_s3_auth.config': `version=4\naccess_key=${us.accessKey}\nsecret_key=${us.secretKey}\n`,
      },
      settings: { cacheSize: 0, connectTimeoutMs: 1_000, responseTimeoutMs: 5_000, bodyIdleTimeoutMs: 5_000 },
    },
  );
}, HOOK);

after(async () => {
  await proxy?.close();
  if (!euClosed) await eu?.close();
  await us?.close();
}, HOOK);

const get = (key: string, method = 'GET') => request(proxy.url, { method, path: `/${key}`, headers: { host: 'pool.test' } });

describe('an origin pool over two S3 regions with their own keys', () => {
  test('a member signed with keys its server does not accept gets the server\'s 403 (the servers verify)', STEP, async () => {
    const res = await request(proxy.url, { path: '/k0', headers: { host: 'wrong.test' } });
    assert.equal(res.status, 403, res.text);
    assert.match(res.text, /SignatureDoesNotMatch/);
  });

  test('consistent_hash: each key is served by one region, the same every time, and both regions serve keys', STEP, async () => {
    const owner = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (const key of KEYS) {
        const res = await get(key);
        assert.equal(res.status, 200, `${key}: ${res.text}`);
        const region = res.text.split(' ')[0]!;
        assert.equal(res.text, `${region} ${key}`);
        if (round === 0) owner.set(key, region);
        else assert.equal(region, owner.get(key), `${key} moved between regions while both were up`);
      }
    }
    assert.deepEqual(new Set(owner.values()), new Set(['eu', 'us']));
  });

  test('one region stopped in the middle of a client loop: no request fails, the survivor serves every key, the stopped one is marked down', STEP, async () => {
    const TOTAL = 160;
    const STOP_AT = 40;
    const deadline = Date.now() + 20_000;
    const failures: string[] = [];
    let afterStop = 0;
    let next = 0;
    let stopped = false;
    let stopping: Promise<void> | null = null;
    const client = async () => {
      while (next < TOTAL && Date.now() < deadline) {
        const n = next++;
        if (n === STOP_AT) {
          stopping = eu.close().then(() => {
            euClosed = true;
            stopped = true;
          });
        }
        const key = KEYS[n % KEYS.length]!;
        const method = n % 4 === 3 ? 'HEAD' : 'GET';
        const wasStopped = stopped;
        try {
          const res = await get(key, method);
          if (res.status !== 200) failures.push(`${method} ${key}: ${res.status} ${res.text}`);
          else if (wasStopped && method === 'GET') {
            afterStop++;
            // After the stop (its key revoked too), only the survivor's keys can be accepted: signed for it.
            if (res.text !== `us ${key}`) failures.push(`GET ${key} after the stop: ${res.text}`);
          }
        } catch (err) {
          failures.push(`${method} ${key}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    await stopping;
    assert.deepEqual(failures, []);
    assert.equal(next, TOTAL, 'the loop finished within its time bound');
    assert.ok(afterStop >= 40, `${afterStop} GETs after the stop`);
    const [euState, usState] = proxy.server.config.pools.find((p) => p.name === 'regions')!.status();
    assert.equal(euState!.origin, `${LOOPBACK}:${eu.port}`);
    assert.equal(euState!.up, false, 'passive checks marked the stopped region down');
    assert.equal(usState!.up, true);
  });
});
