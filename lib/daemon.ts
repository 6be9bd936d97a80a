/**
 * The daemon: wires a Source to the model, the planner, a dataplane and the ingress proxy.
 *
 *   source events ─> ServiceState / IngressStore ─> (sync runner) commit ─> plan ─> dataplane.sync
 *                                                                      └─> route table ─> ingress server
 *
 * Constructing does no I/O; start() does. Every side effect arrives through DaemonParts, so tests hand in fakes.
 */
import { describeError, SwitchyardError } from './errors.ts';
import type { Dataplane, SyncResult } from './dataplane/types.ts';
import type { NodeInfo } from './model/types.ts';
import type { PlanOptions } from './plan/plan.ts';
import { planDesiredState, replanDesiredState } from './plan/plan.ts';
import type { DesiredState } from './plan/types.ts';
import type { Source, SourceEvent } from './source/types.ts';
import { ServiceState, type Snapshot } from './state/service-state.ts';
import type { Logger } from './telemetry/logger-types.ts';
import { SyncTrace } from './telemetry/sync-tracing.ts';

/** The ingress side as the daemon sees it: it takes events and, after each commit, the new service snapshot. */
export interface IngressSide {
  /** Returns a rejection reason for an invalid object; `changed` when the route table must be rebuilt. */
  apply(event: SourceEvent): { readonly changed: boolean; readonly rejection?: string };
  /** Resolves once the table is served — its listeners bound, when they waited for the first table (or that failed). */
  update(snapshot: Snapshot): Promise<void>;
  /** Its first route table is published and its listeners bound (connections are answered, not held). */
  readonly serving: boolean;
  /** Binds its listeners now, or — beside another switchyard serving the same ports — after the first table. */
  start(): Promise<void>;
  stop(drainMs: number): Promise<void>;
}

/**
 * Whether this process may write the node's rules (handover/lease.ts): during a surge rollout two daemons run on
 * one node and only the lease holder writes.
 */
export interface WriterLeaseSide {
  readonly held: boolean;
  attach(handlers: { readonly beforeRelease: () => Promise<void>; readonly regained: () => void }): void;
  /** Take it, asking a holder to hand over; true when held. */
  take(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Schedules syncs: coalesces requests, bounds their frequency, retries failures. */
export interface SyncScheduler {
  /** Ask for a sync soon (coalesced). */
  request(): void;
  start(): void;
  stop(): Promise<void>;
}

export interface DaemonHooks {
  readonly onInvalidObject?: (kind: string, key: string, reason: string) => void;
  readonly onEvent?: (event: SourceEvent) => void;
  readonly onSync?: (result: SyncOutcome) => void;
  /** Changes that need a sync are waiting (called on every such event; health and metrics keep the oldest). */
  readonly onQueued?: () => void;
}

export interface SyncOutcome {
  readonly desired: DesiredState;
  readonly changed: number;
  /** undefined when there is no kernel dataplane (proxy mode none). */
  readonly dataplane: SyncResult | undefined;
  readonly error: unknown;
  /** This node's Node as the snapshot knows it (health: deletion, autoscaler taint). */
  readonly node: NodeInfo | undefined;
  /** Wall time of the whole sync (plan + dataplane). */
  readonly durationMs: number;
}

export interface DaemonParts {
  readonly logger: Logger;
  readonly source: Source;
  readonly planOptions: PlanOptions;
  readonly dataplane: Dataplane | undefined;
  readonly ingress: IngressSide | undefined;
  /** Without one, this daemon writes whenever it syncs (tests, proxy mode none). */
  readonly lease?: WriterLeaseSide;
  /** Builds the scheduler around the daemon's sync function. */
  readonly scheduler: (sync: (forceFull: boolean) => Promise<void>) => SyncScheduler;
  readonly hooks?: DaemonHooks;
}

export class Daemon {
  readonly #parts: DaemonParts;
  readonly #services: ServiceState;
  readonly #scheduler: SyncScheduler;
  #ingressDirty = false;
  #started = false;
  #lastDesired: DesiredState | undefined;
  #firstSyncDone = false;
  /** Handed the rules over to a newer daemon: plan and serve ingress, write nothing. */
  #standby = false;
  /** The kernel holds another daemon's rules: the next write must be a full one. */
  #needFull = false;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(parts: DaemonParts) {
    this.#parts = parts;
    this.#services = new ServiceState({ nodeName: parts.planOptions.nodeName });
    this.#scheduler = parts.scheduler((forceFull) => {
      const sync = this.#sync(forceFull);
      this.#inFlight = sync.catch(() => undefined);
      return sync;
    });
    parts.lease?.attach({
      beforeRelease: async () => {
        this.#standby = true;
        await this.#inFlight;
      },
      regained: () => {
        this.#standby = false;
        this.#needFull = true;
        this.#scheduler.request();
      },
    });
  }

  /** The state last handed to the dataplane. */
  get lastDesired(): DesiredState | undefined {
    return this.#lastDesired;
  }

  get synced(): boolean {
    return this.#services.synced;
  }

  /** This process has programmed the node: rules written (it holds the writer lease), ingress answering. */
  get ready(): boolean {
    return this.#firstSyncDone && !this.#standby && (this.#parts.ingress?.serving ?? true);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#parts.ingress?.start();
    this.#scheduler.start();
    await this.#parts.source.start((event) => this.#onEvent(event));
  }

  /** Stops watching and serving; leaves kernel rules in place so a restart causes no gap (as kube-proxy does). */
  async stop(drainMs = 3_000): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await Promise.allSettled([this.#parts.source.stop(), this.#scheduler.stop(), this.#parts.ingress?.stop(drainMs)]);
    await this.#parts.lease?.stop();
  }

  #onEvent(event: SourceEvent): void {
    this.#parts.hooks?.onEvent?.(event);
    const rejection = this.#services.apply(event);
    const origin = event.type === 'upsert' ? event.origin : undefined;
    if (rejection) this.#reject(rejection.kind, rejection.key, rejection.reason, origin);
    const ingress = this.#parts.ingress?.apply(event);
    if (ingress?.rejection !== undefined && event.type !== 'synced') this.#reject(event.kind, event.key, ingress.rejection, origin);
    if (ingress?.changed) this.#ingressDirty = true;
    const pending = this.#services.hasPendingChanges();
    if (pending) this.#parts.hooks?.onQueued?.();
    if (pending || this.#ingressDirty || event.type === 'synced') this.#scheduler.request();
  }

  #reject(kind: string, key: string, reason: string, origin: string | undefined): void {
    const where = origin === undefined ? '' : ` (${origin})`;
    this.#parts.logger.warn({ kind, key, reason, origin }, `skipping invalid ${kind} ${key}${where}: ${reason}`);
    this.#parts.hooks?.onInvalidObject?.(kind, key, reason);
  }

  async #sync(requestedFull: boolean): Promise<void> {
    const forceFull = requestedFull || this.#needFull;
    // No rules before Services and EndpointSlices have both been listed once: a partial view would reject traffic
    // for Services whose endpoints simply have not arrived yet.
    if (!this.#services.synced) return;
    const { logger, dataplane, ingress } = this.#parts;
    const pending = this.#services.hasPendingChanges();
    if (!pending && !forceFull && !this.#ingressDirty && this.#firstSyncDone) return;
    const startedAt = performance.now();
    const { snapshot, changed, nodeChanged } = this.#services.commit();
    const syncTrace = new SyncTrace(dataplane?.mode ?? 'none', forceFull || !this.#firstSyncDone);
    const previous = this.#lastDesired;
    // Cleared until planning succeeds: a later incremental plan must start from the previous commit's plan.
    this.#lastDesired = undefined;
    // Only the changed service ports are planned again, unless the Node changed (it feeds every plan) or a full
    // resync was asked for: planning all 10k services on every sync costs tens of milliseconds.
    const desired = syncTrace.plan(() =>
      previous !== undefined && !nodeChanged && !forceFull
        ? replanDesiredState(previous, snapshot, this.#parts.planOptions, changed)
        : planDesiredState(snapshot, this.#parts.planOptions),
    );
    this.#lastDesired = desired;
    if (ingress && (this.#ingressDirty || changed.size > 0 || nodeChanged || !this.#firstSyncDone)) {
      this.#ingressDirty = false;
      // Awaited: the first table can bind the listeners, and readiness (the ready file) is judged after this sync.
      await ingress.update(snapshot);
    }
    // Standing by: the newer daemon writes, and reports health; this one keeps its ingress table current only.
    if (dataplane && this.#standby) return syncTrace.skipped('handed over');
    let result: SyncResult | undefined;
    let error: unknown;
    try {
      if (dataplane) await this.#takeLease();
      result = dataplane
        ? await syncTrace.dataplane(() =>
            dataplane.sync(desired, {
              // A Node change (addresses, pod CIDRs, zone) touches no service port but can change every one's rules.
              changed: this.#firstSyncDone && !nodeChanged ? changed : undefined,
              forceFull: forceFull || !this.#firstSyncDone,
            }),
          )
        : undefined;
      this.#firstSyncDone = true;
      this.#needFull = false;
      logger.debug(
        { full: result?.full, services: desired.services.length, changed: changed.size, ms: result?.durationMs, bytes: result?.bytes },
        'synced',
      );
    } catch (e) {
      error = e;
      logger.error({ err: describeError(e) }, `sync failed, will retry with a full sync: ${describeError(e)}`);
    }
    const outcome: SyncOutcome = {
      desired,
      changed: changed.size,
      dataplane: result,
      error,
      node: snapshot.node,
      durationMs: performance.now() - startedAt,
    };
    syncTrace.end(outcome);
    this.#parts.hooks?.onSync?.(outcome);
    if (error) throw error;
  }

  /** Right before the first write (not at start): the node is left without a writer only for the handover itself. */
  async #takeLease(): Promise<void> {
    const lease = this.#parts.lease;
    if (!lease || lease.held) return;
    if (!(await lease.take())) {
      throw new SwitchyardError('ERR_LEASE', 'another switchyard on this node writes its rules and did not hand them over');
    }
  }
}
