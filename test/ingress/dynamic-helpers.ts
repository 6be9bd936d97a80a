/**
 * Pieces for the dynamic-update tests that run the real Daemon (proxy mode none, ingress on 127.0.0.1): the
 * objects of a small cluster pointing at local echo backends, a Config from real flags, and polling with timing.
 */
import { parseCommandLine, type Config } from '../../lib/config/index.ts';
import { send } from './helpers.ts';

export const NODE = 'node-1';
export const STATUS_ADDRESS = '192.0.2.10';

export const configFor = async (flags: readonly string[], ingressPort: number): Promise<Config> => {
  const parsed = await parseCommandLine(
    [
      '--proxy-mode', 'none',
      '--hostname-override', NODE,
      '--ingress-http-address', `127.0.0.1:${ingressPort}`,
      '--ingress-https-address', '',
      // kube-proxy's 1 s minimum between syncs would dominate what these tests measure: the ingress path.
      '--min-sync-period', '100ms',
      ...flags,
    ],
    { readFile: () => Promise.reject(new Error('no files in this test')) },
  );
  if (parsed.command !== 'run') throw new Error(`unexpected command ${parsed.command}`);
  return parsed.config;
};

export const node = (): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: NODE },
  status: { addresses: [{ type: 'InternalIP', address: '192.168.50.1' }] },
});

export const ourClass = (): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name: 'switchyard' },
  spec: { controller: 'switchyard.io/ingress-controller' },
});

export const otherClass = (): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name: 'other' },
  spec: { controller: 'example.com/other-controller' },
});

export const service = (name: string, clusterIP: string): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { type: 'ClusterIP', clusterIP, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
});

/** One ready endpoint on 127.0.0.1:`port`. */
export const slice = (serviceName: string, port: number): Record<string, unknown> => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${serviceName}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': serviceName } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  ports: [{ name: 'http', port, protocol: 'TCP' }],
});

export const ingress = (
  name: string,
  path: string,
  serviceName: string,
  className = 'switchyard',
): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: 'default' },
  spec: {
    ingressClassName: className,
    rules: [
      {
        host: 'shop.example.test',
        http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: serviceName, port: { number: 80 } } } }] },
      },
    ],
  },
});

export interface Seen {
  readonly status: number;
  /** The echo backend's name, when it answered. */
  readonly backend: string | undefined;
}

export const get = async (port: number, path: string): Promise<Seen> => {
  try {
    const reply = await send({ port, path, host: 'shop.example.test' });
    let backend: string | undefined;
    try {
      backend = (JSON.parse(reply.body) as { name?: string }).name;
    } catch {
      backend = undefined;
    }
    return { status: reply.status, backend };
  } catch {
    return { status: 0, backend: undefined };
  }
};

/** Polls `probe` until `ok`; returns the milliseconds it took, or throws with the last value seen. */
export const within = async <T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T> | T,
  ok: (value: T) => boolean,
): Promise<number> => {
  const start = performance.now();
  let last: T | undefined;
  while (performance.now() - start < timeoutMs) {
    last = await probe();
    if (ok(last)) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
};
