/**
 * The bench chart: a self-contained SVG (no external fonts, scripts or styles) of grouped horizontal bars, one
 * group per scenario, one bar per target.
 *
 * Scenarios differ by orders of magnitude (a 1 KiB hit against a 10 MiB storm), so each group is scaled to its own
 * fastest valid target: bar lengths compare targets within a scenario, never across scenarios. The label at the
 * end of each bar is the absolute req/s, and each group's heading carries remapd's req/s as a multiple of every
 * other valid target's (the "vs remapd" column of the table). An invalid row gets no bar, only "INVALID"; a row
 * without a number gets "-".
 *
 * The output depends on the rows and the title only (no dates, no randomness), so it can be committed and diffed.
 *
 * Standalone: `node dist/bench/chart.js bench/results/<time>.json > chart.svg`.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface ChartRow {
  scenario: string;
  target: string;
  valid: boolean;
  reqPerSec: number;
}

const WIDTH = 900;
const MARGIN = 16;
const FONT = 'DejaVu Sans, Verdana, Helvetica, Arial, sans-serif';
const BAR_HEIGHT = 18;
const BAR_GAP = 6;
const GROUP_GAP = 16;
const HEADING_HEIGHT = 24;
const RATIO_LINE_HEIGHT = 18;
const LEGEND_ROW_HEIGHT = 20;
const VALUE_ROOM = 120; // right of the longest bar: "123,456 req/s"
/** Colour-blind-friendly (Okabe–Ito, then a few more); targets take them in order of first appearance. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999', '#332288', '#882255'];
const REMAPD = 'remapd';

/** Escapes text for element content and double- or single-quoted attribute values. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Rough width of sans-serif text, for layout only (no font metrics without a renderer). */
function textWidth(s: string, fontSize: number): number {
  return [...s].length * fontSize * 0.6;
}

/** 1 decimal place in pixels is plenty and keeps the output short and stable. */
function px(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** 16123.4 → "16,123"; small numbers keep a few decimals. Locale-independent. */
export function formatReqPerSec(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n === 0) return '0';
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  const [int, frac] = Math.abs(n).toFixed(digits).split('.') as [string, string | undefined];
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}${grouped}${frac ? `.${frac}` : ''}`;
}

function usable(r: ChartRow): boolean {
  return r.valid && Number.isFinite(r.reqPerSec);
}

export function barChartSvg(rows: ChartRow[], title: string): string {
  // Targets and scenarios in order of first appearance.
  const targets: string[] = [];
  const groups = new Map<string, ChartRow[]>();
  for (const r of rows) {
    if (!targets.includes(r.target)) targets.push(r.target);
    const g = groups.get(r.scenario);
    if (g) g.push(r);
    else groups.set(r.scenario, [r]);
  }
  const colour = (target: string) => PALETTE[targets.indexOf(target) % PALETTE.length]!;

  const out: string[] = [];
  let y = MARGIN;

  // Title and a one-line note on how to read the bars.
  y += 18;
  out.push(`<text x="${MARGIN}" y="${y}" font-size="17" font-weight="bold" fill="#222">${esc(title)}</text>`);
  y += 20;
  out.push(
    `<text x="${MARGIN}" y="${y}" font-size="12" fill="#666">req/s, higher is better. Each scenario is scaled to its own fastest target; labels are absolute.</text>`,
  );
  y += 12;

  // Legend: a swatch and the name per target, wrapped to the width.
  let lx = MARGIN;
  y += LEGEND_ROW_HEIGHT - 4;
  for (const t of targets) {
    const w = 14 + 6 + textWidth(t, 12) + 18;
    if (lx > MARGIN && lx + w > WIDTH - MARGIN) {
      lx = MARGIN;
      y += LEGEND_ROW_HEIGHT;
    }
    out.push(
      `<g class="legend" data-target="${esc(t)}"><rect class="swatch" x="${px(lx)}" y="${y - 11}" width="14" height="14" rx="2" fill="${colour(t)}"/>` +
        `<text x="${px(lx + 20)}" y="${y}" font-size="12" fill="#222">${esc(t)}</text></g>`,
    );
    lx += w;
  }
  y += 10;

  if (groups.size === 0) {
    y += 24;
    out.push(`<text x="${MARGIN}" y="${y}" font-size="13" fill="#666">no results</text>`);
  }

  // Bars: target names right-aligned in a column, bars from its edge, the value label after each bar.
  const labelWidth = Math.min(260, Math.max(100, ...targets.map((t) => textWidth(t, 12) + 12)));
  const x0 = MARGIN + labelWidth;
  const maxBar = WIDTH - MARGIN - x0 - VALUE_ROOM;

  for (const [scenario, group] of groups) {
    y += GROUP_GAP;
    const max = Math.max(0, ...group.filter(usable).map((r) => r.reqPerSec));

    // remapd's req/s as a multiple of each other valid target's, as in the table's "vs remapd" column.
    const mine = group.find((r) => r.target === REMAPD);
    const ratios: string[] = [];
    if (mine && usable(mine)) {
      for (const r of group) {
        if (r.target === REMAPD || !usable(r) || r.reqPerSec <= 0) continue;
        ratios.push(`${REMAPD} ${(mine.reqPerSec / r.reqPerSec).toFixed(2)}× ${r.target}`);
      }
    }
    const SEP = '   ·   ';
    const ratioText = ratios.join(SEP);

    y += HEADING_HEIGHT - 8;
    out.push(`<g class="group" data-scenario="${esc(scenario)}">`);
    out.push(`<text x="${MARGIN}" y="${y}" font-size="14" font-weight="bold" fill="#222">${esc(scenario)}</text>`);
    if (ratioText && MARGIN + textWidth(scenario, 14) + 24 + textWidth(ratioText, 12) <= WIDTH - MARGIN) {
      // On the heading line, right-aligned, when it fits.
      out.push(`<text class="ratio" x="${WIDTH - MARGIN}" text-anchor="end" y="${y}" font-size="12" fill="#444">${esc(ratioText)}</text>`);
    } else if (ratioText) {
      // Else on lines of their own under the heading, wrapped to the width.
      const lines: string[] = [];
      for (const ratio of ratios) {
        const last = lines.length - 1;
        if (last >= 0 && MARGIN + textWidth(lines[last]! + SEP + ratio, 12) <= WIDTH - MARGIN) lines[last] += SEP + ratio;
        else lines.push(ratio);
      }
      for (const line of lines) {
        y += RATIO_LINE_HEIGHT;
        out.push(`<text class="ratio" x="${MARGIN}" y="${y}" font-size="12" fill="#444">${esc(line)}</text>`);
      }
    }
    y += 8;

    for (const r of group) {
      const top = y;
      const mid = top + BAR_HEIGHT / 2 + 4; // text baseline, visually centred on the bar
      out.push(`<text x="${px(x0 - 8)}" y="${mid}" font-size="12" text-anchor="end" fill="#222">${esc(r.target)}</text>`);
      if (!r.valid) {
        out.push(`<text class="value" x="${px(x0 + 4)}" y="${mid}" font-size="12" font-weight="bold" fill="#B00020">INVALID</text>`);
      } else if (!Number.isFinite(r.reqPerSec)) {
        out.push(`<text class="value" x="${px(x0 + 4)}" y="${mid}" font-size="12" fill="#666">-</text>`);
      } else {
        const w = max > 0 ? (Math.max(0, r.reqPerSec) / max) * maxBar : 0;
        out.push(
          `<rect class="bar" data-scenario="${esc(scenario)}" data-target="${esc(r.target)}" x="${px(x0)}" y="${top}" width="${px(w)}" height="${BAR_HEIGHT}" rx="2" fill="${colour(r.target)}"/>`,
        );
        out.push(`<text class="value" x="${px(x0 + w + 6)}" y="${mid}" font-size="12" fill="#222">${formatReqPerSec(r.reqPerSec)} req/s</text>`);
      }
      y += BAR_HEIGHT + BAR_GAP;
    }
    out.push('</g>');
  }
  y += MARGIN;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="${FONT}" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect class="background" x="0" y="0" width="${WIDTH}" height="${y}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

/** `node dist/bench/chart.js <results.json> [title]`: the SVG of a bench/results file on stdout. */
function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: chart.js <bench/results/*.json> [title]');
  const data = JSON.parse(readFileSync(file, 'utf8')) as { date?: string; rows: Array<Partial<Record<keyof ChartRow, unknown>>> };
  // NaN is written to JSON as null.
  const rows: ChartRow[] = data.rows.map((r) => ({
    scenario: String(r.scenario),
    target: String(r.target),
    valid: r.valid === true,
    reqPerSec: typeof r.reqPerSec === 'number' ? r.reqPerSec : NaN,
  }));
  process.stdout.write(barChartSvg(rows, process.argv[3] ?? `remapd bench${data.date ? ` (${data.date})` : ''}`));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main();
  } catch (err: unknown) {
    process.stderr.write(`chart: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
