/**
 * Byte-exact socket helpers for the ingress fast-path tests: a buffered reader over a socket, an HTTP/1.1 message
 * reader of our own (independent of lib/ingress/http1, so the tests judge the proxy rather than reuse its parser),
 * raw clients, and raw `net` backends that read requests and write whatever bytes a test wants.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

const READ_TIMEOUT_MS = 5_000;

/** The bytes a socket delivered, consumed by reads that wait until enough has arrived (or the peer closed). */
export class ByteStream {
  readonly socket: Duplex;
  #chunks: Buffer[] = [];
  #length = 0;
  #ended = false;
  #closed = false;
  #waiters: Array<() => void> = [];
  /** Resolves when the socket closed (for whatever reason). */
  readonly closed: Promise<void>;

  constructor(socket: Duplex) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.#chunks.push(c);
      this.#length += c.length;
      this.#wake();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#ended = true;
        this.#closed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  /** The peer sent FIN or the socket closed: no more bytes will come. */
  get ended(): boolean {
    return this.#ended;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.#length;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #merged(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  #take(n: number): Buffer {
    const all = this.#merged();
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#length = rest.length;
    return out;
  }

  /** Wait for more bytes or the end; rejects after `timeoutMs` without either. */
  #more(what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        reject(new Error(`timed out waiting for ${what} (${this.#length} bytes buffered)`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(done);
    });
  }

  /** Bytes up to and including `delimiter`. */
  async readUntil(delimiter: string, timeoutMs = READ_TIMEOUT_MS): Promise<Buffer> {
    const d = Buffer.from(delimiter, 'latin1');
    let from = 0;
    for (;;) {
      if (this.#length > 0) {
        const all = this.#merged();
        const i = all.indexOf(d, from);
        if (i !== -1) return this.#take(i + d.length);
        from = Math.max(0, all.length - d.length + 1);
      }
      if (this.#ended) throw new Error(`connection ended before ${JSON.stringify(delimiter)} (${this.#length} bytes left)`);
      await this.#more(JSON.stringify(delimiter), timeoutMs);
    }
  }

  async readExact(n: number, timeoutMs = READ_TIMEOUT_MS): Promise<Buffer> {
    while (this.#length < n) {
      if (this.#ended) throw new Error(`connection ended after ${this.#length} of ${n} bytes`);
      await this.#more(`${n} bytes`, timeoutMs);
    }
    return this.#take(n);
  }

  /** Everything until the peer's FIN (or close). */
  async readToEnd(timeoutMs = READ_TIMEOUT_MS): Promise<Buffer> {
    while (!this.#ended) await this.#more('the end of the connection', timeoutMs);
    return this.#take(this.#length);
  }

  /** Resolves true when the peer ends the connection within `ms`, false otherwise (nothing consumed). */
  async endsWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.#ended) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      try {
        await this.#more('end', left);
      } catch {
        return this.#ended;
      }
    }
    return true;
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }
}

export interface ParsedHead {
  /** Request: method target version. Response: version status reason. */
  readonly startLine: string;
  /** Lower-cased names; repeated fields joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
  /** The head bytes exactly as received, blank line included. */
  readonly raw: string;
}

const parseHead = (raw: string): ParsedHead => {
  const lines = raw.slice(0, -4).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { startLine: lines[0]!, headers, raw };
};

export const readHead = async (stream: ByteStream, timeoutMs?: number): Promise<ParsedHead> =>
  parseHead((await stream.readUntil('\r\n\r\n', timeoutMs)).toString('latin1'));

/** A chunked body: the bytes exactly as framed, and the decoded payload. */
export const readChunked = async (stream: ByteStream): Promise<{ raw: Buffer; decoded: Buffer }> => {
  const raw: Buffer[] = [];
  const decoded: Buffer[] = [];
  for (;;) {
    const sizeLine = await stream.readUntil('\r\n');
    raw.push(sizeLine);
    const size = Number.parseInt(sizeLine.toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size)) throw new Error(`bad chunk size line ${JSON.stringify(sizeLine.toString('latin1'))}`);
    if (size === 0) {
      for (;;) {
        const trailer = await stream.readUntil('\r\n');
        raw.push(trailer);
        if (trailer.length === 2) return { raw: Buffer.concat(raw), decoded: Buffer.concat(decoded) };
      }
    }
    const data = await stream.readExact(size + 2);
    raw.push(data);
    decoded.push(data.subarray(0, size));
  }
};

export interface RawResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawHead: string;
  /** The body bytes as received (chunk framing included when chunked). */
  readonly body: Buffer;
  /** The payload (chunk framing removed). */
  readonly payload: Buffer;
  readonly framing: 'none' | 'length' | 'chunked' | 'close';
}

/**
 * Read one response (an interim 1xx one too: it has no body). `method`: the request's method (HEAD has no body).
 */
export const readResponse = async (stream: ByteStream, method = 'GET', timeoutMs?: number): Promise<RawResponse> => {
  const head = await readHead(stream, timeoutMs);
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(head.startLine);
  if (!m) throw new Error(`bad status line ${JSON.stringify(head.startLine)}`);
  const status = Number(m[1]);
  const base = { status, reason: m[2]!, headers: head.headers, rawHead: head.raw };
  const te = head.headers['transfer-encoding'];
  const cl = head.headers['content-length'];
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) {
    return { ...base, body: Buffer.alloc(0), payload: Buffer.alloc(0), framing: 'none' };
  }
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') throw new Error(`unexpected transfer-encoding ${te}`);
    const { raw, decoded } = await readChunked(stream);
    return { ...base, body: raw, payload: decoded, framing: 'chunked' };
  }
  if (cl !== undefined) {
    const body = await stream.readExact(Number(cl));
    return { ...base, body, payload: body, framing: 'length' };
  }
  const body = await stream.readToEnd();
  return { ...base, body, payload: body, framing: 'close' };
};

export interface RawRequest {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawHead: string;
  /** Decoded body (Content-Length or chunked). */
  readonly body: Buffer;
}

export const readRequest = async (stream: ByteStream, timeoutMs?: number): Promise<RawRequest> => {
  const head = await readHead(stream, timeoutMs);
  const [method, target, version] = head.startLine.split(' ');
  if (!method || !target || !version) throw new Error(`bad request line ${JSON.stringify(head.startLine)}`);
  let body: Buffer = Buffer.alloc(0);
  if (head.headers['transfer-encoding']?.toLowerCase() === 'chunked') body = (await readChunked(stream)).decoded;
  else if (head.headers['content-length'] !== undefined) body = await stream.readExact(Number(head.headers['content-length']));
  return { method, target, version, headers: head.headers, rawHead: head.raw, body };
};

/** A plain TCP client connection to 127.0.0.1:port. */
export const rawClient = (port: number): Promise<ByteStream> =>
  new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: '127.0.0.1', port, noDelay: true }, () => {
      socket.off('error', reject);
      resolve(new ByteStream(socket));
    });
    socket.once('error', reject);
  });

/** A TLS client connection (certificate not checked: the proxy's default one is self-signed). */
export const tlsClient = (port: number, servername?: string): Promise<ByteStream> =>
  new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect(
      { host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(servername ? { servername } : {}) },
      () => {
        socket.off('error', reject);
        resolve(new ByteStream(socket));
      },
    );
    socket.once('error', reject);
  });

/** `GET path HTTP/1.1` with a Host header (and any extra header lines). */
export const get = (path: string, host = 'fast.test', extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;

/** One connection accepted by a raw backend. */
export interface RawUpstream {
  readonly stream: ByteStream;
  /** 0 for the backend's first connection, 1 for the second… */
  readonly index: number;
  /** Requests read on this connection before the current one. */
  served: number;
}

export type RawHandler = (request: RawRequest, conn: RawUpstream) => void | Promise<void>;

export interface RawBackend {
  readonly port: number;
  /** Every connection accepted so far, in order. */
  readonly connections: readonly RawUpstream[];
  /** Every request read so far, in order. */
  readonly requests: readonly RawRequest[];
  close(): Promise<void>;
}

/**
 * A `net` server on 127.0.0.1:0 that reads requests one after another on each connection and lets `handler`
 * write the exact response bytes (or close, or stay silent). The loop ends when the connection does.
 */
export const startRawBackend = async (handler: RawHandler): Promise<RawBackend> => {
  const connections: RawUpstream[] = [];
  const requests: RawRequest[] = [];
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const conn: RawUpstream = { stream: new ByteStream(socket), index: connections.length, served: 0 };
    connections.push(conn);
    void (async () => {
      try {
        for (;;) {
          const request = await readRequest(conn.stream, 60_000);
          requests.push(request);
          await handler(request, conn);
          conn.served++;
          if (socket.destroyed || socket.writableEnded) return;
        }
      } catch {
        socket.destroy();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.stream.socket.destroy();
        server.close(() => resolve());
      }),
  };
};

/** A response with a Content-Length body. */
export const okResponse = (body: string | Buffer, extra = ''): Buffer => {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\n${extra}\r\n`, 'latin1'), b]);
};
