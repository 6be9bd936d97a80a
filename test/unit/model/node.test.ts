import test from 'ava';
import { nodeInfoFromNode } from '../../../lib/model/node.ts';
import { nodeObject } from './builders.ts';

test('a Node becomes NodeInfo: addresses by type, zone label, pod CIDRs, taints, deletion', (t) => {
  const result = nodeInfoFromNode({
    ...nodeObject('node-a', {
      labels: { 'topology.kubernetes.io/zone': 'z1', role: 'worker' },
      addresses: [
        { type: 'Hostname', address: 'node-a' },
        { type: 'InternalIP', address: '192.168.0.10' },
        { type: 'InternalIP', address: 'FD00::A' },
        { type: 'ExternalIP', address: '203.0.113.10' },
        { type: 'InternalDNS', address: 'node-a.internal' },
      ],
      podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'],
    }),
    metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1' }, deletionTimestamp: '2024-01-01T00:00:00Z' },
  });
  t.true(result.ok);
  if (!result.ok) return;
  t.deepEqual(result.value, {
    name: 'node-a',
    labels: { 'topology.kubernetes.io/zone': 'z1' },
    zone: 'z1',
    addresses: { internal: ['192.168.0.10', 'fd00::a'], external: ['203.0.113.10'] },
    podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'],
    deleting: true,
    taintKeys: [],
  });
});

test('podCIDR alone (no podCIDRs) is used; no zone label means zone undefined; taint keys sorted', (t) => {
  const result = nodeInfoFromNode({
    metadata: { name: 'n' },
    spec: { podCIDR: '10.244.2.0/24', taints: [{ key: 'b', effect: 'NoSchedule' }, { key: 'a', effect: 'NoExecute' }] },
  });
  t.true(result.ok);
  if (!result.ok) return;
  t.deepEqual(result.value.podCIDRs, ['10.244.2.0/24']);
  t.is(result.value.zone, undefined);
  t.deepEqual(result.value.taintKeys, ['a', 'b']);
  t.deepEqual(result.value.addresses, { internal: [], external: [] });
  t.false(result.value.deleting);
});

const invalidCases: { title: string; input: unknown; reason: RegExp }[] = [
  {
    title: 'InternalIP not an IP',
    input: nodeObject('n', { addresses: [{ type: 'InternalIP', address: 'node-a' }] }),
    reason: /status\.addresses\[0\]: InternalIP "node-a"/,
  },
  { title: 'bad podCIDRs', input: nodeObject('n', { podCIDRs: ['10.244.0.0/40'] }), reason: /spec\.podCIDR/ },
  { title: 'no name', input: { metadata: {} }, reason: /metadata\.name/ },
];
for (const c of invalidCases) {
  test(`invalid Node rejected: ${c.title}`, (t) => {
    const result = nodeInfoFromNode(c.input);
    t.false(result.ok);
    if (!result.ok) t.regex(result.reason, c.reason);
  });
}
