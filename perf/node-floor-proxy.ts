/**
 * The least a reverse proxy written on Node's `net` sockets must do per request, as a yardstick for
 * perf/ingress-vs-nginx.ts `--floor` — NOT a proxy anyone should run: no routing, no header rewrite, no parsing
 * beyond finding the end of the head, GET only, Content-Length responses only, no timeouts, no error handling.
 * One read and one write per direction through Node's streams, keep-alive upstream connections reused
 * most-recently-used first — the same syscalls per request as switchyard's fast path and nginx.
 *
 * With a TLS port, certificate and key it also listens for TLS: the same forwarder behind Node's TLSSocket, which
 * shows what Node's TLS layer costs on top.
 *
 * Usage: node perf/node-floor-proxy.ts <listenPort> <upstreamPort> [<tlsPort> <cert.pem> <key.pem>]   (prints `ready`)
 */
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

const [listenPort, upstreamPort, tlsPort] = process.argv.slice(2, 5).map(Number);
const [certFile, keyFile] = process.argv.slice(5, 7);
if (!listenPort || !upstreamPort || (tlsPort && (!certFile || !keyFile))) {
  console.error('usage: node-floor-proxy.ts <listenPort> <upstreamPort> [<tlsPort> <cert.pem> <key.pem>]');
  process.exit(2);
}

const END = Buffer.from('\r\n\r\n');
const idle: Socket[] = [];

/** Content-Length of a response head (lower- or mixed-case name), 0 when absent. */
const contentLength = (head: string): number => {
  const i = head.toLowerCase().indexOf('\r\ncontent-length:');
  return i === -1 ? 0 : Number.parseInt(head.slice(i + 17), 10);
};

const withUpstream = (use: (upstream: Socket) => void): void => {
  const reused = idle.pop();
  if (reused) return use(reused);
  const upstream = connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true }, () => use(upstream));
  upstream.on('error', () => undefined);
  upstream.on('close', () => {
    const i = idle.indexOf(upstream);
    if (i !== -1) idle.splice(i, 1);
  });
};

const serve = (client: Socket): void => {
  client.on('error', () => undefined);
  client.on('data', (request: Buffer) => {
    if (request.indexOf(END) === -1) return; // wrk's requests arrive whole
    withUpstream((upstream) => {
      let response: Buffer | undefined;
      const onData = (chunk: Buffer): void => {
        response = response ? Buffer.concat([response, chunk]) : chunk;
        const end = response.indexOf(END);
        if (end === -1) return;
        const total = end + 4 + contentLength(response.toString('latin1', 0, end));
        if (response.length < total) return;
        upstream.removeListener('data', onData);
        idle.push(upstream);
        client.write(response);
      };
      upstream.on('data', onData);
      upstream.write(request);
    });
  });
};

const listening = [
  new Promise<void>((resolve) => createServer({ noDelay: true }, serve).listen(listenPort, '127.0.0.1', resolve)),
];
if (tlsPort) {
  const tls = createTlsServer({ cert: readFileSync(certFile!), key: readFileSync(keyFile!) }, (client) => {
    client.setNoDelay(true);
    serve(client);
  });
  listening.push(new Promise<void>((resolve) => tls.listen(tlsPort, '127.0.0.1', resolve)));
}
await Promise.all(listening);
console.log('ready');

process.on('SIGTERM', () => process.exit(0));
