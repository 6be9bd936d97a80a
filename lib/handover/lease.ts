/**
 * Which switchyard on a node writes its kernel rules. During a surge rollout the old and the new pod run side by
 * side for a while (both serve, see README.md); only one may program the dataplane, or each would apply
 * increments computed against a ruleset the other has just rewritten.
 *
 * The newcomer takes the lease right before its first write and asks the holder to hand over; the holder finishes
 * the sync it is in, stops writing and lets go. Whoever gave the lease up keeps trying to take it back, but only
 * when it is free (the newcomer died), never by asking: two daemons never pass it to and fro.
 */
import { describeError } from '../errors.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import type { LeaseBinding, LeaseTransport } from './transport.ts';

export interface LeaseHandlers {
  /** A newer process asks for the lease: stop writing; resolve once no write is under way. */
  readonly beforeRelease: () => Promise<void>;
  /** The lease came back (its taker is gone): the kernel holds the taker's rules, so sync everything. */
  readonly regained: () => void;
}

export interface WriterLeaseOptions {
  readonly transport: LeaseTransport;
  readonly logger: Logger;
  /** How long a holder has to finish its sync and let go. */
  readonly handoverTimeoutMs?: number;
  /** After giving the lease up: how often to look whether it is free again. */
  readonly reclaimIntervalMs?: number;
}

export class WriterLease {
  readonly #options: WriterLeaseOptions;
  #handlers: LeaseHandlers = { beforeRelease: () => Promise.resolve(), regained: () => undefined };
  /** Set while held; cleared the moment a handover starts. */
  #binding: LeaseBinding | undefined;
  #reclaimTimer: NodeJS.Timeout | undefined;
  #reclaiming = false;
  #stopped = false;

  constructor(options: WriterLeaseOptions) {
    this.#options = options;
  }

  attach(handlers: LeaseHandlers): void {
    this.#handlers = handlers;
  }

  /** True while this process may write rules. */
  get held(): boolean {
    return this.#binding !== undefined;
  }

  /** True once this process handed the lease over (until it regains it). */
  get handedOver(): boolean {
    return this.#reclaimTimer !== undefined;
  }

  /** Take the lease, asking a holder to hand over. True when held. Not to be called after a handover. */
  async take(): Promise<boolean> {
    if (this.held) return true;
    if (await this.#bind()) return true;
    const { logger, transport } = this.#options;
    const timeoutMs = this.#options.handoverTimeoutMs ?? 5_000;
    logger.info({}, 'another switchyard writes this node\'s rules; asking it to hand over');
    const answer = await transport.requestHandover(timeoutMs);
    if (await this.#bind()) {
      logger.info({ answer }, 'took over writing this node\'s rules');
      return true;
    }
    logger.warn({ answer, timeoutMs }, 'the switchyard writing this node\'s rules did not hand over; will ask again');
    return false;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#reclaimTimer);
    this.#reclaimTimer = undefined;
    await this.#binding?.release();
    this.#binding = undefined;
  }

  async #bind(): Promise<boolean> {
    if (this.#stopped) return false;
    try {
      const binding = await this.#options.transport.bind(() => this.#handOver());
      if (!binding) return false;
      this.#binding = binding;
      return true;
    } catch (e) {
      this.#options.logger.warn({ err: describeError(e) }, `writer lease: ${describeError(e)}`);
      return false;
    }
  }

  async #handOver(): Promise<void> {
    const binding = this.#binding;
    if (!binding) return;
    // Cleared first, so that a sync starting while the current one finishes does not write either.
    this.#binding = undefined;
    await this.#handlers.beforeRelease();
    await binding.release();
    this.#options.logger.info({}, 'handed this node\'s rules over to a newer switchyard; standing by');
    if (this.#stopped) return;
    const every = this.#options.reclaimIntervalMs ?? 1_000;
    this.#reclaimTimer = setInterval(() => void this.#reclaim(), every);
    this.#reclaimTimer.unref();
  }

  async #reclaim(): Promise<void> {
    if (this.#reclaiming || this.#reclaimTimer === undefined) return;
    this.#reclaiming = true;
    const bound = await this.#bind().finally(() => (this.#reclaiming = false));
    if (!bound) return;
    clearInterval(this.#reclaimTimer);
    this.#reclaimTimer = undefined;
    this.#options.logger.warn({}, 'the switchyard that took over this node\'s rules is gone; writing them again');
    this.#handlers.regained();
  }
}
