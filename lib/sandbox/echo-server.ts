/**
 * A pod's workload: HTTP on every --tcp port, UDP echo on every --udp port, answering with JSON that names the pod
 * and the client address it saw (which is how tests tell load balancing and SNAT apart).
 *   node lib/sandbox/echo-server.ts --name X --tcp 8080,9090 --udp 5353
 * Prints one JSON line `{"ready":true,...}` on stdout once every port listens.
 */
import { createServer, type Server } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { formatEndpoint, type EchoHttpBody, type EchoUdpBody } from './agent-protocol.ts';

const parsePorts = (text: string | undefined): number[] =>
  (text ?? '').split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`invalid port ${JSON.stringify(p)}`);
    return n;
  });

const listenHttp = (name: string, port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const body: EchoHttpBody = {
        pod: name,
        client: formatEndpoint(req.socket.remoteAddress, req.socket.remotePort),
        host: req.headers.host ?? '',
        path: req.url ?? '/',
        headers: req.headers,
        port,
      };
      req.resume();
      const text = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
      res.end(text);
    });
    server.once('error', reject);
    // '::' without ipv6Only accepts IPv4 too (as v4-mapped), and works when the pod has only IPv4.
    server.listen({ port, host: '::' }, () => resolve(server));
  });

const listenUdp = (name: string, port: number, type: 'udp4' | 'udp6'): Promise<Socket | undefined> =>
  new Promise((resolve) => {
    const socket = createSocket({ type, ipv6Only: type === 'udp6' });
    socket.on('message', (msg, rinfo) => {
      const body: EchoUdpBody = { pod: name, client: formatEndpoint(rinfo.address, rinfo.port), port, payload: msg.toString() };
      socket.send(JSON.stringify(body), rinfo.port, rinfo.address);
    });
    socket.once('error', () => { socket.close(); resolve(undefined); });
    socket.bind(port, type === 'udp6' ? '::' : '0.0.0.0', () => resolve(socket));
  });

const main = async (): Promise<void> => {
  const { values } = parseArgs({ options: { name: { type: 'string' }, tcp: { type: 'string' }, udp: { type: 'string' } } });
  const name = values.name ?? process.env.HOSTNAME ?? 'echo';
  const tcp = parsePorts(values.tcp);
  const udp = parsePorts(values.udp);
  await Promise.all(tcp.map((p) => listenHttp(name, p)));
  const udpSockets = await Promise.all(udp.flatMap((p) => [listenUdp(name, p, 'udp4'), listenUdp(name, p, 'udp6')]));
  if (udp.length > 0 && udpSockets.every((s) => s === undefined)) throw new Error(`could not bind UDP ports ${udp.join(',')}`);
  process.stdout.write(JSON.stringify({ ready: true, pod: name, tcp, udp }) + '\n');
  process.on('SIGTERM', () => process.exit(0));
};

main().catch((e: unknown) => {
  process.stderr.write(`echo-server: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
