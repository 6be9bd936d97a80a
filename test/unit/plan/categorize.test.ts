import test from 'ava';
import {
  categorizeEndpoints,
  topologyModeFromHints,
  type CategorizedPort,
  type NodeTopology,
  type TopologyMode,
} from '../../../lib/plan/categorize.ts';
import type { Endpoint } from '../../../lib/model/types.ts';
import { endpoint } from '../model/builders.ts';

const NODE: NodeTopology = { name: 'node-a', zone: 'z1' };

const ready = (ip: string, extra: Partial<Endpoint> = {}) => endpoint(ip, extra);
const servingTerminating = (ip: string, extra: Partial<Endpoint> = {}) =>
  endpoint(ip, { ready: false, serving: true, terminating: true, ...extra });
const deadTerminating = (ip: string, extra: Partial<Endpoint> = {}) =>
  endpoint(ip, { ready: false, serving: false, terminating: true, ...extra });
const notReady = (ip: string, extra: Partial<Endpoint> = {}) =>
  endpoint(ip, { ready: false, serving: false, terminating: false, ...extra });
const servingNotReady = (ip: string, extra: Partial<Endpoint> = {}) =>
  endpoint(ip, { ready: false, serving: true, terminating: false, ...extra });
const here = { isLocal: true, nodeName: 'node-a' } as const;

const clusterIPOnly: CategorizedPort = {
  nodePort: 0,
  externalIPs: [],
  loadBalancerIPs: [],
  internalPolicyLocal: false,
  externalPolicyLocal: false,
};
const nodePortLocal: CategorizedPort = { ...clusterIPOnly, nodePort: 30080, externalPolicyLocal: true };
const internalLocal: CategorizedPort = { ...clusterIPOnly, internalPolicyLocal: true };

interface Case {
  title: string;
  endpoints: Endpoint[];
  port?: CategorizedPort;
  node?: NodeTopology;
  cluster: string[];
  local: string[];
  all: string[];
  hasAny: boolean;
}

const cases: Case[] = [
  { title: 'no endpoints at all', endpoints: [], cluster: [], local: [], all: [], hasAny: false },
  {
    title: 'all ready, Cluster policy: everything',
    endpoints: [ready('10.0.0.1'), ready('10.0.0.2', here)],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: [],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'nothing ready, nothing terminating: nothing usable',
    endpoints: [notReady('10.0.0.1'), notReady('10.0.0.2')],
    cluster: [],
    local: [],
    all: [],
    hasAny: false,
  },
  {
    title: 'ready ones win over serving-terminating ones',
    endpoints: [ready('10.0.0.1'), servingTerminating('10.0.0.2')],
    cluster: ['10.0.0.1'],
    local: [],
    all: ['10.0.0.1'],
    hasAny: true,
  },
  {
    title: 'all terminating but serving: fall back to them',
    endpoints: [servingTerminating('10.0.0.1'), servingTerminating('10.0.0.2'), deadTerminating('10.0.0.3')],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: [],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'all terminating and not serving: nothing',
    endpoints: [deadTerminating('10.0.0.1')],
    cluster: [],
    local: [],
    all: [],
    hasAny: false,
  },
  {
    title: 'serving but not ready and not terminating is never used',
    endpoints: [servingNotReady('10.0.0.1'), ready('10.0.0.2')],
    cluster: ['10.0.0.2'],
    local: [],
    all: ['10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'serving-not-ready-not-terminating alone: nothing usable',
    endpoints: [servingNotReady('10.0.0.1')],
    cluster: [],
    local: [],
    all: [],
    hasAny: false,
  },
  {
    title: 'zone hints on every ready endpoint, some for this zone: only those',
    endpoints: [ready('10.0.0.1', { zoneHints: ['z1'] }), ready('10.0.0.2', { zoneHints: ['z2'] }), ready('10.0.0.3', { zoneHints: ['z1', 'z2'] })],
    cluster: ['10.0.0.1', '10.0.0.3'],
    local: [],
    all: ['10.0.0.1', '10.0.0.3'],
    hasAny: true,
  },
  {
    title: 'zone hints on only some ready endpoints: hints ignored',
    endpoints: [ready('10.0.0.1', { zoneHints: ['z1'] }), ready('10.0.0.2')],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: [],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'zone hints, none for this zone: hints ignored',
    endpoints: [ready('10.0.0.1', { zoneHints: ['z2'] }), ready('10.0.0.2', { zoneHints: ['z3'] })],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: [],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'zone hints but this node has no zone label: hints ignored',
    endpoints: [ready('10.0.0.1', { zoneHints: ['z1'] }), ready('10.0.0.2', { zoneHints: ['z2'] })],
    node: { name: 'node-a', zone: undefined },
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: [],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'an unhinted endpoint that is not ready does not disable hints',
    endpoints: [ready('10.0.0.1', { zoneHints: ['z1'] }), ready('10.0.0.2', { zoneHints: ['z2'] }), notReady('10.0.0.3')],
    cluster: ['10.0.0.1'],
    local: [],
    all: ['10.0.0.1'],
    hasAny: true,
  },
  {
    title: 'PreferSameNode: every ready endpoint has node hints, one names this node',
    endpoints: [
      ready('10.0.0.1', { nodeHints: ['node-a'], zoneHints: ['z1'], ...here }),
      ready('10.0.0.2', { nodeHints: ['node-b'], zoneHints: ['z1'] }),
    ],
    cluster: ['10.0.0.1'],
    local: [],
    all: ['10.0.0.1'],
    hasAny: true,
  },
  {
    title: 'node hints for other nodes only: fall back to zone hints',
    endpoints: [
      ready('10.0.0.1', { nodeHints: ['node-b'], zoneHints: ['z1'] }),
      ready('10.0.0.2', { nodeHints: ['node-c'], zoneHints: ['z2'] }),
    ],
    cluster: ['10.0.0.1'],
    local: [],
    all: ['10.0.0.1'],
    hasAny: true,
  },
  {
    title: 'node hints on only some endpoints: zone hints decide',
    endpoints: [ready('10.0.0.1', { nodeHints: ['node-a'], zoneHints: ['z2'] }), ready('10.0.0.2', { zoneHints: ['z1'] })],
    cluster: ['10.0.0.2'],
    local: [],
    all: ['10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'hints with nothing ready: the terminating fallback ignores topology',
    endpoints: [servingTerminating('10.0.0.1', { zoneHints: ['z2'] }), servingTerminating('10.0.0.2', { zoneHints: ['z1'] })],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: [],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'iTP Local: only this node\'s ready endpoints, no Cluster endpoints',
    port: internalLocal,
    endpoints: [ready('10.0.0.1', here), ready('10.0.0.2'), servingTerminating('10.0.0.3', here)],
    cluster: [],
    local: ['10.0.0.1'],
    all: ['10.0.0.1'],
    hasAny: true,
  },
  {
    title: 'iTP Local with no local endpoint but remote ones: no local, but endpoints exist (drop)',
    port: internalLocal,
    endpoints: [ready('10.0.0.2')],
    cluster: [],
    local: [],
    all: [],
    hasAny: true,
  },
  {
    title: 'iTP Local with only a terminating local endpoint: it is used',
    port: internalLocal,
    endpoints: [servingTerminating('10.0.0.1', here), ready('10.0.0.2')],
    cluster: [],
    local: ['10.0.0.1'],
    all: ['10.0.0.1'],
    hasAny: true,
  },
  {
    title: 'iTP Local, only remote serving-terminating endpoints: still "has endpoints"',
    port: internalLocal,
    endpoints: [servingTerminating('10.0.0.2')],
    cluster: [],
    local: [],
    all: [],
    hasAny: true,
  },
  {
    title: 'iTP Local, nothing usable anywhere',
    port: internalLocal,
    endpoints: [notReady('10.0.0.1', here), deadTerminating('10.0.0.2')],
    cluster: [],
    local: [],
    all: [],
    hasAny: false,
  },
  {
    title: 'iTP Local on an externally reachable port still computes Cluster endpoints',
    port: { ...internalLocal, nodePort: 30080 },
    endpoints: [ready('10.0.0.1', here), ready('10.0.0.2')],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: ['10.0.0.1'],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'eTP Local on a ClusterIP-only port is ignored',
    port: { ...clusterIPOnly, externalPolicyLocal: true },
    endpoints: [ready('10.0.0.1', here), ready('10.0.0.2')],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: [],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'eTP Local with a NodePort: Cluster endpoints for short-circuit, local ready for outside traffic',
    port: nodePortLocal,
    endpoints: [ready('10.0.0.1', here), ready('10.0.0.2'), servingTerminating('10.0.0.3', here)],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: ['10.0.0.1'],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'eTP Local with no local endpoint: local empty, remote ones exist',
    port: nodePortLocal,
    endpoints: [ready('10.0.0.2'), ready('10.0.0.3')],
    cluster: ['10.0.0.2', '10.0.0.3'],
    local: [],
    all: ['10.0.0.2', '10.0.0.3'],
    hasAny: true,
  },
  {
    title: 'eTP Local with only a terminating local endpoint: reachable set is the union',
    port: nodePortLocal,
    endpoints: [servingTerminating('10.0.0.1', here), ready('10.0.0.2')],
    cluster: ['10.0.0.2'],
    local: ['10.0.0.1'],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'eTP Local with zone hints: local endpoint outside the zone subset is still reachable',
    port: nodePortLocal,
    endpoints: [ready('10.0.0.1', { ...here, zoneHints: ['z2'] }), ready('10.0.0.2', { zoneHints: ['z1'] })],
    cluster: ['10.0.0.2'],
    local: ['10.0.0.1'],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'eTP Local made effective by an external IP',
    port: { ...clusterIPOnly, externalPolicyLocal: true, externalIPs: ['203.0.113.7'] },
    endpoints: [ready('10.0.0.1', here), ready('10.0.0.2')],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: ['10.0.0.1'],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'eTP Local made effective by a load-balancer IP',
    port: { ...clusterIPOnly, externalPolicyLocal: true, loadBalancerIPs: ['198.51.100.1'] },
    endpoints: [ready('10.0.0.2')],
    cluster: ['10.0.0.2'],
    local: [],
    all: ['10.0.0.2'],
    hasAny: true,
  },
  {
    title: 'nothing ready anywhere, eTP Local: both lists fall back to serving-terminating',
    port: nodePortLocal,
    endpoints: [servingTerminating('10.0.0.1', here), servingTerminating('10.0.0.2')],
    cluster: ['10.0.0.1', '10.0.0.2'],
    local: ['10.0.0.1'],
    all: ['10.0.0.1', '10.0.0.2'],
    hasAny: true,
  },
];

const ips = (endpoints: readonly Endpoint[]): string[] => endpoints.map((e) => e.ip);

for (const c of cases) {
  test(`categorize: ${c.title}`, (t) => {
    const result = categorizeEndpoints(c.endpoints, c.port ?? clusterIPOnly, c.node ?? NODE);
    t.deepEqual(ips(result.clusterEndpoints), c.cluster, 'clusterEndpoints');
    t.deepEqual(ips(result.localEndpoints), c.local, 'localEndpoints');
    t.deepEqual(ips(result.allReachableEndpoints), c.all, 'allReachableEndpoints');
    t.is(result.hasAnyEndpoints, c.hasAny, 'hasAnyEndpoints');
  });
}

const modeCases: { title: string; endpoints: Endpoint[]; mode: TopologyMode }[] = [
  { title: 'no ready endpoints', endpoints: [notReady('10.0.0.1', { zoneHints: ['z1'] })], mode: '' },
  { title: 'no hints', endpoints: [ready('10.0.0.1')], mode: '' },
  { title: 'zone', endpoints: [ready('10.0.0.1', { zoneHints: ['z1'] })], mode: 'PreferSameZone' },
  { title: 'node beats zone', endpoints: [ready('10.0.0.1', { zoneHints: ['z1'], nodeHints: ['node-a'] })], mode: 'PreferSameNode' },
  { title: 'node hints without zone hints', endpoints: [ready('10.0.0.1', { nodeHints: ['node-a'] }), ready('10.0.0.2', { nodeHints: ['node-b'] })], mode: 'PreferSameNode' },
];
for (const c of modeCases) {
  test(`topology mode: ${c.title}`, (t) => {
    t.is(topologyModeFromHints(c.endpoints, NODE), c.mode);
  });
}
