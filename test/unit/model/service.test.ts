import test from 'ava';
import { servicePortsFromService } from '../../../lib/model/service.ts';
import type { ServicePort } from '../../../lib/model/types.ts';
import { serviceObject } from './builders.ts';

const convert = (input: unknown): readonly ServicePort[] => {
  const result = servicePortsFromService(input);
  if (!result.ok) throw new Error(`unexpected rejection: ${result.reason}`);
  return result.value;
};
const only = (input: unknown): ServicePort => {
  const ports = convert(input);
  if (ports.length !== 1 || !ports[0]) throw new Error(`expected one port, got ${ports.length}`);
  return ports[0];
};

test('a plain ClusterIP Service becomes one ServicePort with defaults filled in', (t) => {
  const port = only(serviceObject('web', { ports: [{ port: 80 }] }, { namespace: 'shop' }));
  t.deepEqual(port, {
    key: 'shop/web:',
    namespace: 'shop',
    name: 'web',
    portName: '',
    type: 'ClusterIP',
    protocol: 'TCP',
    port: 80,
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
});

test('a manifest without namespace lands in default', (t) => {
  const svc = serviceObject('web', {});
  const { namespace: _ignored, ...metadata } = svc.metadata;
  t.is(only({ ...svc, metadata }).key, 'default/web:http');
});

test('multiple ports, including SCTP and UDP, each become a ServicePort', (t) => {
  const ports = convert(
    serviceObject('multi', {
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        { name: 'sig', port: 3868, protocol: 'SCTP' },
      ],
    }),
  );
  t.deepEqual(
    ports.map((p) => [p.key, p.protocol, p.port]),
    [
      ['default/multi:dns', 'UDP', 53],
      ['default/multi:dns-tcp', 'TCP', 53],
      ['default/multi:sig', 'SCTP', 3868],
    ],
  );
});

const familyCases: { title: string; spec: Record<string, unknown>; ips: string[]; families: number[] }[] = [
  { title: 'IPv4 only (clusterIP alone, manifest style)', spec: { clusterIP: '10.96.0.10' }, ips: ['10.96.0.10'], families: [4] },
  {
    title: 'dual-stack, IPv4 primary',
    spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00:10:96::a'], ipFamilies: ['IPv4', 'IPv6'] },
    ips: ['10.96.0.10', 'fd00:10:96::a'],
    families: [4, 6],
  },
  {
    title: 'dual-stack, IPv6 primary, non-canonical text normalised',
    spec: { clusterIP: 'FD00:10:96:0::A', clusterIPs: ['FD00:10:96:0::A', '10.96.0.10'], ipFamilies: ['IPv6', 'IPv4'] },
    ips: ['fd00:10:96::a', '10.96.0.10'],
    families: [6, 4],
  },
  {
    title: 'clusterIPs without clusterIP or ipFamilies',
    spec: { clusterIP: undefined, clusterIPs: ['10.96.0.10', 'fd00::a'] },
    ips: ['10.96.0.10', 'fd00::a'],
    families: [4, 6],
  },
  {
    title: 'PreferDualStack with only one IP allocated',
    spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ipFamilies: ['IPv4', 'IPv6'] },
    ips: ['10.96.0.10'],
    families: [4],
  },
];
for (const c of familyCases) {
  test(`cluster IPs: ${c.title}`, (t) => {
    const port = only(serviceObject('web', c.spec));
    t.deepEqual(port.clusterIPs, c.ips);
    t.deepEqual(port.ipFamilies, c.families);
  });
}

const skipCases: { title: string; input: unknown }[] = [
  { title: 'headless (clusterIP None)', input: serviceObject('h', { clusterIP: 'None', clusterIPs: ['None'] }) },
  { title: 'ExternalName', input: serviceObject('x', { type: 'ExternalName', externalName: 'example.com', clusterIP: '' }) },
  { title: 'ExternalName even with a clusterIP', input: serviceObject('x', { type: 'ExternalName', externalName: 'a.b' }) },
  { title: 'no clusterIP at all', input: serviceObject('n', { clusterIP: undefined }) },
  { title: 'empty clusterIP', input: serviceObject('n', { clusterIP: '' }) },
  {
    title: 'label service.kubernetes.io/service-proxy-name',
    input: serviceObject('p', {}, { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } }),
  },
  {
    title: 'label service.kubernetes.io/service-proxy-name, empty value',
    input: serviceObject('p', {}, { labels: { 'service.kubernetes.io/service-proxy-name': '' } }),
  },
  { title: 'label service.kubernetes.io/headless', input: serviceObject('p', {}, { labels: { 'service.kubernetes.io/headless': '' } }) },
  { title: 'no ports', input: serviceObject('e', { ports: [] }) },
];
for (const c of skipCases) {
  test(`skipped like kube-proxy: ${c.title}`, (t) => {
    t.deepEqual(convert(c.input), []);
  });
}

test('externalIPs are normalised and deduplicated; both families are kept for the planner to split', (t) => {
  const port = only(serviceObject('web', { externalIPs: ['203.0.113.7', '2001:DB8::0:1', '203.0.113.7'] }));
  t.deepEqual(port.externalIPs, ['203.0.113.7', '2001:db8::1']);
});

test('load-balancer ingress: ipMode VIP or unset is captured, Proxy and hostname-only are not', (t) => {
  const port = only(
    serviceObject(
      'lb',
      { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, nodePort: 30080 }] },
      {
        status: {
          loadBalancer: {
            ingress: [
              { ip: '198.51.100.1' },
              { ip: '198.51.100.2', ipMode: 'VIP' },
              { ip: '198.51.100.3', ipMode: 'Proxy' },
              { hostname: 'lb.example.com' },
              { ip: '2001:db8::10', ipMode: 'VIP' },
            ],
          },
        },
      },
    ),
  );
  t.deepEqual(port.loadBalancerIPs, ['198.51.100.1', '198.51.100.2', '2001:db8::10']);
  t.is(port.type, 'LoadBalancer');
  t.is(port.nodePort, 30080);
});

test('loadBalancerSourceRanges are trimmed and normalised to network/prefix', (t) => {
  const port = only(
    serviceObject('lb', {
      type: 'LoadBalancer',
      loadBalancerSourceRanges: [' 10.1.2.3/8 ', '192.168.1.1', '2001:db8::1', '2001:db8:1::/48', '10.0.0.0/8'],
    }),
  );
  t.deepEqual(port.loadBalancerSourceRanges, ['10.0.0.0/8', '192.168.1.1/32', '2001:db8::1/128', '2001:db8:1::/48']);
});

const affinityCases: { title: string; spec: Record<string, unknown>; timeout: number | undefined }[] = [
  { title: 'ClientIP without config uses the API default 10800', spec: { sessionAffinity: 'ClientIP' }, timeout: 10800 },
  {
    title: 'ClientIP with timeoutSeconds',
    spec: { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } },
    timeout: 60,
  },
  { title: 'None', spec: { sessionAffinity: 'None' }, timeout: undefined },
  { title: 'unset, config ignored', spec: { sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }, timeout: undefined },
];
for (const c of affinityCases) {
  test(`session affinity: ${c.title}`, (t) => {
    t.is(only(serviceObject('web', c.spec)).sessionAffinityTimeoutSeconds, c.timeout);
  });
}

const policyCases: {
  title: string;
  spec: Record<string, unknown>;
  external: boolean;
  internal: boolean;
  healthCheck: number;
}[] = [
  {
    title: 'eTP Local on a ClusterIP-only Service means nothing',
    spec: { externalTrafficPolicy: 'Local' },
    external: false,
    internal: false,
    healthCheck: 0,
  },
  {
    title: 'eTP Local on a ClusterIP Service with externalIPs counts',
    spec: { externalTrafficPolicy: 'Local', externalIPs: ['203.0.113.7'] },
    external: true,
    internal: false,
    healthCheck: 0,
  },
  {
    title: 'eTP Local on NodePort, no health check port',
    spec: { type: 'NodePort', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 },
    external: true,
    internal: false,
    healthCheck: 0,
  },
  {
    title: 'eTP Local on LoadBalancer has a health check port',
    spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 },
    external: true,
    internal: false,
    healthCheck: 32000,
  },
  {
    title: 'eTP Cluster on LoadBalancer: health check port ignored',
    spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster', healthCheckNodePort: 32000 },
    external: false,
    internal: false,
    healthCheck: 0,
  },
  { title: 'iTP Local', spec: { internalTrafficPolicy: 'Local' }, external: false, internal: true, healthCheck: 0 },
];
for (const c of policyCases) {
  test(`traffic policy: ${c.title}`, (t) => {
    const port = only(serviceObject('web', c.spec));
    t.is(port.externalPolicyLocal, c.external);
    t.is(port.internalPolicyLocal, c.internal);
    t.is(port.healthCheckNodePort, c.healthCheck);
  });
}

test('trafficDistribution is carried', (t) => {
  t.is(only(serviceObject('web', { trafficDistribution: 'PreferClose' })).trafficDistribution, 'PreferClose');
});

test('nodePort is dropped on a ClusterIP Service (the API server would refuse it) and kept on NodePort', (t) => {
  t.is(only(serviceObject('a', { ports: [{ name: 'http', port: 80, nodePort: 30080 }] })).nodePort, 0);
  t.is(only(serviceObject('b', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })).nodePort, 30080);
  t.is(only(serviceObject('c', { type: 'NodePort', ports: [{ name: 'http', port: 80 }] })).nodePort, 0);
});

test('unknown fields are ignored and null is accepted where Go would write nil', (t) => {
  const svc = serviceObject('web', { externalIPs: null, sessionAffinityConfig: null, somethingNew: { a: 1 } });
  t.is(only({ ...svc, status: { loadBalancer: {} }, extra: true }).key, 'default/web:http');
});

const invalidCases: { title: string; input: unknown; reason: RegExp }[] = [
  { title: 'port 0', input: serviceObject('s', { ports: [{ port: 0 }] }), reason: /spec\.ports\[0\]\.port/ },
  { title: 'port 70000', input: serviceObject('s', { ports: [{ port: 70000 }] }), reason: /spec\.ports\[0\]\.port/ },
  { title: 'port as a string', input: serviceObject('s', { ports: [{ port: '80' }] }), reason: /spec\.ports\[0\]\.port/ },
  { title: 'protocol ICMP', input: serviceObject('s', { ports: [{ port: 80, protocol: 'ICMP' }] }), reason: /protocol/ },
  { title: 'nodePort out of range', input: serviceObject('s', { type: 'NodePort', ports: [{ port: 80, nodePort: 65536 }] }), reason: /nodePort/ },
  { title: 'externalIP not an IP', input: serviceObject('s', { externalIPs: ['example.com'] }), reason: /spec\.externalIPs\[0\]: not a valid IP/ },
  { title: 'externalIP with zone', input: serviceObject('s', { externalIPs: ['fe80::1%eth0'] }), reason: /externalIPs/ },
  { title: 'clusterIP garbage', input: serviceObject('s', { clusterIP: '10.96.0.300' }), reason: /not a valid IP/ },
  {
    title: 'ipFamilies disagree with clusterIPs',
    input: serviceObject('s', { clusterIPs: ['10.96.0.10'], ipFamilies: ['IPv6'] }),
    reason: /ipFamilies\[0\] is IPv6/,
  },
  {
    title: 'two cluster IPs of one family',
    input: serviceObject('s', { clusterIPs: ['10.96.0.10', '10.96.0.11'] }),
    reason: /two IPv4/,
  },
  {
    title: 'clusterIP differs from clusterIPs[0]',
    input: serviceObject('s', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.11'] }),
    reason: /differs/,
  },
  {
    title: 'duplicate port names',
    input: serviceObject('s', { ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81 }] }),
    reason: /duplicate port name "a"/,
  },
  { title: 'bad source range', input: serviceObject('s', { loadBalancerSourceRanges: ['10.0.0.0/33'] }), reason: /loadBalancerSourceRanges/ },
  {
    title: 'affinity timeout 0',
    input: serviceObject('s', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } }),
    reason: /timeoutSeconds/,
  },
  { title: 'unknown type', input: serviceObject('s', { type: 'Magic' }), reason: /spec\.type/ },
  { title: 'unknown ipMode', input: serviceObject('s', {}, { status: { loadBalancer: { ingress: [{ ip: '1.2.3.4', ipMode: 'X' }] } } }), reason: /ipMode/ },
  { title: 'no spec', input: { metadata: { name: 's' } }, reason: /spec/ },
  { title: 'no name', input: { metadata: {}, spec: {} }, reason: /metadata\.name/ },
  { title: 'not an object', input: 'Service', reason: /./ },
];
for (const c of invalidCases) {
  test(`invalid Service rejected: ${c.title}`, (t) => {
    const result = servicePortsFromService(c.input);
    t.false(result.ok);
    if (!result.ok) t.regex(result.reason, c.reason);
  });
}
