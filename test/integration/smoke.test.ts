import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request, startOrigin, startRemapd } from '../support/harness.js';

test('forwards a GET through a map rule and rewrites the path', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from ${req.url}`);
  });
  t.after(() => origin.close());
  const proxy = await startRemapd('map / http://127.0.0.1:{{port}}/bucket/\n', { vars: { port: origin.port } });
  t.after(() => proxy.close());
  const res = await request(`${proxy.url}/a/b.txt?x=1`);
  assert.equal(res.status, 200);
  assert.equal(res.text, 'hello from /bucket/a/b.txt?x=1');
});
