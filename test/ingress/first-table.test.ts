/**
 * holdUntilFirstTable (what the daemon uses): connections accepted before the first route table wait for it,
 * unread — a request is answered by its route, not with a 404 from the empty table, and a TLS handshake gets the
 * certificate of its name, not the default one. Held connections are bounded in time and closed by stop().
 */
import test from 'ava';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { checkCertificatePair } from '../../lib/ingress/certificates.ts';
import { IngressServer } from '../../lib/ingress/server.ts';
import { recordingLogger } from '../../lib/telemetry/logger-types.ts';
import { tlsSecret } from '../unit/ingress/fixtures.ts';
import { closedPort, delay, haveOpenssl, local, opensslCert, routeTable, send, startBackend, type EchoReply } from './helpers.ts';

const httpsGet = (port: number, host: string, ca: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: host, headers: { host }, path: '/held', ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });

/** Settles with the promise, and says meanwhile whether it has. */
const watch = <T>(p: Promise<T>): { readonly promise: Promise<T>; settled: boolean } => {
  const w = { promise: p, settled: false };
  p.then(() => (w.settled = true), () => (w.settled = true));
  return w;
};

const tlsTest = haveOpenssl() ? test : test.skip;

tlsTest('requests and TLS handshakes made before the first route table are answered by it', async (t) => {
  const backend = await startBackend('first');
  const cert = opensslCert('a.test');
  const logger = recordingLogger();
  const proxy = new IngressServer({
    http: { host: '127.0.0.1', port: 0 },
    https: { host: '127.0.0.1', port: 0 },
    holdUntilFirstTable: true,
    logger,
  });
  await proxy.start();
  t.teardown(async () => {
    await proxy.stop(0);
    await backend.close();
  });
  const { http, https } = proxy.addresses();
  const plain = watch(send({ port: http!.port, host: 'a.test', path: '/early' }));
  // Verified against the test certificate: the default one would fail the request.
  const secure = watch(httpsGet(https!.port, 'a.test', cert.cert));
  await delay(300);
  t.false(plain.settled, 'the HTTP request waits');
  t.false(secure.settled, 'the TLS handshake waits');

  proxy.setRouteTable(
    routeTable(
      [{ tls: [{ hosts: ['a.test'], secretName: 'a-tls' }], rules: [{ host: 'a.test', paths: [['/', 'Prefix', 'svc']] as const }] }],
      { svc: [local(backend.port)] },
      [tlsSecret('a-tls', cert.cert, cert.key)],
      { checkCertificate: checkCertificatePair },
    ),
  );
  const early = await plain.promise;
  t.is(early.status, 200);
  t.is((JSON.parse(early.body) as EchoReply).name, 'first');
  const viaTls = await secure.promise;
  t.is(viaTls.status, 200);
  t.is((JSON.parse(viaTls.body) as EchoReply).headers['x-forwarded-proto'], 'https');
  // Later connections go straight through.
  t.is((await send({ port: http!.port, host: 'a.test', path: '/later' })).status, 200);
  const opened = logger.lines.filter((l) => l.msg === 'ingress: first route table; serving');
  t.is(opened.length, 2, 'one line per listener');
  t.is(opened.reduce((n, l) => n + (l.fields as { released: number }).released, 0), 2);
});

const closed = (socket: Socket): Promise<void> => new Promise((resolve) => socket.once('close', () => resolve()));
const connected = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });

test('a held connection is closed after maxHoldMs, and by stop() before any table', async (t) => {
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port: 0 }, holdUntilFirstTable: true, maxHoldMs: 300 });
  await proxy.start();
  t.teardown(() => proxy.stop(0));
  const port = proxy.addresses().http!.port;
  const started = performance.now();
  const socket = await connected(port);
  socket.write('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
  let answered = '';
  socket.on('data', (d: Buffer) => (answered += d.toString()));
  await closed(socket);
  const waited = performance.now() - started;
  t.true(waited >= 250 && waited < 2_000, `closed after ${Math.round(waited)} ms`);
  t.is(answered, '', 'nothing answered from the empty table');

  const other = new IngressServer({ http: { host: '127.0.0.1', port: 0 }, holdUntilFirstTable: true });
  await other.start();
  const held = await connected(other.addresses().http!.port);
  await delay(50);
  const stopping = performance.now();
  await Promise.all([other.stop(5_000), closed(held)]);
  t.true(performance.now() - stopping < 1_000, 'stop() does not wait for held connections');
});

const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });

test("listen 'after-first-table' (beside a running switchyard): nothing bound until the first table, then served at once", async (t) => {
  const backend = await startBackend('deferred');
  const port = await closedPort();
  const logger = recordingLogger();
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port }, holdUntilFirstTable: true, logger });
  await proxy.start({ listen: 'after-first-table' });
  t.teardown(async () => {
    await proxy.stop(0);
    await backend.close();
  });
  t.is(proxy.addresses().http, undefined);
  t.false(await listening(port), 'the port is left to the switchyard serving it');
  t.false(proxy.serving);

  proxy.setRouteTable(routeTable([{ rules: [{ host: 'a.test', paths: [['/', 'Prefix', 'svc']] as const }] }], { svc: [local(backend.port)] }));
  const deadline = Date.now() + 2_000;
  while (!proxy.serving && Date.now() < deadline) await delay(5);
  t.true(proxy.serving);
  t.is(proxy.addresses().http?.port, port);
  const reply = await send({ port, host: 'a.test', path: '/x' });
  t.is(reply.status, 200);
  t.is((JSON.parse(reply.body) as EchoReply).name, 'deferred');
  t.is(logger.lines.filter((l) => l.msg === 'ingress: first route table built; listening').length, 1);
  t.is(logger.lines.filter((l) => l.msg?.includes('connections wait')).length, 0, 'nothing was held');
});

test('a deferred bind that fails is logged, counted and retried; serving only once bound', async (t) => {
  // A listener without SO_REUSEPORT: the kernel refuses to share its port.
  const squatter = createNetServer();
  await new Promise<void>((resolve) => squatter.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (squatter.address() as AddressInfo).port;
  const logger = recordingLogger();
  let failures = 0;
  const proxy = new IngressServer({
    http: { host: '127.0.0.1', port },
    logger,
    listenRetryMs: 50,
    onListenFailure: () => failures++,
  });
  await proxy.start({ listen: 'after-first-table' });
  t.teardown(() => proxy.stop(0));
  proxy.setRouteTable(routeTable([], {}));
  const deadline = Date.now() + 2_000;
  while (failures < 2 && Date.now() < deadline) await delay(5);
  t.true(failures >= 2, `${failures} failed binds`);
  t.false(proxy.serving);
  t.true(logger.lines.some((l) => l.level === 'error' && l.msg?.includes(`cannot listen for HTTP on 127.0.0.1:${port}`)));

  await new Promise((resolve) => squatter.close(resolve));
  while (!proxy.serving && Date.now() < deadline + 2_000) await delay(5);
  t.true(proxy.serving, 'bound once the port was free');
  t.is((await send({ port, host: 'a.test', path: '/' })).status, 404);
});

test('stop() before the first table: a deferred bind never happens', async (t) => {
  const port = await closedPort();
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port } });
  await proxy.start({ listen: 'after-first-table' });
  await proxy.stop(0);
  proxy.setRouteTable(routeTable([], {}));
  await delay(50);
  t.false(await listening(port));
  t.false(proxy.serving);
});
