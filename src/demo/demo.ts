/**
 * `npm start`: a local S3-compatible origin (s3rver, a dev dependency) seeded with a demo bucket, and remapd on
 * remap.config.example in front of it. For trying remapd on a fresh clone, never for production: production runs
 * `remapd serve` against real origins.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { formatDiagnostic } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { loadRemapConfig } from '../remap/load.js';
import { RemapdServer } from '../server.js';
import { processObservability, startProcessAdmin } from '../admin/wiring.js';
import { resolveSettings } from '../settings.js';

/** Ports the example config names; change both together. */
const ORIGIN_PORT = 4568;
const PROXY_PORT = 8080;
const ADMIN_PORT = 9090;
const BUCKET = 'demo';

const OBJECTS: Record<string, string> = {
  'hello.txt': 'Hello from the remapd demo bucket!\n',
  'folder/with space.txt': 'Keys with spaces work too.\n',
  'docs/readme.txt': 'remapd: an S3 caching reverse proxy driven by remap.config.\n',
};

async function main(): Promise<void> {
  const logger = createLogger({ level: 'info' });
  const { default: S3rver } = await import('@20minutes/s3rver').catch((err: unknown) => {
    throw new Error(`the demo needs the dev dependency @20minutes/s3rver (run npm ci): ${(err as Error).message}`);
  });
  const dir = mkdtempSync(join(tmpdir(), 'remapd-demo-'));
  const s3 = new S3rver({ address: '127.0.0.1', port: ORIGIN_PORT, silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
  // s3rver serves anonymous requests; a real private bucket does not. Refuse unsigned requests (once seeded) so
  // the demo shows what s3_auth is for: straight to the origin is 403, through remapd it is signed and served.
  let privateBucket = false;
  s3.middleware.unshift(async (ctx, next) => {
    const signed = ctx.get('authorization') !== '' || 'X-Amz-Signature' in ctx.query || 'Signature' in ctx.query;
    if (privateBucket && !signed) {
      ctx.status = 403;
      ctx.type = 'application/xml';
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied (the demo bucket is private: requests must be signed)</Message></Error>\n';
      return;
    }
    await next();
  });
  await s3.run().catch((err: Error) => {
    throw new Error(`cannot start the demo S3 server on 127.0.0.1:${ORIGIN_PORT}: ${err.message}`);
  });
  for (const [key, body] of Object.entries(OBJECTS)) {
    const path = `/${BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const res = await request(`http://127.0.0.1:${ORIGIN_PORT}${path}`, { method: 'PUT', body, headers: { 'content-type': 'text/plain' } });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`seeding ${key} failed: HTTP ${res.statusCode}`);
  }
  privateBucket = true;
  logger.info('demo S3 origin ready', { address: `127.0.0.1:${ORIGIN_PORT}`, bucket: BUCKET, objects: Object.keys(OBJECTS).length });

  const configPath = new URL('../../../remap.config.example', import.meta.url).pathname;
  const { config, diagnostics } = await loadRemapConfig(configPath, { logger });
  for (const d of diagnostics) (d.severity === 'error' ? logger.error : logger.warn)(formatDiagnostic(d));
  if (!config) throw new Error('remap.config.example does not load (see above)');
  const obs = processObservability();
  const server = new RemapdServer({ config, settings: resolveSettings({ listenHost: '127.0.0.1', listenPort: PROXY_PORT }), logger, metrics: obs.metrics });
  await server.listen().catch((err: Error) => {
    throw new Error(`cannot listen on 127.0.0.1:${PROXY_PORT}: ${err.message}`);
  });
  obs.attach(server);
  // The status page and metrics, as `remapd serve --admin-listen 9090` would serve them; the demo runs without.
  const admin = await startProcessAdmin(obs, { host: '127.0.0.1', port: ADMIN_PORT }, ['127.0.0.1', '::1'], logger).catch((err: Error) => {
    logger.warn('admin endpoints not served', { address: `127.0.0.1:${ADMIN_PORT}`, error: err.message });
    return null;
  });
  logger.info('remapd demo listening: try   curl -i http://localhost:8080/hello.txt', { address: `127.0.0.1:${PROXY_PORT}` });
  logger.info(`the bucket is private: curl -i http://127.0.0.1:${ORIGIN_PORT}/${BUCKET}/hello.txt (unsigned, straight to the origin) gets 403`);

  const stop = async () => {
    admin?.close();
    obs.stop();
    await server.close(2_000);
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`remapd demo: ${(err as Error).message}\n`);
  process.exit(1);
});
