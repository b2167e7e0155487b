/**
 * Selection policies (src/pool/policies.ts, rendezvous.ts): the order in which a request tries the members.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type OrderedMember, policyOrder } from '../../src/pool/policies.js';
import { memberSeed, murmur3, rendezvousOrder } from '../../src/pool/rendezvous.js';

interface M extends OrderedMember {
  id: string;
}

function members(ids: string[], weights: number[] = [], start = 0): M[] {
  return ids.map((id, i) => ({ id, index: start + i, seed: memberSeed(id), weight: weights[i] ?? 1 }));
}

const input = (over: Partial<{ key: string; clientAddress: string; sequence: number }> = {}) => ({ key: '/a', clientAddress: '10.0.0.1', sequence: 0, ...over });
const ids = (list: readonly M[]) => list.map((m) => m.id);

test('first_live: the members as written, first group before the second (exhaust_ring)', () => {
  const g1 = members(['a', 'b']);
  const g2 = members(['c', 'd'], [], 2);
  assert.deepEqual(ids(policyOrder('first_live', 'exhaust_ring', [g1, g2], input({ sequence: 7 }))), ['a', 'b', 'c', 'd']);
});

test('alternate_ring takes one member of each group in turn', () => {
  const g1 = members(['a', 'b', 'e']);
  const g2 = members(['c', 'd'], [], 3);
  assert.deepEqual(ids(policyOrder('first_live', 'alternate_ring', [g1, g2], input())), ['a', 'c', 'b', 'd', 'e']);
});

test('rr_strict: each request starts one member further, so requests spread evenly', () => {
  const g = members(['a', 'b', 'c']);
  const firsts = new Map<string, number>();
  for (let sequence = 0; sequence < 300; sequence++) {
    const order = policyOrder('rr_strict', 'exhaust_ring', [g], input({ sequence }));
    assert.equal(new Set(ids(order)).size, 3, 'every member once');
    firsts.set(order[0]!.id, (firsts.get(order[0]!.id) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(firsts), { a: 100, b: 100, c: 100 });
  assert.deepEqual(ids(policyOrder('rr_strict', 'exhaust_ring', [g], input({ sequence: 1 }))), ['b', 'c', 'a']);
});

test('rr_ip: one client address always starts at the same member', () => {
  const g = members(['a', 'b', 'c']);
  const first = (ip: string, sequence: number) => policyOrder('rr_ip', 'exhaust_ring', [g], input({ clientAddress: ip, sequence }))[0]!.id;
  assert.equal(first('192.0.2.7', 0), first('192.0.2.7', 5));
  const spread = new Set(Array.from({ length: 50 }, (_, i) => first(`192.0.2.${i}`, 0)));
  assert.equal(spread.size, 3);
});

test('latched: first_live order, but starting from the member that last answered', () => {
  const g = members(['a', 'b', 'c']);
  assert.deepEqual(ids(policyOrder('latched', 'exhaust_ring', [g], input(), null)), ['a', 'b', 'c']);
  assert.deepEqual(ids(policyOrder('latched', 'exhaust_ring', [g], input(), 2)), ['c', 'a', 'b']);
});

test('consistent_hash: the same path always gets the same order', () => {
  const g = members(['eu:9000', 'us:9000', 'ap:9000']);
  for (const key of ['/a', '/b/c.txt', '/日本/語.txt']) {
    const once = ids(policyOrder('consistent_hash', 'exhaust_ring', [g], input({ key, sequence: 0 })));
    for (let sequence = 1; sequence < 5; sequence++) {
      assert.deepEqual(ids(policyOrder('consistent_hash', 'exhaust_ring', [g], input({ key, sequence }))), once);
    }
  }
});

test('consistent_hash: removing a member moves only the keys it had first, and keeps their second choice', () => {
  const all = members(['m1:80', 'm2:80', 'm3:80', 'm4:80']);
  const without = all.filter((m) => m.id !== 'm3:80');
  let moved = 0;
  for (let i = 0; i < 4000; i++) {
    const key = `/objects/${i}.bin`;
    const before = rendezvousOrder(all, key);
    const after = rendezvousOrder(without, key);
    if (before[0]!.id === 'm3:80') {
      moved++;
      // Its keys go where they would have failed over to.
      assert.equal(after[0]!.id, before[1]!.id, key);
    } else {
      assert.equal(after[0]!.id, before[0]!.id, `${key} must not move`);
    }
  }
  // About a quarter of the keys were m3's.
  assert.ok(moved > 800 && moved < 1200, `moved ${moved}`);
});

test('consistent_hash: the order does not depend on where a member is written', () => {
  const a = members(['x:1', 'y:1', 'z:1']);
  const b = members(['z:1', 'x:1', 'y:1']);
  for (let i = 0; i < 100; i++) assert.deepEqual(ids(rendezvousOrder(a, `/k${i}`)), ids(rendezvousOrder(b, `/k${i}`)));
});

test('consistent_hash: weights share the keys out in proportion', () => {
  const g = members(['heavy', 'light'], [3, 1]);
  let heavy = 0;
  for (let i = 0; i < 8000; i++) if (rendezvousOrder(g, `/w/${i}`)[0]!.id === 'heavy') heavy++;
  const share = heavy / 8000;
  assert.ok(share > 0.72 && share < 0.78, `heavy got ${share}`);
});

test('murmur3 is deterministic and depends on its seed and on every character', () => {
  assert.equal(murmur3('', 0), 0);
  assert.equal(murmur3('abc', 1), murmur3('abc', 1));
  assert.notEqual(murmur3('abc', 1), murmur3('abc', 2));
  assert.notEqual(murmur3('abc', 1), murmur3('abd', 1));
});
