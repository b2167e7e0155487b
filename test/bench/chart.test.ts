/**
 * The bench chart: a well-formed, self-contained SVG; one bar per valid row, scaled to the fastest target of its own
 * scenario; INVALID and "-" in place of a bar; remapd's ratio to each peer; text escaped; deterministic.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { barChartSvg, type ChartRow, formatReqPerSec } from '../../bench/chart.js';

const rows: ChartRow[] = [
  { scenario: 'hit 1 KiB', target: 'node:http (ceiling)', valid: true, reqPerSec: 31484.16 },
  { scenario: 'hit 1 MiB', target: 'node:http (ceiling)', valid: true, reqPerSec: 3778.97 },
  { scenario: 'hit 1 KiB', target: 'remapd', valid: true, reqPerSec: 16059.35 },
  { scenario: 'hit 1 MiB', target: 'remapd', valid: true, reqPerSec: 3672.57 },
  { scenario: 'cold-key storm 10 MiB ×500', target: 'remapd', valid: true, reqPerSec: 212.4 },
  { scenario: 'hit 1 KiB', target: 'nginx', valid: true, reqPerSec: 53000 },
  { scenario: 'hit 1 MiB', target: 'nginx', valid: false, reqPerSec: 1200 },
  { scenario: 'cold-key storm 10 MiB ×500', target: 'nginx', valid: true, reqPerSec: NaN },
];

/** The attributes of every `<rect class="bar" …/>`. */
function bars(svg: string): Array<Record<string, string>> {
  return [...svg.matchAll(/<rect class="bar"([^>]*)\/>/g)].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
}

/** A minimal well-formedness check: every tag closed in order, no raw '<' or '&' outside markup and entities. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot|apos);)/, `bare & in ${JSON.stringify(text)}`);
    assert.doesNotMatch(text, />/, `bare > in ${JSON.stringify(text)}`);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    assert.ok(m, `malformed tag at ${JSON.stringify(xml.slice(lt, lt + 60))}`);
    const [, close, name, attrs, selfClose] = m;
    for (const a of attrs!.matchAll(/="([^"]*)"/g)) assert.doesNotMatch(a[1]!, /&(?!(amp|lt|gt|quot|apos);)/, `bare & in attribute of <${name}>`);
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!selfClose) stack.push(name!);
    i = tag.lastIndex;
    if (stack.length === 0) assert.equal(xml.slice(i).trim(), '', 'content after the root element');
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

describe('barChartSvg', () => {
  const svg = barChartSvg(rows, 'remapd vs peers');

  test('is one well-formed <svg> root with a width and a height, and nothing external', () => {
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="900" height="\d+" viewBox="0 0 900 \d+"/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assertWellFormed(svg);
    assert.doesNotMatch(svg, /<script|<style|@import|@font-face|href=|url\(/);
    assert.match(svg, /<title>remapd vs peers<\/title>/);
  });

  test('draws one bar per valid row with a number, coloured by target', () => {
    const b = bars(svg);
    const drawable = rows.filter((r) => r.valid && Number.isFinite(r.reqPerSec));
    assert.equal(b.length, drawable.length);
    assert.deepEqual(
      b.map((x) => `${x['data-scenario']}/${x['data-target']}`).sort(),
      drawable.map((r) => `${r.scenario}/${r.target}`).sort(),
    );
    const fill = new Map<string, string>();
    for (const x of b) {
      const seen = fill.get(x['data-target']!);
      if (seen) assert.equal(x.fill, seen, `one colour for ${x['data-target']}`);
      fill.set(x['data-target']!, x.fill!);
    }
    assert.equal(new Set(fill.values()).size, fill.size, 'a different colour per target');
  });

  test('labels invalid rows INVALID and rows without a number "-", with no bar', () => {
    assert.equal(svg.match(/>INVALID</g)?.length, 1);
    assert.match(svg, /<text class="value"[^>]*>-<\/text>/);
    assert.ok(!bars(svg).some((x) => x['data-scenario'] === 'hit 1 MiB' && x['data-target'] === 'nginx'));
    assert.doesNotMatch(svg, /NaN|Infinity|undefined/);
  });

  test('scales each scenario to its own fastest target', () => {
    const b = bars(svg);
    const width = (scenario: string, target: string) => Number(b.find((x) => x['data-scenario'] === scenario && x['data-target'] === target)!.width);
    // The fastest of each group has the same (full) length, whatever its absolute req/s.
    const full = width('hit 1 KiB', 'nginx');
    assert.ok(full > 300);
    assert.equal(width('hit 1 MiB', 'node:http (ceiling)'), full);
    assert.equal(width('cold-key storm 10 MiB ×500', 'remapd'), full);
    // The others in proportion.
    assert.ok(Math.abs(width('hit 1 KiB', 'remapd') - (full * 16059.35) / 53000) <= 0.1);
    assert.ok(Math.abs(width('hit 1 MiB', 'remapd') - (full * 3672.57) / 3778.97) <= 0.1);
  });

  test('prints the absolute req/s at the end of each bar', () => {
    assert.match(svg, />31,484 req\/s</);
    assert.match(svg, />16,059 req\/s</);
    assert.match(svg, />53,000 req\/s</);
    assert.match(svg, />212 req\/s</);
  });

  test("prints remapd's ratio to each valid peer, per scenario", () => {
    assert.match(svg, /remapd 0\.51× node:http \(ceiling\)/);
    assert.match(svg, /remapd 0\.30× nginx/);
    assert.match(svg, /remapd 0\.97× node:http \(ceiling\)/);
    // nginx is invalid in 'hit 1 MiB' and has no number in the storm: no ratio to it there.
    assert.equal(svg.match(/× nginx/g)?.length, 1);
  });

  test('wraps a long line of ratios under the heading, losing none', () => {
    const peers = Array.from({ length: 11 }, (_, i) => `peer number ${i + 1}`);
    const many = barChartSvg(
      [{ scenario: 's', target: 'remapd', valid: true, reqPerSec: 100 }, ...peers.map((target, i) => ({ scenario: 's', target, valid: true, reqPerSec: 100 * (i + 1) }))],
      't',
    );
    const lines = [...many.matchAll(/<text class="ratio"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
    assert.ok(lines.length > 1);
    for (const line of lines) assert.ok(line.length < 130, `too long: ${line}`);
    assert.deepEqual(
      lines.join('   ·   ').split('   ·   '),
      peers.map((p, i) => `remapd ${(1 / (i + 1)).toFixed(2)}× ${p}`),
    );
  });

  test('has a legend entry per target, in order of first appearance', () => {
    const legend = [...svg.matchAll(/<g class="legend" data-target="([^"]*)">/g)].map((m) => m[1]);
    assert.deepEqual(legend, ['node:http (ceiling)', 'remapd', 'nginx']);
  });

  test('escapes XML special characters in every piece of text', () => {
    const nasty = barChartSvg(
      [
        { scenario: 'a <b> & "c"', target: "x&y's <t>", valid: true, reqPerSec: 10 },
        { scenario: 'a <b> & "c"', target: 'remapd', valid: true, reqPerSec: 5 },
      ],
      'T <&> "q"',
    );
    assertWellFormed(nasty);
    assert.match(nasty, /a &lt;b&gt; &amp; &quot;c&quot;/);
    assert.match(nasty, /x&amp;y&apos;s &lt;t&gt;/);
    assert.match(nasty, /<title>T &lt;&amp;&gt; &quot;q&quot;<\/title>/);
    assert.match(nasty, /remapd 0\.50× x&amp;y&apos;s &lt;t&gt;/);
    assert.doesNotMatch(nasty, /<b>|<t>|& /);
  });

  test('is deterministic, and its height grows with the rows', () => {
    assert.equal(barChartSvg(rows, 'remapd vs peers'), svg);
    const height = (s: string) => Number(/height="(\d+)"/.exec(s)![1]);
    assert.ok(height(barChartSvg(rows.slice(0, 3), 't')) < height(svg));
    assertWellFormed(barChartSvg([], 'empty'));
  });
});

describe('formatReqPerSec', () => {
  test('groups thousands and keeps decimals for small numbers', () => {
    assert.equal(formatReqPerSec(16123.4), '16,123');
    assert.equal(formatReqPerSec(1234567.8), '1,234,568');
    assert.equal(formatReqPerSec(999.5), '1,000');
    assert.equal(formatReqPerSec(42.25), '42.3');
    assert.equal(formatReqPerSec(3.14159), '3.14');
    assert.equal(formatReqPerSec(0), '0');
    assert.equal(formatReqPerSec(NaN), '-');
  });
});
