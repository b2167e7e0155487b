/**
 * The header_rewrite rules language remapd accepts (src/plugins/header-rewrite/rules-file.ts): words, sections,
 * hooks, conditions, operators, and every way a file is refused, each with its line.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type MessageView, parseRulesFile, type Section, splitWords } from '../../src/plugins/header-rewrite/rules-file.js';

const FILE = '/etc/remapd/rules.conf';

/** Parses text that must be valid and returns its sections. */
function sections(text: string): Section[] {
  const { sections: out, errors } = parseRulesFile(text, FILE);
  assert.deepEqual(errors, []);
  return out;
}

/** Parses text that must be refused and returns its errors. */
function errors(text: string): { line: number; message: string }[] {
  const { errors: out } = parseRulesFile(text, FILE);
  assert.ok(out.length > 0, 'expected the file to be refused');
  return out;
}

/** A message to test conditions against; header lookups are case-insensitive as on the wire. */
function msg(options: { method?: string; status?: number | null; client?: Record<string, string>; headers?: Record<string, string> } = {}): MessageView {
  const lookup = (h: Record<string, string> | undefined) => (name: string) =>
    Object.entries(h ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  return {
    method: options.method ?? 'GET',
    status: options.status ?? null,
    clientHeader: lookup(options.client),
    header: lookup(options.headers),
  };
}

/** The single condition of a one-section file with a dummy operator. */
function condition(line: string, hook = '') {
  const s = sections(`${hook ? `cond %{${hook}}\n` : ''}${line}\nset-header X-Hit 1\n`);
  assert.equal(s.length, 1);
  assert.equal(s[0]!.conditions.length, 1);
  return s[0]!.conditions[0]!;
}

describe('splitWords', () => {
  test('splits on runs of spaces and tabs', () => {
    assert.deepEqual(splitWords('set-header \t X-A   b'), [
      { text: 'set-header', quoted: false },
      { text: 'X-A', quoted: false },
      { text: 'b', quoted: false },
    ]);
  });

  test('keeps spaces inside double quotes and marks the word quoted', () => {
    assert.deepEqual(splitWords('set-header X-A "a value  with spaces"'), [
      { text: 'set-header', quoted: false },
      { text: 'X-A', quoted: false },
      { text: 'a value  with spaces', quoted: true },
    ]);
  });

  test('unescapes \\" and \\\\ inside quotes', () => {
    assert.deepEqual(splitWords('"say \\"hi\\" \\\\o/"'), [{ text: 'say "hi" \\o/', quoted: true }]);
  });

  test('an empty quoted string is a word', () => {
    assert.deepEqual(splitWords('set-header X-Empty ""'), [
      { text: 'set-header', quoted: false },
      { text: 'X-Empty', quoted: false },
      { text: '', quoted: true },
    ]);
  });

  test('a backslash outside quotes is an ordinary character', () => {
    assert.deepEqual(splitWords('a\\b'), [{ text: 'a\\b', quoted: false }]);
  });

  test('an unterminated quote throws, also when its last quote is escaped', () => {
    assert.throws(() => splitWords('set-header X-A "open'), /unterminated quoted string/);
    assert.throws(() => splitWords('set-header X-A "open\\"'), /unterminated quoted string/);
  });

  test('a blank line has no words', () => {
    assert.deepEqual(splitWords('   \t '), []);
  });
});

describe('parseRulesFile: sections and hooks', () => {
  test('an empty file, blank lines and comments give no sections and no errors', () => {
    assert.deepEqual(parseRulesFile('', FILE), { sections: [], errors: [] });
    assert.deepEqual(parseRulesFile('\n  # a comment\n\t\n# another\n', FILE), { sections: [], errors: [] });
  });

  test('operators without a cond form one unconditional section in REMAP_PSEUDO_HOOK', () => {
    const s = sections('set-header X-A 1\nrm-header X-B\n');
    assert.equal(s.length, 1);
    assert.equal(s[0]!.hook, 'remap');
    assert.equal(s[0]!.file, FILE);
    assert.equal(s[0]!.line, 1);
    assert.deepEqual(s[0]!.conditions, []);
    assert.deepEqual(
      s[0]!.operators.map((o) => [o.op, o.name]),
      [
        ['set-header', 'X-A'],
        ['rm-header', 'X-B'],
      ],
    );
  });

  test('each ATS hook name selects the remapd hook that runs at that point', () => {
    const expected: [string, Section['hook']][] = [
      ['READ_REQUEST_HDR_HOOK', 'remap'],
      ['READ_REQUEST_PRE_REMAP_HOOK', 'remap'],
      ['REMAP_PSEUDO_HOOK', 'remap'],
      ['SEND_REQUEST_HDR_HOOK', 'sendRequest'],
      ['READ_RESPONSE_HDR_HOOK', 'readResponse'],
      ['SEND_RESPONSE_HDR_HOOK', 'sendResponse'],
    ];
    for (const [ats, hook] of expected) {
      const s = sections(`cond %{${ats}} [AND]\nset-header X-A 1\n`);
      assert.equal(s.length, 1, ats);
      assert.equal(s[0]!.hook, hook, ats);
      assert.deepEqual(s[0]!.conditions, [], `${ats} is a hook, not a condition`);
    }
  });

  test('a cond after an operator starts a new section; each keeps its own hook and first line', () => {
    const s = sections(
      [
        '# secret user agent for the bucket policy',
        'set-header User-Agent "secret ua"',
        '',
        'cond %{SEND_REQUEST_HDR_HOOK}',
        'cond %{METHOD} =GET',
        'set-header Referer https://example.com/',
        'add-header X-Two 2',
        'cond %{READ_RESPONSE_HDR_HOOK}',
        'cond %{STATUS} >399',
        'set-header Cache-Control no-store',
        'cond %{CLIENT-HEADER:X-Debug} =1',
        'add-header X-Debug-Seen yes',
      ].join('\n'),
    );
    assert.deepEqual(
      s.map((x) => [x.hook, x.line, x.conditions.length, x.operators.length]),
      [
        ['remap', 2, 0, 1],
        ['sendRequest', 4, 1, 2],
        ['readResponse', 8, 1, 1],
        ['remap', 11, 1, 1],
      ],
    );
  });

  test('line numbers count CRLF lines like LF lines', () => {
    const { sections: s, errors: e } = parseRulesFile('# one\r\nset-header X-A 1\r\n\r\nbogus\r\n', FILE);
    assert.equal(s[0]!.line, 2);
    assert.deepEqual(e.map((x) => x.line), [4]);
  });
});

describe('parseRulesFile: operators', () => {
  test('set-header, add-header and rm-header keep name and value as written', () => {
    const [s] = sections('set-header X-Secret "value with spaces"\nadd-header x-lower v\nrm-header Referer\n');
    assert.deepEqual(s!.operators, [
      { op: 'set-header', name: 'X-Secret', value: 'value with spaces', last: false },
      { op: 'add-header', name: 'x-lower', value: 'v', last: false },
      { op: 'rm-header', name: 'Referer', value: '', last: false },
    ]);
  });

  test('[L] marks an operator as the last section of its hook', () => {
    const [s] = sections('set-header X-A 1 [L]\nrm-header X-B [L]\nadd-header X-C "" [l]\n');
    assert.deepEqual(
      s!.operators.map((o) => [o.name, o.value, o.last]),
      [
        ['X-A', '1', true],
        ['X-B', '', true],
        ['X-C', '', true],
      ],
    );
  });

  test('a quoted "[L]" is a value, not a modifier', () => {
    const [s] = sections('set-header X-A "[L]"\n');
    assert.deepEqual(s!.operators[0], { op: 'set-header', name: 'X-A', value: '[L]', last: false });
  });
});

describe('parseRulesFile: conditions', () => {
  test('%{TRUE} and %{FALSE} are constant', () => {
    assert.equal(condition('cond %{TRUE}').test(msg()), true);
    assert.equal(condition('cond %{FALSE}').test(msg()), false);
  });

  test('%{METHOD} =value is exact, and case-insensitive with [NOCASE]', () => {
    const exact = condition('cond %{METHOD} =GET');
    assert.equal(exact.test(msg({ method: 'GET' })), true);
    assert.equal(exact.test(msg({ method: 'get' })), false);
    assert.equal(exact.test(msg({ method: 'HEAD' })), false);
    const nocase = condition('cond %{METHOD} =get [NOCASE]');
    assert.equal(nocase.test(msg({ method: 'GET' })), true);
  });

  test('%{METHOD} /regex/ matches anywhere unless anchored', () => {
    const c = condition('cond %{METHOD} /^(PUT|POST)$/');
    assert.equal(c.test(msg({ method: 'PUT' })), true);
    assert.equal(c.test(msg({ method: 'POST' })), true);
    assert.equal(c.test(msg({ method: 'GET' })), false);
  });

  test('%{STATUS} compares numbers with <, > and = in response hooks', () => {
    const gt = condition('cond %{STATUS} >399', 'READ_RESPONSE_HDR_HOOK');
    assert.equal(gt.kind, 'STATUS');
    assert.equal(gt.test(msg({ status: 404 })), true);
    assert.equal(gt.test(msg({ status: 399 })), false);
    const lt = condition('cond %{STATUS} <300', 'SEND_RESPONSE_HDR_HOOK');
    assert.equal(lt.test(msg({ status: 204 })), true);
    assert.equal(lt.test(msg({ status: 304 })), false);
    const eq = condition('cond %{STATUS} =404', 'SEND_RESPONSE_HDR_HOOK');
    assert.equal(eq.test(msg({ status: 404 })), true);
    assert.equal(eq.test(msg({ status: 4040 })), false);
    assert.equal(eq.test(msg({ status: null })), false);
  });

  test('%{CLIENT-HEADER:Name} reads the client request, %{HEADER:Name} the message of the hook', () => {
    const client = condition('cond %{CLIENT-HEADER:X-Tier} =gold');
    assert.equal(client.test(msg({ client: { 'x-tier': 'gold' }, headers: {} })), true);
    assert.equal(client.test(msg({ client: {}, headers: { 'X-Tier': 'gold' } })), false);
    const own = condition('cond %{HEADER:X-Tier} =gold');
    assert.equal(own.test(msg({ client: {}, headers: { 'X-Tier': 'gold' } })), true);
    assert.equal(own.test(msg({ client: { 'X-Tier': 'gold' }, headers: {} })), false);
  });

  test('a header condition on an absent header is false for =, /regex/, < and >', () => {
    for (const line of ['cond %{CLIENT-HEADER:X-None} =', 'cond %{CLIENT-HEADER:X-None} /.*/']) {
      assert.equal(condition(line).test(msg()), false, line);
    }
    assert.equal(condition('cond %{STATUS} >0', 'SEND_RESPONSE_HDR_HOOK').test(msg({ status: null })), false);
  });

  test('[NOCASE] applies to header regexes and =values', () => {
    const re = condition('cond %{CLIENT-HEADER:User-Agent} /bot/ [NOCASE]');
    assert.equal(re.test(msg({ client: { 'User-Agent': 'GoogleBOT/2.1' } })), true);
    assert.equal(condition('cond %{CLIENT-HEADER:User-Agent} /bot/').test(msg({ client: { 'User-Agent': 'GoogleBOT/2.1' } })), false);
    const eq = condition('cond %{HEADER:Content-Type} =text/html [NOCASE]');
    assert.equal(eq.test(msg({ headers: { 'content-type': 'TEXT/HTML' } })), true);
  });

  test('a quoted operand may contain spaces', () => {
    const c = condition('cond %{CLIENT-HEADER:X-Who} "=a b"');
    assert.equal(c.test(msg({ client: { 'X-Who': 'a b' } })), true);
  });

  test('[NOT] and [OR] are recorded on the condition; [AND] is the default', () => {
    const s = sections('cond %{METHOD} =GET [NOT,OR]\ncond %{METHOD} =HEAD [AND]\ncond %{TRUE} [not]\nset-header X-A 1\n');
    assert.deepEqual(
      s[0]!.conditions.map((c) => [c.kind, c.not, c.or]),
      [
        ['METHOD', true, true],
        ['METHOD', false, false],
        ['TRUE', true, false],
      ],
    );
  });
});

describe('parseRulesFile: errors, each with its line', () => {
  test('an unknown operator', () => {
    assert.deepEqual(errors('set-header X-A 1\nset-status 403\n'), [
      { line: 2, message: '"set-status" is not supported by remapd\'s header_rewrite (cond, set-header, add-header, rm-header)' },
    ]);
  });

  test('an unknown condition', () => {
    const e = errors('cond %{PATH} /x/\nset-header X-A 1\n');
    assert.deepEqual(e, [{ line: 1, message: "condition %{PATH} is not supported by remapd's header_rewrite" }]);
  });

  test('a cond without a %{CONDITION}', () => {
    assert.deepEqual(errors('cond\nset-header X-A 1\n'), [{ line: 1, message: 'cond needs a %{CONDITION}' }]);
    assert.deepEqual(errors('cond METHOD =GET\nset-header X-A 1\n'), [{ line: 1, message: 'cond needs a %{CONDITION}' }]);
  });

  test('an unknown condition modifier, including the operator-only [L]', () => {
    assert.deepEqual(errors('cond %{METHOD} =GET [CASE]\nset-header X-A 1\n'), [{ line: 1, message: 'unknown condition modifier [CASE]' }]);
    assert.deepEqual(errors('set-header X-A 1\ncond %{TRUE} [L]\nset-header X-B 1\n'), [{ line: 2, message: 'unknown condition modifier [L]' }]);
  });

  test('an unknown operator modifier', () => {
    assert.deepEqual(errors('set-header X-A 1 [QSA]\n'), [{ line: 1, message: 'unknown operator modifier [QSA]' }]);
    assert.deepEqual(errors('rm-header X-A [L,NOT]\n'), [{ line: 1, message: 'unknown operator modifier [NOT]' }]);
  });

  test('[AND] and [OR] together', () => {
    assert.deepEqual(errors('cond %{TRUE} [AND,OR]\nset-header X-A 1\n'), [
      { line: 1, message: '[AND] and [OR] cannot both modify one condition' },
    ]);
  });

  test('%{STATUS} in a request hook, explicit or default', () => {
    assert.deepEqual(errors('cond %{STATUS} =200\nset-header X-A 1\n'), [
      { line: 1, message: '%{STATUS} is only known in READ_RESPONSE_HDR_HOOK and SEND_RESPONSE_HDR_HOOK sections' },
    ]);
    for (const hook of ['REMAP_PSEUDO_HOOK', 'READ_REQUEST_HDR_HOOK', 'SEND_REQUEST_HDR_HOOK']) {
      const e = errors(`set-header X-A 1\ncond %{${hook}}\ncond %{STATUS} >399\nset-header X-A 1\n`);
      assert.deepEqual(e.map((x) => x.line), [3], hook);
      assert.match(e[0]!.message, /%\{STATUS\} is only known in READ_RESPONSE_HDR_HOOK/);
    }
  });

  test('a hook condition that is not the first of its section', () => {
    assert.deepEqual(errors('cond %{METHOD} =GET\ncond %{SEND_REQUEST_HDR_HOOK}\nset-header X-A 1\n'), [
      { line: 2, message: '%{SEND_REQUEST_HDR_HOOK} must be the first condition of a section' },
    ]);
    assert.deepEqual(errors('cond %{READ_RESPONSE_HDR_HOOK}\ncond %{SEND_RESPONSE_HDR_HOOK}\nset-header X-A 1\n'), [
      { line: 2, message: '%{SEND_RESPONSE_HDR_HOOK} must be the first condition of a section' },
    ]);
  });

  test('a hook condition with an operand or a modifier other than [AND]', () => {
    assert.deepEqual(errors('cond %{SEND_REQUEST_HDR_HOOK} =x\nset-header X-A 1\n'), [
      { line: 1, message: '%{SEND_REQUEST_HDR_HOOK} takes no operand' },
    ]);
    assert.deepEqual(errors('cond %{READ_RESPONSE_HDR_HOOK} [NOT]\nset-header X-A 1\n'), [
      { line: 1, message: '%{READ_RESPONSE_HDR_HOOK} takes no [NOT] modifier' },
    ]);
  });

  test('a section with conditions but no operator, at the line the section starts', () => {
    assert.deepEqual(errors('set-header X-A 1\n\ncond %{SEND_REQUEST_HDR_HOOK}\ncond %{METHOD} =GET\n'), [
      { line: 3, message: 'this section has conditions but no operator' },
    ]);
  });

  test('variables in values, %{…} and %<…>', () => {
    assert.deepEqual(errors('set-header X-Host %{CLIENT-HEADER:Host}\nadd-header X-Log "m=%<cqhm>"\n'), [
      { line: 1, message: "variables in values (%{CLIENT-HEADER:Host}) are not supported by remapd's header_rewrite" },
      { line: 2, message: "variables in values (m=%<cqhm>) are not supported by remapd's header_rewrite" },
    ]);
  });

  test('an unterminated quote', () => {
    assert.deepEqual(errors('# ok\nset-header X-A "no end\n'), [{ line: 2, message: 'unterminated quoted string' }]);
  });

  test('a bad header name in an operator or a condition', () => {
    assert.deepEqual(errors('set-header X-A: 1\nrm-header "X A"\nadd-header X(A) 1\n'), [
      { line: 1, message: '"X-A:" is not a valid header name' },
      { line: 2, message: '"X A" is not a valid header name' },
      { line: 3, message: '"X(A)" is not a valid header name' },
    ]);
    assert.deepEqual(errors('cond %{CLIENT-HEADER:X@Y} =1\nset-header X-A 1\n'), [{ line: 1, message: '"X@Y" is not a valid header name' }]);
  });

  test('a value with a NUL', () => {
    assert.deepEqual(errors('set-header X-A "a\0b"\n'), [{ line: 1, message: 'header values cannot contain CR, LF or NUL' }]);
  });

  test('wrong operator arity', () => {
    assert.deepEqual(errors('set-header\nset-header X-A\nadd-header X-A one two\nrm-header X-A X-B\n'), [
      { line: 1, message: 'set-header needs a header name' },
      { line: 2, message: 'set-header needs a header name and a value' },
      { line: 3, message: 'add-header takes one value; quote values with spaces ("like this")' },
      { line: 4, message: 'rm-header takes one header name; unexpected "X-B"' },
    ]);
  });

  test('bad operands', () => {
    const e = errors(
      [
        'cond %{METHOD}', // 1: missing operand
        'cond %{METHOD} GET', // 2: no =
        'cond %{METHOD} >1', // 3: < and > are for numbers
        'cond %{CLIENT-HEADER:X-A} =a b', // 4: unquoted space
        'cond %{CLIENT-HEADER:X-A} /(unclosed/', // 5: bad regex
        'cond %{TRUE} =yes', // 6: TRUE takes nothing
        'set-header X-A 1',
        'cond %{READ_RESPONSE_HDR_HOOK}',
        'cond %{STATUS} >abc', // 9
        'set-header X-A 1',
      ].join('\n'),
    );
    assert.deepEqual(e.map((x) => x.line), [1, 2, 3, 4, 5, 6, 9]);
    assert.equal(e[0]!.message, '%{METHOD} needs an operand (e.g. =value or /regex/)');
    assert.equal(e[1]!.message, 'operand "GET" must be =value, <n, >n or /regex/');
    assert.equal(e[2]!.message, '">1": < and > compare numbers (e.g. >399)');
    assert.equal(e[3]!.message, 'unexpected "b" (quote operands with spaces)');
    assert.match(e[4]!.message, /Invalid regular expression/);
    assert.equal(e[5]!.message, '%{TRUE} takes no operand');
    assert.equal(e[6]!.message, '">abc": < and > compare numbers (e.g. >399)');
  });

  test('every error of a file is reported, in line order, and sections still come back', () => {
    const { sections: s, errors: e } = parseRulesFile(
      [
        'set-header X-Good 1', // 1
        'set-status 403', // 2
        'cond %{PATH} /x/', // 3
        'set-header X-A %{NOW}', // 4
        'cond %{SEND_REQUEST_HDR_HOOK}', // 5
        'cond %{STATUS} =200', // 6
        'rm-header "X-B', // 7
        'set-header X-C 1 [Z]', // 8
        'cond %{READ_RESPONSE_HDR_HOOK}', // 9
      ].join('\n'),
      FILE,
    );
    assert.deepEqual(
      e.map((x) => x.line),
      [2, 3, 4, 6, 7, 8, 9],
    );
    assert.equal(e.at(-1)!.message, 'this section has conditions but no operator');
    assert.deepEqual(
      s.map((x) => [x.line, x.hook]),
      [
        [1, 'remap'],
        [3, 'remap'],
        [5, 'sendRequest'],
        [9, 'readResponse'],
      ],
    );
  });

  test('a refused operator still ends its section: the next hook is not reported as misplaced', () => {
    assert.deepEqual(errors('cond %{TRUE}\nset-status 403\ncond %{SEND_REQUEST_HDR_HOOK}\nset-header X-A 1\n'), [
      { line: 2, message: '"set-status" is not supported by remapd\'s header_rewrite (cond, set-header, add-header, rm-header)' },
    ]);
    assert.deepEqual(errors('cond %{TRUE}\nset-header X-A %{NOW}\ncond %{READ_RESPONSE_HDR_HOOK}\ncond %{STATUS} =200\nset-header X-A 1\n'), [
      { line: 2, message: "variables in values (%{NOW}) are not supported by remapd's header_rewrite" },
    ]);
  });
});
