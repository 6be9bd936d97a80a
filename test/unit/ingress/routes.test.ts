import test from 'ava';
import { buildRouteTable, servedByUs } from '../../../lib/ingress/routes.ts';
import { matchRoute } from '../../../lib/ingress/router.ts';
import type { SecretObject } from '../../../lib/ingress/objects.ts';
import {
  endpoint,
  ingress,
  otherClass,
  ourClass,
  servicePort,
  tlsSecret,
  viewOf,
  type IngressSpecInput,
} from './fixtures.ts';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

const classCases: readonly { name: string; classes: ReturnType<typeof ourClass>[]; ing: IngressSpecInput; served: boolean }[] = [
  { name: 'spec class naming our class', classes: [ourClass()], ing: {}, served: true },
  { name: 'spec class naming another controller', classes: [ourClass(), otherClass()], ing: { className: 'nginx' }, served: false },
  { name: 'spec class naming a missing class', classes: [ourClass()], ing: { className: 'ghost' }, served: false },
  { name: 'no class, our class is default', classes: [ourClass('sw', true)], ing: { className: null }, served: true },
  { name: 'no class, no default class', classes: [ourClass()], ing: { className: null }, served: false },
  { name: "no class, only another controller's default", classes: [ourClass(), otherClass('nginx', true)], ing: { className: null }, served: false },
  { name: 'legacy annotation naming our class', classes: [ourClass()], ing: { className: null, annotations: { 'kubernetes.io/ingress.class': 'switchyard' } }, served: true },
  { name: 'legacy annotation naming another class (even with our default)', classes: [ourClass('sw', true), otherClass()], ing: { className: null, annotations: { 'kubernetes.io/ingress.class': 'nginx' } }, served: false },
  { name: 'spec wins over legacy annotation', classes: [ourClass(), otherClass()], ing: { className: 'nginx', annotations: { 'kubernetes.io/ingress.class': 'switchyard' } }, served: false },
];

for (const c of classCases) {
  test(`class: ${c.name}`, (t) => {
    t.is(servedByUs(ingress(c.ing), c.classes), c.served);
  });
}

const view = viewOf(['a', 'b', 'c', 'd'], [
  [servicePort('default', 'multi', 'web', 8080), [endpoint('10.1.0.1', 9000)]],
  [servicePort('default', 'multi', 'admin', 9090), [endpoint('10.1.0.2', 9001)]],
]);
const build = (ingresses: IngressSpecInput[], secrets: SecretObject[] = [], check?: (c: string, k: string) => string | undefined) =>
  buildRouteTable(
    ingresses.map(ingress),
    [ourClass()],
    new Map(secrets.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s])),
    view,
    check ? { checkCertificate: check } : {},
  );
const svc = (table: ReturnType<typeof build>, host: string, path: string) => matchRoute(table, host, path)?.backend.service;

test('conflict on host+path+type: the oldest Ingress wins, the loser is reported', (t) => {
  const young = { name: 'young', created: '2024-05-01T00:00:00Z', rules: [{ host: 'h', paths: [['/x', 'Prefix', 'a']] as const }] };
  const old = { name: 'old', created: '2023-01-01T00:00:00Z', rules: [{ host: 'h', paths: [['/x/', 'Prefix', 'b']] as const }] };
  for (const order of [[young, old], [old, young]]) {
    const table = build(order);
    t.is(svc(table, 'h', '/x'), 'default/b');
    t.true(table.problems.some((p) => p.object === 'Ingress default/young' && p.message.includes('default/old')));
  }
});

test('conflict: a missing creationTimestamp counts as newest; equal ages order by namespace/name', (t) => {
  const rules = (s: string) => [{ host: 'h', paths: [['/', 'Prefix', s]] as const }];
  t.is(svc(build([{ name: 'nots', rules: rules('a') }, { name: 'zz', created: '2030-01-01T00:00:00Z', rules: rules('b') }]), 'h', '/'), 'default/b');
  t.is(svc(build([{ name: 'm2', rules: rules('a') }, { name: 'm1', rules: rules('b') }]), 'h', '/'), 'default/b');
});

test('same path with different types does not conflict', (t) => {
  const table = build([
    { name: 'one', rules: [{ host: 'h', paths: [['/p', 'Prefix', 'a']] }] },
    { name: 'two', rules: [{ host: 'h', paths: [['/p', 'Exact', 'b']] }] },
  ]);
  t.is(svc(table, 'h', '/p'), 'default/b');
  t.is(svc(table, 'h', '/p/q'), 'default/a');
  t.deepEqual(table.problems, []);
});

test('rules of several Ingresses for one host merge', (t) => {
  const table = build([
    { name: 'one', rules: [{ host: 'h', paths: [['/a', 'Prefix', 'a']] }] },
    { name: 'two', rules: [{ host: 'h', paths: [['/b', 'Prefix', 'b']] }] },
  ]);
  t.is(svc(table, 'h', '/a'), 'default/a');
  t.is(svc(table, 'h', '/b/x'), 'default/b');
});

test('defaultBackend: the oldest Ingress that has one wins', (t) => {
  const table = build([
    { name: 'young', created: '2024-01-01T00:00:00Z', defaultBackend: 'a' },
    { name: 'old', created: '2020-01-01T00:00:00Z', defaultBackend: 'b' },
    { name: 'older-without', created: '2019-01-01T00:00:00Z' },
  ]);
  t.is(table.defaultBackend?.service, 'default/b');
});

test('ingresses not served by us contribute nothing', (t) => {
  const table = build([{ className: 'nginx', rules: [{ paths: [['/', 'Prefix', 'a']] }], defaultBackend: 'a' }]);
  t.is(matchRoute(table, 'h', '/'), undefined);
  t.deepEqual(table.ingresses, []);
});

test('service port by name and by number', (t) => {
  const byName = build([{ port: { name: 'admin' }, rules: [{ paths: [['/', 'Prefix', 'multi']] }] }]);
  t.is(matchRoute(byName, 'h', '/')?.backend.servicePortKey, 'default/multi:admin');
  t.is(matchRoute(byName, 'h', '/')?.backend.endpoints[0]?.port, 9001);
  const byNumber = build([{ port: { number: 8080 }, rules: [{ paths: [['/', 'Prefix', 'multi']] }] }]);
  t.is(matchRoute(byNumber, 'h', '/')?.backend.servicePortKey, 'default/multi:web');
});

test('a missing Service or port still routes (to no endpoints) and is reported', (t) => {
  for (const spec of [
    { rules: [{ paths: [['/', 'Prefix', 'ghost']] as const }] },
    { port: { number: 81 }, rules: [{ paths: [['/', 'Prefix', 'a']] as const }] },
    { port: { name: 'nope' }, rules: [{ paths: [['/', 'Prefix', 'multi']] as const }] },
  ]) {
    const table = build([spec]);
    const m = matchRoute(table, 'h', '/');
    t.truthy(m);
    t.is(m?.backend.servicePortKey, undefined);
    t.deepEqual(m?.backend.endpoints, []);
    t.true(table.problems.some((p) => p.message.includes('does not exist')));
  }
});

test('resource backends are ignored with a problem line', (t) => {
  const ing = ingress({});
  const withResource = {
    ...ing,
    spec: {
      ...ing.spec,
      rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix' as const, backend: { resource: { kind: 'StorageBucket', name: 'b' } } }] } }],
    },
  };
  const table = buildRouteTable([withResource], [ourClass()], new Map(), view);
  t.is(matchRoute(table, 'h', '/'), undefined);
  t.true(table.problems.some((p) => p.message.includes('resource backend StorageBucket/b')));
});

test('invalid host and non-absolute path are skipped with a problem', (t) => {
  const table = build([{ rules: [{ host: 'a.*.com', paths: [['/', 'Prefix', 'a']] }, { host: 'ok.com', paths: [['rel', 'Prefix', 'a'], ['/good', 'Exact', 'b']] }] }]);
  t.is(table.exactHosts.size, 1);
  t.is(svc(table, 'ok.com', '/good'), 'default/b');
  t.is(table.problems.length, 2);
});

test('TLS from base64 data and from stringData', (t) => {
  for (const encode of [true, false]) {
    const table = build(
      [{ tls: [{ hosts: ['Secure.example.com', '*.wild.com'], secretName: 'cert' }], rules: [{ host: 'secure.example.com', paths: [['/', 'Prefix', 'a']] }] }],
      [tlsSecret('cert', CERT, KEY, 'default', encode)],
    );
    t.is(table.certificates.get('secure.example.com')?.cert, CERT);
    t.is(table.certificates.get('*.wild.com')?.key, KEY);
    t.deepEqual(table.problems, []);
  }
});

test('TLS hosts omitted means the rule hosts', (t) => {
  const table = build(
    [{ tls: [{ secretName: 'cert' }], rules: [{ host: 'a.com', paths: [['/', 'Prefix', 'a']] }, { host: 'b.com', paths: [['/', 'Prefix', 'b']] }] }],
    [tlsSecret('cert', CERT, KEY)],
  );
  t.deepEqual([...table.certificates.keys()].sort(), ['a.com', 'b.com']);
});

test('TLS: missing secret, other namespace, bad base64 and a failing certificate check skip the host', (t) => {
  const ing = { tls: [{ hosts: ['x.com'], secretName: 'cert' }] };
  const cases: { secrets: SecretObject[]; check?: (c: string, k: string) => string | undefined; expect: string }[] = [
    { secrets: [], expect: 'not found' },
    { secrets: [tlsSecret('cert', CERT, KEY, 'elsewhere')], expect: 'not found' },
    { secrets: [{ metadata: { name: 'cert', namespace: 'default' }, data: { 'tls.crt': '!!!', 'tls.key': 'AAAA' } }], expect: 'not valid base64' },
    { secrets: [tlsSecret('cert', 'not a cert', KEY)], expect: 'not a PEM certificate' },
    { secrets: [tlsSecret('cert', CERT, KEY)], check: () => 'key does not match certificate', expect: 'key does not match' },
  ];
  for (const c of cases) {
    const table = build([ing], c.secrets, c.check);
    t.is(table.certificates.size, 0);
    t.true(table.problems.some((p) => p.object === 'Secret default/cert' && p.message.includes(c.expect)), c.expect);
  }
});

test('tls: false (no HTTPS listener, Secrets not watched): spec.tls is not read — no certificates, no problems', (t) => {
  const ing = ingress({ tls: [{ hosts: ['x.com'], secretName: 'absent' }], rules: [{ host: 'x.com', paths: [['/', 'Prefix', 'a']] }] });
  const table = buildRouteTable([ing], [ourClass()], new Map(), view, { tls: false });
  t.is(table.certificates.size, 0);
  t.deepEqual(table.problems, []);
  t.truthy(matchRoute(table, 'x.com', '/'), 'the rules are served');
  t.true(buildRouteTable([ing], [ourClass()], new Map(), view).problems.some((p) => p.object === 'Secret default/absent'), 'read with TLS on');
});

test('TLS conflict: the oldest Ingress keeps the host', (t) => {
  const table = build(
    [
      { name: 'young', created: '2024-01-01T00:00:00Z', tls: [{ hosts: ['x.com'], secretName: 'c2' }] },
      { name: 'old', created: '2020-01-01T00:00:00Z', tls: [{ hosts: ['x.com'], secretName: 'c1' }] },
    ],
    [tlsSecret('c1', CERT, KEY), tlsSecret('c2', CERT, KEY)],
  );
  t.is(table.certificates.get('x.com')?.secret, 'default/c1');
  t.true(table.problems.some((p) => p.object === 'Ingress default/young'));
});

test('the table is independent of later input changes (immutable snapshot)', (t) => {
  const ingresses = [ingress({ rules: [{ paths: [['/', 'Prefix', 'a']] }] })];
  const table = buildRouteTable(ingresses, [ourClass()], new Map(), view);
  ingresses.pop();
  t.is(svc(table, 'h', '/'), 'default/a');
});
