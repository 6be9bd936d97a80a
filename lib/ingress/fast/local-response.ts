/**
 * Answers the proxy gives itself on the fast path (404, 503, 502, 504, 413, 408), as raw HTTP/1.1 text, with the
 * same status lines, headers and bodies as `sendLocal` on the node:http path.
 */
import { SERVER_NAME } from '../headers.ts';

const REASONS: Readonly<Record<number, string>> = {
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export const localResponseText = (status: number, close: boolean, date: string): string => {
  const reason = REASONS[status] ?? 'Error';
  const body = `${status} ${reason}\n`;
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
    `server: ${SERVER_NAME}\r\ndate: ${date}\r\n${close ? 'connection: close\r\n' : ''}\r\n${body}`
  );
};
