/**
 * Test reporter: Node's spec reporter, then one closing line with the counts, e.g.
 *   # remapd tests: 212 passed, 0 failed, 0 skipped, 0 todo (212 total, 41 suites) in 38.2 s
 * so the last line of `npm test` says how it went.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { spec } from 'node:test/reporters';

interface TestEvent {
  type: string;
  data: { nesting?: number; message?: string };
}

export default class SummaryReporter extends Transform {
  private readonly inner: Transform = new (spec as unknown as new () => Transform)();
  private readonly counts = new Map<string, number>();

  constructor() {
    super({ writableObjectMode: true });
    this.inner.on('data', (chunk: Buffer | string) => this.push(chunk));
  }

  override _transform(event: TestEvent, _enc: BufferEncoding, done: TransformCallback): void {
    if (event.type === 'test:diagnostic' && event.data.nesting === 0 && event.data.message) {
      const m = /^(\w+) ([\d.]+)$/.exec(event.data.message);
      if (m) this.counts.set(m[1]!, Number(m[2]));
    }
    this.inner.write(event, done);
  }

  override _flush(done: TransformCallback): void {
    this.inner.end(() => {
      const c = (k: string) => this.counts.get(k) ?? 0;
      const seconds = (c('duration_ms') / 1000).toFixed(1);
      this.push(
        `\n# remapd tests: ${c('pass')} passed, ${c('fail')} failed, ${c('skipped')} skipped, ${c('todo')} todo, ` +
          `${c('cancelled')} cancelled (${c('tests')} total, ${c('suites')} suites) in ${seconds} s\n`,
      );
      done();
    });
  }
}
