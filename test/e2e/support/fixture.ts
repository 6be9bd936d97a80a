/**
 * The e2e cluster: the sandbox's two nodes (node-a 192.168.50.10, node-b 192.168.50.11, dual-stack), three echo
 * pods, the outside host (192.168.50.100, plus 192.168.50.101 added for source-range checks), and one manifest
 * file per Service so a scenario rewrites only its own.
 */
import type { PodSpec } from '../../../lib/sandbox/spec.ts';
import { endpointSlices, node, service, yamlFile, type EndpointSpec, type ServiceSpec } from './manifests.ts';

export const HTTP_PORT = 8080;
export const UDP_PORT = 5353;

export const POD = {
  /** The usual client; also the only endpoint of the hairpin Service. */
  a1: { name: 'pod-a1', node: 'node-a', ipv4: '10.244.1.10', ipv6: 'fd00:244:1::10' },
  a2: { name: 'pod-a2', node: 'node-a', ipv4: '10.244.1.11', ipv6: 'fd00:244:1::11' },
  b1: { name: 'pod-b1', node: 'node-b', ipv4: '10.244.2.10', ipv6: 'fd00:244:2::10' },
} as const;
export type PodName = keyof typeof POD;

export const podSpecs: readonly PodSpec[] = Object.values(POD).map((p) => ({ ...p, tcpPorts: [HTTP_PORT], udpPorts: [UDP_PORT] }));

export const NODE_A_IP = '192.168.50.10';
export const NODE_B_IP = '192.168.50.11';
/** node-a's address on its pod bridge: what a masqueraded packet to a local pod carries. */
export const NODE_A_POD_GATEWAY = '10.244.1.1';
export const OUTSIDE_IP = '192.168.50.100';
/** A second address on the outside host, for loadBalancerSourceRanges. */
export const OUTSIDE_SECOND_IP = '192.168.50.101';
export const LB_IP = '192.168.60.100';
export const EXTERNAL_IP = '192.168.60.50';

/** An endpoint of a pod (IPv4 unless family 6). */
export const ep = (pod: PodName, state: EndpointSpec['state'] = 'ready', familyNumber: 4 | 6 = 4): EndpointSpec => ({
  ip: familyNumber === 4 ? POD[pod].ipv4 : POD[pod].ipv6,
  node: POD[pod].node,
  state,
});

const http = { name: 'http', port: 80, targetPort: HTTP_PORT } as const;

export const SVC = {
  web: { name: 'web', clusterIPs: ['10.96.0.10'], ports: [http, { name: 'dns', protocol: 'UDP', port: 53, targetPort: UDP_PORT }] },
  nodeportCluster: { name: 'np-cluster', type: 'NodePort', clusterIPs: ['10.96.0.11'], ports: [{ ...http, nodePort: 30080 }] },
  nodeportLocal: { name: 'np-local', type: 'NodePort', clusterIPs: ['10.96.0.12'], ports: [{ ...http, nodePort: 30081 }], externalTrafficPolicy: 'Local', healthCheckNodePort: 32081 },
  nodeportLocalRemote: { name: 'np-local-remote', type: 'NodePort', clusterIPs: ['10.96.0.13'], ports: [{ ...http, nodePort: 30082 }], externalTrafficPolicy: 'Local', healthCheckNodePort: 32082 },
  lb: { name: 'lb', type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], ports: [{ ...http, nodePort: 30090 }], loadBalancerIPs: [LB_IP] },
  empty: { name: 'empty', clusterIPs: ['10.96.0.30'], ports: [http, { name: 'dns', protocol: 'UDP', port: 53, targetPort: UDP_PORT }] },
  sticky: { name: 'sticky', clusterIPs: ['10.96.0.31'], ports: [http], sessionAffinity: 'ClientIP' },
  dual: { name: 'dual', clusterIPs: ['10.96.0.40', 'fd00:96::40'], ports: [http] },
  external: { name: 'external', clusterIPs: ['10.96.0.50'], ports: [http], externalIPs: [EXTERNAL_IP] },
  hairpin: { name: 'hairpin', clusterIPs: ['10.96.0.60'], ports: [http] },
  terminating: { name: 'terminating', clusterIPs: ['10.96.0.70'], ports: [http] },
  move: { name: 'move', clusterIPs: ['10.96.0.80'], ports: [http] },
  itpLocal: { name: 'itp-local', clusterIPs: ['10.96.0.90'], ports: [http], internalTrafficPolicy: 'Local' },
  itpLocalRemote: { name: 'itp-local-remote', clusterIPs: ['10.96.0.91'], ports: [http], internalTrafficPolicy: 'Local' },
  afterRestart: { name: 'after-restart', clusterIPs: ['10.96.0.100'], ports: [http] },
  afterBroken: { name: 'after-broken', clusterIPs: ['10.96.0.101'], ports: [http] },
  afterHandover: { name: 'after-handover', clusterIPs: ['10.96.0.102'], ports: [http] },
} as const satisfies Record<string, ServiceSpec>;

/** `http://10.96.0.10:80/` style URL of a Service's first port on one of its IPs. */
export const url = (ip: string, port = 80): string => `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}/`;

/** Where the handover scenario's daemons serve Ingress on node-a. */
export const INGRESS_PORT = 8081;

/** switchyard's IngressClass and an Ingress sending every host and path to `web` (its port named http). */
export const ingressFile = (): string =>
  yamlFile([
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'switchyard' }, spec: { controller: 'switchyard.io/ingress-controller' } },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'web', namespace: 'default' },
      spec: { ingressClassName: 'switchyard', defaultBackend: { service: { name: SVC.web.name, port: { name: 'http' } } } },
    },
  ]);

/** The file text of a Service with its endpoints. */
export const serviceFile = (s: ServiceSpec, endpoints: readonly EndpointSpec[]): string =>
  yamlFile([service(s), ...endpointSlices(s, endpoints)]);

const both = [ep('a2'), ep('b1')];

/** The manifests directory the daemon starts with: file name → text. */
export const initialFiles = (): Record<string, string> => ({
  'nodes.yaml': yamlFile([
    node('node-a', [NODE_A_IP, 'fd00:50::10'], ['10.244.1.0/24', 'fd00:244:1::/64']),
    node('node-b', [NODE_B_IP, 'fd00:50::11'], ['10.244.2.0/24', 'fd00:244:2::/64']),
  ]),
  'web.yaml': serviceFile(SVC.web, both),
  'np-cluster.yaml': serviceFile(SVC.nodeportCluster, both),
  'np-local.yaml': serviceFile(SVC.nodeportLocal, both),
  'np-local-remote.yaml': serviceFile(SVC.nodeportLocalRemote, [ep('b1')]),
  'lb.yaml': serviceFile(SVC.lb, both),
  'empty.yaml': serviceFile(SVC.empty, []),
  'sticky.yaml': serviceFile(SVC.sticky, both),
  'dual.yaml': serviceFile(SVC.dual, [...both, ep('a2', 'ready', 6), ep('b1', 'ready', 6)]),
  'external.yaml': serviceFile(SVC.external, both),
  'hairpin.yaml': serviceFile(SVC.hairpin, [ep('a1')]),
  'terminating.yaml': serviceFile(SVC.terminating, [ep('a2', 'terminating'), ep('b1', 'terminating')]),
  'move.yaml': serviceFile(SVC.move, [ep('a2')]),
  'itp-local.yaml': serviceFile(SVC.itpLocal, both),
  'itp-local-remote.yaml': serviceFile(SVC.itpLocalRemote, [ep('b1')]),
});
