/**
 * The HTTPS listener's certificate and key: read from their files and checked together before they are used, at
 * start and on every reload, so that a bad renewal never replaces a working certificate.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate's expiry (logged, and exposed in the reload state for monitoring). */
  notAfter: Date;
  subject: string;
}

/** Below this much validity left, every load logs a warning (certbot renews at 30 days). */
export const CERT_EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

/**
 * Reads and checks a certificate chain and its private key. Throws an Error whose message names the file and
 * the reason: unreadable, not PEM, or a key that does not belong to the certificate.
 */
export function loadTlsCredentials(files: TlsFiles): TlsCredentials {
  const cert = readPem(files.certFile, 'certificate');
  const key = readPem(files.keyFile, 'key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`TLS certificate ${files.certFile} is not a PEM certificate: ${(err as Error).message}`);
  }
  try {
    // Parses both and checks that the key matches the certificate, as the listener will.
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`TLS key ${files.keyFile} cannot be used with certificate ${files.certFile}: ${(err as Error).message}`);
  }
  return { cert, key, notAfter: new Date(leaf.validTo), subject: leaf.subject.replace(/\n/g, ', ') };
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new Error(`cannot read TLS ${what} ${file}: ${reason}`);
  }
}

/** A warning to log about the certificate's validity, or null when it has more than two weeks left. */
export function expiryWarning(creds: TlsCredentials, files: TlsFiles, now = Date.now()): string | null {
  const left = creds.notAfter.getTime() - now;
  if (left <= 0) return `TLS certificate ${files.certFile} expired on ${creds.notAfter.toISOString()}`;
  if (left < CERT_EXPIRY_WARNING_MS) {
    return `TLS certificate ${files.certFile} expires in ${Math.floor(left / 86_400_000)} day(s), on ${creds.notAfter.toISOString()}`;
  }
  return null;
}
