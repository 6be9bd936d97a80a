/** Jittered exponential backoff that resets once the supervised thing has stayed healthy for a while. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** A failure this long after the previous one starts the sequence over. */
  readonly resetAfterMs: number;
  readonly random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  private readonly options: BackoffOptions;

  constructor(options: BackoffOptions) {
    this.options = options;
  }

  /** Delay before the next retry after a failure at `now`; equal jitter: somewhere in [d/2, d]. */
  next(now: number): number {
    if (now - this.lastFailureAt >= this.options.resetAfterMs) this.attempt = 0;
    this.lastFailureAt = now;
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.attempt);
    this.attempt++;
    const random = this.options.random ?? Math.random;
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }

  get attempts(): number {
    return this.attempt;
  }
}
