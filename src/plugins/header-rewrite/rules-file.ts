/**
 * Parser for the part of ATS's header_rewrite rule language remapd implements
 * (doc/admin-guide/plugins/header_rewrite.en.rst). Anything outside it is an error with file:line, never ignored,
 * so a rules file written for ATS either does the same here or does not load.
 *
 *   # comment
 *   cond %{SEND_REQUEST_HDR_HOOK} [AND]     hook: READ_REQUEST_HDR_HOOK, READ_REQUEST_PRE_REMAP_HOOK,
 *                                                 REMAP_PSEUDO_HOOK (default), SEND_REQUEST_HDR_HOOK,
 *                                                 READ_RESPONSE_HDR_HOOK, SEND_RESPONSE_HDR_HOOK
 *   cond %{METHOD} =GET [OR]                 conditions: %{TRUE} %{FALSE} %{METHOD} %{STATUS}
 *   cond %{CLIENT-HEADER:User-Agent} /bot/   %{CLIENT-HEADER:Name} %{HEADER:Name}
 *                                            operands: =value  <n  >n  /regex/   modifiers: [AND] [OR] [NOT] [NOCASE]
 *   set-header X-Secret "value with spaces"  operators: set-header, add-header, rm-header; modifier [L]
 *   rm-header Referer
 *
 * A section is a run of `cond` lines followed by operator lines; the next `cond` after an operator starts a new
 * section. A hook condition may only be the first condition of its section.
 */

export type HookName = 'remap' | 'sendRequest' | 'readResponse' | 'sendResponse';

const HOOKS: Record<string, HookName> = {
  READ_REQUEST_HDR_HOOK: 'remap',
  READ_REQUEST_PRE_REMAP_HOOK: 'remap',
  REMAP_PSEUDO_HOOK: 'remap',
  SEND_REQUEST_HDR_HOOK: 'sendRequest',
  READ_RESPONSE_HDR_HOOK: 'readResponse',
  SEND_RESPONSE_HDR_HOOK: 'sendResponse',
};

export interface MessageView {
  method: string;
  /** Response status for response hooks, else null. */
  status: number | null;
  clientHeader(name: string): string | undefined;
  /** A header of the message the hook works on (request or response). */
  header(name: string): string | undefined;
}

export interface Condition {
  /** The %{…} name, e.g. STATUS, CLIENT-HEADER:X. */
  kind: string;
  test(view: MessageView): boolean;
  not: boolean;
  or: boolean;
}

export interface Operator {
  op: 'set-header' | 'add-header' | 'rm-header';
  name: string;
  value: string;
  last: boolean;
}

export interface Section {
  hook: HookName;
  conditions: Condition[];
  operators: Operator[];
  file: string;
  line: number;
}

interface Word {
  text: string;
  quoted: boolean;
}

/** Splits a line into words; "double quoted" words may contain spaces and \" escapes. */
export function splitWords(line: string): Word[] {
  const out: Word[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let text = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        text += line[i];
        i++;
      }
      if (i >= line.length) throw new Error('unterminated quoted string');
      i++;
      out.push({ text, quoted: true });
    } else {
      while (i < line.length && !/\s/.test(line[i]!)) text += line[i++];
      out.push({ text, quoted: false });
    }
  }
  return out;
}

/** Removes a trailing `[A,B]` modifier word and returns its modifiers, upper-cased. */
function takeModifiers(words: Word[]): Set<string> {
  const mods = new Set<string>();
  const last = words[words.length - 1];
  if (last && !last.quoted && /^\[[A-Z_,\s]*\]$/i.test(last.text)) {
    for (const m of last.text.slice(1, -1).split(',')) if (m.trim()) mods.add(m.trim().toUpperCase());
    words.pop();
  }
  return mods;
}

function makeMatcher(operand: string, nocase: boolean, numeric: boolean): (v: string | undefined) => boolean {
  if (operand.startsWith('/') && operand.endsWith('/') && operand.length >= 2) {
    const re = new RegExp(operand.slice(1, -1), nocase ? 'i' : '');
    return (v) => v !== undefined && re.test(v);
  }
  const op = operand[0];
  const rest = operand.slice(1);
  if (op === '<' || op === '>') {
    if (!numeric || !/^-?\d+$/.test(rest)) throw new Error(`"${operand}": < and > compare numbers (e.g. >399)`);
    const n = Number(rest);
    return op === '<' ? (v) => v !== undefined && Number(v) < n : (v) => v !== undefined && Number(v) > n;
  }
  if (op === '=') {
    if (nocase) {
      const want = rest.toLowerCase();
      return (v) => v !== undefined && v.toLowerCase() === want;
    }
    return (v) => v === rest;
  }
  throw new Error(`operand "${operand}" must be =value, <n, >n or /regex/`);
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function parseCondition(words: Word[], hookAllowed: boolean): { hook?: HookName; condition?: Condition } {
  const mods = takeModifiers(words);
  for (const m of mods) {
    if (!['AND', 'OR', 'NOT', 'NOCASE'].includes(m)) throw new Error(`unknown condition modifier [${m}]`);
  }
  // ATS rejects [AND,OR] too (condition.cc: "Can't have both AND and OR in mods"); picking one would guess.
  if (mods.has('AND') && mods.has('OR')) throw new Error('[AND] and [OR] cannot both modify one condition');
  const what = words[1]?.text;
  if (!what || !/^%\{[^}]+\}$/.test(what)) throw new Error('cond needs a %{CONDITION}');
  const inner = what.slice(2, -1);
  const operand = words[2]?.text;
  if (words.length > 3) throw new Error(`unexpected "${words.slice(3).map((w) => w.text).join(' ')}" (quote operands with spaces)`);
  const hook = HOOKS[inner];
  if (hook) {
    if (!hookAllowed) throw new Error(`%{${inner}} must be the first condition of a section`);
    if (operand !== undefined) throw new Error(`%{${inner}} takes no operand`);
    // A hook is not a condition: ATS drops its modifiers, so [NOT] or [OR] here would silently do nothing.
    for (const m of mods) if (m !== 'AND') throw new Error(`%{${inner}} takes no [${m}] modifier`);
    return { hook };
  }
  const base = { kind: inner, not: mods.has('NOT'), or: mods.has('OR') };
  const nocase = mods.has('NOCASE');
  const need = () => {
    if (operand === undefined) throw new Error(`%{${inner}} needs an operand (e.g. =value or /regex/)`);
    return operand;
  };
  if (inner === 'TRUE' || inner === 'FALSE') {
    // An operand here would be ignored, and an ignored part of a rule is a rule that does not do what it says.
    if (operand !== undefined) throw new Error(`%{${inner}} takes no operand`);
    const v = inner === 'TRUE';
    return { condition: { ...base, test: () => v } };
  }
  if (inner === 'METHOD') {
    const match = makeMatcher(need(), nocase, false);
    return { condition: { ...base, test: (m) => match(m.method) } };
  }
  if (inner === 'STATUS') {
    const match = makeMatcher(need(), false, true);
    return { condition: { ...base, test: (m) => m.status !== null && match(String(m.status)) } };
  }
  const header = /^(CLIENT-HEADER|HEADER):(.+)$/.exec(inner);
  if (header) {
    const name = header[2]!;
    // A name no field can have would make the condition constant (always false, or always true with [NOT]).
    if (!HEADER_NAME.test(name)) throw new Error(`"${name}" is not a valid header name`);
    const match = makeMatcher(need(), nocase, false);
    return header[1] === 'CLIENT-HEADER'
      ? { condition: { ...base, test: (m) => match(m.clientHeader(name)) } }
      : { condition: { ...base, test: (m) => match(m.header(name)) } };
  }
  throw new Error(`condition %{${inner}} is not supported by remapd's header_rewrite`);
}

function parseOperator(words: Word[]): Operator {
  const mods = takeModifiers(words);
  for (const m of mods) if (m !== 'L') throw new Error(`unknown operator modifier [${m}]`);
  const op = words[0]!.text as Operator['op'];
  const name = words[1]?.text;
  if (!name) throw new Error(`${op} needs a header name`);
  if (!HEADER_NAME.test(name)) throw new Error(`"${name}" is not a valid header name`);
  if (op === 'rm-header') {
    if (words.length > 2) throw new Error(`rm-header takes one header name; unexpected "${words.slice(2).map((w) => w.text).join(' ')}"`);
    return { op, name, value: '', last: mods.has('L') };
  }
  if (words.length < 3) throw new Error(`${op} needs a header name and a value`);
  if (words.length > 3) throw new Error(`${op} takes one value; quote values with spaces ("like this")`);
  const value = words[2]!.text;
  if (/%\{|%</.test(value)) throw new Error(`variables in values (${value}) are not supported by remapd's header_rewrite`);
  if (/[\r\n\0]/.test(value)) throw new Error('header values cannot contain CR, LF or NUL');
  return { op, name, value, last: mods.has('L') };
}

const RESPONSE_HOOKS: ReadonlySet<HookName> = new Set(['readResponse', 'sendResponse']);

/** Parses one rules file; returns the sections and every error (with line numbers). */
export function parseRulesFile(text: string, file: string): { sections: Section[]; errors: { line: number; message: string }[] } {
  const sections: Section[] = [];
  const errors: { line: number; message: string }[] = [];
  let current: Section | null = null;
  let hookSet = false;
  /**
   * An operator line, valid or not, was seen in the current section. Counted by keyword rather than by parsed
   * operators so that one bad operator does not glue the next section onto this one (and report its hook as
   * "not the first condition").
   */
  let operatorSeen = false;
  /** Sections with a line already reported: "no operator" there would only repeat that error. */
  const failed = new Set<Section>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    try {
      const words = splitWords(raw);
      const keyword = words[0]!.text;
      if (keyword !== 'cond') operatorSeen = true;
      if (keyword === 'cond') {
        if (!current || operatorSeen) {
          current = { hook: 'remap', conditions: [], operators: [], file, line: lineNo };
          hookSet = false;
          operatorSeen = false;
          sections.push(current);
        }
        const { hook, condition } = parseCondition(words, current.conditions.length === 0 && !hookSet);
        if (hook) {
          current.hook = hook;
          hookSet = true;
        }
        if (condition) {
          if (condition.kind === 'STATUS' && !RESPONSE_HOOKS.has(current.hook)) {
            throw new Error('%{STATUS} is only known in READ_RESPONSE_HDR_HOOK and SEND_RESPONSE_HDR_HOOK sections');
          }
          current.conditions.push(condition);
        }
      } else if (keyword === 'set-header' || keyword === 'add-header' || keyword === 'rm-header') {
        if (!current) {
          current = { hook: 'remap', conditions: [], operators: [], file, line: lineNo };
          hookSet = false;
          sections.push(current);
        }
        current.operators.push(parseOperator(words));
      } else {
        throw new Error(`"${keyword}" is not supported by remapd's header_rewrite (cond, set-header, add-header, rm-header)`);
      }
    } catch (err) {
      errors.push({ line: lineNo, message: (err as Error).message });
      if (current) failed.add(current);
    }
  }
  for (const s of sections) {
    if (s.operators.length === 0 && !failed.has(s)) {
      errors.push({ line: s.line, message: 'this section has conditions but no operator' });
    }
  }
  // The section errors above come after the line errors; a reader scans a file top to bottom.
  errors.sort((a, b) => a.line - b.line);
  return { sections, errors };
}
