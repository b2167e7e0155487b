/**
 * A clock for the credential lifecycle (src/plugins/s3-auth/clock.ts) that moves only when a test says so: an hour
 * of timers runs in a microsecond, in due order, and nothing is left behind when the test ends.
 */
import type { Clock } from '../../src/plugins/s3-auth/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #pending: Pending[] = [];

  constructor(start: Date | number) {
    this.#now = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  date(): Date {
    return new Date(this.#now);
  }

  schedule(fn: () => void, ms: number): () => void {
    const entry: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#pending.push(entry);
    return () => {
      this.#pending = this.#pending.filter((p) => p !== entry);
    };
  }

  /** Delays of the timers still pending, from now, soonest first. */
  pendingDelays(): number[] {
    return this.#pending.map((p) => p.at - this.#now).sort((a, b) => a - b);
  }

  /**
   * Moves time ahead by `ms`, running every timer that falls due on the way at its own time (a timer armed by a
   * timer runs too if it is due). At most `maxRuns` timers, so a loop cannot spin forever.
   */
  advance(ms: number, maxRuns = 10_000): number {
    const end = this.#now + ms;
    let runs = 0;
    for (;;) {
      const next = this.#pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      if (++runs > maxRuns) throw new Error(`ManualClock: more than ${maxRuns} timers ran in ${ms} ms`);
      this.#pending = this.#pending.filter((p) => p !== next);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = end;
    return runs;
  }

  /**
   * Moves time ahead WITHOUT running the timers that fall due (they run at the next `advance`): a timer that has
   * not fired yet, as after a suspended VM or a blocked event loop, so requests meet the state first.
   */
  jump(ms: number): void {
    this.#now += ms;
  }

  /** Moves time to `at` (epoch ms), running timers on the way. */
  advanceTo(at: number): number {
    return this.advance(Math.max(0, at - this.#now));
  }
}
