/**
 * cache.so: the cache policy of one rule (the store itself is process-wide, sized with --cache-size).
 *
 *   map http://cdn.example.com/ https://bucket.s3.amazonaws.com/ @plugin=s3_auth.so @pparam=… \
 *       @plugin=cache.so @pparam=--ttl=200:1h @pparam=--stale-if-error=1d
 *
 * Options (`--k=v` or `--k v`): --off; --ttl=STATUS:DURATION[,…] (freshness when the origin gives none, like
 * nginx's proxy_cache_valid); --negative-ttl=DURATION and --negative-statuses=404,410; --heuristic=PERCENT,
 * --heuristic-min=DURATION, --heuristic-max=DURATION; --stale-while-revalidate=DURATION,
 * --stale-if-error=DURATION (RFC 5861 defaults); --ignore-query; --cache-set-cookie. Durations: seconds, or with
 * s/m/h/d.
 */
import { PluginArgumentError } from '../../errors.js';
import { HEURISTICALLY_CACHEABLE } from '../../cache/freshness.js';
import { type CachePolicy, DEFAULT_POLICY } from '../../cache/policy.js';
import type { PluginFactory } from '../api.js';
import { parseDurationMs } from '../../units.js';

/** A duration in whole seconds (units.ts syntax without fractions: `30`, `90s`, `5m`, `1h`, `1d`), or null. */
export function parseDuration(text: string): number | null {
  const ms = parseDurationMs(text, false);
  return ms !== null && ms % 1000 === 0 ? ms / 1000 : null;
}

function statusList(text: string, problems: string[], option: string): number[] {
  const out: number[] = [];
  for (const s of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!/^[1-5]\d\d$/.test(s)) problems.push(`${option}: "${s}" is not an HTTP status`);
    else out.push(Number(s));
  }
  return out;
}

const FLAGS = new Set(['off', 'on', 'ignore-query', 'cache-set-cookie']);
const VALUES = new Set(['ttl', 'negative-ttl', 'negative-statuses', 'heuristic', 'heuristic-min', 'heuristic-max', 'stale-while-revalidate', 'stale-if-error']);

/** Reads cache.so's arguments into a policy; every problem is reported at once. */
export function readCachePolicy(args: readonly string[]): CachePolicy {
  const problems: string[] = [];
  const p = {
    ...DEFAULT_POLICY,
    ttlByStatus: new Map(DEFAULT_POLICY.ttlByStatus),
    negativeStatuses: new Set(DEFAULT_POLICY.negativeStatuses),
  };
  const duration = (option: string, v: string): number => {
    const d = parseDuration(v);
    if (d === null) problems.push(`--${option}: "${v}" is not a duration (seconds, or with s/m/h/d)`);
    return d ?? 0;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument "${arg}"`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq).replace(/_/g, '-');
    let value: string | null = eq < 0 ? null : arg.slice(eq + 1);
    if (FLAGS.has(name)) {
      if (value !== null && !/^(true|false|on|off|1|0|yes|no)$/i.test(value)) problems.push(`--${name} takes no value`);
      const on = value === null || /^(true|on|1|yes)$/i.test(value);
      if (name === 'off') p.enabled = !on;
      else if (name === 'on') p.enabled = on;
      else if (name === 'ignore-query') p.ignoreQuery = on;
      else p.storeSetCookie = on;
      continue;
    }
    if (!VALUES.has(name)) {
      problems.push(`unknown option --${name}`);
      continue;
    }
    if (value === null) {
      if (i + 1 < args.length && !args[i + 1]!.startsWith('--')) value = args[++i]!;
      else {
        problems.push(`--${name} needs a value`);
        continue;
      }
    }
    switch (name) {
      case 'ttl':
        for (const item of value.split(',').map((x) => x.trim()).filter(Boolean)) {
          const m = /^([^:]+):(.+)$/.exec(item);
          if (!m) {
            problems.push(`--ttl: "${item}" is not STATUS:DURATION`);
            continue;
          }
          const d = duration('ttl', m[2]!);
          for (const s of m[1] === 'any' ? [...HEURISTICALLY_CACHEABLE] : statusList(m[1]!, problems, '--ttl')) p.ttlByStatus.set(s, d);
        }
        break;
      case 'negative-ttl':
        p.negativeTtl = duration(name, value);
        break;
      case 'negative-statuses':
        p.negativeStatuses = new Set(value.trim() === 'none' ? [] : statusList(value, problems, `--${name}`));
        break;
      case 'heuristic': {
        const m = /^(\d+(?:\.\d+)?)%?$/.exec(value.trim());
        if (!m || Number(m[1]) > 100) problems.push(`--heuristic: "${value}" is not a percentage`);
        else p.heuristicFraction = Number(m[1]) / 100;
        break;
      }
      case 'heuristic-min':
        p.heuristicMin = duration(name, value);
        break;
      case 'heuristic-max':
        p.heuristicMax = duration(name, value);
        break;
      case 'stale-while-revalidate':
        p.staleWhileRevalidate = duration(name, value);
        break;
      case 'stale-if-error':
        p.staleIfError = duration(name, value);
        break;
    }
  }
  if (p.heuristicMin > p.heuristicMax) problems.push('--heuristic-min is larger than --heuristic-max');
  if (problems.length > 0) throw new PluginArgumentError(problems.join('; '));
  return Object.freeze(p);
}

export const cachePlugin: PluginFactory = (argv) => ({ cachePolicy: readCachePolicy(argv.slice(2)) });
