/**
 * One client connection on the fast path. It reads request heads off the socket, parses them with the strict
 * subset parser (lib/ingress/http1), routes and forwards them one at a time (pipelined requests wait in the
 * buffer), and streams Content-Length bodies to the upstream with backpressure.
 *
 * Anything the subset parser does not accept — chunked request bodies, Expect, Upgrade (WebSocket), HTTP/1.0,
 * absolute-form targets, oversized heads, and every malformed request — is handed over, between two requests
 * and with the bytes already read, to the node:http server, which keeps the connection from then on. So llhttp
 * stays the judge of what is valid, and the fast path only ever handles requests it understands exactly.
 */
import type { Socket } from 'node:net';
import { clientAddress, forwardRequestHeaders, requestHeadText } from '../headers.ts';
import { MAX_REQUEST_FIELDS, parseRequestHeadBytes, type RequestLine } from '../http1/request-head.ts';
import { HeadFields } from '../http1/tokens.ts';
import { forwardedLines, rewriteRequestHead, type ForwardedLines } from './head-rewrite.ts';
import { RepeatedHead } from './repeated-head.ts';
import { newRequestId, REQUEST_ID_LENGTH } from '../request-id.ts';
import { matchRoute } from '../router.ts';
import { CRLFCRLF, type FastContext } from './context.ts';
import { ForwardExchange, type ExchangeClient } from './forward-exchange.ts';
import { localResponseText } from './local-response.ts';

/** Body bytes of a locally answered request read and dropped to keep the connection; a longer body closes it. */
const DISCARD_LIMIT = 64 * 1024;
/** Bytes buffered beyond the request in flight (pipelined requests, early body) before reading pauses. */
const BUFFER_LIMIT = 256 * 1024;

const BodyMode = { none: 0, buffer: 1, forward: 2, discard: 3 } as const;
type BodyModeValue = (typeof BodyMode)[keyof typeof BodyMode];

export class ClientConnection implements ExchangeClient {
  readonly socket: Socket;
  readonly #ctx: FastContext;
  readonly #clientIp: string;
  /** The X-Forwarded-* lines that depend only on this connection (built on its first forwarded request). */
  #forwarded: ForwardedLines | undefined;
  /** The last head forwarded, for clients that send the same one again (created on the first forward). */
  #repeated: RepeatedHead | undefined;
  #pending: Buffer | undefined;
  /** Where the next search for the end of the head starts (the bytes before were searched already). */
  #scanFrom = 0;
  #exchange: ForwardExchange | undefined;
  #bodyRemaining = 0;
  #bodyMode: BodyModeValue = BodyMode.none;
  closeAfterResponse = false;
  #pausedForUpstream = false;
  #pausedForBuffer = false;
  #closed = false;
  /** clock.now when the server began to drain (the listener ticks the clock first, so it is exact). */
  #drainingSince: number | undefined;
  /**
   * performance.now() of the last read or of the end of the last answer, read precisely (not the coarse clock):
   * the keep-alive timeout counts from here and must never be cut short, and a sweep timer that fires late (a busy
   * event loop) would leave a coarse stamp older than the read by more than any fixed allowance.
   */
  #lastActivity: number;
  /** When we ended our side; a peer that never closes its side is destroyed HALF_CLOSED_LINGER_MS later. */
  #closedAt = 0;
  #headSince = 0;

  constructor(socket: Socket, ctx: FastContext) {
    this.socket = socket;
    this.#ctx = ctx;
    this.#clientIp = clientAddress(socket.remoteAddress);
    this.#lastActivity = ctx.clock.now;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', noop);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
  }

  get idle(): boolean {
    return this.#exchange === undefined && this.#pending === undefined && this.#bodyMode === BodyMode.none;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#lastActivity = performance.now();
    if (this.#bodyRemaining > 0 && this.#bodyMode !== BodyMode.buffer) {
      const n = Math.min(chunk.length, this.#bodyRemaining);
      this.#bodyRemaining -= n;
      if (this.#bodyMode === BodyMode.forward) {
        this.#exchange?.requestBody(n === chunk.length ? chunk : chunk.subarray(0, n), this.#bodyRemaining === 0);
      }
      if (this.#bodyRemaining === 0) this.#bodyMode = BodyMode.none;
      if (n === chunk.length) {
        if (this.#exchange === undefined && this.#bodyMode === BodyMode.none) this.#next();
        return;
      }
      chunk = chunk.subarray(n);
    }
    if (this.#pending === undefined) {
      this.#pending = chunk;
      if (this.#exchange === undefined) this.#headSince = this.#lastActivity;
    } else this.#pending = Buffer.concat([this.#pending, chunk]);
    if (this.#exchange === undefined && this.#bodyMode === BodyMode.none) this.#readHead();
    else if (this.#pending !== undefined && this.#pending.length > BUFFER_LIMIT && !this.#pausedForBuffer) {
      this.#pausedForBuffer = true;
      this.socket.pause();
    }
  };

  readonly #onEnd = (): void => {
    // Half-close from the client: what is in flight and complete requests already buffered are still answered
    // (#next and #readHead close once nothing answerable is left).
    if (this.#exchange === undefined && this.#bodyMode === BodyMode.none) this.#finishConnection();
  };

  readonly #onClose = (): void => {
    this.#closed = true;
    this.#exchange?.clientGone();
    this.#exchange = undefined;
    this.#pending = undefined;
    this.#ctx.forget(this);
  };

  readonly #onDrain = (): void => {
    this.#exchange?.clientDrained();
  };

  /**
   * Start the buffered requests whose heads are complete, one after another while they are answered locally
   * (a loop, not recursion: a client may pipeline thousands of 404s), until one goes upstream.
   */
  #readHead(): void {
    while (this.#exchange === undefined && this.#bodyMode === BodyMode.none && !this.#closed) {
      const buf = this.#pending;
      if (buf === undefined) return;
      const end = buf.indexOf(CRLFCRLF, this.#scanFrom > 3 ? this.#scanFrom - 3 : 0);
      if (end === -1) {
        // A head ending in bare LFs never shows CRLFCRLF: any bare LF already means node:http must judge it.
        if (buf.length > this.#ctx.maxHeaderSize) return this.#handoff('head too large');
        if (hasBareLf(buf, this.#scanFrom)) return this.#handoff('line ending');
        // A client that half-closed in the middle of a head will never finish it.
        if (this.socket.readableEnded) return this.#finishConnection();
        this.#scanFrom = buf.length;
        return;
      }
      if (end > this.#ctx.maxHeaderSize) return this.#handoff('head too large');
      let line = this.#repeated?.lineFor(buf, end, this.#ctx.proxy.table());
      const repeated = line !== undefined;
      if (line === undefined) {
        const parsed = parseRequestHeadBytes(buf, end, requestFields);
        if (!parsed.ok) return this.#handoff(parsed.reason);
        line = parsed.head;
      }
      this.#scanFrom = 0;
      this.#pending = end + 4 < buf.length ? buf.subarray(end + 4) : undefined;
      this.#headSince = this.#pending === undefined ? 0 : this.#ctx.clock.now;
      this.#start(line, buf, end, repeated);
    }
  }

  /**
   * `src[0, headEnd)` is the head just parsed into `requestFields` (read synchronously here, before any I/O), or,
   * when `repeated`, a byte-identical repeat of the head this connection forwarded last, under the same table.
   */
  #start(head: RequestLine, src: Buffer, headEnd: number, repeated: boolean): void {
    const ctx = this.#ctx;
    const proxy = ctx.proxy;
    if (!head.keepAlive || proxy.stopping()) this.closeAfterResponse = true;
    this.#bodyRemaining = head.contentLength;
    if (head.contentLength > proxy.maxBodyBytes) {
      // Not reading a large body: answer and close rather than drain it.
      this.closeAfterResponse = true;
      return this.#local(413, head, undefined);
    }
    const table = proxy.table();
    const match = repeated ? this.#repeated!.match() : matchRoute(table, head.host, head.target);
    if (!match) return this.#local(404, head, undefined);
    const backend = match.backend.servicePortKey ?? match.backend.service;
    const candidates = proxy.balancer.candidates(match.backend);
    if (candidates.length === 0) return this.#local(503, head, backend);
    this.#bodyMode = head.contentLength > 0 ? BodyMode.buffer : BodyMode.none;
    let upstreamHead: Buffer;
    if (repeated) upstreamHead = this.#repeated!.upstreamHead();
    else {
      generatedId = false;
      upstreamHead = this.#upstreamHead(head, src, headEnd);
      const repeat = (this.#repeated ??= new RepeatedHead());
      if (head.connectionListsOthers) repeat.forget();
      else {
        const idOffset = generatedId ? upstreamHead.length - 4 - REQUEST_ID_LENGTH : -1;
        repeat.remember(src, headEnd, head, table, match, upstreamHead, idOffset);
      }
    }
    const exchange = new ForwardExchange(ctx, this, head, backend, candidates, upstreamHead);
    this.#exchange = exchange;
    exchange.start();
  }

  /** The rewritten head for the upstream (the general rewrite when Connection names headers to drop). */
  #upstreamHead(head: RequestLine, src: Buffer, headEnd: number): Buffer {
    const ctx = this.#ctx;
    if (head.connectionListsOthers) {
      const headers = forwardRequestHeaders(requestFields.strings(src), {
        clientIp: this.#clientIp,
        proto: ctx.proto,
        listenerPort: ctx.listenerPort(),
        newRequestId,
      }).headers;
      return Buffer.from(requestHeadText(head.method, head.target, headers), 'latin1');
    }
    this.#forwarded ??= forwardedLines(this.#clientIp, ctx.proto, ctx.listenerPort());
    return rewriteRequestHead(src, headEnd, requestFields, this.#forwarded, head.host, generateRequestId);
  }

  /** An answer of our own to a request that did not reach an upstream. */
  #local(status: number, head: RequestLine, backend: string | undefined): void {
    const started = performance.now();
    this.#write(status);
    const onRequest = this.#ctx.proxy.onRequest;
    if (onRequest) {
      onRequest({
        host: head.host,
        method: head.method,
        status,
        backend,
        upstreamMs: undefined,
        durationMs: performance.now() - started,
        endpoint: undefined,
      });
    }
    this.#dropUnreadBody();
  }

  #write(status: number): void {
    const close = this.closeAfterResponse || this.#bodyRemaining > DISCARD_LIMIT;
    if (close) this.closeAfterResponse = true;
    this.socket.write(localResponseText(status, close, new Date().toUTCString()), 'latin1');
  }

  /** After a local answer: close, or drop the unread body (bounded: see #write) before the next request. */
  #dropUnreadBody(): void {
    this.#exchange = undefined;
    this.#lastActivity = performance.now();
    if (this.closeAfterResponse) return this.#finishConnection();
    if (this.#bodyRemaining === 0) return;
    this.#bodyMode = BodyMode.discard;
    this.#takeBufferedBody();
    if (this.#bodyRemaining > 0) this.#resumeBuffer();
    else this.#bodyMode = BodyMode.none;
  }

  /** Up to #bodyRemaining of the buffered bytes, taken out of #pending (what follows stays for the next request). */
  #takeBufferedBody(): Buffer | undefined {
    const buffered = this.#pending;
    if (buffered === undefined) return undefined;
    const n = Math.min(buffered.length, this.#bodyRemaining);
    this.#bodyRemaining -= n;
    this.#pending = n === buffered.length ? undefined : buffered.subarray(n);
    return n === buffered.length ? buffered : buffered.subarray(0, n);
  }

  // ExchangeClient

  takeRequestBody(): Buffer | undefined {
    this.#bodyMode = BodyMode.forward;
    const body = this.#takeBufferedBody();
    if (this.#bodyRemaining === 0) this.#bodyMode = BodyMode.none;
    this.#resumeBuffer();
    return body;
  }

  respondLocal(status: number, close: boolean): void {
    if (close) this.closeAfterResponse = true;
    // Body bytes not forwarded yet are dropped like those of any locally answered request.
    if (this.#bodyMode === BodyMode.buffer || this.#bodyMode === BodyMode.forward) this.#bodyMode = BodyMode.none;
    if (this.#closed) return;
    this.#write(status);
    this.#dropUnreadBody();
    if (this.#bodyMode === BodyMode.none) this.#next();
  }

  exchangeFinished(): void {
    this.#exchange = undefined;
    this.#lastActivity = performance.now();
    if (this.closeAfterResponse || this.#bodyRemaining > 0) return this.#finishConnection();
    this.#next();
  }

  pauseForUpstream(): void {
    if (this.#pausedForUpstream) return;
    this.#pausedForUpstream = true;
    this.socket.pause();
  }

  resumeForUpstream(): void {
    if (!this.#pausedForUpstream) return;
    this.#pausedForUpstream = false;
    if (!this.#pausedForBuffer) this.socket.resume();
  }

  #resumeBuffer(): void {
    if (this.#pausedForBuffer) {
      this.#pausedForBuffer = false;
      if (!this.#pausedForUpstream) this.socket.resume();
    }
  }

  /** Between requests: start the next buffered one, if any. */
  #next(): void {
    this.#resumeBuffer();
    if (this.#pending === undefined) {
      this.#headSince = 0;
      if (this.socket.readableEnded) this.#finishConnection();
      return;
    }
    this.#headSince = this.#ctx.clock.now;
    this.#readHead();
  }

  #finishConnection(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedAt = this.#ctx.clock.now;
    this.#pending = undefined;
    this.socket.end();
  }

  /** Give the connection to node:http, with what was read of the next request. */
  #handoff(reason: string): void {
    const socket = this.socket;
    socket.removeListener('data', this.#onData);
    socket.removeListener('end', this.#onEnd);
    socket.removeListener('error', noop);
    socket.removeListener('close', this.#onClose);
    socket.removeListener('drain', this.#onDrain);
    this.#closed = true;
    const pending = this.#pending;
    this.#pending = undefined;
    this.#ctx.forget(this);
    this.#ctx.handoff(socket, pending, reason);
  }

  /** Timeouts, checked by the listener's periodic sweep rather than a timer per request. */
  sweep(now: number): void {
    if (this.#closed) {
      if (this.#closedAt !== 0 && now - this.#closedAt > Math.min(this.#ctx.keepAliveTimeoutMs, HALF_CLOSED_LINGER_MS)) {
        this.socket.destroy();
      }
      return;
    }
    const ctx = this.#ctx;
    const exchange = this.#exchange;
    if (exchange !== undefined) {
      exchange.checkDeadline(now);
      // A client that stopped sending the body it announced.
      if (!exchange.requestSent && this.#bodyMode === BodyMode.forward && now - this.#lastActivity > ctx.responseTimeoutMs) {
        this.socket.destroy();
      }
      return;
    }
    if (this.#headSince !== 0 && this.#pending !== undefined) {
      if (now - this.#headSince > ctx.headersTimeoutMs) {
        this.closeAfterResponse = true;
        this.socket.write(localResponseText(408, true, new Date().toUTCString()), 'latin1');
        this.#finishConnection();
      }
      return;
    }
    // Draining, the grace counts from the drain's start or a later read or answer, whichever came last.
    if (this.#drainingSince !== undefined) {
      if (now - Math.max(this.#lastActivity, this.#drainingSince) > DRAIN_IDLE_MS) this.#finishConnection();
    } else if (now - this.#lastActivity > ctx.keepAliveTimeoutMs) this.#finishConnection();
  }

  /**
   * Server stopping: the response in flight, or the next one, says `Connection: close`. An idle connection is kept
   * DRAIN_IDLE_MS from here, then closed by the sweep: a client that has just had an answer is likely sending its
   * next request on it right now, which a close would reset.
   */
  drain(): void {
    this.closeAfterResponse = true;
    this.#drainingSince = this.#ctx.clock.now;
  }
}

/** How long a draining server keeps an idle keep-alive connection open for a request already on its way. */
const DRAIN_IDLE_MS = 500;
/** After we ended our side: how long a peer gets to end its own before the socket is destroyed (nginx: 5 s). */
const HALF_CLOSED_LINGER_MS = 5_000;

const noop = (): void => undefined;

/** Set when the rewrite generated the request id (it then ends the head: see rewriteRequestHead). */
let generatedId = false;
const generateRequestId = (): string => {
  generatedId = true;
  return newRequestId();
};

/** Field positions of the request head being started; parse and rewrite run back to back, synchronously. */
const requestFields = new HeadFields(MAX_REQUEST_FIELDS);

const LF = 0x0a;
const CR = 0x0d;

/** An LF not preceded by CR at or after `from`. */
const hasBareLf = (buf: Buffer, from: number): boolean => {
  for (let i = buf.indexOf(LF, from); i !== -1; i = buf.indexOf(LF, i + 1)) if (i === 0 || buf[i - 1] !== CR) return true;
  return false;
};
