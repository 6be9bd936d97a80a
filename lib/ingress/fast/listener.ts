/**
 * The fast path's side of one listener (HTTP or HTTPS): the live client connections, the periodic sweep that
 * enforces every timeout (one timer for all connections instead of timers per request), and draining on stop.
 */
import type { Socket } from 'node:net';
import { ClientConnection } from './client-connection.ts';
import type { FastContext } from './context.ts';

export type FastContextInput = Omit<FastContext, 'forget'>;

/** Sweep interval while draining: the idle grace (500 ms) is enforced to within this. */
const DRAIN_SWEEP_MS = 50;

export class FastListener {
  readonly #ctx: FastContext;
  readonly #connections = new Set<ClientConnection>();
  #sweepMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(input: FastContextInput) {
    this.#ctx = { ...input, forget: (conn) => this.#connections.delete(conn as ClientConnection) };
    // Fine enough for the shortest timeout configured (tests use ~100 ms), never busier than 100 Hz.
    const shortest = Math.min(input.responseTimeoutMs, input.keepAliveTimeoutMs, input.headersTimeoutMs);
    this.#sweepMs = Math.max(10, Math.min(1_000, Math.floor(shortest / 4)));
  }

  accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.#ctx.clock.tick();
    this.#connections.add(new ClientConnection(socket, this.#ctx));
    this.#timer ??= setInterval(() => this.#sweep(), this.#sweepMs).unref();
  }

  #sweep(): void {
    const now = this.#ctx.clock.tick();
    for (const conn of this.#connections) conn.sweep(now);
    this.#ctx.pool.sweep(now);
    if (this.#connections.size === 0 && this.#ctx.pool.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /**
   * Stop: busy connections close after their response, idle ones after a short grace (ClientConnection.drain),
   * which the sweep enforces at a finer interval from now on.
   */
  drain(): void {
    this.#ctx.clock.tick();
    for (const conn of this.#connections) conn.drain();
    this.#sweepMs = Math.min(this.#sweepMs, DRAIN_SWEEP_MS);
    if (this.#timer === undefined) return; // nothing to sweep
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#sweep(), this.#sweepMs).unref();
  }

  destroyAll(): void {
    for (const conn of [...this.#connections]) conn.socket.destroy();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
