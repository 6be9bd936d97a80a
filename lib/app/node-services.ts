/**
 * What running on a node adds around the daemon: /healthz and /livez, /metrics, healthCheckNodePort servers,
 * conntrack cleanup after each sync, and at start the kernel parameters (lib/app/node-kernel.ts). Built from a
 * Config; constructing does no I/O, start() does. Listener failures are logged and retried (fatal only with
 * --bind-address-hard-fail).
 */
import { availableParallelism, hostname } from 'node:os';
import { resolveNodeName } from '../config/command-line.ts';
import type { Config } from '../config/types.ts';
import { ConntrackCleaner } from '../conntrack/cleaner.ts';
import { ConntrackCli, type ConntrackDeleter } from '../conntrack/conntrack.ts';
import { procKernelParams, type KernelParams } from '../conntrack/sysctls.ts';
import type { DaemonHooks, SyncOutcome } from '../daemon.ts';
import { describeError, SwitchyardError } from '../errors.ts';
import { ProcessRunner } from '../exec/command.ts';
import { HealthServer } from '../health/health-server.ts';
import { ProxyHealth } from '../health/proxy-health.ts';
import { ReadyFile, type FileWriter } from '../health/ready-file.ts';
import { ServiceHealthServers, type ListenFn } from '../health/service-health.ts';
import type { RequestRecord } from '../ingress/proxy.ts';
import type { ManifestProblem } from '../source/manifests.ts';
import type { ResourceKind } from '../source/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { ProxyMetrics } from '../telemetry/metrics.ts';
import { MetricsServer } from '../telemetry/metrics-server.ts';
import { SyncTelemetry } from '../telemetry/sync-telemetry.ts';
import { startTracing, type Tracing } from '../telemetry/tracing.ts';
import type { IngressHooks } from './ingress-from-config.ts';
import { applyNodeKernelParams, applyOomScoreAdj, type NodeKernelOutcome } from './node-kernel.ts';
import type { SourceHooks } from './source-from-config.ts';

const RETRY_LISTEN_MS = 5_000;
/**
 * How often readiness is looked at besides after each sync: it can come without one (ingress listeners whose bind
 * waited for the first table and failed once, bound on a retry).
 */
const READY_CHECK_MS = 1_000;

export interface NodeServicesDrivers {
  readonly conntrack?: ConntrackDeleter;
  readonly kernelParams?: KernelParams;
  readonly listen?: ListenFn;
  readonly cores?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly files?: FileWriter;
}

interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class NodeServices {
  readonly metrics = new ProxyMetrics();
  readonly health: ProxyHealth;
  readonly #config: Config;
  readonly #logger: Logger;
  readonly #drivers: NodeServicesDrivers;
  readonly #telemetry: SyncTelemetry;
  readonly #servers: { readonly what: string; readonly server: Startable }[] = [];
  readonly #serviceHealth: ServiceHealthServers | undefined;
  readonly #conntrack: ConntrackCleaner | undefined;
  readonly #retries = new Set<NodeJS.Timeout>();
  #afterSync: Promise<void> = Promise.resolve();
  readonly #readyFile: ReadyFile | undefined;
  #readyCheck: NodeJS.Timeout | undefined;
  #isReady: () => boolean = () => false;
  #tracing: Tracing | undefined;
  #stopped = false;
  #kernel: NodeKernelOutcome | undefined;

  constructor(config: Config, logger: Logger, drivers: NodeServicesDrivers = {}) {
    this.#config = config;
    this.#logger = logger;
    this.#drivers = drivers;
    // kube-proxy's healthTimeout: two sync periods.
    this.health = new ProxyHealth({ healthTimeoutMs: 2 * (config.proxyMode === 'ipvs' ? config.ipvs.syncPeriodMs : config.syncPeriodMs) });
    this.#telemetry = new SyncTelemetry({
      metrics: this.metrics,
      health: this.health,
      dataplaneMode: config.proxyMode === 'none' ? 'nftables' : config.proxyMode,
    });
    if (config.healthzBindAddress) {
      const server = new HealthServer({
        address: config.healthzBindAddress,
        health: this.health,
        logger,
        onProbe: (path, code) => (path === '/healthz' ? this.metrics.countHealthz(code) : this.metrics.countLivez(code)),
      });
      this.#servers.push({ what: 'healthz', server });
    }
    if (config.metricsBindAddress) {
      this.#servers.push({ what: 'metrics', server: new MetricsServer({ address: config.metricsBindAddress, metrics: this.metrics, logger }) });
    }
    if (config.readyFile !== undefined) this.#readyFile = new ReadyFile(config.readyFile, logger, drivers.files);
    // Without a kernel dataplane there are no NodePorts and no NAT flows: nothing to health-check or clean.
    if (config.proxyMode !== 'none') {
      this.#serviceHealth = new ServiceHealthServers({
        logger,
        proxyHealthy: () => this.health.status().healthy,
        ...(drivers.listen ? { listen: drivers.listen } : {}),
        onListenerFailure: () => this.metrics.countListenerFailure(),
      });
      this.#conntrack = new ConntrackCleaner({
        deleter: drivers.conntrack ?? new ConntrackCli({ commands: new ProcessRunner() }),
        logger,
        onResult: (ok) => this.metrics.countConntrack(ok),
      });
    }
  }

  /** Hooks for the Daemon. */
  get hooks(): DaemonHooks {
    return {
      onEvent: (event) => this.#telemetry.onEvent(event),
      onQueued: () => this.#telemetry.onQueued(),
      onInvalidObject: (kind) => this.metrics.countInvalidObject(kind),
      onSync: (outcome) => this.#onSync(outcome),
    };
  }

  /** Hooks for the object source. */
  get sourceHooks(): SourceHooks {
    return {
      onRestart: (kind: ResourceKind, reason: string) => this.metrics.countSourceRestart(kind, reason),
      onInvalidDocument: (_problem: ManifestProblem) => this.metrics.countInvalidObject('document'),
    };
  }

  /** What makes this process ready (the daemon's own view); the ready file is written the first time it holds. */
  watchReadiness(isReady: () => boolean): void {
    this.#isReady = isReady;
  }

  /** Metrics hooks for the ingress server: each request, each hand-off (fast path → node:http), a failed bind. */
  readonly ingressHooks: IngressHooks = {
    onRequest: (record: RequestRecord): void => {
      this.metrics.countIngressRequest(record.status);
      if (record.upstreamMs !== undefined) this.metrics.observeIngressUpstream(record.upstreamMs / 1000);
    },
    onHandoff: (reason: string): void => this.metrics.countIngressHandoff(reason),
    onListenFailure: (): void => this.metrics.countIngressListenFailure(),
  };

  /** What start() found the kernel parameters allow (undefined before it ran). */
  get kernel(): NodeKernelOutcome | undefined {
    return this.#kernel;
  }

  /** Ports served by the health/metrics listeners (for tests; 0 requested → the bound port). */
  get healthzPort(): number | undefined {
    return (this.#servers.find((s) => s.what === 'healthz')?.server as HealthServer | undefined)?.port;
  }

  get metricsPort(): number | undefined {
    return (this.#servers.find((s) => s.what === 'metrics')?.server as MetricsServer | undefined)?.port;
  }

  async start(): Promise<void> {
    this.#tracing = startTracing({
      env: this.#drivers.env ?? process.env,
      logger: this.#logger,
      nodeName: resolveNodeName(this.#config, hostname()),
    });
    await this.#readyFile?.clear();
    const params = this.#drivers.kernelParams ?? procKernelParams;
    await applyOomScoreAdj(this.#config.oomScoreAdj, params, this.#logger);
    this.#kernel = await applyNodeKernelParams(this.#config, params, this.#drivers.cores ?? availableParallelism(), this.#logger);
    await Promise.all(this.#servers.map(({ what, server }) => this.#startServer(what, server)));
    if (this.#readyFile) {
      this.#readyCheck = setInterval(() => this.#markIfReady(), READY_CHECK_MS);
      this.#readyCheck.unref();
    }
  }

  /** Waits for post-sync work (health-check ports, conntrack) queued so far. */
  idle(): Promise<void> {
    return this.#afterSync;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#readyCheck);
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
    await this.#afterSync;
    await Promise.allSettled([...this.#servers.map(({ server }) => server.stop()), this.#serviceHealth?.stop(), this.#readyFile?.clear()]);
    // The daemon has stopped syncing by now: the last sync spans are queued and get flushed here.
    await Promise.all([this.metrics.shutdown().catch(() => undefined), this.#tracing?.shutdown()]);
  }

  /**
   * A bind failure (address in use…) is logged and retried; it never stops the proxy, unless
   * --bind-address-hard-fail asks for kube-proxy's exit.
   */
  async #startServer(what: string, server: Startable): Promise<void> {
    try {
      await server.start();
    } catch (e) {
      if (this.#config.bindAddressHardFail) {
        throw new SwitchyardError('ERR_BIND', `${what} server: ${describeError(e)} (--bind-address-hard-fail)`, { cause: e });
      }
      this.#logger.error({ err: describeError(e) }, `${what} server: ${describeError(e)}; retrying in ${RETRY_LISTEN_MS / 1000} s`);
      if (this.#stopped) return;
      const timer = setTimeout(() => {
        this.#retries.delete(timer);
        if (!this.#stopped) void this.#startServer(what, server);
      }, RETRY_LISTEN_MS);
      timer.unref();
      this.#retries.add(timer);
    }
  }

  #markIfReady(): void {
    if (!this.#readyFile || this.#readyFile.marked || this.#stopped || !this.#isReady()) return;
    clearInterval(this.#readyCheck);
    void this.#readyFile.mark();
  }

  #onSync(outcome: SyncOutcome): void {
    this.#telemetry.onSync(outcome);
    if (outcome.error !== undefined || this.#stopped) return;
    this.#markIfReady();
    const { desired } = outcome;
    // Serialised so cleanups see states in the order they were applied.
    this.#afterSync = this.#afterSync.then(async () => {
      await Promise.allSettled([this.#serviceHealth?.sync(desired), this.#conntrack?.afterSync(desired)]);
    });
  }
}
