import test from 'ava';
import { MAX_REQUEST_FIELDS, parseRequestHead, type RequestHead } from '../../../lib/ingress/http1/request-head.ts';

const head = (...lines: string[]): string => lines.join('\r\n');

const accepted: ReadonlyArray<readonly [string, string, Partial<RequestHead>]> = [
  ['wrk-like GET', head('GET / HTTP/1.1', 'Host: localhost:8080'),
    { method: 'GET', target: '/', host: 'localhost:8080', contentLength: 0, keepAlive: true, rawHeaders: ['Host', 'localhost:8080'] }],
  ['query and fragment kept verbatim', head('GET /a/b?c=d&e#f HTTP/1.1', 'Host: h'), { target: '/a/b?c=d&e#f' }],
  ['every VCHAR in the target', head(`GET /${vchars()} HTTP/1.1`, 'Host: h'), { target: `/${vchars()}` }],
  ['other known methods', head('DELETE /x HTTP/1.1', 'Host: h'), { method: 'DELETE' }],
  ['M-SEARCH', head('M-SEARCH / HTTP/1.1', 'Host: h'), { method: 'M-SEARCH' }],
  ['POST with Content-Length', head('POST /p HTTP/1.1', 'Host: h', 'Content-Length: 42'), { method: 'POST', contentLength: 42 }],
  ['Content-Length with leading zeros', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 007'), { contentLength: 7 }],
  ['15-digit Content-Length', head('POST / HTTP/1.1', 'Host: h', 'content-length: 999999999999999'), { contentLength: 999999999999999 }],
  ['Content-Length 0', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 0'), { contentLength: 0 }],
  ['names case-insensitive, kept as sent', head('GET / HTTP/1.1', 'hOsT: h', 'CONTENT-length: 3'),
    { host: 'h', contentLength: 3, rawHeaders: ['hOsT', 'h', 'CONTENT-length', '3'] }],
  ['values trimmed of SP/HTAB, inner kept', head('GET / HTTP/1.1', 'Host:\t h \t', 'X-A:  a \t b  '),
    { host: 'h', rawHeaders: ['Host', 'h', 'X-A', 'a \t b'] }],
  ['no OWS after colon', head('GET / HTTP/1.1', 'Host:h'), { host: 'h' }],
  ['empty values', head('GET / HTTP/1.1', 'Host:', 'X-Empty:   '), { host: '', rawHeaders: ['Host', '', 'X-Empty', ''] }],
  ['obs-text in values', head('GET / HTTP/1.1', 'Host: h', 'X: caf\xe9 \xff'), { rawHeaders: ['Host', 'h', 'X', 'caf\xe9 \xff'] }],
  ['colon inside value', head('GET / HTTP/1.1', 'Host: h:80', 'X: a:b'), { host: 'h:80' }],
  ['every tchar in a name', head('GET / HTTP/1.1', 'Host: h', "!#$%&'*+-.^_`|~09azAZ: v"),
    { rawHeaders: ['Host', 'h', "!#$%&'*+-.^_`|~09azAZ", 'v'] }],
  ['Connection: close', head('GET / HTTP/1.1', 'Host: h', 'Connection: close'), { keepAlive: false }],
  ['Connection close in a list, any case', head('GET / HTTP/1.1', 'Host: h', 'Connection: keep-alive ,\tCLOSE'), { keepAlive: false }],
  ['close in a later Connection header', head('GET / HTTP/1.1', 'Host: h', 'Connection: keep-alive', 'Connection: Close'), { keepAlive: false }],
  ['Connection keep-alive', head('GET / HTTP/1.1', 'Host: h', 'Connection: keep-alive'), { keepAlive: true }],
  ['close as part of another token', head('GET / HTTP/1.1', 'Host: h', 'Connection: closed, xclose, close x'), { keepAlive: true }],
  ['exactly 100 fields', head('GET / HTTP/1.1', 'Host: h', ...fields(MAX_REQUEST_FIELDS - 1)), { host: 'h' }],
];

const handedOff: ReadonlyArray<readonly [string, string, string]> = [
  ['empty text', '', 'method'],
  ['HTTP/1.0', head('GET / HTTP/1.0', 'Host: h'), 'version'],
  ['HTTP/2.0', head('GET / HTTP/2.0', 'Host: h'), 'version'],
  ['lowercase version', head('GET / http/1.1', 'Host: h'), 'version'],
  ['trailing junk after version', head('GET / HTTP/1.11', 'Host: h'), 'version'],
  ['trailing space after version', head('GET / HTTP/1.1 ', 'Host: h'), 'version'],
  ['unknown method', head('FOO / HTTP/1.1', 'Host: h'), 'method'],
  ['lowercase method', head('get / HTTP/1.1', 'Host: h'), 'method'],
  ['CONNECT', head('CONNECT h:443 HTTP/1.1', 'Host: h'), 'method'],
  ['non-tchar in method', head('GE(T / HTTP/1.1', 'Host: h'), 'method'],
  ['leading space', head(' GET / HTTP/1.1', 'Host: h'), 'method'],
  ['double space before target', head('GET  / HTTP/1.1', 'Host: h'), 'target'],
  ['double space before version', head('GET /  HTTP/1.1', 'Host: h'), 'version'],
  ['absolute-form', head('GET http://h/ HTTP/1.1', 'Host: h'), 'target'],
  ['asterisk-form', head('OPTIONS * HTTP/1.1', 'Host: h'), 'target'],
  ['HTAB in target', head('GET /a\tb HTTP/1.1', 'Host: h'), 'target'],
  ['DEL in target', head('GET /a\x7fb HTTP/1.1', 'Host: h'), 'target'],
  ['obs-text in target', head('GET /caf\xe9 HTTP/1.1', 'Host: h'), 'target'],
  ['NUL in target', head('GET /a\0 HTTP/1.1', 'Host: h'), 'target'],
  ['request line only', 'GET / HTTP/1.1', 'host'],
  ['bare LF after request line', 'GET / HTTP/1.1\nHost: h', 'line ending'],
  ['bare CR after request line', 'GET / HTTP/1.1\rHost: h', 'line ending'],
  ['bare LF between fields', 'GET / HTTP/1.1\r\nHost: h\nX: y', 'line ending'],
  ['bare CR inside a value', 'GET / HTTP/1.1\r\nHost: h\rX: y', 'line ending'],
  ['CR at the very end', 'GET / HTTP/1.1\r\nHost: h\r', 'line ending'],
  ['text ends with CRLF (blank line passed along)', 'GET / HTTP/1.1\r\nHost: h\r\n', 'empty line'],
  ['empty line inside', 'GET / HTTP/1.1\r\n\r\nHost: h', 'empty line'],
  ['obs-fold (SP)', head('GET / HTTP/1.1', 'Host: h', 'X: a', ' b'), 'obs-fold'],
  ['obs-fold (HTAB)', head('GET / HTTP/1.1', 'Host: h', 'X: a', '\tb'), 'obs-fold'],
  ['space before colon', head('GET / HTTP/1.1', 'Host : h'), 'header name'],
  ['empty name', head('GET / HTTP/1.1', 'Host: h', ': v'), 'header name'],
  ['no colon', head('GET / HTTP/1.1', 'Host: h', 'X-No-Colon'), 'header name'],
  ['non-tchar in name', head('GET / HTTP/1.1', 'Host: h', 'X(y): v'), 'header name'],
  ['NUL in value', head('GET / HTTP/1.1', 'Host: h', 'X: a\0b'), 'header value'],
  ['DEL in value', head('GET / HTTP/1.1', 'Host: h', 'X: a\x7fb'), 'header value'],
  ['VT in value', head('GET / HTTP/1.1', 'Host: h', 'X: a\x0bb'), 'header value'],
  ['non-latin1 char in value', head('GET / HTTP/1.1', 'Host: h', 'X: a\u0100'), 'header value'],
  ['Transfer-Encoding', head('POST / HTTP/1.1', 'Host: h', 'Transfer-Encoding: chunked'), 'transfer-encoding'],
  ['Transfer-Encoding any case, any value', head('POST / HTTP/1.1', 'Host: h', 'transfer-ENCODING: identity'), 'transfer-encoding'],
  ['Upgrade', head('GET / HTTP/1.1', 'Host: h', 'Connection: Upgrade', 'Upgrade: websocket'), 'upgrade'],
  ['Expect', head('POST / HTTP/1.1', 'Host: h', 'Expect: 100-continue', 'Content-Length: 1'), 'expect'],
  ['HTTP2-Settings', head('GET / HTTP/1.1', 'Host: h', 'HTTP2-Settings: AAA'), 'http2-settings'],
  ['no Host', head('GET / HTTP/1.1', 'X: y'), 'host'],
  ['two Host', head('GET / HTTP/1.1', 'Host: a', 'host: a'), 'host'],
  ['Content-Length not digits', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 1a'), 'content-length'],
  ['Content-Length negative', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: -1'), 'content-length'],
  ['Content-Length empty', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: '), 'content-length'],
  ['Content-Length 16 digits', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 1000000000000000'), 'content-length'],
  ['Content-Length inner space', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 1 2'), 'content-length'],
  // llhttp refuses these even when the values agree, so they go to node:http for its 400.
  ['Content-Length list', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 5, 5'), 'content-length'],
  ['Content-Length twice, equal', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 5', 'Content-Length: 5'), 'content-length'],
  ['Content-Length twice, different', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 5', 'Content-Length: 6'), 'content-length'],
  ['101 fields', head('GET / HTTP/1.1', 'Host: h', ...fields(MAX_REQUEST_FIELDS)), 'too many headers'],
];

for (const [name, text, expected] of accepted) {
  test(`accepts: ${name}`, (t) => {
    const result = parseRequestHead(text);
    if (!result.ok) return t.fail(`handed off: ${result.reason}`);
    t.like(result.head, expected);
  });
}

for (const [name, text, reason] of handedOff) {
  test(`hands off: ${name}`, (t) => {
    t.deepEqual(parseRequestHead(text), { ok: false, reason });
  });
}

test('a typical browser request comes back whole', (t) => {
  const text = head(
    'GET /static/app.js?v=3 HTTP/1.1',
    'Host: shop.example.com',
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    'Accept: */*',
    'Accept-Language: en-US,en;q=0.5',
    'Accept-Encoding: gzip, deflate, br, zstd',
    'Referer: https://shop.example.com/',
    'Cookie: session=abc123; theme=dark',
    'Connection: keep-alive',
  );
  t.deepEqual(parseRequestHead(text), {
    ok: true,
    head: {
      method: 'GET', target: '/static/app.js?v=3', host: 'shop.example.com', contentLength: 0, keepAlive: true,
      rawHeaders: [
        'Host', 'shop.example.com',
        'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
        'Accept', '*/*',
        'Accept-Language', 'en-US,en;q=0.5',
        'Accept-Encoding', 'gzip, deflate, br, zstd',
        'Referer', 'https://shop.example.com/',
        'Cookie', 'session=abc123; theme=dark',
        'Connection', 'keep-alive',
      ],
    },
  });
});

function vchars(): string {
  let s = '';
  for (let c = 0x21; c <= 0x7e; c++) s += String.fromCharCode(c);
  return s;
}

function fields(count: number): string[] {
  return Array.from({ length: count }, (_, n) => `X-F${n}: ${n}`);
}

test('100 fields are all kept, in order', (t) => {
  const result = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', ...fields(MAX_REQUEST_FIELDS - 1)));
  if (!result.ok) return t.fail(result.reason);
  t.is(result.head.rawHeaders.length, MAX_REQUEST_FIELDS * 2);
  t.deepEqual(result.head.rawHeaders.slice(-2), [`X-F${MAX_REQUEST_FIELDS - 2}`, `${MAX_REQUEST_FIELDS - 2}`]);
});

test('Proxy-Connection: close closes too, as llhttp does', (t) => {
  const result = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', 'Proxy-Connection: Close'));
  t.like(result, { ok: true, head: { keepAlive: false } });
});
