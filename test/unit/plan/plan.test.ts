import test from 'ava';
import type { KubeObject, SourceEvent } from '../../../lib/source/types.ts';
import { ServiceState, type Snapshot } from '../../../lib/state/service-state.ts';
import { planDesiredState, type PlanOptions } from '../../../lib/plan/plan.ts';
import { formatPlanJson, formatPlanTable } from '../../../lib/plan/format.ts';
import type { ServicePlan } from '../../../lib/plan/types.ts';
import { ep, nodeObject, serviceObject, sliceObject, type EndpointJson } from '../model/builders.ts';

const NODE = 'node-a';
const OPTIONS: PlanOptions = { nodeName: NODE, clusterCIDRs: [], nodePortAddresses: undefined, masqueradeAll: false };

const upsert = (kind: SourceEvent['kind'], object: KubeObject): SourceEvent => ({
  type: 'upsert',
  kind,
  key: object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name,
  object,
});

const snapshotOf = (...objects: [SourceEvent['kind'], KubeObject][]): Snapshot => {
  const state = new ServiceState({ nodeName: NODE });
  for (const [kind, object] of objects) {
    const rejection = state.apply(upsert(kind, object));
    if (rejection) throw new Error(rejection.reason);
  }
  return state.commit().snapshot;
};

const local = (ip: string, extra: Omit<EndpointJson, 'addresses'> = {}) => ep(ip, { nodeName: NODE, ...extra });
const remote = (ip: string, extra: Omit<EndpointJson, 'addresses'> = {}) => ep(ip, { nodeName: 'node-b', ...extra });
const terminating = { conditions: { ready: false, serving: true, terminating: true } };

const planFor = (spec: Record<string, unknown>, endpoints: EndpointJson[], options: PlanOptions = OPTIONS): ServicePlan => {
  const state = planDesiredState(
    snapshotOf(['Service', serviceObject('web', spec)], ['EndpointSlice', sliceObject('web-1', 'web', { endpoints })]),
    options,
  );
  const [first] = state.services;
  if (state.services.length !== 1 || !first) throw new Error(`expected one plan, got ${state.services.length}`);
  return first;
};

const verdictCases: {
  title: string;
  spec: Record<string, unknown>;
  endpoints: EndpointJson[];
  internal: ServicePlan['internalVerdict'];
  external: ServicePlan['externalVerdict'];
}[] = [
  { title: 'ready endpoints: endpoints', spec: {}, endpoints: [remote('10.0.0.2')], internal: 'endpoints', external: 'endpoints' },
  { title: 'no endpoints at all: reject', spec: {}, endpoints: [], internal: 'reject', external: 'reject' },
  {
    title: 'only not-ready endpoints: reject',
    spec: {},
    endpoints: [remote('10.0.0.2', { conditions: { ready: false, serving: false } })],
    internal: 'reject',
    external: 'reject',
  },
  { title: 'only serving-terminating endpoints: endpoints', spec: {}, endpoints: [remote('10.0.0.2', terminating)], internal: 'endpoints', external: 'endpoints' },
  {
    title: 'iTP Local without local endpoints: drop internal',
    spec: { internalTrafficPolicy: 'Local' },
    endpoints: [remote('10.0.0.2')],
    internal: 'drop',
    external: 'endpoints',
  },
  {
    title: 'iTP Local with a local endpoint',
    spec: { internalTrafficPolicy: 'Local' },
    endpoints: [local('10.0.0.1'), remote('10.0.0.2')],
    internal: 'endpoints',
    external: 'endpoints',
  },
  {
    title: 'iTP Local with no endpoints anywhere: reject',
    spec: { internalTrafficPolicy: 'Local' },
    endpoints: [],
    internal: 'reject',
    external: 'reject',
  },
  {
    title: 'eTP Local NodePort without local endpoints: drop external, internal fine',
    spec: { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }] },
    endpoints: [remote('10.0.0.2')],
    internal: 'endpoints',
    external: 'drop',
  },
  {
    title: 'eTP Local with only a terminating local endpoint: endpoints',
    spec: { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }] },
    endpoints: [local('10.0.0.1', terminating), remote('10.0.0.2')],
    internal: 'endpoints',
    external: 'endpoints',
  },
  {
    title: 'eTP Local on a ClusterIP-only Service is ignored',
    spec: { externalTrafficPolicy: 'Local' },
    endpoints: [remote('10.0.0.2')],
    internal: 'endpoints',
    external: 'endpoints',
  },
];
for (const c of verdictCases) {
  test(`verdict: ${c.title}`, (t) => {
    const plan = planFor(c.spec, c.endpoints);
    t.is(plan.internalVerdict, c.internal, 'internal');
    t.is(plan.externalVerdict, c.external, 'external');
  });
}

test('a plan carries the frontends, policies and categorized endpoints', (t) => {
  const plan = planFor(
    {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 32000,
      sessionAffinity: 'ClientIP',
      externalIPs: ['203.0.113.7'],
      loadBalancerSourceRanges: ['192.0.2.0/24'],
      ports: [{ name: 'http', port: 80, nodePort: 30080 }],
    },
    [local('10.0.0.1'), remote('10.0.0.2')],
  );
  t.deepEqual(plan, {
    id: '4/default/web:http',
    servicePort: 'default/web:http',
    namespace: 'default',
    name: 'web',
    portName: 'http',
    family: 4,
    protocol: 'TCP',
    clusterIP: '10.96.0.10',
    port: 80,
    nodePort: 30080,
    externalIPs: ['203.0.113.7'],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: ['192.0.2.0/24'],
    affinityTimeoutSeconds: 10800,
    internalPolicyLocal: false,
    externalPolicyLocal: true,
    clusterEndpoints: [
      { ip: '10.0.0.1', port: 8080, isLocal: true },
      { ip: '10.0.0.2', port: 8080, isLocal: false },
    ],
    localEndpoints: [{ ip: '10.0.0.1', port: 8080, isLocal: true }],
    internalVerdict: 'endpoints',
    externalVerdict: 'endpoints',
    healthCheckNodePort: 32000,
  });
});

test('dual-stack: one plan per family, each with only its own IPs, ranges and endpoints', (t) => {
  const snapshot = snapshotOf(
    [
      'Service',
      serviceObject(
        'web',
        {
          type: 'LoadBalancer',
          clusterIPs: ['10.96.0.10', 'fd00:96::a'],
          ipFamilies: ['IPv4', 'IPv6'],
          externalIPs: ['203.0.113.7', '2001:db8::7'],
          loadBalancerSourceRanges: ['192.0.2.0/24', '2001:db8:1::/48'],
        },
        { status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }, { ip: '2001:db8::100' }] } } },
      ),
    ],
    ['EndpointSlice', sliceObject('web-v4', 'web', { endpoints: [remote('10.0.0.2')] })],
    ['EndpointSlice', sliceObject('web-v6', 'web', { addressType: 'IPv6', endpoints: [remote('fd00::2')] })],
  );
  const state = planDesiredState(snapshot, OPTIONS);
  t.deepEqual(state.services.map((p) => p.id), ['4/default/web:http', '6/default/web:http']);
  const [v4, v6] = state.services;
  t.like(v4, { clusterIP: '10.96.0.10', externalIPs: ['203.0.113.7'], loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['192.0.2.0/24'] });
  t.like(v6, { clusterIP: 'fd00:96::a', externalIPs: ['2001:db8::7'], loadBalancerIPs: ['2001:db8::100'], loadBalancerSourceRanges: ['2001:db8:1::/48'] });
  t.deepEqual(v4?.clusterEndpoints.map((e) => e.ip), ['10.0.0.2']);
  t.deepEqual(v6?.clusterEndpoints.map((e) => e.ip), ['fd00::2']);
});

test('a single-stack Service has no plan in the other family, even with endpoints there', (t) => {
  const snapshot = snapshotOf(
    ['Service', serviceObject('web', {})],
    ['EndpointSlice', sliceObject('web-v6', 'web', { addressType: 'IPv6', endpoints: [remote('fd00::2')] })],
  );
  const state = planDesiredState(snapshot, OPTIONS);
  t.deepEqual(state.services.map((p) => [p.id, p.internalVerdict]), [['4/default/web:http', 'reject']]);
});

test('eTP Local made effective only in the family that has an external IP', (t) => {
  const snapshot = snapshotOf(
    [
      'Service',
      serviceObject('web', {
        clusterIPs: ['10.96.0.10', 'fd00:96::a'],
        externalTrafficPolicy: 'Local',
        externalIPs: ['203.0.113.7'],
      }),
    ],
    ['EndpointSlice', sliceObject('web-v4', 'web', { endpoints: [remote('10.0.0.2')] })],
    ['EndpointSlice', sliceObject('web-v6', 'web', { addressType: 'IPv6', endpoints: [remote('fd00::2')] })],
  );
  const [v4, v6] = planDesiredState(snapshot, OPTIONS).services;
  t.is(v4?.externalVerdict, 'drop', 'IPv4 has an external IP and no local endpoint');
  // No IPv6 external frontend: Local is not in use there, so the (unused) external verdict follows the lists.
  t.deepEqual(v6?.clusterEndpoints.map((e) => e.ip), ['fd00::2']);
  t.deepEqual(v6?.localEndpoints, []);
});

test('plans are sorted by id across services', (t) => {
  const snapshot = snapshotOf(
    ['Service', serviceObject('zeta', { ports: [{ name: 'b', port: 2 }, { name: 'a', port: 1 }] })],
    ['Service', serviceObject('alpha', { clusterIP: '10.96.0.11' })],
    ['Service', serviceObject('v6', { clusterIP: 'fd00::1' }, { namespace: 'aaa' })],
  );
  t.deepEqual(planDesiredState(snapshot, OPTIONS).services.map((p) => p.id), [
    '4/default/alpha:http',
    '4/default/zeta:a',
    '4/default/zeta:b',
    '6/aaa/v6:http',
  ]);
});

test('topology: zone hints use this node\'s zone from its Node object', (t) => {
  const hinted = [remote('10.0.0.2', { hints: { forZones: [{ name: 'z1' }] } }), remote('10.0.0.3', { hints: { forZones: [{ name: 'z2' }] } })];
  const withNode = snapshotOf(
    ['Node', nodeObject(NODE, { labels: { 'topology.kubernetes.io/zone': 'z1' } })],
    ['Service', serviceObject('web', {})],
    ['EndpointSlice', sliceObject('web-1', 'web', { endpoints: hinted })],
  );
  t.deepEqual(planDesiredState(withNode, OPTIONS).services[0]?.clusterEndpoints.map((e) => e.ip), ['10.0.0.2']);
  const withoutNode = snapshotOf(['Service', serviceObject('web', {})], ['EndpointSlice', sliceObject('web-1', 'web', { endpoints: hinted })]);
  t.deepEqual(planDesiredState(withoutNode, OPTIONS).services[0]?.clusterEndpoints.map((e) => e.ip), ['10.0.0.2', '10.0.0.3']);
});

const node = nodeObject(NODE, {
  addresses: [
    { type: 'InternalIP', address: '192.168.0.10' },
    { type: 'InternalIP', address: '192.168.0.11' },
    { type: 'InternalIP', address: 'fd00:1::10' },
    { type: 'ExternalIP', address: '203.0.113.10' },
  ],
  podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'],
});

const familyCases: {
  title: string;
  withNode: boolean;
  options: Partial<PlanOptions>;
  v4: { clusterCIDRs: string[]; nodePortAddresses: string[]; nodePortOnAllLocal: boolean; nodePortCIDRs?: string[] };
  v6: { clusterCIDRs: string[]; nodePortAddresses: string[]; nodePortOnAllLocal: boolean; nodePortCIDRs?: string[] };
}[] = [
  {
    title: 'defaults with a known Node: NodeCIDR detection, primary IPs',
    withNode: true,
    options: {},
    v4: { clusterCIDRs: ['10.244.1.0/24'], nodePortAddresses: ['192.168.0.10'], nodePortOnAllLocal: false },
    v6: { clusterCIDRs: ['fd00:244:1::/64'], nodePortAddresses: ['fd00:1::10'], nodePortOnAllLocal: false },
  },
  {
    title: 'defaults without a Node: nothing known, NodePorts on every local address',
    withNode: false,
    options: { nodePortAddresses: 'primary' },
    v4: { clusterCIDRs: [], nodePortAddresses: [], nodePortOnAllLocal: true },
    v6: { clusterCIDRs: [], nodePortAddresses: [], nodePortOnAllLocal: true },
  },
  {
    title: '--cluster-cidr wins over the Node podCIDRs; a family it does not cover gets none',
    withNode: true,
    options: { clusterCIDRs: ['10.244.0.0/16'] },
    v4: { clusterCIDRs: ['10.244.0.0/16'], nodePortAddresses: ['192.168.0.10'], nodePortOnAllLocal: false },
    v6: { clusterCIDRs: [], nodePortAddresses: ['fd00:1::10'], nodePortOnAllLocal: false },
  },
  {
    title: 'nodePortAddresses CIDRs resolve against the Node addresses (internal and external)',
    withNode: true,
    options: { nodePortAddresses: ['192.168.0.0/24', '203.0.113.0/24'] },
    v4: {
      clusterCIDRs: ['10.244.1.0/24'],
      nodePortAddresses: ['192.168.0.10', '192.168.0.11', '203.0.113.10'],
      nodePortOnAllLocal: false,
      nodePortCIDRs: ['192.168.0.0/24', '203.0.113.0/24'],
    },
    v6: { clusterCIDRs: ['fd00:244:1::/64'], nodePortAddresses: [], nodePortOnAllLocal: false, nodePortCIDRs: [] },
  },
  {
    title: 'a /0 CIDR means every local address of that family',
    withNode: true,
    options: { nodePortAddresses: ['0.0.0.0/0'] },
    v4: { clusterCIDRs: ['10.244.1.0/24'], nodePortAddresses: [], nodePortOnAllLocal: true, nodePortCIDRs: ['0.0.0.0/0'] },
    v6: { clusterCIDRs: ['fd00:244:1::/64'], nodePortAddresses: [], nodePortOnAllLocal: false, nodePortCIDRs: [] },
  },
];
for (const c of familyCases) {
  test(`family settings: ${c.title}`, (t) => {
    const snapshot = c.withNode ? snapshotOf(['Node', node]) : snapshotOf();
    const state = planDesiredState(snapshot, { ...OPTIONS, ...c.options });
    t.deepEqual(state.families[4], c.v4);
    t.deepEqual(state.families[6], c.v6);
  });
}

test('primary IP falls back to the ExternalIP when there is no InternalIP of that family', (t) => {
  const snapshot = snapshotOf(['Node', nodeObject(NODE, { addresses: [{ type: 'ExternalIP', address: '203.0.113.10' }] })]);
  t.deepEqual(planDesiredState(snapshot, OPTIONS).families[4].nodePortAddresses, ['203.0.113.10']);
});

test('masqueradeAll and nodeName are passed through', (t) => {
  const state = planDesiredState(snapshotOf(), { ...OPTIONS, masqueradeAll: true });
  t.true(state.masqueradeAll);
  t.is(state.nodeName, NODE);
  t.deepEqual(state.services, []);
});

test('formatPlanTable: one aligned line per frontend with backends, local marker and verdicts', (t) => {
  const snapshot = snapshotOf(
    ['Node', nodeObject(NODE)],
    [
      'Service',
      serviceObject(
        'web',
        {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          healthCheckNodePort: 32000,
          sessionAffinity: 'ClientIP',
          externalIPs: ['203.0.113.7'],
          loadBalancerSourceRanges: ['192.0.2.0/24'],
          ports: [{ name: 'http', port: 80, nodePort: 30080 }],
        },
        { status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }] } } },
      ),
    ],
    ['EndpointSlice', sliceObject('web-1', 'web', { endpoints: [local('10.0.0.1'), remote('10.0.0.2')] })],
    ['Service', serviceObject('empty', { clusterIP: '10.96.0.20', internalTrafficPolicy: 'Local' })],
    ['Service', serviceObject('nolocal', { clusterIP: '10.96.0.30', internalTrafficPolicy: 'Local' })],
    ['EndpointSlice', sliceObject('nolocal-1', 'nolocal', { endpoints: [remote('10.0.0.3')] })],
  );
  const table = formatPlanTable(planDesiredState(snapshot, OPTIONS));
  t.is(
    table,
    [
      'SERVICE               FRONTEND            TYPE          PROTO  POLICY                                                                          BACKENDS',
      'default/empty:http    10.96.0.20:80       ClusterIP     TCP    internal=Local                                                                  REJECT (no endpoints)',
      'default/nolocal:http  10.96.0.30:80       ClusterIP     TCP    internal=Local                                                                  DROP (no local endpoints)',
      'default/web:http      10.96.0.10:80       ClusterIP     TCP    affinity=ClientIP/10800s                                                        10.0.0.1:8080 (local), 10.0.0.2:8080',
      'default/web:http      192.168.0.10:30080  NodePort      TCP    external=Local affinity=ClientIP/10800s healthCheck=32000                       10.0.0.1:8080 (local)',
      'default/web:http      198.51.100.1:80     LoadBalancer  TCP    external=Local affinity=ClientIP/10800s healthCheck=32000 sources=192.0.2.0/24  10.0.0.1:8080 (local)',
      'default/web:http      203.0.113.7:80      ExternalIP    TCP    external=Local affinity=ClientIP/10800s healthCheck=32000                       10.0.0.1:8080 (local)',
      '',
    ].join('\n'),
  );
});

test('formatPlanTable on an empty state says so', (t) => {
  t.is(formatPlanTable(planDesiredState(snapshotOf(), OPTIONS)), 'no services to proxy on node node-a\n');
});

test('formatPlanJson is stable: same state, same bytes, keys sorted; it parses back', (t) => {
  const snapshot = snapshotOf(['Service', serviceObject('web', {})], ['EndpointSlice', sliceObject('web-1', 'web', { endpoints: [remote('10.0.0.2')] })]);
  const state = planDesiredState(snapshot, OPTIONS);
  const json = formatPlanJson(state);
  t.is(json, formatPlanJson(planDesiredState(snapshot, OPTIONS)));
  const parsed = JSON.parse(json) as { services: Record<string, unknown>[]; families: Record<string, unknown> };
  t.deepEqual(Object.keys(parsed), ['families', 'masqueradeAll', 'nodeName', 'services']);
  const keys = Object.keys(parsed.services[0] ?? {});
  t.deepEqual(keys, [...keys].sort());
  t.is(parsed.services[0]?.['internalVerdict'], 'endpoints');
  t.true(json.endsWith('}\n'));
});
