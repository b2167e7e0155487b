/**
 * The plugin interface. The remap engine knows plugins only through these types.
 *
 * A plugin is loaded per rule: its factory receives ATS's argv (from-URL, to-URL, then each @pparam in order) once,
 * at configuration load, validates everything there (throwing `PluginArgumentError` names the problem; the loader
 * adds the rule's file:line) and returns the hooks it uses. Hooks run per transaction, in the rule's plugin order:
 *
 *   remap        after the rule matched and ACLs passed; may rewrite `txn.originRequest` or answer (`txn.respond`)
 *   sendRequest  on the FINAL origin request, right before each send (retries and revalidations included) —
 *                signing belongs here so nothing changes the request after it is signed
 *   readResponse on the origin's response head, before anything reaches the client or the cache
 *   sendResponse on the response head about to be written to the client (also for answers and cache hits)
 *
 * A hook may return a promise; the chain waits for it. A hook that throws fails the request: a `RemapdError`
 * keeps its code and status, anything else becomes ERR_PLUGIN (500) with the message logged, not sent.
 */
import type { Readable } from 'node:stream';
import type { CachePolicy } from '../cache/policy.js';
import type { Logger } from '../observability/logger.js';
import type { HeaderList } from '../proxy/header-list.js';

export type Scheme = 'http' | 'https';

/** The request remapd will send to the origin. Mutable by remap and sendRequest hooks. */
export interface OriginRequest {
  method: string;
  scheme: Scheme;
  /** Origin host name or address (IPv6 without brackets). */
  host: string;
  port: number;
  /** Raw (percent-encoded) path, starting with '/'. Sent exactly as it is here. */
  path: string;
  /** Raw query including its leading '?', or '' when the request had none; forwarded byte for byte. */
  search: string;
  /** Header fields in wire order; repeated fields stay separate. Includes Host. */
  headers: HeaderList;
  /** Body stream, or null for a request without a body. A plugin may replace it (e.g. after buffering). */
  body: Readable | null;
  /** Bytes in the body when known (Content-Length), else null. */
  bodyLength: number | null;
}

/** A response head: status and header fields. Mutable by readResponse and sendResponse hooks. */
export interface ResponseHead {
  status: number;
  headers: HeaderList;
  /**
   * Set by a readResponse hook to rewrite the origin's body: what the filter emits is what the client (and the
   * cache) get. A hook that changes the length must remove Content-Length. Filters of several hooks chain in order.
   */
  filterBody?: (body: Readable) => Readable;
}

/** What a hook sees of the client's request (read-only). */
export interface ClientRequestInfo {
  readonly method: string;
  /** The request-target exactly as received. */
  readonly target: string;
  readonly httpVersion: string;
  /** Raw client header fields, in order. */
  readonly headers: HeaderList;
  readonly scheme: Scheme;
  /** Host as matched (lower-case, no port). */
  readonly host: string;
  readonly port: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** Identifies the rule that matched, for messages and logs. */
export interface RuleInfo {
  readonly type: string;
  readonly file: string;
  readonly line: number;
  /** `file:line` relative to the config folder, as used in logs. */
  readonly id: string;
  readonly fromUrl: string;
  readonly toUrl: string;
}

export interface Transaction {
  readonly id: number;
  readonly rule: RuleInfo;
  readonly client: ClientRequestInfo;
  /** The origin request being prepared. Remap hooks may change any field. */
  readonly originRequest: OriginRequest;
  /** Scratch space shared by the hooks of one transaction (key by something the plugin owns). */
  readonly data: Map<unknown, unknown>;
  /** Ends the chain and answers the client without contacting the origin (remap hook only). */
  respond(status: number, body?: string | Buffer, headers?: Record<string, string>): void;
  /** True once a hook answered. */
  readonly answered: boolean;
}

export interface RemapPlugin {
  remap?(txn: Transaction): void | Promise<void>;
  sendRequest?(txn: Transaction, request: OriginRequest): void | Promise<void>;
  readResponse?(txn: Transaction, response: ResponseHead): void | Promise<void>;
  sendResponse?(txn: Transaction, response: ResponseHead): void | Promise<void>;
  /**
   * How this plugin's origin reads a URL, for the cache key: two spellings the origin takes for the same object
   * (S3: `a+b` and `a%20b`) must share one entry, or a PUT through one would leave the other stale.
   */
  normalizeForKey?(path: string, search: string): { path: string; search: string };
  /** The rule's cache policy (cache.so sets it; the first instance that has one counts). */
  readonly cachePolicy?: CachePolicy;
  /**
   * True for a plugin that authenticates the request to its origin (s3_auth): an origin pool member with its own
   * credentials replaces such instances with its own signer for requests sent to that member.
   */
  readonly signsOrigin?: boolean;
  /** Called when the configuration that holds this instance is retired (reload, shutdown). */
  close?(): void | Promise<void>;
  /**
   * Whether this instance can do its work now (for /readyz and metrics); cheap and synchronous, never logs. A
   * plugin without it counts as ready.
   */
  health?(): PluginHealth;
}

/** What `RemapPlugin.health()` reports. `reason` says why when not ready (no secrets). */
export interface PluginHealth {
  ready: boolean;
  reason?: string;
  /** Epoch ms at which the credentials this instance signs with stop working; null when they do not expire. */
  credentialsExpireAt?: number | null;
}

export interface PluginContext {
  /** File and line of the rule that loads this instance. */
  readonly file: string;
  readonly line: number;
  /** Folder of the top-level remap.config: relative file names in parameters resolve against it. */
  readonly configDir: string;
  /** Reports a non-fatal problem; `remapd check` prints it with the rule's file:line. */
  warn(message: string): void;
  /** Declares a file this instance read, so that a change to it can trigger a reload. */
  dependsOn(path: string): void;
  readonly logger: Logger;
}

/** argv[0] is the rule's from-URL, argv[1] its to-URL, then each @pparam value (ATS TSRemapNewInstance). */
export type PluginFactory = (argv: readonly string[], context: PluginContext) => RemapPlugin | Promise<RemapPlugin>;
