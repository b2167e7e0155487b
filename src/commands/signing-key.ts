/**
 * `remapd signing-key`: derives V4 signing keys from a secret, one per day, printed as `SCOPE KEY` lines — the
 * format of s3_auth's --signing_key_file — so the secret can stay off the proxy and a weekly cron can install a
 * week of keys: `remapd signing-key --secret-key - --region eu-west-1 --days 8 < secret > keys`.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { RemapdError } from '../errors.js';
import { deriveSigningKey, scopeString } from '../plugins/s3-auth/sigv4.js';

interface SigningKeyOptions {
  secretKey: string;
  region: string;
  service: string;
  date?: string;
  days: number;
  base64: boolean;
}

const DAY_MS = 86_400_000;

function ymd(d: Date): string {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

/** Returns the lines the command prints. `secret` is the secret itself (the action reads `-` from stdin). */
export function signingKeyLines(o: SigningKeyOptions, now: Date = new Date()): string[] {
  if (!/^[a-z0-9-]+$/.test(o.region)) throw new RemapdError('ERR_BAD_REQUEST', `--region "${o.region}" is not a region name`);
  if (!/^[a-z0-9-]+$/.test(o.service)) throw new RemapdError('ERR_BAD_REQUEST', `--service "${o.service}" is not a service name`);
  let start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  if (o.date !== undefined) {
    const m = /^(\d{4})(\d{2})(\d{2})$/.exec(o.date);
    const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
    if (!m || ymd(new Date(t)) !== o.date) throw new RemapdError('ERR_BAD_REQUEST', `--date "${o.date}" is not a YYYYMMDD date`);
    start = t;
  }
  const lines: string[] = [];
  for (let i = 0; i < o.days; i++) {
    const scope = { date: ymd(new Date(start + i * DAY_MS)), region: o.region, service: o.service };
    const key = deriveSigningKey(o.secretKey, scope);
    lines.push(`${scopeString(scope)} ${o.base64 ? key.toString('base64') : key.toString('hex')}`);
  }
  return lines;
}

function days(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 366) throw new InvalidArgumentError('--days must be 1 to 366');
  return Number(value);
}

export function signingKeyCommand(): Command {
  return new Command('signing-key')
    .description('derive V4 signing keys (one per day) for s3_auth --signing_key / --signing_key_file')
    .requiredOption('--secret-key <secret>', "secret access key, or '-' to read it from standard input")
    .requiredOption('--region <region>', 'region the keys are scoped to')
    .option('--service <service>', 'service the keys are scoped to', 's3')
    .option('--date <YYYYMMDD>', 'first day (default today, UTC)')
    .option('--days <n>', 'how many consecutive days', days, 1)
    .option('--no-base64', 'print keys as hex instead of base64')
    .action((o: SigningKeyOptions) => {
      const secret = o.secretKey === '-' ? readFileSync(0, 'utf8').trim() : o.secretKey;
      if (secret === '') throw new RemapdError('ERR_BAD_REQUEST', 'the secret key is empty');
      process.stdout.write(`${signingKeyLines({ ...o, secretKey: secret }).join('\n')}\n`);
    });
}
