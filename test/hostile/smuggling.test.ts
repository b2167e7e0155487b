/**
 * Request smuggling and malformed framing, as raw bytes on loopback: every attempt is refused with a short answer
 * and a closed connection, and the origin behind the rule receives nothing. What is accepted is forwarded with one
 * reading only: undici frames the origin request anew (checked byte for byte on a raw TCP origin).
 *
 * Who refuses what: Node's parser (llhttp, strict) answers most of these itself through the server's
 * 'clientError' (server.ts gives them remapd's body and code); the handler refuses what llhttp accepts
 * (proxy/request-framing.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Origin, rawValues, type Remapd, startOrigin, startRemapd } from '../support/harness.js';
import { MAX_HEADER_FIELDS } from '../../src/proxy/request-framing.js';
import { decodeChunkedStrict, exchange, type RawReply, settle, startRawOrigin } from './support.js';

const STEP = { timeout: 10_000 };
const HOOK = { timeout: 15_000 };

const POST = 'POST /public/a HTTP/1.1\r\nHost: h\r\n';
const GET = 'GET /public/a HTTP/1.1\r\nHost: h\r\n';
const CHUNKED = `${POST}Transfer-Encoding: chunked\r\n\r\n`;

interface Case {
  name: string;
  bytes: string;
  status: number;
  code: string;
}

const bad = (name: string, bytes: string): Case => ({ name, bytes, status: 400, code: 'ERR_BAD_REQUEST' });

/** Refused by Node's parser before a request exists: 'clientError', answered by server.ts. */
const PARSER_REFUSES: readonly Case[] = [
  bad('Content-Length then Transfer-Encoding', `${POST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
  bad('Transfer-Encoding then Content-Length', `${POST}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`),
  bad('two equal Content-Length fields', `${POST}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`),
  bad('two different Content-Length fields', `${POST}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`),
  bad('a Content-Length list (5, 5)', `${POST}Content-Length: 5, 5\r\n\r\nhello`),
  bad('a signed Content-Length (+5)', `${POST}Content-Length: +5\r\n\r\nhello`),
  bad('a negative Content-Length', `${POST}Content-Length: -1\r\n\r\n`),
  bad('a Content-Length beyond 2^64', `${POST}Content-Length: 99999999999999999999999\r\n\r\n`),
  bad('Transfer-Encoding: chunked, gzip (chunked not last)', `${POST}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`),
  bad('Transfer-Encoding: xchunked', `${POST}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`),
  bad('Transfer-Encoding: identity', `${POST}Transfer-Encoding: identity\r\n\r\n`),
  bad('chunked in two Transfer-Encoding fields', `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
  bad('chunked twice in one field', `${POST}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`),
  bad('Transfer-Encoding with a space before the colon', `${POST}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`),
  bad('Transfer-Encoding with a vertical tab before chunked', `${POST}Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n`),
  bad('obs-fold: a line starting with a space', `${GET}X-A: 1\r\n  continued\r\n\r\n`),
  bad('obs-fold: a line starting with a tab', `${GET}X-A: 1\r\n\tcontinued\r\n\r\n`),
  bad('obs-fold: the first field line folded', 'GET /public/a HTTP/1.1\r\n Host: h\r\n\r\n'),
  bad('a chunk size that is not hex', `${CHUNKED}zz\r\nhello\r\n0\r\n\r\n`),
  bad('a chunk size that overflows 64 bits', `${CHUNKED}1FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n`),
  bad('a negative chunk size', `${CHUNKED}-5\r\nhello\r\n0\r\n\r\n`),
  bad('a chunk size with a 0x prefix', `${CHUNKED}0x10\r\n0123456789abcdef\r\n0\r\n\r\n`),
  bad('a chunk size followed by a space', `${CHUNKED}5 \r\nhello\r\n0\r\n\r\n`),
  bad('chunk data longer than its size', `${CHUNKED}5\r\nhelloXX\r\n0\r\n\r\n`),
  bad('a chunk extension ended by a bare LF', `${CHUNKED}5;a=b\nhello\r\n0\r\n\r\n`),
  bad('a control character in a chunk extension', `${CHUNKED}5;a=\x01\r\nhello\r\n0\r\n\r\n`),
  bad('a quoted chunk extension hiding CRLF 0 CRLF', `${CHUNKED}5;a="x\r\n0\r\n\r\n"\r\nhello\r\n0\r\n\r\n`),
  { name: 'chunk extensions of 20 KiB', bytes: `${CHUNKED}5;${'a'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`, status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' },
  bad('a bare LF ending the request line', 'GET /public/a HTTP/1.1\nHost: h\r\n\r\n'),
  bad('a bare LF ending a field line', 'GET /public/a HTTP/1.1\r\nHost: h\nX-A: 1\r\n\r\n'),
  bad('a bare LF ending the head', 'GET /public/a HTTP/1.1\r\nHost: h\r\n\n'),
  bad('a bare CR inside the head', 'GET /public/a HTTP/1.1\r\nHost: h\rX-A: 1\r\n\r\n'),
  bad('a space between Host and its colon', 'GET /public/a HTTP/1.1\r\nHost : h\r\n\r\n'),
  bad('a space between another name and its colon', `${GET}X-A : 1\r\n\r\n`),
  bad('a tab between a name and its colon', `${GET}X-A\t: 1\r\n\r\n`),
  bad('an empty field name', `${GET}: 1\r\n\r\n`),
  bad('a separator in a field name', `${GET}X(A): 1\r\n\r\n`),
  bad('a NUL in a field value', `${GET}X-A: a\x00b\r\n\r\n`),
  bad('a CR in a field value', `${GET}X-A: a\rb\r\n\r\n`),
  bad('a DEL in a field value', `${GET}X-A: a\x7fb\r\n\r\n`),
  bad('a control character in a field value', `${GET}X-A: a\x01b\r\n\r\n`),
  bad('a NUL in the request-target', 'GET /public/a\x00b HTTP/1.1\r\nHost: h\r\n\r\n'),
  bad('a space inside the request-target', 'GET /public/a b HTTP/1.1\r\nHost: h\r\n\r\n'),
  bad('a request line starting with a space', ' GET /public/a HTTP/1.1\r\nHost: h\r\n\r\n'),
  bad('a request line ending with a space', 'GET /public/a HTTP/1.1 \r\nHost: h\r\n\r\n'),
  bad('a tab as request-line separator', 'GET\t/public/a HTTP/1.1\r\nHost: h\r\n\r\n'),
  bad('a lower-case protocol name', 'GET /public/a http/1.1\r\nHost: h\r\n\r\n'),
  bad('HTTP/1.2', 'GET /public/a HTTP/1.2\r\nHost: h\r\n\r\n'),
  bad('an unknown method', 'FOO /public/a HTTP/1.1\r\nHost: h\r\n\r\n'),
  bad('the HTTP/2 preface on an HTTP/1 listener', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  bad('raw non-ASCII bytes in the path', 'GET /public/\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n'),
];

/** Parsed by Node, refused by remapd's handler (request-framing.ts) before any rule or origin is involved. */
const HANDLER_REFUSES: readonly Case[] = [
  { name: 'Transfer-Encoding: gzip, chunked (a coding remapd would forward unannounced)', bytes: `${POST}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, status: 501, code: 'ERR_TRANSFER_CODING' },
  bad('Transfer-Encoding in an HTTP/1.0 request', 'POST /public/a HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
  { name: 'HTTP/2.0 in an HTTP/1 request line', bytes: 'GET /public/a HTTP/2.0\r\nHost: h\r\n\r\n', status: 505, code: 'ERR_HTTP_VERSION' },
  { name: 'an HTTP/0.9 request line', bytes: 'GET /public/a\r\n\r\n', status: 505, code: 'ERR_HTTP_VERSION' },
  {
    // Node would drop the fields past its count without a word, the second Host with them.
    name: `more than ${MAX_HEADER_FIELDS} header fields (a second Host after them)`,
    bytes: `${GET}${Array.from({ length: MAX_HEADER_FIELDS }, (_, i) => `a:${i}\r\n`).join('')}Host: evil\r\n\r\n`,
    status: 431,
    code: 'ERR_HEADERS_TOO_LARGE',
  },
];

function assertRefused(reply: RawReply, c: Case): void {
  assert.equal(reply.status, c.status, `${c.name}: ${JSON.stringify(reply.text.slice(0, 200))}`);
  assert.equal(reply.headers['x-remapd-error'], c.code);
  assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
  assert.match(reply.body, new RegExp(`^${c.status} [A-Za-z ]+: .+\\n$`));
  assert.ok(reply.body.length < 200, 'a short body');
  assert.equal(reply.headers.connection, 'close');
  assert.ok(reply.closedByServer, 'remapd closed the connection');
}

describe('smuggling attempts and malformed framing', () => {
  let origin: Origin;
  let proxy: Remapd;
  before(async () => {
    origin = await startOrigin((_req, res) => res.end('ok'));
    proxy = await startRemapd(`map http://h/public/ http://127.0.0.1:${origin.port}/bucket/public/\n`);
  }, HOOK);
  after(async () => {
    await proxy?.close();
    await origin?.close();
  }, HOOK);

  for (const c of [...PARSER_REFUSES, ...HANDLER_REFUSES]) {
    test(`${c.name}: ${c.status}, closed, nothing forwarded`, STEP, async () => {
      const reply = await exchange(proxy.port, c.bytes);
      assertRefused(reply, c);
      await settle(20);
      assert.deepEqual(origin.requests, [], 'the origin received nothing');
    });
  }

  test('after every refusal the origin has still received nothing, and a good request goes through', STEP, async () => {
    await settle();
    assert.equal(origin.requests.length, 0);
    const reply = await exchange(proxy.port, `${GET}Connection: close\r\n\r\n`);
    assert.equal(reply.status, 200);
    assert.equal(origin.requests.length, 1);
    assert.equal(origin.requests[0]!.url, '/bucket/public/a');
    origin.requests.length = 0;
  });

  test('extra spaces between request-line words are read as one separator (RFC 9112 §3) and sent on normalised', STEP, async () => {
    for (const line of ['GET  /public/a HTTP/1.1', 'GET /public/a  HTTP/1.1']) {
      const reply = await exchange(proxy.port, `${line}\r\nHost: h\r\nConnection: close\r\n\r\n`);
      assert.equal(reply.status, 200, line);
    }
    assert.deepEqual(origin.requests.map((r) => r.url), ['/bucket/public/a', '/bucket/public/a']);
    origin.requests.length = 0;
  });

  test(`exactly ${MAX_HEADER_FIELDS} header fields are accepted`, STEP, async () => {
    const fields = Array.from({ length: MAX_HEADER_FIELDS - 2 }, (_, i) => `a:${i}\r\n`).join('');
    const reply = await exchange(proxy.port, `${GET}${fields}Connection: close\r\n\r\n`);
    assert.equal(reply.status, 200);
    assert.equal(origin.requests.length, 1);
    origin.requests.length = 0;
  });

  test('an h2c upgrade is not passed on: Upgrade, Connection and what it names never reach the origin', STEP, async () => {
    const reply = await exchange(proxy.port, `${GET}Connection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`);
    assert.equal(reply.status, 200);
    const seen = origin.requests.map((r) => r.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()));
    assert.equal(seen.length, 1);
    for (const name of ['upgrade', 'http2-settings']) assert.ok(!seen[0]!.includes(name), `${name} forwarded`);
    assert.deepEqual(rawValues(origin.requests[0]!.rawHeaders, 'connection'), ['keep-alive'], 'undici’s own Connection only');
    origin.requests.length = 0;
  });

  test('bytes 0x80-0xFF in a field value (obs-text) are forwarded as they came', STEP, async () => {
    const reply = await exchange(proxy.port, `${GET}X-A: caf\xe9 \xff\r\nConnection: close\r\n\r\n`);
    assert.equal(reply.status, 200);
    assert.deepEqual(origin.requests.map((r) => rawValues(r.rawHeaders, 'x-a')), [['caf\xe9 \xff']]);
    origin.requests.length = 0;
  });

  test('a 2^64-1 chunk size is a (very long) chunk: what follows is its data, streamed, never a second request', STEP, async () => {
    const smuggled = 'GET /public/smuggled HTTP/1.1\r\nHost: h\r\n\r\n';
    const reply = await exchange(proxy.port, `${CHUNKED}FFFFFFFFFFFFFFFF\r\n0\r\n\r\n${smuggled}`, { timeoutMs: 500 });
    assert.equal(reply.status, null, 'no answer: the body is still arriving');
    await settle();
    assert.ok(origin.requests.every((r) => r.url === '/bucket/public/a'), 'no request for /bucket/public/smuggled');
    origin.requests.length = 0;
  });
});

describe('what the origin receives for an accepted chunked request', () => {
  test('undici frames it anew: one Transfer-Encoding, the decoded data re-chunked, no extensions, no trailers', HOOK, async (t) => {
    const origin = await startRawOrigin();
    t.after(() => origin.close());
    const proxy = await startRemapd(`map http://h/public/ http://127.0.0.1:${origin.port}/bucket/public/\n`);
    t.after(() => proxy.close());
    const reply = await exchange(
      proxy.port,
      [
        'POST /public/up?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Custom: v\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n',
        '6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n',
      ],
      { gapMs: 100 },
    );
    assert.equal(reply.status, 200);
    assert.equal(origin.connections.length, 1);
    const received = origin.connections[0]!.toString('latin1');
    const headEnd = received.indexOf('\r\n\r\n');
    assert.equal(
      received.slice(0, headEnd + 4),
      'POST /bucket/public/up?x=1 HTTP/1.1\r\n' +
        `host: 127.0.0.1:${origin.port}\r\n` +
        'connection: keep-alive\r\n' +
        'X-Custom: v\r\n' +
        'via: 1.1 remapd\r\n' +
        'x-forwarded-for: 127.0.0.1\r\n' +
        'transfer-encoding: chunked\r\n\r\n',
    );
    assert.equal(decodeChunkedStrict(received.slice(headEnd + 4)), 'hello world');
    assert.doesNotMatch(received, /ext=1|X-Trailer/i);
  });

  test('a bad chunk arriving after the head was forwarded: 400, and the origin never gets a complete request', HOOK, async (t) => {
    const origin = await startRawOrigin();
    t.after(() => origin.close());
    const proxy = await startRemapd(`map http://h/public/ http://127.0.0.1:${origin.port}/bucket/public/\n`);
    t.after(() => proxy.close());
    const reply = await exchange(proxy.port, [CHUNKED, '5\r\nhello\r\n', 'zz\r\n0\r\n\r\n'], { gapMs: 100 });
    assert.equal(reply.status, 400);
    assert.ok(reply.closedByServer);
    await settle();
    // The body was streaming to the origin when the bad chunk came: that origin request is cut, never finished.
    for (const bytes of origin.connections) assert.doesNotMatch(bytes.toString('latin1'), /\r\n0\r\n\r\n$|\r\ncontent-length/);
  });

  test('a whole chunked body already read is sent with a Content-Length instead', HOOK, async (t) => {
    const origin = await startRawOrigin();
    t.after(() => origin.close());
    const proxy = await startRemapd(`map http://h/public/ http://127.0.0.1:${origin.port}/bucket/public/\n`);
    t.after(() => proxy.close());
    const reply = await exchange(proxy.port, `${CHUNKED.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')}5\r\nhello\r\n0\r\n\r\n`);
    assert.equal(reply.status, 200);
    const received = origin.connections[0]!.toString('latin1');
    const [head, body] = received.split('\r\n\r\n');
    assert.match(head!, /\r\ncontent-length: 5$/m);
    assert.doesNotMatch(head!, /transfer-encoding/i);
    assert.equal(body, 'hello');
  });
});

describe('NODE_OPTIONS=--insecure-http-parser', () => {
  test('does not make the client listener lenient: the smuggling classics are still refused', { timeout: 30_000 }, async () => {
    const harness = fileURLToPath(new URL('../support/harness.js', import.meta.url));
    const support = fileURLToPath(new URL('./support.js', import.meta.url));
    const script = `
      import { startOrigin, startRemapd } from ${JSON.stringify(harness)};
      import { exchange } from ${JSON.stringify(support)};
      const origin = await startOrigin((_req, res) => res.end('ok'));
      const proxy = await startRemapd('map http://h/public/ http://127.0.0.1:' + origin.port + '/bucket/public/\\n');
      const out = {};
      for (const [name, bytes] of Object.entries(${JSON.stringify({
        obsFold: `${GET}X-A: 1\r\n  continued\r\n\r\n`,
        clAndTe: `${POST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        twoLengths: `${POST}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
        bareLf: 'GET /public/a HTTP/1.1\nHost: h\r\n\r\n',
      })})) {
        out[name] = (await exchange(proxy.port, bytes)).status;
      }
      await new Promise((r) => setTimeout(r, 50));
      out.forwarded = origin.requests.length;
      await proxy.close();
      await origin.close();
      process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');
    `;
    // Not a test file itself: without the runner's context variable it does not talk the runner's protocol.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--insecure-http-parser', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => child.kill(), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(/^RESULT (.*)$/m.exec(stdout)?.[1] ?? 'null') as Record<string, number>;
    assert.deepEqual(result, { obsFold: 400, clAndTe: 400, twoLengths: 400, bareLf: 400, forwarded: 0 });
  });
});
