/**
 * One client request's state as it moves through the pipeline: what plugins see (the `Transaction` interface)
 * plus what the access log needs.
 */
import type { ClientRequestInfo, OriginRequest, RuleInfo, Transaction } from '../plugins/api.js';
import { HeaderList } from './header-list.js';

export interface Answer {
  status: number;
  headers: HeaderList;
  body: Buffer;
}

export class Txn implements Transaction {
  readonly id: number;
  readonly rule: RuleInfo;
  readonly client: ClientRequestInfo;
  readonly originRequest: OriginRequest;
  private _data: Map<unknown, unknown> | null = null;
  /** Set by `respond`: the answer that replaces the origin's response. */
  answer: Answer | null = null;
  /** Cache result for the access log and Cache-Status (the cache issue fills it in). */
  cacheResult = '-';
  /** RFC 9211 Cache-Status value for this response, or null when the cache was not consulted. */
  cacheStatus: string | null = null;

  constructor(id: number, rule: RuleInfo, client: ClientRequestInfo, originRequest: OriginRequest) {
    this.id = id;
    this.rule = rule;
    this.client = client;
    this.originRequest = originRequest;
  }

  get data(): Map<unknown, unknown> {
    return (this._data ??= new Map());
  }

  get answered(): boolean {
    return this.answer !== null;
  }

  respond(status: number, body: string | Buffer = '', headers: Record<string, string> = {}): void {
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new Error(`respond(): status ${status} is not a final HTTP status (200-599)`);
    }
    const list = new HeaderList();
    for (const [k, v] of Object.entries(headers)) list.add(k, v);
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    if (!list.has('content-type') && buf.length > 0) list.add('Content-Type', 'text/plain; charset=utf-8');
    this.answer = { status, headers: list, body: buf };
  }
}
