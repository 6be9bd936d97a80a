/**
 * One supervised informer: client-node's ListWatch (which already re-watches from the last resourceVersion after a
 * clean close and relists after 410 Expired) wrapped with what it lacks: restart after `error` (ListWatch stops for
 * good on any other failure) with jittered backoff, a staleness watchdog, and exactly-once emission across
 * restarts and relists through EmittedState.
 */
import { ListWatch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../../telemetry/logger-types.ts';
import type { KubeObject, SourceEvent } from '../types.ts';
import { ApiStatusError, asKubeObject, describeCause, listObjects, serverUrlOf } from './api-json.ts';
import { Backoff } from './backoff.ts';
import { EmittedState } from './emitted-state.ts';
import type { KindSpec } from './kinds.ts';
import { SupervisedWatch } from './supervised-watch.ts';

export interface WatchTiming {
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** A failure this long after the previous one starts the backoff over. */
  readonly backoffResetAfterMs: number;
  /** No event or bookmark for this long: cut the watch and re-watch. */
  readonly staleAfterMs: number;
  readonly listTimeoutMs: number;
  /** Server-side watch timeout, randomised in [min, 2*min) as client-go's reflector does. */
  readonly watchTimeoutSeconds: number;
  /** Cap on ListWatch's own delay before re-watching after a clean close. */
  readonly reconnectDelayCapMs: number;
}

export type RestartReason = 'error' | 'stale';

export interface KindStats {
  readonly kind: string;
  readonly synced: boolean;
  readonly objects: number;
  readonly restarts: number;
  readonly staleRestarts: number;
  readonly lists: number;
  /** Wall-clock ms of the last emitted upsert/delete, 0 before any. */
  readonly lastEventAt: number;
  /** Wall-clock ms of the last sign of life (list, event, bookmark). */
  readonly lastActivityAt: number;
}

export interface KindWatcherDeps {
  readonly kubeConfig: KubeConfig;
  readonly emit: (event: SourceEvent) => void;
  readonly logger: Logger;
  readonly timing: WatchTiming;
  readonly random?: () => number;
  readonly onRestart?: (kind: string, reason: RestartReason) => void;
}

export class KindWatcher {
  private readonly spec: KindSpec;
  private readonly deps: KindWatcherDeps;
  private readonly emitted: EmittedState;
  private readonly backoff: Backoff;
  private informer: ListWatch<KubernetesObject> | undefined;
  private watch: SupervisedWatch | undefined;
  private stopped = true;
  private synced = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private staleRestarts = 0;
  private lists = 0;
  private lastEventAt = 0;
  private lastActivityAt = 0;
  private readonly wakeDelays = new Set<() => void>();

  constructor(spec: KindSpec, deps: KindWatcherDeps) {
    this.spec = spec;
    this.deps = deps;
    this.emitted = new EmittedState(spec.kind);
    this.backoff = new Backoff({
      initialMs: deps.timing.backoffInitialMs,
      maxMs: deps.timing.backoffMaxMs,
      resetAfterMs: deps.timing.backoffResetAfterMs,
      ...(deps.random ? { random: deps.random } : {}),
    });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const { kubeConfig, timing } = this.deps;
    const random = this.deps.random ?? Math.random;
    this.watch = new SupervisedWatch(kubeConfig, {
      onActivity: () => this.touch(),
      timeoutSeconds: () => Math.floor(timing.watchTimeoutSeconds * (1 + random())),
      connectTimeoutMs: Math.max(timing.staleAfterMs * 2, timing.listTimeoutMs),
    });
    const informer = new ListWatch<KubernetesObject>(
      this.spec.path,
      this.watch,
      () => this.list() as never,
      false,
      this.spec.labelSelector,
      this.spec.fieldSelector,
      { delayFn: (ms) => this.delay(Math.min(ms, timing.reconnectDelayCapMs)) },
    );
    this.informer = informer;
    const fromWatch = (handler: (o: KubeObject) => SourceEvent | undefined) => (raw: KubernetesObject) => {
      if (this.informer !== informer || this.stopped) return;
      const object = asKubeObject(raw, this.spec.kind, this.spec.apiVersion);
      if (!object) {
        this.deps.logger.warn({ kind: this.spec.kind }, 'watch event without metadata.name ignored');
        return;
      }
      this.send(handler(object));
    };
    informer.on('add', fromWatch((o) => this.emitted.upsert(o)));
    informer.on('update', fromWatch((o) => this.emitted.upsert(o)));
    informer.on('delete', fromWatch((o) => this.emitted.delete(o)));
    informer.on('connect', () => this.touch());
    informer.on('error', (err: unknown) => {
      if (this.informer === informer && !this.stopped) this.scheduleRestart(err);
    });
    this.touch();
    this.watchdogTimer = setInterval(() => this.checkStale(), Math.max(50, Math.min(1000, timing.staleAfterMs / 4)));
    this.watchdogTimer.unref();
    this.run(informer);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdogTimer);
    this.restartTimer = undefined;
    for (const wake of this.wakeDelays) wake();
    this.watch?.close();
    const informer = this.informer;
    this.informer = undefined;
    await informer?.stop();
  }

  stats(): KindStats {
    return {
      kind: this.spec.kind,
      synced: this.synced,
      objects: this.emitted.size,
      restarts: this.restarts,
      staleRestarts: this.staleRestarts,
      lists: this.lists,
      lastEventAt: this.lastEventAt,
      lastActivityAt: this.lastActivityAt,
    };
  }

  private run(informer: ListWatch<KubernetesObject>): void {
    informer.start().catch((err: unknown) => {
      if (this.informer === informer && !this.stopped) this.scheduleRestart(err);
    });
  }

  /** ListWatch calls this for the initial list and every relist; reconciling here makes its own add/update/delete
   * callbacks for the same list no-ops. */
  private async list(): Promise<{ metadata: { resourceVersion?: string }; items: KubeObject[] }> {
    const { spec } = this;
    const result = await listObjects(this.deps.kubeConfig, {
      path: spec.path,
      kind: spec.kind,
      apiVersion: spec.apiVersion,
      timeoutMs: this.deps.timing.listTimeoutMs,
      ...(spec.labelSelector ? { labelSelector: spec.labelSelector } : {}),
      ...(spec.fieldSelector ? { fieldSelector: spec.fieldSelector } : {}),
    });
    if (this.stopped) return result;
    this.lists++;
    this.touch();
    for (const e of this.emitted.reconcile(result.items)) this.send(e);
    if (!this.synced) {
      this.deps.logger.info({ kind: spec.kind, objects: result.items.length }, 'initial list delivered');
      this.markSynced();
    }
    return result;
  }

  private markSynced(): void {
    this.synced = true;
    this.deps.emit({ type: 'synced', kind: this.spec.kind });
  }

  /**
   * Before the first list: a kind that may be missing from RBAC (KindSpec.forbiddenMeansNone) counts as empty. Until
   * then every error is the list's own (listObjects' ApiStatusError); watches start only after a list.
   */
  private syncedAsNoneWhenForbidden(err: unknown): void {
    if (this.synced || !this.spec.forbiddenMeansNone || !(err instanceof ApiStatusError && err.statusCode === 403)) return;
    this.deps.logger.error(
      { kind: this.spec.kind, cause: describeCause(err) },
      `listing ${this.spec.kind}s is forbidden; going on without them (still retrying): grant list/watch on ${this.spec.path}`,
    );
    this.markSynced();
  }

  private send(event: SourceEvent | undefined): void {
    if (!event) return;
    this.lastEventAt = Date.now();
    this.deps.emit(event);
  }

  private touch(): void {
    this.lastActivityAt = Date.now();
  }

  private scheduleRestart(err: unknown): void {
    if (this.restartTimer) return;
    this.syncedAsNoneWhenForbidden(err);
    const delayMs = this.backoff.next(Date.now());
    this.restarts++;
    this.deps.onRestart?.(this.spec.kind, 'error');
    this.deps.logger.warn(
      { kind: this.spec.kind, url: serverUrlOf(this.deps.kubeConfig), cause: describeCause(err), retryInMs: delayMs, attempt: this.backoff.attempts },
      `${this.spec.kind} list/watch failed; retrying`,
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      const informer = this.informer;
      if (informer && !this.stopped) {
        this.touch();
        this.run(informer);
      }
    }, delayMs);
  }

  private checkStale(): void {
    if (this.stopped || this.restartTimer) return;
    const idleMs = Date.now() - this.lastActivityAt;
    if (idleMs < this.deps.timing.staleAfterMs) return;
    this.touch();
    if (!this.watch?.abortCurrent()) return;
    this.staleRestarts++;
    this.restarts++;
    this.deps.onRestart?.(this.spec.kind, 'stale');
    this.deps.logger.warn({ kind: this.spec.kind, idleMs }, `${this.spec.kind} watch stale (no event or bookmark); re-watching`);
  }

  private delay(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakeDelays.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeDelays.add(wake);
    });
  }
}
