/**
 * IngressServer: the HTTP and HTTPS listeners of the embedded reverse proxy. It serves whatever RouteTable it was
 * last given (swapped whole, never mutated), picks HTTPS certificates by SNI from that table, and falls back to a
 * default certificate (self-signed, generated at start unless one is passed in) for names it does not know.
 * Construction does no I/O; start() binds exactly the addresses given.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSecureContext, createServer as createTlsServer, type SecureContext } from 'node:tls';
import { SwitchyardError, describeError } from '../errors.ts';
import { nullLogger, type Logger } from '../telemetry/logger-types.ts';
import { generateSelfSigned, type PemPair } from './certificates.ts';
import { proxyRequest, sendLocal, type ProxyContext, type RequestRecord } from './proxy.ts';
import { selectCertificate } from './router.ts';
import { emptyRouteTable, type RouteTable } from './types.ts';
import { Balancer, UpstreamPools, backendsOf } from './upstream.ts';
import { FastListener } from './fast/listener.ts';
import { RawUpstreamPool, endpointKey } from './fast/upstream-pool.ts';
import { CoarseClock } from './fast/context.ts';
import { ConnectionGate } from './connection-gate.ts';
import { proxyUpgrade, type WebSocketContext } from './websocket.ts';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface IngressServerOptions {
  /** Plain HTTP listener; none when undefined. */
  readonly http?: ListenAddress;
  /** HTTPS listener; none when undefined. */
  readonly https?: ListenAddress;
  /** Served for unknown SNI names; a self-signed one is generated at start() when absent. */
  readonly defaultCertificate?: PemPair;
  /** Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Time to upstream response headers, and longest silence inside a response body. Default 60 s. */
  readonly responseTimeoutMs?: number;
  /** An idle client keep-alive connection is closed after this, never before (up to 2 s later). Default 75 s. */
  readonly keepAliveTimeoutMs?: number;
  /** Request header bytes (node's maxHeaderSize); larger requests get 431. Default 16 KiB. */
  readonly maxHeaderSize?: number;
  /** Request body bytes; larger bodies get 413. Default 10 MiB. */
  readonly maxBodyBytes?: number;
  /** Endpoints tried per request on connect failure (idempotent requests only). Default 3. */
  readonly maxAttempts?: number;
  readonly logger?: Logger;
  /** Called once per request when it ends (metrics hook). */
  readonly onRequest?: (record: RequestRecord) => void;
  /** Called when a connection leaves the fast path for node:http, with the parser's reason (metrics hook). */
  readonly onHandoff?: (reason: string) => void;
  /**
   * Hold accepted connections, unread, until the first setRouteTable() (see connection-gate.ts): what the daemon
   * wants, as its first table comes only once everything it is built from has been listed. Default false: served
   * at once, from the empty table until one is set.
   */
  readonly holdUntilFirstTable?: boolean;
  /** Longest a held connection waits before it is closed. Default 60 s. */
  readonly maxHoldMs?: number;
  /** A bind deferred to the first table failed (metrics hook). */
  readonly onListenFailure?: () => void;
  /** Time between attempts of a deferred bind that failed. Default 5 s. */
  readonly listenRetryMs?: number;
}

/** When start() binds the listeners. */
export interface IngressStartOptions {
  /**
   * 'now' (default): bind at start, so a port conflict fails start; connections accepted before the first table are
   * held (holdUntilFirstTable). 'after-first-table': bind only once the first table is set — for a daemon started
   * beside another one that serves these ports meanwhile (a surge rollout), which would otherwise be handed about
   * half of the new connections and hold them through its initial listing. A failed bind then is logged and retried.
   */
  readonly listen?: 'now' | 'after-first-table';
}

export interface BoundAddresses {
  readonly http: AddressInfo | undefined;
  readonly https: AddressInfo | undefined;
}

interface CachedContext {
  readonly cert: string;
  readonly key: string;
  readonly context: SecureContext | undefined;
}

export class IngressServer {
  readonly #options: IngressServerOptions;
  readonly #logger: Logger;
  #table: RouteTable = emptyRouteTable;
  readonly #balancer = new Balancer();
  readonly #pools: UpstreamPools;
  readonly #rawPool: RawUpstreamPool;
  readonly #clock = new CoarseClock();
  readonly #fast: FastListener[] = [];
  readonly #tunnels = new Set<Duplex>();
  /** One per listener: connections wait there until the first route table (holdUntilFirstTable). */
  readonly #gates: ConnectionGate[] = [];
  #firstTableSet = false;
  /** Every configured listener is bound. */
  #listening = false;
  /** start() left the binding to the first setRouteTable(). */
  #listenDeferred = false;
  #listenRetry: NodeJS.Timeout | undefined;
  /** Resolves once every configured listener is bound (never, when stopped first). */
  readonly #bound = Promise.withResolvers<void>();
  /** The deferred bind's latest attempt. */
  #listenAttempt: Promise<void> = Promise.resolve();
  /** SecureContexts by Secret key, rebuilt only when the PEM text changes (a renewed Secret). */
  #contexts = new Map<string, CachedContext>();
  #defaultContext: SecureContext | undefined;
  /** The listening sockets: connections start on the fast path (lib/ingress/fast). */
  #http: NetServer | undefined;
  #https: NetServer | undefined;
  /** node:http servers that never listen: they take over connections the fast path hands off. */
  readonly #handoffServers: Server[] = [];
  #stopping = false;
  #stopped: Promise<void> | undefined;

  constructor(options: IngressServerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? nullLogger;
    this.#pools = new UpstreamPools({
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      responseTimeoutMs: options.responseTimeoutMs ?? 60_000,
    });
    this.#rawPool = new RawUpstreamPool({
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMs: 4_000,
      // Idle keep-alive connections kept per endpoint; the idle timeout trims them. A cap below the concurrency an
      // endpoint sees makes it churn: at 1,000 concurrent clients a cap of 320 meant ≈3,000 new upstream
      // connections a second (and as many closed), 1,024 none after warm-up, with 1.7× the throughput.
      maxIdlePerEndpoint: 1024,
      clock: this.#clock,
    });
  }

  /** Replace the route table. Takes effect for the next request and the next TLS handshake. */
  setRouteTable(table: RouteTable): void {
    this.#table = table;
    if (!this.#firstTableSet) {
      this.#firstTableSet = true;
      this.#openGates();
      if (this.#listenDeferred) this.#listenAttempt = this.#listenAfterFirstTable();
    }
    this.#balancer.retain(table);
    this.#pools.retain(table);
    const liveEndpoints = new Set<string>();
    for (const b of backendsOf(table)) for (const e of b.endpoints) liveEndpoints.add(endpointKey(e));
    this.#rawPool.retain(liveEndpoints);
    const live = new Set([...table.certificates.values()].map((c) => c.secret));
    const next = new Map<string, CachedContext>();
    for (const [secret, cached] of this.#contexts) if (live.has(secret)) next.set(secret, cached);
    this.#contexts = next;
  }

  /** A route table has been set and the listeners are bound: connections are answered (not held, not elsewhere). */
  get serving(): boolean {
    return this.#firstTableSet && this.#listening;
  }

  /** Settles when the latest attempt of a bind deferred to the first table has (bound or failed; never rejects). */
  listenSettled(): Promise<void> {
    return this.#listenAttempt;
  }

  /** Resolves once the listeners are bound: at start, or after the first table when start() deferred it. */
  bound(): Promise<void> {
    return this.#bound.promise;
  }

  get routeTable(): RouteTable {
    return this.#table;
  }

  async start(options: IngressStartOptions = {}): Promise<void> {
    if (this.#http || this.#https) throw new SwitchyardError('ERR_INGRESS', 'ingress server already started');
    this.#listenDeferred = options.listen === 'after-first-table' && !this.#firstTableSet;
    this.#createListeners();
    if (this.#listenDeferred) {
      this.#logger.info({}, 'ingress: another switchyard serves this node; listening once the first route table is built');
      return;
    }
    try {
      await this.#listen();
    } catch (e) {
      await this.stop(0);
      throw e;
    }
  }

  async #listen(): Promise<void> {
    const o = this.#options;
    if (this.#http && o.http && !this.#http.listening) await listen(this.#http, o.http, 'HTTP');
    if (this.#https && o.https && !this.#https.listening) await listen(this.#https, o.https, 'HTTPS');
    if (this.#stopping) {
      // stop() ran meanwhile: it closed only what was listening then.
      for (const server of [this.#http, this.#https]) if (server?.listening) server.close();
      return;
    }
    this.#listening = true;
    this.#bound.resolve();
  }

  async #listenAfterFirstTable(): Promise<void> {
    this.#listenRetry = undefined;
    if (this.#stopping) return;
    try {
      await this.#listen();
      if (this.#listening) this.#logger.info({ ...this.addresses() }, 'ingress: first route table built; listening');
    } catch (e) {
      const retryMs = this.#options.listenRetryMs ?? 5_000;
      this.#logger.error({ err: describeError(e), retryMs }, `ingress: ${describeError(e)}; retrying`);
      this.#options.onListenFailure?.();
      if (!this.#stopping) this.#listenRetry = setTimeout(() => (this.#listenAttempt = this.#listenAfterFirstTable()), retryMs);
    }
  }

  /** The listening sockets and what they hand connections to; nothing bound yet. */
  #createListeners(): void {
    const o = this.#options;
    if (o.http) {
      const listener = this.#fastListener('http');
      // Paused on accept (pauseOnConnect): nothing is read before the fast path owns the socket.
      const gate = this.#gate('http', (socket) => {
        listener.accept(socket);
        socket.resume();
      });
      const server = createNetServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (socket) => gate.admit(socket));
      this.#http = server;
    }
    if (o.https) {
      const pair = o.defaultCertificate ?? generateSelfSigned('switchyard.invalid');
      this.#defaultContext = createSecureContext({ cert: pair.cert, key: pair.key });
      const listener = this.#fastListener('https');
      const tls = createTlsServer(
        {
          cert: pair.cert,
          key: pair.key,
          ALPNProtocols: ['http/1.1'],
          SNICallback: (name, cb) => cb(null, this.#contextFor(name)),
          // Not half-open (unlike plain HTTP): a TLS socket whose peer goes away without close_notify would
          // then never report 'end' or 'close', and stop() would wait for it forever.
          allowHalfOpen: false,
        },
        (socket) => listener.accept(socket),
      );
      tls.on('tlsClientError', (err: Error) => {
        this.#logger.debug({ error: describeError(err) }, 'ingress: TLS handshake failed');
      });
      // The TLS server never listens itself: a plain listener takes the connections, so that a held one has not
      // started its handshake (which would pick a certificate from a table not built yet).
      const gate = this.#gate('https', (socket) => tls.emit('connection', socket));
      const server = createNetServer({ noDelay: true, allowHalfOpen: false, pauseOnConnect: true }, (socket) => gate.admit(socket));
      this.#https = server;
    }
  }

  #gate(proto: 'http' | 'https', pass: (socket: Socket) => void): ConnectionGate {
    const gate = new ConnectionGate({ pass, ...(this.#options.maxHoldMs !== undefined ? { maxWaitMs: this.#options.maxHoldMs } : {}) });
    this.#gates.push(gate);
    // Deferred, nothing is accepted before the first table: there is nothing to hold.
    if (!this.#options.holdUntilFirstTable || this.#firstTableSet || this.#listenDeferred) gate.open();
    else this.#logger.info({ proto }, 'ingress: listening; connections wait for the first route table');
    return gate;
  }

  #openGates(): void {
    for (const gate of this.#gates) {
      if (gate.isOpen) continue;
      const { released, longestWaitMs } = gate.open();
      this.#logger.info(
        { released, longestWaitMs: Math.round(longestWaitMs), closedUnserved: gate.refused },
        'ingress: first route table; serving',
      );
    }
  }

  /**
   * The fast path for one listener, and the node:http server it hands connections to. That server never listens
   * itself; node:http starts its connection tracking (closeIdleConnections, the headers/request timeout sweep) on
   * 'listening', so it is told it is listening.
   */
  #fastListener(proto: 'http' | 'https'): FastListener {
    const o = this.#options;
    const maxHeaderSize = o.maxHeaderSize ?? 16 * 1024;
    const shouldUpgradeCallback = (req: IncomingMessage) => req.headers.upgrade?.toLowerCase() === 'websocket';
    const handoff = createHttpServer({ maxHeaderSize, shouldUpgradeCallback });
    handoff.keepAliveTimeout = o.keepAliveTimeoutMs ?? 75_000;
    let boundPort = 0;
    const listenerPort = (): number => {
      const server = proto === 'http' ? this.#http : this.#https;
      return (boundPort ||= (server?.address() as AddressInfo | null)?.port ?? 0);
    };
    this.#wire(handoff, proto, listenerPort);
    handoff.emit('listening');
    this.#handoffServers.push(handoff);
    const responseTimeoutMs = this.#options.responseTimeoutMs ?? 60_000;
    const listener = new FastListener({
      proxy: this.#proxyContext(),
      pool: this.#rawPool,
      clock: this.#clock,
      proto,
      listenerPort,
      maxHeaderSize,
      responseTimeoutMs,
      keepAliveTimeoutMs: handoff.keepAliveTimeout,
      headersTimeoutMs: handoff.headersTimeout,
      handoff: (socket: Socket, pending: Buffer | undefined, reason: string) => {
        this.#logger.debug({ reason, proto }, 'ingress: connection handed to node:http');
        this.#options.onHandoff?.(reason);
        if (pending !== undefined) socket.unshift(pending);
        handoff.emit('connection', socket);
        socket.resume();
      },
    });
    this.#fast.push(listener);
    return listener;
  }

  addresses(): BoundAddresses {
    const of = (s: NetServer | undefined) => (s?.listening ? (s.address() as AddressInfo) : undefined);
    return { http: of(this.#http), https: of(this.#https) };
  }

  /**
   * Stop accepting, let in-flight requests finish (their connections close afterwards), then after drainMs cut
   * whatever is left, WebSocket tunnels included. Idempotent.
   */
  stop(drainMs = 5_000): Promise<void> {
    this.#stopped ??= this.#stop(drainMs);
    return this.#stopped;
  }

  async #stop(drainMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#listenRetry);
    const listeners = [this.#http, this.#https].filter((s): s is NetServer => s !== undefined);
    // A net server's close callback runs once every connection it accepted is gone, handed-off ones included.
    const closed = Promise.all(
      listeners.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))),
    );
    for (const g of this.#gates) g.destroyHeld();
    for (const f of this.#fast) f.drain();
    for (const s of this.#handoffServers) s.closeIdleConnections();
    const deadline = setTimeout(() => {
      for (const f of this.#fast) f.destroyAll();
      for (const s of this.#handoffServers) s.closeAllConnections();
      for (const t of this.#tunnels) t.destroy();
    }, drainMs);
    await closed;
    clearTimeout(deadline);
    for (const t of this.#tunnels) t.destroy();
    for (const f of this.#fast) f.destroyAll();
    for (const s of this.#handoffServers) s.close();
    this.#rawPool.closeAll();
    await this.#pools.closeAll();
  }

  #contextFor(serverName: string): SecureContext | undefined {
    const certificate = serverName ? selectCertificate(this.#table, serverName) : undefined;
    if (!certificate) return this.#defaultContext;
    const cached = this.#contexts.get(certificate.secret);
    if (cached && cached.cert === certificate.cert && cached.key === certificate.key) {
      return cached.context ?? this.#defaultContext;
    }
    let context: SecureContext | undefined;
    try {
      context = createSecureContext({ cert: certificate.cert, key: certificate.key });
    } catch (e) {
      this.#logger.warn(
        { secret: certificate.secret, error: describeError(e) },
        'ingress: certificate unusable; serving the default certificate',
      );
    }
    this.#contexts.set(certificate.secret, { cert: certificate.cert, key: certificate.key, context });
    return context ?? this.#defaultContext;
  }

  #proxyContext(): ProxyContext {
    return {
      table: () => this.#table,
      balancer: this.#balancer,
      pools: this.#pools,
      maxBodyBytes: this.#options.maxBodyBytes ?? 10 * 1024 * 1024,
      maxAttempts: this.#options.maxAttempts ?? 3,
      logger: this.#logger,
      onRequest: this.#options.onRequest,
      stopping: () => this.#stopping,
    };
  }

  /** The node:http path: requests and upgrades on connections the fast path handed off. */
  #wire(server: Server, proto: 'http' | 'https', port: () => number): void {
    const proxyContext = this.#proxyContext();
    const wsContext: WebSocketContext = {
      table: () => this.#table,
      balancer: this.#balancer,
      connectTimeoutMs: this.#options.connectTimeoutMs ?? 5_000,
      maxAttempts: this.#options.maxAttempts ?? 3,
      logger: this.#logger,
      onRequest: this.#options.onRequest,
      tunnels: this.#tunnels,
    };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.#stopping) res.once('finish', () => setImmediate(() => server.closeIdleConnections()));
      try {
        proxyRequest(proxyContext, req, res, proto, port());
      } catch (e) {
        this.#logger.error({ error: describeError(e), url: req.url }, 'ingress: request handling failed');
        sendLocal(res, 502, 'Bad Gateway', true);
      }
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.#stopping) {
        socket.destroy();
        return;
      }
      proxyUpgrade(wsContext, req, socket, head, proto, port()).catch((e: unknown) => {
        this.#logger.error({ error: describeError(e), url: req.url }, 'ingress: websocket handling failed');
        socket.destroy();
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nServer: switchyard\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
  }
}

/**
 * Accept queue of the ingress listeners: as long as the kernel allows (it caps the value at net.core.somaxconn),
 * as ingress-nginx does. Node's default, 511, overflows when a thousand clients connect at once while the loop is
 * busy: the kernel drops the SYNs past it and those clients wait a second or more for their retransmit.
 */
const LISTEN_BACKLOG = 65_535;

const listen = (server: NetServer, address: ListenAddress, what: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const onError = (e: Error) =>
      reject(
        new SwitchyardError('ERR_INGRESS', `cannot listen for ${what} on ${address.host}:${address.port}: ${e.message}`, {
          cause: e,
        }),
      );
    server.once('error', onError);
    // reusePort: during a rollout the next pod listens beside this one (lib/handover/README.md).
    server.listen({ host: address.host, port: address.port, exclusive: true, reusePort: true, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      resolve();
    });
  });
