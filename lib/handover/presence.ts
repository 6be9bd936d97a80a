/**
 * "A switchyard serves these ingress ports on this node": a name held by whichever process has its ingress
 * listeners bound. A process started beside one (a rollout's newcomer) binds its own listeners only once its first
 * route table is built, or the kernel would hand it its share of new connections to hold through its initial
 * listing (README.md, "Ingress listeners of the newcomer").
 *
 * Not the writer lease: an ingress-only switchyard (proxy mode none) has no lease, and one that only proxies must
 * not count as serving ingress. Nobody asks a presence holder to let go; it holds the name until it stops, and a
 * newcomer keeps trying to take it until the old process is gone.
 */
import { describeError } from '../errors.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import type { LeaseBinding, LeaseTransport } from './transport.ts';

export interface NodePresenceOptions {
  readonly transport: LeaseTransport;
  readonly logger: Logger;
  /** While another process holds the name: how often to try again. */
  readonly retryMs?: number;
}

export class NodePresence {
  readonly #options: NodePresenceOptions;
  #binding: LeaseBinding | undefined;
  #claiming = false;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: NodePresenceOptions) {
    this.#options = options;
  }

  /** This process holds the name. */
  get held(): boolean {
    return this.#binding !== undefined;
  }

  /** Another process holds the name now. A failed look counts as "no": binding at start is the safe default. */
  async heldElsewhere(): Promise<boolean> {
    if (this.held) return false;
    try {
      return await this.#options.transport.isHeld();
    } catch {
      return false;
    }
  }

  /** Hold the name, now or — while another process holds it — as soon as it is free. Idempotent. */
  claim(): void {
    if (this.#claiming || this.#stopped) return;
    this.#claiming = true;
    void this.#attempt();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const binding = this.#binding;
    this.#binding = undefined;
    await binding?.release();
  }

  async #attempt(): Promise<void> {
    this.#retry = undefined;
    let binding: LeaseBinding | undefined;
    try {
      // A holder is never asked to let go; the transport would release on a request, which nobody sends.
      binding = await this.#options.transport.bind(() => Promise.resolve());
    } catch (e) {
      this.#options.logger.debug({ err: describeError(e) }, `ingress presence: ${describeError(e)}; retrying`);
    }
    if (this.#stopped) {
      await binding?.release();
      return;
    }
    if (binding) {
      this.#binding = binding;
      return;
    }
    this.#retry = setTimeout(() => void this.#attempt(), this.#options.retryMs ?? 1_000);
    this.#retry.unref();
  }
}
