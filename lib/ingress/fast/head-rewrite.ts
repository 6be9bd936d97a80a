/**
 * The header rewrite of lib/ingress/headers.ts done on bytes, for the fast path: kept field lines are copied
 * through as read (runs of adjacent lines in one copy), dropped ones skipped by their classified name, and the
 * proxy's own lines appended — one output Buffer, no string per header. Same rules as forwardRequestHeaders /
 * forwardedResponseHead (test/unit/ingress/head-rewrite.test.ts checks they agree); a head whose Connection
 * header names other headers to drop is left to those general functions by the caller.
 */
import {
  FIELD_CONNECTION, FIELD_CONTENT_LENGTH, FIELD_EXPECT, FIELD_HTTP2_SETTINGS, FIELD_KEEP_ALIVE,
  FIELD_PROXY, FIELD_PROXY_AUTHENTICATE, FIELD_PROXY_AUTHORIZATION, FIELD_PROXY_CONNECTION, FIELD_SERVER,
  FIELD_STRIDE, FIELD_TE, FIELD_TRAILER, FIELD_TRANSFER_ENCODING, FIELD_UPGRADE, FIELD_X_FORWARDED_FOR,
  FIELD_X_FORWARDED_HOST, FIELD_X_FORWARDED_PORT, FIELD_X_FORWARDED_PROTO, FIELD_X_REAL_IP, FIELD_X_REQUEST_ID,
  type HeadFields, latin1,
} from '../http1/tokens.ts';
import type { StatusLine } from '../http1/response-head.ts';
import { SERVER_NAME } from '../headers.ts';

const kindSet = (...kinds: number[]): Uint8Array => {
  const set = new Uint8Array(32);
  for (const k of kinds) set[k] = 1;
  return set;
};

/** headers.ts ALWAYS_HOP_BY_HOP, by field kind. */
const HOP_BY_HOP = [
  FIELD_CONNECTION, FIELD_KEEP_ALIVE, FIELD_PROXY_CONNECTION, FIELD_TE, FIELD_TRAILER, FIELD_TRANSFER_ENCODING,
  FIELD_UPGRADE, FIELD_PROXY_AUTHORIZATION, FIELD_PROXY_AUTHENTICATE, FIELD_PROXY, FIELD_HTTP2_SETTINGS,
];
/** Dropped from requests: hop-by-hop plus headers.ts REPLACED_REQUEST_HEADERS (re-added by the proxy). */
const DROPPED_FROM_REQUEST = kindSet(
  ...HOP_BY_HOP, FIELD_EXPECT, FIELD_X_FORWARDED_FOR, FIELD_X_FORWARDED_PROTO, FIELD_X_FORWARDED_HOST,
  FIELD_X_FORWARDED_PORT, FIELD_X_REAL_IP, FIELD_X_REQUEST_ID,
);
/** Dropped from responses: hop-by-hop and Server (the proxy sets its own). */
const DROPPED_FROM_RESPONSE = kindSet(...HOP_BY_HOP, FIELD_SERVER);

/** headers.ts SANE_REQUEST_ID: 1–200 visible ASCII chars. */
const isSaneRequestId = (src: Buffer, start: number, end: number): boolean => {
  if (end - start < 1 || end - start > 200) return false;
  for (let i = start; i < end; i++) if (src[i]! < 0x21 || src[i]! > 0x7e) return false;
  return true;
};

/**
 * The per-connection part of the appended request lines: everything in them but X-Forwarded-For, the host and
 * the request id depends only on the listener and the client, so it is built once per client connection.
 */
export interface ForwardedLines {
  readonly clientIp: string;
  /** `\r\nX-Forwarded-Proto: …\r\nX-Forwarded-Host: ` */
  readonly beforeHost: string;
  /** `\r\nX-Forwarded-Port: …\r\nX-Real-IP: …\r\nX-Request-ID: ` */
  readonly beforeRequestId: string;
}

export const forwardedLines = (clientIp: string, proto: 'http' | 'https', listenerPort: number): ForwardedLines => ({
  clientIp,
  beforeHost: `\r\nX-Forwarded-Proto: ${proto}\r\nX-Forwarded-Host: `,
  beforeRequestId: `\r\nX-Forwarded-Port: ${listenerPort}\r\nX-Real-IP: ${clientIp}\r\nX-Request-ID: `,
});

/**
 * Copies src[runStart, headEnd + 2) into out except the lines of dropped fields: each line is copied with its
 * CRLF (the head's last line has its CRLF at headEnd, before the blank line), adjacent kept lines in one copy.
 * Returns the new write position; the output then ends with a line's CRLF.
 */
const copyKept = (
  src: Buffer,
  out: Buffer,
  pos: number,
  fields: HeadFields,
  dropped: Uint8Array,
  alsoDrop: number,
  runStart: number,
  headEnd: number,
): number => {
  const at = fields.at;
  let start = runStart;
  for (let k = 0; k < fields.count; k++) {
    const o = k * FIELD_STRIDE;
    const kind = at[o + 5]!;
    if (dropped[kind] === 0 && kind !== alsoDrop) continue;
    const lineStart = at[o]!;
    if (lineStart > start) pos += src.copy(out, pos, start, lineStart);
    start = at[o + 4]! + 2;
  }
  if (headEnd + 2 > start) pos += src.copy(out, pos, start, headEnd + 2);
  return pos;
};

/**
 * The upstream request head for a request parsed by parseRequestHeadBytes: the request line and kept lines as
 * received, then X-Forwarded-For (appended to), -Proto, -Host, -Port, X-Real-IP and X-Request-ID (kept when sane,
 * generated otherwise), then the blank line. `headEnd`: where the head's blank line (CRLFCRLF) starts in src;
 * `host`: the request's Host value, as the parser returned it.
 */
export const rewriteRequestHead = (
  src: Buffer,
  headEnd: number,
  fields: HeadFields,
  lines: ForwardedLines,
  host: string,
  newRequestId: () => string,
): Buffer => {
  const at = fields.at;
  let forwardedFor = '';
  let requestId: string | undefined;
  for (let k = 0; k < fields.count; k++) {
    const o = k * FIELD_STRIDE;
    const kind = at[o + 5]!;
    if (kind === FIELD_X_FORWARDED_FOR && at[o + 3]! > at[o + 2]!) {
      const v = latin1(src, at[o + 2]!, at[o + 3]!);
      forwardedFor = forwardedFor ? `${forwardedFor}, ${v}` : v;
    } else if (kind === FIELD_X_REQUEST_ID && requestId === undefined && isSaneRequestId(src, at[o + 2]!, at[o + 3]!)) {
      requestId = latin1(src, at[o + 2]!, at[o + 3]!);
    }
  }
  const clientIp = lines.clientIp;
  const xff = clientIp ? (forwardedFor ? `${forwardedFor}, ${clientIp}` : clientIp) : forwardedFor;
  const tail =
    `X-Forwarded-For: ${xff}${lines.beforeHost}${host}${lines.beforeRequestId}${requestId ?? newRequestId()}\r\n\r\n`;
  const out = Buffer.allocUnsafe(headEnd + 2 + tail.length);
  let pos = copyKept(src, out, 0, fields, DROPPED_FROM_REQUEST, -1, 0, headEnd);
  pos += out.write(tail, pos, 'latin1');
  return pos === out.length ? out : out.subarray(0, pos);
};

const RESPONSE_TAILS = new Map<number, Buffer>();
const responseTail = (chunked: boolean, close: boolean): Buffer => {
  const key = (chunked ? 2 : 0) | (close ? 1 : 0);
  let tail = RESPONSE_TAILS.get(key);
  if (!tail) {
    tail = Buffer.from(
      `${chunked ? 'transfer-encoding: chunked\r\n' : ''}server: ${SERVER_NAME}\r\n${close ? 'connection: close\r\n' : ''}\r\n`,
      'latin1',
    );
    RESPONSE_TAILS.set(key, tail);
  }
  return tail;
};

const HTTP_11 = Buffer.from('HTTP/1.1', 'latin1');

/**
 * The client's response head for a head parsed by parseResponseHeadBytes, followed by `bodyLength` body bytes
 * from src[bodyStart…], in one Buffer: status line as HTTP/1.1, kept lines as received, then
 * transfer-encoding (when the body stays chunked; any Content-Length dropped), server and connection: close.
 */
export const rewriteResponseHead = (
  src: Buffer,
  headEnd: number,
  status: StatusLine,
  fields: HeadFields,
  close: boolean,
  bodyStart: number,
  bodyLength: number,
): Buffer => {
  const chunked = status.framing.kind === 'chunked';
  const tail = responseTail(chunked, close);
  // +1: a status line without a reason phrase gets the SP the grammar requires before it.
  const out = Buffer.allocUnsafe(headEnd + 3 + tail.length + bodyLength);
  let pos = HTTP_11.copy(out, 0);
  let runStart = 8; // the status line goes on from after the version
  if (status.lineEnd === 12) {
    pos += src.copy(out, pos, 8, 12);
    out[pos++] = 0x20;
    runStart = 12;
  }
  pos = copyKept(src, out, pos, fields, DROPPED_FROM_RESPONSE, chunked ? FIELD_CONTENT_LENGTH : -1, runStart, headEnd);
  pos += tail.copy(out, pos);
  if (bodyLength > 0) pos += src.copy(out, pos, bodyStart, bodyStart + bodyLength);
  return pos === out.length ? out : out.subarray(0, pos);
};
