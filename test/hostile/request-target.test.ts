/**
 * Hostile request-targets and Host headers against one rule, `map http://h/public/ http://origin/bucket/public/`:
 * every path either gets a 400 or reaches the origin under /bucket/public/ (the README's table, "How requests are
 * forwarded", is this file's cases); absolute-form targets are matched on their own host; CONNECT and `*` never
 * reach an origin; over-long targets get 414 and over-large heads 431.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Origin, rawValues, type Remapd, startOrigin, startRemapd } from '../support/harness.js';
import { MAX_TARGET_LENGTH } from '../../src/proxy/request-target.js';
import { exchange, type RawReply, settle } from './support.js';

const STEP = { timeout: 10_000 };
const HOOK = { timeout: 15_000 };
const PREFIX = '/bucket/public/';

let origin: Origin;
let proxy: Remapd;

before(async () => {
  origin = await startOrigin((_req, res) => res.end('ok'));
  proxy = await startRemapd(
    [
      `map http://h/public/ http://127.0.0.1:${origin.port}/bucket/public/`,
      `map http://pristine.test/public/ http://127.0.0.1:${origin.port}/bucket/public/ @plugin=conf_remap.so @pparam=proxy.config.url_remap.pristine_host_hdr=1`,
      '',
    ].join('\n'),
  );
}, HOOK);

after(async () => {
  await proxy?.close();
  await origin?.close();
}, HOOK);

/** One request on its own connection (closed after the answer), and the origin requests it caused. */
async function send(target: string, options: { method?: string; host?: string | null; extra?: string } = {}): Promise<{ reply: RawReply; urls: string[]; hosts: string[] }> {
  const before = origin.requests.length;
  const host = options.host === null ? '' : `Host: ${options.host ?? 'h'}\r\n`;
  const reply = await exchange(proxy.port, `${options.method ?? 'GET'} ${target} HTTP/1.1\r\n${host}${options.extra ?? ''}Connection: close\r\n\r\n`);
  await settle(20);
  const seen = origin.requests.slice(before);
  const hosts = seen.flatMap((r) => rawValues(r.rawHeaders, 'host'));
  return { reply, urls: seen.map((r) => r.url), hosts };
}

/**
 * The path table. `forwarded` is the exact path the origin must receive; `refused` the start of the 400's reason.
 * Every forwarded path is also checked to stay under /bucket/public/.
 */
const PATHS: ReadonlyArray<{ path: string; forwarded?: string; refused?: string; status?: number }> = [
  { path: '/public/..', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/../secret', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/a/../b', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/./a', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/%2e%2e/secret', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/%2E%2e/secret', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/.%2e/secret', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/..%2Fsecret', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/a%2F..%2F..%2Fsecret', refused: 'the path contains a "." or ".." segment' },
  { path: '/public/..;/secret', forwarded: '/bucket/public/..;/secret' },
  { path: '/public/a%2Fb', forwarded: '/bucket/public/a%2Fb' },
  { path: '/public/%00', refused: 'the path contains an encoded NUL (%00)' },
  { path: '/public/a%00.jpg', refused: 'the path contains an encoded NUL (%00)' },
  { path: '/public/%c0%af', refused: 'the path has percent-encoded bytes that are not UTF-8' },
  { path: '/public/%c0%ae%c0%ae/secret', refused: 'the path has percent-encoded bytes that are not UTF-8' },
  { path: '/public/%e0%80%af', refused: 'the path has percent-encoded bytes that are not UTF-8' },
  { path: '/public/%ed%a0%80', refused: 'the path has percent-encoded bytes that are not UTF-8' },
  { path: '/public/%ff', refused: 'the path has percent-encoded bytes that are not UTF-8' },
  { path: '/public/%C3%A9t%C3%A9', forwarded: '/bucket/public/%C3%A9t%C3%A9' },
  { path: '/public/%zz', refused: 'malformed percent-encoding in the path' },
  { path: '/public/%4', refused: 'malformed percent-encoding in the path' },
  { path: '/public/a%', refused: 'malformed percent-encoding in the path' },
  { path: '/public/..\\secret', refused: 'the path contains a backslash' },
  { path: '/public/a\\b', refused: 'the path contains a backslash' },
  { path: '/public/..%5csecret', forwarded: '/bucket/public/..%5csecret' },
  { path: '/public/a%5Cb', forwarded: '/bucket/public/a%5Cb' },
  { path: '/public//a', forwarded: '/bucket/public//a' },
  { path: '/public/a//b', forwarded: '/bucket/public/a//b' },
  { path: '//public/a', status: 404 },
  { path: '/public', status: 404 },
  { path: '/publicity/a', status: 404 },
  { path: '/public%2Fa', status: 404 },
  { path: '/public/a?x=/../../&y=%00', forwarded: '/bucket/public/a?x=/../../&y=%00' },
  { path: '/public/a#frag', refused: 'the request target must not contain a fragment (#)' },
  { path: '/public/%252e%252e/secret', forwarded: '/bucket/public/%252e%252e/secret' },
  { path: '/public/...', forwarded: '/bucket/public/...' },
  { path: '/public/a.b/.c', forwarded: '/bucket/public/a.b/.c' },
  { path: '/public/%7Euser/a+b', forwarded: '/bucket/public/%7Euser/a+b' },
];

describe('paths: nothing reaches the origin outside /bucket/public/', () => {
  for (const c of PATHS) {
    const expect = c.forwarded !== undefined ? `forwarded as ${c.forwarded}` : c.refused !== undefined ? '400' : String(c.status);
    test(`${JSON.stringify(c.path)}: ${expect}`, STEP, async () => {
      const { reply, urls } = await send(c.path);
      if (c.forwarded !== undefined) {
        assert.equal(reply.status, 200, reply.text);
        assert.deepEqual(urls, [c.forwarded]);
        assert.ok(urls[0]!.startsWith(PREFIX));
      } else {
        assert.equal(reply.status, c.status ?? 400, reply.text);
        assert.equal(reply.headers['x-remapd-error'], c.status === 404 ? 'ERR_REMAP_NO_RULE' : 'ERR_BAD_REQUEST');
        if (c.refused !== undefined) assert.equal(reply.body, `400 Bad Request: ${c.refused}\n`);
        assert.deepEqual(urls, [], 'nothing forwarded');
      }
    });
  }
});

describe('request-target forms', () => {
  test('absolute-form is matched on the URL’s host, not on the Host header (RFC 9112 §3.2.2)', STEP, async () => {
    const hit = await send('http://h/public/a', { host: 'unknown.test' });
    assert.equal(hit.reply.status, 200);
    assert.deepEqual(hit.urls, ['/bucket/public/a']);
    const miss = await send('http://unknown.test/public/a', { host: 'h' });
    assert.equal(miss.reply.status, 404);
    assert.equal(miss.reply.headers['x-remapd-error'], 'ERR_REMAP_NO_RULE');
    assert.deepEqual(miss.urls, []);
  });

  test('absolute-form: scheme and host in any case, the default port, no path', STEP, async () => {
    assert.deepEqual((await send('HTTP://H/public/b')).urls, ['/bucket/public/b']);
    assert.deepEqual((await send('http://h:80/public/c')).urls, ['/bucket/public/c']);
    assert.equal((await send('http://h')).reply.status, 404, 'the path is / — outside the rule');
  });

  test('absolute-form with pristine_host_hdr sends the URL’s authority as Host, not the Host header', STEP, async () => {
    const { hosts } = await send('http://pristine.test/public/a', { host: 'evil.test' });
    assert.deepEqual(hosts, ['pristine.test']);
  });

  test('absolute-form with the global --pristine-host-hdr: the URL’s authority too', STEP, async (t) => {
    const pristine = await startRemapd(`map http://h/public/ http://127.0.0.1:${origin.port}/bucket/public/\n`, { settings: { pristineHostHdr: true } });
    t.after(() => pristine.close());
    const before = origin.requests.length;
    const reply = await exchange(pristine.port, 'GET http://H:80/public/a HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n');
    assert.equal(reply.status, 200);
    assert.deepEqual(origin.requests.slice(before).map((r) => rawValues(r.rawHeaders, 'host')), [['H:80']]);
  });

  test('absolute-form paths are checked like origin-form ones', STEP, async () => {
    const { reply, urls } = await send('http://h/public/%2e%2e/secret');
    assert.equal(reply.status, 400);
    assert.deepEqual(urls, []);
  });

  for (const [target, reason] of [
    ['https://h/public/a', 'an absolute https: URL cannot be requested on this http listener'],
    ['http:///public/a', 'the absolute URL of the request has no host'],
    ['http://user@h/public/a', "the URL's authority is not a valid host[:port]"],
    ['http://h:99999/public/a', "the URL's authority is not a valid host[:port]"],
    ['ftp://h/public/a', 'the request target must be a path (/…) or an absolute http(s) URL'],
  ] as const) {
    test(`absolute-form ${target}: 400`, STEP, async () => {
      const { reply, urls } = await send(target);
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.body, `400 Bad Request: ${reason}\n`);
      assert.deepEqual(urls, []);
    });
  }

  test('CONNECT: 405, the connection closed, nothing forwarded', STEP, async () => {
    const reply = await exchange(proxy.port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    assert.equal(reply.status, 405);
    assert.equal(reply.headers['x-remapd-error'], 'ERR_METHOD_NOT_ALLOWED');
    assert.ok(reply.closedByServer);
    await settle();
    assert.ok(!origin.requests.some((r) => r.method === 'CONNECT'));
  });

  test('OPTIONS *: remapd answers 200 with no body itself; no rule, no origin', STEP, async () => {
    const { reply, urls } = await send('*', { method: 'OPTIONS', host: 'unknown.test' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-length'], '0');
    assert.deepEqual(urls, []);
  });

  test('any other method with *: 400', STEP, async () => {
    const { reply, urls } = await send('*', { method: 'GET' });
    assert.equal(reply.status, 400);
    assert.equal(reply.body, '400 Bad Request: the asterisk-form request target (*) is only for OPTIONS\n');
    assert.deepEqual(urls, []);
  });
});

describe('size limits', () => {
  const fill = (length: number) => `/public/${'a'.repeat(length - '/public/'.length)}`;

  test(`a request-target of exactly ${MAX_TARGET_LENGTH} bytes is forwarded`, STEP, async () => {
    const { reply, urls } = await send(fill(MAX_TARGET_LENGTH));
    assert.equal(reply.status, 200);
    assert.equal(urls[0]!.length, MAX_TARGET_LENGTH + '/bucket'.length);
  });

  test(`a request-target of ${MAX_TARGET_LENGTH + 1} bytes: 414 ERR_URI_TOO_LONG`, STEP, async () => {
    const { reply, urls } = await send(fill(MAX_TARGET_LENGTH + 1));
    assert.equal(reply.status, 414);
    assert.equal(reply.headers['x-remapd-error'], 'ERR_URI_TOO_LONG');
    assert.deepEqual(urls, []);
  });

  test('a long query counts: 414', STEP, async () => {
    const { reply } = await send(`/public/a?${'q'.repeat(MAX_TARGET_LENGTH)}`);
    assert.equal(reply.status, 414);
  });

  test('a request head over 16 KiB (settings.maxHeaderBytes): 431, closed, nothing forwarded', STEP, async () => {
    const { reply, urls } = await send('/public/a', { extra: `X-Big: ${'b'.repeat(17_000)}\r\n` });
    assert.equal(reply.status, 431);
    assert.equal(reply.headers['x-remapd-error'], 'ERR_HEADERS_TOO_LARGE');
    assert.ok(reply.closedByServer);
    assert.deepEqual(urls, []);
  });

  test('many small fields adding up to over 16 KiB: 431', STEP, async () => {
    const extra = Array.from({ length: 400 }, (_, i) => `X-F${i}: ${'v'.repeat(40)}\r\n`).join('');
    const { reply, urls } = await send('/public/a', { extra });
    assert.equal(reply.status, 431);
    assert.deepEqual(urls, []);
  });

  test('a target over 16 KiB never reaches remapd’s own check: Node answers 431 (the head limit counts it)', STEP, async () => {
    const { reply, urls } = await send(fill(17_000));
    assert.equal(reply.status, 431);
    assert.deepEqual(urls, []);
  });
});

describe('Host', () => {
  for (const host of ['h:80', 'H', 'h.', 'H.:80', 'h:080']) {
    test(`Host: ${host} matches the rule`, STEP, async () => {
      const { reply, urls } = await send('/public/a', { host });
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual(urls, ['/bucket/public/a']);
    });
  }

  for (const host of ['unknown.test', 'h:8080', 'hh', 'h..']) {
    const status = host === 'h..' ? 400 : 404;
    test(`Host: ${host}: ${status}`, STEP, async () => {
      const { reply, urls } = await send('/public/a', { host });
      assert.equal(reply.status, status, reply.text);
      assert.equal(reply.headers['x-remapd-error'], status === 404 ? 'ERR_REMAP_NO_RULE' : 'ERR_BAD_REQUEST');
      assert.deepEqual(urls, []);
    });
  }

  for (const host of ['a b', 'a/b', 'a@b', 'h:x', 'h:0', 'h:65536', '[::1', 'h\u00e9', 'h,h']) {
    test(`Host: ${JSON.stringify(host)}: 400`, STEP, async () => {
      const { reply, urls } = await send('/public/a', { host });
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.headers['x-remapd-error'], 'ERR_BAD_REQUEST');
      assert.deepEqual(urls, []);
    });
  }

  test('two Host headers: 400, even when equal or differently cased', STEP, async () => {
    for (const extra of ['Host: h\r\n', 'HOST: h\r\n', 'host: other\r\n']) {
      const { reply, urls } = await send('/public/a', { extra });
      assert.equal(reply.status, 400);
      assert.equal(reply.body, '400 Bad Request: the request has more than one Host header\n');
      assert.deepEqual(urls, []);
    }
  });

  test('no Host in HTTP/1.1: 400 with remapd’s reason; HTTP/1.0 without Host: no rule matches', STEP, async () => {
    const { reply, urls } = await send('/public/a', { host: null });
    assert.equal(reply.status, 400);
    assert.equal(reply.body, '400 Bad Request: an HTTP/1.1 request must have a Host header\n');
    assert.deepEqual(urls, []);
    const old = await exchange(proxy.port, 'GET /public/a HTTP/1.0\r\n\r\n');
    assert.equal(old.status, 404);
    assert.ok(old.closedByServer);
  });

  test('absolute-form with a Host that differs: the URL wins', STEP, async () => {
    const { reply, urls } = await send('http://h/public/z', { host: 'a b' });
    assert.equal(reply.status, 200);
    assert.deepEqual(urls, ['/bucket/public/z']);
  });
});
