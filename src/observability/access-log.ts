/**
 * Access log: one line per request, in one of two formats.
 *
 * `text` (default), squid/ATS-like, space-separated:
 *
 *   time client method url status bytes duration_ms cache rule code
 *
 * e.g. `2026-11-23T10:00:00.123Z 127.0.0.1 GET /b/k?X-Amz-Signature=REDACTED 200 1024 3 - remap.config:7 -`
 *
 * `json`: one JSON object per line with the same fields (`duration_ms` for duration; `-` becomes null), e.g.
 * `{"time":"2026-11-23T10:00:00.123Z","client":"127.0.0.1","method":"GET","url":"/b/k","status":200,"bytes":1024,
 * "duration_ms":3,"cache":"hit","rule":"remap.config:7","code":null}`.
 *
 * `url` is the client's request-target with credential-bearing query values replaced by REDACTED (presigned
 * URLs carry signatures and session tokens); `code` is the remapd error code or `-`; a response cut short is
 * logged with code `ABORTED`. Lines are batched and written once per tick, never synchronously per request.
 *
 * A file is opened O_APPEND and every write holds whole lines, so several workers may append to the same file;
 * `reopen()` (SIGUSR1) starts a new file at the same path after logrotate renamed the old one.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { AccessLogFormat } from '../settings.js';

export interface AccessLogEntry {
  time: number;
  client: string;
  method: string;
  url: string;
  status: number;
  bytes: number;
  durationMs: number;
  cache: string;
  rule: string;
  code: string;
}

/** Query parameters whose values are credentials (SigV4 and SigV2 presigned URLs). Lower-case. */
const SECRET_PARAMS = new Set([
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'signature',
  'awsaccesskeyid',
]);

/** Replaces the values of credential query parameters with REDACTED. */
export function redactUrl(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const parts = target.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    const name = eq >= 0 ? p.slice(0, eq) : p;
    let lower = name.toLowerCase();
    if (lower.includes('%')) {
      try {
        lower = decodeURIComponent(lower);
      } catch {
        // keep as is
      }
    }
    if (SECRET_PARAMS.has(lower) && eq >= 0) {
      parts[i] = `${name}=REDACTED`;
      changed = true;
    }
  }
  return changed ? `${target.slice(0, q)}?${parts.join('&')}` : target;
}

/** One line of the `text` format. */
export function formatEntry(e: AccessLogEntry): string {
  return (
    `${new Date(e.time).toISOString()} ${e.client} ${e.method} ${redactUrl(e.url)} ${e.status} ${e.bytes} ` +
    `${Math.round(e.durationMs)} ${e.cache} ${e.rule} ${e.code}\n`
  );
}

const orNull = (s: string): string | null => (s === '-' ? null : s);

/** One line of the `json` format: the text format's fields, `-` as null. */
export function formatJsonEntry(e: AccessLogEntry): string {
  return `${JSON.stringify({
    time: new Date(e.time).toISOString(),
    client: e.client,
    method: e.method,
    url: redactUrl(e.url),
    status: e.status,
    bytes: e.bytes,
    duration_ms: Math.round(e.durationMs),
    cache: orNull(e.cache),
    rule: orNull(e.rule),
    code: orNull(e.code),
  })}\n`;
}

const FORMATTERS: Record<AccessLogFormat, (e: AccessLogEntry) => string> = { text: formatEntry, json: formatJsonEntry };

export interface AccessLogOptions {
  format?: AccessLogFormat;
  /**
   * Largest single write, cut at line ends. Several processes writing to one pipe (workers sharing stdout) must
   * keep writes within PIPE_BUF (4096 on Linux) so that lines of different workers never interleave (POSIX
   * write(2): writes of at most PIPE_BUF bytes to a pipe are atomic). Unlimited by default.
   */
  maxWriteBytes?: number;
  /** Told when the file cannot be written (the lines are dropped and counted); default: one line on stderr. */
  onError?: (err: Error) => void;
}

/** Most bytes held while the destination is not draining; beyond it lines are dropped and counted. */
const MAX_PENDING = 8 * 1024 * 1024;

export class AccessLog {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private out: NodeJS.WritableStream | null;
  /** The file path when the log is a file this object opened (and reopens); else null. */
  private readonly path: string | null;
  private blocked = false;
  private failed = false;
  private readonly format: (e: AccessLogEntry) => string;
  private readonly maxWriteBytes: number;
  private readonly onError: (err: Error) => void;
  /** Lines dropped because the destination could not keep up or could not be written. */
  dropped = 0;

  /**
   * @param destination a file path (appended to; opened here, so a bad path throws now, not on the first line),
   *   '-' for stdout, 'off' for none, or a writable stream
   */
  constructor(destination: string | NodeJS.WritableStream, options: AccessLogOptions = {}) {
    this.format = FORMATTERS[options.format ?? 'text'];
    this.maxWriteBytes = options.maxWriteBytes ?? Infinity;
    this.onError = options.onError ?? ((err) => process.stderr.write(`remapd: access log: ${err.message}\n`));
    this.path = null;
    if (typeof destination !== 'string') {
      this.out = destination;
    } else if (destination === 'off') {
      this.out = null;
    } else if (destination === '-') {
      this.out = process.stdout;
    } else {
      this.path = destination;
      this.out = this.open(destination);
    }
  }

  get enabled(): boolean {
    return this.out !== null;
  }

  /** Opens `path` for appending, synchronously so that a path that cannot be written is reported at once. */
  private open(path: string): WriteStream {
    // O_APPEND: every write lands at the current end, also when other workers append to the same file.
    const fd = openSync(path, 'a', 0o640);
    const stream = createWriteStream('', { fd });
    stream.on('error', (err) => {
      if (stream !== this.out) return;
      this.failed = true;
      this.onError(err);
    });
    return stream;
  }

  write(entry: AccessLogEntry): void {
    if (!this.out) return;
    if (this.failed) {
      this.dropped++;
      return;
    }
    const line = this.format(entry);
    if (this.pendingBytes + line.length > MAX_PENDING) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    const out = this.out;
    if (!out || this.pending.length === 0 || this.blocked) return;
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.failed) {
      this.dropped += lines.length;
      return;
    }
    let ok = true;
    for (const chunk of chunksOf(lines, this.maxWriteBytes)) ok = out.write(chunk);
    if (!ok) {
      this.blocked = true;
      out.once('drain', () => {
        if (out !== this.out) return;
        this.blocked = false;
        this.flush();
      });
    }
  }

  /**
   * Starts writing to a new file at the configured path (logrotate: rename, then SIGUSR1). Lines logged before
   * the call still go to the old file. Returns false when the log is not a file; throws when the path cannot be
   * opened, and then keeps writing to the old file.
   */
  async reopen(): Promise<boolean> {
    if (this.path === null || this.out === null) return false;
    const next = this.open(this.path);
    this.flushAll();
    const old = this.out as WriteStream;
    this.out = next;
    this.blocked = false;
    this.failed = false;
    await endStream(old);
    return true;
  }

  /** Hands every pending line to the current stream, ignoring back-pressure (the stream buffers them). */
  private flushAll(): void {
    this.blocked = false;
    this.flush();
  }

  async close(): Promise<void> {
    this.flushAll();
    if (this.path !== null && this.out) await endStream(this.out as WriteStream);
  }
}

function endStream(stream: WriteStream): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    stream.once('error', () => resolve());
    stream.end(resolve);
  });
}

/** The lines joined into as few strings as possible, each at most `max` bytes unless a single line is longer. */
function chunksOf(lines: string[], max: number): string[] {
  if (max === Infinity) return [lines.join('')];
  const out: string[] = [];
  let current = '';
  let bytes = 0;
  for (const line of lines) {
    const n = Buffer.byteLength(line);
    if (bytes > 0 && bytes + n > max) {
      out.push(current);
      current = '';
      bytes = 0;
    }
    current += line;
    bytes += n;
  }
  if (bytes > 0) out.push(current);
  return out;
}
