/** Serves /healthz and /livez on --healthz-bind-address from a ProxyHealth. */
import type { HostPort } from '../config/types.ts';
import { listenHttp, type Listening } from '../telemetry/http-listener.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { healthzResponse, livezResponse, type ProxyHealth } from './proxy-health.ts';

export interface HealthServerOptions {
  readonly address: HostPort;
  readonly health: ProxyHealth;
  readonly logger: Logger;
  /** Told about every answered probe (metrics: kubeproxy_proxy_healthz_total / _livez_total). */
  readonly onProbe?: (path: '/healthz' | '/livez', code: number) => void;
}

export class HealthServer {
  readonly #options: HealthServerOptions;
  #listening: Listening | undefined;

  constructor(options: HealthServerOptions) {
    this.#options = options;
  }

  get port(): number | undefined {
    return this.#listening?.port;
  }

  async start(): Promise<void> {
    if (this.#listening) return;
    const { address, health, logger, onProbe } = this.#options;
    this.#listening = await listenHttp(address.host, address.port, (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/healthz' && path !== '/livez') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
        return;
      }
      const answer = path === '/healthz' ? healthzResponse(health) : livezResponse(health);
      onProbe?.(path, answer.code);
      res.writeHead(answer.code, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
      res.end(answer.body);
    });
    logger.info({ address: `${address.host}:${this.#listening.port}` }, 'serving /healthz and /livez');
  }

  async stop(): Promise<void> {
    const listening = this.#listening;
    this.#listening = undefined;
    await listening?.close();
  }
}
