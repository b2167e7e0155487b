/**
 * Active health checks: a GET of each member's check URL every interval, bounded by a timeout. Alive means any
 * response below 500: an S3 store answers an unsigned GET with 403 AccessDenied, which still proves it is up and
 * serving; a 5xx, a refused or reset connection or no answer in time counts as a failure.
 *
 * Checks go out on a fresh connection each (agent: false), so a check never waits behind request traffic and never
 * reuses a connection the member already closed. HTTPS checks verify the member's certificate against the system
 * CA bundle, as origin requests do.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SecureContext } from 'node:tls';
import type { Clock } from '../plugins/s3-auth/clock.js';
import { loadTrustedCas } from '../proxy/origin-client.js';

export interface CheckResult {
  alive: boolean;
  /** The status, or why there was none (ECONNREFUSED, timeout). */
  detail: string;
}

export type CheckFunction = (url: string, timeoutMs: number) => Promise<CheckResult>;

let trusted: SecureContext | null = null;

/** One check: resolves (never rejects) with whether the URL answered below 500 within `timeoutMs`. */
export const httpCheck: CheckFunction = (url, timeoutMs) =>
  new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve({ alive: false, detail: 'invalid URL' });
      return;
    }
    const https = u.protocol === 'https:';
    if (https) trusted ??= loadTrustedCas(null).secureContext;
    const send = https ? httpsRequest : httpRequest;
    let settled = false;
    const done = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = send(
      u,
      { method: 'GET', agent: false, headers: { 'User-Agent': 'remapd-health-check' }, ...(https ? { secureContext: trusted! } : {}) },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        done({ alive: status > 0 && status < 500, detail: String(status) });
        res.destroy();
      },
    );
    const timer = setTimeout(() => {
      done({ alive: false, detail: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    timer.unref();
    req.on('error', (err: NodeJS.ErrnoException) => done({ alive: false, detail: err.code ?? err.message }));
    req.end();
  });

export interface CheckTarget {
  url: string;
  alive(): void;
  dead(detail: string): void;
}

/**
 * Runs a round of checks every `intervalMs` (the first one an interval after start, so loading a configuration
 * that is never put in force — `remapd check`, a failed reload — sends nothing) until stop().
 */
export class ActiveChecker {
  #cancel: (() => void) | null = null;
  #stopped = false;
  #round: Promise<void> | null = null;

  constructor(
    private readonly targets: readonly CheckTarget[],
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly check: CheckFunction = httpCheck,
  ) {}

  start(): void {
    if (this.#stopped || this.#cancel !== null) return;
    this.#arm();
  }

  #arm(): void {
    this.#cancel = this.clock.schedule(() => {
      this.#cancel = null;
      void this.round().finally(() => {
        if (!this.#stopped) this.#arm();
      });
    }, this.intervalMs);
  }

  /** One round: every target checked at once; resolves when all have answered or timed out. */
  round(): Promise<void> {
    this.#round ??= Promise.all(
      this.targets.map(async (t) => {
        const r = await this.check(t.url, this.timeoutMs);
        if (this.#stopped) return;
        if (r.alive) t.alive();
        else t.dead(r.detail);
      }),
    )
      .then(() => undefined)
      .finally(() => (this.#round = null));
    return this.#round;
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = null;
  }
}
