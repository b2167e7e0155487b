/**
 * --credentials=env: the AWS SDK's environment variables, read once, at load (a process's environment does not
 * change under it; new values need a restart). AWS_CREDENTIAL_EXPIRATION, when set, is the credentials' end,
 * as the SDK's fromEnv reads it (an ISO 8601 date).
 */
import { type Credentials, secretCredentials } from './credentials.js';

export const ENV_ACCESS_KEY = 'AWS_ACCESS_KEY_ID';
export const ENV_SECRET_KEY = 'AWS_SECRET_ACCESS_KEY';
export const ENV_SESSION_TOKEN = 'AWS_SESSION_TOKEN';
export const ENV_EXPIRATION = 'AWS_CREDENTIAL_EXPIRATION';

/** The credentials in `env`, or every problem with them (names of variables only, never values but a bad date's). */
export function readEnvCredentials(env: NodeJS.ProcessEnv): { credentials: Credentials } | { problems: string[] } {
  const problems: string[] = [];
  const value = (name: string): string | null => {
    const v = env[name]?.trim();
    return v ? v : null;
  };
  const accessKey = value(ENV_ACCESS_KEY);
  const secretKey = value(ENV_SECRET_KEY);
  const missing = [accessKey === null && ENV_ACCESS_KEY, secretKey === null && ENV_SECRET_KEY].filter(Boolean);
  if (missing.length > 0) problems.push(`--credentials=env: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
  let expiresAt: number | null = null;
  const expiration = value(ENV_EXPIRATION);
  if (expiration !== null) {
    expiresAt = Date.parse(expiration);
    if (Number.isNaN(expiresAt)) problems.push(`--credentials=env: ${ENV_EXPIRATION} "${expiration}" is not an ISO 8601 date`);
  }
  if (problems.length > 0 || accessKey === null || secretKey === null) return { problems };
  return { credentials: secretCredentials(accessKey, secretKey, value(ENV_SESSION_TOKEN), expiresAt) };
}
