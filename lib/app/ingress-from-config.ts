/**
 * The ingress side of the daemon: an IngressController feeding the IngressServer it publishes tables to, and (with
 * an API server and --ingress-status-address) an IngressStatusPublisher writing status.loadBalancer.
 */
import { ingressEnabled, type Config } from '../config/types.ts';
import type { IngressSide } from '../daemon.ts';
import { IngressController } from '../ingress/controller.ts';
import { IngressServer } from '../ingress/server.ts';
import type { RequestRecord } from '../ingress/proxy.ts';
import { IngressStatusPublisher, type IngressStatusWriter } from '../ingress/status.ts';
import { KubeIngressStatusWriter } from '../ingress/status-writer.ts';
import { loadKubeConfig } from '../source/kube.ts';
import type { Snapshot } from '../state/service-state.ts';
import type { SourceEvent } from '../source/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export class DaemonIngress implements IngressSide {
  readonly #server: IngressServer;
  readonly #controller: IngressController;
  readonly #status: IngressStatusPublisher | undefined;

  /** `tls`: an HTTPS listener is configured (Secrets are watched). */
  constructor(server: IngressServer, logger: Logger, tls: boolean, status?: IngressStatusPublisher) {
    this.#server = server;
    this.#status = status;
    this.#controller = new IngressController({
      logger,
      tls,
      publish: (table) => {
        server.setRouteTable(table);
        status?.served(table.ingresses);
      },
    });
  }

  apply(event: SourceEvent): { readonly changed: boolean; readonly rejection?: string } {
    this.#status?.observe(event);
    const result = this.#controller.apply(event);
    return result.rejection ? { changed: result.changed, rejection: result.rejection.reason } : { changed: result.changed };
  }

  update(snapshot: Snapshot): Promise<void> {
    // A table from a partial listing would route no host, or serve the default certificate for every name; the
    // server holds connections until the first table (holdUntilFirstTable below).
    if (!this.#controller.synced) return Promise.resolve();
    this.#controller.updateServices(snapshot);
    return this.#server.listenSettled();
  }

  get serving(): boolean {
    return this.#server.serving;
  }

  /** Where the listeners are bound (port 0 resolved), once started. */
  addresses(): ReturnType<IngressServer['addresses']> {
    return this.#server.addresses();
  }

  start(options: { readonly listenAfterFirstTable: boolean }): Promise<void> {
    return this.#server.start({ listen: options.listenAfterFirstTable ? 'after-first-table' : 'now' });
  }

  async stop(drainMs: number): Promise<void> {
    await Promise.all([this.#status?.stop(), this.#server.stop(drainMs)]);
  }
}

/** Builds the real writer on first use, so constructing the daemon reads no kubeconfig. */
class LazyKubeStatusWriter implements IngressStatusWriter {
  readonly #config: Config;
  #writer: KubeIngressStatusWriter | undefined;

  constructor(config: Config) {
    this.#config = config;
  }

  write(...args: Parameters<IngressStatusWriter['write']>): ReturnType<IngressStatusWriter['write']> {
    this.#writer ??= new KubeIngressStatusWriter(
      loadKubeConfig({
        ...(this.#config.kubeconfig !== undefined ? { kubeconfigPath: this.#config.kubeconfig } : {}),
        ...(this.#config.master !== undefined ? { masterUrl: this.#config.master } : {}),
      }),
    );
    return this.#writer.write(...args);
  }
}

/** Status is written only with an API server and a configured address (see lib/ingress/README.md "Status"). */
export const statusPublisherFromConfig = (
  config: Config,
  logger: Logger,
  writer?: IngressStatusWriter,
): IngressStatusPublisher | undefined => {
  if (config.manifestsDir !== undefined) return undefined;
  if (config.ingressStatusAddress === undefined) {
    logger.info({}, 'ingress: --ingress-status-address not set; Ingress status.loadBalancer is not written');
    return undefined;
  }
  return new IngressStatusPublisher({
    address: config.ingressStatusAddress,
    writer: writer ?? new LazyKubeStatusWriter(config),
    logger,
  });
};

/** Metrics hooks of the ingress server (IngressServerOptions). */
export interface IngressHooks {
  readonly onRequest?: (record: RequestRecord) => void;
  readonly onHandoff?: (reason: string) => void;
  readonly onListenFailure?: () => void;
}

export const ingressFromConfig = (config: Config, logger: Logger, hooks: IngressHooks = {}): DaemonIngress | undefined => {
  if (!ingressEnabled(config)) return undefined;
  const server = new IngressServer({
    ...(config.ingressHttpAddress ? { http: config.ingressHttpAddress } : {}),
    ...(config.ingressHttpsAddress ? { https: config.ingressHttpsAddress } : {}),
    connectTimeoutMs: config.ingressUpstream.connectTimeoutMs,
    responseTimeoutMs: config.ingressUpstream.timeoutMs,
    logger,
    ...hooks,
    holdUntilFirstTable: true,
  });
  return new DaemonIngress(server, logger, config.ingressHttpsAddress !== undefined, statusPublisherFromConfig(config, logger));
};
