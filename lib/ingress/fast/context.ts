/**
 * What the fast path's connections share: the proxy context of the node:http path (routing, balancing, limits,
 * logging, the metrics hook) plus the raw upstream pool, timeouts and the way back to node:http.
 */
import type { Socket } from 'node:net';
import type { ProxyContext } from '../proxy.ts';
import type { RawUpstreamPool } from './upstream-pool.ts';

/**
 * performance.now() as of the last sweep (or accept): precise enough for the response and request-head timeouts,
 * which the sweep enforces at its own granularity anyway, and it spares a clock read per event on the hot path.
 * The client keep-alive idle time is the exception: it must never be cut short, so its stamps read the clock.
 */
export class CoarseClock {
  now = performance.now();
  tick(): number {
    this.now = performance.now();
    return this.now;
  }
}

export interface FastContext {
  readonly clock: CoarseClock;
  readonly proxy: ProxyContext;
  readonly pool: RawUpstreamPool;
  readonly proto: 'http' | 'https';
  readonly listenerPort: () => number;
  /** Request head bytes; a longer head goes to node:http, which answers 431. */
  readonly maxHeaderSize: number;
  readonly responseTimeoutMs: number;
  /**
   * Idle time allowed between requests on a client connection, from the end of the last answer (or the last read);
   * the sweep closes the connection at its first pass after that, never before.
   */
  readonly keepAliveTimeoutMs: number;
  /** Time allowed for a request head to arrive once its first byte did. */
  readonly headersTimeoutMs: number;
  /** Pass a connection (and the bytes already read from it) to the node:http server; `reason` says why. */
  readonly handoff: (socket: Socket, pending: Buffer | undefined, reason: string) => void;
  /** The connection closed or was handed off. */
  readonly forget: (conn: { readonly socket: Socket }) => void;
}

export const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
