/**
 * Loading a whole configuration (load.ts): plugins are resolved and instantiated with ATS's argv, their failures
 * are pinned to the rule's file:line, and any error means no configuration at all.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Diagnostic } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { builtinNames } from '../../src/plugins/registry.js';
import { loadRemapConfig } from '../../src/remap/load.js';
import { tempDir } from '../support/harness.js';

const ERRORS_MODULE = new URL('../../src/errors.js', import.meta.url).href;

/**
 * A user plugin that records every instance it makes (exported, so the test reads the same module instance the
 * loader imported). `--fail` throws PluginArgumentError, `--crash` a plain Error, `--warn` calls context.warn.
 */
const RECORDING_PLUGIN = `
import { PluginArgumentError } from ${JSON.stringify(ERRORS_MODULE)};
export const made = [];
export default function create(argv, context) {
  if (argv.includes('--fail')) throw new PluginArgumentError('--fail was given: refusing this rule');
  if (argv.includes('--crash')) throw new Error('boom');
  if (argv.includes('--warn')) context.warn('this is only a warning');
  const instance = {
    argv: [...argv],
    file: context.file,
    line: context.line,
    configDir: context.configDir,
    closed: 0,
    remap() {},
    close() { instance.closed++; },
  };
  made.push(instance);
  return instance;
}
`;

interface Recorded {
  argv: string[];
  file: string;
  line: number;
  configDir: string;
  closed: number;
}

function setup(t: { after(fn: () => void): void }, config: string[], files: Record<string, string> = {}) {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  for (const [name, text] of Object.entries({ 'rec.mjs': RECORDING_PLUGIN, ...files })) {
    mkdirSync(join(tmp.dir, name, '..'), { recursive: true });
    writeFileSync(join(tmp.dir, name), text);
  }
  const path = join(tmp.dir, 'remap.config');
  writeFileSync(path, config.join('\n'));
  return {
    dir: tmp.dir,
    path,
    load: () => loadRemapConfig(path, { logger: silentLogger }),
    /** The instances the recording plugin of this folder made. */
    made: async () => ((await import(pathToFileURL(join(tmp.dir, 'rec.mjs')).href)) as { made: Recorded[] }).made,
  };
}

const errorsOf = (ds: readonly Diagnostic[]) => ds.filter((d) => d.severity === 'error');

test('a user plugin receives argv [fromUrl, toUrl, ...pparams] exactly', async (t) => {
  const s = setup(t, [
    '# comment',
    'map http://WWW.A.test http://origin.test:9000/bucket @plugin=rec.mjs @pparam=--k=v @pparam=--k @pparam=v @pparam=--Hdr=X=Y',
  ]);
  const { config, diagnostics } = await s.load();
  assert.deepEqual(diagnostics, []);
  assert.ok(config);
  const made = await s.made();
  assert.equal(made.length, 1);
  assert.deepEqual(made[0]!.argv, ['http://www.a.test/', 'http://origin.test:9000/bucket', '--k=v', '--k', 'v', '--Hdr=X=Y']);
  assert.equal(made[0]!.file, s.path);
  assert.equal(made[0]!.line, 2);
  assert.equal(made[0]!.configDir, s.dir);
  assert.equal(config.rules[0]!.instances[0], made[0]);
});

test('a regex rule passes its URLs to plugins as written', async (t) => {
  const s = setup(t, ['regex_map http://(.*)\\.A\\.test/ http://$1.origin.test/ @plugin=rec.mjs']);
  const { config } = await s.load();
  assert.ok(config);
  assert.deepEqual((await s.made())[0]!.argv, ['http://(.*)\\.A\\.test/', 'http://$1.origin.test/']);
});

test('each plugin of a chain gets its own parameters, and the instances keep chain order', async (t) => {
  const s = setup(t, ['map http://a.test/ http://o.test/ @plugin=rec.mjs @pparam=first @plugin=rec.mjs @pparam=second']);
  const { config } = await s.load();
  assert.ok(config);
  const rule = config.rules[0]!;
  assert.deepEqual(
    (rule.instances as unknown as Recorded[]).map((i) => i.argv.slice(2)),
    [['first'], ['second']],
  );
  assert.deepEqual(rule.hooks.remap, rule.instances);
  assert.deepEqual(rule.hooks.sendRequest, []);
  assert.deepEqual(rule.hooks.readResponse, []);
  assert.deepEqual(rule.hooks.sendResponse, []);
});

test('an unknown plugin name is an error at the rule\'s file:line naming the built-in plugins', async (t) => {
  const s = setup(t, ['map http://a.test/ http://o.test/', 'map http://b.test/ http://o.test/ @plugin=nope.so']);
  const { config, diagnostics } = await s.load();
  assert.equal(config, null);
  assert.equal(diagnostics.length, 1);
  const d = diagnostics[0]!;
  assert.equal(d.severity, 'error');
  assert.equal(d.file, s.path);
  assert.equal(d.line, 2);
  assert.ok(d.message.startsWith('nope.so: unknown plugin "nope.so"'), d.message);
  assert.ok(builtinNames().length > 0);
  assert.ok(d.message.includes(`built-in: ${builtinNames().join(', ')}`), d.message);
});

test('a plugin factory throwing PluginArgumentError gives its message at the rule\'s file:line', async (t) => {
  const s = setup(t, ['map http://a.test/ http://o.test/', '', 'map http://b.test/ http://o.test/ @plugin=rec.mjs @pparam=--fail']);
  const { config, diagnostics } = await s.load();
  assert.equal(config, null);
  assert.deepEqual(diagnostics, [{ severity: 'error', file: s.path, line: 3, message: 'rec.mjs: --fail was given: refusing this rule' }]);
});

test('any other exception from a factory is reported as a plugin that failed to load', async (t) => {
  const s = setup(t, ['map http://a.test/ http://o.test/ @plugin=rec.mjs @pparam=--crash']);
  const { config, diagnostics } = await s.load();
  assert.equal(config, null);
  assert.deepEqual(diagnostics, [{ severity: 'error', file: s.path, line: 1, message: 'rec.mjs: plugin failed to load: boom' }]);
});

test('a plugin module without a factory export is an error at the rule', async (t) => {
  const s = setup(t, ['map http://a.test/ http://o.test/ @plugin=empty.mjs'], { 'empty.mjs': 'export const nothing = 1;\n' });
  const { config, diagnostics } = await s.load();
  assert.equal(config, null);
  assert.equal(diagnostics[0]!.line, 1);
  assert.match(diagnostics[0]!.message, /must export a factory function as default or as createPlugin/);
});

test('when any rule fails, the configuration is null and the instances already made are closed', async (t) => {
  const s = setup(t, [
    'map http://a.test/ http://o.test/ @plugin=rec.mjs',
    'map http://b.test/ http://o.test/ @plugin=rec.mjs @pparam=--fail',
    'map http://c.test/ http://o.test/ @plugin=rec.mjs',
  ]);
  const { config, diagnostics } = await s.load();
  assert.equal(config, null);
  assert.deepEqual(
    errorsOf(diagnostics).map((d) => d.line),
    [2],
  );
  const made = await s.made();
  assert.equal(made.length, 2);
  assert.deepEqual(
    made.map((m) => m.closed),
    [1, 1],
  );
});

test('a parse error alone also means no configuration', async (t) => {
  const s = setup(t, ['map http://a.test/ http://o.test/', 'map http://b.test/ ftp://o.test/']);
  const { config, diagnostics } = await s.load();
  assert.equal(config, null);
  assert.deepEqual(
    errorsOf(diagnostics).map((d) => d.line),
    [2],
  );
});

test('warnings do not block loading and are kept on the configuration', async (t) => {
  const s = setup(t, [
    'map http://a.test/ http://o.test/ @mapid=1', // parser warning
    'map http://a.test/x/ http://o.test/', // shadowed by line 1
    'map http://b.test/ http://o.test/ @plugin=rec.mjs @pparam=--warn', // plugin warning
  ]);
  const { config, diagnostics } = await s.load();
  assert.ok(config, JSON.stringify(diagnostics));
  assert.deepEqual(
    diagnostics.map((d) => [d.severity, d.line]),
    [
      ['warning', 1],
      ['warning', 2],
      ['warning', 3],
    ],
  );
  assert.match(diagnostics[1]!.message, /never used/);
  assert.equal(diagnostics[2]!.message, 'rec.mjs: this is only a warning');
  assert.deepEqual(config.warnings, diagnostics);
  assert.equal(config.rules.length, 3);
  await config.close();
  assert.deepEqual(
    (await s.made()).map((m) => m.closed),
    [1],
  );
});

test('diagnostics come in file order then line order, whichever stage found them', async (t) => {
  const s = setup(
    t,
    [
      'map http://a.test/ http://o.test/ @plugin=nope.so', // 1: plugin stage
      '.include more.config', // 2
      'mapp http://b.test/ http://o.test/', // 3: parse stage
    ],
    { 'more.config': 'map http://c.test/ http://o.test/ @plugin=nope.so\nmap http://d.test/ ws://o.test/\n' },
  );
  const { config, diagnostics } = await s.load();
  assert.equal(config, null);
  const more = join(s.dir, 'more.config');
  assert.deepEqual(
    diagnostics.map((d) => [d.file, d.line]),
    [
      [s.path, 1],
      [s.path, 3],
      [more, 1],
      [more, 2],
    ],
  );
});

test('the configuration names rules by file:line relative to its folder and lists every file it depends on', async (t) => {
  const s = setup(t, ['map http://a.test/ http://o.test/ @plugin=rec.mjs', '.include conf.d/more.config'], {
    'conf.d/more.config': '\n\nredirect http://b.test/ http://o.test/\n',
  });
  const { config } = await s.load();
  assert.ok(config);
  assert.equal(config.path, s.path);
  assert.equal(config.dir, s.dir);
  assert.deepEqual(
    config.rules.map((r) => r.id),
    ['remap.config:1', 'conf.d/more.config:3'],
  );
  assert.deepEqual(config.rules[1]!.info, {
    type: 'redirect',
    file: join(s.dir, 'conf.d/more.config'),
    line: 3,
    id: 'conf.d/more.config:3',
    fromUrl: 'http://b.test/',
    toUrl: 'http://o.test/',
  });
  assert.deepEqual(config.files, [s.path, join(s.dir, 'conf.d/more.config'), join(s.dir, 'rec.mjs')]);
  assert.equal(config.table.lookup({ scheme: 'http', host: 'a.test', port: 80, recvPort: 80, path: '/' })?.rule, config.rules[0]);
  await config.close();
});
