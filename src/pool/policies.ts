/**
 * The order in which a request tries a strategy's members, by policy (ATS's NextHopRoundRobin and
 * NextHopConsistentHash), before health is taken into account (origin-pool.ts puts live members first).
 *
 *   first_live       the members as written: the first one while it is up, the next when it is not
 *   latched          first_live, but starting from the member that last answered (ATS: sticks to the last one)
 *   rr_strict        each request starts one member further (remapd also accepts `round_robin`)
 *   rr_ip            starts at a member chosen from a hash of the client's address
 *   consistent_hash  rendezvous hashing of the hash_key (default: the path), weighted
 *
 * Groups: the policy orders each group; `exhaust_ring` tries the whole first group before the next one,
 * `alternate_ring` takes one member from each group in turn.
 */
import type { PolicyName, RingMode } from './strategies-file.js';
import { murmur3, rendezvousOrder, type HashedMember } from './rendezvous.js';

export interface OrderInput {
  /** The hash_key's value for this request (consistent_hash). */
  key: string;
  /** The client's address (rr_ip). */
  clientAddress: string;
  /** A counter that goes up by one per request (rr_strict). */
  sequence: number;
}

export interface OrderedMember extends HashedMember {
  /** Position in the strategy, groups flattened in order. */
  readonly index: number;
}

function rotate<M>(list: readonly M[], start: number): M[] {
  if (list.length <= 1) return [...list];
  const s = start % list.length;
  return [...list.slice(s), ...list.slice(0, s)];
}

function orderGroup<M extends OrderedMember>(policy: PolicyName, group: readonly M[], input: OrderInput): M[] {
  switch (policy) {
    case 'first_live':
    case 'latched':
      return [...group];
    case 'rr_strict':
      return rotate(group, input.sequence);
    case 'rr_ip':
      return rotate(group, murmur3(input.clientAddress, 0));
    case 'consistent_hash':
      return rendezvousOrder(group, input.key);
  }
}

/** Every member of `groups`, once, in the order a request should try them. */
export function policyOrder<M extends OrderedMember>(
  policy: PolicyName,
  ringMode: RingMode,
  groups: readonly (readonly M[])[],
  input: OrderInput,
  latched: number | null = null,
): M[] {
  const ordered = groups.map((g) => orderGroup(policy, g, input));
  let out: M[];
  if (ringMode === 'alternate_ring' && ordered.length > 1) {
    out = [];
    const longest = Math.max(...ordered.map((g) => g.length));
    for (let i = 0; i < longest; i++) for (const g of ordered) if (i < g.length) out.push(g[i]!);
  } else {
    out = ordered.flat();
  }
  if (policy === 'latched' && latched !== null) {
    const at = out.findIndex((m) => m.index === latched);
    if (at > 0) out.unshift(...out.splice(at, 1));
  }
  return out;
}
