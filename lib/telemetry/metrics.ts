/**
 * Metrics: an OpenTelemetry MeterProvider whose instruments carry kube-proxy's exact Prometheus names (so existing
 * dashboards and alerts keep working), plus switchyard's own. The Prometheus exporter is used only as a metric
 * reader and text serializer; MetricsServer (metrics-server.ts) serves the text so we control the bind address.
 *
 * Naming: the exporter appends `_total` to monotonic counters lacking it and adds no unit suffix when no unit is
 * set, so every counter here already ends in `_total` and no instrument declares a unit.
 */
import type { Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/** kube-proxy's sync-duration buckets: 0.001 × 2^n, 15 buckets (1 ms … ~16 s). */
export const SYNC_DURATION_BUCKETS: readonly number[] = Array.from({ length: 15 }, (_, n) => 0.001 * 2 ** n);

/** kube-proxy's network-programming buckets: 0.25, 0.5, 1…59 s, 60…115 s by 5, 120…300 s by 30. */
export const NETWORK_PROGRAMMING_BUCKETS: readonly number[] = [
  0.25,
  0.5,
  ...Array.from({ length: 59 }, (_, i) => i + 1),
  ...Array.from({ length: 12 }, (_, i) => 60 + 5 * i),
  ...Array.from({ length: 7 }, (_, i) => 120 + 30 * i),
];

/** Upstream latency of the ingress proxy: 1 ms … ~32 s. */
export const UPSTREAM_DURATION_BUCKETS: readonly number[] = Array.from({ length: 16 }, (_, n) => 0.001 * 2 ** n);

export type TrafficPolicyLabel = 'internal' | 'external';
export type DataplaneFailureMode = 'nftables' | 'iptables' | 'ipvs';

/** The names exposed on /metrics, for tests and docs. */
export const METRIC_NAMES = {
  syncDuration: 'kubeproxy_sync_proxy_rules_duration_seconds',
  syncFullDuration: 'kubeproxy_sync_full_proxy_rules_duration_seconds',
  syncPartialDuration: 'kubeproxy_sync_partial_proxy_rules_duration_seconds',
  lastSync: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
  lastQueued: 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds',
  networkProgramming: 'kubeproxy_network_programming_duration_seconds',
  serviceChangesTotal: 'kubeproxy_sync_proxy_rules_service_changes_total',
  serviceChangesPending: 'kubeproxy_sync_proxy_rules_service_changes_pending',
  endpointChangesTotal: 'kubeproxy_sync_proxy_rules_endpoint_changes_total',
  endpointChangesPending: 'kubeproxy_sync_proxy_rules_endpoint_changes_pending',
  noLocalEndpoints: 'kubeproxy_sync_proxy_rules_no_local_endpoints_total',
  healthzTotal: 'kubeproxy_proxy_healthz_total',
  livezTotal: 'kubeproxy_proxy_livez_total',
  nftablesSyncFailures: 'kubeproxy_sync_proxy_rules_nftables_sync_failures_total',
  iptablesRestoreFailures: 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total',
  syncsTotal: 'switchyard_syncs_total',
  invalidObjects: 'switchyard_invalid_objects_total',
  ingressRequests: 'switchyard_ingress_requests_total',
  ingressUpstreamDuration: 'switchyard_ingress_upstream_duration_seconds',
  ingressHandoffs: 'switchyard_ingress_handoffs_total',
  ingressListenFailures: 'switchyard_ingress_listen_failures_total',
  sourceRestarts: 'switchyard_source_restarts_total',
  conntrackDeleted: 'switchyard_conntrack_entries_deleted_total',
  conntrackFailures: 'switchyard_conntrack_cleanup_failures_total',
  healthCheckListenerFailures: 'switchyard_health_check_listener_failures_total',
} as const;

export class ProxyMetrics {
  readonly #provider: MeterProvider;
  readonly #exporter: PrometheusExporter;
  readonly #serializer = new PrometheusSerializer('', false, undefined, true, true);
  readonly #syncDuration: Histogram;
  readonly #syncFullDuration: Histogram;
  readonly #syncPartialDuration: Histogram;
  readonly #lastSync: Gauge;
  readonly #lastQueued: Gauge;
  readonly #networkProgramming: Histogram;
  readonly #serviceChanges: Counter;
  readonly #serviceChangesPending: Gauge;
  readonly #endpointChanges: Counter;
  readonly #endpointChangesPending: Gauge;
  readonly #noLocalEndpoints: Gauge;
  readonly #healthz: Counter;
  readonly #livez: Counter;
  readonly #nftablesFailures: Counter;
  readonly #iptablesFailures: Counter;
  readonly #syncs: Counter;
  readonly #invalidObjects: Counter;
  readonly #ingressRequests: Counter;
  readonly #ingressUpstream: Histogram;
  readonly #ingressHandoffs: Counter;
  readonly #ingressListenFailures: Counter;
  readonly #sourceRestarts: Counter;
  readonly #conntrackDeleted: Counter;
  readonly #conntrackFailures: Counter;
  readonly #listenerFailures: Counter;

  constructor() {
    // preventServerStart: the exporter only reads and serializes; MetricsServer owns the socket.
    this.#exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true });
    this.#provider = new MeterProvider({ readers: [this.#exporter] });
    const meter: Meter = this.#provider.getMeter('switchyard');
    const histogram = (name: string, description: string, buckets: readonly number[]): Histogram =>
      meter.createHistogram(name, { description, advice: { explicitBucketBoundaries: [...buckets] } });
    const counter = (name: string, description: string, zero: boolean): Counter => {
      const c = meter.createCounter(name, { description });
      // kube-proxy's unlabelled counters are visible at 0 from the start.
      if (zero) c.add(0);
      return c;
    };
    const n = METRIC_NAMES;
    this.#syncDuration = histogram(n.syncDuration, 'SyncProxyRules latency in seconds', SYNC_DURATION_BUCKETS);
    this.#syncFullDuration = histogram(n.syncFullDuration, 'SyncProxyRules latency in seconds for full resyncs', SYNC_DURATION_BUCKETS);
    this.#syncPartialDuration = histogram(n.syncPartialDuration, 'SyncProxyRules latency in seconds for partial resyncs', SYNC_DURATION_BUCKETS);
    this.#lastSync = meter.createGauge(n.lastSync, { description: 'The last time proxy rules were successfully synced' });
    this.#lastQueued = meter.createGauge(n.lastQueued, {
      description: 'The last time a sync of proxy rules was queued',
    });
    this.#networkProgramming = histogram(n.networkProgramming, 'In Cluster Network Programming Latency in seconds', NETWORK_PROGRAMMING_BUCKETS);
    this.#serviceChanges = counter(n.serviceChangesTotal, 'Cumulative proxy rules Service changes', true);
    this.#serviceChangesPending = meter.createGauge(n.serviceChangesPending, { description: 'Pending proxy rules Service changes' });
    this.#endpointChanges = counter(n.endpointChangesTotal, 'Cumulative proxy rules Endpoint changes', true);
    this.#endpointChangesPending = meter.createGauge(n.endpointChangesPending, { description: 'Pending proxy rules Endpoint changes' });
    this.#noLocalEndpoints = meter.createGauge(n.noLocalEndpoints, {
      description: 'Number of services with a Local traffic policy and no endpoints',
    });
    this.#healthz = counter(n.healthzTotal, 'Cumulative proxy healthz HTTP status', false);
    this.#livez = counter(n.livezTotal, 'Cumulative proxy livez HTTP status', false);
    this.#nftablesFailures = counter(n.nftablesSyncFailures, 'Cumulative proxy nftables sync failures', true);
    this.#iptablesFailures = counter(n.iptablesRestoreFailures, 'Cumulative proxy iptables restore failures', false);
    this.#syncs = counter(n.syncsTotal, 'Dataplane syncs by kind (full or partial)', false);
    this.#invalidObjects = counter(n.invalidObjects, 'Objects skipped because they are invalid, by kind', false);
    this.#ingressRequests = counter(n.ingressRequests, 'Ingress requests by response status code', false);
    this.#ingressHandoffs = counter(n.ingressHandoffs, 'Ingress connections handed from the fast path to node:http, by reason', false);
    this.#ingressListenFailures = counter(n.ingressListenFailures, 'Ingress listeners that could not be bound when their binding waited for the first route table', false);
    this.#ingressUpstream = histogram(n.ingressUpstreamDuration, 'Time from forwarding an ingress request to the upstream response headers, in seconds', UPSTREAM_DURATION_BUCKETS);
    this.#sourceRestarts = counter(n.sourceRestarts, 'Watch restarts of the object source, by kind and reason', false);
    this.#conntrackDeleted = counter(n.conntrackDeleted, 'Conntrack delete commands that removed stale UDP entries', false);
    this.#conntrackFailures = counter(n.conntrackFailures, 'Conntrack delete commands that failed', false);
    this.#listenerFailures = counter(n.healthCheckListenerFailures, 'healthCheckNodePort listeners that could not be opened', false);
  }

  /** One completed dataplane sync. */
  observeSync(seconds: number, full: boolean, finishedAtMs: number): void {
    this.#syncDuration.record(seconds);
    (full ? this.#syncFullDuration : this.#syncPartialDuration).record(seconds);
    this.#syncs.add(1, { kind: full ? 'full' : 'partial' });
    this.#lastSync.record(finishedAtMs / 1000);
  }

  syncFailed(mode: DataplaneFailureMode): void {
    if (mode === 'iptables') this.#iptablesFailures.add(1);
    else this.#nftablesFailures.add(1);
  }

  queued(atMs: number): void {
    this.#lastQueued.record(atMs / 1000);
  }

  serviceChanged(): void {
    this.#serviceChanges.add(1);
  }

  endpointChanged(): void {
    this.#endpointChanges.add(1);
  }

  setPending(services: number, endpoints: number): void {
    this.#serviceChangesPending.record(services);
    this.#endpointChangesPending.record(endpoints);
  }

  observeNetworkProgramming(seconds: number): void {
    if (seconds >= 0) this.#networkProgramming.record(seconds);
  }

  setNoLocalEndpoints(counts: Readonly<Record<TrafficPolicyLabel, number>>): void {
    this.#noLocalEndpoints.record(counts.internal, { traffic_policy: 'internal' });
    this.#noLocalEndpoints.record(counts.external, { traffic_policy: 'external' });
  }

  countHealthz(code: number): void {
    this.#healthz.add(1, { code: String(code) });
  }

  countLivez(code: number): void {
    this.#livez.add(1, { code: String(code) });
  }

  countInvalidObject(kind: string): void {
    this.#invalidObjects.add(1, { kind });
  }

  countIngressRequest(code: number): void {
    this.#ingressRequests.add(1, { code: String(code) });
  }

  countIngressHandoff(reason: string): void {
    this.#ingressHandoffs.add(1, { reason });
  }

  countIngressListenFailure(): void {
    this.#ingressListenFailures.add(1);
  }

  observeIngressUpstream(seconds: number): void {
    this.#ingressUpstream.record(seconds);
  }

  countSourceRestart(kind: string, reason: string): void {
    this.#sourceRestarts.add(1, { kind, reason });
  }

  countConntrack(ok: boolean): void {
    (ok ? this.#conntrackDeleted : this.#conntrackFailures).add(1);
  }

  countListenerFailure(): void {
    this.#listenerFailures.add(1);
  }

  /** The Prometheus text exposition of every instrument. */
  async scrape(): Promise<string> {
    const { resourceMetrics, errors } = await this.#exporter.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metrics collection failed');
    return this.#serializer.serialize(resourceMetrics);
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}
