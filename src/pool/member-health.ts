/**
 * The health of one pool member: up or down, from what requests to it and active checks of it showed.
 *
 *   up    ── `fall` consecutive failures (requests or checks) ──►  down, avoided for `retryTime`
 *   down  ── a request to it succeeds (the probe let through after retryTime, or a try when all are down) ──► up
 *   down  ── `rise` consecutive successful active checks ──► up
 *
 * A failure is a connection error, a timeout or a 5xx response (or a failed check); a success resets the count.
 * After `retryTime` one request at a time may probe a down member (ATS's parent retry); its failure starts a new
 * retryTime. The clock is injected, so tests step through the machine without waiting.
 */

export interface HealthRules {
  fall: number;
  rise: number;
  retryTimeMs: number;
}

export type MemberState = 'up' | 'down';

export interface HealthChange {
  state: MemberState;
  /** What caused it, for the log ("3 consecutive failures: ERR_ORIGIN_CONNECT"). */
  reason: string;
}

export interface HealthSnapshot {
  readonly state: MemberState;
  readonly failures: number;
  readonly checkSuccesses: number;
  readonly downSince: number | null;
  readonly retryAt: number;
  readonly lastFailure: string | null;
}

export class MemberHealth {
  #state: MemberState = 'up';
  /** Consecutive failures, from requests and checks alike. */
  #failures = 0;
  /** Consecutive successful active checks while down. */
  #checkSuccesses = 0;
  #downSince: number | null = null;
  #retryAt = 0;
  #probing = false;
  #lastFailure: string | null = null;

  constructor(
    private readonly rules: HealthRules,
    private readonly now: () => number,
    private readonly onChange: (change: HealthChange) => void = () => undefined,
  ) {}

  get state(): MemberState {
    return this.#state;
  }

  get up(): boolean {
    return this.#state === 'up';
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Epoch ms it was marked down, or null while up. */
  get downSince(): number | null {
    return this.#downSince;
  }

  /** The last failure seen (a code or a status), for /readyz. */
  get lastFailure(): string | null {
    return this.#lastFailure;
  }

  /** Down, but its retry time has come and no other request is probing it: the next request may. */
  get probeDue(): boolean {
    return this.#state === 'down' && !this.#probing && this.now() >= this.#retryAt;
  }

  /** What a reload carries over to the same member in the new configuration (inherit). */
  snapshot(): HealthSnapshot {
    return { state: this.#state, failures: this.#failures, checkSuccesses: this.#checkSuccesses, downSince: this.#downSince, retryAt: this.#retryAt, lastFailure: this.#lastFailure };
  }

  /**
   * Takes over the state of the same member in the configuration being replaced: a member that was down stays
   * down (and keeps its retry time) instead of getting a reload's worth of client requests to fail again. No
   * change is logged: nothing changed.
   */
  inherit(s: HealthSnapshot): void {
    this.#state = s.state;
    this.#failures = s.failures;
    this.#checkSuccesses = s.checkSuccesses;
    this.#downSince = s.downSince;
    this.#retryAt = s.retryAt;
    this.#lastFailure = s.lastFailure;
  }

  /** A request is being sent to this member; while it is down, that request is the one probe. */
  begin(): void {
    if (this.#state === 'down') this.#probing = true;
  }

  /** The member answered (a response below 500, or any status not counted as failure). */
  succeeded(): void {
    this.#probing = false;
    this.#failures = 0;
    this.#checkSuccesses = 0;
    if (this.#state === 'down') this.#setUp('a request succeeded');
  }

  /** A request failed on this member: `reason` is an error code or a status. */
  failed(reason: string): void {
    this.#probing = false;
    this.#failure(reason);
  }

  /** A request ended without saying anything about the member (the client left). */
  abandoned(): void {
    this.#probing = false;
  }

  /** Marked down at once (a response in failover.markdown_codes). */
  markDown(reason: string): void {
    this.#probing = false;
    this.#lastFailure = reason;
    this.#failures = Math.max(this.#failures + 1, this.rules.fall);
    if (this.#state === 'up') this.#setDown(`answered ${reason} (markdown code)`);
    else this.#retryAt = this.now() + this.rules.retryTimeMs;
  }

  /** An active check found it alive. */
  checkSucceeded(): void {
    this.#failures = 0;
    if (this.#state !== 'down') return;
    if (++this.#checkSuccesses >= this.rules.rise) this.#setUp(`${this.#checkSuccesses} consecutive health checks passed`);
  }

  /** An active check failed. */
  checkFailed(reason: string): void {
    this.#checkSuccesses = 0;
    this.#failure(`health check: ${reason}`);
  }

  #failure(reason: string): void {
    this.#lastFailure = reason;
    this.#failures++;
    if (this.#state === 'down') {
      this.#retryAt = this.now() + this.rules.retryTimeMs;
      return;
    }
    if (this.#failures >= this.rules.fall) this.#setDown(`${this.#failures} consecutive failures, the last: ${reason}`);
  }

  #setDown(reason: string): void {
    const t = this.now();
    this.#state = 'down';
    this.#downSince = t;
    this.#retryAt = t + this.rules.retryTimeMs;
    this.#checkSuccesses = 0;
    this.onChange({ state: 'down', reason });
  }

  #setUp(reason: string): void {
    this.#state = 'up';
    this.#downSince = null;
    this.#checkSuccesses = 0;
    this.#probing = false;
    this.onChange({ state: 'up', reason });
  }
}
