/**
 * Readiness for load balancers (/readyz): named checks, each ok or not with a short reason, ready when all are.
 *
 *   config       a configuration is loaded (a failed reload keeps the old one, which still counts)
 *   credentials  every rule's plugins can sign: RemapPlugin.health() — credentials present and not expired
 *   origins      the origins of the rules accept TCP connections (probed in the background, never per request)
 *   pools        the members of origin pools (@strategy) that are up, by their own health checks; members down
 *                are listed ("degraded") while the instance stays ready, as failover hides them from clients
 *
 * Liveness (/healthz) is deliberately no check at all: the process answering is the whole answer, so a load
 * balancer never restarts a process because S3 is slow.
 */
import { connect } from 'node:net';
import type { RemapPlugin } from '../plugins/api.js';
import type { MemberStatus } from '../pool/origin-pool.js';
import type { RemapConfig } from '../remap/load.js';
import { DEFAULT_PORT } from '../remap/remap-url.js';

export interface HealthCheck {
  name: string;
  ok: boolean;
  /** One line for a person; never secret. */
  detail: string;
  /** Passing, but something behind it is down (an origin pool member): /readyz lists it under "ready". */
  degraded?: boolean;
}

export interface Readiness {
  ready: boolean;
  checks: HealthCheck[];
}

export function readiness(checks: readonly HealthCheck[]): Readiness {
  return { ready: checks.every((c) => c.ok), checks: [...checks] };
}

export function configCheck(config: RemapConfig | null): HealthCheck {
  if (!config) return { name: 'config', ok: false, detail: 'no configuration loaded' };
  return { name: 'config', ok: true, detail: `${config.rules.length} rule(s), loaded ${config.loadedAt.toISOString()}` };
}

/**
 * Asks every plugin instance that reports health (s3_auth: are its credentials usable) and fails when any is not
 * ready or its credentials have expired. Cheap: health() is synchronous and reads state the plugin keeps.
 */
export function credentialsCheck(config: RemapConfig, now = Date.now()): HealthCheck {
  const problems: string[] = [];
  let reporting = 0;
  const ask = (who: string, instance: RemapPlugin) => {
    if (typeof instance.health !== 'function') return;
    reporting++;
    const h = instance.health();
    if (!h.ready) problems.push(`${who}: ${h.reason ?? 'not ready'}`);
    else if (h.credentialsExpireAt != null && h.credentialsExpireAt <= now) {
      problems.push(`${who}: credentials expired at ${new Date(h.credentialsExpireAt).toISOString()}`);
    }
  };
  for (const rule of config.rules) for (const instance of rule.instances) ask(rule.id, instance);
  // Origin pool members with their own s3_auth sign for them instead of the rule's plugins.
  for (const pool of config.pools ?? []) {
    for (const m of pool.members) if (m.signer !== null) ask(`strategy ${pool.name} ${m.def.id}`, m.signer);
  }
  if (problems.length > 0) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    return { name: 'credentials', ok: false, detail: problems.slice(0, 3).join('; ') + more };
  }
  return { name: 'credentials', ok: true, detail: reporting > 0 ? `${reporting} signer(s) ready` : 'no rule signs requests' };
}

/** Each rule's credential expiry, for Metrics.watchCredentials (rules whose plugins report one). */
export function credentialExpiries(config: RemapConfig): { rule: string; expiresAt: number | null }[] {
  const out: { rule: string; expiresAt: number | null }[] = [];
  for (const rule of config.rules) {
    for (const instance of rule.instances) {
      const at = instance.health?.().credentialsExpireAt;
      if (at != null) out.push({ rule: rule.id, expiresAt: at });
    }
  }
  return out;
}

/** Every origin pool member of the configuration and its state, for the metrics and the pools check. */
export function poolMembers(config: RemapConfig): MemberStatus[] {
  return (config.pools ?? []).flatMap((p) => p.status());
}

/**
 * Origin pools: passes while at least one member of every pool is up — the pool hides a member that is down, and
 * taking this instance out of rotation would not bring it back (every instance sees the same origins). Members
 * down are named, with their last failure, in the detail, and make the check `degraded`.
 */
export function poolsCheck(config: RemapConfig, now = Date.now()): HealthCheck {
  const members = poolMembers(config);
  if (members.length === 0) return { name: 'pools', ok: true, detail: 'no origin pool' };
  const down = members.filter((m) => !m.up);
  const strategies = new Set(members.map((m) => m.strategy));
  const dead = [...strategies].filter((s) => members.every((m) => m.strategy !== s || !m.up));
  if (down.length === 0) return { name: 'pools', ok: true, detail: `${members.length} member(s) of ${strategies.size} pool(s) up` };
  const names = down.map((m) => {
    const since = m.downSince !== null ? ` for ${Math.max(0, Math.round((now - m.downSince) / 1000))} s` : '';
    return `${m.strategy} ${m.origin} (down${since}${m.lastFailure ? `, last failure ${m.lastFailure}` : ''})`;
  });
  const detail = `${down.length} of ${members.length} member(s) down: ${names.join('; ')}`;
  if (dead.length > 0) return { name: 'pools', ok: false, detail: `every member of ${dead.join(', ')} is down; ${detail}` };
  return { name: 'pools', ok: true, degraded: true, detail };
}

export interface ProbeTarget {
  host: string;
  port: number;
}

/**
 * The origins a configuration forwards to, once each: the to-URLs of map rules, and the members of the origin pools
 * of rules with @strategy. A regex rule whose to-host uses captures ($1) names no single origin and is left out.
 */
export function originTargets(config: RemapConfig): ProbeTarget[] {
  const seen = new Map<string, ProbeTarget>();
  for (const rule of config.rules) {
    if (rule.kind !== 'map') continue;
    if (rule.pool) {
      // The to-URL of a rule with @strategy is never contacted: its pool's members are.
      for (const m of rule.pool.pool.members) seen.set(`${m.def.host}:${m.def.port}`, { host: m.def.host, port: m.def.port });
      continue;
    }
    const to = rule.to;
    if (to.host === '' || to.host.includes('$')) continue;
    const port = to.port ?? DEFAULT_PORT[to.scheme ?? 'http'];
    seen.set(`${to.host}:${port}`, { host: to.host, port });
  }
  return [...seen.values()];
}

/** Opens (and closes at once) a TCP connection; resolves true when it connected within `timeoutMs`. */
export function tcpReachable(target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface OriginProbeOptions {
  /** The origins to probe now (read before every round, so a reload changes them). */
  targets: () => readonly ProbeTarget[];
  intervalMs?: number;
  timeoutMs?: number;
  /**
   * Ready only when EVERY origin is reachable. Off by default: when one shared origin is down, every remapd
   * behind the load balancer sees the same, and taking them all out of rotation would turn a partial outage
   * (one bucket) into a total one. By default the check fails only when NO origin is reachable — most likely
   * this host's own network.
   */
  requireAll?: boolean;
}

/** Probes the origins in the background; `check()` reports the last round. */
export class OriginProbe {
  readonly #options: Required<OriginProbeOptions>;
  #last: { at: number; up: ProbeTarget[]; down: ProbeTarget[] } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(options: OriginProbeOptions) {
    this.#options = { intervalMs: 10_000, timeoutMs: 2_000, requireAll: false, ...options };
  }

  /** One probe round (also what the timer runs); concurrent calls share the round in progress. */
  probe(): Promise<void> {
    this.#running ??= (async () => {
      const targets = this.#options.targets();
      const results = await Promise.all(targets.map((t) => tcpReachable(t, this.#options.timeoutMs)));
      this.#last = {
        at: Date.now(),
        up: targets.filter((_, i) => results[i]),
        down: targets.filter((_, i) => !results[i]),
      };
    })().finally(() => (this.#running = null));
    return this.#running;
  }

  /** Probes now and then every interval, until stop(); the timer does not keep the process alive. */
  start(): void {
    if (this.#timer) return;
    void this.probe();
    this.#timer = setInterval(() => void this.probe(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  check(): HealthCheck {
    const last = this.#last;
    if (last === null) return { name: 'origins', ok: false, detail: 'not probed yet' };
    const total = last.up.length + last.down.length;
    if (total === 0) return { name: 'origins', ok: true, detail: 'no fixed origin to probe' };
    const names = (list: ProbeTarget[]) => list.slice(0, 3).map((t) => `${t.host}:${t.port}`).join(', ') + (list.length > 3 ? ` (and ${list.length - 3} more)` : '');
    const ok = this.#options.requireAll ? last.down.length === 0 : last.up.length > 0;
    const detail =
      last.down.length === 0
        ? `${total} origin(s) reachable`
        : `${last.down.length} of ${total} origin(s) unreachable: ${names(last.down)}`;
    return { name: 'origins', ok, detail };
  }
}
