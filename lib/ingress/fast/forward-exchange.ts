/**
 * One request forwarded on the fast path: pick an endpoint, send the rewritten head (and the body as the client
 * sends it) on a pooled raw connection, read the response head, rewrite it, and pass the body through byte for
 * byte, using its framing (Content-Length, chunked, or until close) only to find where it ends.
 *
 * Same outcomes as the node:http path (lib/ingress/proxy.ts): a connect failure moves on to the next endpoint for
 * idempotent methods (nothing of the request was sent yet); 502 on an unusable answer or a reset before the
 * response head, 504 on a connect or response timeout; once the head went out, a broken upstream can only cut the
 * client connection. One more case the pooled connections bring: a reused keep-alive connection that the
 * endpoint closed just as the request went out fails before any response byte — an idempotent request without a
 * body is then sent once more on a fresh connection, as undici and nginx do.
 */
import type { Socket } from 'node:net';
import { describeError } from '../../errors.ts';
import type { Endpoint } from '../../model/types.ts';
import { forwardedResponseHead } from '../headers.ts';
import { ChunkedScanner } from '../http1/chunked.ts';
import { MAX_RESPONSE_FIELDS, parseResponseHeadBytes, type BodyFraming, type StatusLine } from '../http1/response-head.ts';
import { HeadFields, latin1 } from '../http1/tokens.ts';
import { rewriteResponseHead } from './head-rewrite.ts';
import { RepeatedResponseHead } from './repeated-head.ts';
import { CONNECT_ERRORS, IDEMPOTENT, TIMEOUT_ERRORS, errorCode } from '../proxy.ts';
import { CRLFCRLF, type FastContext } from './context.ts';
import { endpointKey, type UpstreamConnection, type UpstreamOwner } from './upstream-pool.ts';

/** The client side an exchange reports to (implemented by ClientConnection). */
export interface ExchangeClient {
  readonly socket: Socket;
  closeAfterResponse: boolean;
  /** The upstream is ready: the body bytes already read (up to the declared length); later ones stream in. */
  takeRequestBody(): Buffer | undefined;
  /** Answer locally (502/504) instead; the exchange is over. */
  respondLocal(status: number, close: boolean): void;
  exchangeFinished(): void;
  pauseForUpstream(): void;
  resumeForUpstream(): void;
}

/** Largest upstream response head accepted; a longer one is a 502. */
const MAX_RESPONSE_HEAD = 64 * 1024;
/** Head and body of a response go out in one write up to this size; larger bodies go in a second one. */
const COALESCE_LIMIT = 16 * 1024;

const Phase = { head: 0, body: 1, done: 2 } as const;

const upstreamError = (message: string, code: string): Error => Object.assign(new Error(message), { code });

export class ForwardExchange implements UpstreamOwner {
  readonly #ctx: FastContext;
  readonly #client: ExchangeClient;
  readonly #method: string;
  readonly #target: string;
  readonly #host: string;
  readonly #backend: string;
  /** The rewritten request head, kept for a retry on another connection. */
  readonly #head: Buffer;
  readonly #contentLength: number;
  readonly #candidates: readonly Endpoint[];
  readonly #attempts: number;
  /** Precise start times only matter for the metrics hook; without one, no clock is read for them. */
  readonly #started: number;
  #attempt = 0;
  #endpoint: Endpoint | undefined;
  #upstream: UpstreamConnection | undefined;
  #cancelConnect: (() => void) | undefined;
  #freshRetryDone = false;
  #attemptStarted = 0;
  #upstreamMs: number | undefined;
  /** performance.now() by which the upstream must answer (or send more body); 0 while none is due. */
  deadline = 0;
  requestSent = false;
  #phase: number = Phase.head;
  #responseBytes = 0;
  #pendingHead: Buffer | undefined;
  #framing: BodyFraming = { kind: 'none' };
  #remaining = 0;
  #scanner: ChunkedScanner | undefined;
  #upstreamKeepAlive = false;
  #poisoned = false;
  #status = 0;
  #over = false;

  constructor(
    ctx: FastContext,
    client: ExchangeClient,
    request: { method: string; target: string; host: string; contentLength: number },
    backend: string,
    candidates: readonly Endpoint[],
    head: Buffer,
  ) {
    this.#ctx = ctx;
    this.#client = client;
    this.#method = request.method;
    this.#target = request.target;
    this.#host = request.host;
    this.#contentLength = request.contentLength;
    this.#backend = backend;
    this.#candidates = candidates;
    this.#head = head;
    this.#attempts = Math.min(ctx.proxy.maxAttempts, candidates.length);
    this.#started = ctx.proxy.onRequest ? performance.now() : 0;
  }

  start(): void {
    const ep = this.#candidates[this.#attempt]!;
    this.#endpoint = ep;
    if (this.#ctx.proxy.onRequest) this.#attemptStarted = performance.now();
    const key = endpointKey(ep);
    const reused = this.#ctx.pool.take(key, this);
    if (reused) return this.#connected(reused);
    this.#open(ep, key);
  }

  #open(ep: Endpoint, key: string): void {
    this.#cancelConnect = this.#ctx.pool.open(
      ep,
      key,
      this,
      (conn) => {
        this.#cancelConnect = undefined;
        if (this.#over) return conn.destroy();
        this.#connected(conn);
      },
      (error) => {
        this.#cancelConnect = undefined;
        if (!this.#over) this.#connectFailed(error);
      },
    );
  }

  #connected(conn: UpstreamConnection): void {
    this.#upstream = conn;
    const socket = conn.socket;
    const body = this.#contentLength > 0 ? this.#client.takeRequestBody() : undefined;
    if (body === undefined || body.length === 0) socket.write(this.#head);
    else {
      socket.cork();
      socket.write(this.#head);
      socket.write(body);
      socket.uncork();
    }
    if (this.#contentLength === 0 || (body !== undefined && body.length === this.#contentLength)) this.#requestDone();
  }

  /** More request body from the client (after takeRequestBody). */
  requestBody(chunk: Buffer, last: boolean): void {
    const conn = this.#upstream;
    if (!conn) return;
    if (!conn.socket.write(chunk)) this.#client.pauseForUpstream();
    if (last) this.#requestDone();
  }

  #requestDone(): void {
    this.requestSent = true;
    if (this.#phase === Phase.head) this.deadline = this.#ctx.clock.now + this.#ctx.responseTimeoutMs;
  }

  upstreamDrained(): void {
    this.#client.resumeForUpstream();
  }

  clientDrained(): void {
    const socket = this.#upstream?.socket;
    if (socket?.isPaused()) socket.resume();
  }

  #connectFailed(error: Error): void {
    const code = errorCode(error);
    const retry = CONNECT_ERRORS.has(code ?? '') && IDEMPOTENT.has(this.#method) && this.#attempt + 1 < this.#attempts;
    this.#ctx.proxy.logger.debug({ endpoint: this.#endpointName(), code, retry }, 'ingress: upstream attempt failed');
    if (!retry) return this.#fail(error);
    this.#attempt++;
    this.start();
  }

  upstreamData(chunk: Buffer): void {
    if (this.#over) return;
    this.#responseBytes += chunk.length;
    if (this.#phase === Phase.head) return this.#headData(chunk);
    if (this.#phase !== Phase.body) {
      this.#poisoned = true;
      return;
    }
    this.deadline = this.#ctx.clock.now + this.#ctx.responseTimeoutMs;
    const n = this.#bodyBytes(chunk, 0);
    if (n < 0) return;
    if (n > 0) this.#bodyToClient(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (this.#isDone()) this.#finish();
  }

  #headData(chunk: Buffer): void {
    let buf = this.#pendingHead ? Buffer.concat([this.#pendingHead, chunk]) : chunk;
    this.#pendingHead = undefined;
    for (;;) {
      const end = buf.indexOf(CRLFCRLF);
      if (end === -1) {
        if (buf.length > MAX_RESPONSE_HEAD) return this.#badResponse('response head too large');
        this.#pendingHead = Buffer.from(buf); // buf may still be a view of the pool's shared read buffer
        return;
      }
      let head = this.#upstream?.repeated?.lineFor(buf, end, this.#method);
      const repeated = head !== undefined;
      if (head === undefined) {
        const parsed = parseResponseHeadBytes(buf, end, this.#method, responseFields);
        if (!parsed.ok) return this.#badResponse(parsed.reason);
        head = parsed.head;
      }
      const bodyStart = end + 4;
      if (head.status < 200) {
        if (head.status === 101) return this.#badResponse('101 without an upgrade request');
        // Interim answers (103 Early Hints…) pass through; the final response follows on the same connection.
        this.#client.socket.write(this.#clientHead(head, buf, end, false, 0, 0));
        if (bodyStart === buf.length) return;
        buf = buf.subarray(bodyStart);
        continue;
      }
      this.#startResponse(head, buf, end, repeated);
      return;
    }
  }

  /**
   * The client's head followed by `bodyLength` body bytes from bodyStart. From the connection's remembered rewrite
   * when the head repeats the last one; otherwise rewritten (and, for a keep-alive answer, remembered).
   */
  #responseOut(head: StatusLine, src: Buffer, headEnd: number, close: boolean, bodyStart: number, bodyLength: number, repeated: boolean): Buffer {
    const conn = this.#upstream;
    if (repeated && !close) return withBody(conn!.repeated!.head(), src, bodyStart, bodyLength);
    if (repeated) parseResponseHeadBytes(src, headEnd, this.#method, responseFields); // the field table for this variant
    if (conn === undefined || close || head.connectionListsOthers) {
      return this.#clientHead(head, src, headEnd, close, bodyStart, bodyLength);
    }
    const only = rewriteResponseHead(src, headEnd, head, responseFields, false, 0, 0);
    (conn.repeated ??= new RepeatedResponseHead()).remember(src, headEnd, this.#method, head, only);
    return withBody(only, src, bodyStart, bodyLength);
  }

  /**
   * The client's head (and `bodyLength` body bytes from bodyStart) for a head just parsed into responseFields;
   * the general rewrite when Connection names headers to drop.
   */
  #clientHead(head: StatusLine, src: Buffer, headEnd: number, close: boolean, bodyStart: number, bodyLength: number): Buffer {
    if (!head.connectionListsOthers) {
      return rewriteResponseHead(src, headEnd, head, responseFields, close, bodyStart, bodyLength);
    }
    const reason = head.reasonStart < head.lineEnd ? latin1(src, head.reasonStart, head.lineEnd) : '';
    const text = forwardedResponseHead(head.status, reason, responseFields.strings(src), head.framing.kind === 'chunked', close);
    const out = Buffer.allocUnsafe(text.length + bodyLength);
    out.write(text, 0, 'latin1');
    if (bodyLength > 0) src.copy(out, text.length, bodyStart, bodyStart + bodyLength);
    return out;
  }

  #startResponse(head: StatusLine, buf: Buffer, headEnd: number, repeated: boolean): void {
    const framing = head.framing;
    if (this.#ctx.proxy.onRequest) this.#upstreamMs = performance.now() - this.#attemptStarted;
    this.#status = head.status;
    this.#framing = framing;
    this.#upstreamKeepAlive = head.keepAlive;
    this.#phase = Phase.body;
    this.deadline = this.#ctx.clock.now + this.#ctx.responseTimeoutMs;
    if (framing.kind === 'length') this.#remaining = framing.length;
    else if (framing.kind === 'chunked') this.#scanner = new ChunkedScanner();
    const client = this.#client;
    // Close after this response: a close-delimited body, stopping, or an answer that came before the whole request
    // body did (what is left of it cannot be told from a next request).
    if (framing.kind === 'close' || this.#ctx.proxy.stopping() || !this.requestSent) client.closeAfterResponse = true;
    const bodyStart = headEnd + 4;
    const n = this.#bodyBytes(buf, bodyStart); // none yet when the head ends the read
    if (n < 0) return;
    const close = client.closeAfterResponse;
    if (n <= COALESCE_LIMIT) this.#toClient(this.#responseOut(head, buf, headEnd, close, bodyStart, n, repeated));
    else {
      const socket = client.socket;
      socket.cork();
      socket.write(this.#responseOut(head, buf, headEnd, close, 0, 0, repeated));
      this.#bodyToClient(buf.subarray(bodyStart, bodyStart + n));
      socket.uncork();
    }
    if (this.#phase === Phase.done) this.#finish();
  }

  /**
   * How many bytes of buf (from `start`) belong to the response body; moves to `done` at its end. Bytes past the
   * end mean the upstream sent more than one response: the connection is not reused. -1: malformed (handled).
   */
  #bodyBytes(buf: Buffer, start: number): number {
    const available = buf.length - start;
    const framing = this.#framing;
    let n = available;
    if (framing.kind === 'none') {
      n = 0;
      this.#phase = Phase.done;
    } else if (framing.kind === 'length') {
      n = Math.min(available, this.#remaining);
      this.#remaining -= n;
      if (this.#remaining === 0) this.#phase = Phase.done;
    } else if (framing.kind === 'chunked') {
      const end = this.#scanner!.scan(buf, start, buf.length);
      if (end === -2) {
        this.#brokeOff(upstreamError(`malformed chunked body: ${this.#scanner!.error}`, 'ERR_UPSTREAM_FRAMING'));
        return -1;
      }
      if (end >= 0) {
        n = end - start;
        this.#phase = Phase.done;
      }
    }
    if (n < available && this.#phase === Phase.done) this.#poisoned = true;
    return n;
  }

  /** A method, not an inline test: after a `#phase !== Phase.body` check TypeScript would not see #bodyBytes move it. */
  #isDone(): boolean {
    return this.#phase === Phase.done;
  }

  /** Body bytes still in the upstream pool's shared read buffer: a copy goes out, as a write may be queued. */
  #bodyToClient(view: Buffer): void {
    this.#toClient(Buffer.from(view));
  }

  #toClient(data: Buffer): void {
    const socket = this.#client.socket;
    if (!socket.write(data)) this.#upstream?.socket.pause();
  }

  upstreamEnded(): void {
    if (this.#over) return;
    if (this.#phase === Phase.body && this.#framing.kind === 'close') {
      this.#phase = Phase.done;
      return this.#finish();
    }
    this.upstreamFailed(upstreamError('upstream closed the connection', 'UND_ERR_SOCKET'));
  }

  upstreamFailed(error: Error): void {
    if (this.#over) return;
    const conn = this.#dropUpstream();
    if (this.#phase !== Phase.head) return this.#brokeOff(error);
    if (
      conn !== undefined &&
      conn.reuses > 0 &&
      this.#responseBytes === 0 &&
      this.#contentLength === 0 &&
      IDEMPOTENT.has(this.#method) &&
      !this.#freshRetryDone
    ) {
      // The endpoint closed this idle connection as we reused it: send once more on a fresh one.
      this.#freshRetryDone = true;
      this.requestSent = false;
      this.deadline = 0;
      const ep = this.#endpoint!;
      return this.#open(ep, endpointKey(ep));
    }
    this.#fail(error);
  }

  /** Close the connection in use (it is out of step or no longer wanted); returns it, already destroyed. */
  #dropUpstream(): UpstreamConnection | undefined {
    const conn = this.#upstream;
    this.#upstream = undefined;
    conn?.destroy();
    return conn;
  }

  #badResponse(reason: string): void {
    this.#dropUpstream();
    this.#fail(upstreamError(`unusable upstream response: ${reason}`, 'ERR_UPSTREAM_RESPONSE'));
  }

  /** The response is partly out: all that is left is to cut the client so it sees a truncated answer. */
  #brokeOff(error: Error): void {
    this.#ctx.proxy.logger.warn(
      { endpoint: this.#endpointName(), error: describeError(error) },
      'ingress: upstream response broke off',
    );
    this.#over = true;
    this.#dropUpstream();
    this.#record();
    this.#client.socket.destroy();
  }

  /** No response head yet: answer 502 or 504 ourselves. */
  #fail(error: unknown): void {
    const code = errorCode(error);
    const timeout = TIMEOUT_ERRORS.has(code ?? '');
    this.#ctx.proxy.logger.warn(
      { host: this.#host, path: this.#target, backend: this.#backend, endpoint: this.#endpointName(), error: describeError(error) },
      `ingress: upstream ${timeout ? 'timed out' : 'failed'}`,
    );
    this.#over = true;
    this.#status = timeout ? 504 : 502;
    this.#record();
    this.#client.respondLocal(this.#status, false);
  }

  /** The whole response went to the client. */
  #finish(): void {
    this.#over = true;
    const conn = this.#upstream;
    this.#upstream = undefined;
    if (conn) {
      const reusable = this.#upstreamKeepAlive && !this.#poisoned && this.requestSent && this.#framing.kind !== 'close';
      if (reusable) this.#ctx.pool.release(conn);
      else conn.destroy();
    }
    if (!this.requestSent) this.#client.closeAfterResponse = true;
    this.#record();
    this.#client.exchangeFinished();
  }

  /** The client went away: stop everything on the upstream side. */
  clientGone(): void {
    if (this.#over) return;
    this.#over = true;
    this.#cancelConnect?.();
    this.#dropUpstream();
    this.#record();
  }

  /** Called by the connections' sweep. */
  checkDeadline(now: number): void {
    if (this.#over || this.deadline === 0 || now < this.deadline) return;
    const timeout = upstreamError('upstream did not answer in time', 'UND_ERR_HEADERS_TIMEOUT');
    this.#dropUpstream();
    if (this.#phase === Phase.head) this.#fail(timeout);
    else this.#brokeOff(timeout);
  }

  #endpointName(): string | undefined {
    return this.#endpoint === undefined ? undefined : endpointKey(this.#endpoint);
  }

  #record(): void {
    const onRequest = this.#ctx.proxy.onRequest;
    if (!onRequest) return;
    onRequest({
      host: this.#host,
      method: this.#method,
      status: this.#status,
      backend: this.#backend,
      upstreamMs: this.#upstreamMs,
      durationMs: performance.now() - this.#started,
      endpoint: this.#endpointName(),
    });
  }
}

/** `head` alone, or a new buffer with `length` body bytes from src[start…] after it. */
const withBody = (head: Buffer, src: Buffer, start: number, length: number): Buffer => {
  if (length === 0) return head;
  const out = Buffer.allocUnsafe(head.length + length);
  head.copy(out, 0);
  src.copy(out, head.length, start, start + length);
  return out;
};

/** Field positions of the response head being forwarded; parse and rewrite run back to back, synchronously. */
const responseFields = new HeadFields(MAX_RESPONSE_FIELDS);
