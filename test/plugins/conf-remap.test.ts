/**
 * conf_remap.so: per-rule proxy.config.url_remap.pristine_host_hdr, inline and from a file, and every way a
 * parameter is refused. Integration through a real remapd; the Host arithmetic also against the factory alone.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/observability/logger.js';
import type { ClientRequestInfo, OriginRequest, PluginContext, RuleInfo, Scheme } from '../../src/plugins/api.js';
import { confRemapPlugin } from '../../src/plugins/conf-remap/conf-remap.js';
import { HeaderList } from '../../src/proxy/header-list.js';
import { Txn } from '../../src/proxy/transaction.js';
import { loadRemapConfig } from '../../src/remap/load.js';
import { lastRequestHeaders, LOOPBACK, okOrigin, rawValues, request, startRemapd, tempDir, type Origin } from '../support/harness.js';

const PRISTINE = 'proxy.config.url_remap.pristine_host_hdr';

function hostSeen(origin: Origin): string[] {
  return rawValues(lastRequestHeaders(origin), 'host');
}

describe('conf_remap.so through remapd', () => {
  test('pristine_host_hdr=1 on one rule sends the client Host byte for byte; a rule without it sends the to-URL host:port', async (t) => {
    const origin = await okOrigin(t);
    const proxy = await startRemapd(
      `map http://keep.test/ http://${LOOPBACK}:{{port}}/ @plugin=conf_remap.so @pparam=${PRISTINE}=1\n` +
        `map http://plain.test/ http://${LOOPBACK}:{{port}}/\n`,
      { vars: { port: origin.port } },
    );
    t.after(() => proxy.close());

    const kept = await request(`${proxy.url}/k`, { headers: { host: 'Keep.TEST' } });
    assert.equal(kept.status, 200);
    assert.deepEqual(hostSeen(origin), ['Keep.TEST']);

    const plain = await request(`${proxy.url}/k`, { headers: { host: 'plain.test' } });
    assert.equal(plain.status, 200);
    assert.deepEqual(hostSeen(origin), [`${LOOPBACK}:${origin.port}`]);
  });

  test('pristine_host_hdr=0 on one rule overrides a process-wide pristine_host_hdr', async (t) => {
    const origin = await okOrigin(t);
    const proxy = await startRemapd(
      `map http://rewrite.test/ http://${LOOPBACK}:{{port}}/ @plugin=conf_remap.so @pparam=${PRISTINE}=0\n` +
        `map http://keep.test/ http://${LOOPBACK}:{{port}}/\n`,
      { vars: { port: origin.port }, settings: { pristineHostHdr: true } },
    );
    t.after(() => proxy.close());

    await request(`${proxy.url}/k`, { headers: { host: 'rewrite.test' } });
    assert.deepEqual(hostSeen(origin), [`${LOOPBACK}:${origin.port}`]);
    await request(`${proxy.url}/k`, { headers: { host: 'keep.test' } });
    assert.deepEqual(hostSeen(origin), ['keep.test']);
  });

  test('the file form: CONFIG lines from a file beside remap.config, comments and blank lines skipped', async (t) => {
    const origin = await okOrigin(t);
    const proxy = await startRemapd(
      `map http://keep.test/ http://${LOOPBACK}:{{port}}/ @plugin=conf_remap.so @pparam=conf/keep-host.config\n`,
      {
        vars: { port: origin.port },
        files: { 'conf/keep-host.config': `# keep the client's Host for virtual-hosted buckets\n\n  CONFIG ${PRISTINE} INT 1  \n` },
      },
    );
    t.after(() => proxy.close());
    await request(`${proxy.url}/k`, { headers: { host: 'keep.test' } });
    assert.deepEqual(hostSeen(origin), ['keep.test']);
  });
});

/** Writes files into a fresh folder and loads its remap.config as the server would. */
async function load(t: { after(fn: () => void): void }, files: Record<string, string>) {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  for (const [name, text] of Object.entries(files)) writeFileSync(join(tmp.dir, name), text);
  const result = await loadRemapConfig(join(tmp.dir, 'remap.config'), { logger: createLogger({ level: 'error', write: () => {} }) });
  return { dir: tmp.dir, ...result };
}

/** Loads a one-rule remap.config (rule on line 2) that must fail; returns its only diagnostic. */
async function refused(t: { after(fn: () => void): void }, params: string, files: Record<string, string> = {}) {
  const { dir, config, diagnostics } = await load(t, {
    ...files,
    'remap.config': `# per-rule settings\nmap http://a.test/ http://${LOOPBACK}:9/ @plugin=conf_remap.so ${params}\n`,
  });
  assert.equal(config, null);
  assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics));
  const d = diagnostics[0]!;
  assert.equal(d.severity, 'error');
  assert.equal(d.file, join(dir, 'remap.config'));
  assert.equal(d.line, 2);
  return { dir, message: d.message };
}

describe('conf_remap.so configuration errors, at the rule\'s file:line', () => {
  test('an unknown setting, inline, is named', async (t) => {
    const { message } = await refused(t, '@pparam=proxy.config.http.cache.http=0');
    assert.equal(
      message,
      `conf_remap.so: proxy.config.http.cache.http is not a setting remapd can override (supported: ${PRISTINE})`,
    );
  });

  test('an unknown setting in a file is named with the file\'s line', async (t) => {
    const { dir, message } = await refused(t, '@pparam=over.config', {
      'over.config': `CONFIG ${PRISTINE} INT 1\n# next one is not supported\nCONFIG proxy.config.http.insert_age_in_response INT 0\n`,
    });
    assert.equal(
      message,
      `conf_remap.so: ${join(dir, 'over.config')}:3: proxy.config.http.insert_age_in_response is not a setting remapd can override (supported: ${PRISTINE})`,
    );
  });

  test('a value other than 0 or 1 is refused, inline and in a file', async (t) => {
    for (const bad of ['2', 'yes', 'true', '']) {
      const { message } = await refused(t, `@pparam=${PRISTINE}=${bad}`);
      assert.equal(message, `conf_remap.so: ${PRISTINE} must be 0 or 1, not "${bad}"`);
    }
    const { dir, message } = await refused(t, '@pparam=bad.config', { 'bad.config': `CONFIG ${PRISTINE} INT true\n` });
    assert.equal(message, `conf_remap.so: ${join(dir, 'bad.config')}:1: ${PRISTINE} must be 0 or 1, not "true"`);
  });

  test('a file line whose TYPE is not the setting\'s type is refused', async (t) => {
    const { dir, message } = await refused(t, '@pparam=typed.config', { 'typed.config': `\nCONFIG ${PRISTINE} STRING 1\n` });
    assert.equal(message, `conf_remap.so: ${join(dir, 'typed.config')}:2: ${PRISTINE} is of type INT, not STRING`);
  });

  test('a file line that is not CONFIG name TYPE value is refused', async (t) => {
    const { dir, message } = await refused(t, '@pparam=lines.config', { 'lines.config': `LOCAL ${PRISTINE} INT 1\n` });
    assert.equal(message, `conf_remap.so: ${join(dir, 'lines.config')}:1: expected "CONFIG name TYPE value", got "LOCAL ${PRISTINE} INT 1"`);
  });

  test('a missing file is refused with its resolved path', async (t) => {
    const { dir, message } = await refused(t, '@pparam=missing.config');
    assert.ok(message.startsWith(`conf_remap.so: cannot read ${join(dir, 'missing.config')}: `), message);
    assert.match(message, /ENOENT/);
  });

  test('no parameter at all is refused', async (t) => {
    const { message } = await refused(t, '');
    assert.equal(message, 'conf_remap.so: conf_remap.so needs at least one name=value or a config file');
  });

  test('a settings file is recorded as a dependency of the configuration, for reloads', async (t) => {
    const { dir, config } = await load(t, {
      'remap.config': `map / http://${LOOPBACK}:9/ @plugin=conf_remap.so @pparam=keep.config\n`,
      'keep.config': `CONFIG ${PRISTINE} INT 1\n`,
    });
    assert.ok(config);
    assert.ok(config.files.includes(join(dir, 'keep.config')));
  });
});

describe('conf_remap.so Host arithmetic (factory alone)', () => {
  const context: PluginContext = {
    file: '/etc/remapd/remap.config',
    line: 1,
    configDir: '/etc/remapd',
    warn: () => {},
    dependsOn: () => {},
    logger: createLogger({ level: 'error', write: () => {} }),
  };
  const rule: RuleInfo = {
    type: 'map',
    file: context.file,
    line: 1,
    id: 'remap.config:1',
    fromUrl: 'http://cdn.test/',
    toUrl: 'http://origin.test/',
  };

  /** Runs the plugin's remap hook on a request to `scheme://host:port` whose client sent `clientHost`. */
  async function originHost(param: string, to: { scheme: Scheme; host: string; port: number }, clientHost?: string): Promise<string[]> {
    const plugin = await confRemapPlugin([rule.fromUrl, rule.toUrl, param], context);
    const client: ClientRequestInfo = {
      method: 'GET',
      target: '/k',
      httpVersion: '1.1',
      headers: new HeaderList(clientHost === undefined ? [] : ['Host', clientHost]),
      scheme: 'http',
      host: 'cdn.test',
      port: 80,
      remoteAddress: LOOPBACK,
      remotePort: 50000,
      localAddress: LOOPBACK,
      localPort: 8080,
    };
    const originRequest: OriginRequest = {
      ...to,
      method: 'GET',
      path: '/k',
      search: '',
      headers: new HeaderList(['host', 'set-by-the-proxy']),
      body: null,
      bodyLength: null,
    };
    const txn = new Txn(1, rule, client, originRequest);
    await plugin.remap!(txn);
    return originRequest.headers.getAll('host');
  }

  test('=0 sends host alone on the scheme\'s default port and host:port otherwise', async () => {
    const off = `${PRISTINE}=0`;
    assert.deepEqual(await originHost(off, { scheme: 'http', host: 'origin.test', port: 80 }, 'cdn.test'), ['origin.test']);
    assert.deepEqual(await originHost(off, { scheme: 'https', host: 'origin.test', port: 443 }, 'cdn.test'), ['origin.test']);
    assert.deepEqual(await originHost(off, { scheme: 'http', host: 'origin.test', port: 443 }, 'cdn.test'), ['origin.test:443']);
    assert.deepEqual(await originHost(off, { scheme: 'https', host: 'origin.test', port: 8443 }, 'cdn.test'), ['origin.test:8443']);
  });

  test('=0 brackets an IPv6 origin address', async () => {
    const off = `${PRISTINE}=0`;
    assert.deepEqual(await originHost(off, { scheme: 'http', host: '::1', port: 80 }), ['[::1]']);
    assert.deepEqual(await originHost(off, { scheme: 'http', host: '::1', port: 9000 }), ['[::1]:9000']);
  });

  test('=1 copies the client Host, and leaves the proxy\'s Host when the client sent none', async () => {
    const on = `${PRISTINE}=1`;
    assert.deepEqual(await originHost(on, { scheme: 'http', host: 'origin.test', port: 9000 }, 'CDN.test:8080'), ['CDN.test:8080']);
    assert.deepEqual(await originHost(on, { scheme: 'http', host: 'origin.test', port: 9000 }), ['set-by-the-proxy']);
  });
});
