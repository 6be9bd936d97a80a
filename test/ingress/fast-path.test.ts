/**
 * IngressServer's fast path (lib/ingress/fast) over raw sockets: exact request bytes from the client, exact
 * response bytes from raw backends. Covers pipelining, hand-off to node:http mid-connection, upstream framings,
 * stale and poisoned keep-alive upstream connections, broken upstreams, large bodies with backpressure, client
 * disconnects, connection management, timeouts, drain, and TLS.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { IngressServer, type IngressServerOptions } from '../../lib/ingress/server.ts';
import type { RouteTable } from '../../lib/ingress/types.ts';
import { delay, haveOpenssl, local, routeTable } from './helpers.ts';
import {
  get, okResponse, rawClient, readHead, readResponse, startRawBackend, tlsClient,
  type ByteStream, type RawBackend, type RawHandler, type RawResponse,
} from './raw-helpers.ts';

const HOST = 'fast.test';

const startProxy = async (
  t: ExecutionContext,
  table: RouteTable,
  options: Partial<IngressServerOptions> = {},
): Promise<{ proxy: IngressServer; port: number }> => {
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port: 0 }, ...options });
  proxy.setRouteTable(table);
  await proxy.start();
  t.teardown(() => proxy.stop(0));
  const bound = proxy.addresses();
  return { proxy, port: (bound.http ?? bound.https)!.port };
};

/** Every path on every host goes to the backend on `port`. */
const everything = (port: number): RouteTable => routeTable([{ rules: [{ paths: [['/', 'Prefix', 's']] }] }], { s: [local(port)] });

/** Only HOST routes to the backend on `port`; other hosts get 404. */
const onlyHost = (port: number): RouteTable =>
  routeTable([{ rules: [{ host: HOST, paths: [['/', 'Prefix', 's']] }] }], { s: [local(port)] });

const backend = async (t: ExecutionContext, handler: RawHandler): Promise<RawBackend> => {
  const b = await startRawBackend(handler);
  t.teardown(() => b.close());
  return b;
};

const client = async (t: ExecutionContext, port: number): Promise<ByteStream> => {
  const c = await rawClient(port);
  t.teardown(() => void c.socket.destroy());
  return c;
};

interface Echoed {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly body: string;
  readonly headers: Record<string, string>;
  readonly conn: number;
}

/** Answers every request with what it saw, as JSON with a Content-Length. */
const echoHandler: RawHandler = (req, conn) => {
  const seen: Echoed = {
    method: req.method,
    target: req.target,
    version: req.version,
    body: req.body.toString('latin1'),
    headers: req.headers as Record<string, string>,
    conn: conn.index,
  };
  conn.stream.write(okResponse(JSON.stringify(seen), 'Content-Type: application/json\r\n'));
};

const echoed = (r: RawResponse): Echoed => JSON.parse(r.payload.toString('latin1')) as Echoed;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const CHUNKED_POST = `POST /chunked HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`;

// 1. Pipelining

test('pipelining: three GETs in one write get three responses in order, each for its own path', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/one') + get('/two?x=2') + get('/three'));
  for (const path of ['/one', '/two?x=2', '/three']) {
    const r = await readResponse(c);
    t.is(r.status, 200, path);
    t.is(echoed(r).target, path);
    t.is(echoed(r).headers['host'], HOST);
    t.is(r.headers['server'], 'switchyard');
  }
  t.is(b.requests.length, 3);
  t.is(c.buffered, 0, 'nothing but the three responses');
});

test('pipelining with a body: POST with Content-Length and a GET in one write; body split exactly', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(`POST /p HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 7\r\n\r\nGET /x ${get('/after')}`);
  const post = await readResponse(c);
  t.is(echoed(post).body, 'GET /x ', 'exactly Content-Length bytes are body');
  t.is(echoed(await readResponse(c)).target, '/after');
});

test('client half-close right after a request: the whole response arrives, then the proxy closes', async (t) => {
  const b = await backend(t, async (req, conn) => {
    await delay(100);
    return echoHandler(req, conn);
  });
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/half'));
  c.socket.end();
  const r = await readResponse(c);
  t.is(echoed(r).target, '/half');
  t.true(await c.endsWithin(1000));
});

test('pipelined requests followed by a half-close: every buffered request is answered, then the proxy closes', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/a') + get('/b') + get('/c'));
  c.socket.end();
  for (const path of ['/a', '/b', '/c']) t.is(echoed(await readResponse(c)).target, path);
  t.true(await c.endsWithin(1000));
});

test('thousands of pipelined requests answered locally (404) are served in order without deep recursion', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, onlyHost(b.port));
  const c = await client(t, port);
  const count = 5000;
  let batch = '';
  for (let i = 0; i < count; i++) batch += get(`/n${i}`, 'elsewhere.test');
  c.write(batch + get('/last'));
  for (let i = 0; i < count; i++) {
    const r = await readResponse(c);
    if (r.status !== 404) return t.fail(`request ${i}: ${r.status}`);
  }
  t.is(echoed(await readResponse(c)).target, '/last');
  t.is(b.requests.length, 1);
});

test('a repeated identical head gets a fresh X-Request-ID each time; a client-sent id is forwarded each time', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  const ids = new Set<string>();
  for (let i = 0; i < 3; i++) {
    c.write(get('/same'));
    const seen = echoed(await readResponse(c));
    t.is(seen.target, '/same');
    t.regex(seen.headers['x-request-id'] ?? '', /^[0-9a-f]{32}$/);
    ids.add(seen.headers['x-request-id']!);
  }
  t.is(ids.size, 3, 'three different generated ids');
  for (let i = 0; i < 2; i++) {
    c.write(get('/same', HOST, 'X-Request-ID: client-chosen-1\r\n'));
    t.is(echoed(await readResponse(c)).headers['x-request-id'], 'client-chosen-1');
  }
});

test('a repeated identical head follows a route table swap on the same connection', async (t) => {
  const first = await backend(t, echoHandler);
  const second = await backend(t, echoHandler);
  const { proxy, port } = await startProxy(t, everything(first.port));
  const c = await client(t, port);
  c.write(get('/r'));
  await readResponse(c);
  c.write(get('/r'));
  await readResponse(c);
  proxy.setRouteTable(everything(second.port));
  c.write(get('/r'));
  await readResponse(c);
  t.is(first.requests.length, 2);
  t.is(second.requests.length, 1);
});

test('repeated upstream response heads: identical heads, a changed one, and the same head for HEAD then GET', async (t) => {
  const SAME = 'HTTP/1.1 200 OK\r\nServer: up/1\r\nX-V: one\r\nContent-Length: 5\r\n\r\n';
  const b = await backend(t, (req, conn) => {
    if (req.method === 'HEAD') return void conn.stream.write(SAME);
    if (req.target === '/changed') return void conn.stream.write('HTTP/1.1 200 OK\r\nServer: up/1\r\nX-V: two\r\nContent-Length: 5\r\n\r\nhallo');
    return void conn.stream.write(`${SAME}hello`);
  });
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  const expectOne = async (method: string, path: string, v: string, body: string) => {
    c.write(`${method} ${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    const r = await readResponse(c, method);
    t.is(r.headers['x-v'], v, `${method} ${path}`);
    t.is(r.headers['server'], 'switchyard');
    t.is(r.headers['content-length'], '5');
    t.is(r.payload.toString('latin1'), body);
  };
  await expectOne('GET', '/a', 'one', 'hello');
  await expectOne('GET', '/a', 'one', 'hello');
  await expectOne('GET', '/changed', 'two', 'hallo');
  await expectOne('HEAD', '/a', 'one', '');
  await expectOne('GET', '/a', 'one', 'hello');
  await expectOne('HEAD', '/a', 'one', '');
  t.is(b.connections.length, 1, 'all on one upstream connection');
  t.is(c.buffered, 0);
});

// 2. Hand-off to node:http mid-connection

test('hand-off mid-connection: fast GET, chunked POST (node:http), GET again, one after another on one connection', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/first'));
  const first = await readResponse(c);
  t.is(echoed(first).target, '/first');
  c.write(CHUNKED_POST);
  const post = await readResponse(c);
  t.is(post.status, 200);
  t.is(echoed(post).method, 'POST');
  t.is(echoed(post).body, 'hello world', 'the backend sees the decoded 11-byte body');
  t.is(echoed(post).body.length, 11);
  c.write(get('/third'));
  const third = await readResponse(c);
  t.is(third.status, 200);
  t.is(echoed(third).target, '/third');
  t.false(c.ended, 'the connection stays open');
});

test('hand-off mid-connection with everything pipelined in one write', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/first') + CHUNKED_POST + get('/third'));
  t.is(echoed(await readResponse(c)).target, '/first');
  const post = await readResponse(c);
  t.is(echoed(post).target, '/chunked');
  t.is(echoed(post).body, 'hello world');
  t.is(echoed(await readResponse(c)).target, '/third');
});

test('each hand-off reports its reason to onHandoff (the metrics hook); fast requests report nothing', async (t) => {
  const b = await backend(t, echoHandler);
  const reasons: string[] = [];
  const { port } = await startProxy(t, everything(b.port), { onHandoff: (reason) => reasons.push(reason) });
  const fast = await client(t, port);
  fast.write(get('/one') + get('/two'));
  await readResponse(fast);
  await readResponse(fast);
  t.deepEqual(reasons, []);
  const chunked = await client(t, port);
  chunked.write(CHUNKED_POST);
  t.is((await readResponse(chunked)).status, 200);
  const old = await client(t, port);
  old.write(`GET /old HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`);
  t.is((await readResponse(old)).status, 200);
  t.deepEqual(reasons, ['transfer-encoding', 'version']);
});

test('Expect: 100-continue is handed off: 100 Continue, then the answer; the backend never sees Expect', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/before'));
  t.is(echoed(await readResponse(c)).target, '/before');
  c.write(`POST /expect HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
  const interim = await readResponse(c);
  t.is(interim.status, 100);
  c.write('hello');
  const final = await readResponse(c);
  t.is(final.status, 200);
  t.is(echoed(final).body, 'hello');
  t.is(echoed(final).headers['expect'], undefined);
});

test('an HTTP/1.0 request is handed off and served, then the connection closes', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(`GET /old HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`);
  const r = await readResponse(c);
  t.is(r.status, 200);
  t.is(echoed(r).target, '/old');
  t.true(await c.endsWithin(2000), 'no keep-alive for HTTP/1.0 without Keep-Alive');
});

const malformed: ReadonlyArray<readonly [string, string]> = [
  ['space before colon', `GET /bad HTTP/1.1\r\nHost : ${HOST}\r\n\r\n`],
  ['bare LF inside a CRLF head', `GET /bad HTTP/1.1\r\nHost: ${HOST}\r\nX-A: 1\nX-B: 2\r\n\r\n`],
  ['bare LF line endings throughout', `GET /bad HTTP/1.1\nHost: ${HOST}\n\n`],
  ['head ended by LF CR LF', `GET /bad HTTP/1.1\r\nHost: ${HOST}\n\r\n`],
];

for (const [name, bytes] of malformed) {
  test(`malformed request (${name}) after a fast GET: 400 from node:http within 2 s, never forwarded`, async (t) => {
    const b = await backend(t, echoHandler);
    const { port } = await startProxy(t, everything(b.port));
    const c = await client(t, port);
    c.write(get('/ok'));
    t.is((await readResponse(c)).status, 200);
    c.write(bytes);
    const r = await readResponse(c, 'GET', 2000);
    t.is(r.status, 400);
    t.true(await c.endsWithin(2000));
    t.deepEqual(b.requests.map((q) => q.target), ['/ok']);
  });
}

// 3. Upstream framings

const FRAMED: Record<string, string> = {
  '/chunked-ext':
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n' +
    '5;ext=1\r\nhello\r\n6;a=b;quoted="x y"\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n',
  '/cl-and-chunked': 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  '/204': 'HTTP/1.1 204 No Content\r\nX-Kind: 204\r\n\r\n',
  '/304': 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: "abc"\r\n\r\n',
  '/hints': 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
};

/** Answers FRAMED paths with their exact bytes, HEAD with a Content-Length: 5 head only, everything else by echo. */
const framedHandler: RawHandler = (req, conn) => {
  if (req.method === 'HEAD') return void conn.stream.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Kind: head\r\n\r\n');
  if (req.target === '/close-delimited') {
    conn.stream.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil');
    setTimeout(() => conn.stream.socket.end(' the end'), 50);
    return;
  }
  const framed = FRAMED[req.target];
  if (framed !== undefined) return void conn.stream.write(framed);
  return echoHandler(req, conn);
};

test('chunked upstream response with chunk extensions and a trailer is passed through byte for byte', async (t) => {
  const b = await backend(t, framedHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/chunked-ext'));
  const r = await readResponse(c);
  t.is(r.status, 200);
  t.is(r.headers['transfer-encoding'], 'chunked');
  t.is(r.headers['content-length'], undefined);
  t.is(r.body.toString('latin1'), '5;ext=1\r\nhello\r\n6;a=b;quoted="x y"\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n');
  t.is(r.payload.toString('latin1'), 'hello world');
  c.write(get('/after'));
  t.is(echoed(await readResponse(c)).target, '/after', 'the end of the chunked body was found exactly');
});

test('Content-Length beside chunked: forwarded chunked, without Content-Length; that upstream connection is not reused', async (t) => {
  const b = await backend(t, framedHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/cl-and-chunked'));
  const r = await readResponse(c);
  t.is(r.headers['transfer-encoding'], 'chunked');
  t.is(r.headers['content-length'], undefined);
  t.is(r.body.toString('latin1'), '5\r\nhello\r\n0\r\n\r\n');
  c.write(get('/after'));
  const after = await readResponse(c);
  t.is(echoed(after).target, '/after');
  t.is(echoed(after).conn, 1, 'a fresh upstream connection after a suspect response');
});

test('close-delimited upstream response: whole body, connection: close, then the client connection closes', async (t) => {
  const b = await backend(t, framedHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/close-delimited'));
  const r = await readResponse(c);
  t.is(r.status, 200);
  t.is(r.headers['connection'], 'close');
  t.is(r.headers['content-length'], undefined);
  t.is(r.headers['transfer-encoding'], undefined);
  t.is(r.framing, 'close');
  t.is(r.body.toString('latin1'), 'until the end');
  t.true(c.ended);
});

test('HEAD with Content-Length: 5 and no body: no body reaches the client, the connection stays usable', async (t) => {
  const b = await backend(t, framedHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(`HEAD /thing HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  const r = await readResponse(c, 'HEAD');
  t.is(r.status, 200);
  t.is(r.headers['content-length'], '5');
  await delay(100);
  t.is(c.buffered, 0, 'no body bytes after the HEAD response');
  c.write(get('/next'));
  const next = await readResponse(c);
  t.is(echoed(next).target, '/next');
  t.is(echoed(next).conn, 0, 'the upstream connection was reused too');
});

for (const status of [204, 304] as const) {
  test(`${status} response has no body; the connection stays usable`, async (t) => {
    const b = await backend(t, framedHandler);
    const { port } = await startProxy(t, everything(b.port));
    const c = await client(t, port);
    c.write(get(`/${status}`));
    const r = await readResponse(c);
    t.is(r.status, status);
    if (status === 304) t.is(r.headers['etag'], '"abc"');
    await delay(100);
    t.is(c.buffered, 0, 'no body bytes');
    c.write(get('/next'));
    const next = await readResponse(c);
    t.is(echoed(next).target, '/next');
    t.is(echoed(next).conn, 0, 'the upstream connection was reused too');
  });
}

test('upstream response dribbled one byte per write (head, chunked body, trailer) arrives exactly', async (t) => {
  const bytes = Buffer.from(FRAMED['/chunked-ext']!, 'latin1');
  const b = await backend(t, async (req, conn) => {
    if (req.target !== '/dribble') return echoHandler(req, conn);
    for (let i = 0; i < bytes.length; i++) {
      conn.stream.write(bytes.subarray(i, i + 1));
      await delay(1);
    }
  });
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/dribble'));
  const r = await readResponse(c);
  t.is(r.status, 200);
  t.is(r.body.toString('latin1'), FRAMED['/chunked-ext']!.slice(FRAMED['/chunked-ext']!.indexOf('\r\n\r\n') + 4));
  c.write(get('/after'));
  const after = await readResponse(c);
  t.is(echoed(after).target, '/after');
  t.is(echoed(after).conn, 0, 'the upstream connection was reused: the end was found exactly');
});

test('103 Early Hints before a 200: both reach the client, in order', async (t) => {
  const b = await backend(t, framedHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/hints'));
  const hints = await readResponse(c);
  t.is(hints.status, 103);
  t.is(hints.headers['link'], '</style.css>; rel=preload');
  const final = await readResponse(c);
  t.is(final.status, 200);
  t.is(final.body.toString('latin1'), 'ok');
  c.write(get('/next'));
  t.is(echoed(await readResponse(c)).target, '/next');
});

// 4. Stale keep-alive upstream connections

/** Answers the first request on each connection (keep-alive); closes on the second without answering. */
const staleHandler: RawHandler = (req, conn) => {
  if (conn.served === 0) return echoHandler(req, conn);
  conn.stream.socket.end();
};

test('stale keep-alive upstream connection: a GET is retried on a fresh connection and answered 200', async (t) => {
  const b = await backend(t, staleHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/1'));
  t.is(echoed(await readResponse(c)).conn, 0);
  c.write(get('/2'));
  const r = await readResponse(c);
  t.is(r.status, 200);
  t.is(echoed(r).target, '/2');
  t.is(echoed(r).conn, 1);
  t.deepEqual(b.requests.map((q) => q.target), ['/1', '/2', '/2']);
});

test('stale keep-alive upstream connection: a POST with a body is not resent (502)', async (t) => {
  const b = await backend(t, staleHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/1'));
  t.is((await readResponse(c)).status, 200);
  c.write(`POST /p HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 3\r\n\r\nabc`);
  const r = await readResponse(c);
  t.is(r.status, 502);
  t.deepEqual(b.requests.map((q) => q.target), ['/1', '/p']);
  t.is(b.connections.length, 1, 'no second attempt');
});

// 5. Garbage after a complete response

for (const [when, gap] of [['in the same write', 0], ['a moment later', 30]] as const) {
  test(`garbage after a complete response (${when}): response intact, that connection is not reused`, async (t) => {
    const b = await backend(t, (req, conn) => {
      if (conn.index !== 0) return echoHandler(req, conn);
      if (gap === 0) return void conn.stream.write(Buffer.concat([okResponse('ok'), Buffer.from('GARBAGE\r\n\r\n')]));
      conn.stream.write(okResponse('ok'));
      setTimeout(() => conn.stream.write('HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nGARBAGE'), gap);
    });
    const { port } = await startProxy(t, everything(b.port));
    const c = await client(t, port);
    c.write(get('/1'));
    const first = await readResponse(c);
    t.is(first.status, 200);
    t.is(first.body.toString('latin1'), 'ok');
    await delay(150);
    t.is(c.buffered, 0, 'no garbage reaches the client');
    c.write(get('/2'));
    const second = await readResponse(c);
    t.is(second.status, 200);
    t.is(echoed(second).target, '/2');
    t.is(b.connections.length, 2, 'the backend saw a new connection');
    t.is(echoed(second).conn, 1);
  });
}

// 6. Broken upstream responses

test('malformed upstream status line (2OO) → 502; the client connection stays usable', async (t) => {
  const b = await backend(t, (req, conn) => {
    if (req.target === '/bad') return void conn.stream.write('HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n');
    return echoHandler(req, conn);
  });
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/bad'));
  const r = await readResponse(c);
  t.is(r.status, 502);
  c.write(get('/good'));
  t.is(echoed(await readResponse(c)).target, '/good');
});

test('upstream Content-Length mismatch (10 announced, 3 sent, then close): the client connection is cut short', async (t) => {
  const b = await backend(t, (_req, conn) => {
    conn.stream.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    setTimeout(() => conn.stream.socket.end(), 50);
  });
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/short'));
  const head = await readHead(c);
  t.regex(head.startLine, /^HTTP\/1\.1 200 /);
  t.is(head.headers['content-length'], '10');
  const rest = await c.readToEnd(3000);
  t.true(rest.length < 10, `got ${rest.length} body bytes`);
  t.true('abc'.startsWith(rest.toString('latin1')));
  t.true(c.ended);
});

// 7. Large bodies

test('a 5 MiB response read slowly by the client arrives byte-exact', async (t) => {
  const body = randomBytes(5 * 1024 * 1024);
  const b = await backend(t, (_req, conn) => void conn.stream.write(okResponse(body)));
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.socket.pause();
  c.write(get('/big'));
  await delay(300); // every buffer on the way fills up: the proxy must hold the upstream back
  c.socket.resume();
  const head = await readHead(c);
  t.is(head.headers['content-length'], String(body.length));
  const hash = createHash('sha256');
  let left = body.length;
  while (left > 0) {
    c.socket.resume();
    const part = await c.readExact(Math.min(left, 64 * 1024, Math.max(1, c.buffered)));
    c.socket.pause();
    hash.update(part);
    left -= part.length;
    await delay(1);
  }
  c.socket.resume();
  t.is(hash.digest('hex'), sha256(body));
  c.write(get('/again'));
  t.is((await readResponse(c)).headers['content-length'], String(body.length));
});

test('a body queued for a stalled client survives reads on another upstream connection', async (t) => {
  // Upstream reads share one buffer. A write the stalled client cannot take yet is queued; it must not point into
  // that buffer, or the other connection's reads would rewrite the queued bytes.
  const stalled = randomBytes(12 * 1024 * 1024);
  const flowing = randomBytes(1024 * 1024);
  const b = await backend(t, async (req, conn) => {
    const body = req.target === '/stalled' ? stalled : flowing;
    conn.stream.write(Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`));
    for (let i = 0; i < body.length; i += 8192) {
      if (!conn.stream.socket.write(body.subarray(i, i + 8192))) await new Promise((r) => conn.stream.socket.once('drain', r));
      else await new Promise(setImmediate);
    }
  });
  const { port } = await startProxy(t, everything(b.port));
  const a = await client(t, port);
  a.socket.pause();
  a.write(get('/stalled'));
  await delay(500); // every buffer between the proxy and `a` fills up; the proxy queues and holds the upstream back
  const c = await client(t, port);
  c.write(get('/flowing'));
  const flowed = await readResponse(c);
  t.is(sha256(flowed.payload), sha256(flowing));
  a.socket.resume();
  const head = await readHead(a);
  t.is(sha256(await a.readExact(Number(head.headers['content-length']))), sha256(stalled));
});

test('a 3 MiB request body with Content-Length arrives byte-exact at the backend', async (t) => {
  const body = randomBytes(3 * 1024 * 1024);
  const b = await backend(t, (req, conn) => void conn.stream.write(okResponse(`${req.body.length} ${sha256(req.body)}`)));
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(`PUT /upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${body.length}\r\n\r\n`);
  for (let i = 0; i < body.length; i += 256 * 1024) {
    c.write(body.subarray(i, i + 256 * 1024));
    if (i % (1024 * 1024) === 0) await delay(20);
  }
  const r = await readResponse(c, 'PUT', 10_000);
  t.is(r.body.toString('latin1'), `${body.length} ${sha256(body)}`);
  c.write(get('/after'));
  t.is((await readResponse(c)).status, 200);
});

// 8. Client disconnect mid-response

test('client disconnects mid-response: the proxy closes the upstream connection instead of reusing it', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const b = await backend(t, async (req, conn) => {
    if (conn.index !== 0) return echoHandler(req, conn);
    const socket = conn.stream.socket;
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${100 * chunk.length}\r\n\r\n`);
    for (let i = 0; i < 100 && !socket.destroyed && !conn.stream.ended; i++) {
      socket.write(chunk);
      await delay(20);
    }
  });
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/slow-big'));
  await readHead(c);
  await c.readExact(100 * 1024);
  c.socket.destroy();
  const upstream = b.connections[0]!;
  const closedInTime = await Promise.race([upstream.stream.closed.then(() => true), delay(2000).then(() => false)]);
  t.true(closedInTime, 'the backend socket was closed by the proxy');
  const other = await client(t, port);
  other.write(get('/next'));
  const next = await readResponse(other);
  t.is(echoed(next).conn, 1);
});

// 9. Connection management

test('Connection: close from the client: the response says connection: close and the proxy closes', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/bye', HOST, 'Connection: close\r\n'));
  const r = await readResponse(c);
  t.is(r.status, 200);
  t.is(r.headers['connection'], 'close');
  t.is(echoed(r).headers['connection'], undefined, 'Connection is hop-by-hop');
  t.true(await c.endsWithin(1000));
});

test('404 for a request with a small body: the body is discarded and the next request works', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, onlyHost(b.port));
  const c = await client(t, port);
  // Body in the same write as the head.
  c.write(`POST /x HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 5\r\n\r\nhello`);
  const miss = await readResponse(c);
  t.is(miss.status, 404);
  c.write(get('/hit'));
  const hit = await readResponse(c);
  t.is(hit.status, 200);
  t.is(echoed(hit).target, '/hit');
  // Body after the 404 went out, with the next request right behind it.
  c.write(`POST /x HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 5\r\n\r\n`);
  t.is((await readResponse(c)).status, 404);
  c.write(`hello${get('/hit2')}`);
  const hit2 = await readResponse(c);
  t.is(hit2.status, 200);
  t.is(echoed(hit2).target, '/hit2');
  t.deepEqual(b.requests.map((q) => q.target), ['/hit', '/hit2']);
});

test('404 with a body over the discard limit, and 413 over maxBodyBytes: answered with connection: close, then closed', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, onlyHost(b.port), { maxBodyBytes: 150 * 1024 });
  const big = await client(t, port);
  big.write(`POST /x HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: ${100 * 1024}\r\n\r\n`);
  const miss = await readResponse(big);
  t.is(miss.status, 404);
  t.is(miss.headers['connection'], 'close');
  t.true(await big.endsWithin(1000));
  const over = await client(t, port);
  over.write(`POST /x HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${150 * 1024 + 1}\r\n\r\n`);
  const tooLarge = await readResponse(over);
  t.is(tooLarge.status, 413);
  t.is(tooLarge.headers['connection'], 'close');
  t.true(await over.endsWithin(1000));
  t.is(b.requests.length, 0);
});

test('an idle keep-alive client connection is closed after the configured keep-alive timeout, not before — fast path and node:http alike', async (t) => {
  t.timeout(15_000);
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port), { keepAliveTimeoutMs: 2_500 });
  const fast = await client(t, port);
  fast.write(get('/once'));
  t.is((await readResponse(fast)).status, 200);
  const handedOff = await client(t, port);
  handedOff.write(CHUNKED_POST);
  const answer = await readResponse(handedOff);
  t.is(answer.status, 200);
  t.is(answer.headers['keep-alive'], 'timeout=2', 'node:http advertises the same timeout');
  const t0 = Date.now();
  const endedAt = async (c: typeof fast): Promise<number | 'early' | 'open'> =>
    (await c.endsWithin(1_500)) ? 'early' : (await c.endsWithin(4_000)) ? Date.now() - t0 : 'open';
  const [fastEnded, handedOffEnded] = await Promise.all([endedAt(fast), endedAt(handedOff)]);
  t.log(`closed after: fast path ${String(fastEnded)} ms, node:http ${String(handedOffEnded)} ms (timeout 2.5 s)`);
  for (const [path, ended] of [['fast path', fastEnded], ['node:http', handedOffEnded]] as const) {
    t.true(typeof ended === 'number' && ended >= 2_500 && ended <= 4_500, `${path}: closed after ${String(ended)} ms (timeout 2.5 s)`);
  }
});

test('the keep-alive timeout counts from the end of the answer, not from the request: a slow answer does not shorten it', async (t) => {
  t.timeout(15_000);
  const b = await backend(t, (req, conn) => {
    if (req.target === '/slow') return void setTimeout(() => echoHandler(req, conn), 1_500);
    return echoHandler(req, conn);
  });
  const { port } = await startProxy(t, everything(b.port), { keepAliveTimeoutMs: 2_500 });
  const c = await client(t, port);
  c.write(get('/slow'));
  t.is((await readResponse(c, 'GET', 5_000)).status, 200);
  const answered = Date.now();
  t.false(await c.endsWithin(2_300), `closed ${Date.now() - answered} ms after a 1.5 s answer (timeout 2.5 s)`);
  t.true(await c.endsWithin(3_000), 'closed once the timeout has passed');
  const closedAfter = Date.now() - answered;
  t.true(closedAfter >= 2_500, `closed ${closedAfter} ms after the answer`);
});

test('the default keep-alive timeout is 75 s (nginx\'s): an idle connection is still open after 6 s', async (t) => {
  t.timeout(15_000);
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port));
  const c = await client(t, port);
  c.write(get('/once'));
  t.is((await readResponse(c)).status, 200);
  t.false(await c.endsWithin(6_000), 'open after 6 s (the old 5 s timeout would have closed it)');
  c.write(get('/again'));
  t.is(echoed(await readResponse(c)).target, '/again');
});

test('both listeners accept as long a queue as the kernel allows (a burst of clients is not dropped at 511)', async (t) => {
  const ss = ['/usr/bin/ss', '/bin/ss'].find((p) => existsSync(p));
  if (!ss) return t.pass('ss (iproute2) is not installed');
  const { proxy } = await startProxy(t, everything(9), { https: { host: '127.0.0.1', port: 0 } });
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  for (const bound of [proxy.addresses().http!, proxy.addresses().https!]) {
    // For a listening socket, ss shows the accept queue's limit as Send-Q.
    const line = execFileSync(ss, ['-ltnH', `sport = :${bound.port}`], { encoding: 'utf8' }).trim();
    t.is(Number(line.split(/\s+/)[2]), Math.min(somaxconn, 65_535), line);
  }
});

// 11. Response timeout

test('response timeout on the fast path → 504, and the connection remains usable', async (t) => {
  const b = await backend(t, (req, conn) => {
    if (req.target === '/silent') return; // never answers
    return echoHandler(req, conn);
  });
  const { port } = await startProxy(t, everything(b.port), { responseTimeoutMs: 300 });
  const c = await client(t, port);
  const t0 = Date.now();
  c.write(get('/silent'));
  const r = await readResponse(c, 'GET', 3000);
  t.is(r.status, 504);
  const elapsed = Date.now() - t0;
  t.true(elapsed >= 250 && elapsed < 2000, `504 after ${elapsed} ms`);
  c.write(get('/fast'));
  const next = await readResponse(c);
  t.is(next.status, 200);
  t.is(echoed(next).target, '/fast');
});

// 12. Drain

test('stop(drain): the in-flight request completes with connection: close; an idle connection gets 500 ms for a request already on its way, then closes', async (t) => {
  const b = await backend(t, async (req, conn) => {
    if (req.target === '/slow') await delay(400);
    return echoHandler(req, conn);
  });
  const { proxy, port } = await startProxy(t, everything(b.port));
  const idle = await client(t, port);
  idle.write(get('/idle'));
  t.is((await readResponse(idle)).status, 200);
  const late = await client(t, port);
  late.write(get('/first'));
  t.is((await readResponse(late)).status, 200);
  const busy = await client(t, port);
  busy.write(get('/slow'));
  await delay(100);
  const stopping = Date.now();
  const stopped = proxy.stop(5000);
  // A keep-alive client that had its answer a moment ago sends its next request just as the server starts
  // draining: it is answered (and told to close), not reset.
  await delay(50);
  late.write(get('/second'));
  const second = await readResponse(late);
  t.is(second.status, 200);
  t.is(echoed(second).target, '/second');
  t.is(second.headers['connection'], 'close');
  t.true(await late.endsWithin(500));
  t.true(await idle.endsWithin(2000), 'the idle connection closes once idle for 500 ms');
  const idleClosedAfter = Date.now() - stopping;
  t.true(idleClosedAfter >= 350, `idle connection closed ${idleClosedAfter} ms into the drain`);
  const r = await readResponse(busy);
  t.is(r.status, 200);
  t.is(echoed(r).target, '/slow');
  t.is(r.headers['connection'], 'close');
  t.true(await busy.endsWithin(1000));
  const t0 = Date.now();
  await stopped;
  t.true(Date.now() - t0 < 2000, 'stop returns once drained');
});

test('stop(drain): the idle grace holds for a connection whose last request came long after the coarse clock was read', async (t) => {
  const b = await backend(t, echoHandler);
  const { proxy, port } = await startProxy(t, everything(b.port));
  // Accepting ticks the clock and starts the 1 s sweep; nothing ticks it again for the next 600 ms, so the request
  // below is stamped with a clock 600 ms behind the read.
  const idle = await client(t, port);
  await delay(600);
  idle.write(get('/late-in-the-tick'));
  t.is((await readResponse(idle)).status, 200);
  await delay(50);
  const stopping = Date.now();
  const stopped = proxy.stop(5000);
  t.true(await idle.endsWithin(2000), 'closed once the grace is over');
  const closedAfter = Date.now() - stopping;
  t.true(closedAfter >= 450, `idle connection closed ${closedAfter} ms into the drain`);
  await stopped;
});

// 13. TLS

const tlsTest = haveOpenssl() ? test : test.skip;

tlsTest('HTTPS: pipelined GETs and a chunked POST hand-off on one TLS connection', async (t) => {
  const b = await backend(t, echoHandler);
  const { port } = await startProxy(t, everything(b.port), { http: undefined, https: { host: '127.0.0.1', port: 0 } });
  const c = await tlsClient(port, HOST);
  t.teardown(() => void c.socket.destroy());
  c.write(get('/a') + get('/b') + get('/c'));
  for (const path of ['/a', '/b', '/c']) {
    const r = await readResponse(c);
    t.is(echoed(r).target, path);
    t.is(echoed(r).headers['x-forwarded-proto'], 'https');
  }
  c.write(CHUNKED_POST);
  const post = await readResponse(c);
  t.is(echoed(post).body, 'hello world');
  t.is(echoed(post).headers['x-forwarded-proto'], 'https');
  c.write(get('/d') + get('/e'));
  t.is(echoed(await readResponse(c)).target, '/d');
  t.is(echoed(await readResponse(c)).target, '/e');
});
