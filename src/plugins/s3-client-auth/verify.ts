/**
 * s3_client_auth's verification core: is this request signed, by whom, and for which bucket and key — checked as
 * S3 itself checks it. Pure: (request parts, options with an injected clock and key lookup) → Verified, or an
 * S3AuthError carrying S3's own code and XML. The body is checked separately, while it streams (body-check.ts),
 * from the PayloadCheck returned here.
 *
 * Which mechanism is used is decided here, once; each is its own module: verify-v4.ts (Authorization header and
 * presigned URL), verify-v2.ts (Authorization header and query string).
 */
import type { HeaderList } from '../../proxy/header-list.js';
import { AUTHORIZATION } from '../s3-auth/constants.js';
import { hasParam, parseQuery, Refusal } from './verify-common.js';
import { MSG, Q_ALGORITHM, Q_CREDENTIAL, Q_SIGNATURE, Q2_ACCESS_KEY, Q2_SIGNATURE } from './verify-constants.js';
import { verifyV2Header, verifyV2Query } from './verify-v2.js';
import { verifyV4Header, verifyV4Query } from './verify-v4.js';

export interface ClientSecret {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly sessionToken: string | null;
}

export interface AuthRequest {
  readonly method: string;
  /** Raw request path as received, percent-encoded, no query. */
  readonly path: string;
  /** Raw query with its leading '?', or ''. */
  readonly search: string;
  /** The client's header fields as received (includes Host as the client sent it). */
  readonly headers: HeaderList;
}

export interface VerifyOptions {
  /** Epoch ms (injected clock). */
  readonly now: number;
  readonly lookup: (accessKey: string) => ClientSecret | null;
  /** V4: the credential-scope region every request must name; null accepts any. */
  readonly region: string | null;
  /** Accept UNSIGNED-PAYLOAD and STREAMING-UNSIGNED-PAYLOAD-TRAILER on header-signed requests. */
  readonly allowUnsignedPayload: boolean;
  /** A Host `bucket.<suffix>` names a bucket (virtual-host style); any other Host is path style. */
  readonly virtualHostSuffixes: readonly string[];
  /**
   * How a raw `+` in the path and query is read: as a space (true, the default — S3's own reading) or as a plus.
   * Must be the origin signer's reading (s3_auth's `--literal_plus` is `plusIsSpace: false`): the key verified and
   * permission-checked here has to be the key the origin request will address.
   */
  readonly plusIsSpace?: boolean;
}

export type PayloadCheck =
  /** No body expected, or nothing to check (presigned URLs, V2). */
  | { kind: 'none' }
  | { kind: 'unsigned' }
  /** Lower-case hex SHA-256 of the whole body. */
  | { kind: 'sha256'; hash: string }
  | {
      kind: 'chunked';
      /** Every chunk carries a chunk-signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]). */
      signed: boolean;
      /** Trailing headers follow the final chunk (…-TRAILER). */
      trailer: boolean;
      /** The Authorization header's signature, which the first chunk's signature chains from. */
      seedSignature: string;
      signingKey: Buffer;
      amzDate: string;
      /** `YYYYMMDD/region/s3/aws4_request`. */
      scope: string;
      /** x-amz-decoded-content-length, when sent. */
      decodedLength: number | null;
      /** The checksum trailer declared in x-amz-trailer (lower case), or null when none was declared. */
      trailerHeader: string | null;
    };

export interface Verified {
  readonly accessKey: string;
  readonly version: 2 | 4;
  readonly form: 'header' | 'query';
  readonly payload: PayloadCheck;
  /** Bucket and key the request addresses (decoded, for permission checks); bucket '' for the service root (ListBuckets). */
  readonly bucket: string;
  readonly key: string;
}

/** What the mechanism modules receive: the request, the options, its query read once, and a refusal builder. */
export interface VerifyContext {
  readonly req: AuthRequest;
  readonly opts: VerifyOptions;
  readonly plusIsSpace: boolean;
  readonly query: ReturnType<typeof parseQuery>;
  readonly refuse: Refusal;
}

/** Returns null when the request carries no authentication at all (anonymous); throws S3AuthError on any failure. */
export function verifyRequest(req: AuthRequest, opts: VerifyOptions): Verified | null {
  const plusIsSpace = opts.plusIsSpace ?? true;
  const query = parseQuery(req.search, plusIsSpace);
  const refuse = new Refusal(req.path);
  const ctx: VerifyContext = { req, opts, plusIsSpace, query, refuse };

  const authorization = req.headers.getAll(AUTHORIZATION);
  const v4Query = hasParam(query, Q_SIGNATURE) || hasParam(query, Q_ALGORITHM) || hasParam(query, Q_CREDENTIAL);
  const v2Query = hasParam(query, Q2_SIGNATURE) || hasParam(query, Q2_ACCESS_KEY);
  const mechanisms = (authorization.length > 0 ? 1 : 0) + (v4Query ? 1 : 0) + (v2Query ? 1 : 0);
  if (mechanisms === 0) return null;
  // S3 refuses a request that authenticates twice rather than guessing which one counts.
  if (mechanisms > 1) throw refuse.error('InvalidArgument', MSG.oneMechanism);
  if (v4Query) return verifyV4Query(ctx);
  if (v2Query) return verifyV2Query(ctx);

  if (authorization.length > 1) throw refuse.error('InvalidArgument', MSG.unsupportedAuth, 'more than one Authorization field');
  const value = authorization[0]!;
  if (value.startsWith('AWS4-HMAC-SHA256 ')) return verifyV4Header(ctx, value);
  if (value.startsWith('AWS ')) return verifyV2Header(ctx, value);
  throw refuse.error('InvalidArgument', MSG.unsupportedAuth, `Authorization scheme "${value.split(' ', 1)[0]!.slice(0, 40)}" is not AWS4-HMAC-SHA256 or AWS`);
}
