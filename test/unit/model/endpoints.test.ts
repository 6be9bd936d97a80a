import test from 'ava';
import { endpointSliceFromObject, mergeSliceEndpoints, type SliceInfo } from '../../../lib/model/endpoints.ts';
import type { Endpoint } from '../../../lib/model/types.ts';
import { ep, sliceObject, type EndpointJson } from './builders.ts';

const NODE = 'node-a';

const slice = (input: unknown): SliceInfo => {
  const result = endpointSliceFromObject(input, NODE);
  if (!result.ok) throw new Error(`unexpected rejection: ${result.reason}`);
  if (!result.value) throw new Error('slice unexpectedly ignored');
  return result.value;
};
const oneEndpoint = (json: EndpointJson): Endpoint => {
  const merged = mergeSliceEndpoints([slice(sliceObject('s1', 'web', { endpoints: [json] }))], 'http', 'TCP');
  if (merged.length !== 1 || !merged[0]) throw new Error(`expected one endpoint, got ${merged.length}`);
  return merged[0];
};

const conditionCases: {
  title: string;
  conditions: EndpointJson['conditions'];
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}[] = [
  { title: 'no conditions: ready, serving, not terminating', conditions: undefined, ready: true, serving: true, terminating: false },
  { title: 'all null', conditions: { ready: null, serving: null, terminating: null }, ready: true, serving: true, terminating: false },
  { title: 'not ready, serving nil: kube-proxy reads serving as true', conditions: { ready: false }, ready: false, serving: true, terminating: false },
  { title: 'terminating, serving', conditions: { ready: false, serving: true, terminating: true }, ready: false, serving: true, terminating: true },
  { title: 'terminating, not serving', conditions: { ready: false, serving: false, terminating: true }, ready: false, serving: false, terminating: true },
  { title: 'explicitly ready', conditions: { ready: true, serving: true, terminating: false }, ready: true, serving: true, terminating: false },
];
for (const c of conditionCases) {
  test(`conditions: ${c.title}`, (t) => {
    const e = oneEndpoint(ep('10.244.1.5', c.conditions ? { conditions: c.conditions } : {}));
    t.deepEqual([e.ready, e.serving, e.terminating], [c.ready, c.serving, c.terminating]);
  });
}

test('isLocal is nodeName equal to this node; zone, hints (sorted, deduped) are carried', (t) => {
  const local = oneEndpoint(
    ep('10.244.1.5', {
      nodeName: NODE,
      zone: 'z1',
      hints: { forZones: [{ name: 'z2' }, { name: 'z1' }, { name: 'z1' }], forNodes: [{ name: NODE }] },
    }),
  );
  t.like(local, { isLocal: true, nodeName: NODE, zone: 'z1', zoneHints: ['z1', 'z2'], nodeHints: [NODE], port: 8080, family: 4 });
  const remote = oneEndpoint(ep('10.244.2.5', { nodeName: 'node-b' }));
  t.like(remote, { isLocal: false, nodeName: 'node-b', zone: undefined, zoneHints: [], nodeHints: [] });
  t.false(oneEndpoint(ep('10.244.2.6')).isLocal);
});

test('an empty nodeName for this proxy never makes an endpoint local', (t) => {
  const result = endpointSliceFromObject(sliceObject('s', 'web', { endpoints: [ep('10.0.0.1', { nodeName: '' })] }), '');
  t.true(result.ok && result.value?.endpoints[0]?.isLocal === false);
});

test('the endpoint port is the slice port named like the Service port, resolved per slice', (t) => {
  // Service port "http" with a named targetPort: each slice carries the number its pods use.
  const a = slice(sliceObject('web-a', 'web', { ports: [{ name: 'http', port: 8080 }], endpoints: [ep('10.244.1.5')] }));
  const b = slice(sliceObject('web-b', 'web', { ports: [{ name: 'http', port: 9090 }], endpoints: [ep('10.244.2.5')] }));
  t.deepEqual(
    mergeSliceEndpoints([a, b], 'http', 'TCP').map((e) => [e.ip, e.port]),
    [
      ['10.244.1.5', 8080],
      ['10.244.2.5', 9090],
    ],
  );
  t.deepEqual(mergeSliceEndpoints([a, b], 'metrics', 'TCP'), [], 'no slice port of that name: no endpoints');
  t.deepEqual(mergeSliceEndpoints([a, b], 'http', 'UDP'), [], 'protocol must match too');
});

test('unnamed ports: "" matches "", and a port with no name is read as ""', (t) => {
  const named = slice(sliceObject('s1', 'web', { ports: [{ name: '', port: 80 }], endpoints: [ep('10.0.0.1')] }));
  const missing = slice(sliceObject('s2', 'web', { ports: [{ port: 81 }], endpoints: [ep('10.0.0.2')] }));
  t.deepEqual(
    mergeSliceEndpoints([named, missing], '', 'TCP').map((e) => e.port),
    [80, 81],
  );
});

test('slice ports with port 0 or null are skipped; protocol defaults to TCP; SCTP matches SCTP', (t) => {
  const s = slice(
    sliceObject('s', 'web', {
      ports: [{ name: 'a', port: 0 }, { name: 'b', port: null }, { name: 'c', port: 5 }, { name: 'd', port: 6, protocol: 'SCTP' }],
      endpoints: [ep('10.0.0.1')],
    }),
  );
  t.deepEqual(s.ports, [
    { name: 'c', protocol: 'TCP', port: 5 },
    { name: 'd', protocol: 'SCTP', port: 6 },
  ]);
  t.is(mergeSliceEndpoints([s], 'd', 'SCTP')[0]?.port, 6);
});

test('endpoints without addresses are skipped; only addresses[0] is used; null lists are fine', (t) => {
  const s = slice(
    sliceObject('s', 'web', { endpoints: [{ addresses: [] }, { addresses: ['10.0.0.1', '10.0.0.2'] }] }),
  );
  t.deepEqual(s.endpoints.map((e) => e.ip), ['10.0.0.1']);
  t.deepEqual(slice(sliceObject('s', 'web', { endpoints: null, ports: null })).endpoints, []);
});

test('IPv6 slices: addresses are normalised, family 6, sorted as [ip]:port', (t) => {
  const s = slice(
    sliceObject('s', 'web', { addressType: 'IPv6', endpoints: [ep('FD00::0:B'), ep('fd00::a')] }),
  );
  t.deepEqual(
    mergeSliceEndpoints([s], 'http', 'TCP').map((e) => [e.ip, e.family]),
    [
      ['fd00::a', 6],
      ['fd00::b', 6],
    ],
  );
});

const ignoredCases: { title: string; input: unknown }[] = [
  { title: 'FQDN slices', input: sliceObject('s', 'web', { addressType: 'FQDN', endpoints: [ep('example.com')] }) },
  { title: 'no kubernetes.io/service-name label', input: sliceObject('s', undefined, {}) },
  { title: 'empty service-name label', input: sliceObject('s', '', {}) },
  {
    title: 'service-proxy-name label',
    input: sliceObject('s', 'web', { labels: { 'service.kubernetes.io/service-proxy-name': 'x' } }),
  },
  { title: 'headless label', input: sliceObject('s', 'web', { labels: { 'service.kubernetes.io/headless': '' } }) },
];
for (const c of ignoredCases) {
  test(`ignored like kube-proxy: ${c.title}`, (t) => {
    const result = endpointSliceFromObject(c.input, NODE);
    t.true(result.ok);
    t.is(result.ok ? result.value : 'rejected', undefined);
  });
}

const invalidCases: { title: string; input: unknown; reason: RegExp }[] = [
  { title: 'address not an IP', input: sliceObject('s', 'web', { endpoints: [ep('pod-1')] }), reason: /endpoints\[0\]\.addresses\[0\]/ },
  { title: 'IPv6 address in an IPv4 slice', input: sliceObject('s', 'web', { endpoints: [ep('fd00::1')] }), reason: /not a valid IPv4 address/ },
  { title: 'IPv4 address in an IPv6 slice', input: sliceObject('s', 'web', { addressType: 'IPv6', endpoints: [ep('10.0.0.1')] }), reason: /IPv6/ },
  { title: 'a later address invalid', input: sliceObject('s', 'web', { endpoints: [{ addresses: ['10.0.0.1', 'x'] }] }), reason: /addresses\[1\]/ },
  { title: 'unknown addressType', input: sliceObject('s', 'web', { addressType: 'IPv5' }), reason: /addressType/ },
  { title: 'port out of range', input: sliceObject('s', 'web', { ports: [{ name: 'http', port: 70000 }] }), reason: /ports\[0\]\.port/ },
  { title: 'ready not a boolean', input: sliceObject('s', 'web', { endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: 'yes' as unknown as boolean } }] }), reason: /ready/ },
];
for (const c of invalidCases) {
  test(`invalid EndpointSlice rejected: ${c.title}`, (t) => {
    const result = endpointSliceFromObject(c.input, NODE);
    t.false(result.ok);
    if (!result.ok) t.regex(result.reason, c.reason);
  });
}

/** Two slices of one Service both list 10.0.0.1:8080; which one survives. */
const duplicateCases: {
  title: string;
  first: EndpointJson;
  second: EndpointJson;
  kept: Partial<Endpoint>;
}[] = [
  {
    title: 'both ready: the later slice (by name) wins',
    first: ep('10.0.0.1', { nodeName: 'node-b', zone: 'first' }),
    second: ep('10.0.0.1', { nodeName: 'node-c', zone: 'second' }),
    kept: { zone: 'second' },
  },
  {
    title: 'a later terminating duplicate never replaces a running one',
    first: ep('10.0.0.1', { zone: 'running' }),
    second: ep('10.0.0.1', { zone: 'terminating', conditions: { ready: false, serving: true, terminating: true } }),
    kept: { zone: 'running', terminating: false },
  },
  {
    title: 'a later running endpoint replaces a terminating one (IP reused before Pod deletion)',
    first: ep('10.0.0.1', { zone: 'terminating', conditions: { ready: false, serving: false, terminating: true } }),
    second: ep('10.0.0.1', { zone: 'running' }),
    kept: { zone: 'running', ready: true },
  },
  {
    title: 'both terminating: the first stays',
    first: ep('10.0.0.1', { zone: 'first', conditions: { ready: false, terminating: true } }),
    second: ep('10.0.0.1', { zone: 'second', conditions: { ready: false, terminating: true } }),
    kept: { zone: 'first' },
  },
];
for (const c of duplicateCases) {
  test(`duplicate endpoints across slices: ${c.title}`, (t) => {
    const a = slice(sliceObject('web-a', 'web', { endpoints: [c.first] }));
    const b = slice(sliceObject('web-b', 'web', { endpoints: [c.second] }));
    // Input order must not matter: slices are walked by name.
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const merged = mergeSliceEndpoints(order, 'http', 'TCP');
      t.is(merged.length, 1);
      t.like(merged[0], c.kept);
    }
  });
}

test('the same IP with different ports in two slices is two endpoints', (t) => {
  const a = slice(sliceObject('web-a', 'web', { ports: [{ name: 'http', port: 80 }], endpoints: [ep('10.0.0.1')] }));
  const b = slice(sliceObject('web-b', 'web', { ports: [{ name: 'http', port: 81 }], endpoints: [ep('10.0.0.1')] }));
  t.is(mergeSliceEndpoints([a, b], 'http', 'TCP').length, 2);
});

test('endpoints are sorted by their ip:port string, as kube-proxy sorts them', (t) => {
  // A string sort: "10.0.0.10:8080" < "10.0.0.1:8080" because "0" < ":".
  const s = slice(sliceObject('s', 'web', { endpoints: [ep('10.0.0.2'), ep('10.0.0.10'), ep('10.0.0.1')] }));
  t.deepEqual(mergeSliceEndpoints([s], 'http', 'TCP').map((e) => e.ip), ['10.0.0.10', '10.0.0.1', '10.0.0.2']);
});

test('slice identity: key, namespace and owning Service', (t) => {
  const s = slice(sliceObject('web-abc', 'web', {}, 'shop'));
  t.like(s, { key: 'shop/web-abc', name: 'web-abc', namespace: 'shop', serviceKey: 'shop/web' });
});
