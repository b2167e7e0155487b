/**
 * s3_client_auth's clients file: who may call the gateway, with which secret, on which buckets and prefixes, with
 * which methods. ini, one section per access key (the file is a dependency of the configuration, so editing it
 * reloads like any other config file, all or nothing):
 *
 *   [AKIDPHOTOS]
 *   secret_key = …            ; required
 *   session_token = …         ; optional: then every request must carry it (x-amz-security-token)
 *   expires = 2027-01-31T00:00:00Z   ; optional: after it the key is refused (ExpiredToken)
 *   allow = photos/, logs/2026/      ; bucket or bucket/prefix entries, `*` for everything (default: nothing)
 *   methods = GET, HEAD              ; default: GET, HEAD, PUT, POST, DELETE
 *
 * Every problem names the file and line; a key without a secret or with no `allow` is an error, not a key that
 * silently lets nothing (or everything) through.
 */
import { readFileSync } from 'node:fs';
import * as ini from 'ini';

export interface AllowEntry {
  /** '*' for every bucket. */
  readonly bucket: string;
  /** Key prefix within the bucket; '' for the whole bucket. */
  readonly prefix: string;
}

export interface ClientEntry {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly sessionToken: string | null;
  /** Epoch ms after which the key is refused, or null. */
  readonly expiresAt: number | null;
  readonly allow: readonly AllowEntry[];
  readonly methods: ReadonlySet<string>;
}

export const DEFAULT_METHODS: readonly string[] = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'];
const KNOWN_KEYS = new Set(['secret_key', 'session_token', 'expires', 'allow', 'methods']);
/** What AWS accepts as an access key id, loosely: printable, no spaces or separators the ini format would eat. */
const ACCESS_KEY = /^[A-Za-z0-9_.\-+/=]{3,128}$/;
const METHOD = /^[A-Z]+$/;

function parseAllow(text: string): AllowEntry[] | string {
  const entries: AllowEntry[] = [];
  for (const raw of text.split(',')) {
    const e = raw.trim();
    if (e === '') continue;
    if (e === '*') {
      entries.push({ bucket: '*', prefix: '' });
      continue;
    }
    const slash = e.indexOf('/');
    const bucket = slash < 0 ? e : e.slice(0, slash);
    let prefix = slash < 0 ? '' : e.slice(slash + 1);
    if (prefix.endsWith('*')) prefix = prefix.slice(0, -1);
    if (!/^[a-z0-9][a-z0-9.\-_]{0,62}$/i.test(bucket)) return `"${e}" does not start with a bucket name`;
    if (prefix.includes('*')) return `"${e}": only a trailing * is allowed (it means "keys starting with")`;
    entries.push({ bucket, prefix });
  }
  return entries;
}

/** Parses the file's text; `file` is for messages. */
export function parseClients(text: string, file: string): { clients: Map<string, ClientEntry>; problems: string[] } {
  const problems: string[] = [];
  const clients = new Map<string, ClientEntry>();
  // ini gives values, not lines: find each section's and key's line for messages.
  const lines = text.split(/\r?\n/);
  const sectionLine = new Map<string, number>();
  const keyLine = new Map<string, number>();
  let section = '';
  lines.forEach((l, i) => {
    const s = /^\s*\[([^\]]*)\]/.exec(l);
    if (s) {
      section = s[1]!.trim();
      if (sectionLine.has(section)) problems.push(`${file}:${i + 1}: access key "${section}" is listed twice`);
      else sectionLine.set(section, i + 1);
      return;
    }
    const k = /^\s*([^=\s#;[]+)\s*=/.exec(l);
    if (k) {
      if (section === '') problems.push(`${file}:${i + 1}: "${k[1]}" is outside any [ACCESS_KEY] section`);
      else if (!keyLine.has(`${section}\0${k[1]}`)) keyLine.set(`${section}\0${k[1]}`, i + 1);
    }
  });
  const parsed = ini.parse(text) as Record<string, unknown>;
  for (const [accessKey, body] of Object.entries(parsed)) {
    if (typeof body !== 'object' || body === null) continue; // reported above as outside a section
    const at = (key?: string) => `${file}:${(key && keyLine.get(`${accessKey}\0${key}`)) || sectionLine.get(accessKey) || 0}: `;
    const values = body as Record<string, unknown>;
    const problemsBefore = problems.length;
    if (!ACCESS_KEY.test(accessKey)) {
      problems.push(`${at()}"${accessKey}" is not an access key id (3-128 letters, digits and _.-+/=)`);
      continue;
    }
    for (const k of Object.keys(values)) {
      if (!KNOWN_KEYS.has(k)) problems.push(`${at(k)}unknown key "${k}" for ${accessKey} (known: ${[...KNOWN_KEYS].join(', ')})`);
    }
    const str = (k: string): string | null => {
      const v = values[k];
      if (v === undefined) return null;
      if (typeof v !== 'string' || v.trim() === '') {
        problems.push(`${at(k)}${k} of ${accessKey} needs a value`);
        return null;
      }
      return v.trim();
    };
    const secretKey = str('secret_key');
    if (secretKey === null && values.secret_key === undefined) problems.push(`${at()}${accessKey} has no secret_key`);
    const sessionToken = str('session_token');
    let expiresAt: number | null = null;
    const expiresText = str('expires');
    if (expiresText !== null) {
      const t = /^\d+$/.test(expiresText) ? Number(expiresText) * 1000 : Date.parse(expiresText);
      if (!Number.isFinite(t)) problems.push(`${at('expires')}expires "${expiresText}" is neither epoch seconds nor an ISO 8601 time`);
      else expiresAt = t;
    }
    let allow: AllowEntry[] = [];
    const allowText = str('allow');
    if (allowText === null) {
      if (values.allow === undefined) problems.push(`${at()}${accessKey} has no allow list (give bucket or bucket/prefix entries, or * for everything)`);
    } else {
      const a = parseAllow(allowText);
      if (typeof a === 'string') problems.push(`${at('allow')}allow of ${accessKey}: ${a}`);
      else if (a.length === 0) problems.push(`${at('allow')}allow of ${accessKey} is empty`);
      else allow = a;
    }
    let methods = new Set(DEFAULT_METHODS);
    const methodsText = str('methods');
    if (methodsText !== null) {
      const list = methodsText.split(/[\s,]+/).filter(Boolean).map((m) => m.toUpperCase());
      const bad = list.filter((m) => !METHOD.test(m));
      if (bad.length > 0 || list.length === 0) problems.push(`${at('methods')}methods of ${accessKey}: "${methodsText}" is not a list of HTTP methods`);
      else methods = new Set(list);
    }
    // Only a client without problems is taken, so that no half-read entry is ever used (the file is refused
    // whole anyway when there are problems).
    if (secretKey !== null && problems.length === problemsBefore) {
      clients.set(accessKey, { accessKey, secretKey, sessionToken, expiresAt, allow, methods });
    }
  }
  if (clients.size === 0 && problems.length === 0) problems.push(`${file}: no clients ([ACCESS_KEY] sections with a secret_key)`);
  return { clients, problems };
}

export function readClientsFile(path: string): { clients: Map<string, ClientEntry>; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { clients: new Map(), problems: [`cannot read clients file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`] };
  }
  return parseClients(text, path);
}

/**
 * Whether `client` may send `method` to `bucket`/`key`. A bucket-level request (key '') needs the whole bucket,
 * except a listing whose `prefix` parameter lies inside an allowed prefix; the service root (ListBuckets) needs `*`.
 */
export function isAllowed(client: ClientEntry, method: string, bucket: string, key: string, listPrefix: string | null): boolean {
  if (!client.methods.has(method)) return false;
  for (const a of client.allow) {
    if (a.bucket === '*') return true;
    if (bucket === '' || a.bucket !== bucket) continue;
    if (a.prefix === '') return true;
    if (key !== '' ? key.startsWith(a.prefix) : listPrefix !== null && listPrefix.startsWith(a.prefix)) return true;
  }
  return false;
}
