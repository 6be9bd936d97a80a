/**
 * HTTP/1.x response-head parser for the ingress fast path: status line, fields, and how the body is framed.
 * Anything malformed or unsupported is `ok: false`; the proxy then answers 502 and drops the upstream connection.
 * Works on the bytes as read, like the request parser: field positions go to a HeadFields table.
 */
import {
  charClass, CONNECTION_CLOSE, CONNECTION_KEEP_ALIVE, CONNECTION_OTHER, connectionTokens, CR, element, equalsLowerToken,
  FIELD_CONNECTION, FIELD_CONTENT_LENGTH, FIELD_ERRORS, FIELD_TRANSFER_ENCODING, FIELD_VALUE, type FieldLine,
  HeadFields, type HeadParseResult, latin1, LF, listElement, parseContentLength, readFieldLine, SP,
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

export type ResponseHeadResult = HeadParseResult<ResponseHead>;

/** What parseResponseHeadBytes finds besides the field table. */
export interface StatusLine {
  readonly version: '1.0' | '1.1';
  readonly status: number;
  /** Index of the first byte of the reason phrase, and of the CR ending the status line. */
  readonly reasonStart: number;
  readonly lineEnd: number;
  readonly framing: BodyFraming;
  readonly keepAlive: boolean;
  /** A Connection header names a header other than close/keep-alive (it must be dropped at this hop too). */
  readonly connectionListsOthers: boolean;
}

export type StatusLineResult = HeadParseResult<StatusLine>;

/** Fields in a response head the fast path handles; a longer head is answered 502. */
export const MAX_RESPONSE_FIELDS = 256;

const FRAMING_NONE: BodyFraming = { kind: 'none' };
const FRAMING_CHUNKED: BodyFraming = { kind: 'chunked' };
const FRAMING_CLOSE: BodyFraming = { kind: 'close' };

const malformed = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

const field: FieldLine = { nameStart: 0, nameEnd: 0, valueStart: 0, valueEnd: 0, lineEnd: 0, kind: 0 };

/**
 * Content-Length value, possibly a comma list (also across repeated headers, via `previous`): every element must be
 * 1–15 DIGITs and all must agree. Returns the length, or -1.
 */
function contentLengthList(src: Buffer, start: number, end: number, previous: number): number {
  let value = previous;
  for (let next = start; next !== -1; ) {
    next = listElement(src, next, end, element);
    const length = parseContentLength(src, element.start, element.end);
    if (length < 0 || (value !== -1 && length !== value)) return -1;
    value = length;
  }
  return value;
}

/** `HTTP/1.` at the start of src. */
const isHttp1 = (src: Buffer): boolean =>
  src[0] === 0x48 && src[1] === 0x54 && src[2] === 0x54 && src[3] === 0x50 && src[4] === 0x2f && src[5] === 0x31 &&
  src[6] === 0x2e;

/**
 * `src[0, length)`: the head as read, without the final blank line. `requestMethod`: the request it answers.
 * Field positions go to `fields` (reset here).
 */
export function parseResponseHeadBytes(src: Buffer, length: number, requestMethod: string, fields: HeadFields): StatusLineResult {
  fields.count = 0;
  // HTTP/1.x SP 3DIGIT [SP reason] (CRLF | end)
  let version: '1.0' | '1.1';
  if (length < 9 || !isHttp1(src) || src[8] !== SP) return malformed('version');
  if (src[7] === 0x31) version = '1.1';
  else if (src[7] === 0x30) version = '1.0';
  else return malformed('version');
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const d = i < length ? src[i]! - 0x30 : -1;
    if (!(d >= 0 && d <= 9)) return malformed('status');
    status = status * 10 + d;
  }
  if (status < 100 || status > 599) return malformed('status');
  let i = 12;
  let reasonStart = 12;
  if (i < length && src[i] === SP) {
    reasonStart = ++i;
    while (i < length && (charClass[src[i]!]! & FIELD_VALUE) !== 0) i++;
  }
  const lineEnd = i;
  if (i < length) {
    if (src[i] !== CR || i + 1 >= length || src[i + 1] !== LF) {
      const c = src[i];
      return malformed(c === CR || c === LF ? 'line ending' : 'status line');
    }
    i += 2;
    if (i >= length) return malformed('empty line');
  }

  let contentLength = -1;
  let badContentLength = false;
  let transferEncodingStart = -1;
  let transferEncodingEnd = -1;
  let transferEncodingCount = 0;
  let connection = 0;
  while (i < length) {
    const next = readFieldLine(src, i, length, field);
    if (next < 0) return malformed(FIELD_ERRORS[-next - 1]!);
    if (fields.count >= fields.capacity) return malformed('too many headers');
    fields.push(field);
    switch (field.kind) {
      case FIELD_CONTENT_LENGTH:
        if (!badContentLength) {
          contentLength = contentLengthList(src, field.valueStart, field.valueEnd, contentLength);
          badContentLength = contentLength < 0;
        }
        break;
      case FIELD_TRANSFER_ENCODING:
        transferEncodingCount++;
        transferEncodingStart = field.valueStart;
        transferEncodingEnd = field.valueEnd;
        break;
      case FIELD_CONNECTION:
        connection |= connectionTokens(src, field.valueStart, field.valueEnd);
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
      equalsLowerToken(src, transferEncodingStart, transferEncodingEnd, 'chunked');
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
  return {
    ok: true,
    head: {
      version,
      status,
      reasonStart,
      lineEnd,
      framing,
      keepAlive,
      connectionListsOthers: (connection & CONNECTION_OTHER) !== 0,
    },
  };
}

const scratchFields = new HeadFields(MAX_RESPONSE_FIELDS);

/** The same parse from a latin1 string (tests, and callers that hold text); chars above 0xFF read as DEL. */
export function parseResponseHead(text: string, requestMethod: string): ResponseHeadResult {
  const src = Buffer.from(text.replace(/[^\x00-\xff]/g, '\x7f'), 'latin1');
  const parsed = parseResponseHeadBytes(src, src.length, requestMethod, scratchFields);
  if (!parsed.ok) return parsed;
  const { version, status, reasonStart, lineEnd, framing, keepAlive } = parsed.head;
  const reason = reasonStart < lineEnd ? latin1(src, reasonStart, lineEnd) : '';
  return { ok: true, head: { version, status, reason, rawHeaders: scratchFields.strings(src), framing, keepAlive } };
}
