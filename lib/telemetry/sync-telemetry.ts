/**
 * Turns the daemon's event and sync notifications into kube-proxy's metrics and the proxy health state:
 * changes seen and pending, when a sync was queued, how long syncs took, network programming latency (from an
 * EndpointSlice's `endpoints.kubernetes.io/last-change-trigger-time`, else from when its event arrived, to the
 * sync that programmed it), and Local-policy service ports without local endpoints.
 */
import type { SyncOutcome } from '../daemon.ts';
import type { ProxyHealth } from '../health/proxy-health.ts';
import type { DesiredState } from '../plan/types.ts';
import type { SourceEvent } from '../source/types.ts';
import type { ProxyMetrics, DataplaneFailureMode } from './metrics.ts';

export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';

/** Local-policy service ports with no local endpoint, per traffic class (counted per port and family). */
export const noLocalEndpointCounts = (desired: DesiredState): { internal: number; external: number } => {
  let internal = 0;
  let external = 0;
  for (const plan of desired.services) {
    if (plan.localEndpoints.length > 0) continue;
    if (plan.internalPolicyLocal) internal++;
    // External traffic exists only for ports reachable from outside.
    const exposed = plan.nodePort > 0 || plan.externalIPs.length > 0 || plan.loadBalancerIPs.length > 0;
    if (plan.externalPolicyLocal && exposed) external++;
  }
  return { internal, external };
};

/** When the change carried by an EndpointSlice event happened (ms since epoch). */
export const changeTriggerTime = (event: SourceEvent, arrivedMs: number): number => {
  if (event.type === 'synced') return arrivedMs;
  const stamp = event.object?.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME];
  const parsed = stamp === undefined ? Number.NaN : Date.parse(stamp);
  return Number.isFinite(parsed) ? parsed : arrivedMs;
};

export interface SyncTelemetryOptions {
  readonly metrics?: ProxyMetrics;
  readonly health?: ProxyHealth;
  readonly dataplaneMode?: DataplaneFailureMode;
  readonly now?: () => number;
}

export class SyncTelemetry {
  readonly #metrics: ProxyMetrics | undefined;
  readonly #health: ProxyHealth | undefined;
  readonly #mode: DataplaneFailureMode;
  readonly #now: () => number;
  readonly #pendingServices = new Set<string>();
  readonly #pendingSlices = new Set<string>();
  /** Trigger times of EndpointSlice changes not yet programmed. */
  #triggers: number[] = [];

  constructor(options: SyncTelemetryOptions) {
    this.#metrics = options.metrics;
    this.#health = options.health;
    this.#mode = options.dataplaneMode ?? 'nftables';
    this.#now = options.now ?? Date.now;
  }

  onEvent(event: SourceEvent): void {
    if (event.type === 'synced') return;
    if (event.kind === 'Service') {
      this.#pendingServices.add(event.key);
      this.#metrics?.serviceChanged();
    } else if (event.kind === 'EndpointSlice') {
      this.#pendingSlices.add(event.key);
      this.#metrics?.endpointChanged();
      this.#triggers.push(changeTriggerTime(event, this.#now()));
    } else {
      return;
    }
    this.#metrics?.setPending(this.#pendingServices.size, this.#pendingSlices.size);
  }

  /** A change that needs a sync is waiting. */
  onQueued(): void {
    this.#health?.queued();
    this.#metrics?.queued(this.#now());
  }

  onSync(outcome: SyncOutcome): void {
    const now = this.#now();
    this.#health?.syncNode(outcome.node);
    // The changes were folded into the snapshot whether or not the kernel write worked.
    this.#pendingServices.clear();
    this.#pendingSlices.clear();
    this.#metrics?.setPending(0, 0);
    if (outcome.error !== undefined) {
      this.#metrics?.syncFailed(this.#mode);
      return;
    }
    this.#health?.updated();
    const seconds = (outcome.dataplane?.durationMs ?? outcome.durationMs) / 1000;
    this.#metrics?.observeSync(seconds, outcome.dataplane?.full ?? true, now);
    for (const at of this.#triggers) this.#metrics?.observeNetworkProgramming((now - at) / 1000);
    this.#triggers = [];
    this.#metrics?.setNoLocalEndpoints(noLocalEndpointCounts(outcome.desired));
  }
}
