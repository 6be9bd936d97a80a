import test from 'ava';
import { parseResponseHead, type ResponseHead } from '../../../lib/ingress/http1/response-head.ts';

const head = (...lines: string[]): string => lines.join('\r\n');

const accepted: ReadonlyArray<readonly [string, string, string, Partial<ResponseHead>]> = [
  ['nginx-like 200', 'GET', head('HTTP/1.1 200 OK', 'Server: nginx/1.25.3', 'Content-Type: text/html', 'Content-Length: 615'),
    { version: '1.1', status: 200, reason: 'OK', framing: { kind: 'length', length: 615 }, keepAlive: true,
      rawHeaders: ['Server', 'nginx/1.25.3', 'Content-Type', 'text/html', 'Content-Length', '615'] }],
  ['empty reason with trailing space', 'GET', head('HTTP/1.1 200 ', 'Content-Length: 0'), { reason: '', status: 200 }],
  ['no reason, no space', 'GET', head('HTTP/1.1 404', 'Content-Length: 0'), { reason: '', status: 404 }],
  ['status line only', 'GET', 'HTTP/1.1 200 OK', { framing: { kind: 'close' }, keepAlive: false, rawHeaders: [] }],
  ['reason with HTAB, SP and obs-text', 'GET', head('HTTP/1.1 500 Bad\tthing  h\xe4ppened', 'Content-Length: 0'),
    { reason: 'Bad\tthing  h\xe4ppened' }],
  ['values trimmed', 'GET', head('HTTP/1.1 200 OK', 'X:  a b \t', 'Content-Length:\t3 '),
    { rawHeaders: ['X', 'a b', 'Content-Length', '3'], framing: { kind: 'length', length: 3 } }],
  ['599 is the highest status', 'GET', head('HTTP/1.1 599 X', 'Content-Length: 0'), { status: 599 }],
  // framing
  ['HEAD: no body despite Content-Length', 'HEAD', head('HTTP/1.1 200 OK', 'Content-Length: 615'),
    { framing: { kind: 'none' }, keepAlive: true }],
  ['HEAD: no body despite chunked', 'HEAD', head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'), { framing: { kind: 'none' } }],
  ['HEAD without length keeps the connection', 'HEAD', 'HTTP/1.1 200 OK', { framing: { kind: 'none' }, keepAlive: true }],
  ['100 Continue', 'POST', 'HTTP/1.1 100 Continue', { framing: { kind: 'none' }, status: 100 }],
  ['103 Early Hints', 'GET', head('HTTP/1.1 103 Early Hints', 'Link: </a.css>; rel=preload'), { framing: { kind: 'none' } }],
  ['204', 'DELETE', head('HTTP/1.1 204 No Content', 'Content-Length: 10'), { framing: { kind: 'none' }, keepAlive: true }],
  ['304', 'GET', head('HTTP/1.1 304 Not Modified', 'ETag: "x"'), { framing: { kind: 'none' }, keepAlive: true }],
  ['chunked', 'GET', head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'), { framing: { kind: 'chunked' }, keepAlive: true }],
  ['chunked any case, padded', 'GET', head('HTTP/1.1 200 OK', 'transfer-encoding:  ChUnKeD '), { framing: { kind: 'chunked' } }],
  ['chunked wins over Content-Length, but no reuse', 'GET',
    head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Transfer-Encoding: chunked'), { framing: { kind: 'chunked' }, keepAlive: false }],
  ['chunked wins over a broken Content-Length, no reuse', 'GET',
    head('HTTP/1.1 200 OK', 'Content-Length: x', 'Transfer-Encoding: chunked'), { framing: { kind: 'chunked' }, keepAlive: false }],
  ['Content-Length 0', 'GET', head('HTTP/1.1 200 OK', 'Content-Length: 0'), { framing: { kind: 'length', length: 0 } }],
  ['Content-Length repeated, equal', 'GET', head('HTTP/1.1 200 OK', 'Content-Length: 7', 'content-length: 007'),
    { framing: { kind: 'length', length: 7 } }],
  ['Content-Length list, equal', 'GET', head('HTTP/1.1 200 OK', 'Content-Length: 7 ,7,\t7'), { framing: { kind: 'length', length: 7 } }],
  ['no length: body until close', 'GET', head('HTTP/1.1 200 OK', 'Content-Type: text/plain'), { framing: { kind: 'close' }, keepAlive: false }],
  // keep-alive
  ['1.1 Connection: close', 'GET', head('HTTP/1.1 200 OK', 'Connection: close', 'Content-Length: 1'), { keepAlive: false }],
  ['1.1 close among tokens', 'GET', head('HTTP/1.1 200 OK', 'Connection: foo, CLOSE', 'Content-Length: 1'), { keepAlive: false }],
  ['1.0 without keep-alive', 'GET', head('HTTP/1.0 200 OK', 'Content-Length: 1'), { version: '1.0', keepAlive: false }],
  ['1.0 with keep-alive', 'GET', head('HTTP/1.0 200 OK', 'Connection: Keep-Alive', 'Content-Length: 1'), { version: '1.0', keepAlive: true }],
  ['1.0 keep-alive and close', 'GET', head('HTTP/1.0 200 OK', 'Connection: keep-alive', 'Connection: close', 'Content-Length: 1'),
    { keepAlive: false }],
  ['1.0 keep-alive but no length', 'GET', head('HTTP/1.0 200 OK', 'Connection: keep-alive'), { framing: { kind: 'close' }, keepAlive: false }],
];

const malformed: ReadonlyArray<readonly [string, string, string]> = [
  ['empty', '', 'version'],
  ['HTTP/2', 'HTTP/2 200 OK', 'version'],
  ['HTTP/1.2', 'HTTP/1.2 200 OK', 'version'],
  ['lowercase', 'http/1.1 200 OK', 'version'],
  ['two spaces before status', 'HTTP/1.1  200 OK', 'status'],
  ['two-digit status', 'HTTP/1.1 20 OK', 'status'],
  ['four-digit status', 'HTTP/1.1 2000 OK', 'status line'],
  ['status 099', 'HTTP/1.1 099 X', 'status'],
  ['status 600', 'HTTP/1.1 600 X', 'status'],
  ['letters in status', 'HTTP/1.1 2x0 OK', 'status'],
  ['NUL in reason', 'HTTP/1.1 200 O\0K', 'status line'],
  ['bare LF after status line', 'HTTP/1.1 200 OK\nContent-Length: 0', 'line ending'],
  ['bare CR after status line', 'HTTP/1.1 200 OK\rContent-Length: 0', 'line ending'],
  ['bare LF between fields', 'HTTP/1.1 200 OK\r\nA: b\nContent-Length: 0', 'line ending'],
  ['blank line passed along', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n', 'empty line'],
  ['obs-fold', head('HTTP/1.1 200 OK', 'X: a', ' b', 'Content-Length: 0'), 'obs-fold'],
  ['space before colon', head('HTTP/1.1 200 OK', 'Content-Length : 0'), 'header name'],
  ['CTL in value', head('HTTP/1.1 200 OK', 'X: a\x01', 'Content-Length: 0'), 'header value'],
  ['gzip, chunked', head('HTTP/1.1 200 OK', 'Transfer-Encoding: gzip, chunked'), 'transfer-encoding'],
  ['chunked twice', head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'), 'transfer-encoding'],
  ['identity', head('HTTP/1.1 200 OK', 'Transfer-Encoding: identity'), 'transfer-encoding'],
  ['chunked in HTTP/1.0', head('HTTP/1.0 200 OK', 'Transfer-Encoding: chunked'), 'transfer-encoding'],
  ['Content-Length conflicting headers', head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6'), 'content-length'],
  ['Content-Length conflicting list', head('HTTP/1.1 200 OK', 'Content-Length: 5, 6'), 'content-length'],
  ['Content-Length empty element', head('HTTP/1.1 200 OK', 'Content-Length: 5,,5'), 'content-length'],
  ['Content-Length not digits', head('HTTP/1.1 200 OK', 'Content-Length: +5'), 'content-length'],
  ['Content-Length 16 digits', head('HTTP/1.1 200 OK', 'Content-Length: 1234567890123456'), 'content-length'],
];

for (const [name, method, text, expected] of accepted) {
  test(`accepts: ${name}`, (t) => {
    const result = parseResponseHead(text, method);
    if (!result.ok) return t.fail(`rejected: ${result.reason}`);
    t.like(result.head, expected);
  });
}

for (const [name, text, reason] of malformed) {
  test(`rejects: ${name}`, (t) => {
    t.deepEqual(parseResponseHead(text, 'GET'), { ok: false, reason });
  });
}

test('framing exemptions come before Transfer-Encoding checks', (t) => {
  // A HEAD or 304 answer carries no body, so an unsupported coding named in it does not matter.
  const result = parseResponseHead(head('HTTP/1.1 304 Not Modified', 'Transfer-Encoding: gzip'), 'GET');
  t.true(result.ok);
});
