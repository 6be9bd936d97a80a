/**
 * Keep-alive connections to endpoints for the fast path: plain TCP sockets, one request at a time each, reused
 * most-recently-used first so a hot set stays warm and the rest age out.
 *
 * Every socket carries one permanent set of listeners that dispatch to its current owner (the exchange using
 * it, or nobody while idle) — no listener is added or removed per request. An idle socket that receives a byte or
 * a FIN is closed at once: a response nobody asked for means the connection is out of step (the "poisoned
 * keep-alive socket" class of bugs), and reusing it would hand that response to the next request.
 *
 * Reads land in one buffer shared by all of a pool's connections (`onread`), not in a new buffer per read: a
 * response then costs no read-buffer allocation, and the young-generation GC has one ArrayBuffer fewer per request
 * to sweep (sweeping them was most of each scavenge's pause, and those pauses set the p99). The price: a chunk
 * handed to the owner is valid only during that call — an owner that keeps bytes copies them.
 */
import { connect, type Socket } from 'node:net';
import type { Endpoint } from '../../model/types.ts';
import type { RepeatedResponseHead } from './repeated-head.ts';

/** The exchange currently using an upstream connection. */
export interface UpstreamOwner {
  /** Bytes from the endpoint, in the pool's shared read buffer: valid during this call only (copy what you keep). */
  upstreamData(chunk: Buffer): void;
  /** The upstream sent FIN. */
  upstreamEnded(): void;
  /** The connection failed or closed without FIN. */
  upstreamFailed(error: Error): void;
  upstreamDrained(): void;
}

const CLOSED_WITHOUT_FIN = Object.assign(new Error('upstream connection closed'), { code: 'ECONNRESET' });

export class UpstreamConnection {
  readonly socket: Socket;
  /** `ip:port` (IPv6 bracketed) of the endpoint. */
  readonly key: string;
  owner: UpstreamOwner | undefined;
  /** Requests this connection carried before the current one (0: fresh). */
  reuses = 0;
  /** The last response head it sent (see RepeatedResponseHead); created by the first exchange that uses it. */
  repeated: RepeatedResponseHead | undefined;
  idleSince = 0;
  #pool: RawUpstreamPool;
  #done = false;

  constructor(socket: Socket, key: string, pool: RawUpstreamPool) {
    this.socket = socket;
    this.key = key;
    this.#pool = pool;
    socket.on('end', () => {
      if (this.#done) return;
      this.#done = true;
      const owner = this.owner;
      if (owner) owner.upstreamEnded();
      else this.destroy();
    });
    socket.on('error', (e: Error) => this.#fail(e));
    socket.on('close', () => this.#fail(CLOSED_WITHOUT_FIN));
    socket.on('drain', () => this.owner?.upstreamDrained());
  }

  /** `chunk` is a view of the pool's shared read buffer (see the file comment). */
  received(chunk: Buffer): void {
    if (this.owner) this.owner.upstreamData(chunk);
    else this.destroy(); // unsolicited bytes on an idle connection
  }

  get usable(): boolean {
    return !this.#done && !this.socket.destroyed && this.socket.writable;
  }

  #fail(e: Error): void {
    if (this.#done) return;
    this.#done = true;
    const owner = this.owner;
    if (owner) owner.upstreamFailed(e);
    else this.destroy();
  }

  destroy(): void {
    this.#done = true;
    this.owner = undefined;
    this.#pool.forget(this);
    this.socket.destroy();
  }
}

export interface RawPoolOptions {
  readonly connectTimeoutMs: number;
  /** Idle connections older than this are closed by sweep(). */
  readonly idleTimeoutMs: number;
  /** Idle connections kept per endpoint; more are closed when released. */
  readonly maxIdlePerEndpoint: number;
  /** The clock idle ages are measured with (the listeners' coarse clock). */
  readonly clock: { readonly now: number };
}

const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT'; // same code as the undici path, so both report alike

type EndpointAddress = Pick<Endpoint, 'ip' | 'port' | 'family'>;

/**
 * Keys of the endpoint objects in the current route table. Each request looks its endpoint's key up in the pool;
 * a string built per request would be hashed afresh every time, an endpoint object's key only once.
 */
const keys = new WeakMap<EndpointAddress, string>();

export const endpointKey = (ep: EndpointAddress): string => {
  let key = keys.get(ep);
  if (key === undefined) {
    key = ep.family === 6 ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`;
    keys.set(ep, key);
  }
  return key;
};

/** Size of the read buffer a pool's connections share: one read takes at most this much. */
const READ_BUFFER_SIZE = 64 * 1024;

export class RawUpstreamPool {
  readonly #options: RawPoolOptions;
  readonly #readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  readonly #idle = new Map<string, UpstreamConnection[]>();
  readonly #all = new Set<UpstreamConnection>();
  #closed = false;

  constructor(options: RawPoolOptions) {
    this.#options = options;
  }

  /** Number of open connections (idle or busy). */
  get size(): number {
    return this.#all.size;
  }

  /** An idle, still-open connection to `key` (most recently used first), now owned by `owner`. */
  take(key: string, owner: UpstreamOwner): UpstreamConnection | undefined {
    const list = this.#idle.get(key);
    while (list && list.length > 0) {
      const conn = list.pop()!;
      if (!conn.usable) {
        conn.destroy();
        continue;
      }
      conn.owner = owner;
      conn.reuses++;
      return conn;
    }
    return undefined;
  }

  /**
   * Open a new connection; `ready` or `failed` is called exactly once (failed with a code: ECONNREFUSED…, or
   * UND_ERR_CONNECT_TIMEOUT). The returned cancel function abandons a connect still in progress.
   */
  open(
    ep: Pick<Endpoint, 'ip' | 'port' | 'family'>,
    key: string,
    owner: UpstreamOwner,
    ready: (conn: UpstreamConnection) => void,
    failed: (error: Error) => void,
  ): () => void {
    let conn: UpstreamConnection | undefined;
    const readBuffer = this.#readBuffer;
    const onread = {
      buffer: readBuffer,
      callback: (n: number): boolean => {
        // Bytes before the connection is handed out (a server that speaks first) are unsolicited too.
        if (conn) conn.received(readBuffer.subarray(0, n));
        else socket.destroy();
        return true;
      },
    };
    const socket = connect({ host: ep.ip, port: ep.port, family: ep.family, noDelay: true, onread });
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener('connect', onConnect);
      return true;
    };
    const onError = (e: Error) => {
      if (settle()) failed(e);
    };
    const onConnect = () => {
      if (!settle()) return;
      if (this.#closed) {
        socket.destroy();
        failed(Object.assign(new Error('ingress stopping'), { code: 'ECONNABORTED' }));
        return;
      }
      conn = new UpstreamConnection(socket, key, this);
      conn.owner = owner;
      this.#all.add(conn);
      ready(conn);
    };
    const timer = setTimeout(() => {
      if (!settle()) return;
      socket.destroy();
      failed(Object.assign(new Error(`connect to ${key} timed out`), { code: CONNECT_TIMEOUT }));
    }, this.#options.connectTimeoutMs);
    socket.once('connect', onConnect);
    socket.on('error', onError);
    return () => {
      if (settle()) socket.destroy();
    };
  }

  /** Give a connection back after a complete exchange; it is closed instead when it cannot be reused. */
  release(conn: UpstreamConnection): void {
    conn.owner = undefined;
    if (this.#closed || !conn.usable) return conn.destroy();
    let list = this.#idle.get(conn.key);
    if (!list) this.#idle.set(conn.key, (list = []));
    if (list.length >= this.#options.maxIdlePerEndpoint) return conn.destroy();
    if (conn.socket.isPaused()) conn.socket.resume();
    conn.idleSince = this.#options.clock.now;
    list.push(conn);
  }

  /** Drop a connection from the books (it closes itself). */
  forget(conn: UpstreamConnection): void {
    this.#all.delete(conn);
    const list = this.#idle.get(conn.key);
    if (!list) return;
    const i = list.indexOf(conn);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.#idle.delete(conn.key);
  }

  /** Close idle connections unused for idleTimeoutMs (oldest sit at the bottom of each list). */
  sweep(now: number): void {
    const limit = now - this.#options.idleTimeoutMs;
    for (const list of [...this.#idle.values()]) {
      while (list.length > 0 && list[0]!.idleSince < limit) list[0]!.destroy();
    }
  }

  /** Close idle connections to endpoints that are no longer in use; busy ones finish their exchange first. */
  retain(liveKeys: ReadonlySet<string>): void {
    for (const [key, list] of [...this.#idle]) if (!liveKeys.has(key)) for (const c of [...list]) c.destroy();
  }

  closeAll(): void {
    this.#closed = true;
    for (const conn of [...this.#all]) conn.destroy();
  }
}
