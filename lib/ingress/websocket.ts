/**
 * WebSocket passthrough: the handshake request is forwarded (with the usual X-Forwarded-* headers) over a fresh
 * TCP connection to an endpoint, then both sockets are piped raw. The 101 answer and every frame pass untouched.
 * Connect failures move to the next endpoint like HTTP (a handshake is a GET; nothing was sent yet).
 */
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../telemetry/logger-types.ts';
import { clientAddress, forwardRequestHeaders } from './headers.ts';
import { matchRoute } from './router.ts';
import { newRequestId } from './request-id.ts';
import { localResponseText } from './fast/local-response.ts';
import type { RouteTable } from './types.ts';
import type { Balancer } from './upstream.ts';
import type { Endpoint } from '../model/types.ts';
import type { RequestRecord } from './proxy.ts';

export interface WebSocketContext {
  readonly table: () => RouteTable;
  readonly balancer: Balancer;
  readonly connectTimeoutMs: number;
  readonly maxAttempts: number;
  readonly logger: Logger;
  readonly onRequest: ((record: RequestRecord) => void) | undefined;
  /** Tunnels alive, so stop() can cut them at the drain deadline. */
  readonly tunnels: Set<Duplex>;
}

/** The proxy's own answer to a handshake it cannot pass on (same text as every local answer), then close. */
const rejectRaw = (socket: Duplex, status: number): void => {
  socket.end(localResponseText(status, true, new Date().toUTCString()));
};

const dial = (ep: Endpoint, timeoutMs: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = connect({ host: ep.ip, port: ep.port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`connect timeout after ${timeoutMs} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });

export const proxyUpgrade = async (
  ctx: WebSocketContext,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  proto: 'http' | 'https',
  listenerPort: number,
): Promise<void> => {
  const started = performance.now();
  const host = req.headers.host;
  let status = 101;
  let backend: string | undefined;
  let endpointName: string | undefined;
  const report = (upstreamMs?: number) =>
    ctx.onRequest?.({
      host: host ?? '',
      method: req.method ?? 'GET',
      status,
      backend,
      upstreamMs,
      durationMs: performance.now() - started,
      endpoint: endpointName,
    });
  client.on('error', () => client.destroy());

  const match = matchRoute(ctx.table(), host, req.url ?? '/');
  if (!match) return (rejectRaw(client, (status = 404)), report());
  backend = match.backend.servicePortKey ?? match.backend.service;
  const candidates = ctx.balancer.candidates(match.backend);
  if (candidates.length === 0) return (rejectRaw(client, (status = 503)), report());

  let upstream: Socket | undefined;
  let lastCode: string | undefined;
  const t0 = performance.now();
  for (const ep of candidates.slice(0, ctx.maxAttempts)) {
    endpointName = ep.family === 6 ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`;
    try {
      upstream = await dial(ep, ctx.connectTimeoutMs);
      break;
    } catch (e) {
      lastCode = (e as { code?: string }).code;
      if (client.destroyed) return;
    }
  }
  if (!upstream) {
    status = lastCode === 'UND_ERR_CONNECT_TIMEOUT' ? 504 : 502;
    ctx.logger.warn({ host, backend, endpoint: endpointName, code: lastCode }, 'ingress: websocket upstream failed');
    rejectRaw(client, status);
    return report();
  }
  if (client.destroyed) {
    upstream.destroy();
    return;
  }

  const { headers } = forwardRequestHeaders(req.rawHeaders, {
    clientIp: clientAddress(req.socket.remoteAddress),
    proto,
    listenerPort,
    newRequestId,
    upgrade: req.headers.upgrade ?? 'websocket',
  });
  let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  upstream.write(`${text}\r\n`);
  if (head.length > 0) upstream.write(head);

  const sockets = [client, upstream];
  for (const s of sockets) ctx.tunnels.add(s);
  const teardown = () => {
    for (const s of sockets) {
      ctx.tunnels.delete(s);
      s.destroy();
    }
  };
  upstream.on('error', teardown);
  client.on('error', teardown);
  upstream.on('close', teardown);
  client.on('close', teardown);
  upstream.setNoDelay(true);
  upstream.pipe(client);
  client.pipe(upstream);
  report(performance.now() - t0);
};
