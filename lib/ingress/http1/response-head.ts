/**
 * HTTP/1.x response-head parser for the ingress fast path: status line, fields, and how the body is framed.
 * Anything malformed or unsupported is `ok: false`; the proxy then answers 502 and drops the upstream connection.
 */
import {
  charClass, COMMA, CONNECTION_CLOSE, CONNECTION_KEEP_ALIVE, connectionTokens, CR, equalsLowerToken,
  FIELD_CONNECTION, FIELD_CONTENT_LENGTH, FIELD_ERRORS, FIELD_TRANSFER_ENCODING, FIELD_VALUE, type FieldLine, isOws,
  LF, parseContentLength, readFieldLine, SP,
} from './tokens.ts';

export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'close' };

export interface ResponseHead {
  readonly version: '1.0' | '1.1';
  readonly status: number;
  /** May be ''. */
  readonly reason: string;
  /** Flat [name, value, ...], values trimmed of SP/HTAB. */
  readonly rawHeaders: readonly string[];
  readonly framing: BodyFraming;
  /** The upstream connection can carry another request after this response. */
  readonly keepAlive: boolean;
}

export type ResponseHeadResult =
  | { readonly ok: true; readonly head: ResponseHead }
  | { readonly ok: false; readonly reason: string };

const FRAMING_NONE: BodyFraming = { kind: 'none' };
const FRAMING_CHUNKED: BodyFraming = { kind: 'chunked' };
const FRAMING_CLOSE: BodyFraming = { kind: 'close' };

const malformed = (reason: string): ResponseHeadResult => ({ ok: false, reason });

const field: FieldLine = { nameStart: 0, nameEnd: 0, valueStart: 0, valueEnd: 0, kind: 0 };

/**
 * Content-Length value, possibly a comma list (also across repeated headers, via `previous`): every element must be
 * 1–15 DIGITs and all must agree. Returns the length, or -1.
 */
function contentLengthList(text: string, start: number, end: number, previous: number): number {
  let value = previous;
  let elementStart = start;
  for (let i = start; i <= end; i++) {
    if (i < end && text.charCodeAt(i) !== COMMA) continue;
    let a = elementStart;
    let b = i;
    while (a < b && isOws(text.charCodeAt(a))) a++;
    while (b > a && isOws(text.charCodeAt(b - 1))) b--;
    const element = parseContentLength(text, a, b);
    if (element < 0 || (value !== -1 && element !== value)) return -1;
    value = element;
    elementStart = i + 1;
  }
  return value;
}

/** `text`: the head decoded as latin1, without the final blank line. `requestMethod`: the request it answers. */
export function parseResponseHead(text: string, requestMethod: string): ResponseHeadResult {
  const length = text.length;

  // HTTP/1.x SP 3DIGIT [SP reason] (CRLF | end)
  let version: '1.0' | '1.1';
  if (text.startsWith('HTTP/1.1 ')) version = '1.1';
  else if (text.startsWith('HTTP/1.0 ')) version = '1.0';
  else return malformed('version');
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (!(d >= 0 && d <= 9)) return malformed('status');
    status = status * 10 + d;
  }
  if (status < 100 || status > 599) return malformed('status');
  let i = 12;
  let reason = '';
  if (i < length && text.charCodeAt(i) === SP) {
    const reasonStart = ++i;
    while (i < length && (charClass[text.charCodeAt(i)]! & FIELD_VALUE) !== 0) i++;
    reason = text.slice(reasonStart, i);
  }
  if (i < length) {
    if (text.charCodeAt(i) !== CR || i + 1 >= length || text.charCodeAt(i + 1) !== LF) {
      const c = text.charCodeAt(i);
      return malformed(c === CR || c === LF ? 'line ending' : 'status line');
    }
    i += 2;
    if (i >= length) return malformed('empty line');
  }

  const rawHeaders: string[] = [];
  let contentLength = -1;
  let badContentLength = false;
  let transferEncodingStart = -1;
  let transferEncodingEnd = -1;
  let transferEncodingCount = 0;
  let connection = 0;
  while (i < length) {
    const next = readFieldLine(text, i, field);
    if (next < 0) return malformed(FIELD_ERRORS[-next - 1]!);
    rawHeaders.push(text.slice(field.nameStart, field.nameEnd), text.slice(field.valueStart, field.valueEnd));
    switch (field.kind) {
      case FIELD_CONTENT_LENGTH:
        if (!badContentLength) {
          contentLength = contentLengthList(text, field.valueStart, field.valueEnd, contentLength);
          badContentLength = contentLength < 0;
        }
        break;
      case FIELD_TRANSFER_ENCODING:
        transferEncodingCount++;
        transferEncodingStart = field.valueStart;
        transferEncodingEnd = field.valueEnd;
        break;
      case FIELD_CONNECTION:
        connection |= connectionTokens(text, field.valueStart, field.valueEnd);
        break;
    }
    i = next;
  }

  let framing: BodyFraming;
  // A Content-Length beside chunked loses, but such a response smells of smuggling: don't reuse the connection.
  let suspect = false;
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) {
    framing = FRAMING_NONE;
  } else if (transferEncodingCount > 0) {
    // Repeated headers join to "chunked, chunked", which is not exactly `chunked`.
    const onlyChunked = transferEncodingCount === 1 &&
      equalsLowerToken(text, transferEncodingStart, transferEncodingEnd, 'chunked');
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
    if (!onlyChunked || version === '1.0') return malformed('transfer-encoding');
    framing = FRAMING_CHUNKED;
    suspect = contentLength !== -1 || badContentLength;
  } else if (badContentLength) {
    return malformed('content-length');
  } else if (contentLength !== -1) {
    framing = { kind: 'length', length: contentLength };
  } else {
    framing = FRAMING_CLOSE;
  }

  const keepAlive = !suspect && framing !== FRAMING_CLOSE && (version === '1.1'
    ? (connection & CONNECTION_CLOSE) === 0
    : (connection & CONNECTION_KEEP_ALIVE) !== 0 && (connection & CONNECTION_CLOSE) === 0);
  return { ok: true, head: { version, status, reason, rawHeaders, framing, keepAlive } };
}
