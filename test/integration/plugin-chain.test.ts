/**
 * The plugin host: ATS's argv, chaining order of every hook, answering from a hook, and what a failing hook does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOOPBACK, rawValues, request, startOrigin, startRemapd } from '../support/harness.js';

/** A user plugin that records each hook call in a shared list exported on globalThis. */
const RECORDER = `
const log = (globalThis.__remapdHookLog ??= []);
export default function create(argv) {
  const name = argv[2];
  log.push('new ' + JSON.stringify(argv));
  return {
    remap(txn) {
      log.push(name + ' remap');
      txn.originRequest.headers.add('x-chain', name);
      if (argv.includes('--answer') && txn.client.target.startsWith('/answer')) txn.respond(418, 'short and stout', { 'x-by': name });
    },
    sendRequest(txn, req) { log.push(name + ' sendRequest'); req.headers.add('x-sent', name); },
    readResponse(txn, res) { log.push(name + ' readResponse ' + res.status); res.headers.add('x-read', name); },
    sendResponse(txn, res) { log.push(name + ' sendResponse'); res.headers.add('x-send', name); },
  };
}
`;

declare global {
  // eslint-disable-next-line no-var
  var __remapdHookLog: string[] | undefined;
}

test('plugins receive ATS argv and their hooks run in the rule order, hook by hook', async (t) => {
  globalThis.__remapdHookLog = [];
  const origin = await startOrigin((_req, res) => res.end('ok'));
  t.after(() => origin.close());
  const proxy = await startRemapd(
    `map http://chain.test/a/ http://${LOOPBACK}:${origin.port}/b/ @plugin=rec.mjs @pparam=first @pparam=--k=v ` +
      '@plugin=rec.mjs @pparam=second @pparam=--k @pparam=v @pparam=--answer\n',
    { files: { 'rec.mjs': RECORDER } },
  );
  t.after(() => proxy.close());

  const log = globalThis.__remapdHookLog!;
  assert.deepEqual(log.splice(0), [
    `new ${JSON.stringify(['http://chain.test/a/', `http://${LOOPBACK}:${origin.port}/b/`, 'first', '--k=v'])}`,
    `new ${JSON.stringify(['http://chain.test/a/', `http://${LOOPBACK}:${origin.port}/b/`, 'second', '--k', 'v', '--answer'])}`,
  ]);

  const res = await request(`${proxy.url}/a/x`, { headers: { host: 'chain.test' } });
  assert.equal(res.status, 200);
  assert.deepEqual(log.splice(0), [
    'first remap',
    'second remap',
    'first sendRequest',
    'second sendRequest',
    'first readResponse 200',
    'second readResponse 200',
    'first sendResponse',
    'second sendResponse',
  ]);
  const seen = origin.requests.at(-1)!.rawHeaders;
  assert.deepEqual(rawValues(seen, 'x-chain'), ['first', 'second']);
  assert.deepEqual(rawValues(seen, 'x-sent'), ['first', 'second']);
  assert.deepEqual(rawValues(res.rawHeaders, 'x-read'), ['first', 'second']);
  assert.deepEqual(rawValues(res.rawHeaders, 'x-send'), ['first', 'second']);
});

test('a remap hook that answers ends the chain and the origin is never contacted', async (t) => {
  globalThis.__remapdHookLog = [];
  const origin = await startOrigin((_req, res) => res.end('origin'));
  t.after(() => origin.close());
  const proxy = await startRemapd(
    `map / http://${LOOPBACK}:${origin.port}/ @plugin=rec.mjs @pparam=first @pparam=--answer @plugin=rec.mjs @pparam=second\n`,
    { files: { 'rec.mjs': RECORDER } },
  );
  t.after(() => proxy.close());
  globalThis.__remapdHookLog.length = 0;
  const res = await request(`${proxy.url}/answer`);
  assert.equal(res.status, 418);
  assert.equal(res.text, 'short and stout');
  assert.equal(res.headers['x-by'], 'first');
  assert.equal(origin.requests.length, 0);
  assert.deepEqual(globalThis.__remapdHookLog, ['first remap', 'first sendResponse', 'second sendResponse']);
});

test('a hook that throws gives a 500 whose body hides the details, which go to the error log', async (t) => {
  const origin = await startOrigin((_req, res) => res.end('origin'));
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/ @plugin=boom.mjs\n`, {
    files: { 'boom.mjs': `export default () => ({ sendRequest() { throw new Error('key file /secret/path unreadable'); } });` },
  });
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 500);
  assert.equal(res.headers['x-remapd-error'], 'ERR_PLUGIN');
  assert.ok(!res.text.includes('/secret/path'));
  assert.ok(proxy.logs.some((l) => l.includes('key file /secret/path unreadable') && l.includes('remap.config:1')));
  assert.equal(origin.requests.length, 0);
});

test('a hook may fail a request with its own status by throwing a RemapdError', async (t) => {
  const proxy = await startRemapd(`map / http://${LOOPBACK}:9/ @plugin=big.mjs\n`, {
    files: {
      'big.mjs': `import { RemapdError } from ${JSON.stringify(new URL('../../src/errors.js', import.meta.url).href)};
export default () => ({ remap() { throw new RemapdError('ERR_PAYLOAD_TOO_LARGE', 'body over the signing limit'); } });`,
    },
  });
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/x`);
  assert.equal(res.status, 413);
  assert.match(res.text, /body over the signing limit/);
});

test('a remap hook may rewrite the origin request path and host header', async (t) => {
  const origin = await startOrigin((req, res) => res.end(req.url));
  t.after(() => origin.close());
  const proxy = await startRemapd(`map / http://${LOOPBACK}:${origin.port}/ @plugin=rw.mjs\n`, {
    files: { 'rw.mjs': `export default () => ({ remap(txn) { txn.originRequest.path = '/rewritten' + txn.originRequest.path; } });` },
  });
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/k?q`);
  assert.equal(res.text, '/rewritten/k?q');
});
