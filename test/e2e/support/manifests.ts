/**
 * Builders for the Kubernetes objects the e2e scenarios write into the daemon's manifests directory, shaped the
 * way an API server would serve them (minus uid/resourceVersion), and the YAML text of a file holding several.
 */
import { stringify } from 'yaml';

export type Obj = Record<string, unknown>;

export interface PortSpec {
  readonly name: string;
  readonly protocol?: 'TCP' | 'UDP';
  readonly port: number;
  readonly targetPort: number;
  readonly nodePort?: number;
}

export interface ServiceSpec {
  readonly name: string;
  readonly namespace?: string;
  readonly type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /** One address per family; two makes the Service RequireDualStack. */
  readonly clusterIPs: readonly string[];
  readonly ports: readonly PortSpec[];
  readonly externalTrafficPolicy?: 'Cluster' | 'Local';
  readonly internalTrafficPolicy?: 'Cluster' | 'Local';
  readonly healthCheckNodePort?: number;
  readonly sessionAffinity?: 'ClientIP';
  readonly externalIPs?: readonly string[];
  readonly loadBalancerIPs?: readonly string[];
  readonly loadBalancerSourceRanges?: readonly string[];
}

export interface EndpointSpec {
  readonly ip: string;
  readonly node: string;
  /** ready (default), or terminating while still serving. */
  readonly state?: 'ready' | 'terminating';
}

const family = (ip: string): 'IPv4' | 'IPv6' => (ip.includes(':') ? 'IPv6' : 'IPv4');

export const service = (s: ServiceSpec): Obj => {
  const type = s.type ?? 'ClusterIP';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: s.namespace ?? 'default' },
    spec: {
      type,
      selector: { app: s.name },
      clusterIP: s.clusterIPs[0],
      clusterIPs: [...s.clusterIPs],
      ipFamilies: s.clusterIPs.map(family),
      ipFamilyPolicy: s.clusterIPs.length > 1 ? 'RequireDualStack' : 'SingleStack',
      ports: s.ports.map((p) => ({
        name: p.name,
        protocol: p.protocol ?? 'TCP',
        port: p.port,
        targetPort: p.targetPort,
        ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
      })),
      ...(type !== 'ClusterIP' ? { externalTrafficPolicy: s.externalTrafficPolicy ?? 'Cluster' } : {}),
      ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
      ...(s.healthCheckNodePort !== undefined ? { healthCheckNodePort: s.healthCheckNodePort } : {}),
      ...(s.sessionAffinity
        ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }
        : {}),
      ...(s.externalIPs ? { externalIPs: [...s.externalIPs] } : {}),
      ...(s.loadBalancerSourceRanges ? { loadBalancerSourceRanges: [...s.loadBalancerSourceRanges] } : {}),
    },
    ...(s.loadBalancerIPs ? { status: { loadBalancer: { ingress: s.loadBalancerIPs.map((ip) => ({ ip, ipMode: 'VIP' })) } } } : {}),
  };
};

/** One EndpointSlice per address family present in `endpoints`; slice ports are the Service ports' targetPorts. */
export const endpointSlices = (s: ServiceSpec, endpoints: readonly EndpointSpec[]): Obj[] =>
  (['IPv4', 'IPv6'] as const)
    .map((addressType) => ({ addressType, eps: endpoints.filter((e) => family(e.ip) === addressType) }))
    .filter(({ eps }) => eps.length > 0)
    .map(({ addressType, eps }) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${s.name}-${addressType.toLowerCase()}`,
        namespace: s.namespace ?? 'default',
        labels: { 'kubernetes.io/service-name': s.name },
      },
      addressType,
      ports: s.ports.map((p) => ({ name: p.name, protocol: p.protocol ?? 'TCP', port: p.targetPort })),
      endpoints: eps.map((e) => {
        const terminating = e.state === 'terminating';
        return {
          addresses: [e.ip],
          conditions: { ready: !terminating, serving: true, terminating },
          nodeName: e.node,
        };
      }),
    }));

export const node = (name: string, internalIPs: readonly string[], podCIDRs: readonly string[]): Obj => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'kubernetes.io/hostname': name } },
  spec: { podCIDR: podCIDRs[0], podCIDRs: [...podCIDRs] },
  status: {
    addresses: [...internalIPs.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }],
  },
});

/** A multi-document YAML file. */
export const yamlFile = (objects: readonly Obj[]): string => objects.map((o) => stringify(o)).join('---\n');
