/**
 * Credentials with a known end: ATS's `expiration=EPOCH` (in a --config file, or as --expiration), or
 * AWS_CREDENTIAL_EXPIRATION with --credentials=env.
 *
 * When they come from a --config file the file is re-read ahead of expiry on ATS's schedule (one hour before, then
 * 15 minutes before, then at expiry, then every minute: REREAD_BEFORE_EXPIRY_MS), so whatever rotates the file
 * (a cron, a secrets agent) is picked up with no reload; the next request signs with what was read. A file that
 * cannot be read or does not check out is retried with back-off while the credentials in use stay in use.
 *
 * Whatever the origin, the approach of the end is logged loudly: a warning inside the last hour, an error inside
 * the last 15 minutes, an error at expiry and every 10 minutes after it (ATS says all this at debug level but for
 * one error ten minutes after expiry, so its users learnt of it from S3's 403s: ATS issue #10773). After expiry
 * requests are still signed with the last credentials, as ATS does — the expiration is the operator's note, the
 * origin decides — and health() says "not ready".
 */
import type { Logger } from '../../observability/logger.js';
import type { PluginHealth } from '../api.js';
import type { Clock } from './clock.js';
import { EXPIRED_LOG_INTERVAL_MS, EXPIRED_RECHECK_MS, REREAD_BEFORE_EXPIRY_MS } from './constants.js';
import { type CredentialSource, type Credentials, describeExpiry, describeFailure, retryDelay, sameKeys } from './credentials.js';

export interface ExpiringCredentialsOptions {
  /** The credentials read at load. */
  readonly initial: Credentials;
  /**
   * Reads the credentials again (the --config file, merged with the rule's @pparams as at load); throws with the
   * reason when the file is unreadable or invalid. Null when there is nothing to re-read (the environment, an
   * `--expiration` @pparam): then only the warnings.
   */
  readonly reread: (() => Credentials) | null;
  /** Where they come from, for log lines: `config file /etc/remapd/s3.config`, `the environment`. */
  readonly origin: string;
  /** What the operator should do, for log lines. */
  readonly remedy: string;
  /** The rule, `file:line`, for log lines. */
  readonly rule: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

type Stage = 'valid' | 'last-hour' | 'last-quarter' | 'expired';

const HOUR_MS = REREAD_BEFORE_EXPIRY_MS[0]!;
const QUARTER_MS = REREAD_BEFORE_EXPIRY_MS[1]!;

function stageOf(expiresAt: number | null, now: number): Stage {
  if (expiresAt === null) return 'valid';
  const left = expiresAt - now;
  if (left <= 0) return 'expired';
  if (left <= QUARTER_MS) return 'last-quarter';
  if (left <= HOUR_MS) return 'last-hour';
  return 'valid';
}

const SEVERITY: Record<Stage, number> = { valid: 0, 'last-hour': 1, 'last-quarter': 2, expired: 3 };

/**
 * Milliseconds until the next re-read of credentials that expire in `msLeft` (> 0): ATS's cal_reload_delay
 * (plugins/s3_auth/s3_auth.cc) — more than an hour left: wake one hour before; more than 15 minutes: 15 minutes
 * before; less: at expiry.
 */
export function rereadDelay(msLeft: number): number {
  for (const before of REREAD_BEFORE_EXPIRY_MS) if (msLeft > before) return msLeft - before;
  return 0;
}

export class ExpiringCredentialSource implements CredentialSource {
  readonly #o: ExpiringCredentialsOptions;
  #current: Credentials;
  #stage: Stage = 'valid';
  #expiredLoggedAt = -Infinity;
  #failures = 0;
  #cancel: (() => void) | null = null;
  #closed = false;

  constructor(options: ExpiringCredentialsOptions) {
    this.#o = options;
    this.#current = options.initial;
    this.#report();
    this.#plan();
  }

  get(): Credentials {
    return this.#current;
  }

  health(): PluginHealth {
    const expiresAt = this.#current.expiresAt;
    if (expiresAt !== null && this.#o.clock.now() >= expiresAt) {
      return { ready: false, reason: `credentials from ${this.#o.origin} expired at ${new Date(expiresAt).toISOString()}`, credentialsExpireAt: expiresAt };
    }
    return { ready: true, credentialsExpireAt: expiresAt };
  }

  close(): void {
    this.#closed = true;
    this.#cancel?.();
    this.#cancel = null;
  }

  /** Arms the next check for the current credentials' expiry (none when they do not expire). */
  #plan(): void {
    const expiresAt = this.#current.expiresAt;
    if (expiresAt === null) return;
    const left = expiresAt - this.#o.clock.now();
    this.#arm(left > 0 ? rereadDelay(left) : EXPIRED_RECHECK_MS);
  }

  #arm(ms: number): void {
    if (this.#closed) return;
    this.#cancel?.();
    this.#cancel = this.#o.clock.schedule(() => this.#check(), ms);
  }

  #check(): void {
    this.#cancel = null;
    if (this.#closed) return;
    if (this.#o.reread !== null) {
      let next: Credentials;
      try {
        next = this.#o.reread();
      } catch (err) {
        this.#failed(err);
        return;
      }
      this.#failures = 0;
      this.#accept(next);
    }
    this.#report();
    this.#plan();
  }

  /** Puts what a re-read found in force for the next request. */
  #accept(next: Credentials): void {
    const current = this.#current;
    const sameSecret = next.secretKey !== null && sameKeys(current, next);
    if (sameSecret && next.expiresAt === current.expiresAt) return;
    // Same secret, new expiry: keep the derived signing keys.
    this.#current = sameSecret ? { ...next, keys: current.keys } : next;
    const now = this.#o.clock.now();
    this.#stage = stageOf(next.expiresAt, now);
    this.#expiredLoggedAt = -Infinity;
    this.#o.logger.info('s3_auth: new credentials in force', {
      rule: this.#o.rule,
      from: this.#o.origin,
      expires: next.expiresAt === null ? 'never' : describeExpiry(next.expiresAt, now),
    });
  }

  /** A re-read failed: keep the current credentials, say so, and try again soon. */
  #failed(err: unknown): void {
    this.#failures++;
    const delay = retryDelay(this.#failures);
    const expiresAt = this.#current.expiresAt;
    const now = this.#o.clock.now();
    const near = expiresAt !== null && expiresAt - now <= QUARTER_MS;
    (near ? this.#o.logger.error : this.#o.logger.warn)('s3_auth: cannot re-read credentials; the current ones stay in use', {
      rule: this.#o.rule,
      from: this.#o.origin,
      reason: describeFailure(err),
      expires: expiresAt === null ? 'never' : describeExpiry(expiresAt, now),
      retryInSeconds: Math.round(delay / 1000),
    });
    this.#report();
    this.#arm(delay);
  }

  /** Logs the approach of expiry once per stage, and the expiry itself every EXPIRED_LOG_INTERVAL_MS. */
  #report(): void {
    const expiresAt = this.#current.expiresAt;
    if (expiresAt === null) return;
    const now = this.#o.clock.now();
    const stage = stageOf(expiresAt, now);
    const entered = SEVERITY[stage] > SEVERITY[this.#stage];
    this.#stage = stage;
    const fields = { rule: this.#o.rule, from: this.#o.origin, expires: describeExpiry(expiresAt, now), remedy: this.#o.remedy };
    if (stage === 'expired') {
      if (!entered && now - this.#expiredLoggedAt < EXPIRED_LOG_INTERVAL_MS) return;
      this.#expiredLoggedAt = now;
      this.#o.logger.error('s3_auth: credentials have expired; requests are still signed with them and the origin will refuse them', fields);
    } else if (entered && stage === 'last-quarter') {
      this.#o.logger.error('s3_auth: credentials expire within 15 minutes and nothing newer has been found', fields);
    } else if (entered && stage === 'last-hour') {
      this.#o.logger.warn('s3_auth: credentials expire within the hour and nothing newer has been found', fields);
    }
  }
}
