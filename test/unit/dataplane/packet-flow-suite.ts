/**
 * One packet-flow table every dataplane must pass: each row programs a DesiredState, traces one packet through the
 * dataplane's own rule form and checks the outcome.
 */
import type { TestFn } from 'ava';
import type { DesiredState } from '../../../lib/plan/types.ts';
import type { TraceContext, TracePacket, TraceResult, Tracer } from '../../../lib/dataplane/trace-types.ts';
import { desired, ep, LOCAL_ADDRESSES, NODE_IP, NODE_IP6, OTHER_LOCAL_IP, plan, richServices } from './fixtures.ts';

export type MakeTracer = (state: DesiredState, ctx: TraceContext) => Tracer | Promise<Tracer>;

const POD = '10.244.1.20';
const EXTERNAL = '203.0.113.5';
const OUTSIDER = '192.0.2.99';

interface Flow {
  readonly title: string;
  readonly state?: DesiredState;
  readonly packet: TracePacket;
  readonly want: TraceResult;
  /** The outcome in a dataplane without localhost NodePorts (kube-proxy has them in iptables mode only). */
  readonly withoutLocalhostNodePorts?: TraceResult;
}

/** What a dataplane offers beyond the common ground; rows whose outcome depends on it say so. */
export interface DataplaneCapabilities {
  /** NodePorts on 127.0.0.1 when FamilySettings.localhostNodePorts asks (kube-proxy's iptables mode). */
  readonly localhostNodePorts: boolean;
}

const rich = desired(richServices());
const pkt = (from: TracePacket['from'], src: string, dst: string, dport: number, proto: TracePacket['proto'] = 'TCP'): TracePacket => ({ from, src, dst, dport, proto });
const dnat = (masquerade: boolean, ...endpoints: string[]): TraceResult => ({ verdict: 'dnat', endpoints: [...endpoints].sort(), masquerade });

const BRIDGE = desired(richServices(), { v4: { clusterCIDRs: [], podInterface: { name: 'cbr0', prefix: false } } });
const PREFIX = desired(richServices(), { v4: { clusterCIDRs: [], podInterface: { name: 'veth', prefix: true } } });
const via = (inIface: string, packet: TracePacket): TracePacket => ({ ...packet, inIface });
/** --nodeport-addresses 0.0.0.0/0 with localhost NodePorts on (iptables mode's default with that flag). */
const LOCALHOST = desired(richServices(), { v4: { nodePortAddresses: [], nodePortOnAllLocal: true, nodePortCIDRs: ['0.0.0.0/0'], localhostNodePorts: true } });
const EVERYWHERE = desired(richServices(), { v4: { nodePortAddresses: [], nodePortOnAllLocal: true, nodePortCIDRs: ['0.0.0.0/0'] } });
const NOT_A_SERVICE: TraceResult = { verdict: 'accept' };

const flows: readonly Flow[] = [
  { title: 'ClusterIP from a pod: any endpoint, client IP kept', packet: pkt('pod', POD, '10.96.0.10', 80), want: dnat(false, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'ClusterIP from the node: masqueraded', packet: pkt('node', NODE_IP, '10.96.0.10', 80), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'ClusterIP from outside the cluster CIDRs: masqueraded', packet: pkt('external', EXTERNAL, '10.96.0.10', 80), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'ClusterIP on a port the service does not have: rejected', packet: pkt('pod', POD, '10.96.0.10', 81), want: { verdict: 'reject' } },
  { title: 'ClusterIP without endpoints: rejected', packet: pkt('pod', POD, '10.96.0.20', 80), want: { verdict: 'reject' } },
  { title: 'ClusterIP without endpoints from the node: rejected', packet: pkt('node', NODE_IP, '10.96.0.20', 80), want: { verdict: 'reject' } },
  { title: 'UDP ClusterIP', packet: pkt('pod', POD, '10.96.0.53', 53, 'UDP'), want: dnat(false, '10.244.2.9:53') },
  { title: 'TCP to a UDP-only service port: rejected', packet: pkt('pod', POD, '10.96.0.53', 53, 'TCP'), want: { verdict: 'reject' } },
  { title: 'SCTP ClusterIP', packet: pkt('pod', POD, '10.96.0.70', 9000, 'SCTP'), want: dnat(false, '10.244.2.15:9000') },
  { title: 'NodePort from outside: masqueraded (Cluster policy)', packet: pkt('external', EXTERNAL, NODE_IP, 30080), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'NodePort from the node itself', packet: pkt('node', NODE_IP, NODE_IP, 30080), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'NodePort on a local address outside --nodeport-addresses: not a service', packet: pkt('external', EXTERNAL, OTHER_LOCAL_IP, 30080), want: { verdict: 'accept' } },
  {
    title: 'NodePort on any local address when nodePortOnAllLocal',
    state: desired(richServices(), { v4: { nodePortAddresses: [], nodePortOnAllLocal: true } }),
    packet: pkt('external', EXTERNAL, OTHER_LOCAL_IP, 30080),
    want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080'),
  },
  {
    title: 'NodePort on loopback never answers',
    state: desired(richServices(), { v4: { nodePortAddresses: [], nodePortOnAllLocal: true } }),
    packet: pkt('node', '127.0.0.1', '127.0.0.1', 30080),
    want: { verdict: 'accept' },
  },
  { title: '--nodeport-addresses 0.0.0.0/0: any local address', state: EVERYWHERE, packet: pkt('external', EXTERNAL, OTHER_LOCAL_IP, 30080), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: '--nodeport-addresses 0.0.0.0/0 without localhost NodePorts: not on 127.0.0.1', state: EVERYWHERE, packet: pkt('node', '127.0.0.1', '127.0.0.1', 30080), want: NOT_A_SERVICE },
  {
    title: 'a NodePort CIDR wider than loopback (64.0.0.0/2) still leaves 127.0.0.1 out',
    state: desired(richServices(), { v4: { nodePortAddresses: [], nodePortOnAllLocal: false, nodePortCIDRs: ['64.0.0.0/2'] } }),
    packet: pkt('node', '127.0.0.1', '127.0.0.1', 30080),
    want: NOT_A_SERVICE,
  },
  {
    title: 'localhost NodePorts: 127.0.0.1 answers, masqueraded',
    state: LOCALHOST,
    packet: pkt('node', '127.0.0.1', '127.0.0.1', 30080),
    want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080'),
    withoutLocalhostNodePorts: NOT_A_SERVICE,
  },
  {
    title: 'localhost NodePorts: eTP Local from 127.0.0.1 reaches every endpoint, masqueraded',
    state: LOCALHOST,
    packet: pkt('node', '127.0.0.1', '127.0.0.1', 30040),
    want: dnat(true, '10.244.1.7:80', '10.244.2.10:80'),
    withoutLocalhostNodePorts: NOT_A_SERVICE,
  },
  {
    title: 'localhost NodePorts: a new connection from outside to 127.0.0.1 that is no NodePort is dropped',
    state: LOCALHOST,
    packet: pkt('external', EXTERNAL, '127.0.0.1', 22),
    want: { verdict: 'drop' },
    withoutLocalhostNodePorts: NOT_A_SERVICE,
  },
  {
    title: 'localhost NodePorts: the node\'s own 127.0.0.1 traffic that is no NodePort passes',
    state: LOCALHOST,
    packet: pkt('node', '127.0.0.1', '127.0.0.1', 22),
    want: NOT_A_SERVICE,
  },
  { title: 'localhost NodePorts are IPv4 only: ::1 never answers', state: LOCALHOST, packet: pkt('node', '::1', '::1', 30080), want: NOT_A_SERVICE },
  { title: 'NodePort without endpoints: rejected', packet: pkt('external', EXTERNAL, NODE_IP, 30020), want: { verdict: 'reject' } },
  { title: 'Unknown port on the node: not a service', packet: pkt('external', EXTERNAL, NODE_IP, 22), want: { verdict: 'accept' } },
  { title: 'LB IP from an allowed source range', packet: pkt('external', EXTERNAL, '198.51.100.1', 443), want: dnat(true, '10.244.1.6:8443', '10.244.2.8:8443') },
  { title: 'LB IP from outside the source ranges: dropped', packet: pkt('external', OUTSIDER, '198.51.100.1', 443), want: { verdict: 'drop' } },
  { title: 'externalIP (no source ranges apply)', packet: pkt('external', OUTSIDER, '198.51.100.2', 443), want: dnat(true, '10.244.1.6:8443', '10.244.2.8:8443') },
  { title: 'eTP Local NodePort from outside: local endpoints only, client IP kept', packet: pkt('external', EXTERNAL, NODE_IP, 30040), want: dnat(false, '10.244.1.7:80') },
  { title: 'eTP Local externalIP from outside: local endpoints only', packet: pkt('external', EXTERNAL, '198.51.100.4', 80), want: dnat(false, '10.244.1.7:80') },
  { title: 'eTP Local externalIP from a pod: short-circuit to all endpoints', packet: pkt('pod', POD, '198.51.100.4', 80), want: dnat(false, '10.244.1.7:80', '10.244.2.10:80') },
  { title: 'eTP Local NodePort from the node: all endpoints, masqueraded', packet: pkt('node', NODE_IP, NODE_IP, 30040), want: dnat(true, '10.244.1.7:80', '10.244.2.10:80') },
  { title: 'eTP Local ClusterIP still uses every endpoint', packet: pkt('pod', POD, '10.96.0.40', 80), want: dnat(false, '10.244.1.7:80', '10.244.2.10:80') },
  { title: 'eTP Local with no local endpoint: NodePort dropped', packet: pkt('external', EXTERNAL, NODE_IP, 30041), want: { verdict: 'drop' } },
  { title: 'eTP Local with no local endpoint: ClusterIP still served', packet: pkt('pod', POD, '10.96.0.41', 80), want: dnat(false, '10.244.2.11:80') },
  { title: 'iTP Local: ClusterIP goes to local endpoints only', packet: pkt('pod', POD, '10.96.0.42', 80), want: dnat(false, '10.244.1.8:80') },
  { title: 'iTP Local with no local endpoint: dropped', packet: pkt('pod', POD, '10.96.0.43', 80), want: { verdict: 'drop' } },
  { title: 'ClientIP affinity: every endpoint reachable through endpoint chains', packet: pkt('pod', POD, '10.96.0.50', 80), want: dnat(false, '10.244.1.9:80', '10.244.2.14:80') },
  { title: 'Hairpin: a pod reaching itself through its service is masqueraded', packet: pkt('pod', '10.244.1.5', '10.96.0.60', 80), want: dnat(true, '10.244.1.5:9090') },
  {
    title: 'masqueradeAll: pod-to-ClusterIP masqueraded',
    state: desired(richServices(), { masqueradeAll: true }),
    packet: pkt('pod', POD, '10.96.0.10', 80),
    want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080'),
  },
  {
    title: 'another masquerade bit (13): external NodePort traffic still masqueraded',
    state: desired(richServices(), { v4: { masqueradeMark: 0x2000 } }),
    packet: pkt('external', EXTERNAL, NODE_IP, 30080),
    want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080'),
  },
  {
    title: 'masquerade bit 31 (the sign bit of a 32-bit mark): ClusterIP from the node masqueraded, from a pod not',
    state: desired(richServices(), { v4: { masqueradeMark: 2 ** 31 } }),
    packet: pkt('node', NODE_IP, '10.96.0.10', 80),
    want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080'),
  },
  {
    title: 'masquerade bit 31: ClusterIP from a pod keeps its client IP',
    state: desired(richServices(), { v4: { masqueradeMark: 2 ** 31 } }),
    packet: pkt('pod', POD, '10.96.0.10', 80),
    want: dnat(false, '10.244.1.5:8080', '10.244.2.7:8080'),
  },
  {
    title: 'no cluster CIDRs: ClusterIP traffic is not masqueraded (as kube-proxy without a local detector)',
    state: desired(richServices(), { v4: { clusterCIDRs: [] } }),
    packet: pkt('node', NODE_IP, '10.96.0.10', 80),
    want: dnat(false, '10.244.1.5:8080', '10.244.2.7:8080'),
  },
  { title: 'not a service at all', packet: pkt('pod', POD, '8.8.8.8', 443), want: { verdict: 'accept' } },
  { title: 'IPv6 ClusterIP', packet: pkt('pod', 'fd00:244::99', 'fd00:96::10', 80), want: dnat(false, '[fd00:244::5]:8080', '[fd00:244::7]:8080') },
  { title: 'IPv6 ClusterIP from the node: masqueraded', packet: pkt('node', NODE_IP6, 'fd00:96::10', 80), want: dnat(true, '[fd00:244::5]:8080', '[fd00:244::7]:8080') },
  { title: 'IPv6 NodePort', packet: pkt('external', '2001:db8::5', NODE_IP6, 30080), want: dnat(true, '[fd00:244::5]:8080', '[fd00:244::7]:8080') },
  { title: 'IPv6 ClusterIP without endpoints: rejected', packet: pkt('pod', 'fd00:244::99', 'fd00:96::20', 80), want: { verdict: 'reject' } },
  // Local-traffic detection by input interface (kube-proxy's BridgeInterface and InterfaceNamePrefix modes).
  { title: 'BridgeInterface: ClusterIP from a pod on the bridge: client IP kept', state: BRIDGE, packet: via('cbr0', pkt('pod', POD, '10.96.0.10', 80)), want: dnat(false, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'BridgeInterface: ClusterIP arriving on another interface: masqueraded', state: BRIDGE, packet: via('eth0', pkt('external', EXTERNAL, '10.96.0.10', 80)), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'BridgeInterface: a pod address arriving on another interface is not a pod', state: BRIDGE, packet: via('eth0', pkt('external', POD, '10.96.0.10', 80)), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'BridgeInterface: ClusterIP from the node: masqueraded', state: BRIDGE, packet: pkt('node', NODE_IP, '10.96.0.10', 80), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'BridgeInterface: eTP Local externalIP from a pod: short-circuit to all endpoints', state: BRIDGE, packet: via('cbr0', pkt('pod', POD, '198.51.100.4', 80)), want: dnat(false, '10.244.1.7:80', '10.244.2.10:80') },
  { title: 'BridgeInterface: eTP Local externalIP from outside: local endpoints only', state: BRIDGE, packet: via('eth0', pkt('external', EXTERNAL, '198.51.100.4', 80)), want: dnat(false, '10.244.1.7:80') },
  { title: 'InterfaceNamePrefix: ClusterIP from a pod veth: client IP kept', state: PREFIX, packet: via('veth1a2b3c', pkt('pod', POD, '10.96.0.10', 80)), want: dnat(false, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'InterfaceNamePrefix: ClusterIP from eth0: masqueraded', state: PREFIX, packet: via('eth0', pkt('external', EXTERNAL, '10.96.0.10', 80)), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'InterfaceNamePrefix: a name that only contains the prefix is not a pod', state: PREFIX, packet: via('xveth0', pkt('pod', POD, '10.96.0.10', 80)), want: dnat(true, '10.244.1.5:8080', '10.244.2.7:8080') },
  { title: 'InterfaceNamePrefix: eTP Local externalIP from a pod veth: short-circuit', state: PREFIX, packet: via('veth9', pkt('pod', POD, '198.51.100.4', 80)), want: dnat(false, '10.244.1.7:80', '10.244.2.10:80') },
  {
    title: 'a single-endpoint service with one port',
    state: desired([plan({ name: 'one', clusterIP: '10.96.1.1', port: 8080, endpoints: [ep('10.244.3.3', 80)] })]),
    packet: pkt('pod', POD, '10.96.1.1', 8080),
    want: dnat(false, '10.244.3.3:80'),
  },
];

/**
 * Rows IPVS cannot pass: one real-server list per virtual server, whatever the source, so pods and the node itself
 * cannot be sent to all endpoints of an eTP Local service's external address (as in kube-proxy's IPVS mode).
 */
export const IPVS_KNOWN_DIFFERENCES: readonly string[] = [
  'eTP Local externalIP from a pod: short-circuit to all endpoints',
  'eTP Local NodePort from the node: all endpoints, masqueraded',
  'BridgeInterface: eTP Local externalIP from a pod: short-circuit to all endpoints',
  'InterfaceNamePrefix: eTP Local externalIP from a pod veth: short-circuit',
];

export const runPacketFlowSuite = (
  test: TestFn,
  name: string,
  makeTracer: MakeTracer,
  capabilities: DataplaneCapabilities = { localhostNodePorts: false },
): void => {
  for (const f of flows) {
    const want = !capabilities.localhostNodePorts && f.withoutLocalhostNodePorts !== undefined ? f.withoutLocalhostNodePorts : f.want;
    test(`${name} packet flow: ${f.title}`, async (t) => {
      const tracer = await makeTracer(f.state ?? rich, { localAddresses: LOCAL_ADDRESSES });
      t.deepEqual(tracer(f.packet), want);
    });
  }
};
