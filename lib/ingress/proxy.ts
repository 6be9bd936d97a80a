/**
 * One HTTP request through the proxy: route, pick endpoints, forward with undici, stream the answer back.
 *
 * Status codes of our own: 404 no route, 413 body too large, 503 no ready endpoint, 502 connect failure or reset,
 * 504 connect or response-header timeout. A connect failure moves on to the next endpoint (bounded by
 * maxAttempts) for idempotent methods, and only while no byte of the request body was read — a request that
 * failed before connecting has sent nothing, so retrying cannot duplicate it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describeError } from '../errors.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { SERVER_NAME, clientAddress, forwardRequestHeaders, forwardResponseHeaders } from './headers.ts';
import { matchRoute } from './router.ts';
import { newRequestId } from './request-id.ts';
import type { Endpoint } from '../model/types.ts';
import type { RouteTable } from './types.ts';
import type { Balancer, UpstreamPools } from './upstream.ts';

/** Reported once per request, after the response ended (or the client went away). */
export interface RequestRecord {
  readonly host: string;
  readonly method: string;
  readonly status: number;
  /** Service port that served it, when a route matched. */
  readonly backend: string | undefined;
  /** Time to upstream response headers; undefined when no upstream answered. */
  readonly upstreamMs: number | undefined;
  readonly durationMs: number;
  /** The endpoint that answered, `ip:port`. */
  readonly endpoint: string | undefined;
}

export interface ProxyContext {
  readonly table: () => RouteTable;
  readonly balancer: Balancer;
  readonly pools: UpstreamPools;
  readonly maxBodyBytes: number;
  readonly maxAttempts: number;
  readonly logger: Logger;
  readonly onRequest: ((record: RequestRecord) => void) | undefined;
  /** True once stop() began: responses then close their connection. */
  readonly stopping: () => boolean;
}

export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
export const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
export const TIMEOUT_ERRORS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);

export const errorCode = (e: unknown): string | undefined => {
  if (e && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (e as { errors?: unknown }).errors; // AggregateError from multi-address connects
    if (Array.isArray(errors)) return errorCode(errors[0]);
  }
  return undefined;
};

class BodyTooLargeError extends Error {}

/** Path and host of an absolute-form request target (`GET http://host/p`); undefined when it does not parse. */
const absoluteTarget = (url: string): { path: string; host: string } | undefined => {
  try {
    const u = new URL(url);
    return { path: `${u.pathname}${u.search}`, host: u.host };
  } catch {
    return undefined;
  }
};

export const sendLocal = (res: ServerResponse, status: number, message: string, close = false): void => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${status} ${message}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    server: SERVER_NAME,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
};

const CLIENT_GONE = Object.assign(new Error('client closed the connection'), { code: 'CLIENT_GONE' });

/** The exchange a response belongs to; read by the shared listeners below instead of closures per request. */
const kExchange = Symbol('switchyard.exchange');
type ExchangeResponse = ServerResponse & { [kExchange]?: Exchange };

function onClientClose(this: ExchangeResponse): void {
  this[kExchange]?.clientClosed();
}
function onClientDrain(this: ExchangeResponse): void {
  this[kExchange]?.controller?.resume();
}

/**
 * One request, from routing to the last byte of the answer. It is also the undici dispatch handler of each
 * attempt (one object per request: no promise, closure or handler literal per request or per attempt). Response
 * chunks go straight to `res`, with backpressure: the upstream is paused while `res` is full, resumed on `drain`.
 * A connect failure before any response header may move on to the next endpoint; once headers went out, a broken
 * upstream can only cut the client connection.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #ctx: ProxyContext;
  readonly #req: IncomingMessage;
  readonly #res: ExchangeResponse;
  readonly #started: number;
  readonly #method: string;
  readonly #path: string;
  readonly #host: string | undefined;
  #backendKey: string | undefined;
  /** The endpoint of the current (or last) attempt. */
  #endpoint: Endpoint | undefined;
  #upstreamMs: number | undefined;
  #candidates: readonly Endpoint[] = [];
  #attempt = 0;
  #attempts = 0;
  #attemptStarted = 0;
  #headers: string[] = [];
  #hasBody = false;
  #bodyStarted = false;
  #bodyTooLarge = false;
  #responseStarted = false;
  controller: Dispatcher.DispatchController | undefined;

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse) {
    this.#ctx = ctx;
    this.#req = req;
    this.#res = res;
    this.#started = performance.now();
    this.#method = req.method ?? 'GET';
    const url = req.url ?? '/';
    if (url.charCodeAt(0) === 47 /* '/' */) {
      this.#path = url;
      this.#host = req.headers.host;
    } else {
      // Absolute-form target (`GET http://host/p`): its host wins over the Host header.
      const target = absoluteTarget(url);
      this.#path = target?.path ?? url;
      this.#host = target ? target.host : req.headers.host;
    }
  }

  start(proto: 'http' | 'https', listenerPort: number): void {
    const ctx = this.#ctx;
    const req = this.#req;
    const res = this.#res;
    res[kExchange] = this;
    res.on('close', onClientClose);
    if (ctx.stopping()) res.shouldKeepAlive = false;

    const declared = req.headers['content-length'];
    const declaredLength = declared === undefined ? 0 : Number(declared);
    if (declaredLength > ctx.maxBodyBytes) {
      // Not reading a large body: close the connection rather than drain it.
      sendLocal(res, 413, 'Request Entity Too Large', true);
      req.resume();
      return;
    }

    const match = matchRoute(ctx.table(), this.#host, this.#path);
    if (!match) return sendLocal(res, 404, 'Not Found');
    this.#backendKey = match.backend.servicePortKey ?? match.backend.service;
    this.#candidates = ctx.balancer.candidates(match.backend);
    if (this.#candidates.length === 0) return sendLocal(res, 503, 'Service Unavailable');

    this.#headers = forwardRequestHeaders(req.rawHeaders, {
      clientIp: clientAddress(req.socket.remoteAddress),
      proto,
      listenerPort,
      newRequestId,
    }).headers;
    this.#hasBody = declaredLength > 0 || req.headers['transfer-encoding'] !== undefined;
    this.#attempts = Math.min(ctx.maxAttempts, this.#candidates.length);
    this.#dispatch();
  }

  #dispatch(): void {
    const ep = this.#candidates[this.#attempt]!;
    this.#endpoint = ep;
    this.#attemptStarted = performance.now();
    this.controller = undefined;
    this.#ctx.pools.forEndpoint(ep).dispatch(
      {
        path: this.#path,
        method: this.#method as Dispatcher.HttpMethod,
        headers: this.#headers,
        // Readable.from pulls only when undici writes the body, i.e. after connecting.
        body: this.#hasBody ? Readable.from(this.#limitedBody(), { objectMode: false }) : null,
      },
      this,
    );
  }

  /** `ip:port` of the endpoint tried last (only built for logs and the onRequest record). */
  #endpointName(): string | undefined {
    const ep = this.#endpoint;
    return ep === undefined ? undefined : ep.family === 6 ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`;
  }

  async *#limitedBody(): AsyncGenerator<Buffer> {
    this.#bodyStarted = true;
    const maxBodyBytes = this.#ctx.maxBodyBytes;
    let seen = 0;
    for await (const chunk of this.#req as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > maxBodyBytes) {
        this.#bodyTooLarge = true;
        throw new BodyTooLargeError('request body exceeds the limit');
      }
      yield chunk;
    }
  }

  /** The client connection closed: before the answer was complete, stop the upstream request too; report. */
  clientClosed(): void {
    const res = this.#res;
    if (!res.writableEnded) this.controller?.abort(CLIENT_GONE);
    res[kExchange] = undefined;
    const onRequest = this.#ctx.onRequest;
    if (onRequest) {
      onRequest({
        host: this.#host ?? '',
        method: this.#method,
        status: res.statusCode,
        backend: this.#backendKey,
        upstreamMs: this.#upstreamMs,
        durationMs: performance.now() - this.#started,
        endpoint: this.#endpointName(),
      });
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.#res.destroyed) controller.abort(CLIENT_GONE);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#responseStarted = true;
    this.#upstreamMs = performance.now() - this.#attemptStarted;
    this.#res.writeHead(statusCode, forwardResponseHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#res;
    if (!res.write(chunk)) {
      controller.pause();
      if (res.listenerCount('drain') === 0) res.on('drain', onClientDrain);
    }
  }

  onResponseEnd(): void {
    this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const res = this.#res;
    if (this.#responseStarted) {
      // Headers are out: all we can do is cut the connection so the client sees a truncated answer.
      if (error !== CLIENT_GONE) {
        this.#ctx.logger.warn(
          { endpoint: this.#endpointName(), error: describeError(error) },
          'ingress: upstream response broke off',
        );
      }
      res.destroy();
      return;
    }
    if (res.destroyed) return; // the client went away
    const code = errorCode(error);
    const retryable =
      CONNECT_ERRORS.has(code ?? '') &&
      IDEMPOTENT.has(this.#method) &&
      !this.#bodyStarted &&
      this.#attempt + 1 < this.#attempts;
    this.#ctx.logger.debug(
      { endpoint: this.#endpointName(), code, retry: retryable },
      'ingress: upstream attempt failed',
    );
    if (retryable) {
      this.#attempt++;
      this.#dispatch();
      return;
    }
    this.#fail(error);
  }

  #fail(error: unknown): void {
    const res = this.#res;
    if (this.#bodyTooLarge) return sendLocal(res, 413, 'Request Entity Too Large', true);
    const code = errorCode(error);
    const timeout = TIMEOUT_ERRORS.has(code ?? '');
    this.#ctx.logger.warn(
      {
        host: this.#host,
        path: this.#path,
        backend: this.#backendKey,
        endpoint: this.#endpointName(),
        error: describeError(error),
      },
      `ingress: upstream ${timeout ? 'timed out' : 'failed'}`,
    );
    sendLocal(res, timeout ? 504 : 502, timeout ? 'Gateway Timeout' : 'Bad Gateway', this.#bodyStarted);
  }
}

/**
 * Route and forward one request. Never throws for upstream trouble (that becomes 502/503/504); a throw means a
 * bug, and the caller answers 502.
 */
export const proxyRequest = (
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  proto: 'http' | 'https',
  listenerPort: number,
): void => new Exchange(ctx, req, res).start(proto, listenerPort);

