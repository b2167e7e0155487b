/**
 * `remapd purge URL…`: asks a running remapd to drop what it stored for each public URL, by sending it PURGE
 * requests (allowed from the --purge-allow addresses; loopback by default). Exit status 0 when every URL was
 * purged or had nothing stored, 1 on any failure.
 */
import { request } from 'node:http';
import { Command, InvalidArgumentError } from 'commander';

export interface PurgeResult {
  url: string;
  status: number | null;
  message: string;
}

function proxyAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected HOST:PORT');
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/** Sends one PURGE for `url` (its Host and path) to the proxy at `proxy`. */
export function purgeOne(url: string, proxy: { host: string; port: number }, timeoutMs = 10_000): Promise<PurgeResult> {
  const m = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(url);
  if (!m) return Promise.resolve({ url, status: null, message: 'not an http(s) URL' });
  const path = m[2] || '/';
  return new Promise((resolve) => {
    const req = request(
      { host: proxy.host, port: proxy.port, method: 'PURGE', path, headers: { host: m[1]! }, timeout: timeoutMs, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ url, status: res.statusCode ?? null, message: body.trim() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ url, status: null, message: err.message }));
    req.end();
  });
}

export function purgeCommand(): Command {
  return new Command('purge')
    .description('remove stored objects from a running remapd (sends PURGE for each public URL)')
    .argument('<url...>', 'public URLs as clients request them, e.g. http://cdn.example.com/photos/a.jpg')
    .option('--proxy <host:port>', 'the remapd to purge (default 127.0.0.1:8080)', proxyAddress)
    .action(async (urls: string[], o: { proxy?: { host: string; port: number } }) => {
      const proxy = o.proxy ?? { host: '127.0.0.1', port: 8080 };
      let failed = false;
      for (const url of urls) {
        const r = await purgeOne(url, proxy);
        const ok = r.status === 200 || r.status === 404;
        if (!ok) failed = true;
        const what = r.status === 200 ? 'purged' : r.status === 404 ? 'not stored' : `failed (${r.status ?? 'no answer'}: ${r.message})`;
        (ok ? process.stdout : process.stderr).write(`${url}: ${what}\n`);
      }
      if (failed) process.exitCode = 1;
    });
}
