/**
 * header_rewrite.so: set, add and remove request and response headers per rule, from rules files in ATS's
 * header_rewrite language (the subset described in rules-file.ts).
 *
 *   map http://cdn.example.com/ http://bucket.s3.amazonaws.com/ \
 *       @plugin=header_rewrite.so @pparam=secret_ua.conf @plugin=s3_auth.so @pparam=--config @pparam=s3.config
 *
 * A header set in SEND_REQUEST_HDR_HOOK is on the final origin request; to have it signed, list header_rewrite
 * before s3_auth (sendRequest hooks run in the rule's plugin order).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { PluginArgumentError } from '../../errors.js';
import type { PluginFactory, RemapPlugin, Transaction } from '../api.js';
import type { HeaderList } from '../../proxy/header-list.js';
import { type HookName, type MessageView, parseRulesFile, type Section } from './rules-file.js';

/**
 * Evaluates a section's conditions as ATS's Condition::do_eval does: each condition joins everything after it,
 * so `A [OR]`, `B`, `C` means A || (B && C), not (A || B) && C. Folding from the right gives that grouping.
 */
function conditionsHold(section: Section, view: MessageView): boolean {
  const cs = section.conditions;
  if (cs.length === 0) return true;
  const last = cs[cs.length - 1]!;
  let acc = last.test(view) !== last.not;
  for (let i = cs.length - 2; i >= 0; i--) {
    const c = cs[i]!;
    const v = c.test(view) !== c.not;
    acc = c.or ? v || acc : v && acc;
  }
  return acc;
}

function applySections(sections: readonly Section[], view: MessageView, headers: HeaderList): void {
  for (const s of sections) {
    if (!conditionsHold(s, view)) continue;
    let stop = false;
    for (const o of s.operators) {
      if (o.op === 'set-header') headers.set(o.name, o.value);
      else if (o.op === 'add-header') headers.add(o.name, o.value);
      else headers.delete(o.name);
      if (o.last) stop = true;
    }
    if (stop) return;
  }
}

function view(txn: Transaction, status: number | null, headers: HeaderList): MessageView {
  return {
    method: txn.client.method,
    status,
    clientHeader: (name) => txn.client.headers.get(name),
    header: (name) => headers.get(name),
  };
}

export const headerRewritePlugin: PluginFactory = (argv, context) => {
  const files = argv.slice(2);
  if (files.length === 0) throw new PluginArgumentError('header_rewrite.so needs a rules file (@pparam=rules.conf)');
  const byHook: Record<HookName, Section[]> = { remap: [], sendRequest: [], readResponse: [], sendResponse: [] };
  const problems: string[] = [];
  for (const f of files) {
    if (f.startsWith('--')) {
      problems.push(`option ${f} is not supported by remapd's header_rewrite`);
      continue;
    }
    const path = isAbsolute(f) ? f : resolve(context.configDir, f);
    context.dependsOn(path);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      problems.push(`cannot read rules file ${path}: ${(err as Error).message}`);
      continue;
    }
    const { sections, errors } = parseRulesFile(text, path);
    for (const e of errors) problems.push(`${path}:${e.line}: ${e.message}`);
    for (const s of sections) byHook[s.hook].push(s);
  }
  if (problems.length > 0) throw new PluginArgumentError(problems.join('; '));

  const plugin: RemapPlugin = {};
  if (byHook.remap.length > 0) {
    const sections = byHook.remap;
    plugin.remap = (txn) => {
      const h = txn.originRequest.headers;
      applySections(sections, view(txn, null, h), h);
    };
  }
  if (byHook.sendRequest.length > 0) {
    const sections = byHook.sendRequest;
    plugin.sendRequest = (txn, req) => applySections(sections, view(txn, null, req.headers), req.headers);
  }
  if (byHook.readResponse.length > 0) {
    const sections = byHook.readResponse;
    plugin.readResponse = (txn, res) => applySections(sections, view(txn, res.status, res.headers), res.headers);
  }
  if (byHook.sendResponse.length > 0) {
    const sections = byHook.sendResponse;
    plugin.sendResponse = (txn, res) => applySections(sections, view(txn, res.status, res.headers), res.headers);
  }
  return plugin;
};
