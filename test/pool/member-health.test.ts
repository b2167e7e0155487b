/**
 * The health of pool members (src/pool/member-health.ts), the pool's candidate order with health taken into
 * account, active checks on an injected clock, and the per-member signer swap (src/pool/origin-pool.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/observability/logger.js';
import type { RemapPlugin } from '../../src/plugins/api.js';
import type { CheckResult } from '../../src/pool/active-check.js';
import { type HealthChange, MemberHealth } from '../../src/pool/member-health.js';
import { memberHooks, OriginPool } from '../../src/pool/origin-pool.js';
import type { MemberDef, StrategyDef } from '../../src/pool/strategies-file.js';
import { ManualClock } from '../support/manual-clock.js';

const T0 = Date.UTC(2026, 10, 23, 12);
const RULES = { fall: 3, rise: 2, retryTimeMs: 30_000 };

function health(clock: ManualClock, changes: HealthChange[] = []): MemberHealth {
  return new MemberHealth(RULES, () => clock.now(), (c) => changes.push(c));
}

test('up until `fall` consecutive failures; a success in between starts the count again', () => {
  const clock = new ManualClock(T0);
  const changes: HealthChange[] = [];
  const h = health(clock, changes);
  h.failed('ERR_ORIGIN_CONNECT');
  h.failed('503');
  h.succeeded();
  h.failed('ERR_ORIGIN_CONNECT');
  h.failed('ERR_ORIGIN_CONNECT');
  assert.equal(h.state, 'up');
  h.failed('ERR_ORIGIN_TIMEOUT');
  assert.equal(h.state, 'down');
  assert.equal(h.downSince, T0);
  assert.equal(h.lastFailure, 'ERR_ORIGIN_TIMEOUT');
  assert.deepEqual(changes, [{ state: 'down', reason: '3 consecutive failures, the last: ERR_ORIGIN_TIMEOUT' }]);
});

test('down: no request until the retry time, then exactly one probe at a time; its success brings it up', () => {
  const clock = new ManualClock(T0);
  const h = health(clock);
  for (let i = 0; i < 3; i++) h.failed('ERR_ORIGIN_CONNECT');
  assert.equal(h.probeDue, false);
  clock.advance(29_999);
  assert.equal(h.probeDue, false);
  clock.advance(1);
  assert.equal(h.probeDue, true);
  h.begin();
  assert.equal(h.probeDue, false, 'one probe at a time');
  h.succeeded();
  assert.equal(h.state, 'up');
  assert.equal(h.consecutiveFailures, 0);
});

test('a failed probe waits another retry time; an abandoned one frees the probe slot', () => {
  const clock = new ManualClock(T0);
  const h = health(clock);
  for (let i = 0; i < 3; i++) h.failed('503');
  clock.advance(30_000);
  h.begin();
  h.failed('ERR_ORIGIN_CONNECT');
  assert.equal(h.state, 'down');
  assert.equal(h.probeDue, false);
  clock.advance(30_000);
  assert.equal(h.probeDue, true);
  h.begin();
  h.abandoned();
  assert.equal(h.probeDue, true, 'the client left: another request may probe');
});

test('active checks: `rise` consecutive passes bring a down member up; a failed check in between starts over', () => {
  const clock = new ManualClock(T0);
  const changes: HealthChange[] = [];
  const h = health(clock, changes);
  h.checkFailed('ECONNREFUSED');
  h.checkFailed('ECONNREFUSED');
  h.checkFailed('ECONNREFUSED');
  assert.equal(h.state, 'down');
  h.checkSucceeded();
  h.checkFailed('503');
  h.checkSucceeded();
  assert.equal(h.state, 'down');
  h.checkSucceeded();
  assert.equal(h.state, 'up');
  assert.deepEqual(changes.map((c) => c.state), ['down', 'up']);
  assert.equal(changes[1]!.reason, '2 consecutive health checks passed');
});

test('a markdown code takes the member down at once', () => {
  const h = health(new ManualClock(T0));
  h.markDown('503');
  assert.equal(h.state, 'down');
});

// ---- the pool ----

function member(id: string, group = 0, over: Partial<MemberDef> = {}): MemberDef {
  const [host, port] = id.split(':') as [string, string];
  return {
    id,
    host,
    scheme: 'http',
    port: Number(port),
    authority: id,
    weight: 1,
    checkUrl: null,
    s3Auth: null,
    group,
    at: { file: 'strategies.yaml', line: 1 },
    ...over,
  };
}

function strategy(over: Partial<StrategyDef> = {}): StrategyDef {
  return {
    name: 's',
    at: { file: 'strategies.yaml', line: 1 },
    policy: 'first_live',
    hashKey: 'path',
    groups: [[member('a:1'), member('b:1'), member('c:1')]],
    ringMode: 'exhaust_ring',
    responseCodes: new Set([502, 503, 504]),
    markdownCodes: new Set(),
    maxSimpleRetries: null,
    maxUnavailableRetries: null,
    health: { active: false, intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 1, retryTimeMs: 10_000 },
    ...over,
  };
}

const REQ = { request: { scheme: 'http' as const, host: 'origin', port: 80, path: '/x', search: '' }, clientAddress: '10.0.0.1', retryable: true };
const order = (pool: OriginPool, over: Partial<typeof REQ> = {}) => pool.candidates({ ...REQ, ...over }).map((m) => m.def.id);

test('candidates: live members in policy order, then the down ones (tried anyway when all are down)', () => {
  const clock = new ManualClock(T0);
  const pool = new OriginPool(strategy(), { logger: silentLogger, clock });
  const [a, b, c] = pool.members;
  assert.deepEqual(order(pool), ['a:1', 'b:1', 'c:1']);
  pool.failed(a!, 'ERR_ORIGIN_CONNECT');
  assert.deepEqual(order(pool), ['b:1', 'c:1', 'a:1']);
  pool.failed(b!, '503');
  pool.failed(c!, 'ERR_ORIGIN_TIMEOUT');
  assert.deepEqual(order(pool), ['a:1', 'b:1', 'c:1'], 'all down: all of them, in policy order');
  assert.deepEqual(
    pool.status().map((s) => [s.origin, s.up, s.lastFailure]),
    [['a:1', false, 'ERR_ORIGIN_CONNECT'], ['b:1', false, '503'], ['c:1', false, 'ERR_ORIGIN_TIMEOUT']],
  );
});

test('candidates: a member due for a probe keeps its place for a request that can fail over, and goes after the live ones otherwise', () => {
  const clock = new ManualClock(T0);
  const pool = new OriginPool(strategy(), { logger: silentLogger, clock });
  pool.failed(pool.members[0]!, 'ERR_ORIGIN_CONNECT');
  clock.advance(10_000);
  assert.deepEqual(order(pool), ['a:1', 'b:1', 'c:1']);
  assert.deepEqual(order(pool, { retryable: false }), ['b:1', 'c:1', 'a:1'], 'a PUT with a body is not a probe');
  pool.begin(pool.members[0]!);
  assert.deepEqual(order(pool), ['b:1', 'c:1', 'a:1'], 'one probe at a time');
  pool.succeeded(pool.members[0]!);
  assert.deepEqual(order(pool), ['a:1', 'b:1', 'c:1']);
});

test('latched: sticks to the member that last answered', () => {
  const pool = new OriginPool(strategy({ policy: 'latched' }), { logger: silentLogger, clock: new ManualClock(T0) });
  pool.succeeded(pool.members[2]!);
  assert.deepEqual(order(pool), ['c:1', 'a:1', 'b:1']);
  pool.succeeded(pool.members[0]!);
  assert.deepEqual(order(pool), ['a:1', 'b:1', 'c:1']);
});

test('consistent_hash keys on the path by default, path+query when asked', () => {
  const hashed = (hashKey: StrategyDef['hashKey'], search: string) => {
    const pool = new OriginPool(strategy({ policy: 'consistent_hash', hashKey }), { logger: silentLogger, clock: new ManualClock(T0) });
    const firsts = new Set<string>();
    for (let i = 0; i < 40; i++) firsts.add(order(pool, { request: { ...REQ.request, path: '/same', search: `${search}${i}` } })[0]!);
    return firsts.size;
  };
  assert.equal(hashed('path', '?v='), 1);
  assert.ok(hashed('path+query', '?v=') > 1);
});

test('active checks run every interval on the clock, mark down after `fall` and up after `rise`, and stop on close', async () => {
  const clock = new ManualClock(T0);
  const alive = new Map([['http://a:1/h', true], ['http://b:1/h', true]]);
  const checked: string[] = [];
  const check = async (url: string): Promise<CheckResult> => {
    checked.push(url);
    return alive.get(url) ? { alive: true, detail: '200' } : { alive: false, detail: 'ECONNREFUSED' };
  };
  const def = strategy({
    groups: [[member('a:1', 0, { checkUrl: 'http://a:1/h' }), member('b:1', 0, { checkUrl: 'http://b:1/h' })]],
    health: { active: true, intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 2, retryTimeMs: 10_000 },
  });
  const pool = new OriginPool(def, { logger: silentLogger, clock, check });
  const settle = () => new Promise((r) => setImmediate(r));
  assert.deepEqual(clock.pendingDelays(), [1000], 'the first round waits an interval');
  alive.set('http://a:1/h', false);
  clock.advance(1000);
  await settle();
  assert.equal(pool.members[0]!.health.state, 'up', 'one failed check is not `fall`');
  clock.advance(1000);
  await settle();
  assert.equal(pool.members[0]!.health.state, 'down');
  assert.equal(pool.members[1]!.health.state, 'up');
  alive.set('http://a:1/h', true);
  clock.advance(1000);
  await settle();
  assert.equal(pool.members[0]!.health.state, 'down');
  clock.advance(1000);
  await settle();
  assert.equal(pool.members[0]!.health.state, 'up');
  assert.equal(checked.length, 8);
  await pool.close();
  assert.deepEqual(clock.pendingDelays(), [], 'no timer left after close');
});

test("memberHooks: a member's own signer replaces the rule's signers in place; without one the rule's hooks stay", async () => {
  const other: RemapPlugin = { sendRequest: () => undefined };
  const ruleSigner: RemapPlugin = { sendRequest: () => undefined, signsOrigin: true };
  const secondSigner: RemapPlugin = { sendRequest: () => undefined, signsOrigin: true };
  const own: RemapPlugin = { sendRequest: () => undefined, signsOrigin: true };
  const def = strategy({ groups: [[member('a:1'), member('b:1')]] });
  const pool = new OriginPool(def, { logger: silentLogger, clock: new ManualClock(T0), signers: [own, null] });
  const [forA, forB] = memberHooks([other, ruleSigner, secondSigner], pool);
  assert.deepEqual(forA, [other, own]);
  assert.deepEqual(forB, [other, ruleSigner, secondSigner]);
  const [unsigned] = memberHooks([other], pool);
  assert.deepEqual(unsigned, [other, own], 'a rule without a signer gets the member\'s last');
  let closed = 0;
  own.close = () => void closed++;
  await pool.close();
  assert.equal(closed, 1);
});
