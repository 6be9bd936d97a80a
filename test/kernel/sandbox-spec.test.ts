/** Pure parts of the sandbox and demo: spec validation, topology plan, spec from manifests, demo probes. */
import test from 'ava';
import type { KubeObject } from '../../lib/source/types.ts';
import { defaultSandboxSpec, validateSpec, type PodSpec } from '../../lib/sandbox/spec.ts';
import { planTopology } from '../../lib/sandbox/topology.ts';
import { sandboxSpecFromManifests } from '../../lib/sandbox/from-manifests.ts';
import { demoProbes, ingressPortFromArgv } from '../../lib/demo/probes.ts';

const podA: PodSpec = { name: 'pod-a1', node: 'node-a', ipv4: '10.244.1.10', ipv6: 'fd00:244:1::10', tcpPorts: [8080] };

const invalid: [string, PodSpec[], Record<string, unknown>, RegExp][] = [
  ['pod on an unknown node', [{ ...podA, node: 'node-z' }], {}, /unknown node node-z/],
  ['pod outside the node pod CIDR', [{ ...podA, ipv4: '10.244.2.5' }], {}, /outside node-a's pod CIDR/],
  ['IPv6 outside the node pod CIDR', [{ ...podA, ipv6: 'fd00:244:2::5' }], {}, /outside node-a's IPv6 pod CIDR/],
  ['pod named like a node', [{ ...podA, name: 'node-b' }], {}, /used twice/],
  ['pod named lan', [{ ...podA, name: 'lan' }], {}, /used twice/],
  ['pod without address', [{ name: 'p', node: 'node-a' }], {}, /has no address/],
  ['bad prefix', [podA], { prefix: 'xx-123' }, /prefix/],
  ['agent in a missing namespace', [podA], { agents: ['pod-zz'] }, /agent namespace pod-zz/],
];
for (const [title, pods, overrides, problem] of invalid) {
  test(`validateSpec rejects: ${title}`, (t) => {
    const problems = validateSpec(defaultSandboxSpec(pods, overrides));
    t.true(problems.some((p) => problem.test(p)), problems.join('; '));
  });
}

test('validateSpec accepts the default topology', (t) => {
  t.deepEqual(validateSpec(defaultSandboxSpec([podA, { name: 'pod-b1', node: 'node-b', ipv4: '10.244.2.10' }])), []);
});

test('bridge plan: hairpin pod ports on cbr0, cross-node routes, br_netfilter sysctls', (t) => {
  const plan = planTopology(defaultSandboxSpec([podA]), 'sy-abcdef', 'bridge');
  t.deepEqual(plan.namespaces.map((n) => n.netns), ['sy-abcdef-lan', 'sy-abcdef-node-a', 'sy-abcdef-node-b', 'sy-abcdef-outside', 'sy-abcdef-pod-a1']);
  t.true(plan.rootLines.includes('link add vp0 netns sy-abcdef-node-a type veth peer name eth0 netns sy-abcdef-pod-a1'));
  const nodeA = plan.namespaceLines.get('sy-abcdef-node-a') ?? [];
  t.true(nodeA.includes('link set dev vp0 type bridge_slave hairpin on'));
  t.true(nodeA.includes('route add 10.244.2.0/24 via 192.168.50.11'));
  t.true(nodeA.includes('route add fd00:244:2::/64 via fd00:50::11'));
  t.true((plan.sysctls.get('sy-abcdef-node-a') ?? []).includes('net.bridge.bridge-nf-call-iptables=1'));
  t.deepEqual(plan.namespaceLines.get('sy-abcdef-pod-a1')?.filter((l) => l.startsWith('route')), ['route add default via 10.244.1.1', 'route add ::/0 via fd00:244:1::1']);
  t.true((plan.namespaceLines.get('sy-abcdef-outside') ?? []).includes('route add 192.168.60.0/24 via 192.168.50.10'));
});

test('routed plan: no cbr0, /32 routes to each pod, on-link default route', (t) => {
  const plan = planTopology(defaultSandboxSpec([podA]), 'sy-abcdef', 'routed');
  const nodeA = plan.namespaceLines.get('sy-abcdef-node-a') ?? [];
  t.false(nodeA.some((l) => l.includes('cbr0')));
  t.true(nodeA.includes('route add 10.244.1.10/32 dev vp0'));
  t.true(nodeA.includes('route add fd00:244:1::10/128 dev vp0'));
  t.true((plan.namespaceLines.get('sy-abcdef-pod-a1') ?? []).includes('route add default via 10.244.1.1 dev eth0 onlink'));
});

const slice = (name: string, addressType: string, ports: unknown[], endpoints: unknown[]): KubeObject =>
  ({ kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { name, namespace: 'default' }, addressType, ports, endpoints });
const ep = (ip: string, nodeName: string | undefined, pod?: string) =>
  ({ addresses: [ip], ...(nodeName ? { nodeName } : {}), ...(pod ? { targetRef: { kind: 'Pod', name: pod, namespace: 'default' } } : {}) });

test('sandboxSpecFromManifests: one pod per Pod across slices and families, ports by protocol, others skipped', (t) => {
  const objects: KubeObject[] = [
    slice('web-v4', 'IPv4', [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }, { port: 7777, protocol: 'SCTP' }],
      [ep('10.244.1.10', 'node-a', 'web-1'), ep('10.244.2.10', 'node-b', 'web-2'), ep('10.244.3.10', 'node-c', 'web-3'), ep('10.244.1.20', undefined, 'web-4')]),
    slice('web-v6', 'IPv6', [{ name: 'http', port: 8080 }], [ep('fd00:244:1::10', 'node-a', 'web-1')]),
    slice('api', 'IPv4', [{ port: 9090 }], [ep('10.244.1.10', 'node-a', 'web-1'), ep('10.244.2.99', 'node-a')]),
    slice('fqdn', 'FQDN', [], []),
    slice('metrics', 'IPv4', [{ port: 7000 }], [ep('10.244.2.10', 'node-b')]),
    { kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { externalIPs: ['192.168.70.5'] }, status: { loadBalancer: { ingress: [{ ip: '192.168.60.100' }] } } },
  ];
  const { spec, skipped } = sandboxSpecFromManifests(objects);
  t.deepEqual(spec.pods, [
    { name: 'web-1', node: 'node-a', ipv4: '10.244.1.10', ipv6: 'fd00:244:1::10', tcpPorts: [8080, 9090], udpPorts: [5353] },
    { name: 'web-2', node: 'node-b', ipv4: '10.244.2.10', tcpPorts: [7000, 8080], udpPorts: [5353] },
  ]);
  t.true(skipped.some((s) => s.includes('node-c')));
  t.true(skipped.some((s) => s.includes('10.244.1.20') && s.includes('(none)')));
  t.true(skipped.some((s) => s.includes('10.244.2.99') && s.includes("outside node-a's pod CIDR")));
  t.true(skipped.some((s) => s.includes('SCTP')));
  t.true(skipped.some((s) => s.includes('FQDN')));
  t.deepEqual(spec.outside?.routes, [{ cidr: '192.168.60.0/24', viaNode: 'node-a' }, { cidr: '192.168.70.5/32', viaNode: 'node-a' }]);
  t.deepEqual(validateSpec(spec), []);
});

test('sandboxSpecFromManifests derives nodes from Node objects', (t) => {
  const node = (name: string, ip: string, cidrs: string[]): KubeObject =>
    ({ kind: 'Node', metadata: { name }, spec: { podCIDRs: cidrs }, status: { addresses: [{ type: 'InternalIP', address: ip }] } });
  const { spec } = sandboxSpecFromManifests([node('n1', '192.168.50.21', ['10.250.0.0/24']), node('n2', '192.168.50.22', ['10.250.1.0/24', 'fd00:250:1::/64'])]);
  t.deepEqual(spec.nodes, [
    { name: 'n1', lanIPv4: '192.168.50.21/24', podGatewayIPv4: '10.250.0.1/24' },
    { name: 'n2', lanIPv4: '192.168.50.22/24', podGatewayIPv4: '10.250.1.1/24' },
  ]);
});

test('demo probes: ClusterIP from a pod, NodePort/LB/externalIP/Ingress from outside; Services without sandbox pods skipped', (t) => {
  const objects: KubeObject[] = [
    { kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.0.10', externalIPs: ['192.168.60.50'], ports: [{ port: 80, nodePort: 30080 }] }, status: { loadBalancer: { ingress: [{ ip: '192.168.60.100' }] } } },
    { kind: 'Service', metadata: { name: 'empty', namespace: 'shop' }, spec: { clusterIP: '10.96.0.9', ports: [{ name: 'http', port: 80, nodePort: 30090 }] } },
    { kind: 'EndpointSlice', metadata: { name: 'web-x', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.10'] }] },
    { kind: 'Ingress', metadata: { name: 'shop', namespace: 'shop' }, spec: { rules: [{ host: 'shop.example', http: { paths: [{ path: '/cart' }] } }] } },
  ];
  const probes = demoProbes(objects, defaultSandboxSpec([podA]), 8081);
  t.deepEqual(probes.map((p) => [p.label, p.from, p.url, p.headers?.host]), [
    ['ClusterIP shop/web', 'pod-a1', 'http://10.96.0.10:80/', undefined],
    ['NodePort shop/web', 'outside', 'http://192.168.50.10:30080/', undefined],
    ['LoadBalancer shop/web', 'outside', 'http://192.168.60.100:80/', undefined],
    ['externalIP shop/web', 'outside', 'http://192.168.60.50:80/', undefined],
    ['Ingress shop/shop', 'outside', 'http://192.168.50.10:8081/cart', 'shop.example'],
  ]);
});

test('ingressPortFromArgv reads both flag spellings', (t) => {
  t.is(ingressPortFromArgv(['x', '--ingress-http-address', '0.0.0.0:8080']), 8080);
  t.is(ingressPortFromArgv(['--ingress-http-address=[::]:81']), 81);
  t.is(ingressPortFromArgv(['--manifests', 'd']), 80);
});
