/**
 * One HTTP request through the proxy: route, pick endpoints, forward with undici, stream the answer back.
 *
 * Status codes of our own: 404 no route, 413 body too large, 503 no ready endpoint, 502 connect failure or reset,
 * 504 connect or response-header timeout. A connect failure moves on to the next endpoint (bounded by
 * maxAttempts) for idempotent methods, and only while no byte of the request body was read — a request that
 * failed before connecting has sent nothing, so retrying cannot duplicate it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describeError } from '../errors.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { SERVER_NAME, clientAddress, forwardRequestHeaders, forwardResponseHeaders } from './headers.ts';
import { matchRoute } from './router.ts';
import type { RouteTable } from './types.ts';
import { endpointOrigin, type Balancer, type UpstreamPools } from './upstream.ts';

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

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_ERRORS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);

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

/** Where the request target is absolute-form (`GET http://host/p`), the path and its host; else as is. */
const splitTarget = (url: string, hostHeader: string | undefined): { path: string; host: string | undefined } => {
  if (url.startsWith('/')) return { path: url, host: hostHeader };
  try {
    const u = new URL(url);
    return { path: `${u.pathname}${u.search}`, host: u.host };
  } catch {
    return { path: url, host: hostHeader };
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

/** Why an attempt ended before the client got any of the answer: the caller may retry or answer 502/504. */
class AttemptFailed extends Error {
  readonly error: unknown;
  constructor(error: unknown) {
    super('upstream attempt failed');
    this.error = error;
  }
}

/**
 * One attempt on one endpoint, through undici's dispatch handler API: no Readable or promise per response body,
 * chunks go straight to `res` with backpressure (pause the upstream while `res` is full). Resolves when the answer
 * was sent (or cut off after its headers: then `res` is destroyed); rejects with AttemptFailed before any header.
 */
const forward = (
  pool: Dispatcher,
  options: Dispatcher.DispatchOptions,
  res: ServerResponse,
  onHeaders: () => void,
  onBrokenBody: (e: unknown) => void,
): Promise<void> =>
  new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let headersSent = false;
    const onClose = (): void => {
      // The client went away before the answer was complete: stop the upstream request too.
      if (!res.writableEnded) controller?.abort(CLIENT_GONE);
    };
    const onDrain = (): void => controller?.resume();
    res.once('close', onClose);
    const done = (): void => {
      res.off('close', onClose);
      res.off('drain', onDrain);
    };
    res.on('drain', onDrain);
    pool.dispatch(options, {
      onRequestStart(c) {
        controller = c;
        if (res.destroyed) c.abort(CLIENT_GONE);
      },
      onResponseStart(_c, statusCode, headers) {
        headersSent = true;
        onHeaders();
        res.writeHead(statusCode, forwardResponseHeaders(headers));
      },
      onResponseData(c, chunk) {
        if (!res.write(chunk)) c.pause();
      },
      onResponseEnd() {
        done();
        res.end();
        resolve();
      },
      onResponseError(_c, error) {
        done();
        if (!headersSent) return reject(new AttemptFailed(error));
        // Headers are out: all we can do is cut the connection so the client sees a truncated answer.
        if (error !== CLIENT_GONE) onBrokenBody(error);
        res.destroy();
        resolve();
      },
    });
  });

const CLIENT_GONE = Object.assign(new Error('client closed the connection'), { code: 'CLIENT_GONE' });

export const proxyRequest = async (
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  proto: 'http' | 'https',
  listenerPort: number,
): Promise<void> => {
  const started = performance.now();
  const method = req.method ?? 'GET';
  const { path, host } = splitTarget(req.url ?? '/', req.headers.host);
  let backendKey: string | undefined;
  let upstreamMs: number | undefined;
  let endpointName: string | undefined;
  if (ctx.onRequest) {
    const onRequest = ctx.onRequest;
    res.once('close', () =>
      onRequest({
        host: host ?? '',
        method,
        status: res.statusCode,
        backend: backendKey,
        upstreamMs,
        durationMs: performance.now() - started,
        endpoint: endpointName,
      }),
    );
  }
  if (ctx.stopping()) res.shouldKeepAlive = false;

  const declared = req.headers['content-length'];
  const declaredLength = declared === undefined ? 0 : Number(declared);
  if (declaredLength > ctx.maxBodyBytes) {
    // Not reading a large body: close the connection rather than drain it.
    sendLocal(res, 413, 'Request Entity Too Large', true);
    req.resume();
    return;
  }

  const match = matchRoute(ctx.table(), host, path);
  if (!match) return sendLocal(res, 404, 'Not Found');
  backendKey = match.backend.servicePortKey ?? match.backend.service;
  const candidates = ctx.balancer.candidates(match.backend);
  if (candidates.length === 0) return sendLocal(res, 503, 'Service Unavailable');

  const { headers } = forwardRequestHeaders(req.rawHeaders, {
    clientIp: clientAddress(req.socket.remoteAddress),
    proto,
    listenerPort,
    newRequestId,
  });
  const hasBody = declaredLength > 0 || req.headers['transfer-encoding'] !== undefined;
  const body = { started: false, tooLarge: false };
  const maxBodyBytes = ctx.maxBodyBytes;
  async function* limitedBody(): AsyncGenerator<Buffer> {
    body.started = true;
    let seen = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > maxBodyBytes) {
        body.tooLarge = true;
        throw new BodyTooLargeError('request body exceeds the limit');
      }
      yield chunk;
    }
  }

  const attempts = Math.min(ctx.maxAttempts, candidates.length);
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const ep = candidates[attempt]!;
    endpointName = ep.family === 6 ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`;
    const t0 = performance.now();
    try {
      await forward(
        ctx.pools.get(endpointOrigin(ep)),
        {
          path,
          method: method as Dispatcher.HttpMethod,
          headers,
          // Readable.from pulls only when undici writes the body, i.e. after connecting.
          body: hasBody ? Readable.from(limitedBody(), { objectMode: false }) : null,
        },
        res,
        () => (upstreamMs = performance.now() - t0),
        (e) => ctx.logger.warn({ endpoint: endpointName, error: describeError(e) }, 'ingress: upstream response broke off'),
      );
      return;
    } catch (e) {
      lastError = e instanceof AttemptFailed ? e.error : e;
      if (res.destroyed) return; // the client went away
      const code = errorCode(lastError);
      const retryable =
        CONNECT_ERRORS.has(code ?? '') && IDEMPOTENT.has(method) && !body.started && attempt + 1 < attempts;
      ctx.logger.debug({ endpoint: endpointName, code, retry: retryable }, 'ingress: upstream attempt failed');
      if (!retryable) break;
    }
  }

  if (body.tooLarge) return sendLocal(res, 413, 'Request Entity Too Large', true);
  const code = errorCode(lastError);
  const timeout = TIMEOUT_ERRORS.has(code ?? '');
  ctx.logger.warn(
    { host, path, backend: backendKey, endpoint: endpointName, error: describeError(lastError) },
    `ingress: upstream ${timeout ? 'timed out' : 'failed'}`,
  );
  sendLocal(res, timeout ? 504 : 502, timeout ? 'Gateway Timeout' : 'Bad Gateway', body.started);
};

const newRequestId = (): string => randomUUID().replaceAll('-', '');
