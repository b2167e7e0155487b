/**
 * --credentials=aws: the AWS SDK's default provider chain (`defaultProvider` of @aws-sdk/credential-provider-node,
 * what `fromNodeProviderChain` wraps): environment, SSO, shared files and profiles, credential_process, web
 * identity, ECS/EKS container credentials, EC2 instance metadata — AWS's code, not a re-implementation.
 *
 * - First fetch at plugin load; a load that gets no credentials fails the rule (the loader names its file:line;
 *   a reload keeps the old configuration, a start exits) rather than starting a proxy that cannot sign.
 * - Renewed AWS_REFRESH_BEFORE_EXPIRY_MS before expiry: by a timer, or by the first request that finds them in
 *   that window (it still signs with the current, valid ones and does not wait).
 * - Single-flight: one fetch at a time; every request that must wait (no valid credentials) waits for that one.
 * - A failed fetch keeps the last good credentials in use while they are valid, is logged, and is retried with
 *   back-off (1 s doubling to 60 s). With none valid, a request during the back-off fails at once with
 *   ERR_CREDENTIALS (503) instead of queueing on a source that is down.
 * - Signing stays synchronous: `get()` is a field read and a clock compare unless a refresh is due and nothing
 *   valid is held.
 */
import { RemapdError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { PluginHealth } from '../api.js';
import type { Clock } from './clock.js';
import { AWS_REFRESH_BEFORE_EXPIRY_MS } from './constants.js';
import { type CredentialSource, type Credentials, describeExpiry, describeFailure, retryDelay, sameKeys, secretCredentials } from './credentials.js';

/** What the SDK's providers resolve to (AwsCredentialIdentity in @smithy/types), as far as signing needs it. */
export interface AwsIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Options for the SDK's chain: the container and instance-metadata sources' per-try timeout (ms) and retries. */
export interface AwsChainInit {
  timeout?: number;
  maxRetries?: number;
}

/**
 * One fetch from the default chain. The SDK module is loaded on first use, so rules without --credentials=aws
 * never load it. `forceRefresh` asks the chain's sources again: without it the SDK answers from its own cache
 * and, inside its 5-minute window, returns the old credentials while it refreshes in the background.
 */
export function awsChainFetch(init: AwsChainInit = {}): () => Promise<AwsIdentity> {
  let provider: Promise<(options: { forceRefresh: boolean }) => Promise<AwsIdentity>> | null = null;
  return async () => {
    provider ??= import('@aws-sdk/credential-provider-node').then((m) => m.defaultProvider({ ...init }));
    return (await provider)({ forceRefresh: true });
  };
}

export interface AwsCredentialsOptions {
  /** Fetches credentials from the chain (awsChainFetch; tests may give another). */
  readonly fetch: () => Promise<AwsIdentity>;
  /** The rule, `file:line`, for log lines. */
  readonly rule: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class AwsChainCredentialSource implements CredentialSource {
  readonly #o: AwsCredentialsOptions;
  #current: Credentials | null = null;
  /** When the current credentials enter the refresh window (Infinity: they do not expire). */
  #refreshAt = Infinity;
  #inflight: Promise<Credentials> | null = null;
  /** Consecutive fetches that failed or brought nothing newer; sets the back-off. */
  #retries = 0;
  /** No fetch starts before this (back-off), except the timer's. */
  #nextAttemptAt = 0;
  #lastFailure: string | null = null;
  #cancel: (() => void) | null = null;
  #closed = false;

  constructor(options: AwsCredentialsOptions) {
    this.#o = options;
  }

  /** The first fetch, at load: resolves once credentials are held; rejects with the reason (nothing logged, no retry). */
  async start(): Promise<void> {
    await this.#refresh(true);
  }

  get(): Credentials | Promise<Credentials> {
    const c = this.#current;
    const now = this.#o.clock.now();
    if (c !== null) {
      if (now < this.#refreshAt) return c;
      if (now < c.expiresAt!) {
        // Inside the window and still valid: renew in the background, sign with these.
        if (this.#inflight === null && now >= this.#nextAttemptAt) this.#refresh().catch(() => {});
        return c;
      }
    }
    if (this.#inflight === null && now < this.#nextAttemptAt) throw this.#unavailable(now);
    return this.#refresh().catch(() => {
      throw this.#unavailable(this.#o.clock.now());
    });
  }

  health(): PluginHealth {
    const c = this.#current;
    const failing = this.#lastFailure !== null ? `; the last fetch failed: ${this.#lastFailure}` : '';
    if (c === null) return { ready: false, reason: `no credentials from the AWS provider chain${failing}`, credentialsExpireAt: null };
    if (c.expiresAt !== null && this.#o.clock.now() >= c.expiresAt) {
      return { ready: false, reason: `credentials from the AWS provider chain expired at ${new Date(c.expiresAt).toISOString()}${failing}`, credentialsExpireAt: c.expiresAt };
    }
    return { ready: true, credentialsExpireAt: c.expiresAt };
  }

  close(): void {
    this.#closed = true;
    this.#cancel?.();
    this.#cancel = null;
  }

  /** Starts a fetch unless one is under way (single-flight); settles with what the chain gave. */
  #refresh(initial = false): Promise<Credentials> {
    if (this.#inflight !== null) return this.#inflight;
    this.#cancel?.();
    this.#cancel = null;
    const fetched = this.#o.fetch().then(
      (identity) => this.#accept(identity, initial),
      (err: unknown) => this.#fail(err, initial),
    );
    this.#inflight = fetched;
    return fetched;
  }

  #accept(identity: AwsIdentity, initial: boolean): Credentials {
    this.#inflight = null;
    const now = this.#o.clock.now();
    if (!identity || typeof identity.accessKeyId !== 'string' || !identity.accessKeyId || typeof identity.secretAccessKey !== 'string' || !identity.secretAccessKey) {
      return this.#fail(new Error('the chain returned credentials without an access key or secret'), initial);
    }
    const expiresAt = identity.expiration instanceof Date && !Number.isNaN(identity.expiration.getTime()) ? identity.expiration.getTime() : null;
    if (expiresAt !== null && expiresAt <= now) {
      return this.#fail(new Error(`the chain returned credentials that expired at ${new Date(expiresAt).toISOString()}`), initial);
    }
    const current = this.#current;
    const next = { accessKey: identity.accessKeyId, secretKey: identity.secretAccessKey, sessionToken: identity.sessionToken || null };
    const changed = current === null || !sameKeys(current, next) || current.expiresAt !== expiresAt;
    if (changed) this.#current = secretCredentials(next.accessKey, next.secretKey, next.sessionToken, expiresAt, current);
    this.#refreshAt = expiresAt === null ? Infinity : expiresAt - AWS_REFRESH_BEFORE_EXPIRY_MS;
    this.#lastFailure = null;
    if (changed) {
      this.#o.logger.info('s3_auth: credentials from the AWS provider chain in force', {
        rule: this.#o.rule,
        expires: expiresAt === null ? 'never' : describeExpiry(expiresAt, now),
      });
    }
    if (now >= this.#refreshAt) {
      // Valid, but inside the window: the source has not rotated them yet. Ask again soon, without hurrying.
      this.#retries++;
      const delay = retryDelay(this.#retries);
      this.#nextAttemptAt = now + delay;
      this.#o.logger.debug('s3_auth: the AWS provider chain has nothing newer yet', { rule: this.#o.rule, retryInSeconds: Math.round(delay / 1000) });
      this.#arm(delay);
    } else {
      this.#retries = 0;
      this.#nextAttemptAt = 0;
      if (expiresAt !== null) this.#arm(this.#refreshAt - now);
    }
    return this.#current!;
  }

  #fail(err: unknown, initial: boolean): never {
    this.#inflight = null;
    this.#lastFailure = describeFailure(err);
    if (initial) throw err;
    const now = this.#o.clock.now();
    this.#retries++;
    const delay = retryDelay(this.#retries);
    this.#nextAttemptAt = now + delay;
    const c = this.#current;
    const fields = {
      rule: this.#o.rule,
      reason: this.#lastFailure,
      expires: c === null ? 'none held' : c.expiresAt === null ? 'never' : describeExpiry(c.expiresAt, now),
      retryInSeconds: Math.round(delay / 1000),
    };
    if (c !== null && (c.expiresAt === null || now < c.expiresAt)) {
      this.#o.logger.warn('s3_auth: cannot refresh credentials from the AWS provider chain; the current ones stay in use', fields);
    } else {
      this.#o.logger.error('s3_auth: no valid credentials: the AWS provider chain fails; requests fail with 503', fields);
    }
    this.#arm(delay);
    throw err;
  }

  #arm(ms: number): void {
    if (this.#closed) return;
    this.#cancel?.();
    this.#cancel = this.#o.clock.schedule(() => {
      this.#cancel = null;
      this.#refresh().catch(() => {});
    }, Math.max(0, ms));
  }

  #unavailable(now: number): RemapdError {
    const c = this.#current;
    const state = c === null ? 'no credentials held' : `credentials expired at ${new Date(c.expiresAt!).toISOString()}`;
    const retry = Math.max(0, Math.ceil((this.#nextAttemptAt - now) / 1000));
    return new RemapdError('ERR_CREDENTIALS', 'no valid credentials to sign the origin request (details in the error log)', {
      detail: `s3_auth (${this.#o.rule}): ${state}; the AWS provider chain fails: ${this.#lastFailure ?? 'unknown'}; next attempt in ${retry} s`,
    });
  }
}
