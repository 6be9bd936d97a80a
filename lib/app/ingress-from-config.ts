/** The ingress side of the daemon: an IngressController feeding the IngressServer it publishes tables to. */
import type { Config } from '../config/types.ts';
import type { IngressSide } from '../daemon.ts';
import { IngressController } from '../ingress/controller.ts';
import { IngressServer } from '../ingress/server.ts';
import type { RequestRecord } from '../ingress/proxy.ts';
import type { Snapshot } from '../state/service-state.ts';
import type { SourceEvent } from '../source/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export class DaemonIngress implements IngressSide {
  readonly #server: IngressServer;
  readonly #controller: IngressController;

  constructor(server: IngressServer, logger: Logger) {
    this.#server = server;
    this.#controller = new IngressController({ logger, publish: (table) => server.setRouteTable(table) });
  }

  apply(event: SourceEvent): { readonly changed: boolean; readonly rejection?: string } {
    const result = this.#controller.apply(event);
    return result.rejection ? { changed: result.changed, rejection: result.rejection.reason } : { changed: result.changed };
  }

  update(snapshot: Snapshot): void {
    this.#controller.updateServices(snapshot);
  }

  start(): Promise<void> {
    return this.#server.start();
  }

  stop(drainMs: number): Promise<void> {
    return this.#server.stop(drainMs);
  }
}

export const ingressFromConfig = (
  config: Config,
  logger: Logger,
  onRequest?: (record: RequestRecord) => void,
): IngressSide | undefined => {
  if (!config.ingressHttpAddress && !config.ingressHttpsAddress) return undefined;
  const server = new IngressServer({
    ...(config.ingressHttpAddress ? { http: config.ingressHttpAddress } : {}),
    ...(config.ingressHttpsAddress ? { https: config.ingressHttpsAddress } : {}),
    connectTimeoutMs: config.ingressUpstream.connectTimeoutMs,
    responseTimeoutMs: config.ingressUpstream.timeoutMs,
    logger,
    ...(onRequest ? { onRequest } : {}),
  });
  return new DaemonIngress(server, logger);
};
