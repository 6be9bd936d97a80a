/** IngressServer over real sockets on 127.0.0.1: routing, errors, retries, headers, limits, drain. */
import test from 'ava';
import { IngressServer, type IngressServerOptions } from '../../lib/ingress/server.ts';
import type { RequestRecord } from '../../lib/ingress/proxy.ts';
import type { RouteTable } from '../../lib/ingress/types.ts';
import { recordingLogger } from '../../lib/telemetry/logger-types.ts';
import { closedPort, delay, local, routeTable, send, startBackend, type Backend, type EchoReply } from './helpers.ts';

const startProxy = async (table: RouteTable, options: Partial<IngressServerOptions> = {}) => {
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port: 0 }, ...options });
  proxy.setRouteTable(table);
  await proxy.start();
  return { proxy, port: proxy.addresses().http!.port };
};

const cleanup = async (proxy: IngressServer, ...backends: Backend[]) => {
  await proxy.stop(0);
  await Promise.all(backends.map((b) => b.close()));
};

const echo = (body: string): EchoReply => JSON.parse(body) as EchoReply;

test('binds exactly the given address and no HTTPS listener unless asked', async (t) => {
  const { proxy } = await startProxy(routeTable([], {}));
  t.is(proxy.addresses().http?.address, '127.0.0.1');
  t.is(proxy.addresses().https, undefined);
  await proxy.stop(0);
});

test('routes by host and path; 404 when nothing matches', async (t) => {
  const [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
  const { proxy, port } = await startProxy(
    routeTable(
      [{ rules: [{ host: 'a.test', paths: [['/', 'Prefix', 'a']] }, { host: 'b.test', paths: [['/api', 'Prefix', 'b'], ['/exact', 'Exact', 'a']] }] }],
      { a: [local(a.port)], b: [local(b.port)] },
    ),
  );
  t.is(echo((await send({ port, host: 'a.test', path: '/x?q=1' })).body).name, 'a');
  const viaB = await send({ port, host: 'B.TEST:8080', path: '/api/v1?q=1' });
  t.is(echo(viaB.body).name, 'b');
  t.is(echo(viaB.body).url, '/api/v1?q=1', 'path and query forwarded unchanged');
  t.is(echo((await send({ port, host: 'b.test', path: '/exact' })).body).name, 'a');
  const miss = await send({ port, host: 'b.test', path: '/exact/no' });
  t.is(miss.status, 404);
  t.is(miss.headers['server'], 'switchyard');
  t.is((await send({ port, host: 'c.test', path: '/' })).status, 404);
  await cleanup(proxy, a, b);
});

test('route table is swapped whole without restart', async (t) => {
  const [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 'a']] }] }], { a: [local(a.port)] }));
  t.is(echo((await send({ port })).body).name, 'a');
  proxy.setRouteTable(routeTable([{ rules: [{ paths: [['/', 'Prefix', 'b']] }] }], { b: [local(b.port)] }));
  t.is(echo((await send({ port })).body).name, 'b');
  await cleanup(proxy, a, b);
});

test('503 when the service has no ready endpoint or does not exist; terminating endpoints as fallback', async (t) => {
  const a = await startBackend('a');
  const ingresses = [{ rules: [{ host: 'none', paths: [['/', 'Prefix', 'empty']] as const }, { host: 'ghost', paths: [['/', 'Prefix', 'ghost']] as const }, { host: 'term', paths: [['/', 'Prefix', 'term']] as const }] }];
  const { proxy, port } = await startProxy(
    routeTable(ingresses, { empty: [local(a.port, false)], term: [local(a.port, false, true)] }),
  );
  t.is((await send({ port, host: 'none' })).status, 503);
  t.is((await send({ port, host: 'ghost' })).status, 503);
  t.is((await send({ port, host: 'term' })).status, 200);
  await cleanup(proxy, a);
});

test('round-robin over ready endpoints', async (t) => {
  const [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 's']] }] }], { s: [local(a.port), local(b.port)] }));
  const names = [];
  for (let i = 0; i < 4; i++) names.push(echo((await send({ port })).body).name);
  t.deepEqual([...names].sort(), ['a', 'a', 'b', 'b']);
  t.not(names[0], names[1]);
  await cleanup(proxy, a, b);
});

test('connect refused: GET moves on to the next endpoint; POST with a body is not retried (502)', async (t) => {
  const a = await startBackend('a');
  const dead = await closedPort();
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 's']] }] }], { s: [local(dead), local(a.port)] }));
  for (let i = 0; i < 4; i++) t.is((await send({ port })).status, 200, `GET ${i}`);
  const statuses = [];
  for (let i = 0; i < 2; i++) statuses.push((await send({ port, method: 'POST', body: 'x' })).status);
  t.deepEqual(statuses.sort(), [200, 502]);
  await cleanup(proxy, a);
});

test('502 when every endpoint refuses, 502 when the upstream resets', async (t) => {
  const reset = await startBackend('reset', (req) => req.socket.destroy());
  const { proxy, port } = await startProxy(
    routeTable(
      [{ rules: [{ host: 'dead', paths: [['/', 'Prefix', 'dead']] }, { host: 'reset', paths: [['/', 'Prefix', 'reset']] }] }],
      { dead: [local(await closedPort()), local(await closedPort())], reset: [local(reset.port)] },
    ),
  );
  t.is((await send({ port, host: 'dead' })).status, 502);
  t.is((await send({ port, host: 'reset' })).status, 502);
  await cleanup(proxy, reset);
});

test('504 when the upstream does not answer in time', async (t) => {
  const silent = await startBackend('silent', () => undefined);
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 's']] }] }], { s: [local(silent.port)] }), {
    responseTimeoutMs: 300,
  });
  const t0 = Date.now();
  t.is((await send({ port })).status, 504);
  t.true(Date.now() - t0 < 3000);
  await cleanup(proxy, silent);
});

test('forwarded headers: X-Forwarded-*, X-Real-IP, X-Request-ID kept or generated; Server set', async (t) => {
  const a = await startBackend('a');
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 'a']] }] }], { a: [local(a.port)] }));
  const first = await send({ port, host: 'app.test:8443', headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'abc-123', 'x-forwarded-proto': 'https' } });
  const h = echo(first.body).headers;
  t.is(h['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  t.is(h['x-forwarded-proto'], 'http');
  t.is(h['x-forwarded-host'], 'app.test:8443');
  t.is(h['x-forwarded-port'], String(port));
  t.is(h['x-real-ip'], '127.0.0.1');
  t.is(h['x-request-id'], 'abc-123');
  t.is(h['host'], 'app.test:8443', 'Host passes unchanged');
  t.is(first.headers['server'], 'switchyard');
  const second = echo((await send({ port })).body).headers;
  t.is(second['x-forwarded-for'], '127.0.0.1');
  t.regex(String(second['x-request-id']), /^[0-9a-f]{32}$/);
  await cleanup(proxy, a);
});

test('hop-by-hop headers are stripped both ways; Content-Length is preserved', async (t) => {
  const a = await startBackend('a', (req, res) => {
    const body = JSON.stringify(req.headers);
    res.writeHead(200, {
      connection: 'x-internal, keep-alive',
      'x-internal': 'secret',
      'keep-alive': 'timeout=77',
      'proxy-authenticate': 'Basic',
      server: 'backend/1.0',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 'a']] }] }], { a: [local(a.port)] }));
  const reply = await send({
    port,
    method: 'PUT',
    body: 'hello',
    headers: { connection: 'keep-alive, x-hop', 'x-hop': '1', 'keep-alive': 'timeout=1', te: 'trailers', 'proxy-authorization': 'Basic eDp5', proxy: 'http://evil', 'x-end-to-end': 'yes' },
  });
  const seen = JSON.parse(reply.body) as Record<string, string>;
  for (const h of ['x-hop', 'keep-alive', 'te', 'proxy-authorization', 'proxy', 'transfer-encoding']) {
    t.false(h in seen, `request header ${h} must not reach the backend`);
  }
  t.is(seen['x-end-to-end'], 'yes');
  t.is(seen['content-length'], '5');
  t.is(reply.headers['content-length'], String(Buffer.byteLength(reply.body)));
  t.is(reply.headers['x-internal'], undefined);
  t.is(reply.headers['proxy-authenticate'], undefined);
  t.false(String(reply.headers['keep-alive']).includes('77'), 'upstream keep-alive parameters are not passed on');
  t.is(reply.headers['server'], 'switchyard');
  await cleanup(proxy, a);
});

test('request bodies stream to the upstream; over the limit is 413 (declared or chunked)', async (t) => {
  const a = await startBackend('a');
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 'a']] }] }], { a: [local(a.port)] }), {
    maxBodyBytes: 1000,
  });
  t.is(echo((await send({ port, method: 'POST', body: 'x'.repeat(1000) })).body).bodyBytes, 1000);
  t.is(echo((await send({ port, method: 'POST', body: 'x'.repeat(900), chunked: true })).body).bodyBytes, 900);
  t.is((await send({ port, method: 'POST', body: 'x'.repeat(1001) })).status, 413);
  t.is((await send({ port, method: 'POST', body: 'x'.repeat(5000), chunked: true })).status, 413);
  await cleanup(proxy, a);
});

test('oversized request headers get 431', async (t) => {
  const { proxy, port } = await startProxy(routeTable([], {}), { maxHeaderSize: 2048 });
  t.is((await send({ port, headers: { 'x-big': 'y'.repeat(4096) } })).status, 431);
  await proxy.stop(0);
});

test('metrics hook gets one record per request', async (t) => {
  const a = await startBackend('a');
  const records: RequestRecord[] = [];
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ host: 'm.test', paths: [['/', 'Prefix', 'a']] }] }], { a: [local(a.port)] }), {
    onRequest: (r) => records.push(r),
  });
  await send({ port, host: 'm.test' });
  await send({ port, host: 'other.test' });
  await delay(50);
  t.is(records.length, 2);
  t.like(records[0], { host: 'm.test', status: 200, backend: 'default/a:http', endpoint: `127.0.0.1:${a.port}` });
  t.is(typeof records[0]?.upstreamMs, 'number');
  t.like(records[1], { host: 'other.test', status: 404, backend: undefined, upstreamMs: undefined });
  await cleanup(proxy, a);
});

test('stop(drain): an in-flight slow request completes, new connections are refused', async (t) => {
  const slow = await startBackend('slow', (_req, res) => {
    setTimeout(() => res.end('done'), 500);
  });
  const logger = recordingLogger();
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 's']] }] }], { s: [local(slow.port)] }), { logger });
  const inFlight = send({ port });
  await delay(100);
  const stopped = proxy.stop(5000);
  await delay(50);
  await t.throwsAsync(send({ port }), { code: 'ECONNREFUSED' });
  const reply = await inFlight;
  t.is(reply.status, 200);
  t.is(reply.body, 'done');
  const t0 = Date.now();
  await stopped;
  t.true(Date.now() - t0 < 2000, 'stop returns once drained, not at the deadline');
  await slow.close();
});

test('stop(drain) cuts requests still running at the deadline', async (t) => {
  const stuck = await startBackend('stuck', () => undefined);
  const { proxy, port } = await startProxy(routeTable([{ rules: [{ paths: [['/', 'Prefix', 's']] }] }], { s: [local(stuck.port)] }));
  const inFlight = send({ port });
  await delay(100);
  const t0 = Date.now();
  await proxy.stop(300);
  t.true(Date.now() - t0 < 2000);
  await t.throwsAsync(inFlight);
  await stuck.close();
});

test('start fails with ERR_INGRESS when the address is taken, and leaves nothing bound', async (t) => {
  const a = await startBackend('a');
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port: a.port } });
  await t.throwsAsync(proxy.start(), { code: 'ERR_INGRESS' });
  t.is(proxy.addresses().http, undefined);
  await a.close();
});
