/**
 * s3_client_auth.so at configuration load: the README's gateway rule and the bundled example clients file load;
 * bad options and a bad clients file are configuration errors naming the file and line.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { formatDiagnostic } from '../../src/errors.js';
import { loadRemapConfig } from '../../src/remap/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { tempDir } from '../support/harness.js';

/** The repository's config/ folder (tests run from dist/test/gateway). */
const REPO_CONFIG = resolve(import.meta.dirname, '../../../config');

async function load(remap: string, files: Record<string, string> = {}): Promise<{ ok: boolean; messages: string[] }> {
  const t = tempDir();
  try {
    mkdirSync(join(t.dir, 'config'));
    copyFileSync(join(REPO_CONFIG, 'gateway_clients.config'), join(t.dir, 'config/gateway_clients.config'));
    copyFileSync(join(REPO_CONFIG, 's3_auth_v4.config'), join(t.dir, 'config/s3_auth_v4.config'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(t.dir, name), text);
    writeFileSync(join(t.dir, 'remap.config'), remap);
    const { config, diagnostics } = await loadRemapConfig(join(t.dir, 'remap.config'), { logger: silentLogger });
    return { ok: config !== null, messages: diagnostics.map(formatDiagnostic).map((m) => m.replaceAll(t.dir, '<dir>')) };
  } finally {
    t.remove();
  }
}

const README_RULE = `map http://s3.mydomain.com/ https://s3.eu-west-1.amazonaws.com/ \\
    @plugin=s3_client_auth.so @pparam=--clients=config/gateway_clients.config \\
    @plugin=s3_auth.so @pparam=--version=4 @pparam=--config @pparam=config/s3_auth_v4.config
`;

describe('s3_client_auth.so at load', () => {
  test("the README's gateway rule with the bundled example clients file loads", async () => {
    const r = await load(README_RULE);
    assert.equal(r.ok, true, r.messages.join('\n'));
  });

  test("the README's virtual-host regex_map rule loads", async () => {
    const r = await load(
      'regex_map http://([a-z0-9.-]+)\\.s3\\.mydomain\\.com/ https://s3.eu-west-1.amazonaws.com/$1/ \\\n' +
        '    @plugin=s3_client_auth.so @pparam=--clients=config/gateway_clients.config @pparam=--virtual-host-domain=s3.mydomain.com \\\n' +
        '    @plugin=s3_auth.so @pparam=--version=4 @pparam=--config @pparam=config/s3_auth_v4.config\n',
    );
    assert.equal(r.ok, true, r.messages.join('\n'));
  });

  test('unknown options, bad values and a missing --clients are errors at the rule line', async () => {
    const r = await load('\n\nmap http://a/ http://b/ @plugin=s3_client_auth.so @pparam=--colour=blue @pparam=--unsigned-payload=maybe\n');
    assert.equal(r.ok, false);
    const m = r.messages.join('\n');
    assert.match(m, /remap\.config:3: error: .*unknown option --colour/);
    assert.match(m, /--unsigned-payload must be "allow" or "deny"/);
    assert.match(m, /no --clients file given/);
  });

  test('a bad clients file names its own file and line', async () => {
    const r = await load('map http://a/ http://b/ @plugin=s3_client_auth.so @pparam=--clients=clients.config\n', {
      'clients.config': '[AKIDGOOD]\nsecret_key = s\nallow = *\n\n[AKIDNOALLOW]\nsecret_key = s\n',
    });
    assert.equal(r.ok, false);
    assert.match(r.messages.join('\n'), /<dir>\/clients\.config:5: AKIDNOALLOW has no allow list/);
  });

  test('a missing clients file is an error, not a gateway that lets no one in', async () => {
    const r = await load('map http://a/ http://b/ @plugin=s3_client_auth.so @pparam=--clients=nowhere.config\n');
    assert.equal(r.ok, false);
    assert.match(r.messages.join('\n'), /cannot read clients file .*nowhere\.config: ENOENT/);
  });
});
