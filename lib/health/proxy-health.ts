/**
 * The proxy's health, with kube-proxy's semantics (pkg/proxy/healthcheck/proxy_health.go):
 *  - queued(): a change that needs a sync arrived; the first pending one starts a timer.
 *  - updated(): a sync succeeded; the timer is cleared and lastUpdated moves.
 *  - healthy while nothing is pending, or the oldest pending change is younger than healthTimeout
 *    (kube-proxy passes 2 × syncPeriod).
 *  - /healthz additionally needs the Node to be eligible: not being deleted, no ToBeDeletedByClusterAutoscaler
 *    taint. /livez ignores the Node. Eligible until the first Node says otherwise.
 * One dataplane here programs both families, so there is one timer rather than one per family.
 * Pure state with an injected clock; the HTTP side is health-server.ts.
 */
import type { NodeInfo } from '../model/types.ts';

export const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler';

export interface HealthStatus {
  readonly healthy: boolean;
  /** When the proxy last synced successfully (ms since epoch; 0 = never). */
  readonly lastUpdatedMs: number;
  readonly nowMs: number;
}

export const isNodeEligible = (node: NodeInfo | undefined): boolean =>
  node === undefined || (!node.deleting && !node.taintKeys.includes(TO_BE_DELETED_TAINT));

export class ProxyHealth {
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #lastUpdatedMs = 0;
  #oldestPendingMs: number | undefined;
  #nodeEligible = true;

  constructor(options: { healthTimeoutMs: number; now?: () => number }) {
    this.#timeoutMs = options.healthTimeoutMs;
    this.#now = options.now ?? Date.now;
  }

  queued(): void {
    this.#oldestPendingMs ??= this.#now();
  }

  updated(): void {
    this.#oldestPendingMs = undefined;
    this.#lastUpdatedMs = this.#now();
  }

  syncNode(node: NodeInfo | undefined): void {
    this.#nodeEligible = isNodeEligible(node);
  }

  get nodeEligible(): boolean {
    return this.#nodeEligible;
  }

  /** The proxier's own health (what /livez reports). */
  status(): HealthStatus {
    const nowMs = this.#now();
    const pending = this.#oldestPendingMs;
    const healthy = pending === undefined || nowMs - pending < this.#timeoutMs;
    return { healthy, lastUpdatedMs: this.#lastUpdatedMs, nowMs };
  }
}

const iso = (ms: number): string => new Date(ms === 0 ? -62_135_596_800_000 : ms).toISOString();

export interface HealthResponse {
  readonly code: 200 | 503;
  readonly body: string;
}

/**
 * The JSON bodies kube-proxy writes. When healthy, lastUpdated is reported as "now" (kube-proxy keeps this for
 * compatibility with releases where it meant "the sync loop ran recently").
 */
export const healthzResponse = (health: ProxyHealth): HealthResponse => {
  const { healthy, lastUpdatedMs, nowMs } = health.status();
  const eligible = health.nodeEligible;
  const ok = healthy && eligible;
  return {
    code: ok ? 200 : 503,
    body: `{"lastUpdated": ${JSON.stringify(iso(ok ? nowMs : lastUpdatedMs))},"currentTime": ${JSON.stringify(iso(nowMs))}, "nodeEligible": ${eligible}}`,
  };
};

export const livezResponse = (health: ProxyHealth): HealthResponse => {
  const { healthy, lastUpdatedMs, nowMs } = health.status();
  return {
    code: healthy ? 200 : 503,
    body: `{"lastUpdated": ${JSON.stringify(iso(healthy ? nowMs : lastUpdatedMs))},"currentTime": ${JSON.stringify(iso(nowMs))}}`,
  };
};
