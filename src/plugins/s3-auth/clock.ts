/**
 * Time and timers for the credential lifecycle, injected so a test can move an hour ahead without waiting one.
 */

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it. A pending call never keeps the process alive. */
  schedule(fn: () => void, ms: number): () => void;
}

/** setTimeout's largest delay (2^31 - 1 ms, about 24.8 days); a longer one fires at once (Node's TimeoutOverflowWarning). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The real clock: `now` (Date.now unless a test pins the signing clock) and unref'd timers. A delay longer than
 * setTimeout allows (credentials valid for a year) is waited in steps.
 */
export function systemClock(now: () => number = Date.now): Clock {
  return {
    now,
    schedule(fn, ms) {
      const due = Date.now() + Math.max(0, ms);
      let timer: NodeJS.Timeout;
      const arm = () => {
        const left = due - Date.now();
        timer = left > MAX_TIMEOUT_MS ? setTimeout(arm, MAX_TIMEOUT_MS) : setTimeout(fn, Math.max(0, left));
        timer.unref();
      };
      arm();
      return () => clearTimeout(timer);
    },
  };
}
