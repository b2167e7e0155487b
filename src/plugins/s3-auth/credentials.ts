/**
 * The credentials s3_auth signs with, and the interface of where they come from.
 *
 * A signer asks its `CredentialSource` on every request. The answer is a field read — synchronous — unless no usable
 * credentials are held and a fetch is under way (only --credentials=aws fetches). Sources that renew credentials
 * (a --config file with ATS's `expiration=`: credentials-file.ts; the AWS SDK's chain: credentials-aws.ts) swap in
 * a new immutable `Credentials` object, and the next request signs with it: nothing restarts.
 *
 * Each set of credentials carries its own signing-key cache (a SecretKeySource per secret), so a V4 key derived
 * from a secret is reused for every request signed with that secret and dropped with it.
 */
import type { PluginHealth } from '../api.js';
import { RETRY_MAX_MS, RETRY_MIN_MS } from './constants.js';
import { SecretKeySource, type SigningKeySource } from './signing-keys.js';

export interface Credentials {
  readonly accessKey: string;
  /** The secret (V2 signs with it directly); null when V4 signs with scoped keys instead. */
  readonly secretKey: string | null;
  /** Where V4 signing keys come from: derived from `secretKey` (cached per day, region, service), or scoped keys. */
  readonly keys: SigningKeySource;
  readonly sessionToken: string | null;
  /** Epoch ms at which they stop working; null when they do not expire. */
  readonly expiresAt: number | null;
}

/**
 * Credentials from an access key and secret. When `previous` holds the same key, secret and token, its signing-key
 * cache is kept (a re-read that found the same credentials derives nothing again).
 */
export function secretCredentials(
  accessKey: string,
  secretKey: string,
  sessionToken: string | null,
  expiresAt: number | null,
  previous: Credentials | null = null,
): Credentials {
  const same = previous !== null && sameKeys(previous, { accessKey, secretKey, sessionToken });
  return { accessKey, secretKey, keys: same ? previous.keys : new SecretKeySource(secretKey), sessionToken, expiresAt };
}

/** Same access key, secret and session token (the expiry may differ). */
export function sameKeys(a: Pick<Credentials, 'accessKey' | 'secretKey' | 'sessionToken'>, b: Pick<Credentials, 'accessKey' | 'secretKey' | 'sessionToken'>): boolean {
  return a.accessKey === b.accessKey && a.secretKey === b.secretKey && a.sessionToken === b.sessionToken;
}

export interface CredentialSource {
  /**
   * The credentials to sign the next request with. Synchronous while usable credentials are held; a promise only
   * when none are and a fetch is under way (it rejects with RemapdError ERR_CREDENTIALS when that fails).
   */
  get(): Credentials | Promise<Credentials>;
  /** Not ready when credentials are missing or expired. Cheap; never logs. */
  health(): PluginHealth;
  /** Stops every timer. */
  close(): void;
}

/** Credentials that never change: from @pparams or a --config file without `expiration=`. */
export class StaticCredentialSource implements CredentialSource {
  readonly #credentials: Credentials;

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
  }

  get(): Credentials {
    return this.#credentials;
  }

  health(): PluginHealth {
    return { ready: true, credentialsExpireAt: null };
  }

  close(): void {}
}

/** `2026-11-23T10:15:00.000Z (in 42 min)` / `(12 min ago)`: for log lines about an expiry. */
export function describeExpiry(expiresAt: number, now: number): string {
  const minutes = Math.round(Math.abs(expiresAt - now) / 60_000);
  return `${new Date(expiresAt).toISOString()} (${expiresAt > now ? `in ${minutes} min` : `${minutes} min ago`})`;
}

/**
 * A failure's reason fit for the error log: the first line of its message, bounded. Provider errors describe
 * what failed (a status, a missing file); the bound keeps an unexpected body out of the log.
 */
export function describeFailure(err: unknown): string {
  const text = err instanceof Error ? `${err.message}` : String(err);
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line || (err instanceof Error ? err.name : 'unknown error');
}

/** How long to wait before retry number `failures` (1, 2, …): 1 s doubling to 60 s, then 60 s for as long as it takes. */
export function retryDelay(failures: number): number {
  return Math.min(RETRY_MIN_MS * 2 ** Math.max(0, Math.min(failures - 1, 30)), RETRY_MAX_MS);
}
