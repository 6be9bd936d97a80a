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

const MOOT_CONNECTION_VALUE = /^\s*keep-alive\s*$/i;

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

/** Connection-listed names that are not dropped anyway (`keep-alive` and the like are common and moot). */
const extraConnectionTokens = (connection: string): Set<string> | undefined => {
  let extra: Set<string> | undefined;
  for (const t of connectionTokens([connection])) {
    if (!ALWAYS_HOP_BY_HOP.has(t) && !REPLACED_REQUEST_HEADERS.has(t)) (extra ??= new Set()).add(t);
  }
  return extra;
};

/**
 * Request headers for the upstream, from the client's raw header list. One pass over the headers; a second
 * one only when Connection names a header that is not dropped anyway (rare).
 */
export const forwardRequestHeaders = (rawHeaders: readonly string[], ctx: ForwardContext): ForwardedRequestHeaders => {
  const out: string[] = [];
  let connection: string | undefined;
  let forwardedFor = '';
  let host: string | undefined;
  let requestId: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const name = raw.toLowerCase();
    if (ALWAYS_HOP_BY_HOP.has(name)) {
      if (name === 'connection') connection = connection === undefined ? value : `${connection},${value}`;
      continue;
    }
    if (REPLACED_REQUEST_HEADERS.has(name)) {
      if (name === 'x-forwarded-for') {
        const v = value.trim();
        if (v) forwardedFor = forwardedFor ? `${forwardedFor}, ${v}` : v;
      } else if (name === 'x-request-id' && requestId === undefined && SANE_REQUEST_ID.test(value)) requestId = value;
      continue;
    }
    if (name === 'host') host ??= value;
    out.push(raw, value);
  }
  const listed = connection === undefined ? undefined : extraConnectionTokens(connection);
  const kept = listed ? withoutListed(out, listed) : out;
  const id = requestId ?? ctx.newRequestId();
  kept.push(
    'X-Forwarded-For',
    ctx.clientIp ? (forwardedFor ? `${forwardedFor}, ${ctx.clientIp}` : ctx.clientIp) : forwardedFor,
    'X-Forwarded-Proto',
    ctx.proto,
  );
  if (host !== undefined) kept.push('X-Forwarded-Host', host);
  kept.push('X-Forwarded-Port', String(ctx.listenerPort), 'X-Real-IP', ctx.clientIp, 'X-Request-ID', id);
  if (ctx.upgrade !== undefined) kept.push('Connection', 'Upgrade', 'Upgrade', ctx.upgrade);
  return { headers: kept, requestId: id };
};

const withoutListed = (flat: readonly string[], listed: ReadonlySet<string>): string[] => {
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) if (!listed.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  return out;
};

/**
 * Response headers for the client, from undici's parsed (lower-case) header object, as the flat
 * [name, value, …] list `res.writeHead` takes (no intermediate object).
 */
export const forwardResponseHeaders = (
  upstream: Readonly<Record<string, string | string[] | undefined>>,
): Array<string | string[]> => {
  const connection = upstream['connection'];
  // `keep-alive` names a header dropped anyway: skip building a token set for the usual answer.
  const listed =
    connection === undefined || (typeof connection === 'string' && MOOT_CONNECTION_VALUE.test(connection))
      ? undefined
      : connectionTokens(Array.isArray(connection) ? connection : [connection]);
  const out: Array<string | string[]> = [];
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || ALWAYS_HOP_BY_HOP.has(name) || name === 'server' || listed?.has(name)) continue;
    out.push(name, value);
  }
  out.push('server', SERVER_NAME);
  return out;
};

export const SERVER_NAME = 'switchyard';

/** The client address as the backend should see it (IPv4-mapped IPv6 unwrapped). */
export const clientAddress = (remote: string | undefined): string =>
  remote === undefined ? '' : remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;

/**
 * The response head for the client on the fast path (raw sockets), from the upstream's raw header list: the same
 * stripping as forwardResponseHeaders, names kept as the upstream sent them. `chunked`: the body is forwarded in
 * its chunked framing, so Transfer-Encoding is re-added and any Content-Length dropped (RFC 9112 §6.3: a sender
 * must not send both). `close`: this is the connection's last response.
 */
export const forwardedResponseHead = (
  status: number,
  reason: string,
  rawHeaders: readonly string[],
  chunked: boolean,
  close: boolean,
): string => {
  const connection: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const value = rawHeaders[i + 1]!;
    if (rawHeaders[i]!.toLowerCase() === 'connection' && !MOOT_CONNECTION_VALUE.test(value)) connection.push(value);
  }
  const listed = connection.length > 0 ? connectionTokens(connection) : undefined;
  let out = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i]!;
    const name = raw.toLowerCase();
    if (ALWAYS_HOP_BY_HOP.has(name) || name === 'server' || listed?.has(name)) continue;
    if (chunked && name === 'content-length') continue;
    out += `${raw}: ${rawHeaders[i + 1]!}\r\n`;
  }
  if (chunked) out += 'transfer-encoding: chunked\r\n';
  out += close ? `server: ${SERVER_NAME}\r\nconnection: close\r\n\r\n` : `server: ${SERVER_NAME}\r\n\r\n`;
  return out;
};

/** A request head for the upstream from a flat header list (as forwardRequestHeaders returns). */
export const requestHeadText = (method: string, target: string, flat: readonly string[]): string => {
  let out = `${method} ${target} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < flat.length; i += 2) out += `${flat[i]!}: ${flat[i + 1]!}\r\n`;
  return `${out}\r\n`;
};
