/**
 * One origin fetch shared by its readers (request coalescing, read-while-writer): every reader gets every byte as
 * it arrives, a late reader the replay first; the replay buffer is dropped past the store's limit; the origin is
 * read as fast as the slowest reader; a failed body cuts every reader; the origin is aborted when nobody is left.
 * The origin body is a PassThrough and the clients are Writables that record what they are sent.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { PassThrough, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { Fill, type FillReader } from '../../src/cache/fill.js';
import type { CacheEntry } from '../../src/cache/object-store.js';
import type { ResponseHead } from '../../src/plugins/api.js';
import { HeaderList } from '../../src/proxy/header-list.js';

const AGE = { requestTime: 0, responseTime: 0, dateValue: 0, ageValue: 0 };

const MiB = 1024 * 1024;

/** A client connection. With `hold`, each write stays pending (so write() returns false past the mark) until release(). */
class Client extends Writable {
  readonly received: Buffer[] = [];
  ended = false;
  #hold: boolean;
  readonly #held: (() => void)[] = [];

  constructor(opts: { hold?: boolean; highWaterMark?: number } = {}) {
    super({ highWaterMark: opts.highWaterMark ?? 16 * 1024 });
    this.#hold = opts.hold ?? false;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.received.push(chunk);
    if (this.#hold) this.#held.push(() => callback());
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ended = true;
    callback();
  }

  /** Lets every pending write complete; later writes complete at once. */
  release(): void {
    this.#hold = false;
    for (const done of this.#held.splice(0)) done();
  }

  get text(): string {
    return Buffer.concat(this.received).toString();
  }
}

interface TestReader extends FillReader {
  readonly client: Client;
  bytes: number;
  fails: number;
}

function reader(client = new Client()): TestReader {
  const r: TestReader = {
    res: client as unknown as ServerResponse,
    client,
    bytes: 0,
    fails: 0,
    onBytes(n) {
      r.bytes += n;
    },
    onFail() {
      r.fails++;
    },
  };
  return r;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits, a bounded number of event-loop turns, for `condition`. */
async function until(condition: () => boolean, what: string, turns = 100): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (condition()) return;
    await tick();
  }
  assert.fail(`timed out waiting for: ${what}`);
}

/** Tracks a promise's value without awaiting it (a pump that never settles must fail the test, not hang it). */
function track<T>(p: Promise<T>): { value: T | undefined; settled: boolean } {
  const t: { value: T | undefined; settled: boolean } = { value: undefined, settled: false };
  void p.then((v) => {
    t.value = v;
    t.settled = true;
  });
  return t;
}

const head = (): ResponseHead => ({ status: 200, headers: new HeaderList(['Content-Type', 'text/plain']) });
const noDrop = () => assert.fail('the replay buffer was dropped');

describe('Fill: readers get the body as it arrives', () => {
  test('readers attached before the first chunk get every byte, then the end', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const a = reader();
    const b = reader();
    assert.equal(fill.attach(a), true);
    assert.equal(fill.attach(b), true);
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('hello ');
    await until(() => a.client.text === 'hello ' && b.client.text === 'hello ', 'the first chunk, before the end');
    assert.equal(a.client.ended, false);
    body.end('world');
    assert.equal(await pumped, true);
    await until(() => a.client.ended && b.client.ended, 'both ended');
    for (const r of [a, b]) {
      assert.equal(r.client.text, 'hello world');
      assert.equal(r.bytes, 11);
      assert.equal(r.fails, 0);
    }
    assert.equal(fill.done, true);
    assert.equal(fill.failed, false);
    assert.equal(fill.size, 11);
    assert.equal(Buffer.concat(fill.chunks!).toString(), 'hello world');
    assert.equal(fill.controller.aborted, false, 'readers closing after the end do not abort');
  });

  test('a late reader gets the replay of the chunks so far, then the rest', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const first = reader();
    fill.attach(first);
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('ab');
    body.write('cd');
    await until(() => first.client.text === 'abcd', 'two chunks');
    const late = reader();
    assert.equal(fill.attach(late), true);
    await until(() => late.client.text === 'abcd', 'the replay');
    assert.equal(late.bytes, 4);
    body.write('ef');
    body.end('gh');
    assert.equal(await pumped, true);
    await until(() => first.client.ended && late.client.ended, 'both ended');
    assert.equal(first.client.text, 'abcdefgh');
    assert.equal(late.client.text, 'abcdefgh');
  });

  test('a reader that comes after the end, while the buffer is kept, gets the whole body and the end', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    fill.attach(reader());
    const pumped = fill.pump(body, MiB, noDrop);
    body.end('all of it');
    await pumped;
    const late = reader();
    assert.equal(fill.attach(late), true);
    await until(() => late.client.ended, 'the late reader ended');
    assert.equal(late.client.text, 'all of it');
  });

  test('a reader whose connection closes stops receiving; the others go on', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const leaving = reader();
    const staying = reader();
    fill.attach(leaving);
    fill.attach(staying);
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('one ');
    await until(() => leaving.client.text === 'one ', 'the first chunk');
    leaving.client.destroy();
    await until(() => leaving.client.closed, 'the leaving reader closed');
    body.end('two');
    assert.equal(await pumped, true);
    await until(() => staying.client.ended, 'the staying reader ended');
    assert.equal(staying.client.text, 'one two');
    assert.equal(leaving.client.text, 'one ');
    assert.equal(fill.controller.aborted, false);
  });
});

describe('Fill: the replay buffer', () => {
  test('is dropped when the body outgrows the limit: nobody new joins, attached readers keep streaming', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const early = reader();
    fill.attach(early);
    let drops = 0;
    const pumped = fill.pump(body, 5, () => drops++);
    fill.settle({ kind: 'stream', head: head(), shared: true, age: AGE });
    body.write('abc');
    await until(() => early.client.text === 'abc', 'the first chunk');
    assert.equal(fill.joinable, true);
    const joinedInTime = reader();
    assert.equal(fill.attach(joinedInTime), true);

    body.write('def');
    await until(() => early.client.text === 'abcdef', 'the chunk past the limit');
    assert.equal(drops, 1);
    assert.equal(fill.chunks, null);
    assert.equal(fill.joinable, false);
    const tooLate = reader();
    assert.equal(fill.attach(tooLate), false);

    body.end('ghi');
    assert.equal(await pumped, true);
    assert.equal(drops, 1, 'onDrop is called once');
    await until(() => early.client.ended && joinedInTime.client.ended, 'the attached readers ended');
    assert.equal(early.client.text, 'abcdefghi');
    assert.equal(joinedInTime.client.text, 'abcdefghi');
    assert.deepEqual(tooLate.client.received, []);
    assert.equal(fill.size, 9);
    assert.equal(fill.attach(reader()), false, 'nor after the end');
  });

  test('without a buffer from the start (too large to store), readers there before the first byte still get it all', async () => {
    const fill = new Fill('k', false);
    fill.chunks = null;
    const body = new PassThrough();
    const a = reader();
    assert.equal(fill.attach(a), true);
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('big ');
    await until(() => a.client.text === 'big ', 'the first chunk');
    assert.equal(fill.attach(reader()), false);
    body.end('object');
    assert.equal(await pumped, true);
    await until(() => a.client.ended, 'ended');
    assert.equal(a.client.text, 'big object');
  });
});

describe('Fill: back-pressure', () => {
  test("pauses the origin body while a reader's write returns false, and resumes it on drain", async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const slow = reader(new Client({ hold: true, highWaterMark: 4 }));
    const fast = reader();
    fill.attach(slow);
    fill.attach(fast);
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('12345678');
    await until(() => fast.client.text === '12345678', 'the first chunk');
    assert.equal(body.isPaused(), true);
    body.write('abcd');
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(fast.client.text, '12345678', 'nothing more is read while the slow reader is full');

    slow.client.release();
    await until(() => fast.client.text === '12345678abcd', 'the next chunk after drain');
    assert.equal(body.isPaused(), false);
    body.end();
    assert.equal(await pumped, true);
    await until(() => slow.client.ended && fast.client.ended, 'both ended');
    assert.equal(slow.client.text, '12345678abcd');
  });

  test('stays paused until every blocked reader has drained', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const s1 = reader(new Client({ hold: true, highWaterMark: 2 }));
    const s2 = reader(new Client({ hold: true, highWaterMark: 2 }));
    const fast = reader();
    for (const r of [s1, s2, fast]) fill.attach(r);
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('xxxx');
    await until(() => fast.client.text === 'xxxx', 'the first chunk');
    body.write('yy');
    s1.client.release();
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(body.isPaused(), true);
    assert.equal(fast.client.text, 'xxxx');
    s2.client.release();
    await until(() => fast.client.text === 'xxxxyy', 'the next chunk after both drained');
    body.end();
    assert.equal(await pumped, true);
  });

  test('a blocked reader that leaves no longer holds the body', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const stuck = reader(new Client({ hold: true, highWaterMark: 2 }));
    const fast = reader();
    fill.attach(stuck);
    fill.attach(fast);
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('xxxx');
    await until(() => body.isPaused(), 'paused');
    body.write('yy');
    stuck.client.destroy();
    await until(() => fast.client.text === 'xxxxyy', 'the next chunk after the blocked reader left');
    body.end();
    assert.equal(await pumped, true);
    assert.equal(fill.controller.aborted, false);
  });
});

describe('Fill: a failed origin body', () => {
  test('cuts every reader (onFail, destroy, never an end), calls onBodyError once, and marks the fill failed', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const a = reader();
    const b = reader();
    fill.attach(a);
    fill.attach(b);
    const errors: Error[] = [];
    fill.onBodyError = (err) => errors.push(err);
    const pumped = fill.pump(body, MiB, noDrop);
    fill.settle({ kind: 'stream', head: head(), shared: true, age: AGE });
    body.write('partial');
    await until(() => a.client.text === 'partial', 'the first chunk');
    body.destroy(new Error('origin reset'));
    assert.equal(await pumped, false);
    assert.equal(fill.failed, true);
    assert.equal(fill.done, false);
    assert.equal(fill.chunks, null, 'nothing partial is kept');
    assert.equal(fill.joinable, false);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.message, 'origin reset');
    for (const r of [a, b]) {
      assert.equal(r.fails, 1);
      assert.equal(r.client.destroyed, true);
      assert.equal(r.client.ended, false);
    }
    const late = reader();
    fill.attach(late);
    assert.equal(late.client.destroyed, true, 'a reader attaching after the failure is cut too');
    assert.equal(late.client.ended, false);
  });

  test('a body that closes before its end without an error cuts every reader too', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const a = reader();
    fill.attach(a);
    const pumped = track(fill.pump(body, MiB, noDrop));
    body.write('partial');
    await until(() => a.client.text === 'partial', 'the first chunk');
    body.destroy();
    await until(() => pumped.settled, 'the pump settled after a premature close', 20);
    assert.equal(pumped.value, false);
    assert.equal(fill.failed, true);
    assert.equal(a.client.destroyed, true);
    assert.equal(a.client.ended, false);
  });

  test('an error after every reader left (the fetch was aborted) does not call onBodyError', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const a = reader();
    fill.attach(a);
    let errors = 0;
    fill.onBodyError = () => errors++;
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('x');
    a.client.destroy();
    await until(() => fill.controller.aborted, 'aborted');
    body.destroy(new Error('aborted'));
    assert.equal(await pumped, false);
    assert.equal(errors, 0);
  });
});

describe('Fill: aborting the origin', () => {
  test('the last reader leaving before the end aborts the fetch', async () => {
    const fill = new Fill('k', false);
    const body = new PassThrough();
    const a = reader();
    const b = reader();
    fill.attach(a);
    fill.attach(b);
    void fill.pump(body, MiB, noDrop);
    body.write('x');
    a.client.destroy();
    await until(() => a.client.closed, 'a closed');
    await tick();
    assert.equal(fill.controller.aborted, false, 'one reader is still there');
    b.client.destroy();
    await until(() => fill.controller.aborted, 'aborted after the last reader left');
    body.destroy();
  });

  test('a background fill (revalidation) goes on when every reader has left', async () => {
    const fill = new Fill('k', true);
    assert.equal(fill.background, true);
    const body = new PassThrough();
    const a = reader();
    fill.attach(a);
    const pumped = fill.pump(body, MiB, noDrop);
    body.write('x');
    a.client.destroy();
    await until(() => a.client.closed, 'a closed');
    for (let i = 0; i < 3; i++) await tick();
    assert.equal(fill.controller.aborted, false);
    body.end('yz');
    assert.equal(await pumped, true);
    assert.equal(Buffer.concat(fill.chunks!).toString(), 'xyz');
  });

  test('a pump with no reader at all aborts at once, unless in the background', () => {
    const alone = new Fill('k', false);
    void alone.pump(new PassThrough(), MiB, noDrop);
    assert.equal(alone.controller.aborted, true);
    const background = new Fill('k', true);
    void background.pump(new PassThrough(), MiB, noDrop);
    assert.equal(background.controller.aborted, false);
  });
});

describe('Fill: settle and headReady', () => {
  test('headReady resolves when the outcome is settled, not before', async () => {
    const fill = new Fill('the-key', false);
    assert.equal(fill.key, 'the-key');
    assert.equal(fill.background, false);
    const ready = track(fill.headReady);
    for (let i = 0; i < 3; i++) await tick();
    assert.equal(ready.settled, false);
    assert.deepEqual(fill.outcome, { kind: 'pending' });
    assert.equal(fill.joinable, true, 'a pending fill may be joined');
    const outcome = { kind: 'stream' as const, head: head(), shared: true, age: AGE };
    fill.settle(outcome);
    await fill.headReady;
    assert.equal(fill.outcome, outcome);
    assert.equal(fill.joinable, true);
  });

  test('only a shared stream with its replay buffer may be joined', () => {
    const notShared = new Fill('k', false);
    notShared.settle({ kind: 'stream', head: head(), shared: false, age: AGE });
    assert.equal(notShared.joinable, false);

    const entry: CacheEntry = {
      key: 'k',
      variantKey: 'k',
      status: 200,
      headers: [],
      body: Buffer.from('x'),
      age: { requestTime: 0, responseTime: 0, dateValue: 0, ageValue: 0 },
      freshness: { lifetime: 1, staleWhileRevalidate: 0, staleIfError: 0, mustRevalidate: false, noCache: false, source: 'max-age' },
      size: 1,
    };
    const fromEntry = new Fill('k', false);
    fromEntry.settle({ kind: 'entry', entry, status: 'hit', xCache: 'hit-fresh' });
    assert.equal(fromEntry.joinable, false);

    const failed = new Fill('k', false);
    failed.settle({ kind: 'error', error: new Error('down') });
    assert.equal(failed.joinable, false);
  });
});

describe('Fill: clients waiting for the head', () => {
  /** A response whose 'close' the test fires (a client that left). */
  const waiting = () => new PassThrough() as unknown as ServerResponse;

  test('the fetch is cancelled when the last client waiting for the head leaves, not before, and is then not joinable', () => {
    const fill = new Fill('k', false);
    const [a, b] = [waiting(), waiting()];
    fill.waitFor(a);
    fill.waitFor(b);
    a.emit('close');
    assert.equal(fill.controller.aborted, false, 'one client still waits');
    assert.equal(fill.joinable, true);
    b.emit('close');
    assert.equal(fill.controller.aborted, true);
    assert.equal(fill.joinable, false, 'a new request starts its own fetch');
  });

  test('clients leaving after the head do not cancel here (the readers decide then), nor does anyone cancel a background fill', () => {
    const settled = new Fill('k', false);
    const c = waiting();
    settled.waitFor(c);
    settled.settle({ kind: 'stream', head: head(), shared: true, age: AGE });
    c.emit('close');
    assert.equal(settled.controller.aborted, false);

    const background = new Fill('k', true);
    const d = waiting();
    background.waitFor(d);
    d.emit('close');
    assert.equal(background.controller.aborted, false);
  });
});
