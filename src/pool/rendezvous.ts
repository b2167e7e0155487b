/**
 * Weighted rendezvous (highest random weight) hashing: for a key, every member gets a score from a hash of
 * (member, key), and the members in descending score order are the key's candidates. Removing a member moves
 * only the keys it had first (every other key keeps its first choice), and the next candidate of a key is stable
 * too, which is what failover wants: an object goes to one origin, and to the same second one when that is down.
 *
 * Weights use the logarithmic method (Schindelhauer and Schomaker, "Weighted Distributed Hash Tables", 2005):
 * score = weight / -ln(u) with u uniform in (0, 1), so a member with weight 2 is first for twice as many keys.
 */

/** MurmurHash3's x86 32-bit hash of the UTF-16 code units of `text` (each unit taken as two bytes). */
export function murmur3(text: string, seed: number): number {
  let h = seed >>> 0;
  const n = text.length;
  let i = 0;
  // Two UTF-16 units make one 32-bit block.
  for (; i + 1 < n; i += 2) {
    let k = (text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16)) >>> 0;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface HashedMember {
  /** Derived from the member's identity (host:port), not its position, so reordering the file moves no key. */
  readonly seed: number;
  readonly weight: number;
}

/** The seed of a member named `id`. */
export function memberSeed(id: string): number {
  return murmur3(id, 0x5bd1e995);
}

/** The score of `member` for `key`: higher is chosen first. */
export function score(member: HashedMember, key: string): number {
  const u = (murmur3(key, member.seed) + 0.5) / 4294967296;
  return member.weight / -Math.log(u);
}

/** `members` in the key's candidate order (a new array). */
export function rendezvousOrder<M extends HashedMember>(members: readonly M[], key: string): M[] {
  if (members.length <= 1) return [...members];
  const scored = members.map((m) => ({ m, s: score(m, key) }));
  scored.sort((a, b) => b.s - a.s);
  return scored.map((x) => x.m);
}
