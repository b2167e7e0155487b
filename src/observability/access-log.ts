/**
 * Access log: one line per request, squid/ATS-like text, space-separated:
 *
 *   time client method url status bytes duration_ms cache rule code
 *
 * e.g. `2026-11-23T10:00:00.123Z 127.0.0.1 GET /b/k?X-Amz-Signature=REDACTED 200 1024 3 - remap.config:7 -`
 *
 * `url` is the client's request-target with credential-bearing query values replaced by REDACTED (presigned
 * URLs carry signatures and session tokens); `code` is the remapd error code or `-`; a response cut short is
 * logged with code `ABORTED`. Lines are batched and written once per tick, never synchronously per request.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

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

export function formatEntry(e: AccessLogEntry): string {
  return (
    `${new Date(e.time).toISOString()} ${e.client} ${e.method} ${redactUrl(e.url)} ${e.status} ${e.bytes} ` +
    `${Math.round(e.durationMs)} ${e.cache} ${e.rule} ${e.code}\n`
  );
}

/** Most bytes held while the destination is not draining; beyond it lines are dropped and counted. */
const MAX_PENDING = 8 * 1024 * 1024;

export class AccessLog {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private readonly out: NodeJS.WritableStream | null;
  private readonly ownsStream: boolean;
  private blocked = false;
  /** Lines dropped because the destination could not keep up. */
  dropped = 0;

  /** @param destination a file path (appended to), '-' for stdout, 'off' for none, or a writable stream */
  constructor(destination: string | NodeJS.WritableStream) {
    if (typeof destination !== 'string') {
      this.out = destination;
      this.ownsStream = false;
    } else if (destination === 'off') {
      this.out = null;
      this.ownsStream = false;
    } else if (destination === '-') {
      this.out = process.stdout;
      this.ownsStream = false;
    } else {
      this.out = createWriteStream(destination, { flags: 'a' });
      this.ownsStream = true;
    }
  }

  get enabled(): boolean {
    return this.out !== null;
  }

  write(entry: AccessLogEntry): void {
    if (!this.out) return;
    const line = formatEntry(entry);
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
    if (!this.out || this.pending.length === 0 || this.blocked) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.out.write(chunk)) {
      this.blocked = true;
      this.out.once('drain', () => {
        this.blocked = false;
        this.flush();
      });
    }
  }

  async close(): Promise<void> {
    this.blocked = false;
    this.flush();
    if (this.ownsStream && this.out) {
      await new Promise<void>((resolve) => (this.out as WriteStream).end(resolve));
    }
  }
}
