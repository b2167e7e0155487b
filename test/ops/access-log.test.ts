import assert from 'node:assert/strict';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { AccessLog, type AccessLogEntry, formatJsonEntry } from '../../src/observability/access-log.js';
import { tempDir } from '../support/harness.js';

const entry = (url: string, over: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  time: Date.UTC(2026, 10, 23, 10, 0, 0, 123),
  client: '127.0.0.1',
  method: 'GET',
  url,
  status: 200,
  bytes: 1024,
  durationMs: 3.4,
  cache: 'hit',
  rule: 'remap.config:7',
  code: '-',
  ...over,
});

test('the json format has the text format fields, with "-" as null and credentials redacted', () => {
  assert.equal(
    formatJsonEntry(entry('/b/k?X-Amz-Signature=abc&x=1', { cache: '-' })),
    '{"time":"2026-11-23T10:00:00.123Z","client":"127.0.0.1","method":"GET","url":"/b/k?X-Amz-Signature=REDACTED&x=1",' +
      '"status":200,"bytes":1024,"duration_ms":3,"cache":null,"rule":"remap.config:7","code":null}\n',
  );
});

test('with maxWriteBytes, every write is whole lines within the limit (workers sharing a pipe)', async () => {
  const writes: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      writes.push(chunk.toString());
      done();
    },
  });
  const log = new AccessLog(sink, { maxWriteBytes: 4096 });
  for (let i = 0; i < 200; i++) log.write(entry(`/${'x'.repeat(i)}`));
  await new Promise((r) => setImmediate(r));
  assert.ok(writes.length > 1);
  for (const w of writes) {
    assert.ok(Buffer.byteLength(w) <= 4096, `a write of ${Buffer.byteLength(w)} bytes`);
    assert.ok(w.endsWith('\n'));
  }
  assert.equal(writes.join('').split('\n').filter(Boolean).length, 200);
});

test('reopen() starts a new file at the same path; lines logged before it stay in the renamed file', async (t) => {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const path = join(tmp.dir, 'access.log');
  const log = new AccessLog(path, { format: 'text' });
  log.write(entry('/before'));
  await new Promise((r) => setImmediate(r));
  renameSync(path, `${path}.1`);
  log.write(entry('/pending'));
  assert.equal(await log.reopen(), true);
  log.write(entry('/after'));
  await log.close();
  assert.match(readFileSync(`${path}.1`, 'utf8'), /GET \/before 200[^\n]*\n[^\n]*GET \/pending 200[^\n]*\n$/);
  assert.match(readFileSync(path, 'utf8'), /^[^\n]*GET \/after 200 1024 3 hit remap\.config:7 -\n$/);
  assert.equal(await new AccessLog('-').reopen(), false);
});

test('a file that cannot be opened is reported when the log is created', () => {
  assert.throws(() => new AccessLog('/nonexistent-dir/access.log'), /ENOENT/);
});
