/**
 * Holds the connections a listener accepts before the proxy knows what to serve. A daemon that has just started
 * binds its ingress ports at once (a port conflict fails start, not some later moment) but has not yet listed its
 * Ingresses, Services and certificates: answering then would give every host a 404 and every TLS name the default
 * certificate. Held, a client's request simply waits for the first route table. Held sockets are not read (the
 * listeners pause them on accept; TLS has not started), so nothing a client sent is lost.
 *
 * Bounded: at most `maxHeld` sockets wait (later ones are closed), and none waits longer than `maxWaitMs` (closed
 * then too, so a daemon that cannot reach its API server does not collect connections forever).
 */
import type { Socket } from 'node:net';

export interface ConnectionGateOptions {
  /** Receives each socket once the gate is open: the ones held, then every later one directly. */
  readonly pass: (socket: Socket) => void;
  readonly maxHeld?: number;
  readonly maxWaitMs?: number;
}

export interface GateOpening {
  /** Sockets handed on when the gate opened (closed ones left out). */
  readonly released: number;
  /** Milliseconds from the first held socket to the opening; 0 when none was held. */
  readonly longestWaitMs: number;
}

const noop = (): void => undefined;

export class ConnectionGate {
  readonly #pass: (socket: Socket) => void;
  readonly #maxHeld: number;
  readonly #maxWaitMs: number;
  /** Held sockets and when each arrived (performance.now()). Insertion order is arrival order. */
  readonly #held = new Map<Socket, number>();
  #open = false;
  #timer: NodeJS.Timeout | undefined;
  /** Sockets closed by the bounds, for the log line at opening. */
  #refused = 0;

  constructor(options: ConnectionGateOptions) {
    this.#pass = options.pass;
    this.#maxHeld = options.maxHeld ?? 4096;
    this.#maxWaitMs = options.maxWaitMs ?? 60_000;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Sockets closed unserved because the gate was full or they waited too long. */
  get refused(): number {
    return this.#refused;
  }

  admit(socket: Socket): void {
    if (this.#open) return this.#pass(socket);
    if (this.#held.size >= this.#maxHeld) {
      this.#refused++;
      socket.destroy();
      return;
    }
    this.#held.set(socket, performance.now());
    // A held socket has no owner yet to hear of a reset.
    socket.on('error', noop);
    socket.once('close', () => this.#held.delete(socket));
    this.#timer ??= setInterval(() => this.#expire(), Math.max(10, Math.min(1_000, this.#maxWaitMs / 4))).unref();
  }

  /** From now on sockets pass straight through; the held ones go first, in arrival order. Idempotent. */
  open(): GateOpening {
    if (this.#open) return { released: 0, longestWaitMs: 0 };
    this.#open = true;
    this.#stopTimer();
    const first = this.#held.values().next();
    const longestWaitMs = first.done ? 0 : performance.now() - first.value;
    const held = [...this.#held.keys()];
    this.#held.clear();
    let released = 0;
    for (const socket of held) {
      socket.off('error', noop);
      if (socket.destroyed) continue;
      released++;
      this.#pass(socket);
    }
    return { released, longestWaitMs };
  }

  /** Close every held socket (stopping before the first route table). */
  destroyHeld(): void {
    this.#stopTimer();
    for (const socket of [...this.#held.keys()]) socket.destroy();
    this.#held.clear();
  }

  #expire(): void {
    const cutoff = performance.now() - this.#maxWaitMs;
    for (const [socket, since] of this.#held) {
      if (since > cutoff) break; // arrival order: the rest came later
      this.#held.delete(socket);
      this.#refused++;
      socket.destroy();
    }
    if (this.#held.size === 0) this.#stopTimer();
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
