/** HTTPS with SNI certificate selection, certificate renewal, and WebSocket passthrough, over real sockets. */
import test from 'ava';
import { createHash, X509Certificate } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { checkCertificatePair } from '../../lib/ingress/certificates.ts';
import { IngressServer } from '../../lib/ingress/server.ts';
import { tlsSecret } from '../unit/ingress/fixtures.ts';
import { haveOpenssl, local, opensslCert, routeTable, startBackend, type EchoReply } from './helpers.ts';

const check = { checkCertificate: checkCertificatePair };

/** The certificate the server presents for `servername` (undefined: send no SNI). */
const peerCertificate = (port: number, servername: string | undefined): Promise<X509Certificate> =>
  new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
      const raw = s.getPeerX509Certificate();
      s.destroy();
      if (raw) resolve(raw);
      else reject(new Error('no peer certificate'));
    });
    s.on('error', reject);
  });

const httpsGet = (port: number, host: string, ca: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, servername: host, headers: { host }, path: '/tls', ca, agent: false },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });

const tlsTest = haveOpenssl() ? test : test.skip;
if (!haveOpenssl()) console.warn('skipping TLS tests: /usr/bin/openssl not found');

tlsTest('HTTPS: certificate chosen by SNI, default certificate for unknown names, renewal without restart', async (t) => {
  const backend = await startBackend('secure');
  const certA = opensslCert('a.test');
  const certB = opensslCert('b.test');
  const ingresses = [
    {
      tls: [{ hosts: ['a.test'], secretName: 'a-tls' }, { hosts: ['b.test'], secretName: 'b-tls' }],
      rules: [
        { host: 'a.test', paths: [['/', 'Prefix', 'svc']] as const },
        { host: 'b.test', paths: [['/', 'Prefix', 'svc']] as const },
      ],
    },
  ];
  const services = { svc: [local(backend.port)] };
  const proxy = new IngressServer({ https: { host: '127.0.0.1', port: 0 } });
  proxy.setRouteTable(routeTable(ingresses, services, [tlsSecret('a-tls', certA.cert, certA.key), tlsSecret('b-tls', certB.cert, certB.key, 'default', false)], check));
  await proxy.start();
  t.teardown(async () => {
    await proxy.stop(0);
    await backend.close();
  });
  const port = proxy.addresses().https!.port;

  t.is((await peerCertificate(port, 'a.test')).subject, 'CN=a.test');
  t.is((await peerCertificate(port, 'B.TEST')).subject, 'CN=b.test');
  const fallback = await peerCertificate(port, 'unknown.test');
  t.is(fallback.subject, 'CN=switchyard.invalid');
  t.is((await peerCertificate(port, undefined)).subject, 'CN=switchyard.invalid');

  // A full request, verified against the test certificate, with the forwarded proto.
  const reply = await httpsGet(port, 'a.test', certA.cert);
  t.is(reply.status, 200);
  const echoed = JSON.parse(reply.body) as EchoReply;
  t.is(echoed.headers['x-forwarded-proto'], 'https');
  t.is(echoed.headers['x-forwarded-port'], String(port));

  // Renewed Secret: a new table with a new certificate for a.test, picked up by the next handshake.
  const renewed = opensslCert('a.test');
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
  t.not(fingerprint(renewed.cert), fingerprint(certA.cert));
  proxy.setRouteTable(routeTable(ingresses, services, [tlsSecret('a-tls', renewed.cert, renewed.key), tlsSecret('b-tls', certB.cert, certB.key)], check));
  t.is((await peerCertificate(port, 'a.test')).fingerprint256, fingerprint(renewed.cert));

  // A broken renewal (key of another certificate) skips the host: the default certificate is served.
  const table = routeTable(ingresses, services, [tlsSecret('a-tls', renewed.cert, certB.key), tlsSecret('b-tls', certB.cert, certB.key)], check);
  t.true(table.problems.some((p) => p.object === 'Secret default/a-tls' && p.message.includes('does not match')));
  proxy.setRouteTable(table);
  t.is((await peerCertificate(port, 'a.test')).subject, 'CN=switchyard.invalid');
  t.is((await peerCertificate(port, 'b.test')).subject, 'CN=b.test');
});

tlsTest('HTTPS: a given default certificate is used for unknown names', async (t) => {
  const def = opensslCert('default.test');
  const proxy = new IngressServer({ https: { host: '127.0.0.1', port: 0 }, defaultCertificate: def });
  await proxy.start();
  t.teardown(() => proxy.stop(0));
  t.is((await peerCertificate(proxy.addresses().https!.port, 'x.test')).subject, 'CN=default.test');
});

// --- WebSocket ------------------------------------------------------------------------------------------------

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One unmasked (server) or masked (client) text frame with a payload under 126 bytes. */
const frame = (text: string, mask: boolean): Buffer => {
  const payload = Buffer.from(text);
  const key = Buffer.from([1, 2, 3, 4]);
  const header = Buffer.from([0x81, (mask ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([header, payload]);
  return Buffer.concat([header, key, payload.map((b, i) => b ^ key[i % 4]!)]);
};

const unframe = (data: Buffer): string => {
  const masked = (data[1]! & 0x80) !== 0;
  const len = data[1]! & 0x7f;
  const start = masked ? 6 : 2;
  const payload = data.subarray(start, start + len);
  if (!masked) return payload.toString();
  const key = data.subarray(2, 6);
  return Buffer.from(payload.map((b, i) => b ^ key[i % 4]!)).toString();
};

test('WebSocket: handshake and frames pass through the proxy (echo)', async (t) => {
  const backend = await startBackend('ws', (_req, res) => res.end('plain'));
  let handshakeHeaders: IncomingMessage['headers'] = {};
  backend.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    handshakeHeaders = req.headers;
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WS_GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(frame(`echo:${unframe(d)}`, false)));
    socket.on('end', () => socket.end()); // upgraded server sockets are half-open by default
  });
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port: 0 } });
  proxy.setRouteTable(routeTable([{ rules: [{ host: 'ws.test', paths: [['/chat', 'Prefix', 'ws']] }] }], { ws: [local(backend.port)] }));
  await proxy.start();
  t.teardown(async () => {
    await proxy.stop(0);
    await backend.close();
  });
  const port = proxy.addresses().http!.port;
  const key = Buffer.from('0123456789abcdef').toString('base64');

  const { res, socket } = await new Promise<{ res: IncomingMessage; socket: Socket }>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/chat/room',
      agent: false,
      headers: { host: 'ws.test', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': key },
    });
    req.on('upgrade', (r, s) => resolve({ res: r, socket: s }));
    req.on('response', (r) => reject(new Error(`no upgrade: ${r.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  t.is(res.statusCode, 101);
  t.is(res.headers['sec-websocket-accept'], createHash('sha1').update(`${key}${WS_GUID}`).digest('base64'));
  t.is(handshakeHeaders['upgrade'], 'websocket');
  t.is(handshakeHeaders['x-forwarded-for'], '127.0.0.1');
  t.is(handshakeHeaders['host'], 'ws.test');

  for (const message of ['hello', 'again']) {
    const reply = await new Promise<Buffer>((resolve) => {
      socket.once('data', resolve);
      socket.write(frame(message, true));
    });
    t.is(unframe(reply), `echo:${message}`);
  }
  socket.destroy();
});

test('WebSocket: no route is 404, no endpoint 503, refused endpoint 502', async (t) => {
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port: 0 } });
  const { closedPort } = await import('./helpers.ts');
  proxy.setRouteTable(
    routeTable(
      [{ rules: [{ host: 'empty', paths: [['/', 'Prefix', 'empty']] }, { host: 'dead', paths: [['/', 'Prefix', 'dead']] }] }],
      { empty: [], dead: [local(await closedPort())] },
    ),
  );
  await proxy.start();
  t.teardown(() => proxy.stop(0));
  const port = proxy.addresses().http!.port;
  const statusFor = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, agent: false, headers: { host, connection: 'Upgrade', upgrade: 'websocket' } });
      req.on('response', (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('upgrade', () => reject(new Error('unexpected upgrade')));
      req.on('error', reject);
      req.end();
    });
  t.is(await statusFor('nowhere'), 404);
  t.is(await statusFor('empty'), 503);
  t.is(await statusFor('dead'), 502);
});

test('a non-WebSocket Upgrade (h2c) is served as a plain request', async (t) => {
  const backend = await startBackend('plain');
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port: 0 } });
  proxy.setRouteTable(routeTable([{ rules: [{ paths: [['/', 'Prefix', 'plain']] }] }], { plain: [local(backend.port)] }));
  await proxy.start();
  t.teardown(async () => {
    await proxy.stop(0);
    await backend.close();
  });
  const port = proxy.addresses().http!.port;
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent: false, headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAAP__' } });
    req.on('response', (r) => {
      let b = '';
      r.on('data', (c: Buffer) => (b += c.toString()));
      r.on('end', () => resolve(b));
    });
    req.on('error', reject);
    req.end();
  });
  const seen = (JSON.parse(body) as EchoReply).headers;
  t.is(seen['upgrade'], undefined);
  t.is(seen['http2-settings'], undefined);
});

test('stop(drain) cuts open WebSocket tunnels at the deadline', async (t) => {
  const backend = await startBackend('ws', (_req, res) => res.end('plain'));
  backend.server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('end', () => socket.end());
  });
  const proxy = new IngressServer({ http: { host: '127.0.0.1', port: 0 } });
  proxy.setRouteTable(routeTable([{ rules: [{ paths: [['/', 'Prefix', 'ws']] }] }], { ws: [local(backend.port)] }));
  await proxy.start();
  t.teardown(() => backend.close());
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: proxy.addresses().http!.port, agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket' } });
    req.on('upgrade', (_r, s) => resolve(s));
    req.on('error', reject);
    req.end();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const t0 = Date.now();
  await proxy.stop(200);
  await closed;
  const elapsed = Date.now() - t0;
  t.true(elapsed >= 150 && elapsed < 2000, `tunnel kept until the deadline, then cut (${elapsed} ms)`);
});
