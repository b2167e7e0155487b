/**
 * The proxy end to end against a real origin: what reaches the origin (URL, Host, headers, body) and what comes back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Origin, rawExchange, rawValues, type Remapd, request, startOrigin, startRemapd } from '../support/harness.js';

async function echoOrigin(): Promise<Origin> {
  return startOrigin((req, res, seen) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, bodyLength: seen.body.length }));
  });
}

describe('forwarding a request', () => {
  let origin: Origin;
  let proxy: Remapd;
  test.before(async () => {
    origin = await echoOrigin();
    const port = origin.port;
    proxy = await startRemapd(
      [
        `map http://public.test/media/ http://127.0.0.1:${port}/bucket/media-v2/`,
        `map http://public.test/ http://127.0.0.1:${port}/bucket`,
        `map http://other.test/ http://localhost:${port}/`,
        '',
      ].join('\n'),
    );
  });
  test.after(async () => {
    await proxy.close();
    await origin.close();
  });

  test('replaces the from-path prefix with the to-path and keeps the query byte for byte', async () => {
    const query = '?a=1&a=2&b=%2F+x&empty=&bare&c=%E2%98%83';
    const res = await request(`${proxy.url}/media/2024/a%20b.jpg${query}`, { headers: { host: 'public.test' } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).url, `/bucket/media-v2/2024/a%20b.jpg${query}`);
  });

  test('joins a to-path without trailing slash with exactly one slash', async () => {
    const res = await request(`${proxy.url}/x/y`, { headers: { host: 'public.test' } });
    assert.equal(JSON.parse(res.text).url, '/bucket/x/y');
  });

  test('the earliest matching rule wins and the Host header matches case-insensitively', async () => {
    const res = await request(`${proxy.url}/media/a`, { headers: { host: 'PUBLIC.Test' } });
    assert.equal(JSON.parse(res.text).url, '/bucket/media-v2/a');
  });

  test('sets Host to the to-URL host and port', async () => {
    await request(`${proxy.url}/h`, { headers: { host: 'other.test' } });
    const seen = origin.requests.at(-1)!;
    assert.deepEqual(rawValues(seen.rawHeaders, 'host'), [`localhost:${origin.port}`]);
  });

  test('answers 404 naming the reason when no rule matches', async () => {
    const res = await request(`${proxy.url}/x`, { headers: { host: 'unknown.test' } });
    assert.equal(res.status, 404);
    assert.match(res.text, /no remap rule matches http:\/\/unknown\.test\/x \(remap required\)/);
    assert.equal(res.headers['x-remapd-error'], 'ERR_REMAP_NO_RULE');
  });

  test('a Host with a port other than the rule port does not match', async () => {
    const res = await request(`${proxy.url}/x`, { headers: { host: 'public.test:8081' } });
    assert.equal(res.status, 404);
  });

  for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH']) {
    test(`forwards ${method} with its body`, async () => {
      const body = method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? undefined : `payload for ${method}`;
      const res = await request(`${proxy.url}/m`, { method, headers: { host: 'public.test' }, body });
      assert.equal(res.status, 200);
      const seen = origin.requests.at(-1)!;
      assert.equal(seen.method, method);
      assert.equal(seen.body.toString(), body ?? '');
      if (method !== 'HEAD') assert.equal(JSON.parse(res.text).method, method);
      else assert.equal(res.body.length, 0);
    });
  }

  test('forwards a chunked upload without knowing its length', async () => {
    const { request: raw } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = raw({ host: '127.0.0.1', port: proxy.port, method: 'PUT', path: '/chunked', headers: { host: 'public.test' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.write('part one, ');
      req.end('part two');
    });
    assert.equal(status, 200);
    assert.equal(origin.requests.at(-1)!.body.toString(), 'part one, part two');
  });
});

describe('header rules', () => {
  let origin: Origin;
  let proxy: Remapd;
  test.before(async () => {
    origin = await startOrigin((_req, res) => {
      res.writeHead(200, [
        'Content-Type', 'text/plain',
        'Connection', 'x-resp-hop',
        'X-Resp-Hop', 'secret-hop',
        'Proxy-Authenticate', 'Basic',
        'Keep-Alive', 'timeout=5',
        'Set-Cookie', 'a=1',
        'Set-Cookie', 'b=2',
        'Via', '1.1 origin-cache',
      ]);
      res.end('ok');
    });
    proxy = await startRemapd(`map http://h.test/ http://127.0.0.1:${origin.port}/\n`);
  });
  test.after(async () => {
    await proxy.close();
    await origin.close();
  });

  test('removes hop-by-hop request fields, including those named in Connection', async () => {
    const reply = await rawExchange(
      proxy.port,
      [
        'GET / HTTP/1.1',
        'Host: h.test',
        'Connection: close, X-Hop',
        'X-Hop: private to this hop',
        'Keep-Alive: timeout=5',
        'TE: trailers',
        'Trailer: X-Checksum',
        'Upgrade: h2c',
        'Proxy-Authorization: Basic c2VjcmV0',
        'Proxy-Connection: keep-alive',
        'X-End-To-End: kept',
        '',
        '',
      ].join('\r\n'),
    );
    assert.match(reply, /^HTTP\/1\.1 200 /);
    const names = origin.requests.at(-1)!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const gone of ['x-hop', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection']) {
      assert.ok(!names.includes(gone), `${gone} must not reach the origin`);
    }
    assert.deepEqual(rawValues(origin.requests.at(-1)!.rawHeaders, 'x-end-to-end'), ['kept']);
  });

  test('keeps repeated request fields as separate fields, in order', async () => {
    await request(`${proxy.url}/`, { headers: ['Host', 'h.test', 'X-Rep', 'one', 'x-rep', 'two, three', 'X-Rep', 'four'] });
    assert.deepEqual(rawValues(origin.requests.at(-1)!.rawHeaders, 'x-rep'), ['one', 'two, three', 'four']);
  });

  test('adds Via and appends the client address to X-Forwarded-For', async () => {
    await request(`${proxy.url}/`, { headers: ['Host', 'h.test', 'Via', '1.0 edge', 'X-Forwarded-For', '203.0.113.7'] });
    const seen = origin.requests.at(-1)!.rawHeaders;
    assert.deepEqual(rawValues(seen, 'via'), ['1.0 edge, 1.1 remapd']);
    assert.deepEqual(rawValues(seen, 'x-forwarded-for'), ['203.0.113.7, 127.0.0.1']);
  });

  test('removes hop-by-hop response fields and appends Via to the response', async () => {
    const res = await request(`${proxy.url}/`, { headers: { host: 'h.test' } });
    assert.equal(res.headers['x-resp-hop'], undefined);
    assert.equal(res.headers['proxy-authenticate'], undefined);
    assert.deepEqual(rawValues(res.rawHeaders, 'set-cookie'), ['a=1', 'b=2']);
    assert.equal(res.headers.via, '1.1 origin-cache, 1.1 remapd');
  });
});

describe('Host handling', () => {
  test('pristine_host_hdr keeps the client Host for the origin', async (t) => {
    const origin = await echoOrigin();
    t.after(() => origin.close());
    const proxy = await startRemapd(`map http://h.test/ http://127.0.0.1:${origin.port}/\n`, { settings: { pristineHostHdr: true } });
    t.after(() => proxy.close());
    await request(`${proxy.url}/`, { headers: { host: 'h.test' } });
    assert.deepEqual(rawValues(origin.requests.at(-1)!.rawHeaders, 'host'), ['h.test']);
  });

  test('an absolute-form target is matched on its own authority, not on Host', async (t) => {
    const origin = await echoOrigin();
    t.after(() => origin.close());
    const proxy = await startRemapd(`map http://abs.test/ http://127.0.0.1:${origin.port}/abs/\n`);
    t.after(() => proxy.close());
    const res = await request(proxy.url, { path: 'http://abs.test/k?q=1', headers: { host: 'elsewhere.test' } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).url, '/abs/k?q=1');
  });
});

describe('answers without the origin', () => {
  let origin: Origin;
  let proxy: Remapd;
  test.before(async () => {
    origin = await echoOrigin();
    proxy = await startRemapd(
      [
        'redirect http://old.test/ https://new.test/v2/',
        'redirect_temporary http://tmp.test/docs http://docs.test:8443/',
        'regex_redirect http://(.*)\\.legacy\\.test/ https://$1.modern.test/',
        `map http://acl.test/ http://127.0.0.1:${origin.port}/ @action=deny @method=DELETE`,
        `map http://only.test/ http://127.0.0.1:${origin.port}/ @action=allow @src_ip=192.0.2.0/24`,
        '',
      ].join('\n'),
    );
  });
  test.after(async () => {
    await proxy.close();
    await origin.close();
  });

  test('redirect answers 301 with the path remainder and query', async () => {
    const before = origin.requests.length;
    const res = await request(`${proxy.url}/a/b?c=d`, { headers: { host: 'old.test' } });
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, 'https://new.test/v2/a/b?c=d');
    assert.equal(origin.requests.length, before);
  });

  test('redirect_temporary answers 307', async () => {
    const res = await request(`${proxy.url}/docs/x`, { headers: { host: 'tmp.test' } });
    assert.equal(res.status, 307);
    assert.equal(res.headers.location, 'http://docs.test:8443/x');
  });

  test('regex_redirect substitutes captures into the to-URL', async () => {
    const res = await request(`${proxy.url}/p`, { headers: { host: 'shop.legacy.test' } });
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, 'https://shop.modern.test/p');
  });

  test('an ACL deny answers 403 and never reaches the origin', async () => {
    const before = origin.requests.length;
    const res = await request(`${proxy.url}/x`, { method: 'DELETE', headers: { host: 'acl.test' } });
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-remapd-error'], 'ERR_ACL_DENIED');
    assert.equal(origin.requests.length, before);
    const ok = await request(`${proxy.url}/x`, { headers: { host: 'acl.test' } });
    assert.equal(ok.status, 200);
  });

  test('an allow list of source addresses refuses everyone else', async () => {
    const res = await request(`${proxy.url}/x`, { headers: { host: 'only.test' } });
    assert.equal(res.status, 403);
  });
});

describe('refused requests', () => {
  let proxy: Remapd;
  test.before(async () => {
    proxy = await startRemapd('map / http://127.0.0.1:9/\n');
  });
  test.after(() => proxy.close());

  for (const [what, path] of [
    ['a .. segment', '/a/../b'],
    ['a %2e%2e segment', '/a/%2e%2E/b'],
    ['a . segment', '/a/./b'],
    ['an encoded NUL', '/a%00b'],
    ['malformed percent-encoding', '/a%zzb'],
  ] as const) {
    test(`answers 400 to a path with ${what}`, async () => {
      const res = await request(proxy.url, { path });
      assert.equal(res.status, 400);
      assert.equal(res.headers['x-remapd-error'], 'ERR_BAD_REQUEST');
    });
  }

  test('answers 400 to two Host headers', async () => {
    const res = await request(proxy.url, { path: '/', headers: ['Host', 'a.test', 'Host', 'b.test'] });
    assert.equal(res.status, 400);
  });

  test('answers 400 to a Host that is not host[:port]', async () => {
    const res = await request(proxy.url, { path: '/', headers: { host: 'evil.test/x' } });
    assert.equal(res.status, 400);
    assert.match(res.text, /Host header/);
  });

  test('answers 405 to CONNECT and closes the connection', async () => {
    const reply = await rawExchange(proxy.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 405 /);
    assert.match(reply, /CONNECT is not supported/);
  });
});

describe('reverse_map', () => {
  test('rewrites Location, Content-Location and Refresh that point at the origin', async (t) => {
    let origin: Origin | null = null;
    origin = await startOrigin((_req, res) => {
      const base = `http://127.0.0.1:${origin!.port}`;
      res.writeHead(302, {
        location: `${base}/x/moved/here?y=1`,
        'content-location': `${base}/x/canonical`,
        refresh: `5; url=${base}/x/later`,
      });
      res.end();
    });
    t.after(() => origin!.close());
    const proxy = await startRemapd(
      [`map http://www.x.test/ http://127.0.0.1:${origin.port}/x/`, `reverse_map http://127.0.0.1:${origin.port}/x/ http://www.x.test/`, ''].join('\n'),
    );
    t.after(() => proxy.close());
    const res = await request(`${proxy.url}/go`, { headers: { host: 'www.x.test' } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, 'http://www.x.test/moved/here?y=1');
    assert.equal(res.headers['content-location'], 'http://www.x.test/canonical');
    assert.equal(res.headers.refresh, '5; url=http://www.x.test/later');
  });
});

describe('access log', () => {
  test('writes one line per request with rule, status and bytes, and never a signature or token', async (t) => {
    const origin = await echoOrigin();
    t.after(() => origin.close());
    const proxy = await startRemapd(`map / http://127.0.0.1:${origin.port}/\n`);
    t.after(() => proxy.close());
    const res = await request(`${proxy.url}/k?X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok123&x-amz-credential=AKIA%2F1&keep=1`);
    await new Promise((r) => setTimeout(r, 50));
    const line = proxy.access.at(-1)!;
    assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z 127\.0\.0\.1 GET \/k\?X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED&x-amz-credential=REDACTED&keep=1 200 (\d+) \d+ miss remap\.config:1 -$/);
    assert.equal(Number(/ 200 (\d+) /.exec(line)![1]), res.body.length);
    assert.ok(!line.includes('deadbeef') && !line.includes('tok123'));
  });
});
