/**
 * Logical lines of remap.config: comments, blank lines, trailing-backslash continuation, CRLF, and the line number
 * every message is pinned to.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitLogicalLines } from '../../src/remap/config-lines.js';

test('splits a line into tokens on runs of spaces and tabs', () => {
  assert.deepEqual(splitLogicalLines('map \t http://a/\t\thttp://b/   @plugin=x.so'), [
    { line: 1, tokens: ['map', 'http://a/', 'http://b/', '@plugin=x.so'] },
  ]);
});

test('drops blank lines, whitespace-only lines and comment lines but keeps the physical line numbers', () => {
  const text = ['# header comment', '', '   ', 'map http://a/ http://b/', '\t# indented comment', 'map http://c/ http://d/', ''].join('\n');
  assert.deepEqual(splitLogicalLines(text), [
    { line: 4, tokens: ['map', 'http://a/', 'http://b/'] },
    { line: 6, tokens: ['map', 'http://c/', 'http://d/'] },
  ]);
});

test('a trailing backslash joins the next physical line and the rule keeps the number of its first line', () => {
  const text = ['# comment', 'map http://a/ \\', '    http://b/ \\', '    @plugin=x.so', 'map http://c/ http://d/'].join('\n');
  assert.deepEqual(splitLogicalLines(text), [
    { line: 2, tokens: ['map', 'http://a/', 'http://b/', '@plugin=x.so'] },
    { line: 5, tokens: ['map', 'http://c/', 'http://d/'] },
  ]);
});

test('a backslash glued to a token still separates it from the next line', () => {
  assert.deepEqual(splitLogicalLines('map http://a/\\\nhttp://b/'), [{ line: 1, tokens: ['map', 'http://a/', 'http://b/'] }]);
});

test('spaces and tabs after the trailing backslash do not stop the continuation', () => {
  assert.deepEqual(splitLogicalLines('map http://a/ \\  \t\n  http://b/'), [{ line: 1, tokens: ['map', 'http://a/', 'http://b/'] }]);
});

test('a backslash on the last line of the file ends the rule instead of losing it', () => {
  assert.deepEqual(splitLogicalLines('map http://a/ \\\n  http://b/ \\'), [{ line: 1, tokens: ['map', 'http://a/', 'http://b/'] }]);
});

test('CRLF line endings give the same lines and tokens as LF, with no stray carriage returns', () => {
  const lf = '# c\nmap http://a/ \\\n  http://b/\n\nmap http://c/ http://d/\n';
  const crlf = lf.replace(/\n/g, '\r\n');
  assert.deepEqual(splitLogicalLines(crlf), splitLogicalLines(lf));
  for (const l of splitLogicalLines(crlf)) for (const t of l.tokens) assert.ok(!t.includes('\r'), JSON.stringify(t));
});

test('a # after a rule is kept as tokens so the parser can report it', () => {
  assert.deepEqual(splitLogicalLines('map http://a/ http://b/ # note'), [
    { line: 1, tokens: ['map', 'http://a/', 'http://b/', '#', 'note'] },
  ]);
});

test('an empty text has no lines', () => {
  assert.deepEqual(splitLogicalLines(''), []);
  assert.deepEqual(splitLogicalLines('\n\n# only a comment\n'), []);
});
