/**
 * header_rewrite.so end to end: a real remapd in front of a real origin, rules files loaded the way remap.config
 * names them, and what the origin and the client actually see in each hook.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/observability/logger.js';
import { loadRemapConfig } from '../../src/remap/load.js';
import { lastRequestHeaders, LOOPBACK, okOrigin, rawValues, request, startOrigin, startRemapd, tempDir } from '../support/harness.js';

const lastSeen = lastRequestHeaders;

test('headers set in REMAP_PSEUDO_HOOK and SEND_REQUEST_HDR_HOOK reach the origin and satisfy its policy', async (t) => {
  const ua = 'remapd-policy-agent 5f1e9c';
  const referer = 'https://cdn.example.com/';
  // A bucket policy in the style of aws:UserAgent / aws:Referer conditions: anything else is AccessDenied.
  const origin = await startOrigin((req, res) => {
    const allowed = req.headers['user-agent'] === ua && req.headers.referer === referer;
    res.statusCode = allowed ? 200 : 403;
    res.end(allowed ? 'object' : 'AccessDenied');
  });
  t.after(() => origin.close());
  const proxy = await startRemapd(
    `map http://cdn.test/ http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=secret.conf\n` +
      `map http://bare.test/ http://${LOOPBACK}:{{port}}/\n`,
    {
      vars: { port: origin.port, ua, referer },
      files: {
        'secret.conf': [
          '# default hook: REMAP_PSEUDO_HOOK',
          'set-header User-Agent "{{ua}}"',
          'cond %{SEND_REQUEST_HDR_HOOK}',
          'set-header Referer {{referer}}',
        ].join('\n'),
      },
    },
  );
  t.after(() => proxy.close());

  const client = { host: 'cdn.test', 'user-agent': 'curl/8.5.0', referer: 'https://evil.example/' };
  const res = await request(`${proxy.url}/key.txt`, { headers: client });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'object');
  const seen = lastSeen(origin);
  assert.deepEqual(rawValues(seen, 'user-agent'), [ua]);
  assert.deepEqual(rawValues(seen, 'referer'), [referer]);

  const bare = await request(`${proxy.url}/key.txt`, { headers: { ...client, host: 'bare.test' } });
  assert.equal(bare.status, 403, 'without the plugin the policy refuses the client as it is');
});

test('a SEND_REQUEST_HDR_HOOK header wins over a later plugin that changed it at remap', async (t) => {
  const origin = await okOrigin(t);
  const proxy = await startRemapd(
    `map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=rules.conf @plugin=clobber.mjs\n`,
    {
      vars: { port: origin.port },
      files: {
        'rules.conf': 'set-header X-At-Remap rules\ncond %{SEND_REQUEST_HDR_HOOK}\nset-header X-At-Send rules\n',
        'clobber.mjs': `export default () => ({ remap(txn) {
          txn.originRequest.headers.set('X-At-Remap', 'clobbered');
          txn.originRequest.headers.set('X-At-Send', 'clobbered');
        } });`,
      },
    },
  );
  t.after(() => proxy.close());
  assert.equal((await request(`${proxy.url}/k`)).status, 200);
  const seen = lastSeen(origin);
  assert.deepEqual(rawValues(seen, 'x-at-remap'), ['clobbered'], 'remap hooks run in plugin order');
  assert.deepEqual(rawValues(seen, 'x-at-send'), ['rules'], 'sendRequest runs after every remap hook');
});

test('rm-header removes every field of a client header, whatever its case, before the origin sees it', async (t) => {
  const origin = await okOrigin(t);
  const proxy = await startRemapd(`map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=strip.conf\n`, {
    vars: { port: origin.port },
    files: { 'strip.conf': 'rm-header Authorization\nrm-header X-Debug\nrm-header cookie\n' },
  });
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/k`, {
    headers: ['Host', 'strip.test', 'authorization', 'Bearer t0ken', 'X-Debug', '1', 'x-debug', '2', 'Cookie', 'session=abc', 'X-Keep', 'yes'],
  });
  assert.equal(res.status, 200);
  const seen = lastSeen(origin);
  assert.deepEqual(rawValues(seen, 'authorization'), []);
  assert.deepEqual(rawValues(seen, 'x-debug'), []);
  assert.deepEqual(rawValues(seen, 'cookie'), []);
  assert.deepEqual(rawValues(seen, 'x-keep'), ['yes']);
});

test('add-header keeps the client values and appends; set-header replaces every field with one', async (t) => {
  const origin = await okOrigin(t);
  const proxy = await startRemapd(`map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=rules.conf\n`, {
    vars: { port: origin.port },
    files: { 'rules.conf': 'add-header X-Tag proxy\nadd-header X-New "a b"\nset-header X-Only one\n' },
  });
  t.after(() => proxy.close());
  await request(`${proxy.url}/k`, { headers: ['Host', 'add.test', 'X-Tag', 'client', 'X-Only', 'a', 'X-Only', 'b'] });
  const seen = lastSeen(origin);
  assert.deepEqual(rawValues(seen, 'x-tag'), ['client', 'proxy']);
  assert.deepEqual(rawValues(seen, 'x-new'), ['a b']);
  assert.deepEqual(rawValues(seen, 'x-only'), ['one']);
});

test('READ_RESPONSE_HDR_HOOK and SEND_RESPONSE_HDR_HOOK change what the client receives, each at its point', async (t) => {
  const origin = await startOrigin((_req, res) => {
    res.setHeader('Server', 'AmazonS3');
    res.setHeader('x-amz-request-id', 'REQ1');
    res.setHeader('x-amz-id-2', 'ID2');
    res.setHeader('Cache-Control', 'max-age=60');
    res.end('body');
  });
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=response.conf\n`, {
    vars: { port: origin.port },
    files: {
      'response.conf': [
        'cond %{READ_RESPONSE_HDR_HOOK}',
        'rm-header x-amz-request-id',
        'rm-header x-amz-id-2',
        // Via is added between the two hooks: only SEND_RESPONSE_HDR_HOOK sees it.
        'cond %{READ_RESPONSE_HDR_HOOK}',
        'cond %{HEADER:Via} /remapd/',
        'set-header X-Read-Saw-Via yes',
        'cond %{SEND_RESPONSE_HDR_HOOK}',
        'set-header Server remapd',
        'add-header Cache-Control public',
        'cond %{SEND_RESPONSE_HDR_HOOK}',
        'cond %{HEADER:Via} /remapd/',
        'set-header X-Send-Saw-Via yes',
      ].join('\n'),
    },
  });
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/k`);
  assert.equal(res.status, 200);
  assert.equal(res.text, 'body');
  assert.deepEqual(rawValues(res.rawHeaders, 'x-amz-request-id'), []);
  assert.deepEqual(rawValues(res.rawHeaders, 'x-amz-id-2'), []);
  assert.deepEqual(rawValues(res.rawHeaders, 'server'), ['remapd']);
  assert.deepEqual(rawValues(res.rawHeaders, 'cache-control'), ['max-age=60', 'public']);
  assert.deepEqual(rawValues(res.rawHeaders, 'x-read-saw-via'), []);
  assert.deepEqual(rawValues(res.rawHeaders, 'x-send-saw-via'), ['yes']);
  assert.deepEqual(rawValues(lastSeen(origin), 'server'), [], 'response rules do not touch the request');
});

test('%{METHOD} conditions with [OR] and [NOT]', async (t) => {
  const origin = await okOrigin(t);
  const proxy = await startRemapd(`map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=method.conf\n`, {
    vars: { port: origin.port },
    files: {
      'method.conf': [
        'cond %{METHOD} =GET [OR]',
        'cond %{METHOD} =HEAD',
        'set-header X-Read-Only yes',
        'cond %{METHOD} =DELETE [NOT]',
        'set-header X-Not-Delete yes',
      ].join('\n'),
    },
  });
  t.after(() => proxy.close());
  const cases: [string, string[], string[]][] = [
    ['GET', ['yes'], ['yes']],
    ['HEAD', ['yes'], ['yes']],
    ['PUT', [], ['yes']],
    ['DELETE', [], []],
  ];
  for (const [method, readOnly, notDelete] of cases) {
    const res = await request(`${proxy.url}/k`, { method, ...(method === 'PUT' ? { body: 'data' } : {}) });
    assert.equal(res.status, 200, method);
    const seen = lastSeen(origin);
    assert.equal(origin.requests.at(-1)!.method, method);
    assert.deepEqual(rawValues(seen, 'x-read-only'), readOnly, method);
    assert.deepEqual(rawValues(seen, 'x-not-delete'), notDelete, method);
  }
});

test('%{CLIENT-HEADER} conditions with [NOT] and [NOCASE]', async (t) => {
  const origin = await okOrigin(t);
  const proxy = await startRemapd(`map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=client.conf\n`, {
    vars: { port: origin.port },
    files: {
      'client.conf': [
        'cond %{CLIENT-HEADER:X-Internal} =yes [NOT]',
        'rm-header X-Debug',
        'cond %{CLIENT-HEADER:User-Agent} /bot/ [NOCASE]',
        'set-header X-Bot yes',
      ].join('\n'),
    },
  });
  t.after(() => proxy.close());

  await request(`${proxy.url}/k`, { headers: { 'x-debug': '1', 'user-agent': 'Mozilla/5.0' } });
  assert.deepEqual(rawValues(lastSeen(origin), 'x-debug'), [], 'outside clients lose X-Debug');
  assert.deepEqual(rawValues(lastSeen(origin), 'x-bot'), []);

  await request(`${proxy.url}/k`, { headers: { 'x-internal': 'yes', 'x-debug': '1', 'user-agent': 'GoogleBOT/2.1' } });
  assert.deepEqual(rawValues(lastSeen(origin), 'x-debug'), ['1'], 'internal clients keep it');
  assert.deepEqual(rawValues(lastSeen(origin), 'x-bot'), ['yes']);
});

test('%{STATUS} conditions in both response hooks, with [OR]', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.statusCode = Number(req.url!.slice(1));
    res.setHeader('Cache-Control', 'max-age=60');
    res.end();
  });
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=status.conf\n`, {
    vars: { port: origin.port },
    files: {
      'status.conf': [
        'cond %{READ_RESPONSE_HDR_HOOK}',
        'cond %{STATUS} >399',
        'set-header Cache-Control no-store',
        'cond %{SEND_RESPONSE_HDR_HOOK}',
        'cond %{STATUS} =404 [OR]',
        'cond %{STATUS} =410',
        'set-header X-Gone yes',
      ].join('\n'),
    },
  });
  t.after(() => proxy.close());
  const cases: [number, string, string[]][] = [
    [200, 'max-age=60', []],
    [399, 'max-age=60', []],
    [404, 'no-store', ['yes']],
    [410, 'no-store', ['yes']],
    [500, 'no-store', []],
  ];
  for (const [status, cacheControl, gone] of cases) {
    const res = await request(`${proxy.url}/${status}`);
    assert.equal(res.status, status);
    assert.deepEqual(rawValues(res.rawHeaders, 'cache-control'), [cacheControl], String(status));
    assert.deepEqual(rawValues(res.rawHeaders, 'x-gone'), gone, String(status));
  }
});

test('conditions group from the right as in ATS: A [OR], B, C means A || (B && C)', async (t) => {
  const origin = await okOrigin(t);
  const proxy = await startRemapd(`map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=group.conf\n`, {
    vars: { port: origin.port },
    files: {
      'group.conf': [
        'cond %{CLIENT-HEADER:X-A} =1 [OR]',
        'cond %{CLIENT-HEADER:X-B} =1',
        'cond %{CLIENT-HEADER:X-C} =1',
        'set-header X-Hit yes',
      ].join('\n'),
    },
  });
  t.after(() => proxy.close());
  const cases: [Record<string, string>, boolean][] = [
    [{ 'x-a': '1' }, true],
    [{ 'x-b': '1', 'x-c': '1' }, true],
    [{ 'x-a': '1', 'x-b': '1', 'x-c': '1' }, true],
    [{ 'x-b': '1' }, false],
    [{ 'x-c': '1' }, false],
    [{}, false],
  ];
  for (const [headers, hit] of cases) {
    await request(`${proxy.url}/k`, { headers });
    assert.deepEqual(rawValues(lastSeen(origin), 'x-hit'), hit ? ['yes'] : [], JSON.stringify(headers));
  }
});

test('[L] stops the later sections of its hook only, after the rest of its own section', async (t) => {
  const origin = await okOrigin(t);
  const proxy = await startRemapd(`map / http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=last.conf\n`, {
    vars: { port: origin.port },
    files: {
      'last.conf': [
        'cond %{CLIENT-HEADER:X-Tier} =gold',
        'set-header X-Route gold [L]',
        'add-header X-Gold-Extra yes',
        'cond %{TRUE}',
        'set-header X-Route default',
        'cond %{SEND_REQUEST_HDR_HOOK}',
        'set-header X-Send-Hook ran',
      ].join('\n'),
    },
  });
  t.after(() => proxy.close());

  await request(`${proxy.url}/k`, { headers: { 'x-tier': 'gold' } });
  let seen = lastSeen(origin);
  assert.deepEqual(rawValues(seen, 'x-route'), ['gold']);
  assert.deepEqual(rawValues(seen, 'x-gold-extra'), ['yes']);
  assert.deepEqual(rawValues(seen, 'x-send-hook'), ['ran']);

  await request(`${proxy.url}/k`, { headers: { 'x-tier': 'silver' } });
  seen = lastSeen(origin);
  assert.deepEqual(rawValues(seen, 'x-route'), ['default'], 'a section whose conditions fail does not stop anything');
  assert.deepEqual(rawValues(seen, 'x-gold-extra'), []);
  assert.deepEqual(rawValues(seen, 'x-send-hook'), ['ran']);
});

test('two header_rewrite instances on one rule run in order; the second sees the first one\'s result', async (t) => {
  const origin = await okOrigin(t);
  const first = 'set-header X-Stage first\ncond %{SEND_RESPONSE_HDR_HOOK}\nadd-header X-Order first\n';
  const second = [
    'cond %{HEADER:X-Stage} =first',
    'set-header X-Stage second-after-first',
    // The client's own headers are not what the first instance changed.
    'cond %{CLIENT-HEADER:X-Stage} =first',
    'add-header X-Client-Had-Stage yes',
    'cond %{SEND_RESPONSE_HDR_HOOK}',
    'add-header X-Order second',
  ].join('\n');
  const hrw = (file: string) => `@plugin=header_rewrite.so @pparam=${file}`;
  const proxy = await startRemapd(
    `map http://ab.test/ http://${LOOPBACK}:{{port}}/ ${hrw('first.conf')} ${hrw('second.conf')}\n` +
      `map http://ba.test/ http://${LOOPBACK}:{{port}}/ ${hrw('second.conf')} ${hrw('first.conf')}\n` +
      `map http://files.test/ http://${LOOPBACK}:{{port}}/ ${hrw('first.conf')} @pparam=second.conf\n`,
    { vars: { port: origin.port }, files: { 'first.conf': first, 'second.conf': second } },
  );
  t.after(() => proxy.close());

  for (const host of ['ab.test', 'files.test']) {
    const res = await request(`${proxy.url}/k`, { headers: { host } });
    assert.deepEqual(rawValues(lastSeen(origin), 'x-stage'), ['second-after-first'], host);
    assert.deepEqual(rawValues(lastSeen(origin), 'x-client-had-stage'), [], host);
    assert.deepEqual(rawValues(res.rawHeaders, 'x-order'), ['first', 'second'], host);
  }

  const res = await request(`${proxy.url}/k`, { headers: { host: 'ba.test' } });
  assert.deepEqual(rawValues(lastSeen(origin), 'x-stage'), ['first'], 'the second file ran first and found nothing');
  assert.deepEqual(rawValues(res.rawHeaders, 'x-order'), ['second', 'first']);
});

test('a relative rules file is found beside remap.config, not in the working directory; absolute paths work too', async (t) => {
  const origin = await okOrigin(t);
  const outside = tempDir();
  t.after(() => outside.remove());
  const absolute = join(outside.dir, 'abs.conf');
  writeFileSync(absolute, 'set-header X-From absolute\n');
  const proxy = await startRemapd(
    `map http://rel.test/ http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam=rules/rel.conf\n` +
      `map http://abs.test/ http://${LOOPBACK}:{{port}}/ @plugin=header_rewrite.so @pparam={{absolute}}\n`,
    { vars: { port: origin.port, absolute }, files: { 'rules/rel.conf': 'set-header X-From relative\n' } },
  );
  t.after(() => proxy.close());
  assert.notEqual(process.cwd(), proxy.dir);
  await request(`${proxy.url}/k`, { headers: { host: 'rel.test' } });
  assert.deepEqual(rawValues(lastSeen(origin), 'x-from'), ['relative']);
  await request(`${proxy.url}/k`, { headers: { host: 'abs.test' } });
  assert.deepEqual(rawValues(lastSeen(origin), 'x-from'), ['absolute']);
});

/** Writes files into a fresh folder and loads its remap.config as the server would. */
async function load(t: { after(fn: () => void): void }, files: Record<string, string>) {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  for (const [name, text] of Object.entries(files)) writeFileSync(join(tmp.dir, name), text);
  const result = await loadRemapConfig(join(tmp.dir, 'remap.config'), { logger: createLogger({ level: 'error', write: () => {} }) });
  return { dir: tmp.dir, ...result };
}

test('a rules file is recorded as a dependency of the configuration, for reloads', async (t) => {
  const { dir, config } = await load(t, {
    'remap.config': `map / http://${LOOPBACK}:9/ @plugin=header_rewrite.so @pparam=rules.conf\n`,
    'rules.conf': 'set-header X-A 1\n',
  });
  assert.ok(config);
  assert.ok(config.files.includes(join(dir, 'rules.conf')));
});

test('a missing rules file fails the load with the rule\'s file:line', async (t) => {
  const { dir, config, diagnostics } = await load(t, {
    'remap.config': [
      '# rules',
      `map http://ok.test/ http://${LOOPBACK}:9/`,
      '',
      `map http://missing.test/ http://${LOOPBACK}:9/ @plugin=header_rewrite.so @pparam=nope.conf`,
    ].join('\n'),
  });
  assert.equal(config, null);
  assert.equal(diagnostics.length, 1);
  const d = diagnostics[0]!;
  assert.equal(d.severity, 'error');
  assert.equal(d.file, join(dir, 'remap.config'));
  assert.equal(d.line, 4);
  assert.match(d.message, /^header_rewrite\.so: cannot read rules file /);
  assert.ok(d.message.includes(join(dir, 'nope.conf')), d.message);
  assert.match(d.message, /ENOENT/);
});

test('every error of a rules file is reported at the rule, each with the rules file\'s line; every broken rule is reported', async (t) => {
  const { dir, config, diagnostics } = await load(t, {
    'remap.config': [
      `map http://a.test/ http://${LOOPBACK}:9/ @plugin=header_rewrite.so @pparam=bad.conf`,
      `map http://b.test/ http://${LOOPBACK}:9/ @plugin=header_rewrite.so`,
      `map http://c.test/ http://${LOOPBACK}:9/ @plugin=header_rewrite.so @pparam=--geo-db-path=GeoLite2.mmdb @pparam=good.conf`,
    ].join('\n'),
    'bad.conf': '# two mistakes\nset-status 403\nset-header X-A 1\nset-header X-B %{NOW}\n',
    'good.conf': 'set-header X-A 1\n',
  });
  assert.equal(config, null);
  const bad = join(dir, 'bad.conf');
  assert.deepEqual(
    diagnostics.map((d) => [d.severity, d.line, d.message]),
    [
      [
        'error',
        1,
        `header_rewrite.so: ${bad}:2: "set-status" is not supported by remapd's header_rewrite (cond, set-header, add-header, rm-header); ` +
          `${bad}:4: variables in values (%{NOW}) are not supported by remapd's header_rewrite`,
      ],
      ['error', 2, 'header_rewrite.so: header_rewrite.so needs a rules file (@pparam=rules.conf)'],
      ['error', 3, "header_rewrite.so: option --geo-db-path=GeoLite2.mmdb is not supported by remapd's header_rewrite"],
    ],
  );
});
