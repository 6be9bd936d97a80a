/** Socket-level helpers for IngressServer tests: echo backends, a client, route tables pointing at 127.0.0.1. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from '../../lib/model/types.ts';
import { buildRouteTable, type RouteOptions } from '../../lib/ingress/routes.ts';
import type { SecretObject } from '../../lib/ingress/objects.ts';
import type { RouteTable } from '../../lib/ingress/types.ts';
import { endpoint, ingress, ourClass, servicePort, type IngressSpecInput } from '../unit/ingress/fixtures.ts';
import type { ServicePort } from '../../lib/model/types.ts';

export interface EchoReply {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
}

export interface Backend {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

type Handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;

/** A node:http backend on 127.0.0.1:0 that answers with what it received, as JSON (or runs `handler`). */
export const startBackend = async (name: string, handler?: Handler): Promise<Backend> => {
  const server = createServer(
    handler ??
      ((req, res) => {
        let bodyBytes = 0;
        req.on('data', (c: Buffer) => (bodyBytes += c.length));
        req.on('end', () => {
          const reply: EchoReply = { name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes };
          const body = JSON.stringify(reply);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
      }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export const closedPort = async (): Promise<number> => {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
};

export const local = (port: number, ready = true, terminating = false): Endpoint =>
  endpoint('127.0.0.1', port, ready, terminating);

/**
 * A route table from Ingress specs; `services` maps a Service name (namespace `default`, port 80 named "http")
 * to its endpoints. A Service not in the map does not exist.
 */
export const routeTable = (
  ingresses: IngressSpecInput[],
  services: Record<string, readonly Endpoint[]>,
  secrets: SecretObject[] = [],
  options: RouteOptions = {},
): RouteTable => {
  const svc = new Map<string, ServicePort>();
  const eps = new Map<string, readonly Endpoint[]>();
  for (const [name, endpoints] of Object.entries(services)) {
    const sp = servicePort('default', name, 'http', 80);
    svc.set(sp.key, sp);
    eps.set(sp.key, endpoints);
  }
  return buildRouteTable(
    ingresses.map(ingress),
    [ourClass()],
    new Map(secrets.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s])),
    { services: svc, endpoints: eps },
    options,
  );
};

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface RequestInput {
  readonly port: number;
  readonly path?: string;
  readonly method?: string;
  readonly host?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Send the body chunked (no Content-Length). */
  readonly chunked?: boolean;
}

/** One request on a fresh connection (no agent pooling, so tests do not share sockets). */
export const send = (input: RequestInput): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(input.headers ?? {}) };
    if (input.host !== undefined) headers['host'] = input.host;
    const req = request(
      { host: '127.0.0.1', port: input.port, path: input.path ?? '/', method: input.method ?? 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (input.body !== undefined) {
      if (input.chunked) {
        const b = Buffer.from(input.body);
        const half = Math.floor(b.length / 2);
        req.write(b.subarray(0, half));
        req.end(b.subarray(half));
        return;
      }
      req.setHeader('content-length', Buffer.byteLength(input.body));
      req.end(input.body);
      return;
    }
    req.end();
  });

export const OPENSSL = '/usr/bin/openssl';

export interface TestCert {
  readonly cert: string;
  readonly key: string;
}

/** Self-signed certificates made by the openssl CLI in a temp dir (independent of our own generator). */
export const opensslCert = (commonName: string): TestCert => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      OPENSSL,
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath,
        '-out', certPath, '-days', '2', '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=DNS:${commonName}`],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

export const haveOpenssl = (): boolean => existsSync(OPENSSL);

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
