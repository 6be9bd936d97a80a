/**
 * Header rewriting between client and upstream.
 *
 * Stripped both ways (hop-by-hop, RFC 9110 §7.6.1): Connection and every header it names, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade (re-added for WebSocket), plus:
 * - Proxy-Authorization / Proxy-Authenticate: credentials for *this* proxy; we authenticate nobody, and
 *   forwarding them would leak a client's proxy credentials to every backend.
 * - Proxy: never meaningful in a request, and the "httpoxy" vector for CGI-style backends.
 * - Expect: the listener answers `100-continue` itself, so the backend must not wait for it again.
 * Set: X-Forwarded-For (appended), X-Forwarded-Proto/-Host/-Port and X-Real-IP (replaced: we terminate the
 * connection, so only our view is true), X-Request-ID (kept when sane, generated otherwise).
 * Host and Content-Length pass unchanged.
 */
const ALWAYS_HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy',
  'http2-settings',
]);

const REPLACED_REQUEST_HEADERS = new Set([
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'x-request-id',
]);

/** Header names listed in Connection headers (lower-cased). */
const connectionTokens = (values: readonly string[]): Set<string> => {
  const tokens = new Set<string>();
  for (const v of values) for (const t of v.split(',')) if (t.trim()) tokens.add(t.trim().toLowerCase());
  return tokens;
};

const SANE_REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

export interface ForwardContext {
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  readonly listenerPort: number;
  /** Generates an id when the client sent none (or an unusable one). */
  readonly newRequestId: () => string;
  /** For a WebSocket handshake: keep `Connection: Upgrade` / `Upgrade: websocket`. */
  readonly upgrade?: string;
}

export interface ForwardedRequestHeaders {
  /** Flat [name, value, name, value, …], as undici and raw writes take them. */
  readonly headers: string[];
  readonly requestId: string;
}

/** Request headers for the upstream, from the client's raw header list. */
export const forwardRequestHeaders = (rawHeaders: readonly string[], ctx: ForwardContext): ForwardedRequestHeaders => {
  const connection: string[] = [];
  const forwardedFor: string[] = [];
  let host: string | undefined;
  let requestId: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (name === 'connection') connection.push(value);
    else if (name === 'x-forwarded-for') forwardedFor.push(value);
    else if (name === 'host') host ??= value;
    else if (name === 'x-request-id' && requestId === undefined && SANE_REQUEST_ID.test(value)) requestId = value;
  }
  const listed = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (ALWAYS_HOP_BY_HOP.has(name) || REPLACED_REQUEST_HEADERS.has(name) || listed.has(name)) continue;
    out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  const id = requestId ?? ctx.newRequestId();
  forwardedFor.push(ctx.clientIp);
  out.push('X-Forwarded-For', forwardedFor.map((v) => v.trim()).filter(Boolean).join(', '));
  out.push('X-Forwarded-Proto', ctx.proto);
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  out.push('X-Forwarded-Port', String(ctx.listenerPort));
  out.push('X-Real-IP', ctx.clientIp);
  out.push('X-Request-ID', id);
  if (ctx.upgrade !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', ctx.upgrade);
  return { headers: out, requestId: id };
};

/** Response headers for the client, from undici's parsed (lower-case) header object. */
export const forwardResponseHeaders = (
  upstream: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | string[]> => {
  const connection = upstream['connection'];
  const listed = connectionTokens(connection === undefined ? [] : Array.isArray(connection) ? connection : [connection]);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || ALWAYS_HOP_BY_HOP.has(name) || listed.has(name) || name === 'server') continue;
    out[name] = value;
  }
  out['server'] = SERVER_NAME;
  return out;
};

export const SERVER_NAME = 'switchyard';

/** The client address as the backend should see it (IPv4-mapped IPv6 unwrapped). */
export const clientAddress = (remote: string | undefined): string =>
  remote === undefined ? '' : remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
