/**
 * One origin fetch shared by every request that wants the same key while it runs (request coalescing). The
 * first request starts it; later ones join. Each reader gets the head when it arrives and the body as it
 * arrives — never after the whole object is in — from a replay buffer of the chunks so far, kept while the
 * object can still be stored. When the object outgrows the store's limit the buffer is dropped and nobody new
 * joins; readers already attached keep streaming. The origin is read only as fast as the slowest reader takes
 * it (back-pressure), and aborted when every reader has gone (unless it is a background revalidation).
 *
 * Outcomes, decided once the origin answered:
 *   'entry'   serve a stored entry (a 304 refreshed it, or a stale copy stands in for a failure)
 *   'stream'  serve the new response from the stream; `shared` false means it must not be given to anyone but
 *             the request that started the fetch (private, Set-Cookie…): the others fetch on their own
 *   'error'   the fetch failed and nothing can stand in: every reader gets the error
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { ResponseHead } from '../plugins/api.js';
import { OriginAbort } from '../proxy/origin-abort.js';
import type { AgeBasis } from './freshness.js';
import type { CacheEntry } from './object-store.js';

export type FillOutcome =
  | { kind: 'pending' }
  | { kind: 'entry'; entry: CacheEntry; status: string; xCache: string }
  | { kind: 'stream'; head: ResponseHead; shared: boolean; age: AgeBasis }
  | { kind: 'error'; error: unknown };

export interface FillReader {
  readonly res: ServerResponse;
  /** Counts body bytes written (for the access log). */
  onBytes(n: number): void;
  /** The origin body failed: this reader's connection is about to be cut. */
  onFail(): void;
}

export class Fill {
  readonly key: string;
  readonly controller = new OriginAbort();
  readonly background: boolean;
  outcome: FillOutcome = { kind: 'pending' };
  /** Chunks so far, while the object may still be stored (and late readers may join); null after that. */
  chunks: Buffer[] | null = [];
  size = 0;
  done = false;
  /** The body failed or was cut: attached readers were aborted. */
  failed = false;
  readonly #readers = new Set<FillReader>();
  readonly #blocked = new Set<FillReader>();
  #body: Readable | null = null;
  #headReady!: () => void;
  readonly headReady: Promise<void>;
  /** Read the body to the end even with no reader, while it can still be stored (a conditional hit started it). */
  completeUnread = false;
  /** Called once when the origin body fails (not when it was aborted because every reader left). */
  onBodyError: ((err: Error) => void) | null = null;
  /** Joins of waiters that arrived before the head; the body does not flow until they have attached. */
  readonly pendingAttach = new Set<Promise<unknown>>();
  /** Clients waiting for the head (the one that started the fetch and those that joined it) still connected. */
  #waiting = 0;

  constructor(key: string, background: boolean) {
    this.key = key;
    this.background = background;
    this.headReady = new Promise((resolve) => (this.#headReady = resolve));
  }

  /**
   * Counts a client waiting for the head. When every waiting client has left before the head arrived, the fetch is
   * cancelled: a body nobody reads is aborted at its head anyway, so running on to --response-timeout would only
   * hold an origin connection (a thousand clients leaving would hold a thousand). A background refresh runs on.
   */
  waitFor(res: ServerResponse): void {
    this.#waiting++;
    res.once('close', () => {
      if (--this.#waiting === 0 && this.outcome.kind === 'pending' && !this.background) this.controller.abort();
    });
  }

  /** Sets the outcome and lets waiting readers go on. */
  settle(outcome: Exclude<FillOutcome, { kind: 'pending' }>): void {
    this.outcome = outcome;
    this.#headReady();
  }

  /** Whether a reader attaching now can get the body from its first byte (replay buffer, or nothing sent yet). */
  get canServeFromStart(): boolean {
    return !this.failed && (this.chunks !== null || (this.size === 0 && !this.done));
  }

  /** Whether a new request may still join and be served from the start. */
  get joinable(): boolean {
    if (this.failed || this.controller.aborted) return false;
    return this.outcome.kind === 'pending' || (this.outcome.kind === 'stream' && this.outcome.shared && this.chunks !== null);
  }

  /**
   * Attaches a reader whose head is written: replays the chunks so far, then receives the rest. Returns false when
   * the replay buffer is gone (the caller fetches on its own).
   */
  attach(reader: FillReader): boolean {
    // A client that left while waiting for the head: nothing to write, and it must not hold the body back.
    if (reader.res.destroyed) return true;
    if (this.failed) {
      reader.res.destroy();
      return true;
    }
    if (!this.canServeFromStart) return false;
    for (const c of this.chunks ?? []) this.#write(reader, c);
    if (this.done) {
      reader.res.end();
      return true;
    }
    this.#readers.add(reader);
    reader.res.once('close', () => this.#detach(reader));
    return true;
  }

  /** Streams `body` to the attached readers; resolves when it ended (true) or failed (false). */
  pump(body: Readable, maxBuffered: number, onDrop: () => void): Promise<boolean> {
    this.#body = body;
    return new Promise((resolve) => {
      body.on('data', (chunk: Buffer) => {
        this.size += chunk.length;
        if (this.chunks !== null) {
          if (this.size > maxBuffered) {
            this.chunks = null;
            onDrop();
            if (this.#readers.size === 0 && !this.#unattended) this.controller.abort();
          } else {
            this.chunks.push(chunk);
          }
        }
        for (const r of this.#readers) this.#write(r, chunk);
      });
      body.once('end', () => {
        this.done = true;
        for (const r of this.#readers) r.res.end();
        this.#readers.clear();
        resolve(true);
      });
      const fail = (err: Error) => {
        if (this.failed || this.done) return;
        // Never a clean-looking short response: every reader's connection is cut.
        this.failed = true;
        this.chunks = null;
        if (!this.controller.aborted) this.onBodyError?.(err);
        for (const r of this.#readers) {
          r.onFail();
          r.res.destroy();
        }
        this.#readers.clear();
        resolve(false);
      };
      body.once('error', fail);
      // A body destroyed without an error ends neither way: that is a cut too.
      body.once('close', () => fail(new Error('origin body closed before its end')));
      if (this.#readers.size === 0 && !this.#unattended) this.controller.abort();
    });
  }

  /** May run with no reader: a background refresh, or a storable body nobody is reading yet. */
  get #unattended(): boolean {
    return this.background || (this.completeUnread && this.chunks !== null);
  }

  #write(reader: FillReader, chunk: Buffer): void {
    reader.onBytes(chunk.length);
    if (!reader.res.write(chunk) && !this.#blocked.has(reader)) {
      this.#blocked.add(reader);
      this.#body?.pause();
      reader.res.once('drain', () => this.#unblock(reader));
    }
  }

  #unblock(reader: FillReader): void {
    this.#blocked.delete(reader);
    if (this.#blocked.size === 0) this.#body?.resume();
  }

  #detach(reader: FillReader): void {
    if (!this.#readers.delete(reader)) return;
    this.#unblock(reader);
    // The last reader left before the end: stop the origin (nothing partial is ever stored).
    if (this.#readers.size === 0 && !this.done && !this.#unattended) this.controller.abort();
  }
}
