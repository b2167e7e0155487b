/**
 * S3's signature errors explain themselves to whoever signed: a SignatureDoesNotMatch body carries the
 * CanonicalRequest (with every signed header's value — x-amz-security-token included), the StringToSign and the
 * SignatureProvided ("REST error responses"; s3rver and RGW do the same). Behind remapd the signer is remapd, not
 * the client: passed through, that body would hand any client the origin's session token and remapd's signature.
 * So s3_auth runs the origin's 400/403 bodies through this filter, which removes those elements. (The same
 * details are what an operator needs: `remapd sign` reproduces them from the configuration.) S3's ExpiredToken and
 * InvalidToken errors (400) echo the session token itself as `<Token-0>`: removed too. The access key id stays:
 * it names the key, it is no secret, and it is what an operator needs to see which key the origin refused.
 *
 * Error documents are small; the filter holds at most MAX_ERROR_BODY bytes and fails the body beyond that rather
 * than pass on what it could not read whole.
 */
import { Transform, type TransformCallback } from 'node:stream';

export const MAX_ERROR_BODY = 64 * 1024;

/** Elements of an S3 error document that show what was signed, the signature itself, or the session token. */
const SIGNING_DETAILS = /<(CanonicalRequest|CanonicalRequestBytes|StringToSign|StringToSignBytes|SignatureProvided|Token-\d+)>[\s\S]*?<\/\1>/g;

export function redactSigningDetails(xml: string): string {
  return xml.replace(SIGNING_DETAILS, '');
}

/** A stream that collects an error body (up to MAX_ERROR_BODY) and emits it without the signing details. */
export function errorBodyFilter(): Transform {
  const chunks: Buffer[] = [];
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      size += chunk.length;
      if (size > MAX_ERROR_BODY) {
        done(new Error(`the origin's error body is larger than ${MAX_ERROR_BODY} bytes`));
        return;
      }
      chunks.push(chunk);
      done();
    },
    flush(done: TransformCallback) {
      // latin1 both ways: every byte comes back as it was, whatever the document's encoding.
      done(null, Buffer.from(redactSigningDetails(Buffer.concat(chunks, size).toString('latin1')), 'latin1'));
    },
  });
}
