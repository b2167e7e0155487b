// Minimal types for the dev-only S3-compatible server the demo and the tests start.
declare module '@20minutes/s3rver' {
  import type { Server } from 'node:http';
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    serviceEndpoint?: string;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }
  /** The Koa context, as far as the demo's middleware uses it. */
  interface S3rverContext {
    get(field: string): string;
    query: Record<string, unknown>;
    status: number;
    type: string;
    body: unknown;
  }
  type Middleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>;
  export default class S3rver {
    /** Koa's middleware list (S3rver extends Koa); composed when the server starts listening. */
    middleware: Middleware[];
    constructor(options?: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    httpServer: Server;
  }
}
