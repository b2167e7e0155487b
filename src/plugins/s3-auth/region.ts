/**
 * The region a V4 signature is scoped to, from the origin host.
 *
 * Order: --region if given; else the region map (ATS's --v4-region-map format, matched on dot-boundary suffixes
 * of the host, most specific entry first); else the built-in resolver, which reads the region out of every AWS S3
 * endpoint form so that a new region needs no map update; else the map's default line; else us-east-1.
 */
import { DEFAULT_REGION } from './constants.js';

/** A region name as AWS spells them: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-isob-east-1. */
const REGION = '[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\\d+';
const REGION_LABEL = new RegExp(`^${REGION}$`);
/** Legacy dash forms: s3-us-west-1, s3-website-eu-west-1, s3-fips-us-gov-west-1. */
const DASH_REGION_LABEL = new RegExp(`^s3(?:-website|-fips|-accesspoint|-object-lambda|-control)?-(${REGION})$`);
/** A service label without a region: s3, s3-external-1, s3-accesspoint, s3-website, s3-fips… */
const S3_LABEL = /^s3(?:-[a-z0-9-]+)?$/;
const AWS_SUFFIXES = ['.amazonaws.com', '.amazonaws.com.cn'];

/**
 * Reads the region out of an AWS S3 endpoint host; null when the host is not one. Labels are read from the right,
 * so a bucket name on the left (`eu-west-1.s3.amazonaws.com` is bucket "eu-west-1" on the global endpoint) never
 * counts: the first region-like label right of the service label wins, and a bare service label
 * (`s3`, `s3-external-1`) is the legacy global endpoint, us-east-1.
 */
export function regionFromEndpoint(host: string): string | null {
  const h = host.toLowerCase().replace(/\.$/, '');
  const suffix = AWS_SUFFIXES.find((s) => h.endsWith(s));
  if (!suffix) return null;
  const labels = h.slice(0, -suffix.length).split('.');
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i]!;
    if (REGION_LABEL.test(label)) return label;
    const dash = DASH_REGION_LABEL.exec(label);
    if (dash) return dash[1]!;
    if (S3_LABEL.test(label)) return DEFAULT_REGION;
  }
  return null;
}

export interface RegionMapEntry {
  /** Host or dot-suffix, lower case, without a leading dot. */
  readonly host: string;
  readonly region: string;
  readonly line: number;
}

export interface RegionMap {
  readonly file: string;
  /** Most specific (longest) first. */
  readonly entries: readonly RegionMapEntry[];
  /** From the `: X` line, already resolved when X names a host; null without one. */
  readonly defaultRegion: string | null;
}

const MAP_REGION = /^[a-z0-9-]+$/;
const MAP_HOST = /^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/;

/**
 * A map value is a region, or a host whose region the built-in resolver knows: ATS's own example ends with
 * `: s3.amazonaws.com`, a host, and ATS then signed for a region literally called "s3.amazonaws.com".
 */
function mapValue(value: string): string | { error: string } {
  const v = value.toLowerCase();
  if (MAP_REGION.test(v)) return v;
  if (MAP_HOST.test(v)) return regionFromEndpoint(v) ?? { error: `"${value}" is a host whose region remapd cannot tell; name a region` };
  return { error: `"${value}" is not a region name` };
}

/** Parses a region map; every malformed line is reported with its line number, good lines are kept. */
export function parseRegionMap(text: string, file: string): { map: RegionMap; problems: { line: number; message: string }[] } {
  const entries: RegionMapEntry[] = [];
  const problems: { line: number; message: string }[] = [];
  let defaultRegion: string | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const text = raw.replace(/#.*$/, '').trim();
    if (text === '') return;
    const colon = text.indexOf(':');
    if (colon < 0) {
      problems.push({ line, message: 'expected "host : region" or ": default-region"' });
      return;
    }
    const host = text.slice(0, colon).trim().toLowerCase().replace(/^\./, '');
    const rawValue = text.slice(colon + 1).trim();
    if (rawValue === '') {
      problems.push({ line, message: `no region after ":"` });
      return;
    }
    const value = mapValue(rawValue);
    if (typeof value !== 'string') {
      problems.push({ line, message: value.error });
      return;
    }
    if (host === '') {
      if (defaultRegion !== null) problems.push({ line, message: 'a second default line' });
      else defaultRegion = value;
      return;
    }
    if (!MAP_HOST.test(host) && !MAP_REGION.test(host)) {
      problems.push({ line, message: `"${host}" is not a host name` });
      return;
    }
    entries.push({ host, region: value, line });
  });
  entries.sort((a, b) => b.host.length - a.host.length);
  return { map: { file, entries, defaultRegion }, problems };
}

const MAX_CACHED_HOSTS = 1024;

/** Resolves and remembers the region of each origin host (hosts are few; resolution is string work). */
export class RegionResolver {
  readonly #forced: string | null;
  readonly #map: RegionMap | null;
  readonly #cache = new Map<string, string>();

  constructor(options: { region?: string | null; map?: RegionMap | null }) {
    this.#forced = options.region ?? null;
    this.#map = options.map ?? null;
  }

  resolve(host: string): string {
    if (this.#forced !== null) return this.#forced;
    // The raw host is looked up first: it is nearly always already the normalised one (a hot path per request).
    let region = this.#cache.get(host);
    if (region !== undefined) return region;
    const h = host.toLowerCase().replace(/\.$/, '');
    region = this.#cache.get(h);
    if (region === undefined) {
      region = this.#lookup(h);
      if (this.#cache.size >= MAX_CACHED_HOSTS) this.#cache.clear();
      this.#cache.set(h, region);
    }
    return region;
  }

  #lookup(host: string): string {
    if (this.#map) {
      for (const e of this.#map.entries) {
        if (host === e.host || host.endsWith(`.${e.host}`)) return e.region;
      }
    }
    return regionFromEndpoint(host) ?? this.#map?.defaultRegion ?? DEFAULT_REGION;
  }
}
