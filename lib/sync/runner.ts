/**
 * A bounded-frequency sync runner (after kube-proxy's BoundedFrequencyRunner): run() asks for a sync; at most one
 * runs at a time; syncs are spaced by minInterval with bursts of up to `burst` allowed (token bucket); maxInterval
 * forces a sync when nothing asked; failures retry with exponential backoff; every syncPeriod, and after any
 * failure, the sync is full.
 */
import type { Clock, TimerHandle } from './clock.ts';
import { systemClock } from './clock.ts';

export interface SyncRequest {
  /** Rewrite everything (first sync, after a failure, or syncPeriod elapsed). */
  readonly full: boolean;
  readonly reason: 'requested' | 'periodic' | 'retry';
}

export interface SyncRunnerOptions {
  readonly sync: (request: SyncRequest) => Promise<void>;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  /** Syncs allowed back to back before minInterval applies. Default 2. */
  readonly burst?: number;
  /** A full resync at least this often. Default: maxInterval. */
  readonly syncPeriodMs?: number;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  readonly clock?: Clock;
  /** Told about each failure (the runner itself never throws). */
  readonly onError?: (error: unknown, attempt: number) => void;
}

export class SyncRunner {
  private readonly opts: Required<Omit<SyncRunnerOptions, 'onError'>> & Pick<SyncRunnerOptions, 'onError'>;
  private readonly clock: Clock;
  private tokens: number;
  private lastRefill: number;
  private lastFull = Number.NEGATIVE_INFINITY;
  private needFull = true;
  private pending = false;
  private pendingReason: SyncRequest['reason'] = 'requested';
  private inFlight = false;
  private failures = 0;
  private started = false;
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private maxTimer: TimerHandle | undefined;

  constructor(options: SyncRunnerOptions) {
    this.opts = {
      burst: 2,
      syncPeriodMs: options.maxIntervalMs,
      retryInitialMs: 1000,
      retryMaxMs: 60_000,
      clock: systemClock,
      ...options,
    };
    this.clock = this.opts.clock;
    this.tokens = Math.max(1, this.opts.burst);
    this.lastRefill = this.clock.now();
  }

  /** Starts the periodic timer and requests the first (full) sync. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.lastRefill = this.clock.now();
    this.armMaxTimer();
    this.run();
  }

  stop(): void {
    this.started = false;
    this.timer?.cancel();
    this.maxTimer?.cancel();
    this.timer = undefined;
    this.maxTimer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** Requests a sync as soon as the rate limit allows. */
  run(): void {
    this.request('requested');
  }

  get syncing(): boolean {
    return this.inFlight;
  }

  private request(reason: SyncRequest['reason']): void {
    if (!this.started) return;
    if (!this.pending) this.pendingReason = reason;
    this.pending = true;
    this.schedule(0);
  }

  private refill(): void {
    const now = this.clock.now();
    const min = this.opts.minIntervalMs;
    if (min <= 0) {
      this.tokens = this.opts.burst;
      this.lastRefill = now;
      return;
    }
    const earned = Math.floor((now - this.lastRefill) / min);
    if (earned > 0) {
      this.tokens = Math.min(this.opts.burst, this.tokens + earned);
      this.lastRefill = this.tokens === this.opts.burst ? now : this.lastRefill + earned * min;
    }
  }

  /** Fires the loop after `delayMs`, or earlier if already armed earlier. */
  private schedule(delayMs: number): void {
    const at = this.clock.now() + delayMs;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      void this.tick();
    }, delayMs);
  }

  private armMaxTimer(): void {
    this.maxTimer?.cancel();
    if (!this.started) return;
    this.maxTimer = this.clock.setTimer(() => this.request('periodic'), this.opts.maxIntervalMs);
  }

  private async tick(): Promise<void> {
    if (!this.started || !this.pending || this.inFlight) return;
    this.refill();
    if (this.tokens < 1) {
      this.schedule(this.lastRefill + this.opts.minIntervalMs - this.clock.now());
      return;
    }
    this.tokens -= 1;
    this.pending = false;
    const now = this.clock.now();
    const full = this.needFull || now - this.lastFull >= this.opts.syncPeriodMs;
    const reason = this.pendingReason;
    this.inFlight = true;
    this.armMaxTimer();
    let ok = true;
    try {
      await this.opts.sync({ full, reason });
    } catch (e) {
      ok = false;
      this.failures += 1;
      this.needFull = true;
      this.opts.onError?.(e, this.failures);
    } finally {
      this.inFlight = false;
    }
    if (ok) {
      this.failures = 0;
      if (full) {
        this.needFull = false;
        this.lastFull = now;
      }
      if (this.pending) this.schedule(0);
      return;
    }
    const backoff = Math.min(this.opts.retryMaxMs, this.opts.retryInitialMs * 2 ** (this.failures - 1));
    if (!this.pending) this.pendingReason = 'retry';
    this.pending = true;
    this.schedule(backoff);
  }
}
