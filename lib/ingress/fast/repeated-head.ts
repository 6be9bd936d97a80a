/**
 * Memory of the last head seen on a connection, so that a byte-identical repeat skips parsing and rewriting.
 */

/**
 * The last request head a client connection forwarded. Keep-alive clients very often send the very same head
 * again (pollers, health checks, API clients, load generators); a byte-identical head then skips parsing, routing
 * (while the route table is the same object) and the header rewrite. Only the X-Request-ID changes: a fresh id is
 * written into a copy of the rewritten head — or, when the client sent its own id, the same bytes go out again.
 */
import type { RequestLine } from '../http1/request-head.ts';
import type { StatusLine } from '../http1/response-head.ts';
import type { RouteMatch } from '../router.ts';
import type { RouteTable } from '../types.ts';
import { writeRequestId } from '../request-id.ts';

/** src[0, headEnd) is byte for byte `remembered`. */
const sameHead = (remembered: Buffer | undefined, src: Buffer, headEnd: number): boolean =>
  remembered !== undefined && remembered.length === headEnd && src.compare(remembered, 0, headEnd, 0, headEnd) === 0;

export class RepeatedHead {
  #bytes: Buffer | undefined;
  #line: RequestLine | undefined;
  #table: RouteTable | undefined;
  #match: RouteMatch | undefined;
  #upstream: Buffer | undefined;
  /** Where the generated request id sits in #upstream; -1 when the client's own id is forwarded. */
  #idOffset = -1;

  /**
   * The remembered parse when src[0, headEnd) is byte for byte the remembered head and `table` is still the
   * route table it was routed with; then match() and upstreamHead() hold for this request too.
   */
  lineFor(src: Buffer, headEnd: number, table: RouteTable): RequestLine | undefined {
    return table === this.#table && sameHead(this.#bytes, src, headEnd) ? this.#line : undefined;
  }

  /** The remembered route (after lineFor matched). */
  match(): RouteMatch {
    return this.#match!;
  }

  /** The rewritten head for a repeat (after lineFor matched), with a fresh request id where one was generated. */
  upstreamHead(): Buffer {
    const upstream = this.#upstream!;
    if (this.#idOffset === -1) return upstream;
    const out = Buffer.allocUnsafe(upstream.length);
    upstream.copy(out, 0);
    writeRequestId(out, this.#idOffset);
    return out;
  }

  /** Remember a head that was just parsed, routed and rewritten (its bytes are copied). */
  remember(
    src: Buffer,
    headEnd: number,
    line: RequestLine,
    table: RouteTable,
    match: RouteMatch,
    upstream: Buffer,
    idOffset: number,
  ): void {
    this.#bytes = Buffer.from(src.subarray(0, headEnd));
    this.#line = line;
    this.#table = table;
    this.#match = match;
    this.#upstream = upstream;
    this.#idOffset = idOffset;
  }

  /** A head that must not be repeated from memory (the general rewrite handled it). */
  forget(): void {
    this.#bytes = undefined;
    this.#line = undefined;
    this.#table = undefined;
    this.#match = undefined;
    this.#upstream = undefined;
  }
}

/**
 * The last response head an upstream connection sent, and its rewrite for the client. Within a second (the Date
 * header's resolution) an endpoint answering the same resource sends the very same head again; it then skips
 * parsing and the rewrite. Only the keep-alive variant (no `connection: close`) is remembered.
 */
export class RepeatedResponseHead {
  #bytes: Buffer | undefined;
  #method = '';
  #line: StatusLine | undefined;
  #head: Buffer | undefined;

  /** The remembered parse when src[0, headEnd) is byte for byte the remembered head, for the same method. */
  lineFor(src: Buffer, headEnd: number, method: string): StatusLine | undefined {
    return method === this.#method && sameHead(this.#bytes, src, headEnd) ? this.#line : undefined;
  }

  /** The remembered rewrite (after lineFor matched); shared and never written to. */
  head(): Buffer {
    return this.#head!;
  }

  remember(src: Buffer, headEnd: number, method: string, line: StatusLine, head: Buffer): void {
    this.#bytes = Buffer.from(src.subarray(0, headEnd));
    this.#method = method;
    this.#line = line;
    this.#head = head;
  }
}
