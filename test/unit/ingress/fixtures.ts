/** Builders for Ingress-layer tests: plain objects as an API server would serve them, and a hand-made view. */
import type { Endpoint, ServicePort } from '../../../lib/model/types.ts';
import { servicePortKey } from '../../../lib/model/types.ts';
import type { IngressClassObject, IngressObject, SecretObject } from '../../../lib/ingress/objects.ts';
import type { ServiceView } from '../../../lib/ingress/types.ts';
import { CONTROLLER_NAME } from '../../../lib/ingress/routes.ts';

export const ourClass = (name = 'switchyard', isDefault = false): IngressClassObject => ({
  metadata: {
    name,
    ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}),
  },
  spec: { controller: CONTROLLER_NAME },
});

export const otherClass = (name = 'nginx', isDefault = false): IngressClassObject => ({
  metadata: {
    name,
    ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}),
  },
  spec: { controller: 'k8s.io/ingress-nginx' },
});

export type PathSpec = readonly [path: string, type: 'Exact' | 'Prefix' | 'ImplementationSpecific', service: string];

export interface IngressSpecInput {
  readonly name?: string;
  readonly namespace?: string;
  readonly created?: string;
  readonly className?: string | null;
  readonly annotations?: Record<string, string>;
  readonly rules?: readonly { host?: string; paths: readonly PathSpec[] }[];
  readonly defaultBackend?: string;
  readonly tls?: readonly { hosts?: string[]; secretName?: string }[];
  readonly port?: { number: number } | { name: string };
}

export const ingress = (i: IngressSpecInput): IngressObject => {
  const port = i.port ?? { number: 80 };
  const backend = (service: string) => ({ service: { name: service, port } });
  return {
    metadata: {
      name: i.name ?? 'ing',
      namespace: i.namespace ?? 'default',
      ...(i.created ? { creationTimestamp: i.created } : {}),
      ...(i.annotations ? { annotations: i.annotations } : {}),
    },
    spec: {
      ...(i.className === null ? {} : { ingressClassName: i.className ?? 'switchyard' }),
      ...(i.defaultBackend ? { defaultBackend: backend(i.defaultBackend) } : {}),
      ...(i.tls ? { tls: i.tls.map((t) => ({ ...t })) } : {}),
      rules: (i.rules ?? []).map((r) => ({
        ...(r.host !== undefined ? { host: r.host } : {}),
        http: { paths: r.paths.map(([path, pathType, service]) => ({ path, pathType, backend: backend(service) })) },
      })),
    },
  };
};

export const endpoint = (ip: string, port: number, ready = true, terminating = false): Endpoint => ({
  ip,
  family: ip.includes(':') ? 6 : 4,
  port,
  ready,
  serving: ready || terminating,
  terminating,
  isLocal: false,
  nodeName: undefined,
  zone: undefined,
  zoneHints: [],
  nodeHints: [],
});

export const servicePort = (namespace: string, name: string, portName: string, port: number): ServicePort => ({
  key: servicePortKey(namespace, name, portName),
  namespace,
  name,
  portName,
  type: 'ClusterIP',
  protocol: 'TCP',
  port,
  nodePort: 0,
  clusterIPs: ['10.96.0.10'],
  ipFamilies: [4],
  externalIPs: [],
  loadBalancerIPs: [],
  loadBalancerSourceRanges: [],
  sessionAffinityTimeoutSeconds: undefined,
  externalPolicyLocal: false,
  internalPolicyLocal: false,
  healthCheckNodePort: 0,
  trafficDistribution: undefined,
});

/** A view where each named Service in `default` has port 80 named "http" and one endpoint 10.0.0.x:8080. */
export const viewOf = (
  services: readonly string[],
  extra: readonly [ServicePort, readonly Endpoint[]][] = [],
): ServiceView => {
  const svc = new Map<string, ServicePort>();
  const eps = new Map<string, readonly Endpoint[]>();
  services.forEach((name, idx) => {
    const sp = servicePort('default', name, 'http', 80);
    svc.set(sp.key, sp);
    eps.set(sp.key, [endpoint(`10.0.0.${idx + 1}`, 8080)]);
  });
  for (const [sp, e] of extra) {
    svc.set(sp.key, sp);
    eps.set(sp.key, e);
  }
  return { services: svc, endpoints: eps };
};

export const tlsSecret = (name: string, cert: string, key: string, namespace = 'default', encode = true): SecretObject =>
  encode
    ? {
        metadata: { name, namespace },
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': Buffer.from(cert).toString('base64'), 'tls.key': Buffer.from(key).toString('base64') },
      }
    : { metadata: { name, namespace }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': cert, 'tls.key': key } };
