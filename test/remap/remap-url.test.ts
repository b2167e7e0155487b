/**
 * The from- and to-URLs of a rule (remap-url.ts): what is accepted, what is refused and why.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorityOf, effectivePort, formatRemapUrl, parseRemapUrl } from '../../src/remap/remap-url.js';

test('parses scheme, host, port and path, lower-casing scheme and host but not the path', () => {
  assert.deepEqual(parseRemapUrl('HTTPS://Data.Example.COM:8443/Bucket/Key', 'from', false), {
    text: 'HTTPS://Data.Example.COM:8443/Bucket/Key',
    scheme: 'https',
    host: 'data.example.com',
    port: 8443,
    path: '/Bucket/Key',
  });
});

test('a URL without a path gets "/" (ATS UrlWhack)', () => {
  const u = parseRemapUrl('http://a.test', 'to', false);
  assert.equal(u.path, '/');
  assert.equal(u.port, null);
});

test('a host-less from-URL "/path" matches either scheme; a to-URL must have a host', () => {
  assert.deepEqual(parseRemapUrl('/images/', 'from', false), { text: '/images/', scheme: null, host: '', port: null, path: '/images/' });
  assert.throws(() => parseRemapUrl('/images/', 'to', false), /to-URL "\/images\/" needs a scheme and host/);
});

test('IPv6 literal hosts are unbracketed, with or without a port', () => {
  const a = parseRemapUrl('http://[2001:DB8::1]:8080/x', 'from', false);
  assert.equal(a.host, '2001:db8::1');
  assert.equal(a.port, 8080);
  assert.equal(a.path, '/x');
  const b = parseRemapUrl('https://[::1]', 'to', false);
  assert.equal(b.host, '::1');
  assert.equal(b.port, null);
  assert.equal(b.path, '/');
});

test('IPv6 hosts are bracketed again when formatted and in the Host authority', () => {
  const u = parseRemapUrl('http://[::1]:8080/x', 'to', false);
  assert.equal(formatRemapUrl(u), 'http://[::1]:8080/x');
  assert.equal(authorityOf(u), '[::1]:8080');
});

test('a bracketed host that is not an IPv6 address is refused', () => {
  assert.throws(() => parseRemapUrl('http://[zzz]/', 'from', false), /not a valid IPv6 address/);
  assert.throws(() => parseRemapUrl('http://[192.0.2.1]/', 'from', false), /not a valid IPv6 address/);
  assert.throws(() => parseRemapUrl('http://[::1/', 'from', false), /unterminated IPv6 literal/);
  assert.throws(() => parseRemapUrl('http://[::1]x/', 'from', false), /unexpected "x" after the IPv6 literal/);
});

test('ports 1 to 65535 are accepted', () => {
  assert.equal(parseRemapUrl('http://a:1/', 'from', false).port, 1);
  assert.equal(parseRemapUrl('http://a:65535/', 'from', false).port, 65535);
});

test('a port of 0, above 65535 or empty is refused with the port named', () => {
  for (const [url, port] of [
    ['http://a:0/', '0'],
    ['http://a:65536/', '65536'],
    ['http://a:123456/', '123456'],
    ['http://a:/', ''],
    ['http://[::1]:99999/', '99999'],
  ] as const) {
    assert.throws(() => parseRemapUrl(url, 'from', false), new RegExp(`port "${port}" is not a number from 1 to 65535`), url);
  }
});

test('a non-numeric port is refused', () => {
  assert.throws(() => parseRemapUrl('http://a:http/', 'from', false), /"a:http" is not a valid host name/);
});

test('only http and https are supported', () => {
  assert.throws(() => parseRemapUrl('ftp://a/', 'to', false), /scheme "ftp" in "ftp:\/\/a\/" is not supported/);
  assert.throws(() => parseRemapUrl('ws://a/', 'to', false), /scheme "ws" .* is not supported/);
  assert.throws(() => parseRemapUrl('wss://a/', 'from', false), /scheme "wss" .* is not supported/);
  assert.throws(() => parseRemapUrl('a.test/x', 'from', false), /is not a URL: expected scheme:\/\/host\[:port\]\/path or \/path/);
  assert.throws(() => parseRemapUrl('a.test/x', 'to', false), /is not a URL: expected scheme:\/\/host\[:port\]\/path$/);
});

test('a query string or a fragment in a rule URL is refused', () => {
  assert.throws(() => parseRemapUrl('http://a/x?y=1', 'from', false), /cannot have a query string/);
  assert.throws(() => parseRemapUrl('http://a/x#top', 'to', false), /cannot have a fragment/);
});

test('a query string or a fragment right after the host is refused as such, not as a bad host', () => {
  assert.throws(() => parseRemapUrl('http://a.test?y=1', 'from', false), /cannot have a query string/);
  assert.throws(() => parseRemapUrl('http://a.test:8080?y=1', 'to', false), /cannot have a query string/);
  assert.throws(() => parseRemapUrl('http://a.test#top', 'to', false), /cannot have a fragment/);
});

test('a query string after a to-URL host with $N substitutions is refused', () => {
  assert.throws(() => parseRemapUrl('http://$1.origin.test?x=1', 'to', true), /cannot have a query string/);
});

test('user information, an empty host, spaces and non-ASCII characters are refused', () => {
  assert.throws(() => parseRemapUrl('http://user:pw@a/', 'to', false), /user information/);
  assert.throws(() => parseRemapUrl('http:///x', 'from', false), /has no host/);
  assert.throws(() => parseRemapUrl('http://a/caf\u00e9', 'from', false), /percent-encode it/);
  assert.throws(() => parseRemapUrl('http://a_b c/', 'from', false), /is not a valid host name/);
});

test('a regex host is kept as written, including ? quantifiers and (?: groups, and a port after it is parsed', () => {
  const u = parseRemapUrl('http://(?:www\\.)?(.*)\\.Example\\.com:8080/x/', 'from', true);
  assert.equal(u.host, '(?:www\\.)?(.*)\\.Example\\.com');
  assert.equal(u.port, 8080);
  assert.equal(u.path, '/x/');
  assert.equal(parseRemapUrl('http://(www\\.)?example\\.com', 'from', true).host, '(www\\.)?example\\.com');
});

test('a to-URL of a regex rule may carry $N in its host', () => {
  const u = parseRemapUrl('http://$1.origin.test/$2/', 'to', true);
  assert.equal(u.host, '$1.origin.test');
  assert.equal(u.path, '/$2/');
});

test('effectivePort is the written port or the scheme default; a host-less URL counts as http', () => {
  assert.equal(effectivePort(parseRemapUrl('http://a/', 'from', false)), 80);
  assert.equal(effectivePort(parseRemapUrl('https://a/', 'from', false)), 443);
  assert.equal(effectivePort(parseRemapUrl('https://a:8443/', 'from', false)), 8443);
  assert.equal(effectivePort(parseRemapUrl('/x', 'from', false)), 80);
});

test('authorityOf omits the scheme default port and keeps any other', () => {
  assert.equal(authorityOf(parseRemapUrl('http://a:80/', 'to', false)), 'a');
  assert.equal(authorityOf(parseRemapUrl('https://a:443/', 'to', false)), 'a');
  assert.equal(authorityOf(parseRemapUrl('https://a:80/', 'to', false)), 'a:80');
  assert.equal(authorityOf(parseRemapUrl('http://a:9000/', 'to', false)), 'a:9000');
});

test('formatRemapUrl gives what plugins receive as argv[0]/argv[1]: normalised, written port kept', () => {
  assert.equal(formatRemapUrl(parseRemapUrl('HTTP://A.Test', 'from', false)), 'http://a.test/');
  assert.equal(formatRemapUrl(parseRemapUrl('http://a:80/x', 'to', false)), 'http://a:80/x');
  assert.equal(formatRemapUrl(parseRemapUrl('/x/', 'from', false)), '/x/');
});
