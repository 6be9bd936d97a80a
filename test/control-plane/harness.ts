/**
 * Shared pieces for control-plane tests: a test API server, a real KubeSource pointed at it with small timing knobs,
 * and a recorder that applies the event stream to a map and notices duplicates.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { KubeSource, type WatchTiming } from '../../lib/source/kube.ts';
import { recordingLogger } from '../../lib/telemetry/logger-types.ts';
import { RESOURCE_KINDS, type KubeObject, type ResourceKind, type SourceEvent } from '../../lib/source/types.ts';
import { TestApiServer } from '../support/apiserver/index.ts';

export const FAST_TIMING: Partial<WatchTiming> = {
  backoffInitialMs: 100,
  backoffMaxMs: 800,
  backoffResetAfterMs: 5_000,
  staleAfterMs: 1_000,
  listTimeoutMs: 2_000,
  watchTimeoutSeconds: 30,
  reconnectDelayCapMs: 100,
};

export class Recorder {
  readonly events: SourceEvent[] = [];
  readonly state = new Map<string, KubeObject>();
  readonly synced = new Map<ResourceKind, number>();
  readonly duplicates: string[] = [];
  private readonly seenVersions = new Set<string>();
  private readonly arrivals = new Map<string, number>();

  readonly sink = (e: SourceEvent): void => {
    this.events.push(e);
    if (e.type === 'synced') {
      this.synced.set(e.kind, (this.synced.get(e.kind) ?? 0) + 1);
      return;
    }
    const id = `${e.kind}/${e.key}`;
    if (e.type === 'upsert') {
      const version = `${id}@${e.object.metadata.resourceVersion}`;
      if (this.seenVersions.has(version)) this.duplicates.push(version);
      this.seenVersions.add(version);
      this.state.set(id, e.object);
      this.arrivals.set(`upsert ${id}`, performance.now());
    } else {
      this.state.delete(id);
      this.arrivals.set(`delete ${id}`, performance.now());
    }
  };

  arrivedAt(type: 'upsert' | 'delete', kind: ResourceKind, key: string): number | undefined {
    return this.arrivals.get(`${type} ${kind}/${key}`);
  }

  /** `kind/key -> resourceVersion` of what the stream says exists. */
  versions(): Record<string, string | undefined> {
    return sorted([...this.state].map(([k, o]) => [k, o.metadata.resourceVersion]));
  }
}

/** What the server holds that the source should see (same selectors as lib/source/kube/kinds.ts). */
const sorted = (entries: Array<[string, string | undefined]>): Record<string, string | undefined> =>
  Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export const expectedVersions = (server: TestApiServer, kinds: readonly ResourceKind[] = RESOURCE_KINDS): Record<string, string | undefined> => {
  const out: Array<[string, string | undefined]> = [];
  for (const kind of kinds) {
    for (const o of server.list(kind)) {
      const labels = o.metadata.labels ?? {};
      if ((kind === 'Service' || kind === 'EndpointSlice') &&
        ('service.kubernetes.io/service-proxy-name' in labels || 'service.kubernetes.io/headless' in labels)) continue;
      if (kind === 'Secret' && o.type !== 'kubernetes.io/tls') continue;
      const key = o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
      out.push([`${kind}/${key}`, o.metadata.resourceVersion]);
    }
  }
  return sorted(out);
};

export const kubeConfigFor = (url: string): KubeConfig => {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ name: 'test', server: url, skipTLSVerify: true }, { name: 'test', token: 'test-token' });
  return kc;
};

export const waitFor = async (what: string, predicate: () => boolean, timeoutMs = 8_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

export interface Rig {
  readonly server: TestApiServer;
  readonly source: KubeSource;
  readonly recorder: Recorder;
  readonly logger: ReturnType<typeof recordingLogger>;
  readonly close: () => Promise<void>;
}

export const startRig = async (
  options: {
    kinds?: readonly ResourceKind[];
    nodeName?: string;
    seed?: (s: TestApiServer) => void;
    timing?: Partial<WatchTiming>;
    beforeStart?: (s: TestApiServer) => void;
  } = {},
): Promise<Rig> => {
  const server = new TestApiServer({ bookmarkIntervalMs: 200 });
  const url = await server.start();
  options.seed?.(server);
  options.beforeStart?.(server);
  const recorder = new Recorder();
  const logger = recordingLogger();
  const source = new KubeSource({
    kubeConfig: kubeConfigFor(url),
    kinds: options.kinds ?? RESOURCE_KINDS,
    ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
    timing: { ...FAST_TIMING, ...options.timing },
    logger,
  });
  await source.start(recorder.sink);
  return {
    server,
    source,
    recorder,
    logger,
    close: async () => {
      await source.stop();
      await server.stop();
    },
  };
};

export const service = (namespace: string, name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({
  kind: 'Service',
  apiVersion: 'v1',
  metadata: { name, namespace, labels },
  spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
});

export const endpointSlice = (namespace: string, service: string, name: string, ip: string): Record<string, unknown> => ({
  kind: 'EndpointSlice',
  apiVersion: 'discovery.k8s.io/v1',
  metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints: [{ addresses: [ip], conditions: { ready: true } }],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
});

/** One object of every kind, plus objects the selectors must keep out. */
export const seedCluster = (s: TestApiServer): void => {
  s.create(service('default', 'web'));
  s.create(service('default', 'other-proxy', { 'service.kubernetes.io/service-proxy-name': 'elsewhere' }));
  s.create(service('default', 'headless', { 'service.kubernetes.io/headless': '' }));
  s.create(endpointSlice('default', 'web', 'web-abc', '10.0.0.5'));
  s.create({ kind: 'Node', metadata: { name: 'node-1' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.1' }] } });
  s.create({ kind: 'IngressClass', metadata: { name: 'switchyard' }, spec: { controller: 'switchyard.io/ingress-controller' } });
  s.create({ kind: 'Ingress', metadata: { name: 'site', namespace: 'default' }, spec: { ingressClassName: 'switchyard' } });
  s.create({ kind: 'Secret', metadata: { name: 'cert', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': '', 'tls.key': '' } });
  s.create({ kind: 'Secret', metadata: { name: 'opaque', namespace: 'default' }, type: 'Opaque', data: {} });
};
