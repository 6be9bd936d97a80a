/**
 * The fast path's byte-level header rewrite (lib/ingress/fast/head-rewrite.ts) must say exactly what the general
 * string rewrite (lib/ingress/headers.ts) says: table cases plus seeded random header lists, compared field by
 * field after parsing both outputs.
 */
import test from 'ava';
import { forwardRequestHeaders, forwardedResponseHead, requestHeadText } from '../../../lib/ingress/headers.ts';
import { parseRequestHeadBytes } from '../../../lib/ingress/http1/request-head.ts';
import { parseResponseHeadBytes } from '../../../lib/ingress/http1/response-head.ts';
import { HeadFields, latin1 } from '../../../lib/ingress/http1/tokens.ts';
import { forwardedLines, rewriteRequestHead, rewriteResponseHead } from '../../../lib/ingress/fast/head-rewrite.ts';

/** [first line, [name lower-cased, value trimmed]…] of a serialised head (up to its blank line). */
const fieldsOf = (text: string): [string, Array<[string, string]>] => {
  const end = text.indexOf('\r\n\r\n');
  const lines = text.slice(0, end).split('\r\n');
  return [
    lines[0]!,
    lines.slice(1).map((l) => {
      const colon = l.indexOf(':');
      return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')];
    }),
  ];
};

const fields = new HeadFields(256);

const viaBytes = (head: string, clientIp: string): string | undefined => {
  const src = Buffer.from(`${head}\r\n\r\n`, 'latin1');
  const parsed = parseRequestHeadBytes(src, src.length - 4, fields);
  if (!parsed.ok || parsed.head.connectionListsOthers) return undefined;
  const out = rewriteRequestHead(src, src.length - 4, fields, forwardedLines(clientIp, 'https', 8443), parsed.head.host, () => 'generated');
  return latin1(out, 0, out.length);
};

const viaStrings = (head: string, clientIp: string): string => {
  const src = Buffer.from(`${head}\r\n\r\n`, 'latin1');
  const parsed = parseRequestHeadBytes(src, src.length - 4, fields);
  if (!parsed.ok) throw new Error(parsed.reason);
  const flat = forwardRequestHeaders(fields.strings(src), {
    clientIp,
    proto: 'https',
    listenerPort: 8443,
    newRequestId: () => 'generated',
  }).headers;
  return requestHeadText(parsed.head.method, parsed.head.target, flat);
};

const requestCases: ReadonlyArray<readonly [string, string[]]> = [
  ['wrk', ['GET / HTTP/1.1', 'Host: localhost:8080']],
  ['hop-by-hop dropped', ['GET /a HTTP/1.1', 'Host: h', 'Connection: keep-alive', 'Keep-Alive: timeout=5', 'TE: trailers', 'Trailer: X', 'Proxy-Authorization: Basic x', 'Proxy: http://evil', 'Proxy-Connection: keep-alive', 'X-Keep: 1']],
  ['forwarded headers replaced, XFF appended over several headers', ['GET / HTTP/1.1', 'Host: app', 'X-Forwarded-For: 10.0.0.1, 10.0.0.2', 'x-forwarded-for:10.0.0.3 ', 'X-Forwarded-For:  ', 'X-Forwarded-Proto: http', 'X-Forwarded-Host: spoof', 'X-Forwarded-Port: 1', 'X-Real-IP: spoof']],
  ['sane request id kept', ['GET / HTTP/1.1', 'Host: h', 'X-Request-ID: abc-123']],
  ['insane request id replaced, second one ignored', ['GET / HTTP/1.1', 'Host: h', 'X-Request-ID: has space', 'X-Request-ID: ok']],
  ['dropped header first and last', ['POST /p HTTP/1.1', 'Connection: close', 'Host: h', 'Content-Length: 3', 'X-Real-IP: x']],
  ['only dropped headers besides Host', ['GET / HTTP/1.1', 'X-Real-IP: x', 'Host: h', 'Keep-Alive: 1']],
  ['odd OWS kept equivalent', ['GET / HTTP/1.1', 'Host:h', 'X-A: \t a b \t', 'X-Empty:']],
  ['obs-text in values', ['GET / HTTP/1.1', 'Host: caf\xe9', 'X: \xff']],
];

for (const [name, lines] of requestCases) {
  test(`request rewrite, bytes = strings: ${name}`, (t) => {
    for (const ip of ['192.0.2.1', '']) {
      const head = lines.join('\r\n');
      const bytes = viaBytes(head, ip);
      t.not(bytes, undefined);
      t.deepEqual(fieldsOf(bytes!), fieldsOf(viaStrings(head, ip)));
    }
  });
}

test('a Connection header naming other headers is left to the general rewrite', (t) => {
  t.is(viaBytes(['GET / HTTP/1.1', 'Host: h', 'Connection: X-Secret', 'X-Secret: 1'].join('\r\n'), '192.0.2.1'), undefined);
});

/** mulberry32 */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const NAMES = [
  'Accept', 'Connection', 'Keep-Alive', 'TE', 'Trailer', 'Proxy-Authorization', 'Proxy-Authenticate', 'Proxy',
  'Proxy-Connection', 'X-Forwarded-For', 'x-forwarded-proto', 'X-Forwarded-Host', 'X-FORWARDED-PORT', 'X-Real-IP',
  'X-Request-ID', 'Server', 'Content-Type', 'Set-Cookie', 'X-Custom', 'Date', 'ETag', 'Cache-Control',
];
const VALUES = ['', ' ', 'keep-alive', 'close', 'abc', ' 10.1.2.3 ', 'a b', '\t x\t', 'id-1', 'caf\xe9', 'x'.repeat(201)];

test('request rewrite, bytes = strings: 3000 seeded random header lists', (t) => {
  const random = seeded(20261121);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  let compared = 0;
  for (let n = 0; n < 3000; n++) {
    const lines = [pick(['GET / HTTP/1.1', 'POST /x?y=1 HTTP/1.1', 'DELETE /d HTTP/1.1'])];
    const count = Math.floor(random() * 10);
    const hostAt = Math.floor(random() * (count + 1));
    for (let i = 0; i <= count; i++) {
      if (i === hostAt) lines.push(`Host: ${pick(['h', 'app.test:8080', 'x'])}`);
      else lines.push(`${pick(NAMES)}:${pick(VALUES)}`);
    }
    const head = lines.join('\r\n');
    const bytes = viaBytes(head, '192.0.2.9');
    if (bytes === undefined) continue;
    compared++;
    const expected = fieldsOf(viaStrings(head, '192.0.2.9'));
    const actual = fieldsOf(bytes);
    if (JSON.stringify(actual) !== JSON.stringify(expected)) return t.deepEqual(actual, expected, head);
  }
  t.true(compared > 2000, `compared ${compared}`);
});

const responseViaBytes = (head: string, method: string, close: boolean, body: string): string | undefined => {
  const src = Buffer.from(`${head}\r\n\r\n${body}`, 'latin1');
  const end = src.indexOf('\r\n\r\n');
  const parsed = parseResponseHeadBytes(src, end, method, fields);
  if (!parsed.ok || parsed.head.connectionListsOthers) return undefined;
  const out = rewriteResponseHead(src, end, parsed.head, fields, close, end + 4, body.length);
  return latin1(out, 0, out.length);
};

const responseViaStrings = (head: string, method: string, close: boolean, body: string): string => {
  const src = Buffer.from(`${head}\r\n\r\n`, 'latin1');
  const parsed = parseResponseHeadBytes(src, src.length - 4, method, fields);
  if (!parsed.ok) throw new Error(parsed.reason);
  const p = parsed.head;
  const reason = p.reasonStart < p.lineEnd ? latin1(src, p.reasonStart, p.lineEnd) : '';
  return forwardedResponseHead(p.status, reason, fields.strings(src), p.framing.kind === 'chunked', close) + body;
};

const responseCases: ReadonlyArray<readonly [string, string[], string]> = [
  ['nginx 200', ['HTTP/1.1 200 OK', 'Server: nginx/1.22.1', 'Date: Sat, 21 Nov 2026 07:30:00 GMT', 'Content-Type: text/plain', 'Content-Length: 3', 'Connection: keep-alive'], 'ok\n'],
  ['HTTP/1.0 upgraded to 1.1 in the status line', ['HTTP/1.0 404 Not Found', 'Content-Length: 0'], ''],
  ['no reason phrase, no SP', ['HTTP/1.1 204', 'X-A: 1'], ''],
  ['empty reason phrase', ['HTTP/1.1 200 ', 'Content-Length: 0'], ''],
  ['chunked beside Content-Length: Content-Length dropped, TE re-added', ['HTTP/1.1 200 OK', 'Content-Length: 9', 'Transfer-Encoding: chunked', 'X-B: 2'], '0\r\n\r\n'],
  ['hop-by-hop dropped', ['HTTP/1.1 200 OK', 'Keep-Alive: timeout=5', 'Proxy-Authenticate: Basic', 'Upgrade: h2c', 'Trailer: X', 'Content-Length: 0'], ''],
  ['no fields at all', ['HTTP/1.1 200 OK'], 'body until close'],
];

for (const [name, lines, body] of responseCases) {
  test(`response rewrite, bytes = strings: ${name}`, (t) => {
    for (const close of [false, true]) {
      const head = lines.join('\r\n');
      const bytes = responseViaBytes(head, 'GET', close, body);
      t.not(bytes, undefined);
      const expected = responseViaStrings(head, 'GET', close, body);
      t.deepEqual(fieldsOf(bytes!), fieldsOf(expected));
      t.is(bytes!.slice(bytes!.indexOf('\r\n\r\n') + 4), body, 'body follows the head');
    }
  });
}

test('response rewrite, bytes = strings: 3000 seeded random header lists', (t) => {
  const random = seeded(112026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  let compared = 0;
  for (let n = 0; n < 3000; n++) {
    const lines = [pick(['HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.0 200 OK', 'HTTP/1.1 304', 'HTTP/1.1 500 '])];
    const count = Math.floor(random() * 10);
    for (let i = 0; i < count; i++) lines.push(`${pick([...NAMES, 'Content-Length', 'Transfer-Encoding'])}: ${pick([...VALUES, '0', 'chunked'])}`);
    const head = lines.join('\r\n');
    const close = random() < 0.5;
    const method = pick(['GET', 'HEAD']);
    const bytes = responseViaBytes(head, method, close, 'xyz');
    if (bytes === undefined) continue;
    compared++;
    const expected = fieldsOf(responseViaStrings(head, method, close, 'xyz'));
    if (JSON.stringify(fieldsOf(bytes)) !== JSON.stringify(expected)) return t.deepEqual(fieldsOf(bytes), expected, head);
  }
  t.true(compared > 300, `compared ${compared}`);
});
