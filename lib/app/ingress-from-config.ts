/**
 * The ingress side of the daemon: an IngressController feeding the IngressServer it publishes tables to, and (with
 * an API server and --ingress-status-address) an IngressStatusPublisher writing status.loadBalancer.
 */
import { formatHostPort, type HostPort } from '../config/values.ts';
import { ingressEnabled, type Config } from '../config/types.ts';
import type { IngressSide } from '../daemon.ts';
import { AbstractSocketTransport } from '../handover/abstract-socket.ts';
import { NodePresence } from '../handover/presence.ts';
import { IngressController } from '../ingress/controller.ts';
import { IngressServer } from '../ingress/server.ts';
import type { RequestRecord } from '../ingress/proxy.ts';
import { IngressStatusPublisher, type IngressStatusWriter } from '../ingress/status.ts';
import { KubeIngressStatusWriter } from '../ingress/status-writer.ts';
import { loadKubeConfig } from '../source/kube.ts';
import type { Snapshot } from '../state/service-state.ts';
import type { SourceEvent } from '../source/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';

/** Whether another switchyard serves these ports (lib/handover/presence.ts); NodePresence, or a fake. */
export interface IngressPresence {
  heldElsewhere(): Promise<boolean>;
  claim(): void;
  stop(): Promise<void>;
}

export interface DaemonIngressOptions {
  /** An HTTPS listener is configured (Secrets are watched). */
  readonly tls: boolean;
  readonly status?: IngressStatusPublisher | undefined;
  /** Without one, the listeners are always bound at start. */
  readonly presence?: IngressPresence | undefined;
}

export class DaemonIngress implements IngressSide {
  readonly #server: IngressServer;
  readonly #controller: IngressController;
  readonly #status: IngressStatusPublisher | undefined;
  readonly #presence: IngressPresence | undefined;

  constructor(server: IngressServer, logger: Logger, options: DaemonIngressOptions) {
    const { tls, status } = options;
    this.#server = server;
    this.#status = status;
    this.#presence = options.presence;
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

  /**
   * Beside a running switchyard (a rollout's newcomer) the ports are served already: bound before this process's
   * first table, its listeners would be handed about half of the new connections and hold them through the initial
   * listing. So they are bound after it; and once bound, this process claims the presence for the next newcomer.
   */
  async start(): Promise<void> {
    const besideAnother = (await this.#presence?.heldElsewhere()) ?? false;
    await this.#server.start({ listen: besideAnother ? 'after-first-table' : 'now' });
    const presence = this.#presence;
    if (presence) void this.#server.bound().then(() => presence.claim());
  }

  async stop(drainMs: number): Promise<void> {
    // Released at once: the listeners close now, so a process starting during the drain must bind at its start.
    await Promise.all([this.#status?.stop(), this.#server.stop(drainMs), this.#presence?.stop()]);
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

/**
 * One abstract socket name per set of ingress addresses: two switchyards on a node share it only when they serve
 * the same ports (the old and the new pod of a rollout), whatever their proxy modes.
 */
export const ingressPresenceName = (config: Pick<Config, 'ingressHttpAddress' | 'ingressHttpsAddress'>): string => {
  const text = (address: HostPort | undefined): string => (address ? formatHostPort(address) : '');
  return `switchyard/ingress http=${text(config.ingressHttpAddress)} https=${text(config.ingressHttpsAddress)}`;
};

export const ingressFromConfig = (config: Config, logger: Logger, hooks: IngressHooks = {}): DaemonIngress | undefined => {
  if (!ingressEnabled(config)) return undefined;
  const server = new IngressServer({
    ...(config.ingressHttpAddress ? { http: config.ingressHttpAddress } : {}),
    ...(config.ingressHttpsAddress ? { https: config.ingressHttpsAddress } : {}),
    connectTimeoutMs: config.ingressUpstream.connectTimeoutMs,
    responseTimeoutMs: config.ingressUpstream.timeoutMs,
    keepAliveTimeoutMs: config.ingressKeepAliveTimeoutMs,
    logger,
    ...hooks,
    holdUntilFirstTable: true,
  });
  return new DaemonIngress(server, logger, {
    tls: config.ingressHttpsAddress !== undefined,
    status: statusPublisherFromConfig(config, logger),
    presence: new NodePresence({ transport: new AbstractSocketTransport(ingressPresenceName(config)), logger }),
  });
};
