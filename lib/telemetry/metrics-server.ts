/** Serves /metrics (Prometheus text) and /healthz (always ok while the process runs) on --metrics-bind-address. */
import type { HostPort } from '../config/types.ts';
import { describeError } from '../errors.ts';
import { listenHttp, type Listening } from './http-listener.ts';
import type { Logger } from './logger-types.ts';
import type { ProxyMetrics } from './metrics.ts';

export class MetricsServer {
  readonly #address: HostPort;
  readonly #metrics: ProxyMetrics;
  readonly #logger: Logger;
  #listening: Listening | undefined;

  constructor(options: { address: HostPort; metrics: ProxyMetrics; logger: Logger }) {
    this.#address = options.address;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
  }

  /** The bound port (after start). */
  get port(): number | undefined {
    return this.#listening?.port;
  }

  async start(): Promise<void> {
    if (this.#listening) return;
    this.#listening = await listenHttp(this.#address.host, this.#address.port, (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') {
        this.#metrics.scrape().then(
          (text) => {
            res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
            res.end(text);
          },
          (e: unknown) => {
            this.#logger.warn({ err: describeError(e) }, 'metrics scrape failed');
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(`# scrape failed: ${describeError(e)}\n`);
          },
        );
        return;
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    });
    this.#logger.info({ address: `${this.#address.host}:${this.#listening.port}` }, 'serving /metrics');
  }

  async stop(): Promise<void> {
    const listening = this.#listening;
    this.#listening = undefined;
    await listening?.close();
  }
}
