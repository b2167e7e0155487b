/**
 * The recent past for the status page: one point per slot of 5 s, the last 15 minutes, per process.
 *
 * A point holds what happened DURING its slot (requests, hits, origin errors…) plus the cache occupancy at its
 * end, not running totals: points of several workers for the same slot then simply add up, even when a worker
 * started late or missed a tick. Rates and ratios are worked out when the page is drawn.
 */

export const HISTORY_INTERVAL_MS = 5_000;
/** 15 minutes of 5-second slots. */
export const HISTORY_LENGTH = 180;

export interface HistoryPoint {
  /** Start of the slot, ms since the epoch (a multiple of the interval). */
  t: number;
  /** Client requests completed in the slot. */
  requests: number;
  /** Of those, answered from the cache (fresh or stale). */
  hits: number;
  /** Of those, looked up in the cache (hits and misses). */
  lookups: number;
  /** Origin requests that got a response or failed (aborted ones not counted). */
  originRequests: number;
  /** Of those, failures to get a response and 5xx responses. */
  originErrors: number;
  /** Cache occupancy at the end of the slot. */
  cacheBytes: number;
  cacheObjects: number;
}

/** A fixed-size ring of points, oldest first when read. */
export class HistoryRing {
  readonly #points: HistoryPoint[] = [];
  #next = 0;

  constructor(readonly capacity = HISTORY_LENGTH) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`history capacity must be a positive integer, got ${capacity}`);
  }

  /** The newest point, or undefined. */
  get last(): HistoryPoint | undefined {
    if (this.#points.length === 0) return undefined;
    return this.#points[(this.#next - 1 + this.#points.length) % this.#points.length];
  }

  push(p: HistoryPoint): void {
    if (this.#points.length < this.capacity) {
      this.#points.push(p);
      this.#next = this.#points.length % this.capacity;
      return;
    }
    this.#points[this.#next] = p;
    this.#next = (this.#next + 1) % this.capacity;
  }

  points(): HistoryPoint[] {
    if (this.#points.length < this.capacity) return this.#points.map((p) => ({ ...p }));
    return [...this.#points.slice(this.#next), ...this.#points.slice(0, this.#next)].map((p) => ({ ...p }));
  }
}

/** Adds up the histories of several processes slot by slot; the newest `capacity` slots, oldest first. */
export function mergeHistories(lists: readonly (readonly HistoryPoint[])[], capacity = HISTORY_LENGTH): HistoryPoint[] {
  const bySlot = new Map<number, HistoryPoint>();
  for (const list of lists) {
    for (const p of list) {
      const have = bySlot.get(p.t);
      if (!have) {
        bySlot.set(p.t, { ...p });
        continue;
      }
      have.requests += p.requests;
      have.hits += p.hits;
      have.lookups += p.lookups;
      have.originRequests += p.originRequests;
      have.originErrors += p.originErrors;
      have.cacheBytes += p.cacheBytes;
      have.cacheObjects += p.cacheObjects;
    }
  }
  return [...bySlot.values()].sort((a, b) => a.t - b.t).slice(-capacity);
}
