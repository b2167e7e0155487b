/**
 * Cancels an origin request (and its body) when the client it serves goes away: what remapd used of
 * AbortController, without an EventTarget and its listener bookkeeping per request. One request listens at a time
 * (a retry or a failover listens after the previous attempt has settled).
 */
export class OriginAbort {
  aborted = false;
  #listener: (() => void) | null = null;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listener = this.#listener;
    this.#listener = null;
    listener?.();
  }

  /** `fn` runs once on abort(), unless another listener took its place or it was removed first. */
  listen(fn: () => void): void {
    this.#listener = fn;
  }

  /** Removes `fn` if it is still the listener (a request that settled must not remove its successor's). */
  unlisten(fn: () => void): void {
    if (this.#listener === fn) this.#listener = null;
  }
}
