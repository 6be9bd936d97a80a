/**
 * The switchyard side of perf/ingress-vs-nginx.ts: one IngressServer (the daemon's proxy, nothing else: no
 * source, no dataplane, no sysctls) with a host-less `/` Prefix rule to one endpoint. Prints `ready` when bound.
 * Usage: node perf/ingress-proxy-child.ts <httpPort> <httpsPort> <upstreamPort>
 */
import { IngressServer } from '../lib/ingress/server.ts';
import { buildRouteTable } from '../lib/ingress/routes.ts';
import { servicePortKey, type Endpoint, type ServicePort } from '../lib/model/types.ts';
import type { IngressObject } from '../lib/ingress/objects.ts';

const [httpPort, httpsPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!httpPort || !httpsPort || !upstreamPort) {
  console.error('usage: ingress-proxy-child.ts <httpPort> <httpsPort> <upstreamPort>');
  process.exit(2);
}

const key = servicePortKey('default', 'upstream', 'http');
const port = { namespace: 'default', name: 'upstream', portName: 'http', port: 80, protocol: 'TCP' } as unknown as ServicePort;
const endpoint = { ip: '127.0.0.1', port: upstreamPort, family: 4, ready: true, serving: true, terminating: false } as unknown as Endpoint;
const ingress: IngressObject = {
  metadata: { name: 'bench', namespace: 'default' },
  spec: {
    ingressClassName: 'switchyard',
    rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'upstream', port: { name: 'http' } } } }] } }],
  },
};
const table = buildRouteTable(
  [ingress],
  [{ metadata: { name: 'switchyard' }, spec: { controller: 'switchyard.io/ingress-controller' } }],
  new Map(),
  { services: new Map([[key, port]]), endpoints: new Map([[key, [endpoint]]]) },
);
if (table.problems.length > 0) throw new Error(JSON.stringify(table.problems));

const server = new IngressServer({ http: { host: '127.0.0.1', port: httpPort }, https: { host: '127.0.0.1', port: httpsPort } });
server.setRouteTable(table);
await server.start();
console.log('ready');
const stop = (): void => void server.stop(100).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
