/**
 * The Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format):
 *
 *   # HELP name help text, with \ and newline escaped
 *   # TYPE name counter|gauge|histogram
 *   name{label="value, with \\ \" and newline escaped"} 1
 *
 * A histogram is written as cumulative `name_bucket{…,le="bound"}` lines ending with `le="+Inf"`, then
 * `name_sum` and `name_count`.
 */
import type { LabelValues, MetricFamily } from './metric-registry.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** HELP text: backslash and line feed are escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as Go's ParseFloat reads it: +Inf, -Inf, NaN, else the shortest decimal form. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: LabelValues, le?: string): string {
  let out = '';
  for (const name of Object.keys(labels)) {
    out += `${out === '' ? '' : ','}${name}="${escapeLabelValue(labels[name]!)}"`;
  }
  if (le !== undefined) out += `${out === '' ? '' : ','}le="${le}"`;
  return out === '' ? '' : `{${out}}`;
}

export function formatPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type === 'histogram') {
      for (const s of f.samples) {
        for (let i = 0; i < f.buckets.length; i++) {
          lines.push(`${f.name}_bucket${labelText(s.labels, formatValue(f.buckets[i]!))} ${formatValue(s.counts[i]!)}`);
        }
        lines.push(`${f.name}_bucket${labelText(s.labels, '+Inf')} ${formatValue(s.count)}`);
        lines.push(`${f.name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
        lines.push(`${f.name}_count${labelText(s.labels)} ${formatValue(s.count)}`);
      }
    } else {
      for (const s of f.samples) lines.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
