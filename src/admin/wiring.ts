/**
 * Puts the admin endpoints together for `remapd serve` (issue 7): per serving process, the metrics and the
 * readiness checks it answers; and the admin listener itself — in a single process next to the proxy, with
 * `--workers N` in the supervisor, answering from every worker's numbers collected over IPC.
 */
import type { Server } from 'node:http';
import { collectFromWorkers, registerHandler } from '../cluster/ipc.js';
import type { Logger } from '../observability/logger.js';
import { Metrics, type MetricsSnapshot } from '../observability/metrics.js';
import { parseIpEntry } from '../remap/ip-range.js';
import type { RemapdServer } from '../server.js';
import { createAdminServer } from './admin-server.js';
import {
  configCheck,
  credentialExpiries,
  credentialsCheck,
  OriginProbe,
  originTargets,
  poolMembers,
  poolsCheck,
  type Readiness,
  readiness,
} from './health.js';
import { buildStatus } from './status.js';
import { mergeWorkerMetrics, mergeWorkerReadiness } from './workers.js';

export interface AdminAddress {
  host: string;
  port: number;
}

/** What one serving process keeps for the admin endpoints. */
export interface ProcessObservability {
  readonly metrics: Metrics;
  /** Binds the checks to the server once it exists (the metrics must exist before it, to be passed in). */
  attach(server: RemapdServer): void;
  ready(): Promise<Readiness>;
  stop(): void;
}

export function processObservability(): ProcessObservability {
  const metrics = new Metrics();
  let server: RemapdServer | null = null;
  let probe: OriginProbe | null = null;
  const removers: (() => void)[] = [];
  let probing = false;
  const ready = async (): Promise<Readiness> => {
    if (!server || !probe) return readiness([configCheck(null)]);
    if (!probing) {
      // Origins are probed once somebody asks (/readyz here or through the supervisor), not from start-up: a
      // process without admin endpoints would otherwise connect to every origin every 10 s for nobody.
      probing = true;
      probe.start();
      await probe.probe();
    }
    return readiness([configCheck(server.config), credentialsCheck(server.config), probe.check(), poolsCheck(server.config)]);
  };
  return {
    metrics,
    ready,
    attach(s) {
      server = s;
      metrics.watchCache(s.cache);
      metrics.watchReloads(() => s.reloadState);
      metrics.watchCredentials(() => credentialExpiries(s.config));
      metrics.watchOriginPools(() => poolMembers(s.config));
      metrics.startSampling();
      probe = new OriginProbe({ targets: () => originTargets(s.config) });
      // A supervisor's admin endpoint asks every worker for these (cluster/ipc.ts).
      removers.push(registerHandler('metrics', () => metrics.snapshot()));
      removers.push(registerHandler('ready', ready));
    },
    stop() {
      metrics.stopSampling();
      probe?.stop();
      for (const r of removers) r();
    },
  };
}

/** Listens on `address`; resolves with the server, rejects when the address cannot be bound. */
async function listenAdmin(admin: Server, address: AdminAddress, logger: Logger): Promise<Server> {
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(address.port, address.host, () => {
      admin.off('error', reject);
      resolve();
    });
  });
  const a = admin.address();
  if (a && typeof a === 'object') logger.info('admin endpoints listening', { address: `${a.address}:${a.port}`, paths: '/metrics /metrics.json /status /healthz /readyz' });
  return admin;
}

/** The admin listener of a single process. */
export function startProcessAdmin(obs: ProcessObservability, address: AdminAddress, allow: readonly string[], logger: Logger): Promise<Server> {
  const admin = createAdminServer({
    metrics: () => obs.metrics.snapshot(),
    health: () => obs.ready(),
    allow: allow.map(parseIpEntry),
    logger,
  });
  return listenAdmin(admin, address, logger);
}

/** The admin listener of a supervisor: numbers summed over the workers, ready only when every worker is. */
export function startSupervisorAdmin(address: AdminAddress, allow: readonly string[], logger: Logger): Promise<Server> {
  const merged = async (): Promise<{ snapshot: MetricsSnapshot; workers: ReturnType<typeof mergeWorkerMetrics>['workers'] }> =>
    mergeWorkerMetrics(await collectFromWorkers('metrics'));
  const admin = createAdminServer({
    metrics: async () => (await merged()).snapshot,
    status: async () => {
      const m = await merged();
      return buildStatus(m.snapshot, { workers: m.workers });
    },
    health: async () => mergeWorkerReadiness(await collectFromWorkers('ready')),
    allow: allow.map(parseIpEntry),
    logger,
  });
  return listenAdmin(admin, address, logger);
}
