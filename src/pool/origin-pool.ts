/**
 * An origin pool: the live state of one strategy of strategies.yaml — its members, their health, the policy's
 * bookkeeping (round-robin counter, latched member), its active checker and the members' own signers.
 *
 * The proxy asks it, per request, for the members to try in order (`candidates`), and tells it how each attempt
 * went (`begin`, then `succeeded` / `failed` / `abandoned`). One pool serves every rule naming the strategy in one
 * configuration; it is closed with that configuration (reload, shutdown), which stops its timers.
 */
import type { Logger } from '../observability/logger.js';
import type { OriginRequest, RemapPlugin } from '../plugins/api.js';
import { type Clock, systemClock } from '../plugins/s3-auth/clock.js';
import { ActiveChecker, type CheckFunction } from './active-check.js';
import { MemberHealth } from './member-health.js';
import { policyOrder } from './policies.js';
import { memberSeed } from './rendezvous.js';
import type { MemberDef, StrategyDef } from './strategies-file.js';

export interface PoolMember {
  readonly def: MemberDef;
  /** Position in the strategy, groups flattened in order. */
  readonly index: number;
  readonly seed: number;
  readonly weight: number;
  readonly health: MemberHealth;
  /** The member's own signer (its `s3_auth:`), or null: the rule's plugins sign for it. */
  readonly signer: RemapPlugin | null;
}

/** What /readyz, the metrics and the status page show of a member. */
export interface MemberStatus {
  strategy: string;
  origin: string;
  up: boolean;
  consecutiveFailures: number;
  /** Epoch ms it went down, or null. */
  downSince: number | null;
  lastFailure: string | null;
}

export interface PoolOptions {
  logger: Logger;
  /** Per member (strategy order), its signer or null. Closed with the pool. */
  signers?: readonly (RemapPlugin | null)[];
  clock?: Clock;
  /** The active check (tests inject one). */
  check?: CheckFunction;
}

export interface CandidateRequest {
  /** The origin request as the rule built it (before a member is chosen). */
  request: Pick<OriginRequest, 'scheme' | 'host' | 'port' | 'path' | 'search'>;
  clientAddress: string;
  /** Whether a failed attempt may be followed by another (an idempotent request without a body). */
  retryable: boolean;
}

export class OriginPool {
  readonly name: string;
  readonly def: StrategyDef;
  readonly members: readonly PoolMember[];
  readonly #groups: PoolMember[][];
  readonly #checker: ActiveChecker | null;
  #sequence = 0;
  #latched: number | null = null;
  #closed = false;

  constructor(def: StrategyDef, options: PoolOptions) {
    this.name = def.name;
    this.def = def;
    const clock = options.clock ?? systemClock();
    const now = () => clock.now();
    const logger = options.logger;
    let index = 0;
    this.#groups = def.groups.map((g) =>
      g.map((m) => {
        const i = index++;
        return {
          def: m,
          index: i,
          seed: memberSeed(m.id),
          weight: m.weight,
          signer: options.signers?.[i] ?? null,
          health: new MemberHealth(def.health, now, (change) => {
            const log = change.state === 'down' ? logger.warn : logger.info;
            log(`origin pool member ${change.state === 'down' ? 'marked down' : 'back up'}`, { strategy: def.name, origin: m.id, reason: change.reason });
          }),
        };
      }),
    );
    this.members = this.#groups.flat();
    this.#checker = def.health.active
      ? new ActiveChecker(
          this.members.map((m) => ({ url: m.def.checkUrl!, alive: () => m.health.checkSucceeded(), dead: (d: string) => m.health.checkFailed(d) })),
          def.health.intervalMs,
          def.health.timeoutMs,
          clock,
          options.check,
        )
      : null;
    this.#checker?.start();
  }

  /**
   * After a reload: each member that the previous configuration's pool of the same strategy also had (same
   * origin id) starts from that member's health instead of "up". Members new to the strategy start up.
   */
  inheritHealth(previous: OriginPool): void {
    const before = new Map(previous.members.map((m) => [m.def.id, m.health.snapshot()]));
    for (const m of this.members) {
      const s = before.get(m.def.id);
      if (s !== undefined) m.health.inherit(s);
    }
  }

  /**
   * The members to try, in order: the policy's order of the members that may take a request now (up, or down with
   * a probe due — for a request that can fail over, so a failed probe costs the client nothing), then the others
   * in the same order. When every member is down they are all tried anyway: never fail without trying.
   */
  candidates(c: CandidateRequest): PoolMember[] {
    const ordered = policyOrder(this.def.policy, this.def.ringMode, this.#groups, {
      key: this.#hashKey(c.request),
      clientAddress: c.clientAddress,
      sequence: this.#sequence++,
    }, this.#latched);
    const first: PoolMember[] = [];
    const probes: PoolMember[] = [];
    const rest: PoolMember[] = [];
    for (const m of ordered) {
      if (m.health.up) first.push(m);
      else if (m.health.probeDue) (c.retryable ? first : probes).push(m);
      else rest.push(m);
    }
    return first.length === ordered.length ? first : [...first, ...probes, ...rest];
  }

  #hashKey(r: CandidateRequest['request']): string {
    switch (this.def.hashKey) {
      case 'path':
      case 'path+fragment': // a fragment never reaches a proxy
      case 'cache_key': // ATS: the path unless the cachekey plugin is on the rule, which remapd does not have
        return r.path;
      case 'path+query':
        return r.path + r.search;
      case 'url':
        return `${r.scheme}://${r.host}:${r.port}${r.path}${r.search}`;
      case 'hostname':
        return r.host;
    }
  }

  /** An attempt on `m` starts. */
  begin(m: PoolMember): void {
    m.health.begin();
  }

  /** `m` answered with a status that is not a failure. */
  succeeded(m: PoolMember): void {
    m.health.succeeded();
    this.#latched = m.index;
  }

  failed(m: PoolMember, reason: string): void {
    m.health.failed(reason);
  }

  /** `m` answered a markdown code (failover.markdown_codes): down at once. */
  markDown(m: PoolMember, reason: string): void {
    m.health.markDown(reason);
  }

  abandoned(m: PoolMember): void {
    m.health.abandoned();
  }

  /** Runs one round of active checks now (tests; the timer runs them every interval). */
  checkNow(): Promise<void> {
    return this.#checker?.round() ?? Promise.resolve();
  }

  status(): MemberStatus[] {
    return this.members.map((m) => ({
      strategy: this.name,
      origin: m.def.id,
      up: m.health.up,
      consecutiveFailures: m.health.consecutiveFailures,
      downSince: m.health.downSince,
      lastFailure: m.health.lastFailure,
    }));
  }

  /** Stops the active checks and closes the members' signers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#checker?.stop();
    for (const m of this.members) await m.signer?.close?.();
  }
}

/**
 * A rule's sendRequest hooks for each member of its pool: a member with its own signer replaces every instance of
 * the rule that signs for the origin (`signsOrigin`: s3_auth) with it, in the place of the first; when the rule has
 * no signer the member's runs last, on the final request. Worked out once per rule at load, not per request.
 */
export function memberHooks(ruleHooks: readonly RemapPlugin[], pool: OriginPool): RemapPlugin[][] {
  return pool.members.map((m) => {
    const signer = m.signer;
    if (signer === null) return [...ruleHooks];
    const out: RemapPlugin[] = [];
    let placed = false;
    for (const h of ruleHooks) {
      if (!h.signsOrigin) out.push(h);
      else if (!placed) {
        out.push(signer);
        placed = true;
      }
    }
    if (!placed) out.push(signer);
    return out;
  });
}

/** What a rule with `@strategy=` carries: its pool, and its sendRequest hooks per member (memberHooks). */
export interface RulePool {
  readonly pool: OriginPool;
  readonly sendRequest: readonly (readonly RemapPlugin[])[];
}
