/**
 * The cache as the proxy sees it: the object store plus the fetches in flight, so that concurrent requests for
 * one key make one origin request (request coalescing, "read-while-writer").
 */
import { ObjectStore } from './object-store.js';
import type { CacheLimits } from './policy.js';
import type { Fill } from './fill.js';

export class Cache {
  readonly store: ObjectStore;
  /** key → the fetch in flight that later requests for the key may join. */
  readonly inflight = new Map<string, Fill>();

  constructor(limits: CacheLimits) {
    this.store = new ObjectStore(limits);
  }

  get enabled(): boolean {
    return this.store.enabled;
  }
}
