/**
 * Strict HTTP/1.1 request-head parser for the ingress fast path. It accepts a conservative subset of what llhttp
 * (node:http) accepts and answers `ok: false` for everything else, so the caller hands those requests to node:http.
 * Works on the bytes as read: strings are made only for the method, the target and the Host value; every field's
 * position goes to a HeadFields table, from which the proxy copies the lines it keeps. No regex, no exceptions.
 */
import {
  charClass, CONNECTION_CLOSE, CONNECTION_OTHER, connectionTokens, CR, FIELD_CONNECTION, FIELD_CONTENT_LENGTH,
  FIELD_ERRORS, FIELD_EXPECT, FIELD_HOST, FIELD_HTTP2_SETTINGS, FIELD_PROXY_CONNECTION, FIELD_TRANSFER_ENCODING,
  FIELD_UPGRADE, type FieldLine, HeadFields, type HeadParseResult, latin1, LF, parseContentLength, readFieldLine, SP,
  TARGET, TCHAR,
} from './tokens.ts';

export interface RequestHead {
  readonly method: string;
  /** origin-form only: starts with '/'. */
  readonly target: string;
  /** Flat [name, value, ...] in order; names as sent, values without leading/trailing SP/HTAB. Count = length / 2. */
  readonly rawHeaders: readonly string[];
  /** The single Host header value. */
  readonly host: string;
  /** 0 when absent. */
  readonly contentLength: number;
  /** false when a Connection (or, as in llhttp, Proxy-Connection) header lists `close`. */
  readonly keepAlive: boolean;
}

/** What parseRequestHeadBytes finds besides the field table. */
export interface RequestLine {
  readonly method: string;
  readonly target: string;
  readonly host: string;
  readonly contentLength: number;
  readonly keepAlive: boolean;
  /** Index of the CR ending the request line (the head's length when it has no field: never, Host is required). */
  readonly lineEnd: number;
  /** A Connection header names a header other than close/keep-alive (it must be dropped at this hop too). */
  readonly connectionListsOthers: boolean;
}

export type RequestHeadResult = HeadParseResult<RequestHead>;

export type RequestLineResult = HeadParseResult<RequestLine>;

/** More fields than this → hand off. */
export const MAX_REQUEST_FIELDS = 100;

/**
 * Methods llhttp knows (node's http.METHODS) minus CONNECT, whose target is authority-form. llhttp answers 400 to
 * any other method, so handing those off keeps behaviour identical.
 */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'ACL', 'BIND', 'CHECKOUT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE', 'MKACTIVITY',
  'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT',
  'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE',
]);

const handOff = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

// Scratch for readFieldLine; safe to share because parsing is synchronous.
const field: FieldLine = { nameStart: 0, nameEnd: 0, valueStart: 0, valueEnd: 0, lineEnd: 0, kind: 0 };

/** `HTTP/1.1` at src[i]. */
const isHttp11 = (src: Buffer, i: number): boolean =>
  src[i] === 0x48 && src[i + 1] === 0x54 && src[i + 2] === 0x54 && src[i + 3] === 0x50 && src[i + 4] === 0x2f &&
  src[i + 5] === 0x31 && src[i + 6] === 0x2e && src[i + 7] === 0x31;

/**
 * `src[0, length)`: the head as read, without the final blank line (request-line CRLF field-line CRLF ...
 * field-line). Field positions go to `fields` (reset here).
 */
export function parseRequestHeadBytes(src: Buffer, length: number, fields: HeadFields): RequestLineResult {
  fields.count = 0;
  // method SP
  let method: string;
  let i: number;
  if (src[0] === 0x47 && src[1] === 0x45 && src[2] === 0x54 && src[3] === SP) {
    method = 'GET';
    i = 4;
  } else {
    i = 0;
    while (i < length && (charClass[src[i]!]! & TCHAR) !== 0) i++;
    if (i === 0 || i >= length || src[i] !== SP) return handOff('method');
    method = latin1(src, 0, i);
    if (!KNOWN_METHODS.has(method)) return handOff('method');
    i++;
  }

  // origin-form target SP
  const targetStart = i;
  if (i >= length || src[i] !== 0x2f /* / */) return handOff('target');
  while (i < length && (charClass[src[i]!]! & TARGET) !== 0) i++;
  if (i >= length || src[i] !== SP) return handOff('target');
  const target = latin1(src, targetStart, i);
  i++;

  // HTTP/1.1 (CRLF | end)
  if (i + 8 > length || !isHttp11(src, i)) return handOff('version');
  i += 8;
  const lineEnd = i;
  if (i < length) {
    if (src[i] !== CR || i + 1 >= length || src[i + 1] !== LF) {
      const c = src[i];
      return handOff(c === CR || c === LF ? 'line ending' : 'version');
    }
    i += 2;
    if (i >= length) return handOff('empty line');
  }

  let hostStart = -1;
  let hostEnd = -1;
  let contentLength = -1;
  let keepAlive = true;
  let connectionListsOthers = false;
  while (i < length) {
    const next = readFieldLine(src, i, length, field);
    if (next < 0) return handOff(FIELD_ERRORS[-next - 1]!);
    if (fields.count >= MAX_REQUEST_FIELDS) return handOff('too many headers');
    fields.push(field);
    switch (field.kind) {
      case FIELD_HOST:
        if (hostStart !== -1) return handOff('host');
        hostStart = field.valueStart;
        hostEnd = field.valueEnd;
        break;
      case FIELD_CONTENT_LENGTH:
        // llhttp rejects a repeated Content-Length and a list in one, even when all values agree.
        if (contentLength !== -1) return handOff('content-length');
        contentLength = parseContentLength(src, field.valueStart, field.valueEnd);
        if (contentLength < 0) return handOff('content-length');
        break;
      case FIELD_CONNECTION:
      case FIELD_PROXY_CONNECTION: {
        // llhttp (so node:http) closes on either; do the same
        const tokens = connectionTokens(src, field.valueStart, field.valueEnd);
        if ((tokens & CONNECTION_CLOSE) !== 0) keepAlive = false;
        if ((tokens & CONNECTION_OTHER) !== 0 && field.kind === FIELD_CONNECTION) connectionListsOthers = true;
        break;
      }
      case FIELD_TRANSFER_ENCODING: return handOff('transfer-encoding');
      case FIELD_UPGRADE: return handOff('upgrade');
      case FIELD_EXPECT: return handOff('expect');
      case FIELD_HTTP2_SETTINGS: return handOff('http2-settings');
    }
    i = next;
  }
  if (hostStart === -1) return handOff('host');
  return {
    ok: true,
    head: {
      method,
      target,
      host: latin1(src, hostStart, hostEnd),
      contentLength: contentLength === -1 ? 0 : contentLength,
      keepAlive,
      lineEnd,
      connectionListsOthers,
    },
  };
}

const scratchFields = new HeadFields(MAX_REQUEST_FIELDS);

/**
 * The same parse from a latin1 string (tests, and callers that hold text). A char above 0xFF cannot be a byte
 * of a head: it is read as DEL, which every rule rejects where it stands.
 */
export function parseRequestHead(text: string): RequestHeadResult {
  const src = Buffer.from(text.replace(/[^\x00-\xff]/g, '\x7f'), 'latin1');
  const parsed = parseRequestHeadBytes(src, src.length, scratchFields);
  if (!parsed.ok) return parsed;
  const { method, target, host, contentLength, keepAlive } = parsed.head;
  return { ok: true, head: { method, target, rawHeaders: scratchFields.strings(src), host, contentLength, keepAlive } };
}
