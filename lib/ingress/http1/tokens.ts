/**
 * Character classes and small scanners shared by the HTTP/1.1 head parsers and the chunked scanner.
 * Everything here works on char codes (latin1 strings or bytes), so the hot loops do one table lookup per char.
 */

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
 * ASCII case-insensitive comparison of text[start, end) with `lower` (an all-lowercase token).
 * OR-ing 0x20 folds case exactly for tchar input: no non-letter tchar maps onto a letter or '-' that way.
 */
export function equalsLowerToken(text: string, start: number, end: number, lower: string): boolean {
  const length = lower.length;
  if (end - start !== length) return false;
  for (let i = 0; i < length; i++) {
    if ((text.charCodeAt(start + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Content-Length digits in text[start, end) (already trimmed): the number, or -1 when not 1–15 DIGITs. */
export function parseContentLength(text: string, start: number, end: number): number {
  const digits = end - start;
  if (digits < 1 || digits > MAX_CONTENT_LENGTH_DIGITS) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Connection tokens that matter to us, as bits. */
export const CONNECTION_CLOSE = 1;
export const CONNECTION_KEEP_ALIVE = 2;

/**
 * Which of `close` / `keep-alive` the comma-separated list in text[start, end) names (case-insensitive,
 * OWS around each element ignored). An element with anything else in it (`close x`) names neither, as in llhttp.
 */
export function connectionTokens(text: string, start: number, end: number): number {
  let found = 0;
  let elementStart = start;
  for (let i = start; i <= end; i++) {
    if (i < end && text.charCodeAt(i) !== COMMA) continue;
    let a = elementStart;
    let b = i;
    while (a < b && isOws(text.charCodeAt(a))) a++;
    while (b > a && isOws(text.charCodeAt(b - 1))) b--;
    if (equalsLowerToken(text, a, b, 'close')) found |= CONNECTION_CLOSE;
    else if (equalsLowerToken(text, a, b, 'keep-alive')) found |= CONNECTION_KEEP_ALIVE;
    elementStart = i + 1;
  }
  return found;
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

function classifyName(text: string, start: number, end: number): number {
  switch (end - start) {
    case 4: return equalsLowerToken(text, start, end, 'host') ? FIELD_HOST : FIELD_OTHER;
    case 6: return equalsLowerToken(text, start, end, 'expect') ? FIELD_EXPECT : FIELD_OTHER;
    case 7: return equalsLowerToken(text, start, end, 'upgrade') ? FIELD_UPGRADE : FIELD_OTHER;
    case 10: return equalsLowerToken(text, start, end, 'connection') ? FIELD_CONNECTION : FIELD_OTHER;
    case 14:
      if (equalsLowerToken(text, start, end, 'content-length')) return FIELD_CONTENT_LENGTH;
      return equalsLowerToken(text, start, end, 'http2-settings') ? FIELD_HTTP2_SETTINGS : FIELD_OTHER;
    case 16: return equalsLowerToken(text, start, end, 'proxy-connection') ? FIELD_PROXY_CONNECTION : FIELD_OTHER;
    case 17: return equalsLowerToken(text, start, end, 'transfer-encoding') ? FIELD_TRANSFER_ENCODING : FIELD_OTHER;
    default: return FIELD_OTHER;
  }
}

/** Where the last readFieldLine call found the name and (trimmed) value. Reused: the parsers are synchronous. */
export interface FieldLine {
  nameStart: number;
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
  kind: number;
}

/** Negative results of readFieldLine, indexes into FIELD_ERRORS (negated, minus one). */
export const FIELD_ERRORS: readonly string[] = ['header name', 'obs-fold', 'header value', 'line ending', 'empty line'];

/**
 * Reads the field-line starting at `pos` (`name ":" OWS value OWS`, ending at CRLF or at the end of text).
 * Fills `out` and returns where the next line starts (text.length after the last line), or a negative error:
 * -1 - FIELD_ERRORS index.
 */
export function readFieldLine(text: string, pos: number, out: FieldLine): number {
  const length = text.length;
  let i = pos;
  if (i >= length) return -5;
  const first = text.charCodeAt(i);
  if (first === SP || first === HTAB) return -2;
  if (first === CR || first === LF) return -5;
  while (i < length && (charClass[text.charCodeAt(i)]! & TCHAR) !== 0) i++;
  if (i === pos || i >= length || text.charCodeAt(i) !== COLON) return -1;
  out.nameStart = pos;
  out.nameEnd = i;
  i++;
  while (i < length && isOws(text.charCodeAt(i))) i++;
  const valueStart = i;
  // Hot loop: range compares beat a table lookup here, and most value chars are >= 0x20.
  for (; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20) {
      if (c === 0x7f || c > 0xff) return -3;
    } else if (c !== HTAB) {
      if (c === CR && i + 1 < length && text.charCodeAt(i + 1) === LF) break;
      return c === CR || c === LF ? -4 : -3;
    }
  }
  let valueEnd = i;
  while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
  out.valueStart = valueStart;
  out.valueEnd = valueEnd;
  out.kind = classifyName(text, pos, out.nameEnd);
  if (i >= length) return length;
  // A CRLF that ends the text would start an empty line: the caller passed the head's blank line along.
  return i + 2 < length ? i + 2 : -5;
}
