/**
 * The API server source: one supervised informer per kind (see kube/kind-watcher.ts), all feeding one SourceSink.
 * start() resolves as soon as the informers are launched; `synced` events say when each kind's first list is in.
 * An unreachable API server is retried forever with a warn line per attempt.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { SwitchyardError, describeError } from '../errors.ts';
import { nullLogger, type Logger } from '../telemetry/logger-types.ts';
import { kindSpecFor } from './kube/kinds.ts';
import { KindWatcher, type KindStats, type RestartReason, type WatchTiming } from './kube/kind-watcher.ts';
import { RESOURCE_KINDS, type ResourceKind, type Source, type SourceSink } from './types.ts';

export type { KindStats, RestartReason, WatchTiming } from './kube/kind-watcher.ts';

export interface KubeSourceOptions {
  /** kubeconfig file; without it (and without kubeConfig) in-cluster config in a pod, else the default loading rules. */
  readonly kubeconfigPath?: string;
  /** API server URL; overrides the kubeconfig's server (kube-proxy's --master). */
  readonly masterUrl?: string;
  /** A ready KubeConfig (tests). Takes precedence over kubeconfigPath. */
  readonly kubeConfig?: KubeConfig;
  readonly kinds?: readonly ResourceKind[];
  /** This node's name: only its Node object is watched. Without it every Node is (tests, `plan` of any node). */
  readonly nodeName?: string;
  readonly timing?: Partial<WatchTiming>;
  readonly logger?: Logger;
  readonly random?: () => number;
  readonly onRestart?: (kind: ResourceKind, reason: RestartReason) => void;
}

export const DEFAULT_WATCH_TIMING: WatchTiming = {
  backoffInitialMs: 500,
  backoffMaxMs: 30_000,
  backoffResetAfterMs: 60_000,
  staleAfterMs: 3 * 60_000,
  listTimeoutMs: 60_000,
  watchTimeoutSeconds: 300,
  reconnectDelayCapMs: 1_000,
};

/**
 * client-node refuses an http:// server unless skipTLSVerify is set; over plain HTTP there is no TLS to verify,
 * so setting it only lets `--master http://…` (kube-proxy's insecure-port use) work.
 */
const isPlainHttp = (url: string): boolean => url.toLowerCase().startsWith('http://');

export const loadKubeConfig = (options: Pick<KubeSourceOptions, 'kubeconfigPath' | 'masterUrl' | 'kubeConfig'>): KubeConfig => {
  let kc = options.kubeConfig;
  if (!kc) {
    kc = new KubeConfig();
    try {
      if (options.kubeconfigPath) kc.loadFromFile(options.kubeconfigPath);
      else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
      else if (options.masterUrl) {
        kc.loadFromClusterAndUser({ name: 'master', server: options.masterUrl, skipTLSVerify: isPlainHttp(options.masterUrl) }, { name: 'anonymous' });
      } else kc.loadFromDefault();
    } catch (e) {
      const where = options.kubeconfigPath ?? (process.env.KUBERNETES_SERVICE_HOST ? 'in-cluster config' : 'default kubeconfig');
      throw new SwitchyardError('ERR_SOURCE_UNAVAILABLE', `cannot load ${where}: ${describeError(e)}`, { cause: e });
    }
  }
  const current = kc.getCurrentCluster();
  if (!current) throw new SwitchyardError('ERR_SOURCE_UNAVAILABLE', 'kubeconfig has no current cluster');
  if (options.masterUrl && current.server !== options.masterUrl) {
    const overridden = new KubeConfig();
    overridden.loadFromOptions({
      clusters: kc.clusters.map((c) =>
        c.name === current.name
          ? { ...c, server: options.masterUrl!, skipTLSVerify: c.skipTLSVerify || isPlainHttp(options.masterUrl!) }
          : c,
      ),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
    kc = overridden;
  }
  return kc;
};

export class KubeSource implements Source {
  private readonly options: KubeSourceOptions;
  private readonly logger: Logger;
  private watchers: KindWatcher[] = [];

  constructor(options: KubeSourceOptions = {}) {
    this.options = options;
    this.logger = options.logger ?? nullLogger;
  }

  async start(sink: SourceSink): Promise<void> {
    if (this.watchers.length > 0) throw new SwitchyardError('ERR_SOURCE_UNAVAILABLE', 'KubeSource already started');
    const kubeConfig = loadKubeConfig(this.options);
    const timing = { ...DEFAULT_WATCH_TIMING, ...this.options.timing };
    const kinds = this.options.kinds ?? RESOURCE_KINDS;
    this.logger.info({ url: kubeConfig.getCurrentCluster()?.server, kinds }, 'watching API server');
    const emit: SourceSink = (event) => {
      try {
        sink(event);
      } catch (e) {
        // A throwing consumer must not kill the informer: log and carry on.
        this.logger.error({ kind: event.kind, type: event.type, err: describeError(e) }, 'source sink threw');
      }
    };
    this.watchers = kinds.map(
      (kind) =>
        new KindWatcher(kindSpecFor(kind, this.options.nodeName), {
          kubeConfig,
          emit,
          logger: this.logger,
          timing,
          ...(this.options.random ? { random: this.options.random } : {}),
          ...(this.options.onRestart ? { onRestart: (k, r) => this.options.onRestart?.(k as ResourceKind, r) } : {}),
        }),
    );
    for (const w of this.watchers) w.start();
  }

  async stop(): Promise<void> {
    const watchers = this.watchers;
    this.watchers = [];
    await Promise.all(watchers.map((w) => w.stop()));
  }

  /** Per-kind counters for metrics and tests. */
  stats(): KindStats[] {
    return this.watchers.map((w) => w.stats());
  }
}
