/**
 * The exporter's HTTP side: GET /metrics on the address given with --metrics, and nowhere else.
 * The values are those of the run loop's last tick: the exporter is one of its consumers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TickConsumer } from '../app/run-loop.js';
import type { HookView } from '../model/types.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { TcTopMetrics } from './metrics.js';

export interface MetricsExporter {
  /** Subscribe this to the run loop: each tick, and the baseline read, become the metrics' values. */
  readonly consumer: TickConsumer;
  readonly metrics: TcTopMetrics;
  /** Where the server listens (the port filled in when 0 was asked for). */
  readonly address: ListenAddress;
  readonly url: string;
  /** Stops listening and drops open connections (a scraper's keep-alive). */
  close(): Promise<void>;
}

export interface MetricsExporterOptions {
  /** The hooks attached: their series exist from the first scrape. */
  readonly hooks: readonly HookView[];
  readonly listen: ListenAddress;
  readonly topK: number;
}

/** A failure to listen, with what to do. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

const HINTS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is taken: pick another with --metrics ADDR:PORT',
  EADDRNOTAVAIL: 'no interface here has that address: use 127.0.0.1, or an address from `ip addr`',
  EACCES: 'ports below 1024 need root or CAP_NET_BIND_SERVICE: pick a higher port',
  ENOTFOUND: 'the host name does not resolve: use an IP address',
};

export async function startMetricsExporter(o: MetricsExporterOptions): Promise<MetricsExporter> {
  const metrics = new TcTopMetrics({ topK: o.topK, hooks: o.hooks });
  // The baseline's deltas are the flows' whole counts since the map was loaded: sums kept from
  // deltas then start at the load, as the kernel's own counters do.
  const consumer: TickConsumer = { baseline: (tick) => metrics.update(tick), tick: (tick) => metrics.update(tick) };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('tc-top exporter: metrics at /metrics\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    metrics.exposition(req.headers.accept).then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'Content-Type': contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const code = err.code ?? '';
      reject(new ListenError(`cannot listen on ${formatListenAddress(o.listen)} for --metrics: ${code || err.message}${HINTS[code] ? ` (${HINTS[code]})` : ''}`));
    };
    server.once('error', onError);
    server.listen({ host: o.listen.host, port: o.listen.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address: ListenAddress = { host: o.listen.host, port: bound.port };
  let closed: Promise<void> | undefined;
  return {
    consumer,
    metrics,
    address,
    url: `http://${formatListenAddress(address)}/metrics`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
