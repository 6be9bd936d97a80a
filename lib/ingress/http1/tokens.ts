/**
 * Character classes and small scanners shared by the HTTP/1.1 head parsers and the chunked scanner.
 * Everything here works on bytes (the head as read off the socket: no string is made for a name or value the
 * proxy only copies through), so the hot loops do one table lookup or a few compares per byte.
 */

/** What a head parser returns: what it found, or why the head is not one the fast path takes. */
export type HeadParseResult<T> =
  | { readonly ok: true; readonly head: T }
  | { readonly ok: false; readonly reason: string };

/** RFC 9110 tchar: `!#$%&'*+-.^_`|~`, DIGIT, ALPHA. */
export const TCHAR = 1;
/** A field-value / reason-phrase char: HTAB, SP, VCHAR, obs-text (0x80–0xFF). */
export const FIELD_VALUE = 2;
/** A request-target char: VCHAR (0x21–0x7E). */
export const TARGET = 4;
/** HEXDIG. */
export const HEX = 8;

/** Bit set per char code 0..255; codes above 255 (not latin1) fall outside and read as 0. */
export const charClass: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const tcharSymbols = "!#$%&'*+-.^_`|~";
  for (let c = 0; c < 256; c++) {
    let bits = 0;
    const isDigit = c >= 0x30 && c <= 0x39;
    const isAlpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (isDigit || isAlpha || tcharSymbols.includes(String.fromCharCode(c))) bits |= TCHAR;
    if (c === 0x09 || (c >= 0x20 && c <= 0x7e) || c >= 0x80) bits |= FIELD_VALUE;
    if (c >= 0x21 && c <= 0x7e) bits |= TARGET;
    if (isDigit || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)) bits |= HEX;
    table[c] = bits;
  }
  return table;
})();

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const COMMA = 0x2c;

/** Longest Content-Length we accept: 15 digits always fit a safe integer. */
const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * ASCII case-insensitive comparison of src[start, end) with `lower` (an all-lowercase token).
 * OR-ing 0x20 folds case exactly for tchar input: no non-letter tchar maps onto a letter or '-' that way.
 */
export function equalsLowerToken(src: Uint8Array, start: number, end: number, lower: string): boolean {
  const length = lower.length;
  if (end - start !== length) return false;
  for (let i = 0; i < length; i++) {
    if ((src[start + i]! | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Content-Length digits in src[start, end) (already trimmed): the number, or -1 when not 1–15 DIGITs. */
export function parseContentLength(src: Uint8Array, start: number, end: number): number {
  const digits = end - start;
  if (digits < 1 || digits > MAX_CONTENT_LENGTH_DIGITS) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = src[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Connection tokens that matter to us, as bits. */
export const CONNECTION_CLOSE = 1;
export const CONNECTION_KEEP_ALIVE = 2;
/** Any other token: a header the sender wants dropped at this hop (the proxy then takes its general rewrite). */
export const CONNECTION_OTHER = 4;

/**
 * Which of `close` / `keep-alive` the comma-separated list in src[start, end) names (case-insensitive,
 * OWS around each element ignored). An element with anything else in it (`close x`) names neither, as in llhttp.
 */
export function connectionTokens(src: Uint8Array, start: number, end: number): number {
  let found = 0;
  for (let next = start; next !== -1; ) {
    next = listElement(src, next, end, element);
    const a = element.start;
    const b = element.end;
    if (equalsLowerToken(src, a, b, 'close')) found |= CONNECTION_CLOSE;
    else if (equalsLowerToken(src, a, b, 'keep-alive')) found |= CONNECTION_KEEP_ALIVE;
    else if (b > a) found |= CONNECTION_OTHER;
  }
  return found;
}

export interface Span {
  start: number;
  end: number;
}

/** Scratch span for list walks; safe to share because parsing is synchronous. */
export const element: Span = { start: 0, end: 0 };

/**
 * The element of a comma-separated list in src[pos, end) that starts at `pos`, OWS trimmed, into `out`. Returns
 * where the next element starts, or -1 after the last one (an empty list has one empty element).
 */
export function listElement(src: Uint8Array, pos: number, end: number, out: Span): number {
  let i = pos;
  while (i < end && src[i] !== COMMA) i++;
  let a = pos;
  let b = i;
  while (a < b && isOws(src[a]!)) a++;
  while (b > a && isOws(src[b - 1]!)) b--;
  out.start = a;
  out.end = b;
  return i < end ? i + 1 : -1;
}

export const isOws = (c: number): boolean => c === SP || c === HTAB;

/** Header names the parsers act on, as small integers (anything else is FIELD_OTHER). */
export const FIELD_OTHER = 0;
export const FIELD_HOST = 1;
export const FIELD_CONTENT_LENGTH = 2;
export const FIELD_TRANSFER_ENCODING = 3;
export const FIELD_CONNECTION = 4;
export const FIELD_UPGRADE = 5;
export const FIELD_EXPECT = 6;
export const FIELD_HTTP2_SETTINGS = 7;
/** Non-standard, but llhttp reads its `close` like Connection's. */
export const FIELD_PROXY_CONNECTION = 8;
/** The other names the proxy's header rewrite (lib/ingress/headers.ts) drops or replaces. */
export const FIELD_KEEP_ALIVE = 9;
export const FIELD_TE = 10;
export const FIELD_TRAILER = 11;
export const FIELD_PROXY_AUTHORIZATION = 12;
export const FIELD_PROXY_AUTHENTICATE = 13;
export const FIELD_PROXY = 14;
export const FIELD_SERVER = 15;
export const FIELD_X_FORWARDED_FOR = 16;
export const FIELD_X_FORWARDED_PROTO = 17;
export const FIELD_X_FORWARDED_HOST = 18;
export const FIELD_X_FORWARDED_PORT = 19;
export const FIELD_X_REAL_IP = 20;
export const FIELD_X_REQUEST_ID = 21;

function classifyName(src: Uint8Array, start: number, end: number): number {
  switch (end - start) {
    case 2: return equalsLowerToken(src, start, end, 'te') ? FIELD_TE : FIELD_OTHER;
    case 4: return equalsLowerToken(src, start, end, 'host') ? FIELD_HOST : FIELD_OTHER;
    case 5: return equalsLowerToken(src, start, end, 'proxy') ? FIELD_PROXY : FIELD_OTHER;
    case 6:
      if (equalsLowerToken(src, start, end, 'server')) return FIELD_SERVER;
      return equalsLowerToken(src, start, end, 'expect') ? FIELD_EXPECT : FIELD_OTHER;
    case 7:
      if (equalsLowerToken(src, start, end, 'upgrade')) return FIELD_UPGRADE;
      return equalsLowerToken(src, start, end, 'trailer') ? FIELD_TRAILER : FIELD_OTHER;
    case 9: return equalsLowerToken(src, start, end, 'x-real-ip') ? FIELD_X_REAL_IP : FIELD_OTHER;
    case 10:
      if (equalsLowerToken(src, start, end, 'connection')) return FIELD_CONNECTION;
      return equalsLowerToken(src, start, end, 'keep-alive') ? FIELD_KEEP_ALIVE : FIELD_OTHER;
    case 12: return equalsLowerToken(src, start, end, 'x-request-id') ? FIELD_X_REQUEST_ID : FIELD_OTHER;
    case 14:
      if (equalsLowerToken(src, start, end, 'content-length')) return FIELD_CONTENT_LENGTH;
      return equalsLowerToken(src, start, end, 'http2-settings') ? FIELD_HTTP2_SETTINGS : FIELD_OTHER;
    case 15: return equalsLowerToken(src, start, end, 'x-forwarded-for') ? FIELD_X_FORWARDED_FOR : FIELD_OTHER;
    case 16:
      if (equalsLowerToken(src, start, end, 'proxy-connection')) return FIELD_PROXY_CONNECTION;
      if (equalsLowerToken(src, start, end, 'x-forwarded-host')) return FIELD_X_FORWARDED_HOST;
      return equalsLowerToken(src, start, end, 'x-forwarded-port') ? FIELD_X_FORWARDED_PORT : FIELD_OTHER;
    case 17:
      if (equalsLowerToken(src, start, end, 'transfer-encoding')) return FIELD_TRANSFER_ENCODING;
      return equalsLowerToken(src, start, end, 'x-forwarded-proto') ? FIELD_X_FORWARDED_PROTO : FIELD_OTHER;
    case 18: return equalsLowerToken(src, start, end, 'proxy-authenticate') ? FIELD_PROXY_AUTHENTICATE : FIELD_OTHER;
    case 19: return equalsLowerToken(src, start, end, 'proxy-authorization') ? FIELD_PROXY_AUTHORIZATION : FIELD_OTHER;
    default: return FIELD_OTHER;
  }
}

/** Where the last readFieldLine call found the name and (trimmed) value. Reused: the parsers are synchronous. */
export interface FieldLine {
  nameStart: number;
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
  /** Where the line's CRLF starts (or the end of the head), i.e. the end of the value before trimming. */
  lineEnd: number;
  kind: number;
}

/**
 * Where each field of a parsed head lies, for copying lines through without making strings: FIELD_STRIDE ints per
 * field (name start, name end, value start, value end, line end, kind). Reused across requests by its owner.
 */
export const FIELD_STRIDE = 6;
export class HeadFields {
  count = 0;
  at: Int32Array;
  constructor(capacity: number) {
    this.at = new Int32Array(capacity * FIELD_STRIDE);
  }
  get capacity(): number {
    return this.at.length / FIELD_STRIDE;
  }
  push(f: FieldLine): void {
    const o = this.count * FIELD_STRIDE;
    const at = this.at;
    at[o] = f.nameStart;
    at[o + 1] = f.nameEnd;
    at[o + 2] = f.valueStart;
    at[o + 3] = f.valueEnd;
    at[o + 4] = f.lineEnd;
    at[o + 5] = f.kind;
    this.count++;
  }
  /** Flat [name, value, …] strings (for the general rewrite and for tests). */
  strings(src: Buffer): string[] {
    const out: string[] = [];
    const at = this.at;
    for (let k = 0; k < this.count; k++) {
      const o = k * FIELD_STRIDE;
      out.push(latin1(src, at[o]!, at[o + 1]!), latin1(src, at[o + 2]!, at[o + 3]!));
    }
    return out;
  }
}

/** src[start, end) as a latin1 string. */
export const latin1 = (src: Buffer, start: number, end: number): string => src.toString('latin1', start, end);

/** Negative results of readFieldLine, indexes into FIELD_ERRORS (negated, minus one). */
export const FIELD_ERRORS: readonly string[] = ['header name', 'obs-fold', 'header value', 'line ending', 'empty line'];

/**
 * Reads the field-line starting at `pos` (`name ":" OWS value OWS`, ending at CRLF or at `length`, the end of the
 * head without its blank line). Fills `out` and returns where the next line starts (`length` after the last
 * line), or a negative error: -1 - FIELD_ERRORS index.
 */
export function readFieldLine(src: Uint8Array, pos: number, length: number, out: FieldLine): number {
  let i = pos;
  if (i >= length) return -5;
  const first = src[i]!;
  if (first === SP || first === HTAB) return -2;
  if (first === CR || first === LF) return -5;
  while (i < length && (charClass[src[i]!]! & TCHAR) !== 0) i++;
  if (i === pos || i >= length || src[i] !== COLON) return -1;
  out.nameStart = pos;
  out.nameEnd = i;
  i++;
  while (i < length && isOws(src[i]!)) i++;
  const valueStart = i;
  // Hot loop: range compares beat a table lookup here, and most value bytes are >= 0x20.
  for (; i < length; i++) {
    const c = src[i]!;
    if (c >= 0x20) {
      if (c === 0x7f) return -3;
    } else if (c !== HTAB) {
      if (c === CR && i + 1 < length && src[i + 1] === LF) break;
      return c === CR || c === LF ? -4 : -3;
    }
  }
  out.lineEnd = i;
  let valueEnd = i;
  while (valueEnd > valueStart && isOws(src[valueEnd - 1]!)) valueEnd--;
  out.valueStart = valueStart;
  out.valueEnd = valueEnd;
  out.kind = classifyName(src, pos, out.nameEnd);
  if (i >= length) return length;
  // A CRLF that ends the head would start an empty line: the caller passed the head's blank line along.
  return i + 2 < length ? i + 2 : -5;
}
