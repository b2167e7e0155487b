/**
 * `@src_ip=` / `@in_ip=` values (ip-range.ts): addresses, ranges, CIDR, `all`, `~` negation, IPv4 and IPv6.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entryMatches, listMatches, parseAddress, parseIpEntry } from '../../src/remap/ip-range.js';

const addr = (text: string) => {
  const a = parseAddress(text);
  assert.ok(a, `${text} should parse`);
  return a;
};
const matches = (entry: string, address: string) => entryMatches(parseIpEntry(entry), parseAddress(address));

test('parses IPv4 addresses to their 32-bit value', () => {
  assert.deepEqual(parseAddress('0.0.0.0'), { family: 4, value: 0n });
  assert.deepEqual(parseAddress('192.0.2.1'), { family: 4, value: 0xc0000201n });
  assert.deepEqual(parseAddress('255.255.255.255'), { family: 4, value: 0xffffffffn });
});

test('parses IPv6 addresses in full, compressed and embedded-IPv4 forms', () => {
  assert.deepEqual(parseAddress('::'), { family: 6, value: 0n });
  assert.deepEqual(parseAddress('::1'), { family: 6, value: 1n });
  assert.deepEqual(parseAddress('1::'), { family: 6, value: 1n << 112n });
  assert.deepEqual(parseAddress('1:2:3:4:5:6:7:8'), { family: 6, value: 0x00010002000300040005000600070008n });
  assert.deepEqual(parseAddress('2001:DB8::ff'), { family: 6, value: (0x20010db8n << 96n) | 0xffn });
  // NAT64 prefix: IPv4 embedded in IPv6 but not IPv4-mapped, so it stays IPv6.
  assert.deepEqual(parseAddress('64:ff9b::192.0.2.1'), { family: 6, value: (0x64ff9bn << 96n) | 0xc0000201n });
});

test('an IPv4-mapped IPv6 address is the IPv4 address it carries', () => {
  assert.deepEqual(parseAddress('::ffff:127.0.0.1'), { family: 4, value: 0x7f000001n });
  assert.deepEqual(parseAddress('::FFFF:7f00:1'), { family: 4, value: 0x7f000001n });
});

test('a zone id is ignored', () => {
  assert.deepEqual(parseAddress('fe80::1%eth0'), parseAddress('fe80::1'));
});

test('anything else is not an address', () => {
  for (const t of ['', 'localhost', '1.2.3', '1.2.3.256', '01.2.3.4', '::g', '1:2:3:4:5:6:7:8:9', '192.0.2.1/24']) {
    assert.equal(parseAddress(t), null, t);
  }
});

test('a single address matches itself only', () => {
  assert.equal(matches('192.0.2.1', '192.0.2.1'), true);
  assert.equal(matches('192.0.2.1', '192.0.2.2'), false);
  assert.equal(matches('::1', '::1'), true);
  assert.equal(matches('::1', '::2'), false);
});

test('a range a-b matches both ends and everything between', () => {
  const e = '10.0.0.5-10.0.1.7';
  assert.equal(matches(e, '10.0.0.4'), false);
  assert.equal(matches(e, '10.0.0.5'), true);
  assert.equal(matches(e, '10.0.0.255'), true);
  assert.equal(matches(e, '10.0.1.7'), true);
  assert.equal(matches(e, '10.0.1.8'), false);
  assert.equal(matches('2001:db8::1-2001:db8::ff', '2001:db8::80'), true);
  assert.equal(matches('2001:db8::1-2001:db8::ff', '2001:db8::100'), false);
});

test('CIDR matches the whole network, and host bits in the network address are accepted as ATS does', () => {
  assert.deepEqual(parseIpEntry('192.0.2.1/24').range, { family: 4, first: 0xc0000200n, last: 0xc00002ffn });
  assert.equal(matches('192.0.2.1/24', '192.0.2.0'), true);
  assert.equal(matches('192.0.2.1/24', '192.0.2.255'), true);
  assert.equal(matches('192.0.2.1/24', '192.0.3.0'), false);
  assert.equal(matches('10.1.2.3/32', '10.1.2.3'), true);
  assert.equal(matches('10.1.2.3/32', '10.1.2.4'), false);
  assert.equal(matches('0.0.0.0/0', '203.0.113.9'), true);
  assert.equal(matches('2001:db8::/32', '2001:db8:ffff::1'), true);
  assert.equal(matches('2001:db8::/32', '2001:db9::1'), false);
  assert.equal(matches('::/0', '2001:db8::1'), true);
});

test('IPv4 entries never match IPv6 addresses and the other way round', () => {
  assert.equal(matches('0.0.0.0/0', '::1'), false);
  assert.equal(matches('::/0', '127.0.0.1'), false);
});

test('an IPv4-mapped client address matches IPv4 entries, single, range and CIDR', () => {
  assert.equal(matches('127.0.0.1', '::ffff:127.0.0.1'), true);
  assert.equal(matches('10.0.0.0-10.0.0.9', '::ffff:10.0.0.3'), true);
  assert.equal(matches('192.0.2.0/24', '::ffff:192.0.2.77'), true);
  assert.equal(matches('192.0.2.0/24', '::ffff:192.0.3.77'), false);
});

test('IPv4-mapped addresses may be written in an entry and mean the IPv4 address', () => {
  assert.equal(matches('::ffff:127.0.0.1', '127.0.0.1'), true);
  assert.equal(matches('::ffff:10.0.0.1-10.0.0.9', '10.0.0.5'), true);
});

test('"all" matches every address of both families, and even an unknown one', () => {
  assert.equal(matches('all', '127.0.0.1'), true);
  assert.equal(matches('ALL', '::1'), true);
  assert.equal(entryMatches(parseIpEntry('all'), null), true);
});

test('~ negates an entry: it matches every address outside it, including the other family', () => {
  assert.equal(matches('~10.0.0.0/8', '10.9.9.9'), false);
  assert.equal(matches('~10.0.0.0/8', '11.0.0.1'), true);
  assert.equal(matches('~10.0.0.0/8', '::1'), true);
  assert.equal(matches('~192.0.2.1', '192.0.2.1'), false);
  assert.equal(matches('~all', '192.0.2.1'), false);
  assert.equal(parseIpEntry('~10.0.0.0/8').invert, true);
  assert.equal(parseIpEntry('~10.0.0.0/8').text, '~10.0.0.0/8');
});

test('an unknown address (null) is inside no range', () => {
  assert.equal(entryMatches(parseIpEntry('0.0.0.0/0'), null), false);
});

test('a list of entries matches when any entry does (ATS: src_ip entries are ORed)', () => {
  const list = ['127.0.0.1', '::1', '192.0.2.0/24'].map(parseIpEntry);
  assert.equal(listMatches(list, addr('127.0.0.1')), true);
  assert.equal(listMatches(list, addr('::1')), true);
  assert.equal(listMatches(list, addr('192.0.2.9')), true);
  assert.equal(listMatches(list, addr('198.51.100.1')), false);
  assert.equal(listMatches([], addr('127.0.0.1')), false);
});

test('bad values are refused with the reason', () => {
  const cases: [string, RegExp][] = [
    ['', /empty IP value/],
    ['~', /empty IP value in "~"/],
    ['1.2.3', /"1.2.3" is not an IP address, range \(a-b\), CIDR \(a\/n\) or "all"/],
    ['localhost', /"localhost" is not an IP address/],
    ['10.0.0.0/33', /"\/33" is not a prefix length for IPv4 \(0-32\)/],
    ['::/129', /"\/129" is not a prefix length for IPv6 \(0-128\)/],
    ['10.0.0.0/', /"\/" is not a prefix length/],
    ['10.0.0.0/x', /"\/x" is not a prefix length/],
    ['nope/8', /"nope" is not an IP address \(in "nope\/8"\)/],
    ['10.0.0.1-::1', /range "10.0.0.1-::1" mixes IPv4 and IPv6/],
    ['::1-10.0.0.1', /mixes IPv4 and IPv6/],
    ['10.0.0.9-10.0.0.1', /range "10.0.0.9-10.0.0.1" ends before it starts/],
    ['10.0.0.1-', /"" is not an IP address \(in "10.0.0.1-"\)/],
    ['x-10.0.0.1', /"x" is not an IP address/],
  ];
  for (const [value, message] of cases) assert.throws(() => parseIpEntry(value), message, value);
});
