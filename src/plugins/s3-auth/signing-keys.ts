/**
 * Where the V4 signing key comes from.
 *
 * - From a secret: derived once per (date, region, service) and cached (aws4 and smithy do the same); a request
 *   never re-derives it. The cache belongs to one set of credentials, so new credentials start a new cache.
 * - Scoped keys (--signing_key + --key_scope, or --signing_key_file): the operator installs keys derived
 *   elsewhere (`remapd signing-key`), so the secret never sits on the proxy. AWS binds a key to its scope's date,
 *   so a file may hold many dated keys; the one for today (UTC) is picked. With none for today the request fails
 *   with a clear 500 and the log says which scope was needed.
 */
import { readFileSync, statSync } from 'node:fs';
import { RemapdError } from '../../errors.js';
import { KEY_TYPE_V4 } from './constants.js';
import { type CredentialScope, deriveSigningKey, scopeString } from './sigv4.js';

export interface SigningKeySource {
  /** The key for `scope`; throws RemapdError ERR_SIGNING_KEY when there is none. */
  keyFor(scope: CredentialScope): Buffer;
}

const MAX_CACHED_KEYS = 16;

export class SecretKeySource implements SigningKeySource {
  readonly #secret: string;
  readonly #cache = new Map<string, Buffer>();
  /** The last key handed out: nearly every request has the same scope as the one before it. */
  #last: ScopedKey | null = null;

  constructor(secretKey: string) {
    this.#secret = secretKey;
  }

  keyFor(scope: CredentialScope): Buffer {
    const last = this.#last;
    if (last !== null && last.scope.date === scope.date && last.scope.region === scope.region && last.scope.service === scope.service) {
      return last.key;
    }
    const key = this.#lookup(scope);
    this.#last = { scope: { date: scope.date, region: scope.region, service: scope.service }, key };
    return key;
  }

  #lookup(scope: CredentialScope): Buffer {
    const id = `${scope.date}/${scope.region}/${scope.service}`;
    let key = this.#cache.get(id);
    if (key === undefined) {
      // Dates roll over and regions are few: a small bound is enough, and old days are dropped first.
      if (this.#cache.size >= MAX_CACHED_KEYS) this.#cache.delete(this.#cache.keys().next().value!);
      key = deriveSigningKey(this.#secret, scope);
      this.#cache.set(id, key);
    }
    return key;
  }
}

export interface ScopedKey {
  readonly scope: CredentialScope;
  readonly key: Buffer;
}

const SCOPE = /^(\d{4})(\d{2})(\d{2})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses `YYYYMMDD/region/service/aws4_request`; returns the reason when it is not one. */
export function parseScope(text: string): CredentialScope | string {
  const m = SCOPE.exec(text);
  if (!m) return `key scope "${text}" is not YYYYMMDD/region/service/${KEY_TYPE_V4}`;
  const [, y, mo, d, region, service] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (date.getUTCFullYear() !== Number(y) || date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) {
    return `key scope "${text}" has an invalid date`;
  }
  return { date: `${y}${mo}${d}`, region: region!, service: service! };
}

/** Decodes a base64 HMAC-SHA256 key (32 bytes); returns the reason when it is not one. */
export function parseKey(text: string): Buffer | string {
  if (!BASE64.test(text)) return 'signing key is not base64';
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) return `signing key decodes to ${key.length} bytes; a V4 signing key has 32`;
  return key;
}

/**
 * Parses a key file: one `SCOPE BASE64KEY` pair per line (what `remapd signing-key` prints), `#` comments and
 * blank lines ignored. Problems are returned with their line numbers; good lines are kept.
 */
export function parseKeyFile(text: string): { keys: ScopedKey[]; problems: { line: number; message: string }[] } {
  const keys: ScopedKey[] = [];
  const problems: { line: number; message: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) {
      problems.push({ line: i + 1, message: 'expected "YYYYMMDD/region/service/aws4_request BASE64KEY"' });
      return;
    }
    const scope = parseScope(parts[0]!);
    const key = parseKey(parts[1]!);
    if (typeof scope === 'string') problems.push({ line: i + 1, message: scope });
    else if (typeof key === 'string') problems.push({ line: i + 1, message: key });
    else keys.push({ scope, key });
  });
  return { keys, problems };
}

/** How often a key file is looked at again when a request needs a key it does not have. */
const RECHECK_MS = 10_000;

export class ScopedKeySource implements SigningKeySource {
  #byScope = new Map<string, Buffer>();
  readonly #file: string | null;
  #fileMtimeMs = 0;
  #checkedAt = 0;
  readonly #now: () => number;

  constructor(keys: readonly ScopedKey[], file: string | null = null, now: () => number = Date.now) {
    this.#index(keys);
    this.#file = file;
    this.#now = now;
    if (file !== null) {
      try {
        this.#fileMtimeMs = statSync(file).mtimeMs;
      } catch {
        // Reported by the loader; a later look may find it.
      }
      this.#checkedAt = now();
    }
  }

  #index(keys: readonly ScopedKey[]): void {
    const next = new Map<string, Buffer>();
    for (const k of keys) next.set(scopeString(k.scope), k.key);
    this.#byScope = next;
  }

  /** Scopes held, sorted: for messages. */
  scopes(): string[] {
    return [...this.#byScope.keys()].sort();
  }

  keyFor(scope: CredentialScope): Buffer {
    const id = scopeString(scope);
    let key = this.#byScope.get(id);
    if (key === undefined && this.#refreshFromFile()) key = this.#byScope.get(id);
    if (key !== undefined) return key;
    const held = this.scopes();
    throw new RemapdError('ERR_SIGNING_KEY', 'no signing key for the current date (details in the error log)', {
      detail:
        `s3_auth has no signing key for scope ${id}; ` +
        (held.length > 0 ? `keys held: ${held.join(', ')}` : 'no keys held') +
        (this.#file ? ` (key file ${this.#file}; install new keys with \`remapd signing-key --days N\`)` : ''),
    });
  }

  /** Re-reads the key file when it changed (a cron installed new keys), at most every RECHECK_MS. */
  #refreshFromFile(): boolean {
    if (this.#file === null) return false;
    const now = this.#now();
    if (now - this.#checkedAt < RECHECK_MS) return false;
    this.#checkedAt = now;
    try {
      const mtime = statSync(this.#file).mtimeMs;
      if (mtime === this.#fileMtimeMs) return false;
      const { keys } = parseKeyFile(readFileSync(this.#file, 'utf8'));
      this.#fileMtimeMs = mtime;
      this.#index(keys);
      return true;
    } catch {
      return false;
    }
  }
}
