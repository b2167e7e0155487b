/**
 * A YAML document as plain values that remember where they were written, so every problem found while reading
 * strategies.yaml names its file and line (the `yaml` package's LineCounter gives the positions).
 *
 * Aliases (`*p1`) are resolved to the anchored node, and `<<` merge keys (YAML 1.1 "merge", which ATS's own
 * strategies.yaml examples use: `- <<: *p1` then `weight: 1.5`) are applied: keys written in the map win over
 * merged ones, and among several merged maps the earlier wins (https://yaml.org/type/merge.html). A value taken
 * from an anchor keeps the anchor's position: a bad `port` under `&p1` is reported where `&p1` is written.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type Node as YamlNode, type Pair } from 'yaml';

/** A place in a configuration file (1-based line). */
export interface Where {
  file: string;
  line: number;
}

export type YNode = YMap | YSeq | YScalar;

export interface YMap {
  kind: 'map';
  at: Where;
  /** In the order written (merged keys after the written ones). */
  entries: Map<string, YEntry>;
}

export interface YEntry {
  /** Where the key is written. */
  at: Where;
  value: YNode;
}

export interface YSeq {
  kind: 'seq';
  at: Where;
  items: YNode[];
}

export interface YScalar {
  kind: 'scalar';
  at: Where;
  value: string | number | boolean | null;
  /** Stands for something already reported (an unknown alias): readers skip it without a second error. */
  broken?: true;
}

/** Aliases nest (a group of host aliases inside a strategy); deeper than this is a cycle or abuse. */
const MAX_DEPTH = 64;

export interface TreeContext {
  doc: Document.Parsed;
  /** Maps an offset in the parsed text to its file and line (several files when `#include` was used). */
  where(offset: number): Where;
  problem(at: Where, message: string): void;
}

function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const v = key.value;
  return v === '<<' || (typeof v === 'symbol' && v.description === '<<');
}

function offsetOf(node: { range?: [number, number, number] | null } | null | undefined): number {
  return node?.range?.[0] ?? 0;
}

/** Converts the document's root to a YNode; null for an empty document. */
export function toTree(ctx: TreeContext): YNode | null {
  const root = ctx.doc.contents;
  if (root === null) return null;
  return convert(root as YamlNode, ctx, 0);
}

function convert(node: YamlNode | null | undefined, ctx: TreeContext, depth: number): YNode {
  const at = ctx.where(offsetOf(node as { range?: [number, number, number] }));
  if (depth > MAX_DEPTH) {
    ctx.problem(at, 'aliases nest too deeply (a cycle?)');
    return { kind: 'scalar', at, value: null, broken: true };
  }
  if (node === null || node === undefined) return { kind: 'scalar', at, value: null };
  if (isAlias(node)) {
    const target = node.resolve(ctx.doc);
    if (target === undefined) {
      ctx.problem(at, `unknown alias *${node.source}`);
      return { kind: 'scalar', at, value: null, broken: true };
    }
    return convert(target, ctx, depth + 1);
  }
  if (isScalar(node)) {
    const v = node.value;
    const value = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null ? v : String(v);
    return { kind: 'scalar', at, value };
  }
  if (isSeq(node)) {
    return { kind: 'seq', at, items: node.items.map((item) => convert(item as YamlNode, ctx, depth + 1)) };
  }
  if (isMap(node)) return convertMap(node.items as Pair[], at, ctx, depth);
  ctx.problem(at, 'unsupported YAML node');
  return { kind: 'scalar', at, value: null, broken: true };
}

function convertMap(pairs: readonly Pair[], at: Where, ctx: TreeContext, depth: number): YMap {
  const entries = new Map<string, YEntry>();
  const merged: YMap[] = [];
  for (const pair of pairs) {
    if (isMergeKey(pair.key)) {
      const source = convert(pair.value as YamlNode, ctx, depth + 1);
      const maps = source.kind === 'seq' ? source.items : [source];
      for (const m of maps) {
        if (m.kind === 'map') merged.push(m);
        else if (!(m.kind === 'scalar' && m.broken)) ctx.problem(m.at, '<< (merge) needs a map or a list of maps, e.g. <<: *p1');
      }
      continue;
    }
    const keyAt = ctx.where(offsetOf(pair.key as { range?: [number, number, number] }));
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') {
      ctx.problem(keyAt, 'map keys must be plain names');
      continue;
    }
    entries.set(String(key), { at: keyAt, value: convert(pair.value as YamlNode, ctx, depth + 1) });
  }
  for (const m of merged) {
    for (const [k, e] of m.entries) if (!entries.has(k)) entries.set(k, e);
  }
  return { kind: 'map', at, entries };
}

/** A scalar's text for messages. */
export function describe(node: YNode): string {
  if (node.kind === 'map') return 'a map';
  if (node.kind === 'seq') return 'a list';
  return node.value === null ? 'nothing' : JSON.stringify(node.value);
}
