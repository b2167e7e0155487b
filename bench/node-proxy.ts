/**
 * The "node proxy (ceiling)" of the bench's signed miss: a bare proxy, no signing, no cache, no logic — every
 * request forwarded to the origin and the answer written straight back. What remapd does on a miss minus
 * everything remapd adds, so the most any Node proxy could do for a miss on this machine in one process.
 *
 * Its own process (bench/run.ts spawns it), so it gets a core of its own as remapd does:
 * `node dist/bench/node-proxy.js PORT ORIGIN_PORT [PROCESSES]`. Listens on 127.0.0.1:PORT. With PROCESSES > 1
 * (the bench's --workers) it runs that many node:cluster workers sharing the port, as `remapd --workers` does, so
 * the ceiling is measured with the same number of processes as remapd.
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent, type Dispatcher } from 'undici';

const LOOPBACK = '127.0.0.1';
/** Hop-by-hop headers (RFC 9110 §7.6.1): not forwarded either way; undici refuses some of them outright. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Name/value pairs minus hop-by-hop headers and, for requests, Host (undici sets the origin's). */
function forwardable(raw: readonly string[], dropHost: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || (dropHost && name === 'host')) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/**
 * Writes the origin's response straight to the client. undici's original handler callbacks (onHeaders, onData)
 * hand over the raw header Buffers and body chunks without building a headers object or a stream.
 */
function relay(req: IncomingMessage, res: ServerResponse): Dispatcher.DispatchHandler {
  return {
    onConnect(abort) {
      // The client went away first: stop reading from the origin.
      res.once('close', () => {
        if (!res.writableFinished) abort();
      });
    },
    onHeaders(status, raw, resume) {
      // 1xx informational heads are not forwarded; the final head follows.
      if (status < 200) return true;
      res.writeHead(status, forwardable(raw.map((b) => b.toString('latin1')), false));
      res.on('drain', resume);
      return true;
    },
    onData(chunk) {
      // false pauses the origin until the client has drained (resume above).
      return res.write(chunk);
    },
    onComplete() {
      res.end();
    },
    onError(err) {
      if (res.headersSent) res.destroy(err);
      else res.writeHead(502, { 'Content-Length': '0' }).end();
      req.resume();
    },
  };
}

function main(): void {
  const [port, originPort, processes = 1] = process.argv.slice(2).map(Number);
  if (!port || !originPort) throw new Error('usage: node-proxy.js PORT ORIGIN_PORT [PROCESSES]');
  if (processes > 1 && cluster.isPrimary) {
    for (let i = 0; i < processes; i++) cluster.fork();
    process.once('SIGTERM', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      process.exit(0);
    });
    return;
  }
  const origin = `http://${LOOPBACK}:${originPort}`;
  // undici's defaults: keep-alive, as many connections as there are concurrent requests, no pipelining.
  const agent = new Agent();
  const server = createServer((req, res) => {
    // The bench sends only GETs (and waitForPort a HEAD): no request body to forward.
    agent.dispatch(
      { origin, path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers: forwardable(req.rawHeaders, true) },
      relay(req, res),
    );
  });
  // The load's connections stay open between its runs (Node's default closes them after 5 s idle).
  server.keepAliveTimeout = 60_000;
  server.listen(port, LOOPBACK);
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close();
    void agent.close();
  });
}

main();
