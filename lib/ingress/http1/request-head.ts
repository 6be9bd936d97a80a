/**
 * Strict HTTP/1.1 request-head parser for the ingress fast path. It accepts a conservative subset of what llhttp
 * (node:http) accepts and answers `ok: false` for everything else, so the caller hands those requests to node:http.
 * Per-char loops over char codes, no regex, no exceptions.
 */
import {
  charClass, CONNECTION_CLOSE, connectionTokens, CR, FIELD_CONNECTION, FIELD_CONTENT_LENGTH, FIELD_ERRORS,
  FIELD_EXPECT, FIELD_HOST, FIELD_HTTP2_SETTINGS, FIELD_PROXY_CONNECTION, FIELD_TRANSFER_ENCODING, FIELD_UPGRADE, type FieldLine, LF,
  parseContentLength, readFieldLine, SP, TARGET, TCHAR,
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

export type RequestHeadResult =
  | { readonly ok: true; readonly head: RequestHead }
  | { readonly ok: false; readonly reason: string };

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

const HTTP_1_1 = 'HTTP/1.1';

const handOff = (reason: string): RequestHeadResult => ({ ok: false, reason });

// Scratch for readFieldLine; safe to share because parsing is synchronous.
const field: FieldLine = { nameStart: 0, nameEnd: 0, valueStart: 0, valueEnd: 0, kind: 0 };

/** `text`: the head decoded as latin1, without the final blank line (request-line CRLF field-line CRLF ... field-line). */
export function parseRequestHead(text: string): RequestHeadResult {
  const length = text.length;

  // method SP
  let method: string;
  let i: number;
  if (text.startsWith('GET ')) {
    method = 'GET';
    i = 4;
  } else {
    i = 0;
    while (i < length && (charClass[text.charCodeAt(i)]! & TCHAR) !== 0) i++;
    if (i === 0 || i >= length || text.charCodeAt(i) !== SP) return handOff('method');
    method = text.slice(0, i);
    if (!KNOWN_METHODS.has(method)) return handOff('method');
    i++;
  }

  // origin-form target SP
  const targetStart = i;
  if (i >= length || text.charCodeAt(i) !== 0x2f /* / */) return handOff('target');
  while (i < length && (charClass[text.charCodeAt(i)]! & TARGET) !== 0) i++;
  if (i >= length || text.charCodeAt(i) !== SP) return handOff('target');
  const target = text.slice(targetStart, i);
  i++;

  // HTTP/1.1 (CRLF | end)
  if (!text.startsWith(HTTP_1_1, i)) return handOff('version');
  i += HTTP_1_1.length;
  if (i < length) {
    if (text.charCodeAt(i) !== CR || i + 1 >= length || text.charCodeAt(i + 1) !== LF) {
      const c = text.charCodeAt(i);
      return handOff(c === CR || c === LF ? 'line ending' : 'version');
    }
    i += 2;
    if (i >= length) return handOff('empty line');
  }

  const rawHeaders: string[] = [];
  let host: string | undefined;
  let contentLength = -1;
  let keepAlive = true;
  while (i < length) {
    const next = readFieldLine(text, i, field);
    if (next < 0) return handOff(FIELD_ERRORS[-next - 1]!);
    if (rawHeaders.length >= MAX_REQUEST_FIELDS * 2) return handOff('too many headers');
    const value = text.slice(field.valueStart, field.valueEnd);
    rawHeaders.push(text.slice(field.nameStart, field.nameEnd), value);
    switch (field.kind) {
      case FIELD_HOST:
        if (host !== undefined) return handOff('host');
        host = value;
        break;
      case FIELD_CONTENT_LENGTH:
        // llhttp rejects a repeated Content-Length and a list in one, even when all values agree.
        if (contentLength !== -1) return handOff('content-length');
        contentLength = parseContentLength(text, field.valueStart, field.valueEnd);
        if (contentLength < 0) return handOff('content-length');
        break;
      case FIELD_CONNECTION:
      case FIELD_PROXY_CONNECTION: // llhttp (so node:http) closes on either; do the same
        if ((connectionTokens(text, field.valueStart, field.valueEnd) & CONNECTION_CLOSE) !== 0) keepAlive = false;
        break;
      case FIELD_TRANSFER_ENCODING: return handOff('transfer-encoding');
      case FIELD_UPGRADE: return handOff('upgrade');
      case FIELD_EXPECT: return handOff('expect');
      case FIELD_HTTP2_SETTINGS: return handOff('http2-settings');
    }
    i = next;
  }
  if (host === undefined) return handOff('host');
  return {
    ok: true,
    head: { method, target, rawHeaders, host, contentLength: contentLength === -1 ? 0 : contentLength, keepAlive },
  };
}
