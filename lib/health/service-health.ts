/**
 * healthCheckNodePort servers (kube-proxy's service_health.go): for every LoadBalancer Service with
 * externalTrafficPolicy Local, an HTTP server on its healthCheckNodePort tells the cloud load balancer whether this
 * node has local endpoints: 200 with the count (and `X-Load-Balancing-Endpoint-Weight`) when it has some and the
 * proxy is healthy, else 503. Servers open and close as Services come and go, driven by each synced DesiredState.
 * A port that cannot be opened (in use, no permission) is logged and counted, never fatal, and retried next sync.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DesiredState } from '../plan/types.ts';
import { describeError } from '../errors.ts';
import { listenHttp, type Listening, type RequestHandler } from '../telemetry/http-listener.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export interface HealthCheckTarget {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  readonly localEndpoints: number;
}

/** One target per healthCheckNodePort, sorted by port. The count is the largest over the Service's ports/families. */
export const healthCheckTargets = (desired: DesiredState): HealthCheckTarget[] => {
  const byPort = new Map<number, HealthCheckTarget>();
  for (const plan of desired.services) {
    if (plan.healthCheckNodePort === 0) continue;
    const seen = byPort.get(plan.healthCheckNodePort);
    const count = plan.localEndpoints.length;
    if (seen && (seen.namespace !== plan.namespace || seen.name !== plan.name)) continue; // first Service keeps it
    byPort.set(plan.healthCheckNodePort, {
      namespace: plan.namespace,
      name: plan.name,
      port: plan.healthCheckNodePort,
      localEndpoints: Math.max(count, seen?.localEndpoints ?? 0),
    });
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
};

/**
 * Where to listen: the node-port addresses when they are known concretely, else every address (undefined) — as
 * kube-proxy listens on nodePortAddresses, or on all addresses when those match everything.
 */
export const healthCheckHosts = (desired: DesiredState): readonly (string | undefined)[] => {
  const hosts = new Set<string>();
  for (const family of Object.values(desired.families)) {
    if (family.nodePortOnAllLocal) return [undefined];
    for (const address of family.nodePortAddresses) hosts.add(address);
  }
  return hosts.size === 0 ? [undefined] : [...hosts].sort();
};

export interface HealthCheckResponse {
  readonly code: 200 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export const healthCheckResponse = (target: HealthCheckTarget, proxyHealthy: boolean): HealthCheckResponse => {
  const n = target.localEndpoints;
  const body = JSON.stringify(
    { service: { namespace: target.namespace, name: target.name }, localEndpoints: n, serviceProxyHealthy: proxyHealthy },
    null,
    2,
  );
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' };
  if (n > 0) headers['x-load-balancing-endpoint-weight'] = String(n);
  return { code: n > 0 && proxyHealthy ? 200 : 503, headers, body };
};

export type ListenFn = (host: string | undefined, port: number, handler: RequestHandler) => Promise<Listening>;

export interface ServiceHealthOptions {
  readonly logger: Logger;
  /** The proxy's own health (kube-proxy's IsHealthy: ignores Node eligibility). */
  readonly proxyHealthy: () => boolean;
  readonly listen?: ListenFn;
  readonly onListenerFailure?: (port: number, error: unknown) => void;
}

interface PortServer {
  target: HealthCheckTarget;
  readonly hostsKey: string;
  readonly listenings: Listening[];
}

export class ServiceHealthServers {
  readonly #options: ServiceHealthOptions;
  readonly #listen: ListenFn;
  readonly #servers = new Map<number, PortServer>();
  /** Last failure message per port, so a port that keeps failing is logged once per distinct error. */
  readonly #failures = new Map<number, string>();
  #chain: Promise<void> = Promise.resolve();

  constructor(options: ServiceHealthOptions) {
    this.#options = options;
    this.#listen = options.listen ?? listenHttp;
  }

  /** Ports currently served. */
  get ports(): number[] {
    return [...this.#servers.keys()].sort((a, b) => a - b);
  }

  /** Bring the servers in line with `desired`. Serialised: concurrent calls apply in order. */
  sync(desired: DesiredState): Promise<void> {
    const run = this.#chain.then(() => this.#sync(desired));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async stop(): Promise<void> {
    await this.#chain;
    const servers = [...this.#servers.values()];
    this.#servers.clear();
    await Promise.allSettled(servers.flatMap((s) => s.listenings.map((l) => l.close())));
  }

  async #sync(desired: DesiredState): Promise<void> {
    const targets = new Map(healthCheckTargets(desired).map((t) => [t.port, t]));
    const hosts = healthCheckHosts(desired);
    const hostsKey = hosts.map((h) => h ?? '*').join(',');
    for (const [port, server] of this.#servers) {
      if (targets.has(port) && server.hostsKey === hostsKey) continue;
      this.#servers.delete(port);
      await Promise.allSettled(server.listenings.map((l) => l.close()));
      this.#options.logger.info({ port, service: `${server.target.namespace}/${server.target.name}` }, 'closed health check node port');
    }
    for (const [port, target] of targets) {
      const existing = this.#servers.get(port);
      if (existing) {
        existing.target = target;
        continue;
      }
      await this.#open(target, hosts, hostsKey);
    }
    for (const port of this.#failures.keys()) if (!targets.has(port)) this.#failures.delete(port);
  }

  async #open(target: HealthCheckTarget, hosts: readonly (string | undefined)[], hostsKey: string): Promise<void> {
    const server: PortServer = { target, hostsKey, listenings: [] };
    const handler = (_req: IncomingMessage, res: ServerResponse): void => {
      const answer = healthCheckResponse(server.target, this.#options.proxyHealthy());
      res.writeHead(answer.code, answer.headers);
      res.end(answer.body);
    };
    try {
      for (const host of hosts) server.listenings.push(await this.#listen(host, target.port, handler));
    } catch (e) {
      await Promise.allSettled(server.listenings.map((l) => l.close()));
      const message = describeError(e);
      if (this.#failures.get(target.port) !== message) {
        this.#options.logger.warn(
          { port: target.port, service: `${target.namespace}/${target.name}`, err: message },
          `cannot open health check node port ${target.port} for ${target.namespace}/${target.name}: ${message}`,
        );
        this.#options.onListenerFailure?.(target.port, e);
      }
      this.#failures.set(target.port, message);
      return;
    }
    this.#failures.delete(target.port);
    this.#servers.set(target.port, server);
    this.#options.logger.info({ port: target.port, service: `${target.namespace}/${target.name}` }, 'opened health check node port');
  }
}
